//! Hostile clients on raw sockets, and what they make a door hold: its open sockets, its peak
//! memory and how long a probe waits meanwhile. Every client here is bounded in time, and
//! talks only to loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to `port` on loopback whose receive buffer is `receive_buffer` bytes (small
/// ones make a reader that stalls felt at once).
pub async fn connect(port: u16, receive_buffer: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    socket.connect(([127, 0, 0, 1], port).into()).await.unwrap()
}

/// Sends `bytes` one at a time, `every` apart, until all are sent, the door hangs up, or
/// `limit` passes; then reads what the door answered. Returns what was read.
pub async fn trickle(
    stream: &mut TcpStream,
    bytes: &[u8],
    every: Duration,
    limit: Duration,
) -> String {
    let started = Instant::now();
    for byte in bytes {
        if started.elapsed() > limit || stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        // The door may answer (a 408) and hang up before the last byte.
        let mut peek = [0u8; 1];
        if let Ok(Ok(n)) = tokio::time::timeout(every, stream.peek(&mut peek)).await {
            let _ = n;
            break;
        }
    }
    let left = limit.saturating_sub(started.elapsed()) + Duration::from_secs(2);
    read_until_closed(stream, left).await
}

/// Everything the door sends until it closes the connection or `limit` passes.
pub async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// How long after `since` the door closed `stream` (end of file or a reset), if it did within
/// `limit`. Reads and discards anything it sends first.
pub async fn closed_after(
    stream: &mut TcpStream,
    since: Instant,
    limit: Duration,
) -> Option<Duration> {
    let mut buffer = [0u8; 4096];
    let deadline = since + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// A GET request for `target`, as raw bytes.
pub fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nhost: door\r\n\r\n").into_bytes()
}

/// `/healthz` on a new connection every 100 ms until `stop` is set: the worst wait seen, in
/// microseconds, goes into `worst`, and each failure into `failed`.
pub async fn probe(port: u16, stop: Arc<std::sync::atomic::AtomicBool>) -> ProbeReport {
    let (mut worst, mut sent, mut failed) = (Duration::ZERO, 0u64, 0u64);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let answered = client.get(&url).send().await;
        sent += 1;
        if !answered.is_ok_and(|r| r.status() == 200) {
            failed += 1;
        }
        worst = worst.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ProbeReport {
        sent,
        failed,
        worst,
    }
}

/// What the probes of [`probe`] saw.
#[derive(Debug)]
pub struct ProbeReport {
    /// Probes sent.
    pub sent: u64,
    /// Probes not answered 200.
    pub failed: u64,
    /// The longest a probe waited.
    pub worst: Duration,
}

/// A tally shared by many clients.
#[derive(Debug, Default)]
pub struct Tally(AtomicU64);

impl Tally {
    /// Adds one.
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The connections a server on loopback `port` holds open: sockets whose local port is `port`,
/// not listening, and still owned by a process (a socket the server closed, waiting for its
/// peer's end, belongs to the kernel alone and has inode 0). Its connections to Elasticsearch
/// are not counted.
pub fn held_connections(port: u16) -> usize {
    let port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            columns.len() > 9
                && columns[1].ends_with(&port)
                && columns[3] != "0A"
                && columns[9] != "0"
        })
        .count()
}

/// Waits, at most `limit`, until the server on `port` holds at most `connections`; returns how
/// long it took, or `None` if it still held more at the limit.
pub async fn until_held_at_most(
    port: u16,
    connections: usize,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if held_connections(port) <= connections {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
