//! The Knative door behind Knative's own queue-proxy (v0.50.0, a real process started as a
//! revision's pod starts it) and the real Elasticsearch: the door answers through it as it does
//! directly, the kubelet's probe follows the door, knative/service.yaml's concurrency and
//! timeout settings agree with the queue-proxy's, the pod stops as Kubernetes stops it without
//! losing a request, HTTP/2 reaches the door as h2c, and both count the same calls.
//!
//! The queue-proxy binds fixed ports, so these tests take turns (support::queue_proxy).

mod support;

use std::process::Command;
use std::time::Duration;

use support::bed::Bed;
use support::doors::KNATIVE;
use support::process::Process;
use support::queue_proxy::{ADMIN_PORT, QueueProxy, Revision, sum_of};
use support::server::{Server, recording_proxy, slow_requests_proxy};
use support::{error_type, es_host, fetch};
use tokio::task::JoinSet;
use tokio::time::Instant;

#[path = "parity/normalise.rs"]
mod normalise;
use normalise::{NORMALISED, normalise};
#[path = "parity/corpus.rs"]
mod corpus;
use corpus::{Answer, Case, corpus, diff, parity_bed};

/// A revision's pod: the door, and the queue-proxy in front of it.
struct Pod {
    /// Dropped first: nothing may be left to send to the door.
    queue: QueueProxy,
    /// The Knative door, on the container's port.
    door: Server,
}

impl Pod {
    /// The door with `bed`'s index behind `es`, the revision's settings and then `more` (which
    /// win), and the revision's queue-proxy in front of it.
    async fn start(bed: &Bed, revision: &Revision, es: &str, more: &[(&str, &str)]) -> Pod {
        let door_env = revision.door_env();
        let mut env = bed.env_via(es);
        env.extend(door_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        env.extend(more);
        let door = Server::start(KNATIVE, "PORT", &env).await;
        let queue = QueueProxy::start(revision, door.port).await;
        Pod { queue, door }
    }

    /// The door's `/metrics` sample `name`, summed over its labels, asked of the door itself.
    async fn door_metric(&self, name: &str) -> f64 {
        let (_, _, text) = fetch("GET", &format!("{}/metrics", self.door.base)).await;
        sum_of(&text, name)
    }
}

/// A bed with a few observations, for tests that need answers rather than particular ones.
async fn small_bed(label: &str) -> Bed {
    let observations = [
        (Duration::from_secs(600), 64.2),
        (Duration::from_secs(1200), 66.1),
    ];
    Bed::new(label, &observations).await
}

// ---- parity ---------------------------------------------------------------------------------

/// Response headers the queue-proxy adds to the door's answers by design, left out of the
/// comparison. None: v0.50.0's reverse proxy passes the door's headers on (spelt in Go's
/// canonical case, which HTTP ignores) and adds none to an answer the door gave. The only ones
/// it may rewrite, `date` and `content-length`, parity leaves out already
/// (`normalise::HEADERS_NOT_COMPARED`). A header it began to add would fail the test until
/// named here.
const ADDED_BY_QUEUE_PROXY: [&str; 0] = [];

/// Parity cases that make no sense through the queue-proxy. None: it answers a request itself
/// only when it carries the kubelet's or Knative's probe headers, which no case sends, so
/// `/healthz`, `/metrics` and OPTIONS reach the door as every other path does.
const NOT_THROUGH_THE_QUEUE_PROXY: [&str; 0] = [];

/// `answer` without the headers in [`ADDED_BY_QUEUE_PROXY`].
fn without_added_headers(mut answer: Answer) -> Answer {
    answer
        .headers
        .retain(|name, _| !ADDED_BY_QUEUE_PROXY.contains(&name.as_str()));
    answer
}

#[tokio::test]
async fn every_parity_case_answers_through_the_queue_proxy_as_the_door_does() {
    let bed = parity_bed("queue-proxy-parity").await;
    let pod = Pod::start(&bed, &Revision::from_service_yaml(), &es_host(), &[]).await;
    for (field, why) in NORMALISED {
        println!("normalised before comparing: {field}: {why}");
    }
    let corpus = corpus();
    let cases: Vec<&Case> = corpus
        .cases
        .iter()
        .filter(|case| !NOT_THROUGH_THE_QUEUE_PROXY.contains(&case.name.as_str()))
        .collect();
    let mut failures = Vec::new();
    for case in &cases {
        let direct = case.send(&pod.door.base, &bed.index.name).await;
        let through = without_added_headers(case.send(&pod.queue.base, &bed.index.name).await);
        if through != direct {
            failures.push(format!(
                "{}: status {} vs {}, content type {:?} vs {:?}\nheaders {:?}\n     vs {:?}\n{}",
                case.name,
                through.status,
                direct.status,
                through.content_type,
                direct.content_type,
                through.headers,
                direct.headers,
                diff(&direct.body, &through.body)
            ));
        }
    }
    println!(
        "{} of {} cases through the queue-proxy, {} as the door answers them directly",
        cases.len(),
        corpus.cases.len(),
        cases.len() - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} cases differ through the queue-proxy (first: through it, then direct):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---- readiness ------------------------------------------------------------------------------

#[tokio::test]
async fn the_kubelets_probe_is_ready_while_the_door_is_up_and_503_once_it_has_stopped() {
    let bed = small_bed("queue-proxy-ready").await;
    let mut pod = Pod::start(&bed, &Revision::from_service_yaml(), &es_host(), &[]).await;
    assert_eq!(pod.queue.probe().await, (200, "queue".to_string()));

    pod.door.signal("TERM");
    let code = pod.door.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "the idle door exits 0:\n{}", pod.door.log());
    // The queue-proxy now runs the revision's readinessProbe against a closed port: with no
    // periodSeconds it retries for 10 s before it answers.
    let (status, _) = pod.queue.probe().await;
    assert_eq!(
        status,
        503,
        "the probe must fail once the door is gone; the queue-proxy's log:\n{}",
        pod.queue.process.log()
    );
}

// ---- concurrency ----------------------------------------------------------------------------

/// How long the proxy in front of Elasticsearch holds each search: calls pile up behind it.
const SLOW_SEARCH: Duration = Duration::from_secs(1);

/// Status, content type and body of each of `count` calls sent at once to `base`.
async fn at_once(base: &str, count: usize) -> Vec<(u16, String, String)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut calls = JoinSet::new();
    for _ in 0..count {
        let request = client.get(format!("{base}/?format=buckets"));
        calls.spawn(async move { support::read(request.send().await.unwrap()).await });
    }
    calls.join_all().await
}

/// A pod whose searches each take [`SLOW_SEARCH`], with the cache off so that every call
/// makes its own search, and `more` for the door.
async fn slow_pod(bed: &Bed, revision: &Revision, more: &[(&str, &str)]) -> Pod {
    let slow_es = slow_requests_proxy(es_host(), SLOW_SEARCH).await;
    let more = [&[("CACHE_TTL", "0")], more].concat();
    Pod::start(bed, revision, &slow_es, &more).await
}

#[tokio::test]
async fn three_times_container_concurrency_at_once_are_all_answered_and_none_shed() {
    let bed = small_bed("queue-proxy-concurrency").await;
    let revision = Revision::from_service_yaml();
    let pod = slow_pod(&bed, &revision, &[]).await;
    let calls = 3 * revision.container_concurrency;

    let answers = at_once(&pod.queue.base, calls).await;
    let answered = answers
        .iter()
        .filter(|(status, _, _)| *status == 200)
        .count();
    let shed = pod.door_metric("function_calls_shed_total").await;
    println!(
        "containerConcurrency {}, MAX_IN_FLIGHT {}: {calls} calls at once, {answered} answered \
         200, {shed} shed by the door",
        revision.container_concurrency,
        revision.env("MAX_IN_FLIGHT")
    );
    let others: Vec<_> = answers
        .iter()
        .filter(|(status, _, _)| *status != 200)
        .collect();
    assert!(
        others.is_empty(),
        "{} calls not answered 200, e.g. {:?}",
        others.len(),
        others.first()
    );
    assert_eq!(
        shed, 0.0,
        "the door shed calls the queue-proxy queued for it"
    );
    assert_eq!(
        pod.door_metric("function_calls_total").await,
        calls as f64,
        "every call reached the door"
    );
}

/// Whether `body` is the door's JSON `overloaded` error (not the queue-proxy's plain text).
fn is_overloaded(body: &str) -> bool {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    json["error"]["type"] == "overloaded"
}

#[tokio::test]
async fn max_in_flight_below_container_concurrency_turns_calls_into_503_overloaded() {
    let bed = small_bed("queue-proxy-wrong-limit").await;
    let revision = Revision::from_service_yaml();
    // The wrong setting: the door takes half of what the queue-proxy lets through.
    let half = (revision.container_concurrency / 2).to_string();
    let pod = slow_pod(&bed, &revision, &[("MAX_IN_FLIGHT", &half)]).await;
    let calls = revision.container_concurrency;

    let answers = at_once(&pod.queue.base, calls).await;
    let overloaded = answers
        .iter()
        .filter(|(status, _, body)| *status == 503 && is_overloaded(body))
        .count();
    let answered = answers
        .iter()
        .filter(|(status, _, _)| *status == 200)
        .count();
    println!(
        "containerConcurrency {calls}, MAX_IN_FLIGHT {half}: {calls} calls at once, {answered} \
         answered 200, {overloaded} answered 503 overloaded by the door"
    );
    let statuses: Vec<u16> = answers.iter().map(|(status, _, _)| *status).collect();
    assert!(overloaded > 0, "no call was shed; statuses: {statuses:?}");
    assert_eq!(
        answered + overloaded,
        calls,
        "every call is answered or shed"
    );
    assert_eq!(
        pod.door_metric("function_calls_shed_total").await,
        overloaded as f64
    );
}

// ---- stopping -------------------------------------------------------------------------------

/// How long the steady load runs.
const LOAD_FOR: Duration = Duration::from_secs(6);
/// When, after the load starts, Kubernetes stops the pod.
const STOP_AT: Duration = Duration::from_secs(2);
/// Clients sending one call after another, each pausing [`PAUSE`] between calls.
const LOAD_CLIENTS: usize = 4;
/// The pause between one client's calls.
const PAUSE: Duration = Duration::from_millis(50);
/// The most calls the load sends, should the calls come faster than expected: each resets the
/// queue-proxy's 30 s quiet timer, so the load must end for the drain to end.
const MOST_CALLS: usize = 1000;

/// How one call through the queue-proxy ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Answered 200.
    Ok,
    /// The connection was refused: the queue-proxy no longer accepts.
    Refused,
    /// Anything else: another status, a reset, no answer.
    Other(String),
}

/// One call on a connection of its own (so a refusal shows at connect, never on a kept-alive
/// connection closed under it), and how it ended.
async fn call_once(client: &reqwest::Client, base: &str) -> Outcome {
    match client.get(format!("{base}/")).send().await {
        Ok(response) if response.status() == 200 => match response.text().await {
            Ok(_) => Outcome::Ok,
            Err(error) => Outcome::Other(format!("body cut off: {error}")),
        },
        Ok(response) => Outcome::Other(format!(
            "{}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        )),
        Err(error) if error.is_connect() => Outcome::Refused,
        Err(error) => Outcome::Other(format!("{error:?}")),
    }
}

/// A client with no pool, so every call opens its own connection.
fn unpooled() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// [`LOAD_CLIENTS`] clients calling `base` for [`LOAD_FOR`] or [`MOST_CALLS`] calls: each
/// call's outcome and when it was sent.
fn steady_load(base: &str) -> JoinSet<Vec<(Instant, Outcome)>> {
    let started = Instant::now();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..LOAD_CLIENTS {
        let (base, sent, client) = (base.to_string(), sent.clone(), unpooled());
        clients.spawn(async move {
            let mut outcomes = Vec::new();
            while started.elapsed() < LOAD_FOR
                && sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < MOST_CALLS
            {
                let at = Instant::now();
                outcomes.push((at, call_once(&client, &base).await));
                tokio::time::sleep(PAUSE).await;
            }
            outcomes
        });
    }
    clients
}

/// The preStop hook Knative gives the user container: `GET :8022/wait-for-drain` on the
/// queue-proxy, which answers once its drain is over. Its status.
async fn pre_stop_hook() -> reqwest::Result<u16> {
    let url = format!("http://127.0.0.1:{ADMIN_PORT}/wait-for-drain");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    Ok(client.get(url).send().await?.status().as_u16())
}

/// Calls to `base` one after another, at most 20, until one is refused at connect.
async fn calls_until_refused(base: &str) -> Vec<Outcome> {
    let client = unpooled();
    let mut outcomes = Vec::new();
    for _ in 0..20 {
        let outcome = call_once(&client, base).await;
        let refused = outcome == Outcome::Refused;
        outcomes.push(outcome);
        if refused {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outcomes
}

#[tokio::test]
async fn the_pod_stops_as_kubernetes_stops_it_without_losing_a_call() {
    let bed = small_bed("queue-proxy-stop").await;
    let mut pod = Pod::start(&bed, &Revision::from_service_yaml(), &es_host(), &[]).await;
    let load = steady_load(&pod.queue.base);

    // Pod deletion: the queue-proxy gets SIGTERM, while the door's container runs its preStop
    // hook, the GET Knative injects; the door gets SIGTERM only when the hook returns.
    tokio::time::sleep(STOP_AT).await;
    pod.queue.process.signal("TERM");
    let stopped = Instant::now();
    let pre_stop = tokio::spawn(pre_stop_hook());
    let outcomes: Vec<(Instant, Outcome)> = load.join_all().await.into_iter().flatten().collect();
    let pre_stop = pre_stop.await.unwrap();
    let drained_after = stopped.elapsed();
    assert!(
        matches!(pre_stop, Ok(200)),
        "preStop /wait-for-drain: {pre_stop:?}"
    );

    // The queue-proxy has drained: calls now find it closed, and are never half-served.
    let late = calls_until_refused(&pod.queue.base).await;
    pod.door.signal("TERM");
    let door_exit = pod.door.wait_exit(Duration::from_secs(40)).await;
    let queue_exit = pod.queue.process.wait_exit(Duration::from_secs(40)).await;

    let after_stop = outcomes.iter().filter(|(at, _)| *at >= stopped).count();
    let all: Vec<&Outcome> = outcomes.iter().map(|(_, o)| o).chain(&late).collect();
    let ok = all.iter().filter(|o| ***o == Outcome::Ok).count();
    let refused = late.iter().filter(|o| **o == Outcome::Refused).count();
    let others: Vec<&&Outcome> = all
        .iter()
        .filter(|o| matches!(***o, Outcome::Other(_)))
        .collect();
    println!(
        "sent {}: {ok} answered 200 ({after_stop} of the load sent after the queue-proxy's \
         SIGTERM), {refused} refused at connect after it stopped, {} others; preStop returned \
         after {drained_after:?}; exits: queue-proxy {queue_exit:?}, door {door_exit:?}",
        all.len(),
        others.len()
    );
    let first = &others[..others.len().min(3)];
    assert!(
        others.is_empty(),
        "{} calls lost, the first: {first:?}",
        others.len()
    );
    let refused_in_load = outcomes.iter().filter(|(_, o)| *o == Outcome::Refused);
    assert_eq!(refused_in_load.count(), 0, "refused while still draining");
    assert!(after_stop > 0, "the load must go on after the SIGTERM");
    assert!(refused > 0, "the queue-proxy still accepts: {late:?}");
    assert_eq!(door_exit, Some(0), "the door's log:\n{}", pod.door.log());
    assert_eq!(
        queue_exit,
        Some(0),
        "the queue-proxy's log:\n{}",
        pod.queue.process.log()
    );
}

// ---- timeouts -------------------------------------------------------------------------------

/// The revision's timeout in these tests, given to the queue-proxy and the door alike.
const TIMEOUT_SECONDS: u64 = 3;

/// The answer to one call through a pod whose revision times out after [`TIMEOUT_SECONDS`],
/// with Elasticsearch slower than that and the door's `REVISION_TIMEOUT_SECONDS` as `door`.
async fn timed_out_call(label: &str, door: &str) -> (u16, String, String) {
    let bed = small_bed(label).await;
    let mut revision = Revision::from_service_yaml();
    revision.timeout_seconds = TIMEOUT_SECONDS;
    let slower = Duration::from_secs(TIMEOUT_SECONDS + 2);
    let slow_es = slow_requests_proxy(es_host(), slower).await;
    let more = [("REVISION_TIMEOUT_SECONDS", door), ("CACHE_TTL", "0")];
    let pod = Pod::start(&bed, &revision, &slow_es, &more).await;
    fetch("GET", &format!("{}/", pod.queue.base)).await
}

#[tokio::test]
async fn with_the_revisions_timeout_a_slow_search_gets_the_doors_json_504() {
    let seconds = TIMEOUT_SECONDS.to_string();
    let (status, content_type, body) = timed_out_call("queue-proxy-timeout", &seconds).await;
    println!("REVISION_TIMEOUT_SECONDS={seconds} on both: {status} {content_type} {body}");
    assert_eq!(
        (status, content_type.as_str()),
        (504, "application/json"),
        "{body}"
    );
    assert_eq!(error_type(&body, 504), "elasticsearch_timeout");

    // Without it the door waits on, and the caller gets the queue-proxy's plain text.
    let (status, content_type, body) = timed_out_call("queue-proxy-no-timeout", "").await;
    println!("REVISION_TIMEOUT_SECONDS unset on the door: {status} {content_type} {body:?}");
    assert_eq!((status, body.as_str()), (504, "request timeout"));
}

#[tokio::test]
async fn a_bad_revision_timeout_stops_the_door_with_exit_2_naming_it() {
    // "60s" is a duration to the door's other variables, but not to the queue-proxy.
    let mut command = support::command(KNATIVE);
    command
        .env_clear()
        // Should it take the value, it serves, on a port the system picks.
        .env("PORT", "0")
        .env("HOST", es_host())
        .env("REVISION_TIMEOUT_SECONDS", "60s");
    let mut door = Process::start("knative", &mut command).unwrap();
    let code = door.wait_exit(Duration::from_secs(10)).await;
    let log = door.log();
    assert_eq!(
        code,
        Some(2),
        "the exit code (None: still serving after 10 s, the value taken); its log: {log}"
    );
    // The message on stderr, besides the JSON log line on stdout.
    let said = log
        .lines()
        .any(|line| !line.starts_with('{') && line.contains("REVISION_TIMEOUT_SECONDS"));
    assert!(said, "{log}");
}

#[test]
fn service_yaml_sets_the_door_to_agree_with_the_queue_proxy() {
    let revision = Revision::from_service_yaml();
    assert_eq!(
        revision.env("REVISION_TIMEOUT_SECONDS"),
        revision.timeout_seconds.to_string(),
        "REVISION_TIMEOUT_SECONDS must equal timeoutSeconds"
    );
    let max_in_flight: usize = revision.env("MAX_IN_FLIGHT").parse().unwrap();
    assert!(
        max_in_flight >= revision.container_concurrency,
        "MAX_IN_FLIGHT {max_in_flight} is below containerConcurrency {}",
        revision.container_concurrency
    );
}

// ---- HTTP/2 ---------------------------------------------------------------------------------

/// What the HTTP/2 test asks: method, path and query, and a JSON body.
const H2_CALLS: [(&str, &str, Option<&str>); 6] = [
    ("GET", "/", None),
    ("GET", "/?format=csv", None),
    ("GET", "/?format=svg", None),
    ("POST", "/", Some(r#"{"hours":6,"interval":5}"#)),
    ("GET", "/?format=xml", None),
    ("PUT", "/", None),
];

/// The connection preface every HTTP/2 client sends first (RFC 9113 §3.4): on a cleartext
/// connection, the mark of h2c with prior knowledge.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One answer as curl saw it.
#[derive(Debug, PartialEq)]
struct CurlAnswer {
    status: u16,
    version: String,
    content_type: String,
    body: String,
}

/// `curl` with `protocol` (`--http1.1` or `--http2-prior-knowledge`) for one of [`H2_CALLS`].
/// Run off the runtime's thread: the recording proxy needs it meanwhile.
async fn curl(protocol: &'static str, base: &str, call: (&str, &str, Option<&str>)) -> CurlAnswer {
    let (method, path, body) = call;
    let mut args = vec![
        protocol.to_string(),
        "-s".into(),
        "-X".into(),
        method.into(),
        "-w".into(),
        "\n%{http_code} %{http_version} %{content_type}".into(),
        format!("{base}{path}"),
    ];
    if let Some(body) = body {
        args.extend(["-H".into(), "content-type: application/json".into()]);
        args.extend(["--data-binary".into(), body.into()]);
    }
    let output = tokio::task::spawn_blocking(move || Command::new("curl").args(&args).output())
        .await
        .unwrap()
        .expect("curl not found: install curl (7.88 or newer, with HTTP/2)");
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, written) = text.rsplit_once('\n').expect("curl's -w line");
    let mut written = written.splitn(3, ' ');
    let mut next = || written.next().unwrap_or_default().to_string();
    CurlAnswer {
        status: next().parse().unwrap_or(0),
        version: next(),
        content_type: next(),
        body: normalise("/", body),
    }
}

#[tokio::test]
async fn http2_through_the_queue_proxy_reaches_the_door_as_h2c_with_the_same_answers() {
    let bed = small_bed("queue-proxy-h2c").await;
    let revision = Revision::from_service_yaml();
    let door_env = revision.door_env();
    let mut env = bed.env();
    env.extend(door_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let door = Server::start(KNATIVE, "PORT", &env).await;
    // Between the queue-proxy and the door: every byte the queue-proxy sends, recorded.
    let (tap, sent_to_door) = recording_proxy(format!("127.0.0.1:{}", door.port)).await;
    let tap_port: u16 = tap.rsplit(':').next().unwrap().parse().unwrap();
    let queue = QueueProxy::start(&revision, tap_port).await;

    let mut h1 = Vec::new();
    for call in H2_CALLS {
        h1.push(curl("--http1.1", &queue.base, call).await);
    }
    let over_http1 = std::mem::take(&mut *sent_to_door.lock().unwrap());
    let mut h2 = Vec::new();
    for call in H2_CALLS {
        h2.push(curl("--http2-prior-knowledge", &queue.base, call).await);
    }
    let over_http2 = sent_to_door.lock().unwrap().clone();

    for ((call, one), two) in H2_CALLS.iter().zip(&h1).zip(&h2) {
        println!(
            "{} {}: HTTP/{} {} {} | HTTP/{} {} {}",
            call.0,
            call.1,
            one.version,
            one.status,
            one.content_type,
            two.version,
            two.status,
            two.content_type
        );
        assert_eq!((one.version.as_str(), two.version.as_str()), ("1.1", "2"));
        assert_eq!(
            (one.status, &one.content_type, &one.body),
            (two.status, &two.content_type, &two.body),
            "{call:?}"
        );
    }
    let has_preface = |bytes: &[u8]| bytes.windows(H2_PREFACE.len()).any(|w| w == H2_PREFACE);
    println!(
        "to the door: {} bytes for the HTTP/1.1 calls (h2c preface: {}), {} for the HTTP/2 \
         calls (h2c preface: {})",
        over_http1.len(),
        has_preface(&over_http1),
        over_http2.len(),
        has_preface(&over_http2)
    );
    assert!(
        !has_preface(&over_http1),
        "HTTP/1.1 calls went on as HTTP/1.1"
    );
    assert!(
        has_preface(&over_http2),
        "the HTTP/2 calls reached the door as h2c: {:?}",
        String::from_utf8_lossy(&over_http2[..over_http2.len().min(200)])
    );
}

// ---- metrics --------------------------------------------------------------------------------

/// The queue-proxy's count of requests it proxied (probes left out), one sample per status.
const QUEUE_PROXY_REQUESTS: &str = "kn_serving_invocation_duration_seconds_count";

#[tokio::test]
async fn the_queue_proxy_counts_the_calls_the_door_counts() {
    let bed = small_bed("queue-proxy-metrics").await;
    let pod = Pod::start(&bed, &Revision::from_service_yaml(), &es_host(), &[]).await;
    let client = reqwest::Client::new();
    let base = &pod.queue.base;
    let requests = [
        client.get(format!("{base}/")),
        client.get(format!("{base}/?format=csv")),
        client.get(format!("{base}/anything?hours=6")),
        client.post(format!("{base}/")).body("{}"),
        client.get(format!("{base}/?format=xml")),
        client.get(format!("{base}/?hours=0")),
    ];
    let sent = requests.len();
    for request in requests {
        request.send().await.unwrap().text().await.unwrap();
    }

    let door = pod.door_metric("function_calls_total").await;
    // The queue-proxy records a request just after its answer has gone: wait up to 5 s for
    // the last one.
    let mut queue = pod.queue.metric_sum(QUEUE_PROXY_REQUESTS).await;
    for _ in 0..50 {
        if queue >= door {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        queue = pod.queue.metric_sum(QUEUE_PROXY_REQUESTS).await;
    }
    println!("sent {sent}; the door's function_calls_total {door}; {QUEUE_PROXY_REQUESTS} {queue}");
    assert_eq!(queue, door, "the queue-proxy counts what the door counts");
    assert_eq!(door, sent as f64, "both counted every call");
}
