//! Identical requests in flight cost Elasticsearch one search, counted by Elasticsearch itself;
//! a failed search is not kept. The Router runs in-process, in front of the real Elasticsearch
//! behind a fault-injecting proxy.

mod support;

use std::time::Duration;

use support::bed::Bed;
use support::inprocess::serve_router;
use support::server::{delaying_proxy, failing_once_proxy, wait_calls_in_flight};
use support::{error_type, es_host, read};

/// How long the proxy holds each connection to Elasticsearch: every request below arrives
/// long before the first search can answer.
const SLOW: Duration = Duration::from_secs(2);

/// One answer: its status, Cache-Control header and body.
type Answer = (u16, Option<String>, String);

/// The Cache-Control header, if there is one.
fn cache_control(response: &reqwest::Response) -> Option<String> {
    let value = response.headers().get("cache-control")?;
    Some(value.to_str().unwrap().to_string())
}

/// Fifty identical requests sent at once: their answers.
async fn fifty_at_once(base: String) -> Vec<Answer> {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let url = format!("{base}/?format=buckets");
        requests.spawn(async move {
            let response = reqwest::get(&url).await.unwrap();
            let cache = cache_control(&response);
            let (status, _, body) = read(response).await;
            (status, cache, body)
        });
    }
    requests.join_all().await
}

/// Sends fifty identical requests while Elasticsearch is slowed, checks that all fifty were in
/// the Router at once before any was answered, and that each was answered with the one
/// observation and Cache-Control `expected_cache`. Returns how many searches they cost: one of
/// them is for the field's range, which the door looks up once a minute for every question on
/// the field (the fifty share it), to bound the answer's buckets before its histogram.
async fn searches_for_fifty_in_flight(
    bed: &Bed,
    more: &[(&str, &str)],
    expected_cache: &str,
) -> u64 {
    let slow_es = delaying_proxy(es_host(), SLOW).await;
    let env = [bed.env_via(&slow_es), more.to_vec()].concat();
    let router = serve_router(&env).await;
    let before = bed.index.searches().await;
    let answers = tokio::spawn(fifty_at_once(router.base.clone()));
    // Within half the proxy's delay: no search has answered yet, so neither has any request.
    assert!(
        wait_calls_in_flight(&router.base, 50, SLOW / 2).await,
        "all fifty requests must be waiting at once, before any answer exists"
    );
    let answers = answers.await.unwrap();
    assert!(
        answers.iter().all(|(status, cache, body)| *status == 200
            && cache.as_deref() == Some(expected_cache)
            && body.contains("\"total\":1")),
        "each a 200 with {expected_cache}: {answers:?}"
    );
    bed.index.searches().await - before
}

#[tokio::test]
async fn fifty_identical_requests_in_flight_before_any_answer_cost_one_search() {
    let bed = Bed::new("coalescing", &[(Duration::from_secs(60), 70.0)]).await;
    let searches = searches_for_fifty_in_flight(&bed, &[], "max-age=15").await;
    println!(
        "50 identical requests in flight at once: {searches} search(es) in Elasticsearch's \
         _stats/search"
    );
    assert_eq!(
        searches, 2,
        "50 identical requests in flight must share one search, and the field's range"
    );
}

#[tokio::test]
async fn with_the_cache_off_every_request_in_flight_searches() {
    let bed = Bed::new("no-coalescing", &[(Duration::from_secs(60), 70.0)]).await;
    let searches = searches_for_fifty_in_flight(&bed, &[("CACHE_TTL", "0")], "max-age=0").await;
    assert_eq!(
        searches, 51,
        "the count is Elasticsearch's own, so it sees every search, and the range's"
    );
}

#[tokio::test]
async fn a_failed_search_is_not_kept() {
    let bed = Bed::new("errors-not-kept", &[(Duration::from_secs(60), 70.0)]).await;
    let refusing_once = failing_once_proxy(es_host(), 503).await;
    // The default CACHE_TTL: the cache is on.
    let router = serve_router(&bed.env_via(&refusing_once)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/?format=buckets", router.base);

    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 503, "the proxy refuses the first search");
    assert_eq!(
        cache_control(&first),
        None,
        "an error must not invite caching"
    );
    let (_, _, body) = read(first).await;
    assert_eq!(
        error_type(&body, 503),
        "elasticsearch_unavailable",
        "{body}"
    );

    let second = client.get(&url).send().await.unwrap();
    let cache = cache_control(&second);
    let (status, _, body) = read(second).await;
    assert_eq!(
        status, 200,
        "the same request again must search again, not get the kept error: {body}"
    );
    assert!(body.contains("\"total\":1"), "{body}");
    assert_eq!(cache.as_deref(), Some("max-age=15"), "the cache is on");
}
