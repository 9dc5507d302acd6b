//! Faults, each against the real Elasticsearch and real door processes: Elasticsearch stopped,
//! slow, or restarted under load, and clients that walk away mid-request.
//!
//! The `#[ignore]`d tests stop and start the test Elasticsearch with its own scripts, so they
//! cannot share it with other tests: `tests/run` runs them alone, one at a time, with
//! `cargo test --test faults -- --ignored --test-threads=1`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::bed::Bed;
use support::doors::{Doors, KNATIVE, KUBELESS};
use support::load::Load;
use support::server::{
    Server, counting_proxy, delaying_proxy, slow_requests_proxy, wait_calls_in_flight,
};
use support::{TestIndex, error_type, es_host, fetch, start_es, stop_es, total_hits};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Runs a blocking Elasticsearch script without stalling the doors' clients in this runtime.
async fn blocking(script: fn()) {
    tokio::task::spawn_blocking(script).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the test Elasticsearch: run alone by tests/run"]
async fn stopped_elasticsearch_is_503_within_a_second_and_recovery_needs_no_restart() {
    let host = es_host();
    let mut doors = Doors::start(&[("HOST", &host), ("CACHE_TTL", "0")]).await;
    for (door, url) in doors.functions() {
        assert_eq!(fetch("GET", &url).await.0, 200, "{door} before the fault");
    }

    blocking(stop_es).await;
    for (door, url) in doors.functions() {
        let started = Instant::now();
        let (status, content_type, body) = fetch("GET", &url).await;
        let took = started.elapsed();
        eprintln!("{door}: {status} in {took:?} with Elasticsearch stopped");
        assert_eq!(
            (status, content_type.as_str()),
            (503, "application/json"),
            "{door}: {body}"
        );
        assert_eq!(
            error_type(&body, 503),
            "elasticsearch_unavailable",
            "{door}"
        );
        assert!(took <= Duration::from_secs(1), "{door} took {took:?}");
        let health = fetch("GET", &format!("{url}healthz")).await.0;
        assert_eq!(health, 200, "{door}: /healthz with Elasticsearch stopped");
    }

    blocking(start_es).await;
    // The node comes back empty; the doors must answer with what it holds now.
    let index = TestIndex::create("faults-recovery").await;
    index
        .add(&[
            (Duration::from_secs(600), 70.0),
            (Duration::from_secs(1200), 72.0),
        ])
        .await;
    for (door, url) in doors.functions() {
        let (status, _, body) = fetch("GET", &format!("{url}?index={}", index.name)).await;
        assert_eq!(status, 200, "{door} after the restart: {body}");
        assert_eq!(
            total_hits(&serde_json::from_str(&body).unwrap()),
            2,
            "{door}"
        );
    }
    assert!(doors.all_running(), "a door exited during the fault");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops and starts the test Elasticsearch: run alone by tests/run"]
async fn a_restart_under_load_gives_only_200_503_or_504_and_the_door_recovers() {
    const ES_TIMEOUT: Duration = Duration::from_secs(3);
    let host = es_host();
    let env = [
        ("HOST", host.as_str()),
        ("CACHE_TTL", "0"),
        ("ES_TIMEOUT", "3s"),
    ];
    let mut door = Server::start(KUBELESS, "FUNC_PORT", &env).await;
    let load = Load {
        url: door.base.clone(),
        requests: 2_000_000,
        concurrency: 32,
        limit: Duration::from_secs(240),
        // While Elasticsearch is down, 503s come back at once: bound the rate, so that the load
        // does not starve the restarting node of the machine's two cores.
        pause: Duration::from_millis(20),
        // A little over ES_TIMEOUT: a request still waiting by then has hung.
        request_timeout: ES_TIMEOUT + Duration::from_secs(5),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { load.run(stop).await }
    });

    tokio::time::sleep(Duration::from_secs(3)).await;
    let restart = Instant::now();
    blocking(stop_es).await;
    blocking(start_es).await;
    eprintln!(
        "Elasticsearch stopped and started again in {:?}",
        restart.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let report = running.await.unwrap();

    eprintln!(
        "restart under load: {} requests in {:?}, by status {:?}, {} without an answer, slowest {:?}",
        report.sent(),
        report.elapsed,
        report.statuses,
        report.transport_errors,
        report.slowest
    );
    assert_eq!(report.unexpected(&[200, 503, 504]), 0, "{report:?}");
    assert!(
        report.slowest < ES_TIMEOUT + Duration::from_secs(2),
        "{report:?}"
    );
    // The fault really happened, and the door served on both sides of it.
    assert!(
        report.statuses.get(&503).is_some_and(|n| *n > 0),
        "{report:?}"
    );
    assert!(
        report.statuses.get(&200).is_some_and(|n| *n > 0),
        "{report:?}"
    );

    assert_eq!(fetch("GET", &door.base).await.0, 200, "after the restart");
    assert!(door.is_running(), "the door exited during the restart");
}

#[tokio::test]
async fn slow_elasticsearch_is_504_close_to_es_timeout_on_every_door() {
    let slow_es = delaying_proxy(es_host(), Duration::from_secs(4)).await;
    let doors = Doors::start(&[("HOST", &slow_es), ("ES_TIMEOUT", "1s"), ("CACHE_TTL", "0")]).await;
    for (door, url) in doors.functions() {
        let started = Instant::now();
        let (status, _, body) = fetch("GET", &url).await;
        let took = started.elapsed();
        eprintln!("{door}: {status} in {took:?} (ES_TIMEOUT=1s, Elasticsearch delayed 4 s)");
        assert_eq!(status, 504, "{door}: {body}");
        assert_eq!(error_type(&body, 504), "elasticsearch_timeout", "{door}");
        // Not before the timeout, and nowhere near the 4 s the answer would have taken.
        assert!(took >= Duration::from_secs(1), "{door} took {took:?}");
        assert!(took < Duration::from_millis(2500), "{door} took {took:?}");
    }
}

#[tokio::test]
async fn a_client_that_disconnects_leaves_no_call_in_flight() {
    // Elasticsearch answers only after 10 s: long after the client has gone.
    let slow_es = delaying_proxy(es_host(), Duration::from_secs(10)).await;
    let env = [("HOST", slow_es.as_str()), ("CACHE_TTL", "0")];
    for (binary, port_variable) in [(KUBELESS, "FUNC_PORT"), (KNATIVE, "PORT")] {
        let door = Server::start(binary, port_variable, &env).await;
        let mut client = TcpStream::connect(("127.0.0.1", door.port)).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: wx-stats\r\n\r\n")
            .await
            .unwrap();
        assert!(
            wait_calls_in_flight(&door.base, 1, Duration::from_secs(3)).await,
            "the call never started"
        );
        drop(client);
        // Well before Elasticsearch would have answered: the call was dropped, not finished.
        assert!(
            wait_calls_in_flight(&door.base, 0, Duration::from_secs(3)).await,
            "{binary}: a call stayed in flight after its client left"
        );
        assert!(door.log().contains("call abandoned"), "{}", door.log());
    }
}

/// One call before the burst, so that the door knows the field's range (kept a minute): the
/// burst's calls then make one search each, the histogram's. The range's search is kept once
/// it has answered, even when the call's histogram then runs out of `ES_TIMEOUT` (a 504).
async fn learn_the_range(client: &reqwest::Client, door: &Server) {
    let answer = client
        .get(format!("{}/?format=csv", door.base))
        .send()
        .await
        .unwrap();
    assert!([200, 504].contains(&answer.status().as_u16()), "{answer:?}");
}

/// The most searches a door has in flight to Elasticsearch at once (`es::MAX_SEARCHES_IN_FLIGHT`).
const MAX_SEARCHES_IN_FLIGHT: u64 = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_calls_at_once_hold_at_most_sixteen_connections_and_all_are_answered() {
    let bed = Bed::new("faults-bounded", &[(Duration::from_secs(600), 70.0)]).await;
    // Each search takes 500 ms, so all 64 calls are in flight together.
    let slow = slow_requests_proxy(es_host(), Duration::from_millis(500)).await;
    let (counted, opened) = counting_proxy(slow).await;
    let env = [bed.env_via(&counted), vec![("CACHE_TTL", "0")]].concat();
    let door = Server::start(KNATIVE, "PORT", &env).await;
    let client = reqwest::Client::new();
    learn_the_range(&client, &door).await;
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let request = client.get(format!("{}/?format=buckets", door.base));
        calls.spawn(async move { request.send().await.map(|r| r.status().as_u16()) });
    }
    let mut statuses = Vec::new();
    while let Some(status) = calls.join_next().await {
        statuses.push(status.unwrap().unwrap());
    }
    let took = started.elapsed();
    let connections = opened.load(Ordering::SeqCst);
    eprintln!("64 calls at once, each search 500 ms: {connections} connections, {took:?}");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        connections <= MAX_SEARCHES_IN_FLIGHT,
        "{connections} connections to Elasticsearch for 64 calls: the searches in flight are not bounded"
    );
    // They waited their turn: four rounds of 16, not one of 64.
    assert!(took >= Duration::from_millis(4 * 500), "{took:?}");
}

/// One deadline covers the wait for a search's turn and the search: with each search held
/// 600 ms and `ES_TIMEOUT=1s`, the first 16 of 32 calls at once are answered, and the 16 that
/// waited 600 ms for a turn get their 504 when their second is up, not another second later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_for_a_turn_and_the_search_share_one_deadline() {
    let bed = Bed::new("faults-deadline", &[(Duration::from_secs(600), 70.0)]).await;
    let slow = slow_requests_proxy(es_host(), Duration::from_millis(600)).await;
    let env = [
        bed.env_via(&slow),
        vec![("CACHE_TTL", "0"), ("ES_TIMEOUT", "1s")],
    ]
    .concat();
    let door = Server::start(KNATIVE, "PORT", &env).await;
    let client = reqwest::Client::new();
    learn_the_range(&client, &door).await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..2 * MAX_SEARCHES_IN_FLIGHT {
        let request = client.get(format!("{}/?format=buckets", door.base));
        calls.spawn(async move {
            let started = Instant::now();
            let status = request.send().await.map(|r| r.status().as_u16());
            (status.unwrap(), started.elapsed())
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = calls.join_next().await {
        answers.push(answer.unwrap());
    }
    let count = |wanted: u16| {
        answers
            .iter()
            .filter(|(status, _)| *status == wanted)
            .count()
    };
    let slowest = answers.iter().map(|(_, took)| *took).max().unwrap();
    eprintln!(
        "{} calls: {} answered 200, {} 504, the slowest in {slowest:?}",
        answers.len(),
        count(200),
        count(504)
    );
    assert_eq!(count(200) as u64, MAX_SEARCHES_IN_FLIGHT, "{answers:?}");
    assert_eq!(count(504) as u64, MAX_SEARCHES_IN_FLIGHT, "{answers:?}");
    // Each 504 came at ES_TIMEOUT, with room for a busy machine, well before the 1.6 s that a
    // second, separate timeout for the search would give.
    assert!(slowest < Duration::from_millis(1450), "{answers:?}");
}
