//! Identical requests in flight cost Elasticsearch one search, counted by Elasticsearch itself.

mod support;

use std::time::Duration;

use support::doors::KNATIVE;
use support::server::Server;
use support::{TestIndex, es_host, fetch};

async fn fifty_at_once(base: &str) -> Vec<(u16, String)> {
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let url = format!("{base}/?format=buckets");
        requests.spawn(async move {
            let (status, _, body) = fetch("GET", &url).await;
            (status, body)
        });
    }
    requests.join_all().await
}

#[tokio::test]
async fn fifty_concurrent_identical_requests_cost_one_search() {
    let index = TestIndex::create("coalescing").await;
    index.add(&[(Duration::from_secs(60), 70.0)]).await;
    let door = Server::start(
        KNATIVE,
        "PORT",
        &[("HOST", &es_host()), ("ES_INDEX", &index.name)],
    )
    .await;
    let before = index.searches().await;
    let answers = fifty_at_once(&door.base).await;
    assert!(
        answers
            .iter()
            .all(|(status, body)| *status == 200 && body.contains("\"total\":1")),
        "{answers:?}"
    );
    let searches = index.searches().await - before;
    println!(
        "50 concurrent identical requests: {searches} search(es) in Elasticsearch's _stats/search"
    );
    assert_eq!(searches, 1, "50 identical requests must share one search");

    let response = reqwest::get(&door.base).await.unwrap();
    assert_eq!(response.headers()["cache-control"], "max-age=15");
}

#[tokio::test]
async fn with_the_cache_off_every_request_searches() {
    let index = TestIndex::create("no-coalescing").await;
    index.add(&[(Duration::from_secs(60), 70.0)]).await;
    let env = [
        ("HOST", es_host()),
        ("ES_INDEX", index.name.clone()),
        ("CACHE_TTL", "0".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let door = Server::start(KNATIVE, "PORT", &env).await;
    let before = index.searches().await;
    let answers = fifty_at_once(&door.base).await;
    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert_eq!(
        index.searches().await - before,
        50,
        "the count is Elasticsearch's own, so it sees every search"
    );
    let response = reqwest::get(&door.base).await.unwrap();
    assert_eq!(response.headers()["cache-control"], "max-age=0");
}

#[tokio::test]
async fn errors_are_not_cached() {
    let door = Server::start(KNATIVE, "PORT", &[("HOST", "127.0.0.1:1")]).await;
    for _ in 0..2 {
        let response = reqwest::get(&door.base).await.unwrap();
        assert_eq!(response.status(), 503);
        assert!(
            response.headers().get("cache-control").is_none(),
            "an error must not invite caching"
        );
    }
}
