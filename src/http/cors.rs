//! CORS, in one place: any origin may call the function and read its answers, which hold
//! nothing but public weather statistics and carry no cookies.
//!
//! Not tower-http's `CorsLayer`: it answers only preflights that carry
//! `Access-Control-Request-Method` (a bare OPTIONS must be answered too), and it adds
//! `Vary: origin, access-control-request-method, access-control-request-headers` to every
//! answer, which would make shared caches keep a copy of each answer per calling site. Nor
//! could it reach the one answer made outside the Router (Lambda's unreadable event).

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;

/// Any origin may read an answer.
pub(crate) const ALLOW_ORIGIN: (header::HeaderName, HeaderValue) = (
    header::ACCESS_CONTROL_ALLOW_ORIGIN,
    HeaderValue::from_static("*"),
);

/// Marks an answer readable by any origin.
pub(crate) fn allow_any_origin(headers: &mut HeaderMap) {
    let (name, value) = ALLOW_ORIGIN;
    headers.insert(name, value);
}

/// The answer to OPTIONS on any path: any origin may call the function, with these methods
/// and any headers, and may remember that for a day.
pub(crate) async fn preflight() -> impl IntoResponse {
    [
        ALLOW_ORIGIN,
        (
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("*"),
        ),
        (
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        ),
    ]
}
