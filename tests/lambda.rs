//! The Lambda door: recorded events through the shared Router and the Lambda handler, then the
//! real binary behind cargo-lambda's emulator, against a real Elasticsearch.

mod support;

use std::time::Duration;

use axum::Router;
use http_body_util::BodyExt;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use support::emulator::Emulator;
use support::inprocess::router;
use support::{TestIndex, cli_output, error_type, es_host, fetch, without_took};
use tower::ServiceExt;

/// API Gateway REST (with a stage prefix), HTTP API, function URL and ALB, each also with a
/// query string: the shapes AWS documents.
const HTTP_EVENTS: [(&str, &str); 8] = [
    ("apigw-rest", include_str!("fixtures/apigw-rest.json")),
    (
        "apigw-rest-query",
        include_str!("fixtures/apigw-rest-query.json"),
    ),
    ("apigw-http", include_str!("fixtures/apigw-http.json")),
    (
        "apigw-http-query",
        include_str!("fixtures/apigw-http-query.json"),
    ),
    ("function-url", include_str!("fixtures/function-url.json")),
    (
        "function-url-query",
        include_str!("fixtures/function-url-query.json"),
    ),
    ("alb", include_str!("fixtures/alb.json")),
    ("alb-query", include_str!("fixtures/alb-query.json")),
];

fn app(host: &str, index: &str) -> Router {
    router(&[("HOST", host), ("ES_INDEX", index)])
}

async fn indexed(label: &str) -> TestIndex {
    let index = TestIndex::create(label).await;
    index
        .add(&[
            (Duration::from_secs(900), 67.3),
            (Duration::from_secs(1800), 69.99),
        ])
        .await;
    index
}

async fn invoke(app: &Router, payload: &str) -> Value {
    let event = LambdaEvent::new(serde_json::from_str(payload).unwrap(), Context::default());
    wx_stats::lambda::handle(app.clone(), event).await.unwrap()
}

/// The body of a Lambda HTTP response (`{"statusCode":…,"body":"…"}`), parsed.
fn body_of(response: &Value) -> Value {
    let body = response["body"]
        .as_str()
        .unwrap_or_else(|| panic!("no body in {response}"));
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn recorded_http_events_answer_as_the_cli_does() {
    let index = indexed("lambda-events").await;
    let app = app(&es_host(), &index.name);
    let expected = without_took(cli_output(&index.name));
    for (name, text) in HTTP_EVENTS {
        let request =
            lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{name}"
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            without_took(serde_json::from_slice(&bytes).unwrap()),
            expected,
            "{name} through the Router"
        );

        let lambda_response = invoke(&app, text).await;
        assert_eq!(
            lambda_response["statusCode"], 200,
            "{name}: {lambda_response}"
        );
        assert_eq!(
            without_took(body_of(&lambda_response)),
            expected,
            "{name} through the Lambda handler"
        );
    }
}

#[tokio::test]
async fn scheduled_and_direct_invocations_answer_with_the_stats() {
    let index = indexed("lambda-direct").await;
    let app = app(&es_host(), &index.name);
    let expected = without_took(cli_output(&index.name));
    for payload in [
        include_str!("fixtures/scheduled.json"),
        include_str!("fixtures/direct.json"),
    ] {
        assert_eq!(
            without_took(invoke(&app, payload).await),
            expected,
            "{payload}"
        );
    }
}

#[tokio::test]
async fn elasticsearch_down_is_a_503_response_not_an_invocation_error() {
    let app = app("127.0.0.1:1", "wx-rtbeat-*");
    for (name, text) in HTTP_EVENTS {
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
    let index = indexed("lambda-emulator").await;
    let emulator = Emulator::start(&[("HOST", &es_host()), ("ES_INDEX", &index.name)]).await;
    let (status, content_type, body) = fetch("GET", &emulator.function_url()).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/json"),
        "{body}"
    );
    let expected = without_took(cli_output(&index.name));
    assert_eq!(without_took(serde_json::from_str(&body).unwrap()), expected);

    let rest = emulator.invoke("tests/fixtures/apigw-rest.json");
    assert_eq!(rest["statusCode"], 200, "{rest}");
    assert_eq!(without_took(body_of(&rest)), expected);

    let scheduled = emulator.invoke("tests/fixtures/scheduled.json");
    assert_eq!(without_took(scheduled), expected);
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
