//! Compressed answers, against a real Elasticsearch: on the Kubeless, Knative and Lambda doors
//! (Lambda behind cargo-lambda's emulator) as a client such as `curl --compressed` sees them,
//! and in every kind of Lambda HTTP event, where a compressed body travels as base64.

mod support;

use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::bed::Bed;
use support::emulator::Emulator;
use support::encoding::{ENCODINGS, decode, get};
use support::histogram::spread_observations;
use support::inprocess::router;

/// README.md: answers under 1 KiB are sent as they are, uncompressed.
const MIN_COMPRESSED_BYTES: usize = 1024;

/// Answers with no clock in them, so that two requests get the same bytes: an SVG
/// (`image/svg+xml`, an image type that must be compressed all the same) and a long CSV.
const QUERIES: [&str; 2] = ["format=svg", "format=csv&interval=0.1&fill=true"];

/// Each Lambda HTTP event kind, as recorded in tests/fixtures/.
const EVENTS: [(&str, &str); 4] = [
    ("apigw-rest", include_str!("fixtures/apigw-rest.json")),
    ("apigw-http", include_str!("fixtures/apigw-http.json")),
    ("function-url", include_str!("fixtures/function-url.json")),
    ("alb", include_str!("fixtures/alb.json")),
];

#[tokio::test]
async fn every_door_compresses_as_accept_encoding_asks_and_decodes_to_the_same_bytes() {
    let bed = Bed::new("compression-doors", &spread_observations()).await;
    let doors = bed.doors().await;
    for (door, function) in doors.functions() {
        for query in QUERIES {
            let url = format!("{function}?{query}");
            let plain = get(&url, &[]).await;
            let what = format!("{door} {query}");
            assert_eq!(plain.status, 200, "{what}");
            assert_eq!(plain.header("content-encoding"), "", "{what}");
            assert_eq!(plain.header("vary"), "accept, accept-encoding", "{what}");
            assert!(
                plain.body.len() >= MIN_COMPRESSED_BYTES,
                "{what}: {} bytes are too few to compress",
                plain.body.len()
            );
            for encoding in ENCODINGS {
                let what = format!("{what} as {encoding}");
                let compressed = get(&url, &[("accept-encoding", encoding)]).await;
                assert_eq!(compressed.status, 200, "{what}");
                assert_eq!(compressed.header("content-encoding"), encoding, "{what}");
                assert_eq!(
                    compressed.header("vary"),
                    "accept, accept-encoding",
                    "{what}"
                );
                assert_eq!(
                    compressed.header("content-type"),
                    plain.header("content-type"),
                    "{what}"
                );
                assert!(
                    compressed.body.len() < plain.body.len() / 2,
                    "{what}: {} bytes from {}",
                    compressed.body.len(),
                    plain.body.len()
                );
                assert!(
                    decode(encoding, &compressed.body) == plain.body,
                    "{what}: the decoded answer differs from the uncompressed one"
                );
            }
        }
    }
}

/// `event` with `name: value` among its request headers, replacing any of that name in any
/// case: in `headers`, and in `multiValueHeaders` where the kind has them (REST and ALB).
fn with_header(mut event: Value, name: &str, value: &str) -> Value {
    for (key, value) in [
        ("headers", json!(value)),
        ("multiValueHeaders", json!([value])),
    ] {
        if let Some(headers) = event[key].as_object_mut() {
            headers.retain(|header, _| !header.eq_ignore_ascii_case(name));
            headers.insert(name.to_string(), value);
        }
    }
    event
}

/// A response header of a Lambda HTTP response: REST and ALB responses may carry it in
/// `multiValueHeaders`, HTTP API and function URL responses in `headers`.
fn header_of<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    response["multiValueHeaders"][name][0]
        .as_str()
        .or_else(|| response["headers"][name].as_str())
}

/// A Lambda HTTP response's body as bytes, decoded from base64 when it says it is.
fn body_bytes(response: &Value) -> Vec<u8> {
    let body = response["body"].as_str().unwrap_or_default();
    if response["isBase64Encoded"] == true {
        BASE64
            .decode(body)
            .unwrap_or_else(|e| panic!("{e}: {body}"))
    } else {
        body.as_bytes().to_vec()
    }
}

async fn invoke(app: &Router, event: &Value) -> Value {
    let event = LambdaEvent::new(event.clone(), Context::default());
    wx_stats::door::lambda::event::handle(app.clone(), event)
        .await
        .unwrap()
}

/// Checks that `compressed`, the answer to an event asking for `encoding`, is `plain`'s body
/// compressed and sent as base64.
fn assert_base64_of_compressed(compressed: &Value, plain: &Value, encoding: &str, what: &str) {
    assert_eq!(compressed["statusCode"], 200, "{what}: {compressed}");
    assert_eq!(compressed["isBase64Encoded"], true, "{what}: {compressed}");
    assert_eq!(
        header_of(compressed, "content-encoding"),
        Some(encoding),
        "{what}: {compressed}"
    );
    let decoded = decode(encoding, &body_bytes(compressed));
    assert!(
        decoded == body_bytes(plain),
        "{what}: the decoded body differs from the uncompressed one"
    );
}

#[tokio::test]
async fn every_lambda_event_kind_carries_a_compressed_answer_as_base64() {
    let bed = Bed::new("compression-events", &spread_observations()).await;
    let app = router(&bed.env());
    for (kind, text) in EVENTS {
        let svg = with_header(
            serde_json::from_str(text).unwrap(),
            "accept",
            "image/svg+xml",
        );
        let plain = invoke(&app, &svg).await;
        assert_eq!(plain["statusCode"], 200, "{kind}: {plain}");
        assert_eq!(plain["isBase64Encoded"], false, "{kind}: {plain}");
        assert_eq!(header_of(&plain, "content-encoding"), None, "{kind}");
        for encoding in ENCODINGS {
            let event = with_header(svg.clone(), "accept-encoding", encoding);
            let compressed = invoke(&app, &event).await;
            assert_base64_of_compressed(&compressed, &plain, encoding, kind);
        }
    }
}

#[tokio::test]
async fn through_cargo_lambda_every_event_kind_carries_a_compressed_answer_as_base64() {
    let bed = Bed::new("compression-emulator", &spread_observations()).await;
    let emulator = Emulator::start(&bed.env()).await;
    let directory = std::env::temp_dir();
    let invoke = |kind: &str, label: &str, event: &Value| {
        let file = directory.join(format!(
            "wx-stats-test-{kind}-{label}-{}.json",
            std::process::id()
        ));
        std::fs::write(&file, event.to_string()).unwrap();
        let result = emulator.invoke(file.to_str().unwrap());
        std::fs::remove_file(&file).unwrap();
        result
    };
    for (kind, text) in EVENTS {
        let svg = with_header(
            serde_json::from_str(text).unwrap(),
            "accept",
            "image/svg+xml",
        );
        let plain = invoke(kind, "plain", &svg);
        assert_eq!(plain["statusCode"], 200, "{kind}: {plain}");
        for encoding in ENCODINGS {
            let event = with_header(svg.clone(), "accept-encoding", encoding);
            let compressed = invoke(kind, encoding, &event);
            assert_base64_of_compressed(&compressed, &plain, encoding, kind);
        }
    }
}
