//! The one HTTP face of wx-stats, shared by every door: an axum [`Router`].
//!
//! `/healthz` and `/metrics` are explicit routes; every other path is the function, as on
//! Kubeless (this also absorbs API Gateway stage prefixes). The Router alone decides routes and
//! methods, and so the `Allow` header of each. Every failure becomes the JSON error shape here,
//! so no door can answer differently from another; a panic in the function does too (only the
//! function runs code that could panic on a caller's input: the probes and metrics do not).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use tower_http::catch_panic::CatchPanicLayer;

use super::body::{MAX_BODY_BYTES, ReadBodyLayer};
use super::call_layer::CallLayer;
use super::cloudevent;
use super::conditional::{self, Preconditions};
use super::identity::{CallSettings, Failure};
use super::metrics::Metrics;
use super::params::{params_from_json, params_from_query};
use super::{cors, negotiate, shed};
use crate::answer::Encoding;
use crate::call::CallContext;
use crate::error::Error;
use crate::format::{Format, JSON_CONTENT_TYPE};
use crate::query::format_asked;
use crate::render::{self, page_headers};
use crate::stats::{Served, Stats};

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The function.
    pub stats: Stats,
    /// The function's metrics, served at `/metrics`.
    pub metrics: Metrics,
    /// The platform's time limit and the service's span, which each call's identity needs.
    pub call: Arc<CallSettings>,
    /// The `ce-source` of reply events.
    pub event_source: String,
    /// Function calls in progress at once (`MAX_IN_FLIGHT`); one more is answered 503 at once.
    pub max_in_flight: usize,
}

impl AppState {
    /// State with fresh metrics, no time limit and no service name.
    pub fn new(stats: Stats) -> Self {
        AppState {
            stats,
            metrics: Metrics::new(),
            call: Arc::default(),
            event_source: "/wx-stats".to_string(),
            max_in_flight: shed::DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// The `Retry-After` of a 503, in seconds.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// The Router every door serves.
pub fn router(state: Arc<AppState>) -> Router {
    let function = function_call(get(function).post(function), &state);
    Router::new()
        .route("/healthz", route(get(healthz)))
        .route("/metrics", route(get(metrics)))
        .route("/", function.clone())
        .route("/{*path}", function)
        .with_state(state)
}

/// Wraps `methods` (whose handler keeps its own time limit) as a function call. This is the
/// one list of what wraps a call, innermost first: panics caught as 500s (outside the time
/// limit, so a panic and a 408 both count as failures); calls over `MAX_IN_FLIGHT` shed; the
/// body read whole, within its deadline, before the call asks for its slot
/// ([`ReadBodyLayer`]). Then [`route`] adds OPTIONS and the 405s, outside all of those, so they
/// are never shed; and the call's layer ([`CallLayer`]: its identity, metrics, log lines,
/// CORS and `Vary`) wraps every answer.
fn function_call(
    methods: MethodRouter<Arc<AppState>>,
    state: &Arc<AppState>,
) -> MethodRouter<Arc<AppState>> {
    let methods = methods
        .layer::<_, Infallible>(CatchPanicLayer::custom(|_| {
            Error::Internal("the handler panicked".into()).into_response()
        }))
        .layer::<_, Infallible>(shed::layer(state.max_in_flight, state.metrics.clone()))
        .layer::<_, Infallible>(ReadBodyLayer::new(state.call.function_timeout));
    let call = CallLayer::new(state.call.clone(), state.metrics.clone());
    route(methods).layer::<_, Infallible>(call)
}

/// What every path adds to its methods: OPTIONS answers a CORS preflight, and a method the
/// path does not serve is a 405 in the error shape, with the `Allow` header axum sets for it.
fn route(methods: MethodRouter<Arc<AppState>>) -> MethodRouter<Arc<AppState>> {
    methods
        .options(cors::preflight)
        .fallback(method_not_allowed)
}

/// Liveness and readiness. `no-store`: a shared cache must never answer a probe for us.
async fn healthz() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], "ok\n")
}

/// A function call: GET or POST on any path but /healthz and /metrics, answered 408 when it
/// outlives the platform's time limit (Kubeless's `FUNC_TIMEOUT`, Knative's revision timeout).
async fn function(State(state): State<Arc<AppState>>, request: Request) -> Result<Response, Error> {
    let answer = answer(&state, request);
    match state.call.function_timeout {
        Some(limit) => tokio::time::timeout(limit, answer)
            .await
            .unwrap_or(Err(Error::FunctionTimeout(limit))),
        None => answer.await,
    }
}

/// The function's answer to `request`. A CloudEvent is answered with a CloudEvent. The answer
/// comes as it is kept: its bytes in the caller's preferred encoding, with their tag, weighed
/// against the request's preconditions.
async fn answer(state: &AppState, request: Request) -> Result<Response, Error> {
    let asked = FunctionRequest::from_request(request, &()).await?;
    let answered = state
        .stats
        .answer(&asked.params, asked.format, &asked.context)
        .await;
    let (answer, cache) = match answered {
        Ok(answered) => answered,
        Err(error) if format_asked(&asked.params, asked.format) == Format::Html => {
            return Ok(error_page(error, &asked.params));
        }
        Err(error) => return Err(error),
    };
    answer.compress_ahead(asked.encoding).await;
    let sent = answer.representation(asked.encoding);
    let not_modified = asked.preconditions.not_modified(&asked.method, sent.tag)?;
    let mut response = if asked.is_event {
        cloudevent::reply(&state.event_source)?
    } else {
        Response::default()
    };
    *response.body_mut() = Body::from(sent.bytes.clone());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, answer.content_type.clone());
    if answer.format == Format::Html {
        headers.extend(page_headers());
    }
    if let Some(encoding) = sent.encoding {
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(encoding.name()),
        );
    }
    headers.insert(header::ETAG, sent.tag.clone());
    headers.insert(header::CACHE_CONTROL, answer.cache_control.clone());
    if let Some(partial) = &answer.partial {
        headers.insert(header::WARNING, warning(partial));
    }
    let format = answer.format;
    response.extensions_mut().insert(Served { format, cache });
    Ok(if not_modified {
        conditional::not_modified(response)
    } else {
        response
    })
}

/// `error` as the page a browser asked for: the error's status and headers, and a page that
/// says what went wrong, with the form as it was sent.
fn error_page(error: Error, params: &[(String, String)]) -> Response {
    let page = render::error_page(params, &error);
    let mut response = error.into_response();
    let headers = response.headers_mut();
    let html = HeaderValue::from_static(Format::Html.content_type());
    headers.insert(header::CONTENT_TYPE, html);
    headers.extend(page_headers());
    *response.body_mut() = Body::from(page);
    response
}

/// `Warning: 199 wx-stats "1 of 2 shards failed (…)"`: code 199 is a miscellaneous warning.
/// What a header cannot carry is replaced, so the reason can never break the response.
fn warning(partial: &str) -> HeaderValue {
    let text: String = partial
        .chars()
        .map(|c| {
            if c == ' ' || (c.is_ascii_graphic() && c != '"') {
                c
            } else {
                '\''
            }
        })
        .collect();
    HeaderValue::try_from(format!("199 wx-stats \"{text}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("199 wx-stats \"partial results\""))
}

/// Everything a function call needs from its request.
struct FunctionRequest {
    /// GET, HEAD or POST: a matching `If-None-Match` is a 304 on the first two only.
    method: Method,
    /// `If-Match` and `If-None-Match`.
    preconditions: Preconditions,
    /// The content coding `Accept-Encoding` prefers.
    encoding: Option<Encoding>,
    /// The query string's parameters, then the body's or the CloudEvent's data's.
    params: Vec<(String, String)>,
    /// The format `Accept` prefers, the answer's when no `format` parameter names one.
    format: Option<Format>,
    /// Whether the request carried a CloudEvent, to be answered with one.
    is_event: bool,
    /// Who asked and until when, as the call's identity layer decided.
    context: CallContext,
}

impl<S: Send + Sync> FromRequest<S> for FunctionRequest {
    type Rejection = Error;

    async fn from_request(request: Request, _: &S) -> Result<Self, Error> {
        let (mut parts, body) = request.into_parts();
        // Read whole already (ReadBodyLayer): this only takes its bytes.
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| Error::TooLarge(MAX_BODY_BYTES))?;
        let mut params = params_from_query(parts.uri.query().unwrap_or(""));
        let is_event = cloudevent::is_cloud_event(&parts.headers);
        params.extend(if is_event {
            cloudevent::params(&parts.headers, body)?
        } else if parts.method == Method::POST {
            params_from_json(&body)?
        } else {
            Vec::new()
        });
        Ok(FunctionRequest {
            preconditions: Preconditions::of(&parts.headers),
            encoding: negotiate::preferred_encoding(&parts.headers),
            format: negotiate::preferred_format(&parts.headers),
            method: parts.method,
            params,
            is_event,
            context: parts.extensions.remove().unwrap_or_default(),
        })
    }
}

async fn method_not_allowed(method: Method) -> Error {
    Error::MethodNotAllowed(method.to_string())
}

async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, Error> {
    let text = state.metrics.render()?;
    let headers = [
        (header::CONTENT_TYPE, prometheus::TEXT_FORMAT),
        (header::CACHE_CONTROL, "no-store"),
    ];
    Ok((headers, text).into_response())
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            [(header::CONTENT_TYPE, JSON_CONTENT_TYPE)],
            self.to_json().to_string(),
        )
            .into_response();
        // Elasticsearch is down, starting or overloaded: the caller may try again shortly.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let retry = HeaderValue::from_static(RETRY_AFTER_SECONDS);
            response.headers_mut().insert(header::RETRY_AFTER, retry);
        }
        // The body has the client's reason; the whole text, which names the host and what
        // Elasticsearch said, is logged by the call's identity layer, which knows the request id.
        if self.is_logged() {
            response.extensions_mut().insert(Failure(self.to_string()));
        }
        response
    }
}

#[cfg(test)]
mod tests;
