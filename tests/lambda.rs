//! The Lambda door: recorded events through the shared Router and the Lambda handler, then the
//! real binary behind cargo-lambda's emulator, against a real Elasticsearch.

mod support;

use axum::Router;
use http_body_util::BodyExt;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use support::bed::Bed;
use support::emulator::Emulator;
use support::histogram::{histogram, observations, temperatures};
use support::inprocess::router;
use support::{BROWSER_ACCEPT, cli_output, error_type, fetch, without_took};
use tower::ServiceExt;

/// API Gateway REST (with a stage prefix), HTTP API, function URL, ALB and VPC Lattice (v2)
/// events with no query string: the shapes AWS documents.
const PLAIN_EVENTS: [(&str, &str); 5] = [
    ("apigw-rest", include_str!("fixtures/apigw-rest.json")),
    ("apigw-http", include_str!("fixtures/apigw-http.json")),
    ("function-url", include_str!("fixtures/function-url.json")),
    ("alb", include_str!("fixtures/alb.json")),
    ("vpc-lattice", include_str!("fixtures/vpc-lattice.json")),
];

/// The same five kinds, each carrying `hours=6&interval=5&format=csv` as its kind does: none is
/// a default, so an event whose query string were lost would be answered differently.
const QUERY_EVENTS: [(&str, &str); 5] = [
    (
        "apigw-rest-query",
        include_str!("fixtures/apigw-rest-query.json"),
    ),
    (
        "apigw-http-query",
        include_str!("fixtures/apigw-http-query.json"),
    ),
    (
        "function-url-query",
        include_str!("fixtures/function-url-query.json"),
    ),
    ("alb-query", include_str!("fixtures/alb-query.json")),
    (
        "vpc-lattice-query",
        include_str!("fixtures/vpc-lattice-query.json"),
    ),
];

/// What every query above and `direct.json` ask for, as the CSV's content type.
const CSV: &str = "text/csv; charset=utf-8";

async fn invoke(app: &Router, payload: &str) -> Value {
    let event = LambdaEvent::new(serde_json::from_str(payload).unwrap(), Context::default());
    wx_stats::door::lambda::event::handle(app.clone(), event)
        .await
        .unwrap()
}

/// The event `text` made a request by lambda_http and answered by the Router, which must
/// answer 200: the content type and the body.
async fn through_the_router(app: &Router, name: &str, text: &str) -> (String, String) {
    let request = lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200, "{name}");
    let content_type = response.headers()["content-type"].to_str().unwrap();
    let content_type = content_type.to_string();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (content_type, String::from_utf8(bytes.to_vec()).unwrap())
}

/// The event `text` through the Lambda handler, which must answer 200: the function result.
async fn through_the_handler(app: &Router, name: &str, text: &str) -> Value {
    let response = invoke(app, text).await;
    assert_eq!(response["statusCode"], 200, "{name}: {response}");
    response
}

/// The body of a Lambda HTTP response (`{"statusCode":…,"body":"…"}`), as text.
fn body_text(response: &Value) -> &str {
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    response["body"]
        .as_str()
        .unwrap_or_else(|| panic!("no body in {response}"))
}

/// The body of a Lambda HTTP response, parsed as JSON.
fn body_of(response: &Value) -> Value {
    let body = body_text(response);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A Lambda HTTP response's content type.
fn content_type_of(response: &Value) -> &str {
    header_of(response, "content-type")
}

/// A header of a Lambda HTTP response: REST and ALB responses carry it in
/// `multiValueHeaders`, HTTP API and function URL responses in `headers`.
fn header_of<'a>(response: &'a Value, name: &str) -> &'a str {
    let value = match &response["multiValueHeaders"] {
        Value::Object(headers) if !headers.is_empty() => &headers[name][0],
        _ => &response["headers"][name],
    };
    value
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {response}"))
}

/// The event `text` (whose caller accepts `*/*`) as a browser sends it, preferring the page.
fn asked_by_a_browser(text: &str) -> String {
    assert!(
        text.contains("\"*/*\""),
        "the event names its Accept: {text}"
    );
    text.replace("\"*/*\"", &format!("\"{BROWSER_ACCEPT}\""))
}

/// A direct invocation's function result when the answer is CSV: not JSON, so the result is
/// the CSV as a JSON string.
fn csv_result(result: &Value) -> &str {
    result
        .as_str()
        .unwrap_or_else(|| panic!("not the CSV as a string: {result}"))
}

/// Checks that `csv` answers `hours=6&interval=5&format=csv` for support::histogram's
/// observations: the header, buckets 5 wide, and the counts of the last 6 hours alone,
/// computed from the observations' values.
fn assert_last_6_hours_in_5_wide_csv(csv: &str, name: &str) {
    let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some("from,to,count"), "{name}: {csv}");
    let rows: Vec<(f64, u64)> = lines
        .map(|line| {
            let cells: Vec<f64> = line
                .split(',')
                .map(|cell| {
                    cell.parse()
                        .unwrap_or_else(|e| panic!("{name}: {e}: {csv}"))
                })
                .collect();
            assert_eq!(cells.len(), 3, "{name}: {line}");
            assert_eq!(cells[1] - cells[0], 5.0, "{name}: a bucket 5 wide: {line}");
            (cells[0], cells[2] as u64)
        })
        .collect();
    let recent = temperatures(6.0);
    assert_eq!(
        rows,
        histogram(&recent, 5.0, &recent),
        "{name}: the last 6 hours in 5-wide buckets:\n{csv}"
    );
}

#[tokio::test]
async fn recorded_http_events_answer_as_the_cli_does() {
    let bed = Bed::new("lambda-events", &observations()).await;
    let app = router(&bed.env());
    let expected = without_took(cli_output(&bed.index.name));
    for (name, text) in PLAIN_EVENTS {
        let (content_type, body) = through_the_router(&app, name, text).await;
        assert_eq!(content_type, "application/json", "{name}");
        assert_eq!(
            without_took(serde_json::from_str(&body).unwrap()),
            expected,
            "{name} through the Router"
        );

        let lambda_response = through_the_handler(&app, name, text).await;
        assert_eq!(
            without_took(body_of(&lambda_response)),
            expected,
            "{name} through the Lambda handler"
        );
    }
}

#[tokio::test]
async fn recorded_http_events_with_a_query_string_are_answered_as_it_asks() {
    let bed = Bed::new("lambda-query-events", &observations()).await;
    let app = router(&bed.env());
    for (name, text) in QUERY_EVENTS {
        let (content_type, body) = through_the_router(&app, name, text).await;
        assert_eq!(content_type, CSV, "{name}");
        assert_last_6_hours_in_5_wide_csv(&body, &format!("{name} through the Router"));

        let lambda_response = through_the_handler(&app, name, text).await;
        assert_eq!(content_type_of(&lambda_response), CSV, "{name}");
        assert_last_6_hours_in_5_wide_csv(
            body_text(&lambda_response),
            &format!("{name} through the Lambda handler"),
        );
    }
}

/// Every HTTP event kind asked by a browser, and a direct invocation asking `format=html`, get
/// the page the Router serves, byte for byte, as text, with the page's headers.
#[tokio::test]
async fn every_event_kind_gets_the_same_page() {
    let bed = Bed::new("lambda-page", &observations()).await;
    let app = router(&bed.env());
    let (content_type, page) =
        through_the_router(&app, "function-url", &asked_by_a_browser(PLAIN_EVENTS[2].1)).await;
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    for (name, text) in PLAIN_EVENTS {
        let response = through_the_handler(&app, name, &asked_by_a_browser(text)).await;
        assert_eq!(content_type_of(&response), content_type, "{name}");
        assert_eq!(header_of(&response, "x-content-type-options"), "nosniff");
        let policy = header_of(&response, "content-security-policy");
        assert!(policy.starts_with("default-src 'none'"), "{name}: {policy}");
        assert_eq!(body_text(&response), page, "{name}");
    }
    let direct = invoke(&app, r#"{"format":"html"}"#).await;
    assert_eq!(direct.as_str(), Some(page.as_str()), "a direct invocation");
}

#[tokio::test]
async fn scheduled_invocations_answer_the_defaults_and_direct_ones_their_payload() {
    let bed = Bed::new("lambda-direct", &observations()).await;
    let app = router(&bed.env());
    let scheduled = invoke(&app, include_str!("fixtures/scheduled.json")).await;
    assert_eq!(
        without_took(scheduled),
        without_took(cli_output(&bed.index.name))
    );
    let direct = invoke(&app, include_str!("fixtures/direct.json")).await;
    assert_last_6_hours_in_5_wide_csv(csv_result(&direct), "direct.json");
}

#[tokio::test]
async fn elasticsearch_down_is_a_503_response_not_an_invocation_error() {
    let app = router(&[("HOST", "127.0.0.1:1"), ("ES_INDEX", "wx-rtbeat-*")]);
    for (name, text) in PLAIN_EVENTS.into_iter().chain(QUERY_EVENTS) {
        let response = invoke(&app, text).await;
        assert_eq!(response["statusCode"], 503, "{name}: {response}");
        let body = response["body"].as_str().unwrap();
        assert_eq!(error_type(body, 503), "elasticsearch_unavailable", "{name}");
    }
    let scheduled = invoke(&app, include_str!("fixtures/scheduled.json")).await;
    assert_eq!(
        error_type(&scheduled.to_string(), 503),
        "elasticsearch_unavailable"
    );
}

#[tokio::test]
async fn through_cargo_lambda_the_function_url_answers_as_the_cli_does() {
    let bed = Bed::new("lambda-emulator", &observations()).await;
    let emulator = Emulator::start(&bed.env()).await;
    let (status, content_type, body) = fetch("GET", &emulator.function_url()).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/json"),
        "{body}"
    );
    let expected = without_took(cli_output(&bed.index.name));
    assert_eq!(without_took(serde_json::from_str(&body).unwrap()), expected);

    let rest = emulator.invoke("tests/fixtures/apigw-rest.json");
    assert_eq!(rest["statusCode"], 200, "{rest}");
    assert_eq!(without_took(body_of(&rest)), expected);

    let scheduled = emulator.invoke("tests/fixtures/scheduled.json");
    assert_eq!(without_took(scheduled), expected);
}

#[tokio::test]
async fn through_cargo_lambda_a_query_string_and_a_direct_payload_are_answered_as_they_ask() {
    let bed = Bed::new("lambda-emulator-query", &observations()).await;
    let emulator = Emulator::start(&bed.env()).await;
    let url = format!("{}?hours=6&interval=5&format=csv", emulator.function_url());
    let (status, content_type, body) = fetch("GET", &url).await;
    assert_eq!((status, content_type.as_str()), (200, CSV), "{body}");
    assert_last_6_hours_in_5_wide_csv(&body, "the function URL");

    let rest = emulator.invoke("tests/fixtures/apigw-rest-query.json");
    assert_eq!(rest["statusCode"], 200, "{rest}");
    assert_eq!(content_type_of(&rest), CSV, "{rest}");
    assert_last_6_hours_in_5_wide_csv(body_text(&rest), "apigw-rest-query.json");

    // VPC Lattice answers in its own shape: no multiValueHeaders or cookies, as API Gateway's.
    let lattice = emulator.invoke("tests/fixtures/vpc-lattice-query.json");
    assert_eq!(lattice["statusCode"], 200, "{lattice}");
    let mut fields: Vec<&String> = lattice.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        ["body", "headers", "isBase64Encoded", "statusCode"],
        "{lattice}"
    );
    assert_eq!(content_type_of(&lattice), CSV, "{lattice}");
    assert_last_6_hours_in_5_wide_csv(body_text(&lattice), "vpc-lattice-query.json");

    let direct = emulator.invoke("tests/fixtures/direct.json");
    assert_last_6_hours_in_5_wide_csv(csv_result(&direct), "direct.json");
}

#[tokio::test]
async fn through_cargo_lambda_an_outage_is_still_503_json() {
    let emulator = Emulator::start(&[("HOST", "127.0.0.1:1")]).await;
    let (status, content_type, body) = fetch("GET", &emulator.function_url()).await;
    assert_eq!(
        (status, content_type.as_str()),
        (503, "application/json"),
        "{body}"
    );
    assert_eq!(error_type(&body, 503), "elasticsearch_unavailable");
    let rest = emulator.invoke("tests/fixtures/apigw-rest.json");
    assert_eq!(rest["statusCode"], 503, "{rest}");
}

#[tokio::test]
async fn through_cargo_lambda_logs_follow_lambdas_log_format() {
    for format in ["Text", "JSON"] {
        let emulator =
            Emulator::start(&[("HOST", "127.0.0.1:1"), ("AWS_LAMBDA_LOG_FORMAT", format)]).await;
        assert_eq!(fetch("GET", &emulator.function_url()).await.0, 503);
        let log = emulator.function_log();
        let lines: Vec<&str> = log.lines().filter(|line| !line.is_empty()).collect();
        assert!(
            lines
                .iter()
                .any(|line| line.contains("status=503") || line.contains("\"status\":503")),
            "{format}: no log line for the call:\n{log}"
        );
        // CloudWatch shows colour codes as they are.
        assert!(!log.contains('\x1b'), "{format}: colour codes:\n{log}");
        if format == "JSON" {
            for line in lines {
                let parsed: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{e}: not a JSON line: {line}"));
                assert!(parsed["level"].is_string(), "{line}");
            }
        }
    }
}
