//! Spans and metrics leave before Lambda may freeze the environment: after each invocation's
//! answer has been sent to the Runtime API, and before the runtime asks for the next one.
//!
//! A layer of the runtime's own service, which both answers and posts the answer, so the flush
//! never delays the caller; on Managed Instances, each concurrent invocation flushes on its own
//! worker, without holding up the others. With nothing exported, it only passes through.

use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::future::BoxFuture;
use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime_api_client::BoxError;

use crate::door::telemetry::Telemetry;

/// Flushes `telemetry` after each invocation.
#[derive(Clone)]
pub(super) struct FlushLayer {
    telemetry: Telemetry,
}

impl FlushLayer {
    pub(super) fn new(telemetry: Telemetry) -> Self {
        FlushLayer { telemetry }
    }
}

impl<S> Layer<S> for FlushLayer {
    type Service = Flush<S>;

    fn layer(&self, inner: S) -> Flush<S> {
        Flush {
            inner,
            telemetry: self.telemetry.clone(),
        }
    }
}

/// The service [`FlushLayer`] makes.
#[derive(Clone)]
pub(super) struct Flush<S> {
    inner: S,
    telemetry: Telemetry,
}

impl<S> Service<LambdaInvocation> for Flush<S>
where
    S: Service<LambdaInvocation, Response = (), Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<(), BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let answered = self.inner.call(invocation);
        let telemetry = self.telemetry.clone();
        Box::pin(async move {
            let outcome = answered.await;
            if telemetry.is_on() {
                let started = Instant::now();
                telemetry.flush().await;
                let millis = started.elapsed().as_secs_f64() * 1000.0;
                tracing::debug!(millis, "telemetry flushed");
            }
            outcome
        })
    }
}
