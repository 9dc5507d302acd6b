//! A call survives a freeze. On Lambda, and on Cloud Run with CPU only during requests, the
//! process is frozen between calls, and meanwhile a load balancer (or Elasticsearch) closes the
//! pooled connection to Elasticsearch. The first search after the thaw must not fail on it.
//!
//! Each door's process is frozen with SIGSTOP past the idle timeout of a proxy between it and
//! Elasticsearch, which closes the idle pooled connection, by turns with a FIN and an RST; then
//! it is thawed with SIGCONT and called at once, with the cache off so that every call searches.
//! By turns the call is sent just after the thaw, or already waits when the door thaws, as on
//! Lambda, where the invocation is what thaws the function. The proxy counts its closes, so each
//! round shows that a pooled connection really died while the door was frozen.
//!
//! The one-node cases run in `cargo test`. The several-node cases need the three-node cluster of
//! `tests/run`'s cluster step: `cargo test --test freeze -- --ignored --nocapture` with
//! `TEST_ES_CLUSTER_URL` set.

mod support;

use std::time::Duration;

use support::bed::Bed;
use support::doors::{KNATIVE, port_variable};
use support::emulator::Emulator;
use support::process::send_signal;
use support::server::{Close, IdleTimeoutProxy, Server};
use support::{TestIndex, cluster_urls, es_host, host_of};
use tokio::time::Instant;

/// The proxy's idle timeout: a load balancer's (AWS ALB 60 s, NLB 350 s, GCP 600 s), made short.
const IDLE: Duration = Duration::from_secs(2);

/// How long each freeze lasts: past the idle timeout, with time to spare for the proxy to close.
const FREEZE: Duration = Duration::from_secs(3);

/// Rounds of freeze, thaw and call: half the closes FINs, half RSTs, and each close with each
/// [`Order`] three times.
const ROUNDS: usize = 12;

/// How long a call sent to a frozen door is given to reach it before the thaw. Too short, and
/// the round is merely a call after the thaw, which the other order tests anyway.
const REACH: Duration = Duration::from_millis(200);

/// The most a call may take, thawed or not: far more than a search, far less than forever.
const CALL_LIMIT: Duration = Duration::from_secs(30);

/// The observations every answer must count.
const OBSERVATIONS: [(Duration, f64); 3] = [
    (Duration::from_secs(600), 61.0),
    (Duration::from_secs(3_600), 64.5),
    (Duration::from_secs(7_200), 70.0),
];

/// A door whose process can be frozen: which one, its PID, and the URL that calls its function.
struct Door<'a> {
    name: &'a str,
    pid: u32,
    url: String,
}

/// Whether the call follows the thaw, or is sent to the frozen door and waits for the thaw: then
/// the dead connection and the call are both news to the door when it wakes.
#[derive(Clone, Copy, Debug)]
enum Order {
    ThawThenCall,
    CallThenThaw,
}

/// One round's figures.
struct Round {
    number: usize,
    close: Close,
    order: Order,
    /// Whether the door's process was stopped just after SIGSTOP and still when the closes were
    /// counted.
    frozen: bool,
    /// Connections the proxies closed while the door was frozen.
    closes: u64,
    status: u16,
    /// From the thaw to the answer.
    latency: Duration,
    body: String,
}

/// The close of round `number`, from 1: FIN and RST by turns.
fn close_of(number: usize) -> Close {
    if number % 2 == 1 {
        Close::Fin
    } else {
        Close::Rst
    }
}

/// The order of round `number`, from 1: two rounds (a FIN and an RST) of each by turns.
fn order_of(number: usize) -> Order {
    if (number - 1) % 4 < 2 {
        Order::ThawThenCall
    } else {
        Order::CallThenThaw
    }
}

/// One proxy per node in `hosts`, each closing what is idle for [`IDLE`].
async fn proxies(hosts: &[String]) -> Vec<IdleTimeoutProxy> {
    let mut proxies = Vec::new();
    for host in hosts {
        proxies.push(IdleTimeoutProxy::start(host.clone(), IDLE).await);
    }
    proxies
}

/// `HOST` naming every proxy (a cluster's nodes, comma-separated), and the cache off: every
/// call then searches, on a pooled connection if there is one.
fn door_env<'a>(bed: &'a Bed, hosts: &'a str) -> Vec<(&'a str, &'a str)> {
    [bed.env_via(hosts), vec![("CACHE_TTL", "0")]].concat()
}

/// Joins the proxies' addresses the way `HOST` lists a cluster's nodes.
fn hosts_of(proxies: &[IdleTimeoutProxy]) -> String {
    let addresses: Vec<&str> = proxies.iter().map(|p| p.address.as_str()).collect();
    addresses.join(",")
}

/// The closes the proxies have made so far, together.
fn closes(proxies: &[IdleTimeoutProxy]) -> u64 {
    proxies.iter().map(IdleTimeoutProxy::closes).sum()
}

/// Calls the door and returns the status and body; a call that gets no answer is status 0.
async fn call(client: &reqwest::Client, url: &str) -> (u16, String) {
    match client.get(url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(error) => (0, format!("no answer: {error}")),
    }
}

/// One call per node, so that every node's pool holds a connection before the first freeze.
/// Searches take turns across the nodes, so `nodes` calls reach each once.
async fn warm_up(client: &reqwest::Client, door: &Door<'_>, nodes: usize) {
    for _ in 0..nodes {
        let (status, body) = call(client, &door.url).await;
        assert_eq!(
            status, 200,
            "{}: the call before any freeze: {body}",
            door.name
        );
    }
}

/// Freezes the door past the proxies' idle timeout, then thaws and calls it as `order` says.
async fn round(
    client: &reqwest::Client,
    door: &Door<'_>,
    proxies: &[IdleTimeoutProxy],
    number: usize,
) -> Round {
    let (close, order) = (close_of(number), order_of(number));
    proxies.iter().for_each(|proxy| proxy.close_with(close));
    let before = closes(proxies);
    send_signal(door.pid, "STOP");
    let stopped = wait_stopped(door.pid).await;
    tokio::time::sleep(FREEZE).await;
    // Read while still frozen: only these closes can have met the door asleep.
    let closed = closes(proxies) - before;
    let frozen = stopped && is_stopped(door.pid);
    let (status, body, latency) = thaw_and_call(client, door, order).await;
    Round {
        number,
        close,
        order,
        frozen,
        closes: closed,
        status,
        latency,
        body,
    }
}

/// Whether process `pid` is stopped (state `T` in `/proc/PID/stat`), as SIGSTOP leaves it.
fn is_stopped(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses and may hold anything.
    let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
    state.is_some_and(|state| state.starts_with('T'))
}

/// Waits up to 1 s for process `pid` to stop: kill(1) returns before the signal has taken
/// effect. Whether it stopped.
async fn wait_stopped(pid: u32) -> bool {
    for _ in 0..100 {
        if is_stopped(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Thaws the frozen door and calls it, in `order`: the status, the body, and the time from the
/// thaw to the answer.
async fn thaw_and_call(
    client: &reqwest::Client,
    door: &Door<'_>,
    order: Order,
) -> (u16, String, Duration) {
    let calling = {
        let (client, url) = (client.clone(), door.url.clone());
        async move { call(&client, &url).await }
    };
    match order {
        Order::ThawThenCall => {
            send_signal(door.pid, "CONT");
            let thawed = Instant::now();
            let (status, body) = calling.await;
            (status, body, thawed.elapsed())
        }
        Order::CallThenThaw => {
            let waiting = tokio::spawn(calling);
            tokio::time::sleep(REACH).await;
            send_signal(door.pid, "CONT");
            let thawed = Instant::now();
            let (status, body) = waiting.await.unwrap();
            (status, body, thawed.elapsed())
        }
    }
}

/// Every round on `door`, each printed as it ends.
async fn rounds(door: &Door<'_>, proxies: &[IdleTimeoutProxy]) -> Vec<Round> {
    let client = reqwest::Client::builder()
        .timeout(CALL_LIMIT)
        .build()
        .unwrap();
    warm_up(&client, door, proxies.len()).await;
    let mut rounds = Vec::new();
    for number in 1..=ROUNDS {
        let round = round(&client, door, proxies, number).await;
        println!(
            "{}, {} node(s): round {:2}, {:?}, {:?}: {} pooled connection(s) closed while frozen; {} in {:.1} ms",
            door.name,
            proxies.len(),
            round.number,
            round.close,
            round.order,
            round.closes,
            round.status,
            round.latency.as_secs_f64() * 1000.0
        );
        rounds.push(round);
    }
    rounds
}

/// The numbers of the rounds in which `what` is true.
fn rounds_where(rounds: &[Round], what: impl Fn(&Round) -> bool) -> Vec<usize> {
    rounds
        .iter()
        .filter(|r| what(r))
        .map(|r| r.number)
        .collect()
}

/// Every round answered 200 with every observation, after at least one pooled connection was
/// closed under the frozen door.
fn check(door: &Door<'_>, rounds: &[Round]) {
    let name = door.name;
    let failed: Vec<String> = rounds
        .iter()
        .filter(|r| r.status != 200 || !r.body.contains(r#""total":3"#))
        .map(|r| {
            let (number, close, order) = (r.number, r.close, r.order);
            format!(
                "round {number} ({close:?}, {order:?}): {} {}",
                r.status, r.body
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{name}: {} of {ROUNDS} calls after a thaw failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    // Answers prove nothing unless a connection died under the frozen door in every round.
    let awake = rounds_where(rounds, |r| !r.frozen);
    assert!(
        awake.is_empty(),
        "{name}: in rounds {awake:?} the door was not frozen when the proxy's closes were counted"
    );
    let unclosed = rounds_where(rounds, |r| r.closes == 0);
    assert!(
        unclosed.is_empty(),
        "{name}: in rounds {unclosed:?} the proxy closed no connection while the door was \
         frozen, so they tested nothing"
    );
}

/// The Knative door, a real process, given `proxies` as its nodes: every round.
async fn knative(bed: &Bed, proxies: &[IdleTimeoutProxy]) {
    let hosts = hosts_of(proxies);
    let server = Server::start(KNATIVE, port_variable(KNATIVE), &door_env(bed, &hosts)).await;
    let door = Door {
        name: "knative",
        pid: server.pid(),
        url: format!("{}/?format=buckets", server.base),
    };
    check(&door, &rounds(&door, proxies).await);
}

/// The Lambda door under cargo-lambda's emulator, given `proxies` as its nodes: every round,
/// freezing the function process (the bootstrap), as Lambda freezes it, not the emulator.
async fn lambda(bed: &Bed, proxies: &[IdleTimeoutProxy]) {
    let hosts = hosts_of(proxies);
    let emulator = Emulator::start(&door_env(bed, &hosts)).await;
    let door = Door {
        name: "lambda",
        pid: emulator.function_pid(),
        url: format!("{}?format=buckets", emulator.function_url()),
    };
    check(&door, &rounds(&door, proxies).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_knative_door_answers_at_once_after_a_freeze() {
    let bed = Bed::new("freeze-knative", &OBSERVATIONS).await;
    knative(&bed, &proxies(&[es_host()]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_door_answers_at_once_after_a_freeze() {
    let bed = Bed::new("freeze-lambda", &OBSERVATIONS).await;
    lambda(&bed, &proxies(&[es_host()]).await).await;
}

/// The index on the test cluster, and one proxy per node.
async fn on_the_cluster(label: &str) -> (Bed, Vec<IdleTimeoutProxy>) {
    let urls = cluster_urls();
    assert_eq!(urls.len(), 3, "a cluster of three nodes: {urls:?}");
    let index = TestIndex::create_on(&urls[0], label).await;
    let bed = Bed::on(index, &OBSERVATIONS).await;
    let hosts: Vec<String> = urls.iter().map(|url| host_of(url)).collect();
    (bed, proxies(&hosts).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the three-node cluster of tests/run's cluster step (TEST_ES_CLUSTER_URL)"]
async fn the_knative_door_answers_at_once_after_a_freeze_with_several_nodes() {
    let (bed, proxies) = on_the_cluster("freeze-cluster-knative").await;
    knative(&bed, &proxies).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the three-node cluster of tests/run's cluster step (TEST_ES_CLUSTER_URL)"]
async fn the_lambda_door_answers_at_once_after_a_freeze_with_several_nodes() {
    let (bed, proxies) = on_the_cluster("freeze-cluster-lambda").await;
    lambda(&bed, &proxies).await;
}
