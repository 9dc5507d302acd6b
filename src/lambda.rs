//! The Lambda side of the Router: every invocation, HTTP or not, becomes a request to the same
//! Router, so Lambda answers exactly as the HTTP doors do.
//!
//! - API Gateway (REST and HTTP APIs), function URLs and ALB events go through lambda_http's
//!   own adapter, which turns the event into a request and the response into the event's
//!   response shape.
//! - Anything else is a scheduled event (EventBridge) or a direct `aws lambda invoke`, which
//!   lambda_http alone would reject. A scheduled event becomes `GET /` (the defaults); a direct
//!   payload becomes `POST /` with the payload as its JSON body, which may carry query
//!   parameters. The function result is the response body: the stats, or the error JSON.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, LambdaEvent, Service};
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;

use crate::error::Error;

/// What an invocation is, decided from its payload alone (before any request is answered).
#[derive(Debug)]
pub enum Invocation {
    /// An API Gateway, function URL or ALB event, for lambda_http's adapter.
    Http(Box<LambdaRequest>),
    /// An EventBridge scheduled event: answered with the defaults.
    Scheduled,
    /// Anything else, e.g. `aws lambda invoke`: the payload is the request's JSON body.
    Direct(Value),
}

/// Sorts a payload, as the Lambda runtime decoded it, into an HTTP event, a scheduled event or
/// a direct invocation. Pure, so it can be tested (and fuzzed) without a Router.
pub fn classify(payload: Value) -> Invocation {
    match LambdaRequest::deserialize(&payload) {
        Ok(http_event) => Invocation::Http(Box::new(http_event)),
        Err(_) if is_scheduled(&payload) => Invocation::Scheduled,
        Err(_) => Invocation::Direct(payload),
    }
}

/// Answers one invocation. Never fails: every error is already a response in the Router.
pub async fn handle(
    router: Router,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_http::Error> {
    let LambdaEvent { payload, context } = event;
    let request = match classify(payload) {
        Invocation::Http(http_event) => {
            let mut adapter = Adapter::from(router);
            let response = adapter.call(LambdaEvent::new(*http_event, context)).await?;
            return Ok(serde_json::to_value(response)?);
        }
        Invocation::Scheduled => Request::get("/").body(Body::empty()),
        Invocation::Direct(payload) => Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(payload.to_string())),
    };
    Ok(invoke_directly(router, request).await)
}

/// A scheduled or direct invocation, answered with the response body.
async fn invoke_directly(router: Router, request: axum::http::Result<Request<Body>>) -> Value {
    let response = match request {
        Ok(request) => router.oneshot(request).await,
        Err(e) => return Error::Internal(format!("cannot build the request: {e}")).to_json(),
    };
    let Ok(response) = response;
    let bytes = match response.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return Error::Internal(format!("cannot read the response: {e}")).to_json(),
    };
    // JSON answers are returned as JSON; CSV or SVG as a JSON string.
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// EventBridge's scheduled events: `"source": "aws.events"`, `"detail-type": "Scheduled Event"`.
pub fn is_scheduled(payload: &Value) -> bool {
    payload["source"] == "aws.events" && payload["detail-type"] == "Scheduled Event"
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn scheduled_events_are_recognised() {
        assert!(is_scheduled(
            &json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        ));
        assert!(!is_scheduled(&json!({"hours": 6})));
        assert!(!is_scheduled(
            &json!({"source": "aws.events", "detail-type": "EC2 Instance State-change Notification"})
        ));
    }

    #[test]
    fn invocations_are_classified_by_their_shape() {
        let fixture = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        for event in [
            fixture(include_str!("../tests/fixtures/apigw-rest.json")),
            fixture(include_str!("../tests/fixtures/apigw-http-query.json")),
            fixture(include_str!("../tests/fixtures/function-url.json")),
            fixture(include_str!("../tests/fixtures/alb.json")),
        ] {
            assert!(matches!(classify(event), Invocation::Http(_)));
        }
        let scheduled = fixture(include_str!("../tests/fixtures/scheduled.json"));
        assert!(matches!(classify(scheduled), Invocation::Scheduled));
        let direct = fixture(include_str!("../tests/fixtures/direct.json"));
        for payload in [direct, json!({}), json!(null), json!("text")] {
            match classify(payload.clone()) {
                Invocation::Direct(body) => assert_eq!(body, payload),
                other => panic!("{payload} is a direct invocation, not {other:?}"),
            }
        }
    }
}
