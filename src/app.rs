//! The one HTTP face of wx-stats, shared by every door: an axum [`Router`].
//!
//! `/healthz` and `/metrics` are explicit routes; every other path is the function, as on
//! Kubeless (this also absorbs API Gateway stage prefixes). Every failure, a panic included,
//! becomes the JSON error shape here, so no door can answer differently from another.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
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
use crate::query::{StatsRequest, params_from_json, params_from_query};
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

/// The largest request body read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

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
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
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
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match method {
        Method::GET | Method::POST => {}
        Method::OPTIONS => return cors_preflight(),
        _ => return method_not_allowed().await,
    }
    // Parameters fit in a few hundred bytes; a large body is a mistake or an attack.
    let Ok(body) = body else {
        return Error::TooLarge(MAX_BODY_BYTES).into_response();
    };
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
    let mut params = params_from_query(uri.query().unwrap_or(""));
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
mod tests;
