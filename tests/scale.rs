//! Production's shape, against the real Elasticsearch: exact totals past 10,000 observations,
//! and the true status of every failure, with its reason. (Memory under a flood of distinct
//! requests is in tests/flood.rs; a cluster losing a node, in tests/cluster.rs.)

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::bed::{Bed, HalfFailing};
use support::inprocess::serve_router;
use support::server::{failing_once_proxy, recording_proxy};
use support::{error_type, es_host, es_json, fetch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `count` observations spread evenly over the last `hours` hours.
fn spread(count: u64, hours: u64) -> Vec<(Duration, f64)> {
    let step = hours * 3_600_000 / count;
    (0..count)
        .map(|i| {
            let age = Duration::from_millis(60_000 + i * step);
            (age, 50.0 + (i % 40) as f64)
        })
        .collect()
}

#[tokio::test]
async fn totals_past_ten_thousand_are_exact_and_equal_elasticsearchs_count() {
    let mut observations = spread(12_345, 20);
    // Outside the 24-hour window: counted by nobody.
    observations.extend((0..100).map(|i| (Duration::from_secs(30 * 3600 + i), 70.0)));
    let bed = Bed::new("totals", &observations).await;
    let door = serve_router(&bed.env()).await;

    let in_window = json!({ "query": { "range": { "@timestamp": { "gt": "now-24h" } } } });
    let count = es_json(&format!("{}/_count", bed.index.name), Some(&in_window)).await;
    assert_eq!(count["count"], 12_345, "Elasticsearch's own count: {count}");

    let (status, _, body) = fetch("GET", &format!("{}/?format=buckets", door.base)).await;
    assert_eq!(status, 200, "{body}");
    let buckets: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(buckets["total"], count["count"], "format=buckets' total");
    let summed: u64 = buckets["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(summed, 12_345, "the buckets hold every observation");

    let (_, _, svg) = fetch("GET", &format!("{}/?format=svg", door.base)).await;
    assert!(svg.contains("(12345 observations)"), "the SVG's title");

    // format=es is the original's answer: its body is sent untouched, and it counts to 10,000.
    let (_, _, es) = fetch("GET", &door.base).await;
    let es: Value = serde_json::from_str(&es).unwrap();
    assert_eq!(
        es["hits"]["total"],
        json!({"value": 10000, "relation": "gte"})
    );
}

#[tokio::test]
async fn a_missing_index_is_404_naming_it() {
    let door = serve_router(&[("HOST", &es_host())]).await;
    let (status, _, body) = fetch("GET", &format!("{}/?index=wx-rtbeat-2099.01", door.base)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_type(&body, 404), "index_not_found");
    assert!(body.contains("wx-rtbeat-2099.01"), "{body}");
}

/// The bucket count the reason gives, e.g. "0.0001 makes 300001 buckets …".
fn buckets_in(reason: &str) -> u64 {
    reason
        .split(" makes ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no bucket count in {reason}"))
}

#[tokio::test]
async fn too_many_buckets_is_a_400_naming_interval_with_the_count() {
    let bed = Bed::new(
        "buckets",
        &[
            (Duration::from_secs(600), 60.0),
            (Duration::from_secs(1200), 90.0),
        ],
    )
    .await;
    let door = serve_router(&bed.env()).await;
    // Without fill, Elasticsearch refuses it; with fill, the range is known and it is never sent.
    for query in [
        "interval=0.0001&hours=8784",
        "interval=0.0001&hours=8784&fill=true",
    ] {
        let (status, _, body) = fetch("GET", &format!("{}/?{query}", door.base)).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(error_type(&body, 400), "invalid_parameter", "{query}");
        let json: Value = serde_json::from_str(&body).unwrap();
        let reason = json["error"]["reason"].as_str().unwrap();
        assert!(reason.starts_with("parameter `interval`"), "{reason}");
        // 60 to 90 in steps of 0.0001: 300,001 buckets, give or take rounding at the edges.
        let buckets = buckets_in(reason);
        assert!((299_999..=300_002).contains(&buckets), "{reason}");
    }
}

/// Intervals at the edges of a float, with and without `fill`, are 400s naming `interval`,
/// never a 500; an answer of more buckets than `MAX_BUCKETS_SERVED` is a 400 naming the count
/// and the bound. Each is refused before its histogram is searched: a recording proxy in front
/// of Elasticsearch sees no histogram at all, only the field's range.
#[tokio::test]
async fn too_many_buckets_are_refused_before_the_histogram_is_searched() {
    let bed = Bed::new(
        "bucket-bounds",
        &[
            (Duration::from_secs(600), 60.0),
            (Duration::from_secs(1200), 90.0),
        ],
    )
    .await;
    let (proxy, recorded) = recording_proxy(es_host()).await;
    let env = [bed.env_via(&proxy), vec![("MAX_BUCKETS_SERVED", "10")]].concat();
    let door = serve_router(&env).await;
    // 60 to 90: 31 buckets of 1, 11 of 3, 8 of 4.
    let refused = [
        ("interval=1e-300", None),
        ("interval=1e-300&fill=true", None),
        ("interval=5e-324", None),
        ("interval=5e-324&fill=true", None),
        ("interval=1e308", None),
        ("interval=1e308&fill=true", None),
        (
            "interval=1",
            Some("1.0 makes 31 buckets over the field's range in the last 24 h"),
        ),
        (
            "interval=1&fill=true",
            Some("1.0 makes 31 buckets from the field's lowest"),
        ),
        ("interval=3", Some("3.0 makes 11 buckets")),
    ];
    for (query, says) in refused {
        let (status, _, body) = fetch("GET", &format!("{}/?{query}", door.base)).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(error_type(&body, 400), "invalid_parameter", "{query}");
        let json: Value = serde_json::from_str(&body).unwrap();
        let reason = json["error"]["reason"].as_str().unwrap();
        assert!(reason.starts_with("parameter `interval`: "), "{reason}");
        if let Some(says) = says {
            assert!(reason.contains(says), "{query}: {reason}");
            assert!(reason.contains("at most 10 buckets"), "{query}: {reason}");
        }
    }
    let sent = String::from_utf8_lossy(&recorded.lock().unwrap()).into_owned();
    assert!(
        !sent.contains("histogram"),
        "a histogram was searched:\n{sent}"
    );
    assert!(
        sent.contains(r#""min":{"min""#),
        "the range was searched:\n{sent}"
    );
    let (status, _, body) =
        fetch("GET", &format!("{}/?interval=4&format=buckets", door.base)).await;
    assert_eq!(status, 200, "8 buckets are served: {body}");
}

#[tokio::test]
async fn an_overloaded_or_starting_elasticsearch_is_503_with_retry_after() {
    let bed = Bed::new("overloaded", &[(Duration::from_secs(600), 70.0)]).await;
    for refused in [429, 503] {
        let proxy = failing_once_proxy(es_host(), refused).await;
        let door = serve_router(&bed.env_via(&proxy)).await;
        let response = reqwest::get(&door.base).await.unwrap();
        let retry_after = response.headers().get("retry-after").cloned();
        let (status, _, body) = support::read(response).await;
        assert_eq!(status, 503, "Elasticsearch answered {refused}: {body}");
        assert_eq!(error_type(&body, 503), "elasticsearch_unavailable");
        assert!(body.contains(&format!("it answered {refused}")), "{body}");
        assert!(!body.contains(&proxy), "the address is the log's: {body}");
        assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
        let (status, _, body) = fetch("GET", &door.base).await;
        assert_eq!(
            status, 200,
            "the next request, once it serves again: {body}"
        );
    }
}

#[tokio::test]
async fn a_body_that_fails_to_arrive_is_400() {
    let door = serve_router(&[("HOST", &es_host())]).await;
    let address = door.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    // It announces 100 bytes, sends 10, and stops sending: the client went away mid-upload.
    let head = "POST / HTTP/1.1\r\nhost: wx\r\ncontent-type: application/json\r\n\
                content-length: 100\r\n\r\n{\"hours\":6";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("parameter `body`: did not arrive whole"),
        "{answer}"
    );
}

#[tokio::test]
async fn some_shards_failing_is_a_partial_answer_with_a_warning_that_is_not_kept() {
    let HalfFailing { good, bad, pattern } =
        HalfFailing::new("shards", &[(Duration::from_secs(600), 70.0)]).await;
    let door = serve_router(&good.env()).await;
    let url = format!("{}/?format=buckets&index={pattern}", door.base);

    let before = good.index.searches().await;
    for _ in 0..2 {
        let response = reqwest::get(&url).await.unwrap();
        let headers = response.headers().clone();
        let (status, _, body) = support::read(response).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("\"total\":1"),
            "the good shard's answer: {body}"
        );
        // Which index and Elasticsearch's words are the log's; the caller learns the type.
        let warning = headers["warning"].to_str().unwrap();
        assert_eq!(
            warning, "199 wx-stats \"1 of 2 shards failed (illegal_argument_exception)\"",
            "{warning}"
        );
        assert_eq!(headers["cache-control"], "no-store");
    }
    // The field's range once (kept a minute, partial too), then a histogram for each request.
    assert_eq!(
        good.index.searches().await - before,
        3,
        "a partial answer is not kept: the second request searched again"
    );

    // Every shard failing is Elasticsearch failing the search: 502, with the root cause's type;
    // its text, which can name indices, is the log's.
    let (status, _, body) = fetch("GET", &format!("{}/?index={}", door.base, bad.name)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(error_type(&body, 502), "illegal_argument_exception");
    assert!(
        body.contains("Elasticsearch refused the service's search (400)")
            && !body.contains("is not supported for aggregation"),
        "{body}"
    );
}
