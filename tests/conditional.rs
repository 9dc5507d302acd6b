//! Conditional requests, against a real Elasticsearch: on the Kubeless, Knative and Lambda
//! doors (Lambda behind cargo-lambda's emulator), a request that sends back the ETag of the
//! answer it already holds is answered 304 with no body; the default answer's weak tag is the
//! same on every door and from search to search; an `If-Match` that does not name the answer
//! is 412; and in every kind of Lambda HTTP event, the 304 keeps its event's shape and both
//! name what they vary on.

mod support;

use axum::Router;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::bed::Bed;
use support::encoding::get;
use support::histogram::spread_observations;
use support::inprocess::router;

/// The search response (within the cache's TTL, its `took` is the same from one request to the
/// next), an SVG and a CSV.
const QUERIES: [&str; 3] = ["", "format=svg", "format=csv&interval=0.1&fill=true"];

#[tokio::test]
async fn on_every_door_the_answers_etag_in_if_none_match_is_304_without_a_body() {
    let bed = Bed::new("conditional-doors", &spread_observations()).await;
    let doors = bed.doors().await;
    for (door, function) in doors.functions() {
        for query in QUERIES {
            let url = format!("{function}?{query}");
            let first = get(&url, &[]).await;
            let what = format!("{door} {query:?}");
            assert_eq!(first.status, 200, "{what}");
            let tag = first.header("etag");
            assert_eq!(tag, expected_tag(query, &first.body), "{what}");

            let second = get(&url, &[("if-none-match", tag)]).await;
            assert_eq!(second.status, 304, "{what}");
            assert!(second.body.is_empty(), "{what}: a 304 with a body");
            assert_eq!(second.header("etag"), tag, "{what}");
            assert_eq!(
                second.header("cache-control"),
                first.header("cache-control"),
                "{what}"
            );
            assert_eq!(second.header("content-type"), "", "{what}");
        }
    }
}

/// The tag an answer to `query` must carry: the default answer's weak one, of its text without
/// `took`; any other's strong one, of the bytes sent.
fn expected_tag(query: &str, body: &[u8]) -> String {
    if query.is_empty() {
        weak_tag(std::str::from_utf8(body).unwrap())
    } else {
        strong_tag(body)
    }
}

/// FNV-1a, 64 bits (<http://www.isthe.com/chongo/tech/comp/fnv/>), the hash README.md names for
/// the tags, written out here so that the tags expected come from its definition, not from the
/// code under test.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A strong tag as README.md defines it: the hash of the bytes sent, as 16 hex digits in quotes.
fn strong_tag(bytes: &[u8]) -> String {
    format!("\"{:016x}\"", fnv1a_64(bytes))
}

/// The default answer's weak tag as README.md defines it: the hash of Elasticsearch's response
/// without the value of `took`, as `W/` and 16 hex digits in quotes.
fn weak_tag(text: &str) -> String {
    let response: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let took = format!("\"took\":{}", response["took"]);
    assert!(text.contains(&took), "no {took} in {text}");
    let without_took = text.replacen(&took, "\"took\":", 1);
    format!("W/\"{:016x}\"", fnv1a_64(without_took.as_bytes()))
}

#[test]
fn the_tests_fnv1a_64_gives_the_published_test_vectors() {
    assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
}

/// With the cache off, every search's `took` differs, yet the default answer's tag does not:
/// it is the same from search to search and on every door, so a tag one door gave revalidates
/// at another (a cache in front of several instances gets its 304).
#[tokio::test]
async fn the_default_answers_weak_tag_holds_across_searches_and_doors() {
    let bed = Bed::new("conditional-weak", &spread_observations()).await;
    let env = [bed.env(), vec![("CACHE_TTL", "0")]].concat();
    let doors = support::doors::Doors::start(&env).await;
    let mut tags = Vec::new();
    for (door, function) in doors.functions() {
        for _ in 0..3 {
            let answer = get(&function, &[]).await;
            assert_eq!(answer.status, 200, "{door}");
            let tag = answer.header("etag").to_string();
            assert!(tag.starts_with("W/\""), "{door}: {tag}");
            tags.push((door, tag));
        }
    }
    let first = tags[0].1.clone();
    assert!(tags.iter().all(|(_, tag)| *tag == first), "{tags:?}");
    for (door, function) in doors.functions() {
        let again = get(&function, &[("if-none-match", &first)]).await;
        assert_eq!(
            again.status, 304,
            "{door}: the tag of another door's answer"
        );
        assert_eq!(again.header("vary"), "accept, accept-encoding", "{door}");
    }
}

/// `If-Match` (RFC 9110, 13.1.1) on every door: the answer's own strong tag or `*` is served;
/// another tag, or the default answer's weak one (If-Match compares strongly), is a 412.
#[tokio::test]
async fn on_every_door_if_match_is_412_unless_it_names_the_answer_strongly() {
    let bed = Bed::new("conditional-if-match", &spread_observations()).await;
    let doors = bed.doors().await;
    for (door, function) in doors.functions() {
        let csv = format!("{function}?format=csv");
        let tag = get(&csv, &[]).await.header("etag").to_string();
        let weak = get(&function, &[]).await.header("etag").to_string();
        for (url, if_match, wanted) in [
            (&csv, tag.as_str(), 200),
            (&csv, "*", 200),
            (&csv, "\"0000000000000000\"", 412),
            (&function, weak.as_str(), 412),
        ] {
            let answer = get(url, &[("if-match", if_match)]).await;
            let text = String::from_utf8_lossy(&answer.body);
            assert_eq!(
                answer.status, wanted,
                "{door} {url} If-Match {if_match}: {text}"
            );
            if wanted == 412 {
                assert!(text.contains("\"precondition_failed\""), "{door}: {text}");
            }
        }
    }
}

/// Compressed and plain answers are different representations, so their strong tags differ,
/// and one's tag does not validate the other.
#[tokio::test]
async fn on_every_door_each_encoding_has_its_own_etag() {
    let bed = Bed::new("conditional-encodings", &spread_observations()).await;
    let doors = bed.doors().await;
    for (door, function) in doors.functions() {
        let url = format!("{function}?format=svg");
        let plain = get(&url, &[]).await;
        let zstd = get(&url, &[("accept-encoding", "zstd")]).await;
        assert_eq!(zstd.header("content-encoding"), "zstd", "{door}");
        assert_eq!(zstd.header("etag"), strong_tag(&zstd.body), "{door}");
        assert_ne!(zstd.header("etag"), plain.header("etag"), "{door}");

        let with_plains_tag = [
            ("accept-encoding", "zstd"),
            ("if-none-match", plain.header("etag")),
        ];
        let other = get(&url, &with_plains_tag).await;
        assert_eq!(
            other.status, 200,
            "{door}: the plain tag validated the zstd answer"
        );
        assert!(other.body == zstd.body, "{door}");
        let with_zstds_tag = [
            ("accept-encoding", "zstd"),
            ("if-none-match", zstd.header("etag")),
        ];
        assert_eq!(get(&url, &with_zstds_tag).await.status, 304, "{door}");
    }
}

/// What every function answer varies on.
const VARY: &str = "accept, accept-encoding";

/// Each Lambda HTTP event kind, as recorded in tests/fixtures/.
const EVENTS: [(&str, &str); 5] = [
    ("apigw-rest", include_str!("fixtures/apigw-rest.json")),
    ("apigw-http", include_str!("fixtures/apigw-http.json")),
    ("function-url", include_str!("fixtures/function-url.json")),
    ("alb", include_str!("fixtures/alb.json")),
    ("vpc-lattice", include_str!("fixtures/vpc-lattice.json")),
];

/// A response header of a Lambda HTTP response: REST and ALB responses may carry it in
/// `multiValueHeaders`, HTTP API and function URL responses in `headers`.
fn header_of<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    response["multiValueHeaders"][name][0]
        .as_str()
        .or_else(|| response["headers"][name].as_str())
}

async fn invoke(app: &Router, event: &Value) -> Value {
    let event = LambdaEvent::new(event.clone(), Context::default());
    wx_stats::door::lambda::event::handle(app.clone(), event)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_lambda_event_kind_answers_304_in_its_own_shape() {
    let bed = Bed::new("conditional-events", &spread_observations()).await;
    let app = router(&bed.env());
    for (kind, text) in EVENTS {
        let event: Value = serde_json::from_str(text).unwrap();
        let first = invoke(&app, &event).await;
        assert_eq!(first["statusCode"], 200, "{kind}: {first}");
        let tag = header_of(&first, "etag").unwrap_or_else(|| panic!("{kind}: no etag: {first}"));
        let body = first["body"].as_str().unwrap();
        assert_eq!(tag, weak_tag(body), "{kind}");
        assert_eq!(header_of(&first, "vary"), Some(VARY), "{kind}: {first}");

        let mut conditional = event.clone();
        conditional["headers"]["if-none-match"] = json!(tag);
        if conditional["multiValueHeaders"].is_object() {
            conditional["multiValueHeaders"]["if-none-match"] = json!([tag]);
        }
        let second = invoke(&app, &conditional).await;
        assert_eq!(second["statusCode"], 304, "{kind}: {second}");
        assert_eq!(second["body"].as_str().unwrap_or_default(), "", "{kind}");
        assert_eq!(header_of(&second, "etag"), Some(tag), "{kind}: {second}");
        assert_eq!(header_of(&second, "vary"), Some(VARY), "{kind}: {second}");
        // A 304 may state the 200's length or none, never 0 (RFC 9110, 8.6).
        let length = header_of(&second, "content-length");
        assert_eq!(length, None, "{kind}: a 304's content-length: {second}");
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&second),
            keys(&first),
            "{kind}: a 304 in another shape"
        );
    }
}
