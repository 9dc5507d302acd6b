//! Entity tags: a strong tag of the bytes sent, and the default answer's weak tag of
//! Elasticsearch's response without its `took`.

use http::HeaderValue;

/// `"…"`: the FNV-1a 64 hash of `bytes`, as 16 hex digits. FNV-1a is a published, seedless
/// hash of a few lines, so every process and door computes the same tag with no dependency.
/// It is not cryptographic, which a validator need not be: the answer's bytes come from
/// Elasticsearch, not from the client, and two answers to one URL colliding by chance is a
/// 1 in 2^64 event.
pub fn entity_tag(bytes: &[u8]) -> HeaderValue {
    quoted_hash("", fnv1a_64(bytes))
}

/// `W/"…"`: a weak tag of Elasticsearch's response `text` with the value of its `took` left
/// out, so it stays the same from search to search while the data does. Weak, because the
/// bytes sent do differ; RFC 9110 (8.8.1) allows one weak tag for answers that mean the same.
pub fn without_took_tag(text: &str) -> HeaderValue {
    let (before, after) = split_at_took(text);
    let hash = fnv1a_64_from(fnv1a_64(before.as_bytes()), after.as_bytes());
    quoted_hash("W/", hash)
}

/// `W/"…"`: a weak tag of a page's `text` without its `<time>` elements, which date it, so it
/// stays the same from search to search while the data does.
pub fn without_times_tag(text: &str) -> HeaderValue {
    const OPEN: &str = "<time";
    const CLOSE: &str = "</time>";
    let mut hash = fnv1a_64(b"");
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        hash = fnv1a_64_from(hash, &rest.as_bytes()[..start]);
        rest = rest[start..]
            .find(CLOSE)
            .map_or("", |end| &rest[start + end + CLOSE.len()..]);
    }
    quoted_hash("W/", fnv1a_64_from(hash, rest.as_bytes()))
}

/// `text` around the digits of its first `"took":` (Elasticsearch writes it first), or all of
/// it and nothing when it has none.
fn split_at_took(text: &str) -> (&str, &str) {
    const TOOK: &str = "\"took\":";
    let Some(start) = text.find(TOOK).map(|at| at + TOOK.len()) else {
        return (text, "");
    };
    let digits = text[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len() - start);
    (&text[..start], &text[start + digits..])
}

fn quoted_hash(prefix: &str, hash: u64) -> HeaderValue {
    let tag = format!("{prefix}\"{hash:016x}\"");
    HeaderValue::try_from(tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// FNV-1a, 64 bits: <http://www.isthe.com/chongo/tech/comp/fnv/>.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    fnv1a_64_from(OFFSET_BASIS, bytes)
}

/// FNV-1a, 64 bits, continued from `hash` over `bytes`.
fn fnv1a_64_from(hash: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(hash, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_without_took_tag_ignores_took_alone() {
        let a = r#"{"took":3,"timed_out":false,"hits":{"total":{"value":7}}}"#;
        let b = r#"{"took":12345,"timed_out":false,"hits":{"total":{"value":7}}}"#;
        let c = r#"{"took":3,"timed_out":false,"hits":{"total":{"value":8}}}"#;
        let tag = without_took_tag(a);
        assert!(tag.to_str().unwrap().starts_with("W/\""), "{tag:?}");
        assert_eq!(tag, without_took_tag(b));
        assert_ne!(tag, without_took_tag(c));
        assert_ne!(without_took_tag("{}"), without_took_tag("{\"a\":1}"));
        assert_eq!(
            split_at_took(a),
            (
                "{\"took\":",
                ",\"timed_out\":false,\"hits\":{\"total\":{\"value\":7}}}"
            )
        );
        assert_eq!(split_at_took("{\"took\":"), ("{\"took\":", ""));
    }

    #[test]
    fn the_without_times_tag_ignores_the_times_alone() {
        let page = |at: &str, count: u32| {
            format!(
                "<p>From <time datetime=\"{at}\">{at}</time> to <time>{at}</time></p><td>{count}</td>"
            )
        };
        let tag = without_times_tag(&page("09:30", 7));
        assert!(tag.to_str().unwrap().starts_with("W/\""), "{tag:?}");
        assert_eq!(tag, without_times_tag(&page("10:45", 7)));
        assert_ne!(tag, without_times_tag(&page("09:30", 8)));
        assert_eq!(
            without_times_tag("<p>a</p>"),
            quoted_hash("W/", fnv1a_64(b"<p>a</p>"))
        );
    }

    #[test]
    fn fnv1a_64_matches_the_published_test_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_tag_is_the_quoted_hash() {
        assert_eq!(entity_tag(b"foobar"), "\"85944171f73967e8\"");
    }
}
