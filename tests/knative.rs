//! The Knative door as a real process: the CLI's answer, a clean drain on SIGTERM, CloudEvents
//! and labelled JSON logs.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::bed::Bed;
use support::doors::KNATIVE;
use support::server::{Server, delaying_proxy, wait_calls_in_flight};
use support::{CALL_LINES, cli_output, error_type, es_host, fetch, without_took};

#[tokio::test]
async fn answers_as_the_cli_does() {
    let bed = Bed::new(
        "knative",
        &[
            (Duration::from_secs(600), 64.2),
            (Duration::from_secs(1200), 66.1),
        ],
    )
    .await;
    let door = bed.door(KNATIVE).await;
    let (status, content_type, body) = fetch("GET", &door.base).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        without_took(answer),
        without_took(cli_output(&bed.index.name))
    );
}

#[tokio::test]
async fn sigterm_drains_the_request_in_flight_then_exits_0() {
    let bed = Bed::new("knative-drain", &[]).await;
    let slow_es = delaying_proxy(es_host(), Duration::from_secs(3)).await;
    let mut door = Server::start(KNATIVE, "PORT", &bed.env_via(&slow_es)).await;

    let url = format!("{}/", door.base);
    let in_flight = tokio::spawn(async move { fetch("GET", &url).await });
    // The signal comes once the door holds the call, waiting on its slowed Elasticsearch
    // (3 s): its in-flight gauge says so.
    assert!(
        wait_calls_in_flight(&door.base, 1, Duration::from_secs(2)).await,
        "the call did not reach the door within 2 s; its log:\n{}",
        door.log()
    );
    door.signal("TERM");
    let signalled = Instant::now();

    let mut refused = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", door.port)).is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "the door still accepts new connections after SIGTERM"
    );
    let refused_after = signalled.elapsed();

    let (status, _, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "the request in flight must complete: {body}");
    let answered_after = signalled.elapsed();
    let code = door.wait_exit(Duration::from_secs(10)).await;
    println!(
        "SIGTERM: new connections refused after {refused_after:?}; the request in flight \
         answered {status} after {answered_after:?}; exit status {code:?} after {:?}",
        signalled.elapsed()
    );
    assert_eq!(code, Some(0), "log:\n{}", door.log());
}

#[tokio::test]
async fn an_idle_door_exits_0_on_sigterm() {
    let mut door = Server::start(KNATIVE, "PORT", &[("HOST", "127.0.0.1:1")]).await;
    let started = Instant::now();
    door.signal("TERM");
    let code = door.wait_exit(Duration::from_secs(10)).await;
    eprintln!("idle door exited {:?} after {:?}", code, started.elapsed());
    assert_eq!(code, Some(0), "log:\n{}", door.log());
}

#[tokio::test]
async fn cloud_events_in_both_modes_get_a_binary_reply() {
    let bed = Bed::new("knative-ce", &[(Duration::from_secs(600), 70.0)]).await;
    // With each call's `call` line, which is logged at debug.
    let door = bed
        .door_with(KNATIVE, &[("K_SERVICE", "wx"), ("RUST_LOG", CALL_LINES)])
        .await;
    let expected = without_took(cli_output(&bed.index.name));
    let client = reqwest::Client::new();

    let binary = client
        .post(&door.base)
        .header("ce-specversion", "1.0")
        .header("ce-type", "dev.knative.sources.ping")
        .header("ce-source", "/apis/v1/namespaces/default/pingsources/wx")
        .header("ce-id", "ping-1")
        .header("content-type", "application/json")
        .body("{}");
    let structured = client.post(&door.base).header("content-type", "application/cloudevents+json").body(
        r#"{"specversion":"1.0","type":"dev.knative.sources.ping","source":"/ping","id":"ping-2","datacontenttype":"application/json","data":{}}"#,
    );
    for request in [binary, structured] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["ce-type"], "dev.wxstats.histogram");
        assert_eq!(headers["ce-source"], "/wx");
        assert_eq!(headers["ce-specversion"], "1.0");
        assert!(!headers["ce-id"].is_empty() && headers["ce-id"] != "ping-1");
        let body: Value = response.json().await.unwrap();
        assert_eq!(without_took(body), expected);
    }

    let malformed = client
        .post(&door.base)
        .header("ce-specversion", "1.0")
        .header("ce-type", "t")
        .header("ce-source", "/s");
    let response = malformed.send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        error_type(&response.text().await.unwrap(), 400),
        "invalid_cloudevent"
    );

    let log = door.log();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // Each line lists every span it was written in: the service's, and a call's own.
    let in_service = |line: &Value| {
        let spans = line["spans"].as_array().cloned().unwrap_or_default();
        spans.iter().any(|span| span["K_SERVICE"] == "wx")
    };
    let labelled = lines.iter().filter(|l| in_service(l)).count();
    assert!(
        labelled >= 3,
        "expected the start line and the three calls to carry K_SERVICE=wx:\n{log}"
    );
}

/// The one image's entry point, `wx-stats-serve`, with no platform's variables serves plain
/// HTTP as the Knative door does, but logs as itself: its start line names the `http` door,
/// never a Knative one.
#[tokio::test]
async fn the_one_images_plain_http_mode_logs_as_itself() {
    let bed = Bed::new("serve-plain", &[(Duration::from_secs(600), 64.2)]).await;
    let serve = Server::start(env!("CARGO_BIN_EXE_wx-stats-serve"), "PORT", &bed.env()).await;
    let (status, _, _) = fetch("GET", &serve.base).await;
    assert_eq!(status, 200);
    let log = serve.log();
    let start = log
        .lines()
        .find(|line| line.contains("door starting"))
        .unwrap_or_else(|| panic!("no start line in:\n{log}"));
    assert!(start.contains("\"http door starting\""), "{start}");
    assert!(
        !log.contains("knative door") && !log.contains("K_SERVICE"),
        "the plain HTTP door logged as Knative's:\n{log}"
    );
}
