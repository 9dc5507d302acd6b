//! Input limits on the real doors: bodies, request heads, slow clients, and requests that try to
//! steer the function at another index or host.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::bed::Bed;
use support::doors::{Doors, KNATIVE, KUBELESS};
use support::server::Server;
use support::{HEADER_READ_TIMEOUT, TestIndex, error_type, read, total_hits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The two doors that serve HTTP themselves (on Lambda, the platform owns the connection).
async fn http_doors(env: &[(&str, &str)]) -> [Server; 2] {
    [
        Server::start(KUBELESS, "FUNC_PORT", env).await,
        Server::start(KNATIVE, "PORT", env).await,
    ]
}

/// Sends `request` as raw bytes and returns everything the door writes back before it closes
/// the connection (or 20 s pass).
async fn raw(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_on_every_door() {
    let doors = Doors::start(&[("HOST", "127.0.0.1:1")]).await;
    let body = format!(r#"{{"hours": 24, "pad": "{}"}}"#, "x".repeat(64 * 1024));
    let client = reqwest::Client::new();
    for (_, url) in doors.functions() {
        let response = client.post(&url).body(body.clone()).send().await.unwrap();
        let (status, _, answer) = read(response).await;
        assert_eq!(status, 413, "{url}: {answer}");
        assert_eq!(error_type(&answer, 413), "request_too_large");
    }
}

#[tokio::test]
async fn an_oversized_request_head_is_431() {
    for door in http_doors(&[("HOST", "127.0.0.1:1")]).await {
        let request = format!(
            "GET / HTTP/1.1\r\nhost: wx-stats\r\nx-padding: {}\r\n\r\n",
            "x".repeat(40 * 1024)
        );
        let answer = raw(door.port, request.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 431"),
            "{}",
            first_line(&answer)
        );
        // The door is still there for everyone else.
        let (status, _, _) = support::fetch("GET", &format!("{}/healthz", door.base)).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn a_client_that_sends_its_head_slowly_is_cut_off() {
    for door in http_doors(&[("HOST", "127.0.0.1:1")]).await {
        let mut stream = TcpStream::connect(("127.0.0.1", door.port)).await.unwrap();
        let started = Instant::now();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: wx-stats\r\n")
            .await
            .unwrap();
        // One header byte every 500 ms, for at most 30 s, until the door hangs up.
        let mut closed_after = None;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if stream.write_all(b"x").await.is_err() || peer_closed(&mut stream).await {
                closed_after = Some(started.elapsed());
                break;
            }
        }
        let closed_after = closed_after.expect("the door kept a trickling client for 30 s");
        eprintln!(
            "{}: cut off a slow client after {closed_after:?}",
            door.base
        );
        assert!(closed_after >= HEADER_READ_TIMEOUT - Duration::from_secs(1));
        assert!(closed_after < HEADER_READ_TIMEOUT + Duration::from_secs(5));
    }
}

/// Whether the door hung up: anything back (end-of-file, a reset, or the 408 it may send first)
/// within 10 ms means it did.
async fn peer_closed(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 512];
    tokio::time::timeout(Duration::from_millis(10), stream.read(&mut buffer))
        .await
        .is_ok()
}

fn first_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("(nothing)")
}

#[tokio::test]
async fn no_request_reaches_another_index_or_host() {
    let allowed = Bed::new("limits-allowed", &[(Duration::from_secs(60), 70.0)]).await;
    let private = TestIndex::create_forbidden("limits").await;
    private
        .add(&[
            (Duration::from_secs(60), 10.0),
            (Duration::from_secs(120), 11.0),
        ])
        .await;
    let mut env = allowed.env();
    env.push(("CACHE_TTL", "0"));
    let searches_before = private.searches().await;
    let (p, a) = (private.name.as_str(), allowed.index.name.as_str());
    let steering = [
        format!("index={p}"),
        format!("index={a},{p}"),
        format!("index=wx-rtbeat-*,{p}"),
        format!("index=wx-rtbeat-*%2C{p}"),
        format!("index=wx-rtbeat-x/../{p}"),
        format!("index=wx-rtbeat-x:{p}"),
        format!("index=<{p}>"),
        format!("index={a}&index={p}"),
        "index=*".to_string(),
        "index=_all".to_string(),
        "index=-wx-rtbeat-*".to_string(),
        "field=a\"}},\"query\":{\"match_all\":{}}".to_string(),
        "field=doc['x'].value".to_string(),
        "host=127.0.0.1:1".to_string(),
        "es_url=http://127.0.0.1:1".to_string(),
    ];
    for door in http_doors(&env).await {
        for query in &steering {
            let (status, _, body) = support::fetch("GET", &format!("{}/?{query}", door.base)).await;
            assert_eq!(status, 400, "?{query} was not refused: {body}");
            assert_eq!(error_type(&body, 400), "invalid_parameter", "?{query}");
        }
        // The Host header, an absolute request target and forwarding headers name other hosts:
        // the door still asks its own Elasticsearch, about its own index.
        let tricks = [
            "GET / HTTP/1.1\r\nhost: 127.0.0.1:1\r\nconnection: close\r\n\r\n".to_string(),
            "GET http://127.0.0.1:1/ HTTP/1.1\r\nhost: 127.0.0.1:1\r\nconnection: close\r\n\r\n"
                .to_string(),
            format!(
                "GET / HTTP/1.1\r\nhost: wx-stats\r\nx-forwarded-host: 127.0.0.1:1\r\n\
                 forwarded: host={p}\r\nconnection: close\r\n\r\n"
            ),
        ];
        for trick in &tricks {
            let answer = raw(door.port, trick.as_bytes()).await;
            assert!(
                answer.starts_with("HTTP/1.1 200"),
                "{}",
                first_line(&answer)
            );
            let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
            let json: Value =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
            assert_eq!(total_hits(&json), 1, "{trick:?} reached other data");
        }
    }
    assert_eq!(
        private.searches().await,
        searches_before,
        "a request searched {p}"
    );
}
