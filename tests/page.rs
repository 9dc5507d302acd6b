//! The page for people, over HTTP against a real Elasticsearch: a browser's `Accept` gets it and
//! a program's does not; its headers; its weak tag, the same from render to render while the
//! data is, so an open page's refresh is a 304; markup sent in any parameter, or kept in a
//! document's field name, comes back escaped; and a partial answer says so on the page.
//! (tests/browser.rs loads it in Chromium; tests/parity.rs compares it across the doors.)

mod support;

use std::time::Duration;

use serde_json::json;
use support::bed::{Bed, HalfFailing};
use support::encoding::{RawAnswer, get};
use support::histogram::observations;
use support::inprocess::serve_router;
use support::{BROWSER_ACCEPT, es_json};

/// Markup that would run, or break out of an attribute, if it reached the page unescaped.
const MARKUP: &str = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>&";

/// Fails unless `page` holds none of [`MARKUP`] as markup, and holds it escaped.
fn assert_escaped(page: &str, what: &str) {
    for raw in ["<script>alert", "<img src=x", "\"'>"] {
        assert!(
            !page.contains(raw),
            "{what}: {raw:?} reached the page: {page}"
        );
    }
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"),
        "{what}: the markup is not on the page, escaped: {page}"
    );
}

/// What a browser is answered at `base` with `name=value` in the query string.
async fn asked_by_a_browser(base: &str, name: &str, value: &str) -> RawAnswer {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair(name, value)
        .finish();
    get(&format!("{base}/?{query}"), &[("accept", BROWSER_ACCEPT)]).await
}

#[tokio::test]
async fn a_browser_gets_the_page_and_a_program_still_gets_json() {
    let bed = Bed::new("page-accept", &observations()).await;
    let door = serve_router(&bed.env()).await;
    let url = format!("{}/", door.base);

    let page = get(&url, &[("accept", BROWSER_ACCEPT)]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("vary"), "accept, accept-encoding");
    assert_eq!(page.header("cache-control"), "max-age=15");
    let policy = page.header("content-security-policy");
    assert!(
        policy.starts_with("default-src 'none'; style-src 'sha256-"),
        "{policy}"
    );
    let body = page.text();
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(body.contains("<table id=\"buckets\">") && body.contains("<form id=\"ask\""));

    for accept in [None, Some("*/*"), Some("application/json")] {
        let headers: Vec<_> = accept.map(|a| ("accept", a)).into_iter().collect();
        let answer = get(&url, &headers).await;
        assert_eq!(
            answer.header("content-type"),
            "application/json",
            "{accept:?}"
        );
        assert_eq!(answer.header("content-security-policy"), "", "{accept:?}");
    }
}

/// The page's times change with each render; its weak tag does not, while the data stays the
/// same: a refresh after the TTL, with the tag it was given, is a 304, compressed or not.
#[tokio::test]
async fn the_page_is_revalidated_by_its_weak_tag_from_render_to_render() {
    let bed = Bed::new("page-tag", &observations()).await;
    let door = serve_router(&[bed.env(), vec![("CACHE_TTL", "1s")]].concat()).await;
    let url = format!("{}/?hours=48", door.base);
    let first = get(&url, &[("accept", BROWSER_ACCEPT)]).await;
    let tag = first.header("etag").to_string();
    assert!(tag.starts_with("W/\""), "{tag}");
    let first = first.text();

    // Past the second the times are written to, and past the TTL: a fresh render.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let again = get(&url, &[("accept", BROWSER_ACCEPT)]).await;
    assert_eq!(again.header("etag"), tag);
    let again = again.text();
    assert_ne!(again, first, "a fresh render, whose window ends later");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    for encoding in ["identity", "gzip", "zstd"] {
        let headers = [
            ("accept", BROWSER_ACCEPT),
            ("accept-encoding", encoding),
            ("if-none-match", &tag),
        ];
        let revalidated = get(&url, &headers).await;
        assert_eq!(revalidated.status, 304, "{encoding}");
        assert_eq!(revalidated.header("etag"), tag);
    }
}

#[tokio::test]
async fn markup_sent_in_any_parameter_comes_back_escaped() {
    let bed = Bed::new("page-markup", &observations()).await;
    let door = serve_router(&bed.env()).await;
    let mut names: Vec<&str> = wx_stats::query::PARAMETERS.to_vec();
    names.push(MARKUP);
    for name in names {
        let answer = asked_by_a_browser(&door.base, name, MARKUP).await;
        assert_eq!(answer.status, 400, "{name}");
        assert_eq!(answer.header("content-type"), "text/html; charset=utf-8");
        assert_escaped(&answer.text(), name);
    }
}

/// A field name is whatever the station's documents hold: one holding markup can be asked for
/// only by name, which the `field` parameter refuses, escaped, with the form kept.
#[tokio::test]
async fn markup_in_a_document_s_field_name_comes_back_escaped() {
    let bed = Bed::new("page-field-name", &observations()).await;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let document = json!({ "@timestamp": now, MARKUP: 1.5 });
    let stored = es_json(
        &format!("{}/_doc?refresh=true", bed.index.name),
        Some(&document),
    )
    .await;
    assert_eq!(stored["result"], "created", "{stored}");
    let door = serve_router(&bed.env()).await;
    let answer = asked_by_a_browser(&door.base, "field", MARKUP).await;
    assert_eq!(answer.status, 400);
    let page = answer.text();
    assert_escaped(&page, "field");
    assert!(
        page.contains("<p id=\"problem\" role=\"alert\">parameter `field`"),
        "{page}"
    );
}

#[tokio::test]
async fn a_partial_answer_says_so_on_the_page() {
    let shards = HalfFailing::new("page-shards", &[(Duration::from_secs(600), 70.0)]).await;
    let door = serve_router(&shards.good.env()).await;
    let url = format!("{}/?index={}", door.base, shards.pattern);
    let answer = get(&url, &[("accept", BROWSER_ACCEPT)]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("cache-control"), "no-store");
    let page = answer.text();
    assert!(
        page.contains(
            "<p class=\"warning\" id=\"partial\" role=\"status\">Partial answer: 1 of 2 shards \
             failed (illegal_argument_exception)."
        ),
        "{page}"
    );
}

/// Elasticsearch down is the page too, with the 503's status, `Retry-After` and message, and
/// nothing of where Elasticsearch is.
#[tokio::test]
async fn elasticsearch_down_is_a_503_page() {
    let closed = support::server::free_port();
    let door = serve_router(&[("HOST", &format!("127.0.0.1:{closed}"))]).await;
    let answer = get(&format!("{}/", door.base), &[("accept", BROWSER_ACCEPT)]).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.header("retry-after"), "1");
    assert_eq!(answer.header("content-type"), "text/html; charset=utf-8");
    let page = answer.text();
    assert!(
        page.contains("<p id=\"problem\" role=\"alert\">cannot reach Elasticsearch</p>"),
        "{page}"
    );
    assert!(
        !page.contains(&closed.to_string()),
        "the address is the log's: {page}"
    );
}
