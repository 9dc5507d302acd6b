//! Load shedding: at most `MAX_IN_FLIGHT` function calls are in progress in a process at once.
//! One more is answered at once with a 503 `overloaded` (and `Retry-After`), instead of
//! waiting in a queue while its client and every call behind it wait too; each such call is
//! counted in `function_calls_shed_total`.
//!
//! Made of tower's own layers, outermost first: axum's `HandleErrorLayer` turns tower's
//! `Overloaded` into our 503; `LoadShedLayer` refuses a call at once when the limit is not
//! ready; `GlobalConcurrencyLimitLayer` is the limit. The global one, not
//! `ConcurrencyLimitLayer`: axum wraps each method of a `MethodRouter` (GET, POST, OPTIONS, the
//! 405 fallback) in its own copy of a layer, and `ConcurrencyLimitLayer` makes a semaphore for
//! each, so GET and POST would each get the whole limit. The global layer shares one.
//!
//! Only the function is wrapped: `/healthz` and `/metrics` are never shed, so a busy process
//! stays alive to its probes and visible to its scrapers. The layer sits inside the Router's
//! metrics, log line and CORS, so a shed call is counted, logged and readable by a dashboard
//! like any other answer.

use std::convert::Infallible;

use axum::BoxError;
use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use axum::routing::Route;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::load_shed::error::Overloaded;
use tower::{Layer, Service, ServiceBuilder};

use super::metrics::Metrics;
use crate::error::Error;

/// The limit on the Kubeless and Knative doors unless `MAX_IN_FLIGHT` says otherwise: the most
/// that keeps a door within the README's memory ceiling (what a call in flight holds is
/// measured by tests/flood.rs),
/// and no fewer than the 256 at once that `tests/load.rs` expects answered.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// The largest `MAX_IN_FLIGHT` accepted: far above any process's useful concurrency, and well
/// within what tokio's semaphore can count.
pub const MAX_IN_FLIGHT_LIMIT: usize = 1_000_000;

/// A service that axum's `MethodRouter::layer` accepts in place of a function route.
pub trait RouteService:
    Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> RouteService for T where
    T: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// The layer that sheds function calls beyond `max_in_flight`, counting each in `metrics`.
/// Every service it wraps shares the one limit.
pub fn layer(
    max_in_flight: usize,
    metrics: Metrics,
) -> impl Layer<Route, Service: RouteService> + Clone + Send + Sync + 'static {
    let overloaded = move |method: Method, error: BoxError| {
        let metrics = metrics.clone();
        async move {
            if error.is::<Overloaded>() {
                metrics.shed(&method);
                Error::Overloaded(max_in_flight)
            } else {
                // The layers below only ever fail with `Overloaded`; say so if that changes.
                Error::Internal(format!("load shedding failed: {error}"))
            }
        }
    };
    ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::new(max_in_flight))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tokio::sync::{Notify, Semaphore};
    use tower::ServiceExt;

    use super::*;

    /// A Router whose function, on `/` and on any other path, by GET or POST, waits until
    /// `gate` lets it through, after saying it has `entered`. Limited to one call in flight.
    fn held_router(gate: &Arc<Semaphore>, entered: &Arc<Notify>, metrics: &Metrics) -> Router {
        let (gate, entered) = (gate.clone(), entered.clone());
        let held = move || async move {
            entered.notify_one();
            let _permit = gate.acquire().await;
            "answered"
        };
        let methods = get(held.clone())
            .post(held)
            .layer(layer(1, metrics.clone()));
        Router::new()
            .route("/", methods.clone())
            .route("/{*path}", methods)
    }

    fn request(method: &str, path: &str) -> Request {
        Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap()
    }

    /// Every method and path shares one limit: with one GET in flight, a POST on another path
    /// is answered 503 at once; once the GET is answered, calls get through again.
    #[tokio::test]
    async fn one_limit_for_every_method_and_path() {
        let (gate, entered, metrics) = (
            Arc::new(Semaphore::new(0)),
            Arc::new(Notify::new()),
            Metrics::new(),
        );
        let router = held_router(&gate, &entered, &metrics);
        let first = tokio::spawn(router.clone().oneshot(request("GET", "/")));
        entered.notified().await;

        // Bounded only so that a broken limit fails the test instead of hanging it.
        let shed = tokio::time::timeout(
            Duration::from_secs(10),
            router.clone().oneshot(request("POST", "/station/7")),
        )
        .await
        .expect("a call over the limit must be answered at once, not queued")
        .unwrap();
        assert_eq!(shed.status(), 503);
        assert_eq!(shed.headers()["retry-after"], "1");
        let body = axum::body::to_bytes(shed.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "error": {
                    "type": "overloaded",
                    "reason": "MAX_IN_FLIGHT=1 calls are already in progress; try again shortly",
                },
                "status": 503,
            })
        );

        gate.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap().status(), 200);
        gate.add_permits(1);
        let again = router.oneshot(request("POST", "/station/7")).await.unwrap();
        assert_eq!(again.status(), 200, "the answered call gave its place back");
        let text = metrics.render().unwrap();
        assert!(
            text.contains("function_calls_shed_total{method=\"POST\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("function_calls_shed_total{method=\"GET\"} 0"),
            "{text}"
        );
    }
}
