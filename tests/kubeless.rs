//! The Kubeless door as a real process on loopback, against a real Elasticsearch.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::bed::Bed;
use support::doors::KUBELESS;
use support::server::{Server, delaying_proxy};
use support::{TestIndex, cli_output, error_type, es_host, fetch, run, without_took};

#[tokio::test]
async fn answers_as_the_cli_does_and_counts_calls() {
    let bed = Bed::new(
        "kubeless",
        &[
            (Duration::from_secs(3600), 68.4),
            (Duration::from_secs(7200), 71.0),
        ],
    )
    .await;
    let door = bed.door(KUBELESS).await;

    assert_eq!(fetch("GET", &format!("{}/healthz", door.base)).await.0, 200);
    let expected = without_took(cli_output(&bed.index.name));
    for (method, path) in [
        ("GET", "/"),
        ("POST", "/anything"),
        ("GET", "/prod/wx"),
        ("GET", "/"),
    ] {
        let (status, content_type, body) = fetch(method, &format!("{}{path}", door.base)).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "application/json"),
            "{method} {path}: {body}"
        );
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(without_took(answer), expected, "{method} {path}");
    }

    let (status, content_type, metrics) = fetch("GET", &format!("{}/metrics", door.base)).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(
        metrics.contains("function_calls_total{method=\"GET\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("function_calls_total{method=\"POST\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("function_duration_seconds_count{method=\"GET\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("function_failures_total{method=\"GET\"} 0"),
        "{metrics}"
    );

    let options = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, &door.base)
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 200);
    assert_eq!(options.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        options.headers()["access-control-allow-methods"],
        "GET, POST, OPTIONS"
    );
}

#[tokio::test]
async fn elasticsearch_down_is_503_and_the_door_keeps_serving() {
    let door = Server::start(KUBELESS, "FUNC_PORT", &[("HOST", "127.0.0.1:1")]).await;
    for _ in 0..3 {
        let started = Instant::now();
        let (status, content_type, body) = fetch("GET", &door.base).await;
        eprintln!("503 answered in {:?}", started.elapsed());
        assert_eq!((status, content_type.as_str()), (503, "application/json"));
        assert_eq!(error_type(&body, 503), "elasticsearch_unavailable");
        // The address is the operator's, in the log; the caller learns whose fault it is.
        assert!(!body.contains("127.0.0.1:1"), "{body}");
        assert!(body.contains("cannot reach Elasticsearch"), "{body}");
        assert_eq!(fetch("GET", &format!("{}/healthz", door.base)).await.0, 200);
    }
    // `kubectl logs` shows what the door wrote: plain text naming the failure, no colour codes.
    let log = door.log();
    assert!(
        log.contains("status=503")
            && log.contains("cannot reach Elasticsearch at http://127.0.0.1:1"),
        "{log}"
    );
    assert!(
        !log.contains('\x1b'),
        "colour codes in a log that is not a terminal:\n{log}"
    );
}

#[tokio::test]
async fn a_search_slower_than_func_timeout_is_our_504_before_kubeless_408() {
    let bed = Bed::new("kubeless-slow", &[]).await;
    let slow_es = delaying_proxy(es_host(), Duration::from_secs(4)).await;
    let mut env = bed.env_via(&slow_es);
    env.push(("FUNC_TIMEOUT", "1"));
    let door = Server::start(KUBELESS, "FUNC_PORT", &env).await;
    let started = Instant::now();
    let (status, _, body) = fetch("GET", &door.base).await;
    eprintln!(
        "{status} answered in {:?} (FUNC_TIMEOUT=1, Elasticsearch delayed 4 s)",
        started.elapsed()
    );
    // The search is given FUNC_TIMEOUT less the margin, so the caller learns that
    // Elasticsearch was too slow (504) rather than that the function was (408).
    assert_eq!(status, 504, "{body}");
    assert_eq!(error_type(&body, 504), "elasticsearch_timeout");
    assert!(
        body.contains("did not answer within 7"),
        "FUNC_TIMEOUT less 250 ms: {body}"
    );
}

#[tokio::test]
async fn an_elasticsearch_rejection_is_502_with_its_type_and_its_reason_in_the_log() {
    let keyword = TestIndex::create_unaggregatable("kubeless-keyword").await;
    let bed = Bed::on(keyword, &[(Duration::from_secs(60), 70.0)]).await;
    let door = bed.door(KUBELESS).await;
    let (status, _, body) = fetch("GET", &door.base).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(error_type(&body, 502), "illegal_argument_exception");
    assert!(!body.contains("of type [keyword]"), "{body}");
    let log = door.log();
    assert!(
        log.contains("rxtxMsg.payload.currently.temperature] of type [keyword]"),
        "{log}"
    );
}

#[test]
fn bad_platform_variables_stop_start_up_naming_them() {
    for (variable, value) in [
        ("FUNC_PORT", "eighty"),
        ("FUNC_PORT", "70000"),
        ("FUNC_TIMEOUT", "soon"),
        ("ES_TIMEOUT", "banana"),
    ] {
        let output = run(KUBELESS, &[], &[(variable, value)]);
        assert_eq!(output.status.code(), Some(2), "{variable}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
}
