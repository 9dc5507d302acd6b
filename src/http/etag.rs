//! Conditional requests: every successful function answer carries an `ETag`; a request whose
//! `If-None-Match` names it (or is `*`) is answered without the body, and one whose `If-Match`
//! does not name it is refused.
//!
//! Most answers get a strong tag of the bytes actually sent, so it sits outside compression:
//! gzip, zstd and identity answers are different representations, and a strong tag must tell
//! them apart. Compression is deterministic for the same bytes and level, so equal answers
//! carry equal tags on every door and in every process.
//!
//! The default answer is Elasticsearch's own response, whose `took` changes with every search
//! while the data does not. Its handler sets a weak tag of the response without `took`
//! ([`without_took_tag`]) instead, which this layer keeps: the same on every door, and across
//! searches, while the histogram stays the same, so a cache's revalidation gets its 304.

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

/// Tags every 2xx answer (unless its handler tagged it) and evaluates the preconditions in
/// RFC 9110's order (13.2.2): an `If-Match` that does not name the tag, by strong comparison,
/// is a 412 for any method; then an `If-None-Match` that names it, by weak comparison, is a
/// 304 on GET and HEAD and a 412 on any other method. Errors are neither tagged nor matched,
/// and neither is a CORS preflight, which answers no question.
pub async fn conditional(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if method == Method::OPTIONS {
        return next.run(request).await;
    }
    let if_match = values(request.headers(), header::IF_MATCH);
    let if_none_match = values(request.headers(), header::IF_NONE_MATCH);
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => return Error::Internal(format!("cannot read the answer: {e}")).into_response(),
    };
    let tag = match parts.headers.get(header::ETAG) {
        Some(tag) => tag.clone(),
        None => entity_tag(&bytes),
    };
    parts.headers.insert(header::ETAG, tag.clone());
    if !if_match.is_empty()
        && !if_match
            .iter()
            .any(|value| names(value, &tag, Compare::Strong))
    {
        return Error::PreconditionFailed(
            "If-Match does not name this answer's entity tag (compared strongly)",
        )
        .into_response();
    }
    if !if_none_match
        .iter()
        .any(|value| names(value, &tag, Compare::Weak))
    {
        return Response::from_parts(parts, Body::from(bytes));
    }
    if method != Method::GET && method != Method::HEAD {
        return Error::PreconditionFailed(
            "If-None-Match matches this answer; only GET and HEAD are answered 304 Not Modified",
        )
        .into_response();
    }
    parts.status = StatusCode::NOT_MODIFIED;
    remove_body_headers(&mut parts.headers);
    Response::from_parts(parts, Body::new(NoBody))
}

/// Every value of header `name`, kept past the request.
fn values(headers: &HeaderMap, name: header::HeaderName) -> Vec<HeaderValue> {
    headers.get_all(name).iter().cloned().collect()
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
    quoted_hash("", fnv1a_64(bytes))
}

/// `W/"…"`: a weak tag of Elasticsearch's response `text` with the value of its `took` left
/// out, so it stays the same from search to search while the data does. Weak, because the
/// bytes sent do differ; RFC 9110 (8.8.1) allows one weak tag for answers that mean the same.
pub fn without_took_tag(text: &str) -> HeaderValue {
    let (before, after) = split_at_took(text);
    let hash = fnv1a_64_from(fnv1a_64(before.as_bytes()), after.as_bytes());
    quoted_hash("W/", hash)
}

/// `text` around the digits of its first `"took":` (Elasticsearch writes it first), or all of
/// it and nothing when it has none.
fn split_at_took(text: &str) -> (&str, &str) {
    const TOOK: &str = "\"took\":";
    let Some(start) = text.find(TOOK).map(|at| at + TOOK.len()) else {
        return (text, "");
    };
    let digits = text[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len() - start);
    (&text[..start], &text[start + digits..])
}

fn quoted_hash(prefix: &str, hash: u64) -> HeaderValue {
    let tag = format!("{prefix}\"{hash:016x}\"");
    HeaderValue::try_from(tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// FNV-1a, 64 bits: <http://www.isthe.com/chongo/tech/comp/fnv/>.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    fnv1a_64_from(OFFSET_BASIS, bytes)
}

/// FNV-1a, 64 bits, continued from `hash` over `bytes`.
fn fnv1a_64_from(hash: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(hash, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// How two entity tags are compared (RFC 9110, 8.8.3.2).
#[derive(Clone, Copy, PartialEq)]
enum Compare {
    /// Both strong, and the same.
    Strong,
    /// The same once any `W/` is set aside.
    Weak,
}

/// Whether an `If-Match` or `If-None-Match` value names `tag`: `*`, or a comma-separated list
/// of entity tags, compared as `compare` says.
fn names(list: &HeaderValue, tag: &HeaderValue, compare: Compare) -> bool {
    let Ok(list) = list.to_str() else {
        return false;
    };
    if list.trim() == "*" {
        return true;
    }
    let (tag_is_weak, opaque) = split_weak(tag.to_str().unwrap_or_default());
    if compare == Compare::Strong && tag_is_weak {
        return false;
    }
    let mut rest = list;
    while let Some(open) = rest.find('"') {
        let Some(close) = rest[open + 1..].find('"') else {
            return false;
        };
        let quoted = &rest[open..open + close + 2];
        let weak = rest[..open].trim_end().ends_with("W/");
        if quoted == opaque && !(compare == Compare::Strong && weak) {
            return true;
        }
        rest = &rest[open + close + 2..];
    }
    false
}

/// Whether `tag` is weak, and its quoted opaque part.
fn split_weak(tag: &str) -> (bool, &str) {
    match tag.strip_prefix("W/") {
        Some(opaque) => (true, opaque),
        None => (false, tag),
    }
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

    /// `/` answers [`ANSWER`] to GET and POST; `/weak` answers it with a weak tag of its own;
    /// `/down` answers a 503 error.
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
        let weak = || async { ([(header::ETAG, "W/\"0123456789abcdef\"")], ANSWER) };
        Router::new()
            .route("/", get(answer).post(answer).options(|| async { "" }))
            .route("/weak", get(weak))
            .route("/down", get(down))
            .layer(middleware::from_fn(conditional))
    }

    async fn call(
        method: &str,
        path: &str,
        if_none_match: &[&str],
    ) -> (StatusCode, HeaderMap, String) {
        let headers: Vec<_> = if_none_match
            .iter()
            .map(|v| ("if-none-match", *v))
            .collect();
        call_with(method, path, &headers).await
    }

    async fn call_with(
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = axum::http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
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

    #[tokio::test]
    async fn if_match_is_412_unless_it_names_the_tag_strongly() {
        let tag = entity_tag(ANSWER.as_bytes());
        let tag = tag.to_str().unwrap();
        let weak = format!("W/{tag}");
        for method in ["GET", "HEAD", "POST"] {
            for (if_match, wanted) in [
                (tag, StatusCode::OK),
                ("*", StatusCode::OK),
                ("\"other\"", StatusCode::PRECONDITION_FAILED),
                (weak.as_str(), StatusCode::PRECONDITION_FAILED),
            ] {
                let (status, headers, body) =
                    call_with(method, "/", &[("if-match", if_match)]).await;
                assert_eq!(status, wanted, "{method} with If-Match: {if_match}: {body}");
                if wanted == StatusCode::PRECONDITION_FAILED && method != "HEAD" {
                    assert!(body.contains("\"precondition_failed\""), "{body}");
                    assert!(body.contains("If-Match"), "{body}");
                    assert_eq!(headers.get(header::ETAG), None);
                }
            }
        }
        // If-Match is evaluated first: a failing one wins over a matching If-None-Match.
        let (status, _, _) = call_with(
            "GET",
            "/",
            &[("if-match", "\"other\""), ("if-none-match", "*")],
        )
        .await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED);
        // An error is not a current representation, so its preconditions are not evaluated.
        let (status, _, _) = call_with("GET", "/down", &[("if-match", "\"x\"")]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn a_handler_s_weak_tag_is_kept_and_matched_weakly() {
        let (status, headers, _) = call_with("GET", "/weak", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::ETAG], "W/\"0123456789abcdef\"");
        for if_none_match in ["W/\"0123456789abcdef\"", "\"0123456789abcdef\""] {
            let (status, headers, body) =
                call_with("GET", "/weak", &[("if-none-match", if_none_match)]).await;
            assert_eq!((status, body.as_str()), (StatusCode::NOT_MODIFIED, ""));
            assert_eq!(headers[header::ETAG], "W/\"0123456789abcdef\"");
        }
    }

    #[test]
    fn the_without_took_tag_ignores_took_alone() {
        let a = r#"{"took":3,"timed_out":false,"hits":{"total":{"value":7}}}"#;
        let b = r#"{"took":12345,"timed_out":false,"hits":{"total":{"value":7}}}"#;
        let c = r#"{"took":3,"timed_out":false,"hits":{"total":{"value":8}}}"#;
        let tag = without_took_tag(a);
        assert!(tag.to_str().unwrap().starts_with("W/\""), "{tag:?}");
        assert_eq!(tag, without_took_tag(b));
        assert_ne!(tag, without_took_tag(c));
        assert_ne!(without_took_tag("{}"), without_took_tag("{\"a\":1}"));
        assert_eq!(
            split_at_took(a),
            (
                "{\"took\":",
                ",\"timed_out\":false,\"hits\":{\"total\":{\"value\":7}}}"
            )
        );
        assert_eq!(split_at_took("{\"took\":"), ("{\"took\":", ""));
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
        let names =
            |value: &'static str| names(&HeaderValue::from_static(value), &tag, Compare::Weak);
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

    #[test]
    fn strong_comparison_refuses_weak_tags_on_either_side() {
        let strong = entity_tag(b"foobar");
        let weak = HeaderValue::from_static("W/\"85944171f73967e8\"");
        let strongly = |value: &'static str, tag: &HeaderValue| {
            names(&HeaderValue::from_static(value), tag, Compare::Strong)
        };
        assert!(strongly("\"85944171f73967e8\"", &strong));
        assert!(strongly("\"x\", \"85944171f73967e8\"", &strong));
        assert!(!strongly("W/\"85944171f73967e8\"", &strong));
        assert!(!strongly("\"85944171f73967e8\"", &weak));
        assert!(strongly("*", &weak));
    }
}
