//! Conditional requests: every successful function answer carries an `ETag` (made with the
//! answer, [`crate::answer::Answer`]); a request whose `If-None-Match` names it (or is `*`) is
//! answered without the body, and one whose `If-Match` does not name it is refused.
//!
//! Most answers carry a strong tag of the bytes actually sent: gzip, zstd and identity answers
//! are different representations, and a strong tag tells them apart. The default answer,
//! Elasticsearch's own response, carries one weak tag that leaves its `took` out, so a cache's
//! revalidation gets its 304 while the histogram stays the same.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use http_body::Frame;

use crate::error::Error;

/// The headers a 304 leaves out: they describe a body it does not carry. Everything else
/// stays, `Cache-Control`, `Vary` and `ETag` included, as RFC 9110 (15.4.5) asks.
const BODY_HEADERS: [header::HeaderName; 3] = [
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_LENGTH,
];

/// A request's `If-Match` and `If-None-Match`, kept to be weighed against the answer's tag.
#[derive(Debug, Default)]
pub(super) struct Preconditions {
    if_match: Vec<HeaderValue>,
    if_none_match: Vec<HeaderValue>,
}

impl Preconditions {
    /// The request's preconditions; none when it sends neither header.
    pub(super) fn of(headers: &HeaderMap) -> Self {
        let values = |name| headers.get_all(name).iter().cloned().collect();
        Preconditions {
            if_match: values(header::IF_MATCH),
            if_none_match: values(header::IF_NONE_MATCH),
        }
    }

    /// Weighs the preconditions against a successful answer's `tag`, in RFC 9110's order
    /// (13.2.2): an `If-Match` that does not name the tag, by strong comparison, is a 412 for
    /// any method; then an `If-None-Match` that names it, by weak comparison, is `Ok(true)`
    /// (304 Not Modified) on GET and HEAD and a 412 on any other method. `Ok(false)`: send
    /// the answer.
    pub(super) fn not_modified(&self, method: &Method, tag: &HeaderValue) -> Result<bool, Error> {
        if !self.if_match.is_empty()
            && !self
                .if_match
                .iter()
                .any(|value| names(value, tag, Compare::Strong))
        {
            return Err(Error::PreconditionFailed(
                "If-Match does not name this answer's entity tag (compared strongly)",
            ));
        }
        if !self
            .if_none_match
            .iter()
            .any(|value| names(value, tag, Compare::Weak))
        {
            return Ok(false);
        }
        if method != Method::GET && method != Method::HEAD {
            return Err(Error::PreconditionFailed(
                "If-None-Match matches this answer; only GET and HEAD are answered 304 Not Modified",
            ));
        }
        Ok(true)
    }
}

/// `answer` as a 304: its headers but those of its body, and no body.
pub(super) fn not_modified(answer: Response) -> Response {
    let (mut parts, _) = answer.into_parts();
    parts.status = StatusCode::NOT_MODIFIED;
    for name in BODY_HEADERS {
        parts.headers.remove(name);
    }
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
    use axum::response::IntoResponse;

    use super::*;
    use crate::answer::entity_tag;

    const TAG: &str = "\"85944171f73967e8\"";

    fn preconditions(pairs: &[(&'static str, &'static str)]) -> Preconditions {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        Preconditions::of(&headers)
    }

    fn weigh(
        method: Method,
        pairs: &[(&'static str, &'static str)],
        tag: &str,
    ) -> Result<bool, u16> {
        let tag = HeaderValue::from_str(tag).unwrap();
        preconditions(pairs)
            .not_modified(&method, &tag)
            .map_err(|e| e.status())
    }

    #[test]
    fn a_matching_get_or_head_is_not_modified() {
        let listed = "\"other\", W/\"85944171f73967e8\"";
        for method in [Method::GET, Method::HEAD] {
            for if_none_match in [TAG, "*", listed] {
                let what = format!("{method} with {if_none_match}");
                assert_eq!(
                    weigh(method.clone(), &[("if-none-match", if_none_match)], TAG),
                    Ok(true),
                    "{what}"
                );
            }
            assert_eq!(
                weigh(
                    method.clone(),
                    &[("if-none-match", "\"x\""), ("if-none-match", TAG)],
                    TAG
                ),
                Ok(true)
            );
            assert_eq!(
                weigh(
                    method.clone(),
                    &[("if-none-match", "\"0000000000000000\"")],
                    TAG
                ),
                Ok(false)
            );
            assert_eq!(weigh(method.clone(), &[], TAG), Ok(false));
        }
    }

    #[test]
    fn a_matching_post_is_412() {
        assert_eq!(
            weigh(Method::POST, &[("if-none-match", "*")], TAG),
            Err(412)
        );
        assert_eq!(weigh(Method::POST, &[], TAG), Ok(false));
    }

    #[test]
    fn if_match_is_412_unless_it_names_the_tag_strongly() {
        let weak = "W/\"85944171f73967e8\"";
        for method in [Method::GET, Method::HEAD, Method::POST] {
            for (if_match, wanted) in [
                (TAG, Ok(false)),
                ("*", Ok(false)),
                ("\"other\"", Err(412)),
                (weak, Err(412)),
            ] {
                assert_eq!(
                    weigh(method.clone(), &[("if-match", if_match)], TAG),
                    wanted,
                    "{method} {if_match}"
                );
            }
        }
        // If-Match is evaluated first: a failing one wins over a matching If-None-Match.
        let both = [("if-match", "\"other\""), ("if-none-match", "*")];
        assert_eq!(weigh(Method::GET, &both, TAG), Err(412));
        // A weak tag never matches If-Match, but matches If-None-Match either way.
        assert_eq!(weigh(Method::GET, &[("if-match", TAG)], weak), Err(412));
        for if_none_match in [weak, TAG] {
            assert_eq!(
                weigh(Method::GET, &[("if-none-match", if_none_match)], weak),
                Ok(true)
            );
        }
    }

    #[test]
    fn a_304_keeps_every_header_but_those_of_the_body() {
        let answer = (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "gzip"),
                (header::CACHE_CONTROL, "max-age=15"),
                (header::ETAG, TAG),
            ],
            "{}",
        )
            .into_response();
        let response = not_modified(answer);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let headers = response.headers();
        assert_eq!(headers[header::ETAG], TAG);
        assert_eq!(headers[header::CACHE_CONTROL], "max-age=15");
        for name in BODY_HEADERS {
            assert_eq!(headers.get(&name), None, "{name}");
        }
        assert!(response.body().is_end_stream());
        assert_eq!(response.body().size_hint().exact(), None);
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
