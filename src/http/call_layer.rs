//! What wraps every function call, in one layer: its identity, decided once ([`identity`]:
//! the request id, echoed in `x-request-id`, the trace context and the deadline, which the
//! function finds in the request's [`crate::call::CallContext`]); the span its lines are written
//! in; its metrics and its `call` line; CORS and `Vary` on its answer; and the line that logs a
//! failure under its request id. Inside it, `app::function_call` lists the rest.
//!
//! The `call` line is at debug level: at info, formatting and writing it, with its spans'
//! fields, is a large share of a cached answer's CPU time (tests/bench/README.md measures it),
//! and the platforms in front (Knative's queue-proxy, Cloud Run, API Gateway, Lambda's own
//! START/END/REPORT lines) already log every request. Failures are logged at warn either way.
//!
//! A tower layer of its own rather than axum's `from_fn`, which clones the service below and
//! boxes a future for every call: this one wraps the future below in place.
//!
//! [`identity`]: super::identity

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::http::{HeaderValue, Uri, header};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::instrument::Instrumented;

use super::cors;
use super::identity::{
    CALL_LINE_LEVEL, CALL_LOG, CallSettings, Failure, PlatformContext, REQUEST_ID, call_context,
    call_span,
};
use super::metrics::{CallTimer, Metrics};
use crate::stats::Served;

/// What the function's answers vary on, for shared caches: the format follows `Accept` (when
/// no `format` parameter names it), and the bytes follow `Accept-Encoding`. Without it a cache
/// would hand a JSON answer to a client that asked for SVG.
pub(super) const VARY: &str = "accept, accept-encoding";

/// Wraps each function call as the module says, with the door's `settings`, counting into
/// `metrics`.
#[derive(Clone, Debug)]
pub(super) struct CallLayer {
    settings: Arc<CallSettings>,
    metrics: Metrics,
}

impl CallLayer {
    /// The layer for a door's `settings`, counting into `metrics`.
    pub(super) fn new(settings: Arc<CallSettings>, metrics: Metrics) -> Self {
        CallLayer { settings, metrics }
    }
}

impl<S> Layer<S> for CallLayer {
    type Service = CallService<S>;

    fn layer(&self, inner: S) -> CallService<S> {
        CallService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`CallLayer`] makes.
#[derive(Clone, Debug)]
pub(super) struct CallService<S> {
    inner: S,
    layer: CallLayer,
}

impl<S> Service<Request> for CallService<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = CallFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let CallLayer { settings, metrics } = &self.layer;
        let platform = request
            .extensions_mut()
            .remove::<PlatformContext>()
            .unwrap_or_default();
        let mut context = call_context(request.headers(), &platform, settings.function_timeout);
        let id = HeaderValue::from_str(&context.request_id).ok();
        // The call's own span only when its `call` line is written or it is exported; the
        // request's path only for the line.
        let logged = tracing::enabled!(target: CALL_LOG, CALL_LINE_LEVEL);
        let traced = crate::otel::tracing_on();
        let own_span = logged || traced;
        let span = if own_span {
            call_span(&settings.span, &request, &context.request_id, &platform)
        } else {
            settings.span.clone()
        };
        if traced {
            // The search's CLIENT span names its own parent to Elasticsearch.
            context.traceparent = None;
        }
        let timer = Some(metrics.start(request.method()));
        let uri = logged.then(|| request.uri().clone());
        request.extensions_mut().insert(context);
        CallFuture {
            inner: self.inner.call(request).instrument(span),
            id,
            timer,
            uri,
            own_span,
        }
    }
}

pin_project! {
    /// A function call under way: the answer below, then what [`CallService`] adds to it.
    pub struct CallFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        id: Option<HeaderValue>,
        // Taken when the answer is ready; dropped unfinished, it counts the call abandoned.
        timer: Option<CallTimer>,
        uri: Option<Uri>,
        // Whether the call has a span of its own, which the answer is recorded on.
        own_span: bool,
    }
}

impl<F, E> Future for CallFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut response = ready!(this.inner.as_mut().poll(cx))?;
        let status = response.status().as_u16();
        let failure = response.extensions_mut().remove::<Failure>();
        let served = response.extensions().get::<Served>().copied();
        // Lines are written in the span the call ran in, which the answer below has left by
        // now, so that they carry its fields and its parents' (the service's name). Entered
        // only when there is a line to write.
        let span = this.inner.as_ref().get_ref().span();
        if *this.own_span {
            record_answer(span, status, served);
        }
        let _in_span = (this.uri.is_some() || failure.is_some()).then(|| span.enter());
        if let Some(timer) = this.timer.take() {
            let method = timer.method();
            let millis = timer.finish(status, served);
            if let Some(uri) = this.uri.take() {
                let path = uri.path();
                tracing::event!(target: CALL_LOG, CALL_LINE_LEVEL, method, path, status, millis, "call");
            }
        }
        if let Some(Failure(error)) = failure {
            let request_id = this.id.as_ref().and_then(|id| id.to_str().ok());
            tracing::warn!(request_id, status, error, "request failed");
        }
        let headers = response.headers_mut();
        if let Some(id) = this.id.take() {
            headers.insert(REQUEST_ID, id);
        }
        cors::allow_any_origin(headers);
        headers.insert(header::VARY, HeaderValue::from_static(VARY));
        Poll::Ready(Ok(response))
    }
}

/// What the answer says of the call, on its span: its status (a 5xx is an error, as the HTTP
/// server conventions say; a 4xx is the client's), its format and where it came from.
fn record_answer(span: &tracing::Span, status: u16, served: Option<Served>) {
    // As an i64: tracing-opentelemetry writes other integers as text, and the conventions
    // want a number.
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "error");
    }
    if let Some(served) = served {
        span.record("wx_stats.format", served.format.name());
        span.record("wx_stats.cache", served.cache.name());
    }
}
