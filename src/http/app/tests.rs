//! The Router's answers, one request at a time through `oneshot`, with no socket.
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::*;
use crate::http::identity::CallSettings;

/// A client of an Elasticsearch at `host` (nothing listens at 127.0.0.1:1).
fn state(host: &str, es_timeout: &str, function_timeout: Option<Duration>) -> Arc<AppState> {
    let lookup = |k: &str| match k {
        "HOST" => Some(host.to_string()),
        "ES_TIMEOUT" => Some(es_timeout.to_string()),
        _ => None,
    };
    let stats = Stats::from_lookup(lookup).unwrap();
    let call = CallSettings {
        function_timeout,
        ..CallSettings::default()
    };
    Arc::new(AppState {
        call: Arc::new(call),
        ..AppState::new(stats)
    })
}

/// A peer that accepts connections and never answers: a stalled Elasticsearch.
async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    address
}

async fn call(app: Router, method: &str, path: &str) -> (StatusCode, HeaderMap, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn assert_error_shape(status: StatusCode, headers: &HeaderMap, body: &str, error_type: &str) {
    let json: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["status"], status.as_u16(), "{body}");
    assert_eq!(json["error"]["type"], error_type, "{body}");
    assert!(
        json["error"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn healthz_answers_without_elasticsearch() {
    let (status, _, body) = call(router(state("127.0.0.1:1", "5s", None)), "GET", "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
}

#[tokio::test]
async fn unreachable_elasticsearch_is_503() {
    let (status, headers, body) =
        call(router(state("127.0.0.1:1", "5s", None)), "GET", "/any/path").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_error_shape(status, &headers, &body, "elasticsearch_unavailable");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}

#[tokio::test]
async fn stalled_elasticsearch_is_504() {
    let host = black_hole().await;
    let (status, headers, body) = call(router(state(&host, "300ms", None)), "POST", "/").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_error_shape(status, &headers, &body, "elasticsearch_timeout");
}

/// A request body that never arrives.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = axum::body::Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Infallible>>> {
        std::task::Poll::Pending
    }
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408_within_the_function_limit() {
    // The search would get all of ES_TIMEOUT, but the call's body never arrives: reading it is
    // bounded by the function's limit, when shorter than BODY_READ_TIMEOUT.
    let app = router(state("127.0.0.1:1", "5s", Some(Duration::from_millis(200))));
    let request = Request::post("/").body(Body::new(Stalled)).unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(2), app.oneshot(request)).await;
    let response = answered.expect("no answer within 2 s: the time limit did not end the call");
    let (parts, body) = response.unwrap().into_parts();
    let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert_eq!(parts.status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_error_shape(parts.status, &parts.headers, &body, "body_timeout");
    assert!(body.contains("within 200ms"), "{body}");
}

#[tokio::test]
async fn a_search_gets_504_before_the_function_timeout_would_give_408() {
    let host = black_hole().await;
    let app = router(state(&host, "30s", Some(Duration::from_millis(600))));
    let (status, headers, body) = call(app, "GET", "/").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_error_shape(status, &headers, &body, "elasticsearch_timeout");
    // FUNC_TIMEOUT less the margin, less the moments already spent.
    let within = body
        .split("within ")
        .nth(1)
        .and_then(|r| r.split("ms").next());
    let millis: u64 = within.and_then(|ms| ms.parse().ok()).unwrap_or(0);
    assert!((300..=350).contains(&millis), "{body}");
}

#[tokio::test]
async fn other_methods_are_405_with_the_paths_own_allow() {
    for (method, path, allow) in [
        ("PUT", "/", "GET,HEAD,POST,OPTIONS"),
        ("DELETE", "/x", "GET,HEAD,POST,OPTIONS"),
        ("POST", "/healthz", "GET,HEAD,OPTIONS"),
        ("PATCH", "/metrics", "GET,HEAD,OPTIONS"),
    ] {
        let (status, headers, body) =
            call(router(state("127.0.0.1:1", "5s", None)), method, path).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_error_shape(status, &headers, &body, "method_not_allowed");
        assert_eq!(headers[header::ALLOW], allow, "{method} {path}");
    }
}

#[tokio::test]
async fn options_answers_cors_on_every_path() {
    for path in ["/prod/", "/", "/healthz", "/metrics"] {
        let (status, headers, _) =
            call(router(state("127.0.0.1:1", "5s", None)), "OPTIONS", path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*", "{path}");
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET, POST, OPTIONS",
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_panic_is_500_with_the_error_shape() {
    let state = state("127.0.0.1:1", "5s", None);
    async fn boom() -> &'static str {
        panic!("boom")
    }
    let app = Router::new()
        .route("/boom", function_call(get(boom), &state))
        .with_state(state.clone());
    let (status, headers, body) = call(app, "GET", "/boom").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_error_shape(status, &headers, &body, "internal_error");
    let metrics = state.metrics.render().unwrap();
    assert!(
        metrics.contains("function_failures_total{method=\"GET\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_elasticsearch_rejection_is_502_with_its_type_and_its_text_for_the_log() {
    let error = Error::Elasticsearch {
        status: 400,
        es_type: "illegal_argument_exception".into(),
        reason: "Field [x] is not numeric".into(),
    };
    let response = error.into_response();
    let logged = response.extensions().get::<Failure>().map(|f| f.0.clone());
    assert!(
        logged.is_some_and(|line| line.contains("Field [x] is not numeric")),
        "the log line keeps Elasticsearch's text"
    );
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_error_shape(status, &headers, &body, "illegal_argument_exception");
    assert!(!body.contains("Field [x]"), "{body}");
}

#[tokio::test]
async fn metrics_count_function_calls_by_method() {
    let state = state("127.0.0.1:1", "5s", None);
    for method in ["GET", "GET", "POST"] {
        call(router(state.clone()), method, "/").await;
    }
    call(router(state.clone()), "GET", "/healthz").await;
    let (status, headers, text) = call(router(state), "GET", "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        text.contains("function_calls_total{method=\"GET\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("function_calls_total{method=\"POST\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("function_failures_total{method=\"GET\"} 2"),
        "{text}"
    );
    assert!(text.contains("function_duration_seconds_bucket"), "{text}");
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = router(state("127.0.0.1:1", "5s", None));
    let body = vec![b' '; MAX_BODY_BYTES + 1];
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .body(Body::from(body))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_shape(
        status,
        &headers,
        &String::from_utf8_lossy(&bytes),
        "request_too_large",
    );
}

/// A shared cache must never keep a probe's or a scrape's answer for us.
#[tokio::test]
async fn healthz_and_metrics_are_never_stored() {
    for path in ["/healthz", "/metrics"] {
        let (status, headers, _) =
            call(router(state("127.0.0.1:1", "5s", None)), "GET", path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
        assert_eq!(headers.get(header::VARY), None, "{path}");
    }
}

/// Every answer on a function path names what it varies on, errors included, short answers
/// too (compression's own `Vary` comes only with long ones).
#[tokio::test]
async fn function_answers_vary_on_accept_and_accept_encoding() {
    for (method, path) in [("GET", "/"), ("POST", "/x"), ("PUT", "/")] {
        let (_, headers, _) = call(router(state("127.0.0.1:1", "5s", None)), method, path).await;
        let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["accept, accept-encoding"], "{method} {path}");
    }
}

/// With `MAX_IN_FLIGHT` calls in flight, one more function call is shed, but a preflight, a
/// 405, /healthz and /metrics are answered as ever: only function calls are ever refused.
#[tokio::test]
async fn only_function_calls_are_shed() {
    let host = black_hole().await;
    let state = Arc::new(AppState {
        max_in_flight: 1,
        ..Arc::into_inner(state(&host, "30s", None)).unwrap()
    });
    let app = router(state);
    let held = tokio::spawn(call(app.clone(), "GET", "/held"));
    // Bounded, so that a broken limit fails here rather than hanging.
    for _ in 0..200 {
        let (_, _, text) = call(app.clone(), "GET", "/metrics").await;
        if text.contains("function_calls_in_flight 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, headers, body) = call(app.clone(), "GET", "/another").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error_shape(status, &headers, &body, "overloaded");
    for (method, path, wanted) in [
        ("OPTIONS", "/", StatusCode::OK),
        ("PUT", "/", StatusCode::METHOD_NOT_ALLOWED),
        ("DELETE", "/x", StatusCode::METHOD_NOT_ALLOWED),
        ("GET", "/healthz", StatusCode::OK),
        ("GET", "/metrics", StatusCode::OK),
        ("OPTIONS", "/healthz", StatusCode::OK),
    ] {
        let (status, _, body) = call(app.clone(), method, path).await;
        assert_eq!(status, wanted, "{method} {path}: {body}");
    }
    held.abort();
}
