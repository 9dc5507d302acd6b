//! Request identity and trace context, against the real Elasticsearch: each call's request id is
//! echoed, sent to Elasticsearch as `X-Opaque-Id` (which its own slow log records) with the
//! caller's `traceparent`, named by the call's log lines, and never mixed up by coalescing; on
//! Lambda it is the invocation's id, the platform's deadline bounds the search, and the
//! invocation's tenant is on the call's log lines.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::bed::Bed;
use support::doors::KNATIVE;
use support::inprocess::serve_router;
use support::rie::Rie;
use support::server::{Server, delaying_proxy, recording_proxy};
use support::{CALL_LINES, error_type, es_host, es_url};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// What the recording proxy saw, as text, header names lowercased.
fn seen(recorded: &std::sync::Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&recorded.lock().unwrap()).to_lowercase()
}

/// Elasticsearch's search slow log lines that mention `text`, waiting up to 10 s for them to be
/// written (the test node's logs are under the run directory `tests/elasticsearch/start` made).
async fn slow_log_lines(text: &str) -> Vec<String> {
    let port = es_url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let logs = std::env::temp_dir().join(format!("wx-stats-es-{port}/logs"));
    for _ in 0..100 {
        let lines: Vec<String> = std::fs::read_dir(&logs)
            .unwrap_or_else(|e| panic!("{}: {e}", logs.display()))
            .flatten()
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .contains("search_slowlog")
            })
            .flat_map(|entry| {
                std::fs::read_to_string(entry.path())
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|line| line.contains(text))
            .collect();
        if !lines.is_empty() {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

#[tokio::test]
async fn the_request_id_and_trace_reach_elasticsearch_and_its_slow_log() {
    let bed = Bed::new("identity", &[(Duration::from_secs(600), 70.0)]).await;
    // Every search on this index goes to the slow log.
    let slow = json!({ "index.search.slowlog.threshold.query.warn": "0ms" });
    let settings = reqwest::Client::new()
        .put(format!("{}/{}/_settings", es_url(), bed.index.name))
        .json(&slow)
        .send()
        .await
        .unwrap();
    assert!(
        settings.status().is_success(),
        "{}",
        settings.text().await.unwrap()
    );
    let (proxy, recorded) = recording_proxy(es_host()).await;
    let door = serve_router(&bed.env_via(&proxy)).await;

    let response = reqwest::Client::new()
        .get(format!("{}/?format=buckets", door.base))
        .header("x-request-id", "abc-123")
        .header("traceparent", TRACEPARENT)
        .header("tracestate", "rojo=00f067aa0ba902b7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let sent = seen(&recorded);
    assert!(sent.contains("x-opaque-id: abc-123\r\n"), "{sent}");
    assert!(
        sent.contains(&format!("traceparent: {TRACEPARENT}\r\n")),
        "{sent}"
    );
    assert!(
        sent.contains("tracestate: rojo=00f067aa0ba902b7\r\n"),
        "{sent}"
    );

    let lines = slow_log_lines("abc-123").await;
    let ours: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(&bed.index.name))
        .collect();
    println!("Elasticsearch's slow log: {ours:?}");
    assert!(
        !ours.is_empty(),
        "no slow log line names abc-123 for {}",
        bed.index.name
    );
    let line: Value = serde_json::from_str(ours[0]).unwrap();
    assert_eq!(line["elasticsearch.slowlog.id"], "abc-123", "{line}");
}

#[tokio::test]
async fn a_malformed_or_oversized_header_is_ignored_and_never_echoed() {
    let bed = Bed::new("identity-bad", &[(Duration::from_secs(600), 70.0)]).await;
    let (proxy, recorded) = recording_proxy(es_host()).await;
    let door = serve_router(&bed.env_via(&proxy)).await;
    let long = "a".repeat(200);
    for bad in ["has space", "quote\"d", long.as_str()] {
        let response = reqwest::Client::new()
            .get(format!(
                "{}/?format=csv&hours={}",
                door.base,
                1 + bad.len() % 7
            ))
            .header("x-request-id", bad)
            .header("traceparent", "00-XYZ-nothex-01")
            .send()
            .await
            .unwrap();
        let echoed = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_ne!(echoed, bad);
        assert!(
            uuid::Uuid::parse_str(&echoed).is_ok(),
            "a new id instead: {echoed}"
        );
        let sent = seen(&recorded);
        assert!(
            sent.contains(&format!("x-opaque-id: {echoed}")),
            "the new id is sent"
        );
        assert!(
            !sent.contains(&bad.to_lowercase()) && !sent.contains("traceparent"),
            "{sent}"
        );
    }
}

#[tokio::test]
async fn coalesced_calls_share_a_search_and_each_log_line_names_its_own_id() {
    let bed = Bed::new("identity-coalesced", &[(Duration::from_secs(600), 70.0)]).await;
    let slow = delaying_proxy(es_host(), Duration::from_millis(1500)).await;
    let (proxy, recorded) = recording_proxy(slow).await;
    // Each call's `call` line is written at debug level.
    let door = bed
        .door_with(KNATIVE, &[("HOST", &proxy), ("RUST_LOG", CALL_LINES)])
        .await;
    let ask = |id: &'static str| {
        let url = format!("{}/?format=buckets", door.base);
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .header("x-request-id", id)
                .send()
                .await
                .unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    let (first, second) = tokio::join!(ask("caller-one"), ask("caller-two"));
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("caller-one", "caller-two")
    );
    let sent = seen(&recorded);
    // The histogram's search, and before it the field's range, which the door keeps a minute.
    assert_eq!(
        sent.matches("\"histogram\"").count(),
        1,
        "one search for both: {sent}"
    );
    assert_eq!(
        sent.matches("x-opaque-id: caller-one").count()
            + sent.matches("x-opaque-id: caller-two").count(),
        sent.matches("x-opaque-id: ").count(),
        "each search names one of the callers: {sent}"
    );
    let log = door.log();
    for id in ["caller-one", "caller-two"] {
        let calls: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("\"message\":\"call\"") && l.contains(id))
            .collect();
        assert_eq!(calls.len(), 1, "one log line names {id}:\n{log}");
    }
}

#[tokio::test]
async fn on_lambda_the_id_is_the_invocations_and_its_deadline_bounds_the_search() {
    let bed = Bed::new("identity-lambda", &[(Duration::from_secs(600), 70.0)]).await;
    let slow = delaying_proxy(es_host(), Duration::from_secs(5)).await;
    let (proxy, recorded) = recording_proxy(slow).await;
    let mut env = bed.env_via(&proxy);
    env.push(("AWS_LAMBDA_FUNCTION_TIMEOUT", "2"));
    let rie = Rie::start(&env).await;
    let event: Value = serde_json::from_str(include_str!("fixtures/apigw-http.json")).unwrap();
    let started = Instant::now();
    let answer = rie.invoke(&event, "lambda-invocation-42").await;
    let took = started.elapsed();
    println!("an invocation with a 2 s timeout, Elasticsearch slowed to 5 s: {took:?}: {answer}");
    assert_eq!(
        answer["statusCode"],
        504,
        "our 504, not the platform's timeout: {answer}\n{}",
        rie.log()
    );
    let body = answer["body"].as_str().unwrap();
    assert_eq!(error_type(body, 504), "elasticsearch_timeout");
    assert_eq!(
        answer["headers"]["x-request-id"], "lambda-invocation-42",
        "{answer}"
    );
    assert!(
        seen(&recorded).contains("x-opaque-id: lambda-invocation-42"),
        "{}",
        seen(&recorded)
    );
}

/// Lambda's tenant isolation mode: the Runtime API's `next` answer names the invocation's tenant
/// in `lambda-runtime-aws-tenant-id`. The RIE sends it from the invocation's `X-Amz-Tenant-Id`,
/// so no proxy stands between the door and the emulator (cargo-lambda's emulator has no tenants).
#[tokio::test]
async fn on_lambda_the_tenant_is_on_the_calls_log_line() {
    let env = [
        ("HOST", "127.0.0.1:1"),
        ("RUST_LOG", CALL_LINES),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ];
    let rie = Rie::start(&env).await;
    let event: Value = serde_json::from_str(include_str!("fixtures/apigw-http.json")).unwrap();
    let tenant = [
        ("x-amzn-requestid", "tenant-call"),
        ("x-amz-tenant-id", "tenant-blue"),
    ];
    let answer = rie.invoke_with(&event, &tenant).await;
    assert_eq!(answer["statusCode"], 503, "{answer}\n{}", rie.log());
    let answer = rie.invoke(&event, "no-tenant-call").await;
    assert_eq!(answer["statusCode"], 503, "{answer}\n{}", rie.log());

    let log = rie.log();
    // The `call` line of the invocation `request_id`: the fields of the span it was written in.
    let call_span = |request_id: &str| -> Value {
        let lines = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok());
        let mut calls = lines.filter(|line| {
            line["fields"]["message"] == "call" && line["span"]["request_id"] == request_id
        });
        let call = calls
            .next()
            .unwrap_or_else(|| panic!("no call line for {request_id}:\n{log}"));
        assert!(
            calls.next().is_none(),
            "one call line for {request_id}:\n{log}"
        );
        call["span"].clone()
    };
    let with = call_span("tenant-call");
    assert_eq!(with["name"], "call", "{with}");
    assert_eq!(with["tenant_id"], "tenant-blue", "{with}");
    let without = call_span("no-tenant-call");
    assert_eq!(without.get("tenant_id"), None, "{without}");
}

/// At the doors' default level, `info`, no call's span is built, as no `call` line is written
/// in it; a failed call's own line still names its request id, and on Knative its service.
#[tokio::test]
async fn at_info_a_failed_calls_line_names_its_request_id_without_a_call_span() {
    let env = [("HOST", "127.0.0.1:1"), ("K_SERVICE", "wx")];
    let door = Server::start(KNATIVE, "PORT", &env).await;
    let response = reqwest::Client::new()
        .get(format!("{}/", door.base))
        .header("x-request-id", "failing-call")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let log = door.log();
    let failed: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|line| line["fields"]["message"] == "request failed")
        .collect();
    assert_eq!(failed.len(), 1, "one failure line:\n{log}");
    let line = &failed[0];
    assert_eq!(line["fields"]["request_id"], "failing-call", "{line}");
    assert_eq!(line["fields"]["status"], 503, "{line}");
    assert_eq!(line["span"]["K_SERVICE"], "wx", "{line}");
    assert!(
        !log.contains("\"name\":\"call\""),
        "no call span at info:\n{log}"
    );
}
