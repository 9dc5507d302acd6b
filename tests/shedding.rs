//! Load shedding on the doors as real processes: with `MAX_IN_FLIGHT=4` and the real
//! Elasticsearch slowed by a proxy, twenty calls at once get four answers and sixteen 503s at
//! once, while `/healthz` and `/metrics` keep answering and count what was shed.

mod support;

use std::time::Duration;

use support::bed::Bed;
use support::doors::{KNATIVE, KUBELESS, port_variable};
use support::server::{Server, calls_in_flight, delaying_proxy};
use support::{error_type, es_host, fetch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How long the proxy holds each connection to Elasticsearch: no search can answer sooner, so
/// an answer that comes sooner did not wait for one.
const SLOW: Duration = Duration::from_secs(2);

/// The calls the door may have in flight at once.
const LIMIT: usize = 4;

/// The calls sent at once.
const CALLS: usize = 20;

/// One call's answer, and how long after it was sent the answer came.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
    after: Duration,
}

/// `count` calls for the buckets, sent at once.
fn send_at_once(base: &str, count: usize) -> JoinSet<Answer> {
    let client = reqwest::Client::builder()
        .timeout(SLOW * 10)
        .build()
        .unwrap();
    let mut calls = JoinSet::new();
    for _ in 0..count {
        let request = client.get(format!("{base}/?format=buckets"));
        calls.spawn(async move {
            let sent = Instant::now();
            let response = request.send().await.unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            Answer {
                status: response.status().as_u16(),
                retry_after,
                body: response.text().await.unwrap(),
                after: sent.elapsed(),
            }
        });
    }
    calls
}

/// The next `count` answers, in the order they come.
async fn next_answers(calls: &mut JoinSet<Answer>, count: usize) -> Vec<Answer> {
    let mut answers = Vec::new();
    while answers.len() < count {
        match calls.join_next().await {
            Some(answer) => answers.push(answer.unwrap()),
            None => break,
        }
    }
    answers
}

/// The value of the sample `name` (with its labels) in the door's `/metrics`.
async fn metric(base: &str, name: &str) -> u64 {
    let (status, _, text) = fetch("GET", &format!("{base}/metrics")).await;
    assert_eq!(status, 200, "/metrics is never shed: {text}");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

/// Twenty calls at once to `binary` with `MAX_IN_FLIGHT=4`, Elasticsearch slowed and the cache
/// off (so no call rides on another's search). `label` names the test's index.
async fn four_answered_and_sixteen_shed(binary: &str, label: &str) {
    let bed = Bed::new(label, &[(Duration::from_secs(60), 70.0)]).await;
    let slow_es = delaying_proxy(es_host(), SLOW).await;
    let limit = LIMIT.to_string();
    let more = [("MAX_IN_FLIGHT", limit.as_str()), ("CACHE_TTL", "0")];
    let env = [bed.env_via(&slow_es), more.to_vec()].concat();
    let door = Server::start(binary, port_variable(binary), &env).await;

    let mut calls = send_at_once(&door.base, CALLS);
    // The calls over the limit are answered first, each before any search could have answered.
    let shed = next_answers(&mut calls, CALLS - LIMIT).await;
    for answer in &shed {
        assert_eq!(answer.status, 503, "{shed:#?}");
        assert!(
            answer.after < SLOW,
            "answered at once, not queued: {shed:#?}"
        );
        assert_eq!(answer.retry_after.as_deref(), Some("1"), "{answer:?}");
        assert_eq!(error_type(&answer.body, 503), "overloaded", "{answer:?}");
        assert!(answer.body.contains("MAX_IN_FLIGHT=4"), "{answer:?}");
    }
    println!(
        "{} calls shed, the slowest answered after {:?}",
        shed.len(),
        shed.iter().map(|a| a.after).max().unwrap_or_default()
    );

    // With the four still in flight, the probe and the scraper are answered.
    assert_eq!(
        calls.len(),
        LIMIT,
        "four calls are still waiting for their search"
    );
    for _ in 0..5 {
        let (status, _, body) = fetch("GET", &format!("{}/healthz", door.base)).await;
        assert_eq!(
            (status, body.as_str()),
            (200, "ok\n"),
            "/healthz is never shed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let shed_total = "function_calls_shed_total{method=\"GET\"}";
    assert_eq!(metric(&door.base, shed_total).await, 16);
    assert_eq!(
        calls_in_flight(&door.base).await,
        LIMIT as u64,
        "the four were in flight all along"
    );

    let answered = next_answers(&mut calls, LIMIT).await;
    for answer in &answered {
        assert_eq!(answer.status, 200, "{answered:#?}");
        assert!(answer.body.contains("\"total\":1"), "{answer:?}");
    }
    // Every shed call is a call that failed, in Kubeless's own metrics too.
    let calls_total = "function_calls_total{method=\"GET\"}";
    let failures_total = "function_failures_total{method=\"GET\"}";
    assert_eq!(metric(&door.base, calls_total).await, CALLS as u64);
    assert_eq!(metric(&door.base, failures_total).await, 16);

    // The answered calls gave their places back: four more at once are all answered.
    let again = next_answers(&mut send_at_once(&door.base, LIMIT), LIMIT).await;
    assert!(again.iter().all(|a| a.status == 200), "{again:#?}");
    assert_eq!(metric(&door.base, shed_total).await, 16);
}

#[tokio::test]
async fn kubeless_answers_four_and_sheds_sixteen_at_once() {
    four_answered_and_sixteen_shed(KUBELESS, "shedding-kubeless").await;
}

#[tokio::test]
async fn knative_answers_four_and_sheds_sixteen_at_once() {
    four_answered_and_sixteen_shed(KNATIVE, "shedding-knative").await;
}
