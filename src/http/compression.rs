//! Which content coding a caller is sent: zstd or gzip, whichever its `Accept-Encoding`
//! prefers (RFC 9110, 12.5.3). The answer makes each variant once and keeps it
//! ([`crate::answer::Answer::representation`]); here is only the caller's choice.

use axum::http::{HeaderMap, header};

use crate::answer::Encoding;
use crate::format::parse_quality;

/// The coding the request's `Accept-Encoding` prefers, or `None` for the body as it is.
///
/// Each coding takes the q-value of its own entry, else of `*`, else 0; `q=0` refuses. The
/// coding with the highest q wins, zstd on a tie with gzip, unless `identity` (or `*`, when
/// it is not named) has a higher q: the body as it is is then preferred.
/// A malformed entry is ignored, as if not sent.
pub fn preferred(headers: &HeaderMap) -> Option<Encoding> {
    let qualities = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(coding);
    let (mut named, mut star, mut identity) = ([None; 2], None, None);
    for (name, quality) in qualities {
        match Encoding::ALL
            .iter()
            .position(|e| name.eq_ignore_ascii_case(e.name()))
        {
            Some(at) => named[at] = Some(quality),
            None if name == "*" => star = Some(quality),
            None if name.eq_ignore_ascii_case("identity") => identity = Some(quality),
            None => {}
        }
    }
    let plain = identity.or(star).unwrap_or(0);
    Encoding::ALL
        .into_iter()
        .zip(named)
        .map(|(encoding, quality)| (encoding, quality.or(star).unwrap_or(0)))
        .filter(|(_, quality)| *quality > 0 && *quality >= plain)
        .fold(None::<(Encoding, u16)>, |best, candidate| match best {
            Some(best) if best.1 >= candidate.1 => Some(best),
            _ => Some(candidate),
        })
        .map(|(encoding, _)| encoding)
}

/// One `Accept-Encoding` entry, such as `gzip;q=0.5`: its name and q in thousandths. A
/// parameter is `name=value`, and an empty one is skipped, as `Accept`'s are (RFC 9110, 5.6.6).
fn coding(entry: &str) -> Option<(&str, u16)> {
    let mut parts = entry.split(';');
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let mut quality = 1000;
    for parameter in parts.map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = parameter.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("q") {
            quality = parse_quality(value.trim())?;
        }
    }
    Some((name, quality))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn preferred_by(accept_encoding: &'static str) -> Option<Encoding> {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_static(accept_encoding);
        headers.insert(header::ACCEPT_ENCODING, value);
        preferred(&headers)
    }

    #[test]
    fn the_coding_is_the_one_accept_encoding_prefers() {
        use Encoding::{Gzip, Zstd};
        let cases = [
            ("br", None),
            ("gzip", Some(Gzip)),
            ("GZIP", Some(Gzip)),
            ("zstd", Some(Zstd)),
            ("gzip;q=0.5, br;q=0.9, zstd;q=0.1", Some(Gzip)),
            ("zstd;q=0, gzip", Some(Gzip)),
            ("gzip, br, zstd", Some(Zstd)),
            ("gzip, deflate, br, zstd", Some(Zstd)),
            ("br, gzip", Some(Gzip)),
            ("gzip;q=0.5, identity", None),
            ("gzip;q=0.5, identity;q=0.1", Some(Gzip)),
            ("*", Some(Zstd)),
            ("*;q=0.5, gzip", Some(Gzip)),
            ("gzip;q=2, zstd;q=0.4", Some(Zstd)),
            ("compress", None),
            ("gzip;", Some(Gzip)),
            ("gzip; ;q=0.5, zstd;q=0.4", Some(Gzip)),
            ("gzip;level, zstd;q=0.4", Some(Zstd)),
            ("", None),
        ];
        for (accept_encoding, expected) in cases {
            assert_eq!(
                preferred_by(accept_encoding),
                expected,
                "{accept_encoding:?}"
            );
        }
        assert_eq!(preferred(&HeaderMap::new()), None);
    }
}
