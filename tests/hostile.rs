//! Hostile clients against the Kubeless and Knative doors, each started with
//! `knative/service.yaml`'s settings (`MAX_IN_FLIGHT=100`, `REVISION_TIMEOUT_SECONDS=60`): what a
//! handful of them can make a door hold, and what everyone else sees meanwhile. Each case prints
//! its figures. The pod's memory limit there is 64 Mi; the door must stay under three quarters
//! of it, 48 MiB, whatever these clients do.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use support::bed::Bed;
use support::doors::{KNATIVE, KUBELESS};
use support::hostile::{
    Tally, closed_after, connect, get, held_connections, probe, trickle, until_held_at_most,
};
use support::load::status_kib;
use support::server::Server;
use support::{HEADER_READ_TIMEOUT, SEND_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `knative/service.yaml`'s settings.
const SERVICE: [(&str, &str); 2] = [("MAX_IN_FLIGHT", "100"), ("REVISION_TIMEOUT_SECONDS", "60")];
/// Three quarters of the pod's memory limit, in MiB.
const CEILING_MIB: f64 = 48.0;
/// Some leeway on each deadline, for a loaded machine's scheduling.
const LEEWAY: Duration = Duration::from_millis(2500);

/// One reading every 0.008 degrees from 0 to 16, within the last hour: 2,000 buckets of 0.008,
/// each holding one, so the largest answers the default `MAX_BUCKETS_SERVED` allows are as
/// large as they can be.
fn fine_readings() -> Vec<(Duration, f64)> {
    (0..2000u64)
        .map(|k| (Duration::from_secs(60 + k), 0.004 + k as f64 * 0.008))
        .collect()
}

/// The largest answer allowed, distinct for each `k`: close to 2,000 buckets each.
fn largest(format: &str, k: usize) -> String {
    let interval = 0.00802 * (1.0 + k as f64 * 1e-5);
    format!("/?hours=2&interval={interval}&format={format}")
}

async fn bed(label: &str) -> Bed {
    Bed::new(label, &fine_readings()).await
}

async fn door(bed: &Bed, binary: &str, more: &[(&str, &str)]) -> Server {
    bed.door_with(binary, &[SERVICE.to_vec(), more.to_vec()].concat())
        .await
}

fn name(binary: &str) -> &'static str {
    if binary == KUBELESS {
        "Kubeless"
    } else {
        "Knative"
    }
}

fn peak_mib(server: &Server) -> f64 {
    status_kib(server.pid(), "VmHWM") as f64 / 1024.0
}

/// A connection that sends nothing, part of a head, or part (or all) of HTTP/2's preface and
/// then nothing more, is closed within the header read timeout, on both doors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile clients: run alone by tests/run, one at a time"]
async fn stalled_connections_are_closed_within_the_header_read_timeout() {
    let bed = bed("stalled").await;
    const STARTS: [(&str, &[u8]); 4] = [
        ("nothing", b""),
        ("part of a head", b"GET / HTTP/1.1\r\nhost: do"),
        ("part of the HTTP/2 preface", b"PRI * HTTP/2.0\r\n"),
        (
            "the HTTP/2 preface and SETTINGS, then nothing",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        ),
    ];
    for binary in [KUBELESS, KNATIVE] {
        let door = door(&bed, binary, &[]).await;
        let opened = Instant::now();
        let mut streams = Vec::new();
        for (_, start) in STARTS {
            for _ in 0..25 {
                let mut stream = connect(door.port, None).await;
                stream.write_all(start).await.unwrap();
                streams.push(stream);
            }
        }
        let limit = HEADER_READ_TIMEOUT + LEEWAY;
        let closes = join_all(
            streams
                .iter_mut()
                .map(|stream| closed_after(stream, opened, limit)),
        )
        .await;
        for ((what, _), closes) in STARTS.iter().zip(closes.chunks(25)) {
            let latest = closes.iter().map(|c| c.unwrap_or(limit * 2)).max().unwrap();
            let open = closes.iter().filter(|c| c.is_none()).count();
            println!(
                "{}: 25 connections that sent {what}: {} closed, the last after {:.1} s",
                name(binary),
                25 - open,
                latest.as_secs_f64()
            );
            assert_eq!(open, 0, "{what}: {open} of 25 still open after {limit:?}");
        }
    }
}

/// Bodies sent a byte a second take no function slot while they trickle: with as many of them
/// as `MAX_IN_FLIGHT` allows calls, ordinary calls are still answered 200, and each trickle
/// gets a 408 in the error shape once its body is late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile clients: run alone by tests/run, one at a time"]
async fn trickled_bodies_hold_no_slot_and_are_answered_408() {
    let bed = bed("trickled").await;
    for binary in [KUBELESS, KNATIVE] {
        let door = door(&bed, binary, &[("MAX_IN_FLIGHT", "4")]).await;
        let body = br#"{"hours": 2, "interval": 1, "format": "csv"}"#;
        let head = format!(
            "POST / HTTP/1.1\r\nhost: door\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        let started = Instant::now();
        let trickles = (0..12).map(|_| {
            let (port, head) = (door.port, head.clone());
            tokio::spawn(async move {
                let mut stream = connect(port, None).await;
                stream.write_all(head.as_bytes()).await.unwrap();
                let limit = Duration::from_secs(20);
                let answer = trickle(&mut stream, body, Duration::from_secs(1), limit).await;
                (answer, started.elapsed())
            })
        });
        let trickles: Vec<_> = trickles.collect();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let client = reqwest::Client::new();
        let mut ordinary = Vec::new();
        for _ in 0..5 {
            let calls = (0..4).map(|_| client.get(format!("{}/?hours=2", door.base)).send());
            for answer in join_all(calls).await {
                ordinary.push(answer.unwrap().status().as_u16());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut answers = Vec::new();
        for trickle in trickles {
            answers.push(trickle.await.unwrap());
        }
        let late = answers
            .iter()
            .filter(|(answer, _)| {
                answer.starts_with("HTTP/1.1 408")
                    && answer.contains(r#""type":"body_timeout""#)
                    && answer.contains(r#""status":408"#)
            })
            .count();
        let slowest = answers.iter().map(|(_, after)| *after).max().unwrap();
        println!(
            "{}: 12 bodies trickled at 1 byte/s with MAX_IN_FLIGHT=4: {late} × 408 body_timeout, \
             the last after {:.1} s; ordinary calls meanwhile: {:?}",
            name(binary),
            slowest.as_secs_f64(),
            ordinary
        );
        assert!(
            ordinary.iter().all(|status| *status == 200),
            "ordinary calls: {ordinary:?}"
        );
        assert_eq!(late, 12, "each trickle is a 408: {:?}", answers[0].0);
        assert!(slowest < Duration::from_secs(10) + LEEWAY, "{slowest:?}");
    }
}

/// A reader that takes nothing of a large answer is disconnected within the send timeout, and
/// the door lets go of its socket and its answer: whichever deadline comes first closes it, the
/// idle timeout once the kernel has taken the whole answer (as Linux's autotuned buffers do on
/// loopback), or the send timeout while a write waits (`src/http/stall.rs`' own tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile clients: run alone by tests/run, one at a time"]
async fn readers_that_stall_are_disconnected() {
    let bed = bed("stalled-readers").await;
    for binary in [KUBELESS, KNATIVE] {
        let door = door(&bed, binary, &[]).await;
        let before = held_connections(door.port);
        let mut readers = Vec::new();
        for k in 0..50 {
            let mut stream = connect(door.port, Some(4096)).await;
            stream.write_all(&get(&largest("svg", k))).await.unwrap();
            readers.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let held = held_connections(door.port) - before;
        let limit = SEND_TIMEOUT + LEEWAY;
        let freed = until_held_at_most(door.port, before, limit).await;
        println!(
            "{}: 50 readers of ~2,000-bucket SVGs that read nothing: {held} sockets held, all \
             closed {:?} s later (send timeout {SEND_TIMEOUT:?}); the door's peak {:.1} MiB",
            name(binary),
            freed.map(|d| d.as_secs_f64() + 0.5),
            peak_mib(&door)
        );
        assert!(held >= 45, "the readers were connected: {held}");
        assert!(
            freed.is_some(),
            "stalled readers still connected after {limit:?}"
        );
        drop(readers);
    }
}

/// 3,000 connections that send nothing at all: the door's memory stays under the ceiling,
/// `/healthz` on a new connection answers within 1 s throughout, and all 3,000 are closed
/// within the header read timeout. Prints what one idle connection costs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile clients: run alone by tests/run, one at a time"]
async fn thousands_of_idle_connections() {
    let bed = bed("idle").await;
    for binary in [KUBELESS, KNATIVE] {
        let door = door(&bed, binary, &[]).await;
        let (pid, before) = (door.pid(), held_connections(door.port));
        let rss_before = status_kib(pid, "VmRSS");
        let stop = Arc::new(AtomicBool::new(false));
        let probes = tokio::spawn(probe(door.port, stop.clone()));
        let opened = Instant::now();
        let mut idle = Vec::new();
        for _ in 0..3000 {
            idle.push(connect(door.port, None).await);
        }
        let opened_in = opened.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let held = held_connections(door.port) - before;
        let per_connection = (status_kib(pid, "VmRSS") as f64 - rss_before as f64) / held as f64;
        let limit = (HEADER_READ_TIMEOUT + LEEWAY).saturating_sub(opened.elapsed());
        let closed = until_held_at_most(door.port, before, limit).await;
        let closed_at = opened.elapsed();
        stop.store(true, Ordering::SeqCst);
        let probes = probes.await.unwrap();
        println!(
            "{}: 3,000 idle connections opened in {:.1} s: {held} held, about {per_connection:.1} \
             KiB each; all closed {:.1} s after the first opened: {}; peak {:.1} MiB; /healthz: \
             {} probes, {} failed, the slowest {} ms",
            name(binary),
            opened_in.as_secs_f64(),
            closed_at.as_secs_f64(),
            closed.is_some(),
            peak_mib(&door),
            probes.sent,
            probes.failed,
            probes.worst.as_millis()
        );
        drop(idle);
        assert!(held >= 2900, "the connections were open at once: {held}");
        assert!(closed.is_some(), "idle connections still open");
        assert!(peak_mib(&door) < CEILING_MIB, "{:.1} MiB", peak_mib(&door));
        assert_eq!(probes.failed, 0, "{probes:?}");
        assert!(probes.worst < Duration::from_secs(1), "{probes:?}");
    }
}

/// Floods of 1,000 connections opened at 200 a second, each doing one slow thing: sending its
/// head a byte a second, its body a byte a second, or reading its answer a byte a second.
/// Other callers' ordinary calls are answered 200 throughout and after, `/healthz` answers,
/// and once the flood is over at most 100 of its connections are still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile clients: run alone by tests/run, one at a time"]
async fn slow_floods_leave_everyone_else_served() {
    let bed = bed("floods").await;
    let doors = [
        ("Kubeless", door(&bed, KUBELESS, &[]).await),
        ("Knative", door(&bed, KNATIVE, &[]).await),
    ];
    let floods = doors.iter().map(|(name, door)| async move {
        for kind in [Slow::Head, Slow::Body, Slow::Read] {
            flood(name, door, kind).await;
        }
    });
    join_all(floods).await;
}

#[derive(Clone, Copy, Debug)]
enum Slow {
    Head,
    Body,
    Read,
}

/// One flood of `kind` against `door`; see [`slow_floods_leave_everyone_else_served`].
async fn flood(name: &str, door: &Server, kind: Slow) {
    const CONNECTIONS: usize = 1000;
    const LASTS: Duration = Duration::from_secs(20);
    let before = held_connections(door.port);
    let stop = Arc::new(AtomicBool::new(false));
    let probes = tokio::spawn(probe(door.port, stop.clone()));
    let ordinary = tokio::spawn(ordinary_calls(door.base.clone(), stop.clone()));
    let started = Instant::now();
    let mut clients = Vec::new();
    for k in 0..CONNECTIONS {
        let port = door.port;
        clients.push(tokio::spawn(async move {
            let deadline = started + LASTS;
            slow_client(port, kind, k, deadline).await;
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let opened_in = started.elapsed();
    tokio::time::sleep(LASTS.saturating_sub(started.elapsed())).await;
    let still_open = held_connections(door.port).saturating_sub(before);
    stop.store(true, Ordering::SeqCst);
    let (probes, ordinary) = (probes.await.unwrap(), ordinary.await.unwrap());
    for client in clients {
        client.abort();
    }
    println!(
        "{} {kind:?} flood: {CONNECTIONS} opened in {:.1} s; {still_open} still open after {} s; \
         ordinary calls: {} × 200 of {}; /healthz: {} probes, {} failed, the slowest {} ms; \
         peak {:.1} MiB",
        name,
        opened_in.as_secs_f64(),
        LASTS.as_secs(),
        ordinary.0,
        ordinary.1,
        probes.sent,
        probes.failed,
        probes.worst.as_millis(),
        peak_mib(door)
    );
    assert!(still_open <= 100, "{kind:?}: {still_open} still open");
    assert_eq!(
        ordinary.0, ordinary.1,
        "{kind:?}: ordinary calls not all 200"
    );
    assert!(
        ordinary.1 >= 20,
        "{kind:?}: ordinary calls were made: {}",
        ordinary.1
    );
    assert_eq!(probes.failed, 0, "{kind:?}: {probes:?}");
    assert!(
        probes.worst < Duration::from_secs(1),
        "{kind:?}: {probes:?}"
    );
    assert!(
        peak_mib(door) < CEILING_MIB,
        "{kind:?}: {:.1} MiB",
        peak_mib(door)
    );
}

/// A client of the flood, until `deadline`.
async fn slow_client(port: u16, kind: Slow, k: usize, deadline: Instant) {
    let limit = deadline.saturating_duration_since(Instant::now());
    let second = Duration::from_secs(1);
    let mut stream = connect(port, Some(4096)).await;
    match kind {
        Slow::Head => {
            trickle(&mut stream, &get("/?hours=2"), second, limit).await;
        }
        Slow::Body => {
            let head = "POST / HTTP/1.1\r\nhost: door\r\ncontent-length: 40\r\n\r\n";
            stream.write_all(head.as_bytes()).await.unwrap();
            trickle(&mut stream, &[b' '; 40], second, limit).await;
        }
        Slow::Read => {
            stream
                .write_all(&get(&largest("svg", k % 7)))
                .await
                .unwrap();
            let mut byte = [0u8; 1];
            while Instant::now() < deadline {
                if !matches!(stream.read(&mut byte).await, Ok(1)) {
                    return;
                }
                tokio::time::sleep(second).await;
            }
        }
    }
}

/// An ordinary caller's calls, one every 200 ms until `stop`: (answered 200, sent).
async fn ordinary_calls(base: String, stop: Arc<AtomicBool>) -> (u64, u64) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (ok, sent) = (Tally::default(), Tally::default());
    while !stop.load(Ordering::SeqCst) {
        let answer = client.get(format!("{base}/?hours=2")).send().await;
        sent.add();
        if answer.is_ok_and(|a| a.status() == 200) {
            ok.add();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (ok.get(), sent.get())
}

/// 16 of the largest answers being made at once, distinct so that none is kept, in the
/// formats that cost the most to render: `/healthz`, probed every 100 ms meanwhile, answers
/// each probe within 50 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile clients: run alone by tests/run, one at a time"]
async fn large_answers_being_made_do_not_hold_up_probes() {
    let bed = bed("large-answers").await;
    for binary in [KUBELESS, KNATIVE] {
        let door = door(&bed, binary, &[]).await;
        let client = reqwest::Client::new();
        for (round, format) in ["svg", "buckets", "csv"].into_iter().enumerate() {
            let stop = Arc::new(AtomicBool::new(false));
            let probes = tokio::spawn(probe(door.port, stop.clone()));
            tokio::time::sleep(Duration::from_millis(300)).await;
            let started = Instant::now();
            let answers = (0..16).map(|k| {
                let url = format!("{}{}", door.base, largest(format, 100 * round + k));
                let client = client.clone();
                async move {
                    let answer = client.get(url).send().await.unwrap();
                    (
                        answer.status().as_u16(),
                        answer.bytes().await.unwrap().len(),
                    )
                }
            });
            let answers = join_all(answers).await;
            let took = started.elapsed();
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.store(true, Ordering::SeqCst);
            let probes = probes.await.unwrap();
            let bytes: usize = answers.iter().map(|(_, length)| length).sum();
            println!(
                "{}: 16 distinct {format} answers of ~2,000 buckets ({} KiB each) in {:.2} s; \
                 /healthz: {} probes, the slowest {} ms",
                name(binary),
                bytes / 16 / 1024,
                took.as_secs_f64(),
                probes.sent,
                probes.worst.as_millis()
            );
            assert!(
                answers.iter().all(|(status, _)| *status == 200),
                "{answers:?}"
            );
            assert_eq!(probes.failed, 0, "{probes:?}");
            assert!(
                probes.worst <= Duration::from_millis(50),
                "{format}: {probes:?}"
            );
        }
    }
}

/// 100 clients that each ask for a distinct largest answer and read it at 2 KB/s: the door's
/// peak memory stays under the ceiling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile clients: run alone by tests/run, one at a time"]
async fn slow_readers_of_the_largest_answers_stay_within_the_ceiling() {
    let bed = bed("slow-readers").await;
    for binary in [KUBELESS, KNATIVE] {
        let door = door(&bed, binary, &[]).await;
        let readers = (0..100).map(|k| {
            let port = door.port;
            tokio::spawn(async move {
                let mut stream = connect(port, Some(4096)).await;
                stream
                    .write_all(&get(&largest("svg", 1000 + k)))
                    .await
                    .unwrap();
                let (mut read, mut chunk) = (0usize, [0u8; 200]);
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(15) {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => read += n,
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                read
            })
        });
        let mut read = 0;
        for reader in join_all(readers).await {
            read += reader.unwrap();
        }
        let peak = peak_mib(&door);
        println!(
            "{}: 100 readers of distinct ~2,000-bucket SVGs at 2 KB/s for 15 s: {} KiB read in \
             all; the door's peak {peak:.1} MiB (ceiling {CEILING_MIB} MiB)",
            name(binary),
            read / 1024
        );
        assert!(read > 100 * 20_000, "the readers read: {read} bytes");
        assert!(peak < CEILING_MIB, "{peak:.1} MiB");
    }
}

/// HTTP/2 without TLS (h2c, as Knative's queue-proxy speaks it): the door's SETTINGS cap a
/// connection's concurrent streams at `MAX_IN_FLIGHT`, so one connection cannot open more calls
/// than the door runs at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile clients: run alone by tests/run, one at a time"]
async fn http2_streams_per_connection_are_capped_at_max_in_flight() {
    let bed = bed("h2-streams").await;
    for binary in [KUBELESS, KNATIVE] {
        let door = door(&bed, binary, &[]).await;
        let mut stream = connect(door.port, None).await;
        // The client's preface and an empty SETTINGS frame.
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        let settings = tokio::time::timeout(Duration::from_secs(5), server_settings(&mut stream))
            .await
            .expect("the door sent its SETTINGS");
        println!("{}: the door's HTTP/2 SETTINGS: {settings:?}", name(binary));
        // SETTINGS_MAX_CONCURRENT_STREAMS is setting 0x3.
        let streams = settings
            .iter()
            .find(|(id, _)| *id == 3)
            .map(|(_, value)| *value);
        assert_eq!(streams, Some(100), "MAX_IN_FLIGHT=100: {settings:?}");
    }
}

/// The first SETTINGS frame the server sends: its (identifier, value) pairs.
async fn server_settings(stream: &mut tokio::net::TcpStream) -> Vec<(u16, u32)> {
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await.unwrap();
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await.unwrap();
        // A SETTINGS frame (type 4) that is not an acknowledgement (flag 1).
        if head[3] == 4 && head[4] & 1 == 0 {
            return payload
                .chunks(6)
                .map(|s| {
                    (
                        u16::from_be_bytes([s[0], s[1]]),
                        u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
                    )
                })
                .collect();
        }
    }
}
