//! A function call's body, read whole before the call takes one of the `MAX_IN_FLIGHT` slots.
//!
//! A slot is for the work a call costs: the search, the render. A client that trickles its
//! body one byte at a time would otherwise hold a slot for as long as it liked, and a hundred
//! such clients would shed every other caller. So the body is read first, within a deadline,
//! and only then does the call ask for its slot. A request whose body is known to be empty (a
//! GET) goes straight through.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use http_body::Body as _;
use tower::util::Oneshot;
use tower::{Layer, Service, ServiceExt};

use crate::error::Error;

/// A body must arrive whole within this time (or the function's limit, if shorter): after it,
/// a 408. nginx's `client_body_timeout` bounds the wait between two reads; this bounds the whole.
pub(super) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request body read: parameters fit in a few hundred bytes, so a large body is a
/// mistake or an attack.
pub(super) const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads bodies whole, within `limit`, before the service it wraps is asked for a slot.
#[derive(Clone, Copy, Debug)]
pub(super) struct ReadBodyLayer {
    limit: Duration,
}

impl ReadBodyLayer {
    /// Bodies must arrive within [`BODY_READ_TIMEOUT`], or `function_timeout` if shorter.
    pub(super) fn new(function_timeout: Option<Duration>) -> Self {
        let limit = function_timeout.map_or(BODY_READ_TIMEOUT, |f| f.min(BODY_READ_TIMEOUT));
        ReadBodyLayer { limit }
    }
}

impl<S> Layer<S> for ReadBodyLayer {
    type Service = ReadBody<S>;

    fn layer(&self, inner: S) -> ReadBody<S> {
        ReadBody {
            inner,
            limit: self.limit,
        }
    }
}

/// See [`ReadBodyLayer`].
#[derive(Clone, Debug)]
pub(super) struct ReadBody<S> {
    inner: S,
    limit: Duration,
}

impl<S> Service<Request> for ReadBody<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Oneshot<S, Request>, BoxFuture<'static, Result<Response, Infallible>>>;

    /// Always ready: the service below is asked for its slot only once the body is here.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let inner = self.inner.clone();
        if request.body().size_hint().exact() == Some(0) {
            return Either::Left(inner.oneshot(request));
        }
        let limit = self.limit;
        Either::Right(Box::pin(async move {
            let (parts, body) = request.into_parts();
            let read = axum::body::to_bytes(body, MAX_BODY_BYTES);
            let body = match tokio::time::timeout(limit, read).await {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(error)) => return Ok(body_error(error).into_response()),
                Err(_late) => return Ok(Error::BodyTimeout(limit).into_response()),
            };
            inner
                .oneshot(Request::from_parts(parts, Body::from(body)))
                .await
        }))
    }
}

/// A body over the limit is too large (413); one that failed to arrive (the client went away
/// mid-upload, or sent less than it announced) is a bad request (400).
fn body_error(error: axum::Error) -> Error {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(inner) = cause {
        if inner.is::<http_body_util::LengthLimitError>() {
            return Error::TooLarge(MAX_BODY_BYTES);
        }
        cause = inner.source();
    }
    Error::bad_request("body", format!("did not arrive whole: {error}"))
}
