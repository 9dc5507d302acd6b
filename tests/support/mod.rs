//! Shared by the integration tests: the real Elasticsearch started by
//! `tests/elasticsearch/start`, test indices on it, and the built binaries.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod bed;
pub mod doors;
pub mod emulator;
pub mod encoding;
pub mod histogram;
pub mod hostile;
pub mod inprocess;
pub mod jaeger;
pub mod load;
pub mod nginx;
pub mod process;
pub mod queue_proxy;
pub mod rie;
pub mod server;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

/// What Chromium sends as `Accept` when a person opens a URL: it prefers the page.
pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,\
    image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";

/// Where the test Elasticsearch is: `TEST_ES_URL`, as `tests/run` sets it. There is no default:
/// a guess such as 127.0.0.1:9200 may be somebody's own node, which the fault tests would stop
/// and every test would fill with indices.
pub fn es_url() -> String {
    std::env::var("TEST_ES_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_ES_URL is not set: these tests need an Elasticsearch of their own. Start one \
             with `tests/elasticsearch/start` (ES_PORT picks its port) and set TEST_ES_URL to the \
             ES_URL=... line it prints, or run the whole suite with `tests/run`."
        )
    })
}

/// README.md's limits, written here as README.md states them rather than taken from the code
/// they test: a request head must arrive within 10 s of the accept.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// README.md's limits: a reader that takes no byte of its answer for 10 s is disconnected.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// `RUST_LOG` for a door whose test reads each call's `call` line, which is logged at debug.
pub const CALL_LINES: &str = "info,wx_stats=debug";

/// The test cluster's nodes, from `TEST_ES_CLUSTER_URL`, as `tests/run`'s cluster step sets it.
pub fn cluster_urls() -> Vec<String> {
    let urls = std::env::var("TEST_ES_CLUSTER_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_ES_CLUSTER_URL is not set. Start a cluster with \
             `ES_PORT=19280 ES_NODES=3 tests/elasticsearch/start` and set TEST_ES_CLUSTER_URL \
             to the ES_URL it prints, or run the whole suite with `tests/run`."
        )
    });
    urls.split(',').map(str::to_string).collect()
}

/// `host:port` of the test Elasticsearch, the way `HOST` spells it.
pub fn es_host() -> String {
    host_of(&es_url())
}

/// `host:port` of the node at `url`, the way `HOST` spells it.
pub fn host_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// A client for the test's own requests to Elasticsearch.
fn es_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Fails the test with a clear message when no Elasticsearch answers: these tests never skip.
pub async fn require_es() -> reqwest::Client {
    let client = es_client();
    match client
        .get(format!("{}/_cluster/health", es_url()))
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => client,
        outcome => panic!(
            "no Elasticsearch at {} ({outcome:?}). Start one with `tests/elasticsearch/start` and set \
             TEST_ES_URL to the ES_URL it prints, or run the whole suite with `tests/run`.",
            es_url()
        ),
    }
}

/// Elasticsearch's JSON answer at `path`: a GET, or a POST of `body`.
pub async fn es_json(path: &str, body: Option<&Value>) -> Value {
    let client = require_es().await;
    let url = format!("{}/{path}", es_url());
    let request = match body {
        Some(body) => client.post(url).json(body),
        None => client.get(url),
    };
    request.send().await.unwrap().json().await.unwrap()
}

/// A test's own index, named after the test and the process so that runs never collide.
/// Dropping it deletes the index, however the test ends.
pub struct TestIndex {
    /// The index name, e.g. `wx-rtbeat-test-cli-1234`.
    pub name: String,
    /// `http://host:port` of the Elasticsearch (or the cluster's node) that holds it.
    base: String,
    client: reqwest::Client,
}

impl Drop for TestIndex {
    fn drop(&mut self) {
        // Drop cannot await, and may run while Elasticsearch is stopped (the fault tests): a
        // plain blocking DELETE, whose every failure is ignored.
        let _ = delete_index(&host_of(&self.base), &self.name);
    }
}

/// `DELETE /name` over a plain TCP connection, waiting for the answer so that the index is
/// gone before the test process exits.
fn delete_index(host: &str, name: &str) -> std::io::Result<()> {
    let address = host
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host} has no address")))?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "DELETE /{name} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    )?;
    stream.read_to_end(&mut Vec::new())?;
    Ok(())
}

impl TestIndex {
    /// Creates the index afresh with the station's mapping.
    pub async fn create(label: &str) -> TestIndex {
        Self::create_with(label, wx_stats::sample::mapping()).await
    }

    /// Creates the index with `temperature` mapped as a keyword, which a histogram cannot use.
    pub async fn create_unaggregatable(label: &str) -> TestIndex {
        let mapping = json!({"mappings": {"properties": {"rxtxMsg": {"properties": {"payload": {"properties": {
            "currently": {"properties": {"temperature": {"type": "keyword"}}}}}}}}}});
        Self::create_with(label, mapping).await
    }

    /// Creates an index that no request may reach: outside the default `ES_INDEX_ALLOW`.
    pub async fn create_forbidden(label: &str) -> TestIndex {
        let name = format!("private-test-{label}-{}", std::process::id());
        Self::create_named(name, wx_stats::sample::mapping()).await
    }

    /// Creates the index with the station's mapping on the node at `base`, e.g. a cluster's.
    pub async fn create_on(base: &str, label: &str) -> TestIndex {
        let name = format!("wx-rtbeat-test-{label}-{}", std::process::id());
        Self::create_named_on(base, es_client(), name, wx_stats::sample::mapping()).await
    }

    async fn create_with(label: &str, mapping: Value) -> TestIndex {
        let name = format!("wx-rtbeat-test-{label}-{}", std::process::id());
        Self::create_named(name, mapping).await
    }

    async fn create_named(name: String, mapping: Value) -> TestIndex {
        Self::create_named_on(&es_url(), require_es().await, name, mapping).await
    }

    async fn create_named_on(
        base: &str,
        client: reqwest::Client,
        name: String,
        mapping: Value,
    ) -> TestIndex {
        let url = format!("{base}/{name}");
        client.delete(&url).send().await.unwrap();
        let response = client.put(&url).json(&mapping).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "create {name}: {}",
            response.text().await.unwrap()
        );
        TestIndex {
            name,
            base: base.to_string(),
            client,
        }
    }

    /// Indexes one observation per `(age, temperature)` and waits until they are searchable.
    pub async fn add(&self, observations: &[(Duration, f64)]) {
        if observations.is_empty() {
            return;
        }
        let now = SystemTime::now();
        let mut bulk = String::new();
        for (seq, (age, temperature)) in observations.iter().enumerate() {
            let doc = wx_stats::sample::observation(now - *age, seq as u64, *temperature);
            bulk.push_str(&json!({ "index": { "_index": self.name } }).to_string());
            bulk.push('\n');
            bulk.push_str(&doc.to_string());
            bulk.push('\n');
        }
        let url = format!("{}/_bulk?refresh=true", self.base);
        let response = self
            .client
            .post(url)
            .header("content-type", "application/x-ndjson")
            .body(bulk)
            .send()
            .await
            .unwrap();
        let summary: Value = response.json().await.unwrap();
        assert_eq!(summary["errors"], json!(false), "bulk: {summary}");
    }

    /// What Elasticsearch itself answers to `body` on this index.
    pub async fn search(&self, body: &Value) -> Value {
        let url = format!("{}/{}/_search", self.base, self.name);
        let response = self.client.post(url).json(body).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// The same answer, as the bytes Elasticsearch sent.
    pub async fn search_text(&self, body: &Value) -> String {
        let url = format!("{}/{}/_search", self.base, self.name);
        let response = self.client.post(url).json(body).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// How many searches Elasticsearch ran on this index, from its own `_stats/search` (one
    /// query per search: test indices have one shard).
    pub async fn searches(&self) -> u64 {
        let url = format!("{}/{}/_stats/search", self.base, self.name);
        let response = self.client.get(url).send().await.unwrap();
        let stats: Value = response.json().await.unwrap();
        stats["_all"]["total"]["search"]["query_total"]
            .as_u64()
            .unwrap_or_else(|| panic!("no query_total in {stats}"))
    }
}

/// How to run `binary`: itself, or `qemu-aarch64-static` and it when it is built for arm64 and
/// this machine is not (tests/arm64 runs the arm64 doors so, under Debian's qemu-user-static).
pub fn argv(binary: &str) -> Vec<String> {
    if is_arm64(binary) && !cfg!(target_arch = "aarch64") {
        // By its full path: the doors start with a cleared environment, PATH included.
        let path = std::env::var("PATH").unwrap_or_default();
        let qemu = std::env::split_paths(&path)
            .map(|dir| dir.join("qemu-aarch64-static"))
            .find(|candidate| candidate.is_file())
            .expect("qemu-aarch64-static not found: apt-get install qemu-user-static");
        vec![qemu.to_string_lossy().into_owned(), binary.into()]
    } else {
        vec![binary.into()]
    }
}

/// A command that runs `binary` as [`argv`] says.
pub fn command(binary: &str) -> Command {
    let argv = argv(binary);
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    command
}

/// Whether `binary` is an ELF file for AArch64 (e_machine 183).
fn is_arm64(binary: &str) -> bool {
    let mut header = [0u8; 20];
    let read = std::fs::File::open(binary).and_then(|mut file| file.read_exact(&mut header));
    read.is_ok()
        && header.starts_with(b"\x7fELF")
        && u16::from_le_bytes([header[18], header[19]]) == 183
}

/// Runs a built binary of this package with exactly `env` added to a cleared environment.
pub fn run(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = command(binary);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command.envs(env.iter().copied());
    command.output().unwrap()
}

/// The response without `took`, the one field that differs from run to run.
pub fn without_took(mut response: Value) -> Value {
    if let Some(object) = response.as_object_mut() {
        object.remove("took");
    }
    response
}

/// The original function's body, as copied from its source into tests/fixtures/ (the one copy,
/// which the library's own tests read too).
pub fn original_body() -> Value {
    serde_json::from_str(include_str!("../fixtures/original-query.json")).unwrap()
}

/// `hits.total` as a number: ES 7+ answers `{"value":N}`, older ones a plain number.
pub fn total_hits(response: &Value) -> u64 {
    let total = &response["hits"]["total"];
    total["value"]
        .as_u64()
        .or_else(|| total.as_u64())
        .unwrap_or_else(|| panic!("no hits.total in {response}"))
}

/// A GET or POST to a door: status, content type and body.
pub async fn fetch(method: &str, url: &str) -> (u16, String, String) {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    read(client.request(method, url).send().await.unwrap()).await
}

/// A response's status, content type and body.
pub async fn read(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// Checks the JSON error shape `{"error":{"type","reason"},"status"}` and returns the type.
pub fn error_type(body: &str, status: u16) -> String {
    let json: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(json["status"], status, "{body}");
    assert!(json["error"]["reason"].is_string(), "{body}");
    json["error"]["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.type in {body}"))
        .to_string()
}

/// The CLI's output for `index`, parsed.
pub fn cli_output(index: &str) -> Value {
    let output = run(
        env!("CARGO_BIN_EXE_wx-stats"),
        &[],
        &[("HOST", &es_host()), ("ES_INDEX", index)],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Stops the test Elasticsearch with the project's own script, as an operator would.
pub fn stop_es() {
    es_script("stop");
}

/// Starts the test Elasticsearch again on the same port, and waits until it is up.
pub fn start_es() {
    es_script("start");
}

fn es_script(name: &str) {
    let url = es_url();
    let port = url.trim_end_matches('/').rsplit(':').next().unwrap();
    let script = format!("{}/tests/elasticsearch/{name}", env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(&script)
        .env("ES_PORT", port)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(status.success(), "{script} on port {port} failed: {status}");
}
