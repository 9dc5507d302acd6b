//! Conditional requests: every successful function answer carries a strong `ETag`, and a
//! request whose `If-None-Match` names it (or is `*`) is answered without the body.
//!
//! The tag is taken from the bytes actually sent, so it sits outside compression: gzip, zstd
//! and identity answers are different representations, and a strong tag must tell them
//! apart. Compression is deterministic for the same bytes and level, so equal answers carry
//! equal tags on every door and in every process.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Frame;

use crate::error::Error;

/// The headers a 304 leaves out: they describe a body it does not carry. Everything else
/// stays, `Cache-Control`, `Vary` and `ETag` included, as RFC 9110 (15.4.5) asks.
const BODY_HEADERS: [header::HeaderName; 3] = [
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_LENGTH,
];

/// Tags every 2xx answer; answers a matching `If-None-Match` with 304 on GET and HEAD, and
/// with 412 on POST, as RFC 9110 (13.1.2) requires. Errors are neither tagged nor matched,
/// and neither is a CORS preflight, which answers no question.
pub async fn conditional(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if method == Method::OPTIONS {
        return next.run(request).await;
    }
    let if_none_match = request.headers().get_all(header::IF_NONE_MATCH);
    let if_none_match: Vec<HeaderValue> = if_none_match.iter().cloned().collect();
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => return Error::Internal(format!("cannot read the answer: {e}")).into_response(),
    };
    let tag = entity_tag(&bytes);
    let matched = if_none_match.iter().any(|value| matches(value, &tag));
    parts.headers.insert(header::ETAG, tag);
    if !matched {
        return Response::from_parts(parts, Body::from(bytes));
    }
    if method != Method::GET && method != Method::HEAD {
        return Error::PreconditionFailed.into_response();
    }
    parts.status = StatusCode::NOT_MODIFIED;
    remove_body_headers(&mut parts.headers);
    Response::from_parts(parts, Body::new(NoBody))
}

/// The body of a 304: none, and of no stated length. An empty body of exact length 0 would
/// make axum add `Content-Length: 0`, which on a 304 claims the 200's body is empty (RFC 9110,
/// 8.6); hyper leaves it off the wire, but lambda_http would pass it on to Lambda's front door.
struct NoBody;

impl HttpBody for NoBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }
}

fn remove_body_headers(headers: &mut HeaderMap) {
    for name in BODY_HEADERS {
        headers.remove(name);
    }
}

/// `"…"`: the FNV-1a 64 hash of `bytes`, as 16 hex digits. FNV-1a is a published, seedless
/// hash of a few lines, so every process and door computes the same tag with no dependency.
/// It is not cryptographic, which a validator need not be: the answer's bytes come from
/// Elasticsearch, not from the client, and two answers to one URL colliding by chance is a
/// 1 in 2^64 event.
pub fn entity_tag(bytes: &[u8]) -> HeaderValue {
    let tag = format!("\"{:016x}\"", fnv1a_64(bytes));
    HeaderValue::try_from(tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// FNV-1a, 64 bits: <http://www.isthe.com/chongo/tech/comp/fnv/>.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// Whether an `If-None-Match` value names `tag`: `*`, or a comma-separated list of entity tags
/// compared weakly (a `W/` prefix is ignored), as RFC 9110 (13.1.2) says.
fn matches(if_none_match: &HeaderValue, tag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    if list.trim() == "*" {
        return true;
    }
    let mut rest = list;
    while let Some(open) = rest.find('"') {
        let Some(close) = rest[open + 1..].find('"') else {
            return false;
        };
        let quoted = &rest[open..open + close + 2];
        if quoted.as_bytes() == tag.as_bytes() {
            return true;
        }
        rest = &rest[open + close + 2..];
    }
    false
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::middleware;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    const ANSWER: &str = "{\"buckets\":[]}";

    /// `/` answers [`ANSWER`] to GET and POST; `/down` answers a 503 error.
    fn app() -> Router {
        let answer = || async {
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, "max-age=15"),
                ],
                ANSWER,
            )
        };
        let down = || async {
            Error::Unavailable {
                host: "http://127.0.0.1:1".into(),
                reason: "refused".into(),
            }
        };
        Router::new()
            .route("/", get(answer).post(answer).options(|| async { "" }))
            .route("/down", get(down))
            .layer(middleware::from_fn(conditional))
    }

    async fn call(
        method: &str,
        path: &str,
        if_none_match: &[&str],
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = axum::http::Request::builder().method(method).uri(path);
        for value in if_none_match {
            request = request.header(header::IF_NONE_MATCH, *value);
        }
        let response = app()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_success_carries_the_tag_of_its_bytes() {
        let (status, headers, body) = call("GET", "/", &[]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ANSWER));
        assert_eq!(headers[header::ETAG], entity_tag(ANSWER.as_bytes()));
        let (status, headers, body) = call("GET", "/", &["\"0000000000000000\""]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ANSWER));
        assert_eq!(headers[header::ETAG], entity_tag(ANSWER.as_bytes()));
    }

    #[tokio::test]
    async fn a_matching_get_or_head_is_304_without_a_body_and_keeps_cache_control() {
        let tag = entity_tag(ANSWER.as_bytes());
        let tag = tag.to_str().unwrap();
        let listed = format!("\"other\", W/{tag}");
        for method in ["GET", "HEAD"] {
            for if_none_match in [
                vec![tag],
                vec!["*"],
                vec![listed.as_str()],
                vec!["\"x\"", tag],
            ] {
                let (status, headers, body) = call(method, "/", &if_none_match).await;
                let what = format!("{method} with {if_none_match:?}");
                assert_eq!(status, StatusCode::NOT_MODIFIED, "{what}");
                assert_eq!(body, "", "{what}");
                assert_eq!(headers[header::ETAG], tag, "{what}");
                assert_eq!(headers[header::CACHE_CONTROL], "max-age=15", "{what}");
                assert_eq!(headers.get(header::CONTENT_TYPE), None, "{what}");
                assert_eq!(headers.get(header::CONTENT_LENGTH), None, "{what}");
            }
        }
    }

    #[tokio::test]
    async fn a_matching_post_is_412_in_the_error_shape() {
        let (status, headers, body) = call("POST", "/", &["*"]).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(headers.get(header::ETAG), None);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"]["type"], "precondition_failed", "{body}");
        let (status, _, body) = call("POST", "/", &[]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ANSWER));
    }

    #[tokio::test]
    async fn errors_and_preflights_carry_no_tag_and_are_never_304() {
        let (status, headers, body) = call("GET", "/down", &["*"]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(headers.get(header::ETAG), None);
        assert!(body.contains("elasticsearch_unavailable"), "{body}");
        let (status, headers, _) = call("OPTIONS", "/", &["*"]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers.get(header::ETAG), None);
    }

    #[test]
    fn fnv1a_64_matches_the_published_test_vectors() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_tag_is_the_quoted_hash() {
        assert_eq!(entity_tag(b"foobar"), "\"85944171f73967e8\"");
    }

    #[test]
    fn if_none_match_names_the_tag_in_a_list_weakly_or_with_a_star() {
        let tag = entity_tag(b"foobar");
        let names = |value: &'static str| matches(&HeaderValue::from_static(value), &tag);
        assert!(names("\"85944171f73967e8\""));
        assert!(names("*"));
        assert!(names(" * "));
        assert!(names("\"other\", \"85944171f73967e8\""));
        assert!(names("\"a,b\",W/\"85944171f73967e8\""));
        assert!(!names("\"85944171f73967e9\""));
        assert!(!names("85944171f73967e8"));
        assert!(!names("\"x\", *"));
        assert!(!names("\"85944171f73967e8"));
        assert!(!names(""));
    }
}
