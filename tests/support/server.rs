//! Real door processes on loopback ports, and TCP proxies in front of the real Elasticsearch:
//! ones that slow it down, one that refuses one request, one that records what it is sent, one
//! that closes connections left idle.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt, copy_bidirectional};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::process::Process;

/// A free loopback port: bind port 0, read it, release it. Another process may take it before
/// the child that is given it binds it: only for children that must be told their port in
/// advance and cannot take port 0 themselves; each use says why.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The address in a door's `listening` line, as the door reports the socket it bound: a JSON
/// line (`{"fields":{"message":"listening","address":"0.0.0.0:PORT"},…}`, Knative's and
/// `LOG_FORMAT=json`) or a text one (`… wx_stats::door: listening address=0.0.0.0:PORT`).
pub fn listening_address(line: &str) -> Option<SocketAddr> {
    if let Ok(json) = serde_json::from_str::<Value>(line) {
        let fields = &json["fields"];
        return match (fields["message"].as_str(), fields["address"].as_str()) {
            (Some("listening"), Some(address)) => address.parse().ok(),
            _ => None,
        };
    }
    let mut words = line
        .split_whitespace()
        .skip_while(|word| *word != "listening");
    words.next()?;
    words
        .find_map(|word| word.strip_prefix("address="))?
        .parse()
        .ok()
}

/// A running door: its process, and where it listens. Dropping it kills the process by its
/// PID, so a failing test never leaves one behind; its [`Process`] methods (`pid`, `log`,
/// `wait_exit`, …) are the server's own.
pub struct Server {
    process: Process,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The port it listens on.
    pub port: u16,
}

impl Deref for Server {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.process
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
    }
}

impl Server {
    /// Starts `binary` with `port_variable` set to 0 and `env`, reads the port the system gave
    /// it from its `listening` line, and waits for /healthz. No port is chosen in advance, so
    /// tests running at once never collide on one.
    pub async fn start(binary: &str, port_variable: &str, env: &[(&str, &str)]) -> Server {
        let name = Path::new(binary).file_name().unwrap().to_string_lossy();
        let mut command = super::command(binary);
        command
            .env_clear()
            .env(port_variable, "0")
            .envs(env.iter().copied());
        let mut process = Process::start(&name, &mut command)
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let address = process
            .wait_for_line(Duration::from_secs(10), listening_address)
            .await
            .unwrap_or_else(|why| panic!("{why}"));
        let server = Server {
            base: format!("http://127.0.0.1:{}", address.port()),
            port: address.port(),
            process,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            let response = client.get(format!("{}/healthz", self.base)).send().await;
            if response.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{} did not answer /healthz within 10 s; its log:\n{}",
            self.base,
            self.log()
        );
    }
}

/// `function_calls_in_flight` from the /metrics of the door (or Router) at `base`.
pub async fn calls_in_flight(base: &str) -> u64 {
    let (_, _, text) = super::fetch("GET", &format!("{base}/metrics")).await;
    text.lines()
        .find_map(|line| line.strip_prefix("function_calls_in_flight "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no function_calls_in_flight in:\n{text}"))
}

/// Polls [`calls_in_flight`] for up to `limit` until it equals `wanted`.
pub async fn wait_calls_in_flight(base: &str, wanted: u64, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if calls_in_flight(base).await == wanted {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A TCP proxy on loopback that waits `delay` before connecting each client to `upstream`:
/// a fault injector that makes Elasticsearch slow, not a stand-in for it.
pub async fn delaying_proxy(upstream: String, delay: Duration) -> String {
    proxy(move |_, client| {
        let upstream = upstream.clone();
        async move {
            tokio::time::sleep(delay).await;
            forward(client, &upstream).await;
        }
    })
    .await
}

/// A TCP proxy on loopback that answers its first connection with `status` (503: starting or
/// blocked; 429: overloaded) of its own, as Elasticsearch (or a gateway in front of it) does, and
/// connects every later one to `upstream`: a fault injector for one failed search, not a
/// stand-in for Elasticsearch.
pub async fn failing_once_proxy(upstream: String, status: u16) -> String {
    proxy(move |sequence, client| {
        let upstream = upstream.clone();
        async move {
            if sequence == 0 {
                refuse(client, status).await;
            } else {
                forward(client, &upstream).await;
            }
        }
    })
    .await
}

/// Listens on a loopback port and hands each connection, numbered from 0, to `handle` in a task
/// of its own. Returns `127.0.0.1:PORT`.
async fn proxy<F, H>(handle: H) -> String
where
    H: Fn(u64, TcpStream) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut sequence = 0;
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(handle(sequence, client));
            sequence += 1;
        }
    });
    address
}

/// A TCP proxy on loopback that forwards every connection to `upstream` and records every byte
/// the clients send (the requests, headers included), to show what reached Elasticsearch.
pub async fn recording_proxy(upstream: String) -> (String, Arc<Mutex<Vec<u8>>>) {
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let record = recorded.clone();
    let address = proxy(move |_, client| {
        let (upstream, record) = (upstream.clone(), record.clone());
        let record = move |bytes: &[u8], _: bool| {
            record.lock().unwrap().extend_from_slice(bytes);
            Duration::ZERO
        };
        relay(client, upstream, record, None)
    })
    .await;
    (address, recorded)
}

/// A TCP proxy on loopback that forwards every connection to `upstream` and counts the
/// connections its clients opened.
pub async fn counting_proxy(upstream: String) -> (String, Arc<AtomicU64>) {
    let opened = Arc::new(AtomicU64::new(0));
    let count = opened.clone();
    let address = proxy(move |_, client| {
        count.fetch_add(1, Ordering::SeqCst);
        let upstream = upstream.clone();
        async move { forward(client, &upstream).await }
    })
    .await;
    (address, opened)
}

/// A TCP proxy on loopback that holds every request `delay` before passing it to `upstream`,
/// kept-alive connections too: each search is slow, as a loaded Elasticsearch's would be.
/// ([`delaying_proxy`] slows only each new connection.)
pub async fn slow_requests_proxy(upstream: String, delay: Duration) -> String {
    proxy(move |_, client| {
        let hold = move |_: &[u8], starts_request: bool| {
            if starts_request {
                delay
            } else {
                Duration::ZERO
            }
        };
        relay(client, upstream.clone(), hold, None)
    })
    .await
}

/// How a load balancer in front of Elasticsearch (or Elasticsearch itself) ends a connection
/// it has dropped: with a FIN (an orderly close) or an RST (a reset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// `shutdown`, then close: the client reads end of file.
    Fin,
    /// `SO_LINGER` 0, then close: the client reads `ECONNRESET`.
    Rst,
}

/// A TCP proxy on loopback in front of `upstream` that closes every client connection on which
/// nothing has passed either way for its idle timeout, as a load balancer does (AWS's ALB after
/// 60 s, its NLB after 350 s), with a FIN or an RST as [`IdleTimeoutProxy::close_with`] says. It
/// counts the closes it makes, so a test can tell that connections were really closed.
pub struct IdleTimeoutProxy {
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// Whether the next closes are resets rather than FINs.
    rst: Arc<AtomicBool>,
    /// The connections closed for being idle, so far.
    closes: Arc<AtomicU64>,
}

impl IdleTimeoutProxy {
    /// Listens on a free loopback port, forwarding to `upstream` and closing with a FIN what is
    /// idle for `idle`.
    pub async fn start(upstream: String, idle: Duration) -> IdleTimeoutProxy {
        let limit = IdleLimit {
            after: idle,
            rst: Arc::new(AtomicBool::new(false)),
            closes: Arc::new(AtomicU64::new(0)),
        };
        let (rst, closes) = (limit.rst.clone(), limit.closes.clone());
        let address = proxy(move |_, client| {
            let pass = |_: &[u8], _: bool| Duration::ZERO;
            relay(client, upstream.clone(), pass, Some(limit.clone()))
        })
        .await;
        IdleTimeoutProxy {
            address,
            rst,
            closes,
        }
    }

    /// How idle connections are closed from now on.
    pub fn close_with(&self, close: Close) {
        self.rst.store(close == Close::Rst, Ordering::SeqCst);
    }

    /// How many connections the proxy has closed for being idle.
    pub fn closes(&self) -> u64 {
        self.closes.load(Ordering::SeqCst)
    }
}

/// When [`relay`] ends a connection itself: after `after` with nothing passed either way.
#[derive(Clone)]
struct IdleLimit {
    after: Duration,
    rst: Arc<AtomicBool>,
    closes: Arc<AtomicU64>,
}

impl IdleLimit {
    /// Closes `client` as the proxy is set to, and counts it. The connection to upstream is
    /// closed by its halves being dropped, as a load balancer closes both sides.
    async fn close(&self, mut client: TcpStream) {
        if self.rst.load(Ordering::SeqCst) {
            // A close with SO_LINGER 0 discards what is unsent and sends an RST, not a FIN.
            let _ = client.set_zero_linger();
        } else {
            let _ = client.shutdown().await;
        }
        drop(client);
        self.closes.fetch_add(1, Ordering::SeqCst);
    }
}

/// When a byte last passed through a relayed connection, either way.
struct Activity(Mutex<Instant>);

impl Activity {
    fn new() -> Activity {
        Activity(Mutex::new(Instant::now()))
    }

    fn touch(&self) {
        *self.0.lock().unwrap() = Instant::now();
    }

    /// Returns once nothing has passed for `after`. Each turn sleeps until the connection would
    /// be idle that long, so it ends at the first turn that finds no newer activity.
    async fn idle_for(&self, after: Duration) {
        loop {
            let due = *self.0.lock().unwrap() + after;
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

/// Connects `client` to `upstream` and copies both ways until either side closes, or until
/// nothing has passed for `idle`'s time, when `idle` closes the client's connection. Each chunk
/// the client sends is shown to `inspect`, with whether it starts a request (the first chunk, or
/// one after `upstream` has answered: HTTP/1.1 clients send a request only once the last is
/// answered), and is passed on after the time `inspect` returns.
async fn relay<I>(client: TcpStream, upstream: String, mut inspect: I, idle: Option<IdleLimit>)
where
    I: FnMut(&[u8], bool) -> Duration + Send + 'static,
{
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut client_reads, mut client_writes) = client.into_split();
    let (mut server_reads, mut server_writes) = server.into_split();
    let answered = AtomicBool::new(true);
    let activity = Activity::new();
    let copying = async {
        tokio::join!(
            copy_answers(&mut server_reads, &mut client_writes, &answered, &activity),
            copy_requests(
                &mut client_reads,
                &mut server_writes,
                &mut inspect,
                &answered,
                &activity
            ),
        )
    };
    let Some(idle) = idle else {
        copying.await;
        return;
    };
    let idled = tokio::select! {
        _ = copying => false,
        () = activity.idle_for(idle.after) => true,
    };
    if idled && let Ok(client) = client_reads.reunite(client_writes) {
        idle.close(client).await;
    }
}

/// Copies upstream's answers to the client until either side closes, noting that the request
/// before them was answered.
async fn copy_answers(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    answered: &AtomicBool,
    activity: &Activity,
) {
    let mut buffer = [0u8; 8192];
    while let Ok(n) = from.read(&mut buffer).await {
        answered.store(true, Ordering::SeqCst);
        if n == 0 || to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
        activity.touch();
    }
    let _ = to.shutdown().await;
}

/// Copies the client's requests upstream until either side closes, each chunk after the time
/// `inspect` holds it.
async fn copy_requests<I>(
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    inspect: &mut I,
    answered: &AtomicBool,
    activity: &Activity,
) where
    I: FnMut(&[u8], bool) -> Duration,
{
    let mut buffer = [0u8; 8192];
    while let Ok(n) = from.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        activity.touch();
        let hold = inspect(&buffer[..n], answered.swap(false, Ordering::SeqCst));
        tokio::time::sleep(hold).await;
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Connects `client` to `upstream` and copies both ways until either side closes.
async fn forward(mut client: TcpStream, upstream: &str) {
    if let Ok(mut server) = TcpStream::connect(upstream).await {
        let _ = copy_bidirectional(&mut client, &mut server).await;
    }
}

/// Reads the request (head and body), then answers `status` with Elasticsearch's error shape and
/// closes the connection, so the client opens a new one for its next request.
async fn refuse(mut client: TcpStream, status: u16) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request_complete(&request) {
        match client.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let (error_type, reason) = match status {
        429 => ("es_rejected_execution_exception", "Too Many Requests"),
        _ => ("cluster_block_exception", "Service Unavailable"),
    };
    let body = format!(
        r#"{{"error":{{"type":"{error_type}","reason":"refused once by the test's proxy"}},"status":{status}}}"#
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// Whether `request` holds a whole HTTP/1.1 request: its head, and a body of its
/// `content-length` or chunks up to the last one.
fn request_complete(request: &[u8]) -> bool {
    let Some(head_end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&request[..head_end]);
    let header = |wanted: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.trim().to_ascii_lowercase())
    };
    if header("transfer-encoding").is_some_and(|coding| coding.contains("chunked")) {
        return request.ends_with(b"\r\n0\r\n\r\n");
    }
    let length = header("content-length").and_then(|value| value.parse::<usize>().ok());
    request.len() >= head_end + 4 + length.unwrap_or(0)
}
