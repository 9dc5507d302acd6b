//! What every function answer gets on its way out: it is counted and timed in the metrics,
//! logged (its `call` line), readable by any origin (CORS) and says what it varies on.
//!
//! A tower layer of its own rather than axum's `from_fn`, which clones the service below and
//! boxes a future for every call: this one wraps the future below in place.
//!
//! The `call` line is at debug level: at info, formatting and writing it, with its spans'
//! fields, cost about a third of a cached answer's CPU time (tests/bench/README.md), and the
//! platforms in front (Knative's queue-proxy, Cloud Run, API Gateway, Lambda's own
//! START/END/REPORT lines) already log every request. Failures are logged at warn either way.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::http::{HeaderValue, Uri, header};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::identity::{CALL_LINE_LEVEL, CALL_LOG};
use super::metrics::{CallTimer, Metrics};

/// What the function's answers vary on, for shared caches: the format follows `Accept` (when
/// no `format` parameter names it), and the bytes follow `Accept-Encoding`. Without it a cache
/// would hand a JSON answer to a client that asked for SVG.
pub const VARY: &str = "accept, accept-encoding";

/// Tracks every call of the service it wraps in `metrics`.
#[derive(Clone, Debug)]
pub struct TrackLayer {
    metrics: Metrics,
}

impl TrackLayer {
    /// A layer that counts into `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        TrackLayer { metrics }
    }
}

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`TrackLayer`] makes.
#[derive(Clone, Debug)]
pub struct Track<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let timer = Some(self.metrics.start(request.method()));
        // Kept only when the line will be written: the request itself is gone by then.
        let logged = tracing::enabled!(target: CALL_LOG, CALL_LINE_LEVEL);
        let uri = logged.then(|| request.uri().clone());
        Tracked {
            inner: self.inner.call(request),
            timer,
            uri,
        }
    }
}

pin_project! {
    /// A call being tracked: the answer below, then what [`Track`] adds to it.
    pub struct Tracked<F> {
        #[pin]
        inner: F,
        // Taken when the answer is ready; dropped unfinished, it counts the call abandoned.
        timer: Option<CallTimer>,
        uri: Option<Uri>,
    }
}

impl<F, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let status = response.status().as_u16();
        if let Some(timer) = this.timer.take() {
            let method = timer.method();
            let millis = timer.finish(status);
            if let Some(uri) = this.uri.take() {
                tracing::event!(
                    target: CALL_LOG,
                    CALL_LINE_LEVEL,
                    method,
                    path = uri.path(),
                    status,
                    millis,
                    "call"
                );
            }
        }
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(header::VARY, HeaderValue::from_static(VARY));
        Poll::Ready(Ok(response))
    }
}
