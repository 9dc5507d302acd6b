//! The one HTTP face of wx-stats, shared by every door: an axum [`Router`].
//!
//! `/healthz` and `/metrics` are explicit routes; every other path is the function, as on
//! Kubeless (this also absorbs API Gateway stage prefixes). Every failure, a panic included,
//! becomes the JSON error shape here, so no door can answer differently from another.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::cloudevent;
use crate::error::Error;
use crate::es::EsClient;
use crate::metrics::Metrics;
use crate::query::{StatsRequest, params_from_json};
use crate::stats;

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The Elasticsearch client.
    pub es: EsClient,
    /// Kubeless's function metrics.
    pub metrics: Metrics,
    /// A function call that runs longer than this is answered 408 (Kubeless's `FUNC_TIMEOUT`).
    pub function_timeout: Option<Duration>,
    /// Which service this is: labels log lines and names the source of reply events.
    pub identity: ServiceIdentity,
}

impl AppState {
    /// State with fresh metrics, no time limit and the default identity.
    pub fn new(es: EsClient) -> Self {
        AppState {
            es,
            metrics: Metrics::new(),
            function_timeout: None,
            identity: ServiceIdentity::default(),
        }
    }
}

/// The platform's name for this service (Knative's `K_SERVICE`, `K_REVISION`, `K_CONFIGURATION`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceIdentity {
    /// `K_SERVICE`.
    pub service: Option<String>,
    /// `K_REVISION`.
    pub revision: Option<String>,
    /// `K_CONFIGURATION`.
    pub configuration: Option<String>,
}

impl ServiceIdentity {
    /// A span whose fields label every log line inside it.
    pub fn span(&self) -> tracing::Span {
        let span = tracing::info_span!(
            "service",
            K_SERVICE = tracing::field::Empty,
            K_REVISION = tracing::field::Empty,
            K_CONFIGURATION = tracing::field::Empty
        );
        for (field, value) in [
            ("K_SERVICE", &self.service),
            ("K_REVISION", &self.revision),
            ("K_CONFIGURATION", &self.configuration),
        ] {
            if let Some(value) = value {
                span.record(field, value.as_str());
            }
        }
        span
    }

    /// The `ce-source` of reply events: the service's name.
    pub fn event_source(&self) -> String {
        format!("/{}", self.service.as_deref().unwrap_or("wx-stats"))
    }
}

/// The methods that invoke the function.
const FUNCTION_METHODS: &str = "GET, POST, OPTIONS";

/// The Router every door serves.
pub fn router(state: Arc<AppState>) -> Router {
    with_layers(routes(), state)
}

/// The routes, before the layers that make every answer consistent.
fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(function)
}

/// Time limit, panic catching, metrics and CORS, around any set of routes.
fn with_layers(routes: Router<Arc<AppState>>, state: Arc<AppState>) -> Router {
    routes
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        // Outside the time limit, so a panic and a 408 are both counted as failures.
        .layer(CatchPanicLayer::custom(|_| {
            Error::Internal("the handler panicked".into()).into_response()
        }))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Every path other than /healthz and /metrics: GET and POST run the function, answering a
/// CloudEvent with a CloudEvent; OPTIONS answers CORS.
async fn function(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match method {
        Method::GET | Method::POST => {}
        Method::OPTIONS => return cors_preflight(),
        _ => return method_not_allowed().await,
    }
    let event =
        match cloudevent::is_cloud_event(&headers).then(|| cloudevent::read(&headers, &body)) {
            Some(Err(error)) => return error.into_response(),
            Some(Ok(event)) => Some(event),
            None => None,
        };
    let params = match &event {
        Some(event) => cloudevent::params(event),
        None if method == Method::POST => params_from_json(&body),
        None => Ok(Vec::new()),
    };
    let answer =
        match params.and_then(|body_params| request_of(&state, &uri, &headers, body_params)) {
            Ok(request) => stats::answer(&state.es, &request).await,
            Err(error) => Err(error),
        };
    let mut response = match answer {
        Ok(rendered) if event.is_some() => {
            cloudevent::reply(rendered, &state.identity.event_source())
        }
        Ok(rendered) => (
            [(header::CONTENT_TYPE, rendered.content_type)],
            rendered.body,
        )
            .into_response(),
        Err(error) => return error.into_response(),
    };
    // Caches downstream may keep the answer as long as we do.
    let max_age = format!("max-age={}", state.es.cache_ttl().as_secs());
    if let Ok(value) = HeaderValue::from_str(&max_age) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// The request's parameters: the query string's, then the body's (a Kubeless event's data).
fn request_of(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body_params: Vec<(String, String)>,
) -> Result<StatsRequest, Error> {
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    params.extend(body_params);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    StatsRequest::parse(&params, accept, state.es.index_allow())
}

fn cors_preflight() -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(FUNCTION_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

async fn method_not_allowed() -> Response {
    let mut response = Error::MethodNotAllowed.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(FUNCTION_METHODS));
    response
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match state.metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Answers 408 when the function outlives `function_timeout`.
async fn time_limit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(limit) = state.function_timeout else {
        return next.run(request).await;
    };
    tokio::time::timeout(limit, next.run(request))
        .await
        .unwrap_or_else(|_| Error::FunctionTimeout(limit).into_response())
}

/// Counts, times and logs every function call inside a span labelled with the service's
/// identity; sets CORS on every answer so dashboards can fetch it.
async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let is_function = path != "/healthz" && path != "/metrics";
    let method = request.method().clone();
    let timer = is_function.then(|| state.metrics.start(method.as_str()));
    let span = state.identity.span();
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Some(timer) = timer {
        let status = response.status().as_u16();
        let millis = timer.finish(status);
        span.in_scope(|| tracing::info!(%method, %path, status, millis, "call"));
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    response
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, "request failed");
        }
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            self.to_json().to_string(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tokio::net::TcpListener;
    use tower::ServiceExt;

    use super::*;

    /// A client of an Elasticsearch at `host` (nothing listens at 127.0.0.1:1).
    fn state(host: &str, es_timeout: &str, function_timeout: Option<Duration>) -> Arc<AppState> {
        let lookup = |k: &str| match k {
            "HOST" => Some(host.to_string()),
            "ES_TIMEOUT" => Some(es_timeout.to_string()),
            _ => None,
        };
        let es = EsClient::from_lookup(lookup).unwrap();
        Arc::new(AppState {
            function_timeout,
            ..AppState::new(es)
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
        let (status, _, body) =
            call(router(state("127.0.0.1:1", "5s", None)), "GET", "/healthz").await;
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

    #[tokio::test]
    async fn a_function_over_its_time_limit_is_408() {
        let host = black_hole().await;
        let app = router(state(&host, "30s", Some(Duration::from_millis(200))));
        let (status, headers, body) = call(app, "GET", "/").await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_error_shape(status, &headers, &body, "function_timeout");
    }

    #[tokio::test]
    async fn other_methods_are_405_with_allow() {
        for (method, path) in [
            ("PUT", "/"),
            ("DELETE", "/x"),
            ("POST", "/healthz"),
            ("PATCH", "/metrics"),
        ] {
            let (status, headers, body) =
                call(router(state("127.0.0.1:1", "5s", None)), method, path).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_error_shape(status, &headers, &body, "method_not_allowed");
            assert_eq!(headers[header::ALLOW], FUNCTION_METHODS);
        }
    }

    #[tokio::test]
    async fn options_answers_cors() {
        let (status, headers, _) = call(
            router(state("127.0.0.1:1", "5s", None)),
            "OPTIONS",
            "/prod/",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_METHODS],
            FUNCTION_METHODS
        );
    }

    #[tokio::test]
    async fn a_panic_is_500_with_the_error_shape() {
        let state = state("127.0.0.1:1", "5s", None);
        async fn boom() -> &'static str {
            panic!("boom")
        }
        let routes = routes().route("/boom", get(boom));
        let (status, headers, body) =
            call(with_layers(routes, state.clone()), "GET", "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_error_shape(status, &headers, &body, "internal_error");
        let metrics = state.metrics.render().unwrap();
        assert!(
            metrics.contains("function_failures_total{method=\"GET\"} 1"),
            "{metrics}"
        );
    }

    #[tokio::test]
    async fn an_elasticsearch_rejection_is_502_with_its_reason() {
        let error = Error::Elasticsearch {
            status: 400,
            es_type: "illegal_argument_exception".into(),
            reason: "Field [x] is not numeric".into(),
        };
        let response = error.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_error_shape(status, &headers, &body, "illegal_argument_exception");
        assert!(body.contains("Field [x] is not numeric"), "{body}");
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
}
