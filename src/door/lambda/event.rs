//! One invocation, whatever its event: every one, HTTP or not, becomes a request to the same
//! Router, so Lambda answers exactly as the HTTP doors do.
//!
//! - API Gateway (REST and HTTP APIs), function URLs, ALB and VPC Lattice events go through
//!   lambda_http's own adapter, which turns the event into a request and the response into the
//!   event's response shape. An event it cannot read (it panics on those) is answered 400 in that
//!   shape, as the Router answers any bad request.
//! - Anything else is a scheduled event (EventBridge) or a direct `aws lambda invoke`, which
//!   lambda_http alone would reject. A scheduled event becomes `GET /` (the defaults); a direct
//!   payload becomes `POST /` with the payload as its JSON body, which may carry query
//!   parameters. The function result is the response body: the stats, or the error JSON.

use std::convert::Infallible;
use std::panic::{self, AssertUnwindSafe};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use http_body_util::Full;
use lambda_http::aws_lambda_events::alb::AlbTargetGroupResponse;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use lambda_http::aws_lambda_events::vpc_lattice::VpcLatticeResponse;
use lambda_http::request::{LambdaRequest, RequestOrigin};
use lambda_http::{Adapter, LambdaEvent, Service};
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;

use crate::error::Error;
use crate::format::JSON_CONTENT_TYPE;
use crate::http::identity::FaasTrigger;

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
    let mut trigger = FaasTrigger("other");
    let request = match classify(payload) {
        Invocation::Http(http_event) => {
            let origin = http_event.request_origin();
            let mut adapter = Adapter::from(ServiceExt::<lambda_http::Request>::and_then(
                router, buffered,
            ));
            // lambda_http panics on an event it cannot make a request of (a body marked
            // base64 that is not, a host or path that make no URL). Such an event is a bad
            // request, answered in its own shape like any other, not a failed invocation.
            let call = panic::catch_unwind(AssertUnwindSafe(|| {
                adapter.call(LambdaEvent::new(*http_event, context))
            }));
            return match call {
                Ok(response) => Ok(serde_json::to_value(response.await?)?),
                Err(_) => Ok(unreadable_event_response(&origin)?),
            };
        }
        Invocation::Scheduled => {
            trigger = FaasTrigger("timer");
            Request::get("/").body(Body::empty())
        }
        Invocation::Direct(payload) => Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(header::CONTENT_TYPE, JSON_CONTENT_TYPE)
            .body(Body::from(payload.to_string())),
    };
    let request = request.map(|mut request| {
        request.extensions_mut().insert(context);
        request.extensions_mut().insert(trigger);
        request
    });
    Ok(invoke_directly(router, request).await)
}

/// The response with its body read into memory. lambda_http's adapter holds the body across an
/// await while it turns the response into the event's shape; axum's body is not `Sync`, which
/// would make the invocation's future not `Send`, as the concurrent runtime requires.
async fn buffered(response: Response) -> Result<axum::http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let error = Error::Internal(format!("cannot read the response: {e}"));
            tracing::warn!(%error, "request failed");
            let (parts, body) = error.into_response().into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            return Ok(axum::http::Response::from_parts(parts, Full::new(body)));
        }
    };
    Ok(axum::http::Response::from_parts(parts, Full::new(bytes)))
}

/// The 400 for an HTTP event lambda_http cannot read, shaped as lambda_http shapes the Router's
/// answers for events of that kind.
fn unreadable_event_response(origin: &RequestOrigin) -> Result<Value, serde_json::Error> {
    let error = Error::bad_request("event", "is an HTTP event that cannot be read as a request");
    let status_code = i64::from(error.status());
    let body = Some(lambda_http::Body::Text(error.to_json().to_string()));
    let headers = HeaderMap::from_iter([
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSON_CONTENT_TYPE),
        ),
        crate::http::cors::ALLOW_ORIGIN,
    ]);
    match origin {
        RequestOrigin::ApiGatewayV1 => {
            let mut response = ApiGatewayProxyResponse::default();
            response.status_code = status_code;
            response.multi_value_headers = headers;
            response.body = body;
            serde_json::to_value(response)
        }
        RequestOrigin::Alb => {
            let mut response = AlbTargetGroupResponse::default();
            response.status_code = status_code;
            response.status_description = Some("400 Bad Request".to_string());
            response.headers = headers.clone();
            response.multi_value_headers = headers;
            response.body = body;
            serde_json::to_value(response)
        }
        RequestOrigin::VpcLatticeV2 => {
            let mut response = VpcLatticeResponse::default();
            response.status_code = error.status();
            response.headers = headers;
            response.body = body;
            serde_json::to_value(response)
        }
        // API Gateway HTTP APIs and function URLs, and any kind lambda_http adds later.
        _ => {
            let mut response = ApiGatewayV2httpResponse::default();
            response.status_code = status_code;
            response.headers = headers;
            response.body = body;
            serde_json::to_value(response)
        }
    }
}

/// A scheduled or direct invocation, answered with the response body.
async fn invoke_directly(router: Router, request: axum::http::Result<Request<Body>>) -> Value {
    let response = match request {
        Ok(request) => router.oneshot(request).await,
        Err(e) => return outside_the_router(format!("cannot build the request: {e}")),
    };
    let Ok(response) = response;
    let is_json = response.headers().get(header::CONTENT_TYPE)
        == Some(&HeaderValue::from_static(JSON_CONTENT_TYPE));
    let bytes = match response.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return outside_the_router(format!("cannot read the response: {e}")),
    };
    // JSON answers (the stats or an error) are returned as JSON; CSV or SVG as a JSON string.
    let text = || Value::String(String::from_utf8_lossy(&bytes).into_owned());
    if is_json {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| text())
    } else {
        text()
    }
}

/// A failure before or after the Router, which logs its own: logged here with its whole text,
/// and answered with the client's reason.
fn outside_the_router(detail: String) -> Value {
    let error = Error::Internal(detail);
    tracing::warn!(%error, "request failed");
    error.to_json()
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
            fixture(include_str!("../../../tests/fixtures/apigw-rest.json")),
            fixture(include_str!(
                "../../../tests/fixtures/apigw-http-query.json"
            )),
            fixture(include_str!("../../../tests/fixtures/function-url.json")),
            fixture(include_str!("../../../tests/fixtures/alb.json")),
            fixture(include_str!("../../../tests/fixtures/vpc-lattice.json")),
        ] {
            assert!(matches!(classify(event), Invocation::Http(_)));
        }
        let scheduled = fixture(include_str!("../../../tests/fixtures/scheduled.json"));
        assert!(matches!(classify(scheduled), Invocation::Scheduled));
        let direct = fixture(include_str!("../../../tests/fixtures/direct.json"));
        for payload in [direct, json!({}), json!(null), json!("text")] {
            match classify(payload.clone()) {
                Invocation::Direct(body) => assert_eq!(body, payload),
                other => panic!("{payload} is a direct invocation, not {other:?}"),
            }
        }
    }

    /// The Router, its Elasticsearch a closed loopback port: these tests never reach a search.
    fn app() -> Router {
        let lookup = |name: &str| (name == "ES_URL").then(|| "http://127.0.0.1:9".to_string());
        let stats = crate::stats::Stats::from_lookup(lookup).unwrap();
        crate::http::app::router(std::sync::Arc::new(crate::http::app::AppState::new(stats)))
    }

    async fn answer(event: Value) -> Value {
        let event = LambdaEvent::new(event, lambda_http::Context::default());
        handle(app(), event).await.unwrap()
    }

    fn keys(answer: &Value) -> Vec<&String> {
        answer.as_object().unwrap().keys().collect()
    }

    /// Found by fuzzing: lambda_http panicked on these, so the invocation failed instead of
    /// answering with the error shape.
    #[tokio::test]
    async fn unreadable_http_events_are_bad_requests_in_their_own_shape() {
        let kinds = [
            (
                include_str!("../../../tests/fixtures/apigw-rest.json"),
                "Host",
            ),
            (
                include_str!("../../../tests/fixtures/function-url.json"),
                "host",
            ),
            (include_str!("../../../tests/fixtures/alb.json"), "host"),
            (
                include_str!("../../../tests/fixtures/vpc-lattice.json"),
                "host",
            ),
        ];
        for (fixture, host) in kinds {
            let event: Value = serde_json::from_str(fixture).unwrap();
            let ordinary = answer(event.clone()).await;
            let mut not_base64 = event.clone();
            not_base64["body"] = json!("eyJob3VycyI6@");
            not_base64["isBase64Encoded"] = json!(true);
            let mut no_url = event.clone();
            // VPC Lattice gives every header as a list of values.
            let is_lattice = event["version"] == "2.0" && event["method"].is_string();
            no_url["headers"][host] = if is_lattice {
                json!(["wx stats"])
            } else {
                json!("wx stats")
            };
            let mut unreadable_events = vec![not_base64, no_url];
            // REST and ALB events (the kinds with `httpMethod`) may repeat a parameter: one with
            // no value at all, found by fuzzing, panics in query_map, which indexes its first.
            if event.get("httpMethod").is_some() {
                let mut empty_values = event.clone();
                empty_values["multiValueQueryStringParameters"] =
                    json!({"hours": [], "interval": ["2"]});
                unreadable_events.push(empty_values);
            }
            for unreadable in unreadable_events {
                let bad = answer(unreadable).await;
                assert_eq!(bad["statusCode"], 400, "{bad}");
                assert_eq!(keys(&bad), keys(&ordinary), "{bad} is shaped as {ordinary}");
                let body: Value = serde_json::from_str(bad["body"].as_str().unwrap()).unwrap();
                assert_eq!(body["error"]["type"], "invalid_parameter", "{body}");
                let content_type = match &bad["multiValueHeaders"] {
                    Value::Object(headers) if !headers.is_empty() => &headers["content-type"][0],
                    _ => &bad["headers"]["content-type"],
                };
                assert_eq!(content_type, "application/json", "{bad}");
            }
        }
    }
}
