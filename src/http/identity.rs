//! Each function call's identity, decided once by the call's layer (`call_layer`): one request
//! id, echoed in `x-request-id`, named by every log line of the call and sent to Elasticsearch
//! as `X-Opaque-Id`; the caller's trace context; and the platform's deadline. The function
//! finds them in the request's [`CallContext`]. What else the platform says of the call
//! (Lambda's X-Ray trace and tenant) is on the call's span, so on its log lines too.
//!
//! Decided here rather than by tower-http's request-id layers: those keep any incoming id,
//! however long or strange, and know nothing of Lambda's id, the trace context or the deadline,
//! so a second layer would still be needed to check and complete what they set.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use tracing::field::Empty;

use super::cloudevent::is_cloud_event;
use crate::call::{
    CallContext, new_id, sane_request_id, sane_traceparent, sane_tracestate, traceparent_from_xray,
};

/// The header that carries the request id, both ways.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// What a platform says about one call, put into the request's extensions by its door before
/// the Router sees it (Lambda's invocation context).
#[derive(Clone, Debug, Default)]
pub(crate) struct PlatformContext {
    /// The platform's id for the call (Lambda's request id).
    pub request_id: Option<String>,
    /// When the platform gives up on the call.
    pub deadline: Option<SystemTime>,
    /// The AWS X-Ray trace header of the invocation.
    pub xray_trace_id: Option<String>,
    /// The tenant the invocation is for, when the function runs in Lambda's tenant isolation
    /// mode.
    pub tenant_id: Option<String>,
    /// What set the call off, as the FaaS conventions name it, when the platform says:
    /// `timer` for Lambda's scheduled events, `other` for a direct invocation.
    pub trigger: Option<&'static str>,
}

/// What set a Lambda invocation off, left on its request by the door for its
/// [`PlatformContext`]: `timer` or `other` (an HTTP event is `http`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FaasTrigger(pub &'static str);

/// What a door says of every call it serves: the platform's time limit, and the span that
/// names the service.
#[derive(Clone, Debug)]
pub struct CallSettings {
    /// A function call that runs longer than this is answered 408 (Kubeless's `FUNC_TIMEOUT`,
    /// Knative's revision timeout); the call's deadline when the platform gives none.
    pub function_timeout: Option<Duration>,
    /// Every call's span is a child of this one, which names the service.
    pub span: tracing::Span,
}

impl Default for CallSettings {
    /// No time limit, and no service span.
    fn default() -> Self {
        CallSettings {
            function_timeout: None,
            span: tracing::Span::none(),
        }
    }
}

/// Why an answer failed, left on it by [`crate::Error`]'s response for the call's layer to log
/// with the call's request id.
#[derive(Clone, Debug)]
pub(crate) struct Failure(pub String);

/// The target of each call's `call` line: the call's span is built only when it is written.
pub(crate) const CALL_LOG: &str = "wx_stats::call";

/// The level of each call's `call` line.
pub(crate) const CALL_LINE_LEVEL: tracing::Level = tracing::Level::DEBUG;

/// The span of one call, whose fields every line written in it carries, and which is the
/// call's SERVER span when traces are exported: named and attributed as the HTTP server and
/// FaaS conventions say, with the request's trace context (or Lambda's X-Ray header) as its
/// parent. Its status, format and cache outcome are recorded when the answer is ready.
pub(super) fn call_span(
    parent: &tracing::Span,
    request: &Request,
    request_id: &str,
    platform: &PlatformContext,
) -> tracing::Span {
    let method = request.method().as_str();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        target: CALL_LOG,
        parent: parent,
        "call",
        request_id,
        trace_id = Empty,
        span_id = Empty,
        xray_trace_id = Empty,
        tenant_id = Empty,
        otel.name = name,
        otel.kind = "server",
        otel.status_code = Empty,
        faas.trigger = trigger(request.headers(), platform),
        faas.invocation_id = request_id,
        faas.coldstart = cold_start(),
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        http.response.status_code = Empty,
        wx_stats.format = Empty,
        wx_stats.cache = Empty,
    );
    if let Some(xray) = &platform.xray_trace_id {
        span.record("xray_trace_id", xray.as_str());
    }
    if let Some(tenant) = &platform.tenant_id {
        span.record("tenant_id", tenant.as_str());
    }
    if crate::otel::tracing_on() {
        let xray = platform.xray_trace_id.as_deref();
        crate::otel::adopt_parent(&span, request.headers(), xray);
    }
    span
}

/// `true` for the first call a process serves, and only for it.
fn cold_start() -> bool {
    static SERVED: AtomicBool = AtomicBool::new(false);
    !SERVED.swap(true, Ordering::Relaxed)
}

/// What set the call off: the platform's word, else `timer` for Knative's PingSource events
/// (binary mode, which Knative's sources send), `pubsub` for any other CloudEvent (a broker's,
/// a channel's), `http` for a plain request.
fn trigger(headers: &HeaderMap, platform: &PlatformContext) -> &'static str {
    if let Some(trigger) = platform.trigger {
        trigger
    } else if !is_cloud_event(headers) {
        "http"
    } else if headers.get("ce-type").map(|t| t.as_bytes()) == Some(b"dev.knative.sources.ping") {
        "timer"
    } else {
        "pubsub"
    }
}

/// The incoming `x-request-id` when it is sane, else the platform's id, else a new one; the
/// caller's `traceparent` (and `tracestate`) when well-formed, else X-Ray's; the platform's
/// deadline, else `FUNC_TIMEOUT` from now. A header that fails its check is ignored, never echoed.
pub(super) fn call_context(
    headers: &HeaderMap,
    platform: &PlatformContext,
    function_timeout: Option<Duration>,
) -> CallContext {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let request_id = header(REQUEST_ID)
        .filter(|id| sane_request_id(id))
        .map(str::to_string)
        .or(platform.request_id.clone().filter(|id| sane_request_id(id)))
        .unwrap_or_else(new_id);
    let traceparent = header("traceparent").filter(|t| sane_traceparent(t));
    let tracestate = traceparent.and(header("tracestate").filter(|t| sane_tracestate(t)));
    let traceparent = traceparent.map(str::to_string).or_else(|| {
        platform
            .xray_trace_id
            .as_deref()
            .and_then(traceparent_from_xray)
    });
    // A deadline already past is no real one (cargo-lambda's emulator sends 600,000 ms after
    // 1970): it would fail every call at once, so it is ignored.
    let platform_deadline = platform
        .deadline
        .and_then(|deadline| deadline.duration_since(SystemTime::now()).ok())
        .map(|left| Instant::now() + left);
    let deadline = platform_deadline.or(function_timeout.map(|t| Instant::now() + t));
    CallContext {
        request_id,
        traceparent,
        tracestate: tracestate.map(str::to_string),
        deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    axum::http::HeaderName::from_static(k),
                    axum::http::HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn lambda(request_id: &str, deadline: SystemTime) -> PlatformContext {
        PlatformContext {
            request_id: Some(request_id.to_string()),
            deadline: Some(deadline),
            xray_trace_id: Some(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
            ),
            tenant_id: None,
            trigger: None,
        }
    }

    #[test]
    fn the_trigger_is_the_platforms_else_what_the_request_carries() {
        let none = PlatformContext::default();
        let ping = [
            ("ce-specversion", "1.0"),
            ("ce-type", "dev.knative.sources.ping"),
        ];
        let other = [
            ("ce-specversion", "1.0"),
            ("ce-type", "dev.example.changed"),
        ];
        let structured = [("content-type", "application/cloudevents+json")];
        assert_eq!(trigger(&headers(&[]), &none), "http");
        assert_eq!(trigger(&headers(&ping), &none), "timer");
        assert_eq!(trigger(&headers(&other), &none), "pubsub");
        assert_eq!(trigger(&headers(&structured), &none), "pubsub");
        let scheduled = PlatformContext {
            trigger: Some("timer"),
            ..PlatformContext::default()
        };
        assert_eq!(trigger(&headers(&[]), &scheduled), "timer");
    }

    #[test]
    fn the_callers_id_wins_then_the_platforms_then_a_new_one() {
        let in_a_minute = SystemTime::now() + Duration::from_secs(60);
        let sane = headers(&[(REQUEST_ID, "abc-123")]);
        let call = call_context(&sane, &lambda("aws-1", in_a_minute), None);
        assert_eq!(call.request_id, "abc-123");
        let insane = headers(&[(REQUEST_ID, "a b")]);
        let call = call_context(&insane, &lambda("aws-1", in_a_minute), None);
        assert_eq!(call.request_id, "aws-1");
        let call = call_context(&insane, &PlatformContext::default(), None);
        assert!(
            uuid::Uuid::parse_str(&call.request_id).is_ok(),
            "{}",
            call.request_id
        );
    }

    #[test]
    fn xray_stands_in_for_a_missing_traceparent() {
        let in_a_minute = SystemTime::now() + Duration::from_secs(60);
        let call = call_context(&HeaderMap::new(), &lambda("aws-1", in_a_minute), None);
        assert_eq!(
            call.traceparent.as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        );
        let own = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let sent = headers(&[("traceparent", own), ("tracestate", "a=b")]);
        let call = call_context(&sent, &lambda("aws-1", in_a_minute), None);
        assert_eq!(
            (call.traceparent.as_deref(), call.tracestate.as_deref()),
            (Some(own), Some("a=b"))
        );
    }

    #[test]
    fn the_deadline_is_the_platforms_or_func_timeout_and_never_one_already_past() {
        let in_a_minute = SystemTime::now() + Duration::from_secs(60);
        let left = |call: CallContext| {
            call.deadline
                .map(|d| d.saturating_duration_since(Instant::now()))
        };
        let lambda_left = left(call_context(
            &HeaderMap::new(),
            &lambda("a", in_a_minute),
            None,
        ));
        assert!(
            lambda_left.is_some_and(|l| l > Duration::from_secs(58)),
            "{lambda_left:?}"
        );
        let past = SystemTime::UNIX_EPOCH + Duration::from_millis(600_000);
        assert_eq!(
            left(call_context(&HeaderMap::new(), &lambda("a", past), None)),
            None
        );
        let kubeless = Some(Duration::from_secs(30));
        let kubeless_left = left(call_context(
            &HeaderMap::new(),
            &PlatformContext::default(),
            kubeless,
        ));
        assert!(
            kubeless_left.is_some_and(|l| l > Duration::from_secs(29)),
            "{kubeless_left:?}"
        );
    }
}
