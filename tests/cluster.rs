//! A real three-node cluster under load: one node stops and later starts again, and the door,
//! given every node in `HOST`, keeps answering.
//!
//! `tests/run` starts the cluster with `ES_NODES=3 tests/elasticsearch/start`, sets
//! `TEST_ES_CLUSTER_URL` to the URLs it prints, and runs this test alone:
//! `cargo test --test cluster -- --ignored --nocapture`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::cluster_urls;
use support::doors::KNATIVE;
use support::load::Load;
use support::server::Server;

/// How many requests are in flight at once; the most that may fail when a node stops.
const CONCURRENCY: usize = 16;

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap()
}

/// Runs `tests/elasticsearch/{start,stop}` for node `node` of the cluster whose first port is
/// `first`, as an operator would.
fn node_script(name: &str, first: u16, node: usize) {
    let script = format!("{}/tests/elasticsearch/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut command = std::process::Command::new(&script);
    match name {
        "stop" => command.env("ES_PORT", (first + node as u16).to_string()),
        _ => command
            .env("ES_PORT", first.to_string())
            .env("ES_NODES", "3")
            .env("ES_NODE", node.to_string()),
    };
    let status = command
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(status.success(), "{script} for node {node}: {status}");
}

async fn es(method: reqwest::Method, url: String, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new().request(method, &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    response.json().await.unwrap()
}

/// The observations, one every 2 minutes for the last 12 hours, in bulk.
fn bulk(index: &str) -> String {
    let now = std::time::SystemTime::now();
    let mut bulk = String::new();
    for slot in 0..360u64 {
        let time = now - Duration::from_secs(60 + slot * 120);
        let temperature = 60.0 + (slot % 25) as f64;
        bulk.push_str(&json!({ "index": { "_index": index } }).to_string());
        bulk.push('\n');
        bulk.push_str(&wx_stats::sample::observation(time, slot, temperature).to_string());
        bulk.push('\n');
    }
    bulk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops and starts a node of the test cluster: run alone by tests/run"]
async fn a_node_stopped_and_started_under_load_costs_at_most_the_requests_in_flight() {
    let urls = cluster_urls();
    assert_eq!(urls.len(), 3, "a cluster of three nodes: {urls:?}");
    let first = port_of(&urls[0]);
    let index = format!("wx-rtbeat-cluster-{}", std::process::id());
    let mut settings = wx_stats::sample::mapping();
    settings["settings"] = json!({ "number_of_shards": 1, "number_of_replicas": 1 });
    es(
        reqwest::Method::PUT,
        format!("{}/{index}", urls[0]),
        Some(settings),
    )
    .await;
    let added = reqwest::Client::new()
        .post(format!("{}/_bulk?refresh=true", urls[0]))
        .header("content-type", "application/x-ndjson")
        .body(bulk(&index))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success());
    let health = format!(
        "{}/_cluster/health/{index}?wait_for_status=green&timeout=60s",
        urls[0]
    );
    let health = es(reqwest::Method::GET, health, None).await;
    assert_eq!(health["status"], "green", "{health}");

    let hosts: Vec<String> = urls.iter().map(|u| u.replace("http://", "")).collect();
    let hosts = hosts.join(",");
    // No cache: every request is a search, so every request needs a node.
    let env = [
        ("HOST", hosts.as_str()),
        ("ES_INDEX", &index),
        ("CACHE_TTL", "0"),
    ];
    let door = Server::start(KNATIVE, "PORT", &env).await;
    let (status, _, body) = support::fetch("GET", &format!("{}/?format=buckets", door.base)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"total\":360"), "{body}");

    let stop = Arc::new(AtomicBool::new(false));
    let load = Load {
        url: format!("{}/?format=buckets", door.base),
        requests: 2_000_000,
        concurrency: CONCURRENCY,
        limit: Duration::from_secs(150),
        pause: Duration::ZERO,
        request_timeout: Duration::from_secs(30),
    };
    let running = {
        let stop = stop.clone();
        tokio::spawn(async move { load.run(stop).await })
    };
    // The middle node goes away under load, and comes back: it joins with empty data, and the
    // cluster copies its shard back.
    tokio::time::sleep(Duration::from_secs(5)).await;
    tokio::task::spawn_blocking(move || node_script("stop", first, 1))
        .await
        .unwrap();
    println!("node 1 (port {}) stopped", first + 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    tokio::task::spawn_blocking(move || node_script("start", first, 1))
        .await
        .unwrap();
    println!("node 1 started again");
    let health = format!("{}/_cluster/health?wait_for_nodes=3&timeout=60s", urls[0]);
    es(reqwest::Method::GET, health, None).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let report = running.await.unwrap();

    println!(
        "three-node cluster, one node stopped and started under load at concurrency {CONCURRENCY}: \
         {} requests in {:.1} s; answers by status {:?}; {} with no answer; slowest {:?}",
        report.sent(),
        report.elapsed.as_secs_f64(),
        report.statuses,
        report.transport_errors,
        report.slowest
    );
    let failed = report.unexpected(&[200]);
    println!("{failed} requests did not get a 200");
    assert!(report.sent() > 1000, "the load ran: {report:?}");
    assert!(
        failed <= CONCURRENCY as u64,
        "{failed} failures: more than the {CONCURRENCY} requests that can be in flight on the stopped node"
    );
    es(
        reqwest::Method::DELETE,
        format!("{}/{index}", urls[0]),
        None,
    )
    .await;
}
