//! A shared HTTP cache in front of every door, as a CDN or a caching ingress would be: a real
//! nginx with `proxy_cache` ([`CacheProxy`]), which follows the doors' own `Cache-Control`,
//! `Vary` and ETags and nothing else, in front of the Kubeless and Knative doors and of the
//! Lambda door's function URL under cargo-lambda's emulator. Against a real Elasticsearch:
//!
//! - JSON, SVG and CSV clients asking the same URL within the TTL each get their own format
//!   (`Vary: accept`), and each variant is kept on its own;
//! - a client without `Accept-Encoding` gets plain bytes after a gzip client (`Vary:
//!   accept-encoding`);
//! - after the TTL the cache revalidates with `If-None-Match`: the door answers 304 on the
//!   default format (its weak ETag leaves `took` out, so it holds while the data do) and the
//!   cache serves the body it kept;
//! - a partial answer (`no-store`, one shard failed) and `/healthz` and `/metrics` are never
//!   kept: each request reaches the door.
//!
//! nginx's `$upstream_cache_status` comes back in `X-Cache-Status`; the tests print it for each
//! request (`cargo test --test shared_cache -- --nocapture`).

mod support;

use std::time::Duration;

use serde_json::Value;
use support::bed::{Bed, HalfFailing};
use support::doors::Doors;
use support::encoding::{RawAnswer, decode, get};
use support::histogram::spread_observations;
use support::nginx::CacheProxy;
use support::{CALL_LINES, fetch, without_took};

/// The doors' `CACHE_TTL` where the test waits it out: `Cache-Control: max-age=2`.
const SHORT_TTL: &str = "2s";

/// Longer than [`SHORT_TTL`] by more than a second, as nginx counts time in whole seconds.
const PAST_SHORT_TTL: Duration = Duration::from_millis(3500);

/// The doors' `CACHE_TTL` where every request must fall within it, even on a slow machine.
const LONG_TTL: &str = "60s";

/// nginx's `$upstream_cache_status` for `answer`.
fn cache_status(answer: &RawAnswer) -> &str {
    answer.header("x-cache-status")
}

/// A client of the cache that asks for one format by its `Accept` header.
struct Client {
    /// Its `Accept` header.
    accept: &'static str,
    /// The content type it must get.
    content_type: &'static str,
    /// Whether a body has that format's shape.
    has_shape: fn(&[u8]) -> bool,
}

/// A JSON client, an SVG one and a CSV one, in the order they ask.
const CLIENTS: [Client; 3] = [
    Client {
        accept: "application/json",
        content_type: "application/json",
        has_shape: is_search_response,
    },
    Client {
        accept: "image/svg+xml",
        content_type: "image/svg+xml",
        has_shape: is_svg,
    },
    Client {
        accept: "text/csv",
        content_type: "text/csv; charset=utf-8",
        has_shape: is_csv,
    },
];

/// Elasticsearch's search response: the default format.
fn is_search_response(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|json| json["hits"].is_object() && json["aggregations"]["temps"].is_object())
}

/// An SVG document.
fn is_svg(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .and_then(|text| roxmltree::Document::parse(text).ok())
        .is_some_and(|svg| svg.root_element().tag_name().name() == "svg")
}

/// A CSV of buckets.
fn is_csv(body: &[u8]) -> bool {
    body.starts_with(b"from,to,count\r\n")
}

/// What the door named `door` has logged: its call lines, with `RUST_LOG=CALL_LINES`.
fn door_log(doors: &Doors, door: &str) -> String {
    match door {
        "kubeless" => doors.kubeless.log(),
        "knative" => doors.knative.log(),
        _ => doors.lambda.function_log(),
    }
}

/// How many `call` lines in `log` have status 304: text lines say `status=304`, Knative's JSON
/// lines `"status":304`.
fn calls_answered_304(log: &str) -> usize {
    log.lines()
        .filter(|line| line.contains("call"))
        .filter(|line| line.contains("status=304") || line.contains("\"status\":304"))
        .count()
}

/// Waits up to 2 s for `done`: logs are written just after the answer they record has gone
/// (nginx writes its access log line once the answer is sent).
async fn soon(done: impl Fn() -> bool) {
    for _ in 0..40 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `function_calls_total{method="GET"}` from the door's own /metrics (not through the cache).
async fn function_gets(function: &str) -> u64 {
    let url = format!("{function}metrics");
    let (status, _, text) = tokio::time::timeout(Duration::from_secs(30), fetch("GET", &url))
        .await
        .unwrap_or_else(|_| panic!("{url} did not answer within 30 s"));
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|line| line.strip_prefix("function_calls_total{method=\"GET\"} "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no function_calls_total{{method=\"GET\"}} in:\n{text}"))
}

#[tokio::test]
async fn json_svg_and_csv_clients_each_get_their_own_format_from_the_cache() {
    let bed = Bed::new("cache-formats", &spread_observations()).await;
    let doors = Doors::start(&[bed.env(), vec![("CACHE_TTL", LONG_TTL)]].concat()).await;
    for (door, function) in doors.functions() {
        let cache = CacheProxy::start(&function).await;
        let mut first_bodies = Vec::new();
        // The first round fills the cache, one variant per client; the second is served from it.
        for (round, expected_status) in [("first", "MISS"), ("second", "HIT")] {
            for (index, client) in CLIENTS.iter().enumerate() {
                let (accept, content_type) = (client.accept, client.content_type);
                let answer = get(&cache.url, &[("accept", accept)]).await;
                let status = cache_status(&answer);
                println!(
                    "{door}: {round} `Accept: {accept}` → {} {} X-Cache-Status: {status} \
                     (door's Vary: {:?})",
                    answer.status,
                    answer.header("content-type"),
                    answer.header("vary"),
                );
                let what = format!("{door}, {round} `Accept: {accept}`");
                assert_eq!(answer.status, 200, "{what}");
                assert_eq!(
                    answer.header("content-type"),
                    content_type,
                    "{what}: another client's format, served from the cache ({status})"
                );
                assert!(
                    (client.has_shape)(&answer.body),
                    "{what}: not a {content_type} body ({status}): {}",
                    String::from_utf8_lossy(&answer.body)
                );
                assert_eq!(status, expected_status, "{what}");
                match round {
                    "first" => first_bodies.push(answer.body),
                    _ => assert!(answer.body == first_bodies[index], "{what}: another body"),
                }
            }
        }
        soon(|| cache.access_log().lines().count() == 2 * CLIENTS.len()).await;
        println!("{door}: nginx's access log:\n{}", cache.access_log());
    }
}

#[tokio::test]
async fn after_a_gzip_client_a_client_without_accept_encoding_gets_plain_bytes() {
    let bed = Bed::new("cache-encodings", &spread_observations()).await;
    let doors = Doors::start(&[bed.env(), vec![("CACHE_TTL", LONG_TTL)]].concat()).await;
    for (door, function) in doors.functions() {
        let cache = CacheProxy::start(&function).await;
        // Half-degree buckets: an answer long enough to be compressed.
        let url = format!("{}?interval=0.5", cache.url);
        let gzip = get(&url, &[("accept-encoding", "gzip")]).await;
        let plain = get(&url, &[]).await;
        println!(
            "{door}: gzip client → {}, plain client → {} (content-encoding {:?})",
            cache_status(&gzip),
            cache_status(&plain),
            plain.header("content-encoding"),
        );
        assert_eq!((gzip.status, plain.status), (200, 200), "{door}");
        assert_eq!(gzip.header("content-encoding"), "gzip", "{door}");
        assert_eq!(
            plain.header("content-encoding"),
            "",
            "{door}: the client without Accept-Encoding got the gzip client's answer ({})",
            cache_status(&plain)
        );
        let unzipped: Value = serde_json::from_slice(&decode("gzip", &gzip.body)).unwrap();
        let plain_json: Value = serde_json::from_slice(&plain.body)
            .unwrap_or_else(|e| panic!("{door}: the plain answer is not JSON ({e})"));
        assert_eq!(without_took(plain_json), without_took(unzipped), "{door}");
        assert_eq!(cache_status(&plain), "MISS", "{door}");

        // Both kept, each as it was sent.
        let again = get(&url, &[]).await;
        assert_eq!(cache_status(&again), "HIT", "{door}");
        assert_eq!(again.header("content-encoding"), "", "{door}");
        assert!(again.body == plain.body, "{door}");
        let again = get(&url, &[("accept-encoding", "gzip")]).await;
        assert_eq!(cache_status(&again), "HIT", "{door}");
        assert!(again.body == gzip.body, "{door}");
    }
}

#[tokio::test]
async fn after_the_ttl_the_cache_revalidates_and_the_door_answers_304_on_the_default_format() {
    let bed = Bed::new("cache-revalidate", &spread_observations()).await;
    let env = [
        bed.env(),
        vec![("CACHE_TTL", SHORT_TTL), ("RUST_LOG", CALL_LINES)],
    ]
    .concat();
    let doors = Doors::start(&env).await;
    for (door, function) in doors.functions() {
        let cache = CacheProxy::start(&function).await;
        let first = get(&cache.url, &[]).await;
        assert_eq!(
            (first.status, cache_status(&first)),
            (200, "MISS"),
            "{door}"
        );
        assert_eq!(first.header("cache-control"), "max-age=2", "{door}");
        let tag = first.header("etag");
        assert_eq!(calls_answered_304(&door_log(&doors, door)), 0, "{door}");
        let searches = bed.index.searches().await;

        // Past the TTL of both the door's cache and nginx's: the door searches again, and its
        // answer (another `took`) has the same weak tag, so nginx's If-None-Match gets a 304.
        tokio::time::sleep(PAST_SHORT_TTL).await;
        let second = get(&cache.url, &[]).await;
        soon(|| cache.access_log().lines().count() == 2).await;
        println!(
            "{door}: first {} {}, after the TTL {} {} (ETag {tag})",
            first.status,
            cache_status(&first),
            second.status,
            cache_status(&second)
        );
        assert_eq!(
            (second.status, cache_status(&second)),
            (200, "REVALIDATED"),
            "{door}: nginx's access log:\n{}",
            cache.access_log()
        );
        assert!(
            second.body == first.body,
            "{door}: nginx serves the body it kept, `took` and all"
        );
        assert!(
            tag.starts_with("W/\""),
            "{door}: the default format's ETag is weak: {tag:?}"
        );
        assert_eq!(second.header("etag"), tag, "{door}");
        assert_eq!(
            bed.index.searches().await - searches,
            1,
            "{door}: the door searched again to answer the revalidation"
        );
        // nginx's own record of it: the door answered 304.
        let revalidated = "upstream_status=304 cache=REVALIDATED";
        let access_log = cache.access_log();
        assert!(access_log.contains(revalidated), "{door}: {access_log}");
        // The door's own word for it: its call line, which may also land a moment late.
        soon(|| calls_answered_304(&door_log(&doors, door)) > 0).await;
        let log = door_log(&doors, door);
        assert_eq!(calls_answered_304(&log), 1, "{door}'s log:\n{log}");
        let line = log.lines().find(|line| calls_answered_304(line) == 1);
        println!(
            "{door}: nginx logged {revalidated}; the door logged {}",
            line.unwrap_or_default()
        );
    }
}

#[tokio::test]
async fn a_partial_answer_is_not_kept_and_the_next_request_reaches_the_door() {
    let observations = [
        (Duration::from_secs(600), 70.0),
        (Duration::from_secs(900), 71.0),
    ];
    let HalfFailing {
        good,
        bad: _bad,
        pattern: both,
    } = HalfFailing::new("cache-partial", &observations).await;
    let doors = Doors::start(&[good.env(), vec![("CACHE_TTL", LONG_TTL)]].concat()).await;
    for (door, function) in doors.functions() {
        let cache = CacheProxy::start(&function).await;
        let url = format!("{}?index={both}", cache.url);
        let before = function_gets(&function).await;
        let answers = [get(&url, &[]).await, get(&url, &[]).await];
        let statuses = answers.each_ref().map(cache_status);
        println!("{door}: X-Cache-Status {statuses:?}");
        assert_eq!(
            statuses,
            ["MISS", "MISS"],
            "{door}: the partial answer was kept"
        );
        for answer in &answers {
            assert_eq!(answer.status, 200, "{door}");
            assert!(
                answer.header("warning").contains("1 of 2 shards failed"),
                "{door}: {:?}",
                answer.header("warning")
            );
            assert_eq!(answer.header("cache-control"), "no-store", "{door}");
        }
        assert_eq!(
            function_gets(&function).await - before,
            2,
            "{door}: both requests reached the door"
        );
    }
}

#[tokio::test]
async fn healthz_and_metrics_are_not_kept() {
    let bed = Bed::new("cache-healthz", &[(Duration::from_secs(600), 70.0)]).await;
    let doors = Doors::start(&[bed.env(), vec![("CACHE_TTL", LONG_TTL)]].concat()).await;
    for (door, function) in doors.functions() {
        let cache = CacheProxy::start(&function).await;
        for path in ["healthz", "metrics"] {
            let url = format!("{}{path}", cache.url);
            let answers = [get(&url, &[]).await, get(&url, &[]).await];
            let statuses = answers.each_ref().map(cache_status);
            println!("{door} /{path}: X-Cache-Status {statuses:?}");
            assert_eq!(statuses, ["MISS", "MISS"], "{door} /{path} was kept");
            for answer in &answers {
                assert_eq!(answer.status, 200, "{door} /{path}");
                assert_eq!(answer.header("cache-control"), "no-store", "{door} /{path}");
            }
        }
    }
}
