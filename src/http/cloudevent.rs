//! CloudEvents in and out, so that Knative Eventing (a PingSource), or any CloudEvents
//! producer, can trigger the function on every door.
//!
//! A request carries an event when it has a `ce-specversion` header (binary mode) or the
//! `application/cloudevents+json` content type (structured mode). The answer goes back in
//! binary mode: the stats as data, `ce-type: dev.wxstats.histogram`.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use cloudevents::{Data, Event, EventBuilder, EventBuilderV10};

use super::params::{params_from_json, params_from_value};
use crate::error::Error;

/// The type of every event wx-stats answers with.
pub(super) const REPLY_TYPE: &str = "dev.wxstats.histogram";

/// Whether the request carries a CloudEvent at all.
pub(super) fn is_cloud_event(headers: &HeaderMap) -> bool {
    headers.contains_key("ce-specversion")
        || content_type(headers).starts_with("application/cloudevents")
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The parameters the request's event carries in its data, like a POST body's: a JSON object,
/// or nothing. A malformed event is a 400 naming what is wrong.
pub(super) fn params(headers: &HeaderMap, body: Bytes) -> Result<Vec<(String, String)>, Error> {
    let (_, _, data) = read(headers, body)?.take_data();
    match data {
        None => Ok(Vec::new()),
        Some(Data::Json(value)) => params_from_value(value),
        Some(Data::String(text)) => params_from_json(text.as_bytes()),
        Some(Data::Binary(bytes)) => params_from_json(&bytes),
    }
}

/// Reads the event the request carries.
fn read(headers: &HeaderMap, body: Bytes) -> Result<Event, Error> {
    if content_type(headers).starts_with("application/cloudevents-batch") {
        return Err(Error::BadEvent(
            "batched CloudEvents are not supported; send one event per request".into(),
        ));
    }
    cloudevents::binding::http::to_event(headers, body.into())
        .map_err(|e| Error::BadEvent(e.to_string()))
}

/// A binary-mode CloudEvent reply from `source`, as yet without its data: the caller puts
/// the answer's bytes in the body and its type in `Content-Type`, which binary mode makes the
/// event's `datacontenttype`.
pub(super) fn reply(source: &str) -> Result<Response, Error> {
    let event = EventBuilderV10::new()
        .id(crate::call::new_id())
        .ty(REPLY_TYPE)
        .source(source)
        .time(now_rfc3339())
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the reply event: {e}")))?;
    Ok(event.into_response())
}

/// The event time, from the system clock.
fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use cloudevents::AttributesReader;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn binary_and_structured_events_are_read() {
        let binary = headers(&[
            ("ce-specversion", "1.0"),
            ("ce-id", "1"),
            ("ce-type", "dev.knative.sources.ping"),
            ("ce-source", "/ping"),
        ]);
        assert!(is_cloud_event(&binary));
        assert_eq!(read(&binary, Bytes::from_static(b"{}")).unwrap().id(), "1");

        let structured = headers(&[("content-type", "application/cloudevents+json")]);
        let body = br#"{"specversion":"1.0","id":"2","type":"t","source":"/s","data":{}}"#;
        assert!(is_cloud_event(&structured));
        assert_eq!(
            read(&structured, Bytes::from_static(body)).unwrap().id(),
            "2"
        );
    }

    #[test]
    fn plain_requests_are_not_events() {
        assert!(!is_cloud_event(&headers(&[(
            "content-type",
            "application/json"
        )])));
        assert!(!is_cloud_event(&HeaderMap::new()));
    }

    #[test]
    fn malformed_events_are_400() {
        let no_id = headers(&[
            ("ce-specversion", "1.0"),
            ("ce-type", "t"),
            ("ce-source", "/s"),
        ]);
        let structured = headers(&[("content-type", "application/cloudevents+json")]);
        let batch = headers(&[("content-type", "application/cloudevents-batch+json")]);
        for (headers, body) in [
            (no_id, &b""[..]),
            (structured.clone(), b"{not json"),
            (structured, br#"{"specversion":"1.0"}"#),
            (batch, b"[]"),
        ] {
            let error = read(&headers, Bytes::from_static(body)).unwrap_err();
            assert_eq!(
                (error.status(), error.error_type()),
                (400, "invalid_cloudevent"),
                "{error}"
            );
        }
    }

    #[test]
    fn replies_are_binary_mode_histogram_events_whose_data_the_caller_adds() {
        let response = reply("/wx-stats").unwrap();
        let h = response.headers();
        assert_eq!(h["ce-type"], REPLY_TYPE);
        assert_eq!(h["ce-source"], "/wx-stats");
        assert_eq!(h["ce-specversion"], "1.0");
        assert_eq!(h["ce-id"].len(), 36);
        assert_eq!(h.get("content-type"), None);
    }
}
