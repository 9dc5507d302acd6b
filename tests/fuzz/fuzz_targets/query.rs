//! Request parameters as the Router reads them: a query string, then a POST body of JSON, and
//! the format `Accept` prefers.
//! Input: the query string, a newline, the `Accept` header, a newline, then the body.
//! Nothing may panic, and whatever is accepted must build a body that stays on the allowed
//! indices and aggregates a plain field.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use wx_stats::http::negotiate::preferred_format;
use wx_stats::http::params::{params_from_json, params_from_query};
use wx_stats::query::StatsRequest;
use wx_stats_fuzz::{ALLOWED_INDICES, assert_safe_request};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let mut headers = HeaderMap::new();
    // A value no request could carry is left out, as the Router never sees one.
    if let Some(accept) = parts.next().and_then(|a| HeaderValue::from_bytes(a).ok()) {
        headers.insert(header::ACCEPT, accept);
    }
    let body = parts.next().unwrap_or_default();

    // The order app.rs uses: the query string's parameters, then the body's.
    let parsed = params_from_json(body).and_then(|body_params| {
        let mut params = params_from_query(&query);
        params.extend(body_params);
        StatsRequest::parse(&params, preferred_format(&headers), ALLOWED_INDICES)
    });
    match parsed {
        Ok(request) => assert_safe_request(&request),
        Err(error) => assert_eq!(error.status(), 400, "a bad request is a 400: {error}"),
    }
});
