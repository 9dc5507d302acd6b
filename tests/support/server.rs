//! Real door processes on loopback ports, and TCP proxies in front of the real Elasticsearch:
//! ones that slow it down, one that refuses one request, one that records what it is sent.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, copy_bidirectional};
use tokio::net::{TcpListener, TcpStream};

/// A free loopback port: bind port 0, read it, release it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits up to 10 s for `child` to listen on loopback `port`. Gives up early if it exits, and
/// says why it gave up.
pub async fn wait_listening(child: &mut Child, port: u16) -> Result<(), String> {
    for _ in 0..200 {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited ({status}) before listening on port {port}"));
        }
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("did not listen on port {port} within 10 s"))
}

/// A running door. Dropping it kills the process by its PID, so a failing test never leaves
/// one behind.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The port it listens on.
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts `binary` with `port_variable` set to a free port plus `env`, and waits for /healthz.
    pub async fn start(binary: &str, port_variable: &str, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("wx-stats-test-{}-{port}.log", std::process::id()));
        let out = File::create(&log).unwrap();
        let child = super::command(binary)
            .env_clear()
            .env(port_variable, port.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let server = Server {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            port,
            log,
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

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id, e.g. to send it a signal.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// Whether the process is still the one started, alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().is_ok_and(|status| status.is_none()))
    }

    /// Waits up to `limit` for the process to exit, and returns its exit code.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let status = wait_for_exit(self.child.as_mut()?, limit).await?;
        self.child = None;
        status.code()
    }
}

/// Waits up to `limit` for `child` to exit; how it exited, or `None` if it is still running.
pub async fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
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

/// Sends `signal` (e.g. "TERM") to `pid` with kill(1).
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
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
        relay(client, upstream, move |bytes, _| {
            record.lock().unwrap().extend_from_slice(bytes);
            Duration::ZERO
        })
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
        relay(client, upstream.clone(), move |_, starts_request| {
            if starts_request {
                delay
            } else {
                Duration::ZERO
            }
        })
    })
    .await
}

/// Connects `client` to `upstream` and copies both ways until either side closes. Each chunk the
/// client sends is shown to `inspect`, with whether it starts a request (the first chunk, or one
/// after `upstream` has answered: HTTP/1.1 clients send a request only once the last is
/// answered), and is passed on after the time `inspect` returns.
async fn relay<I>(client: TcpStream, upstream: String, mut inspect: I)
where
    I: FnMut(&[u8], bool) -> Duration + Send + 'static,
{
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut client_reads, mut client_writes) = client.into_split();
    let (mut server_reads, mut server_writes) = server.into_split();
    let answered = Arc::new(AtomicBool::new(true));
    let answering = answered.clone();
    let answers = tokio::spawn(async move {
        let mut buffer = [0u8; 8192];
        while let Ok(n) = server_reads.read(&mut buffer).await {
            answering.store(true, Ordering::SeqCst);
            if n == 0 || client_writes.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_writes.shutdown().await;
    });
    let mut buffer = [0u8; 8192];
    while let Ok(n) = client_reads.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let hold = inspect(&buffer[..n], answered.swap(false, Ordering::SeqCst));
        tokio::time::sleep(hold).await;
        if server_writes.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = server_writes.shutdown().await;
    let _ = answers.await;
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
