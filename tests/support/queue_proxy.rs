//! Knative's queue-proxy (`knative.dev/serving/cmd/queue`, the one Knative runs beside every
//! revision's container) as a real process in front of a door, started with the variables a
//! revision's pod gives it; and the values of `knative/service.yaml` that the queue-proxy and the
//! door must agree on, read from the file so that the tests check what is deployed.
//!
//! The queue-proxy always binds 8022 (admin: `/wait-for-drain`), 9090 (autoscaler metrics) and
//! 9091 (Prometheus), whatever its other ports, so only one can run on a machine at a time: a
//! [`QueueProxy`] holds a process-wide lock from start to drop, and proves the ports free first.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::{Mutex, MutexGuard};

use super::process::Process;

/// The release the tests are written against; `tests/run` installs it.
pub const VERSION: &str = "v0.50.0";

/// The queue-proxy's admin port, where the user container's preStop hook waits for the drain.
pub const ADMIN_PORT: u16 = 8022;

/// Its autoscaler metrics port (protobuf for the autoscaler).
pub const AUTOSCALER_METRICS_PORT: u16 = 9090;

/// Its Prometheus port, with `OBSERVABILITY_CONFIG` asking for Prometheus request metrics.
pub const METRICS_PORT: u16 = 9091;

/// The request metrics in Prometheus text, as `OBSERVABILITY_CONFIG` below asks for them.
const OBSERVABILITY_CONFIG: &str = r#"{"requestMetrics":{"protocol":"prometheus"}}"#;

/// `OBSERVABILITY_CONFIG` as above, with tracing on: every request's spans (sampling rate 1,
/// whatever the caller's `traceparent` flags say) over OTLP/HTTP protobuf to the receiver whose
/// base URL is `otlp_url`, as `http://127.0.0.1:PORT`.
///
/// knative.dev/pkg's `observability/tracing` gives the endpoint to the Go exporter's
/// `WithEndpointURL`, which uses its path as it is: hence `/v1/traces` here (a bare
/// `http://host:port` would get that default too, but `http://host:port/` would post to `/`).
/// Spans carry the service name `SERVING_SERVICE` (the Service's name) unless
/// `OTEL_SERVICE_NAME` is set, which `pod_env` does not.
pub fn traced_observability_config(otlp_url: &str) -> String {
    json!({
        "requestMetrics": {"protocol": "prometheus"},
        "tracing": {
            "protocol": "http/protobuf",
            "endpoint": format!("{}/v1/traces", otlp_url.trim_end_matches('/')),
            "samplingRate": 1,
        },
    })
    .to_string()
}

/// The headers of the kubelet's readiness probe, as Knative writes it into the queue-proxy's
/// container: the queue-proxy answers it by running the revision's own readiness probe.
pub const KUBELET_PROBE: [(&str, &str); 2] = [
    ("k-network-probe", "queue"),
    ("user-agent", "kube-probe/1.34"),
];

/// One queue-proxy at a time in this test binary: its fixed ports allow no more.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The built queue-proxy: `QUEUE_PROXY`, else `$(go env GOPATH)/bin/queue`. Missing, the test
/// fails and says how to install it: these tests never skip.
pub fn binary() -> PathBuf {
    let path = match std::env::var_os("QUEUE_PROXY") {
        Some(path) => PathBuf::from(path),
        None => go_path().join("bin").join("queue"),
    };
    assert!(
        path.is_file(),
        "Knative's queue-proxy is not at {}: install it with \
         `go install knative.dev/serving/cmd/queue@{VERSION}` (tests/run does), or set \
         QUEUE_PROXY to its path",
        path.display()
    );
    path
}

/// Go's GOPATH, asked of `go env` as `go install` uses it (Go's default, ~/go, without Go).
fn go_path() -> PathBuf {
    let go = ["go", "/usr/local/go/bin/go"]
        .into_iter()
        .find_map(|go| Command::new(go).args(["env", "GOPATH"]).output().ok());
    let listed = go
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .filter(|list| !list.is_empty());
    match listed {
        // GOPATH may be a list; `go install` writes to the first.
        Some(list) => PathBuf::from(list.split(':').next().unwrap_or_default()),
        None => PathBuf::from(std::env::var("HOME").unwrap_or_default()).join("go"),
    }
}

/// What `knative/service.yaml` says about the revision: the values the queue-proxy is given
/// and the door's variables that must agree with them.
#[derive(Clone, Debug)]
pub struct Revision {
    /// `metadata.name`: the Service, and so its configuration.
    pub service: String,
    /// `containerConcurrency`: requests at once per instance, beyond which the queue-proxy queues.
    pub container_concurrency: usize,
    /// `timeoutSeconds`: when the queue-proxy gives up on a request.
    pub timeout_seconds: u64,
    /// The container's `readinessProbe`, as written in the file.
    pub readiness_probe: Value,
    /// The container's port.
    pub container_port: u16,
    /// The container's variables with a plain `value`, by name.
    pub env: BTreeMap<String, String>,
}

impl Revision {
    /// The revision `knative/service.yaml` describes.
    pub fn from_service_yaml() -> Revision {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/knative/service.yaml");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Revision::parse(&text)
    }

    /// Reads the few fields this module needs from the Service's YAML: one key a line, maps
    /// nested by indentation, no flow style or anchors (the file uses none).
    fn parse(text: &str) -> Revision {
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .collect();
        let scalar = |key: &str| {
            lines
                .iter()
                .find_map(|line| value_of(line, key))
                .unwrap_or_else(|| panic!("knative/service.yaml has no {key}"))
        };
        let number = |key: &str| {
            scalar(key)
                .parse::<u64>()
                .unwrap_or_else(|e| panic!("knative/service.yaml: {key}: {e}"))
        };
        let probe = map_under(&lines, "readinessProbe");
        let revision = Revision {
            service: scalar("name"),
            container_concurrency: number("containerConcurrency") as usize,
            timeout_seconds: number("timeoutSeconds"),
            readiness_probe: probe,
            container_port: number("containerPort") as u16,
            env: env_values(&lines),
        };
        // Knative probes the port the probe names; the tests run the container on another one,
        // so the probe must name the container's port for the substitution to be faithful.
        assert_eq!(
            revision.readiness_probe["httpGet"]["port"],
            json!(revision.container_port),
            "knative/service.yaml: the readinessProbe must name the container's port"
        );
        revision
    }

    /// The value of the container's variable `name`, which the file must set.
    pub fn env(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("knative/service.yaml sets no {name} on the container"))
    }

    /// `SERVING_READINESS_PROBE` as Knative encodes it for the queue-proxy: the container's
    /// probe aimed at 127.0.0.1 and the container's port, HTTP unless it says otherwise, and
    /// the revision's default `successThreshold` of 1.
    pub fn readiness_probe_json(&self, container_port: u16) -> String {
        let mut probe = self.readiness_probe.clone();
        let action = probe["httpGet"]
            .as_object_mut()
            .expect("the tests know Knative's encoding of an httpGet probe only");
        action.insert("host".into(), json!("127.0.0.1"));
        action.insert("port".into(), json!(container_port));
        action.entry("scheme").or_insert(json!("HTTP"));
        let probe_fields = probe.as_object_mut().unwrap();
        probe_fields.entry("successThreshold").or_insert(json!(1));
        probe.to_string()
    }

    /// The door's variables as a Knative pod has them: the file's values of the door's own
    /// settings (not `HOST` and its credentials, which name a cluster's Elasticsearch), and the
    /// `K_*` names Knative adds.
    pub fn door_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = ["MAX_IN_FLIGHT", "REVISION_TIMEOUT_SECONDS"]
            .into_iter()
            .map(|name| (name.to_string(), self.env(name).to_string()))
            .collect();
        env.extend([
            ("K_SERVICE".to_string(), self.service.clone()),
            ("K_CONFIGURATION".to_string(), self.service.clone()),
            ("K_REVISION".to_string(), self.revision_name()),
        ]);
        env
    }

    /// The first revision's name, as Knative numbers them.
    fn revision_name(&self) -> String {
        format!("{}-00001", self.service)
    }
}

/// The value on `line` when it sets `key` (`key: value`, perhaps as a list item), unquoted.
fn value_of(line: &str, key: &str) -> Option<String> {
    let line = line.trim_start().trim_start_matches("- ");
    let value = line.strip_prefix(key)?.strip_prefix(':')?.trim();
    (!value.is_empty()).then(|| value.trim_matches('"').to_string())
}

/// The indentation of `line`, in spaces.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The block of lines nested under the first `key:` line, as JSON: a map of maps and scalars,
/// numbers as numbers.
fn map_under(lines: &[&str], key: &str) -> Value {
    let start = lines
        .iter()
        .position(|line| line.trim() == format!("{key}:"))
        .unwrap_or_else(|| panic!("knative/service.yaml has no {key}"));
    let depth = indent(lines[start]);
    let block: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|line| indent(line) > depth)
        .copied()
        .collect();
    to_json(&block)
}

/// `block` (lines of one map, all at least as deep as its first) as JSON.
fn to_json(block: &[&str]) -> Value {
    let mut map = Map::new();
    let Some(first) = block.first() else {
        return Value::Object(map);
    };
    let depth = indent(first);
    let mut at = 0;
    while at < block.len() {
        let (key, value) = block[at].trim().split_once(':').expect("key: value");
        let nested = block[at + 1..]
            .iter()
            .take_while(|line| indent(line) > depth)
            .count();
        let value = match value.trim() {
            "" => to_json(&block[at + 1..at + 1 + nested]),
            text => text
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| json!(text.trim_matches('"'))),
        };
        map.insert(key.trim().to_string(), value);
        at += 1 + nested;
    }
    Value::Object(map)
}

/// The container's `env` entries that have a plain `value`: `- name: X` then `value: Y`.
fn env_values(lines: &[&str]) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for pair in lines.windows(2) {
        let name = pair[0]
            .trim_start()
            .strip_prefix("- ")
            .and_then(|item| value_of(item, "name"));
        if let (Some(name), Some(value)) = (name, value_of(pair[1], "value")) {
            env.insert(name, value);
        }
    }
    env
}

/// Fails the test, naming the port, unless every port the queue-proxy always binds is free.
fn require_fixed_ports_free() {
    for (port, what) in [
        (ADMIN_PORT, "admin, /wait-for-drain"),
        (AUTOSCALER_METRICS_PORT, "autoscaler metrics"),
        (METRICS_PORT, "Prometheus metrics"),
    ] {
        // The queue-proxy listens on every address, as this does.
        if let Err(error) = std::net::TcpListener::bind(("0.0.0.0", port)) {
            panic!(
                "port {port} ({what}) is in use ({error}): the queue-proxy always binds it, so \
                 these tests need it free. `ss -ltnp 'sport = :{port}'` names its holder."
            );
        }
    }
}

/// A running queue-proxy in front of a container port. Dropping it kills the process by its
/// PID, then lets the next one start.
pub struct QueueProxy {
    /// The process, to signal it or read its log. Declared before the lock, so that it is
    /// stopped before the next may start.
    pub process: Process,
    /// `http://127.0.0.1:PORT`, its serving port: where a revision's traffic arrives.
    pub base: String,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl QueueProxy {
    /// Starts the queue-proxy for `revision` in front of the container listening on loopback
    /// `user_port`, and waits until the kubelet's probe finds it ready.
    pub async fn start(revision: &Revision, user_port: u16) -> QueueProxy {
        Self::start_with(revision, user_port, None).await
    }

    /// [`QueueProxy::start`], with tracing on to the OTLP/HTTP receiver at `otlp_url` (its
    /// base URL, `http://127.0.0.1:PORT`): see [`traced_observability_config`]. Its spans are
    /// exported every 100 ms rather than the Go SDK's default 5 s, so that a test sees them
    /// soon; probes make none.
    pub async fn start_traced(revision: &Revision, user_port: u16, otlp_url: &str) -> QueueProxy {
        Self::start_with(revision, user_port, Some(otlp_url)).await
    }

    async fn start_with(revision: &Revision, user_port: u16, otlp_url: Option<&str>) -> QueueProxy {
        let binary = binary();
        let one_at_a_time = ONE_AT_A_TIME.lock().await;
        require_fixed_ports_free();
        let mut command = Command::new(&binary);
        command.env_clear().envs(pod_env(revision, user_port));
        if let Some(otlp_url) = otlp_url {
            command
                .env(
                    "OBSERVABILITY_CONFIG",
                    traced_observability_config(otlp_url),
                )
                .env("OTEL_BSP_SCHEDULE_DELAY", "100");
        }
        let mut process = Process::start("queue-proxy", &mut command)
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        // Serving on port 0, it logs `Starting http server main:0`, not the port it took: that
        // is the one port of its own sockets that is not a fixed one.
        let fixed = [ADMIN_PORT, AUTOSCALER_METRICS_PORT, METRICS_PORT];
        let port = process
            .wait_listening_port(|port| !fixed.contains(&port))
            .await
            .unwrap_or_else(|why| panic!("{why}; its log:\n{}", process.log()));
        let mut proxy = QueueProxy {
            process,
            base: format!("http://127.0.0.1:{port}"),
            _one_at_a_time: one_at_a_time,
        };
        proxy.wait_ready().await;
        proxy
    }

    /// Polls the kubelet's probe for up to 20 s until it answers 200; fails with the log if
    /// the process exits or it never does.
    async fn wait_ready(&mut self) {
        for _ in 0..100 {
            if !self.process.is_running() {
                panic!("the queue-proxy exited; its log:\n{}", self.process.log());
            }
            if self.probe().await.0 == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "the queue-proxy was not ready within 20 s; its log:\n{}",
            self.process.log()
        );
    }

    /// The kubelet's readiness probe of the queue-proxy: its status and body, or 0 when it
    /// cannot connect. The queue-proxy may take 10 s to fail a probe it retries.
    pub async fn probe(&self) -> (u16, String) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut request = client.get(format!("{}/", self.base));
        for (name, value) in KUBELET_PROBE {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            ),
            Err(_) => (0, String::new()),
        }
    }

    /// The value of the Prometheus sample `name`, summed over its labels, on port 9091.
    pub async fn metric_sum(&self, name: &str) -> f64 {
        let url = format!("http://127.0.0.1:{METRICS_PORT}/metrics");
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        sum_of(&text, name)
    }
}

/// The queue-proxy's variables as Knative sets them in a revision's pod (pkg/reconciler/
/// revision/resources/queue.go), serving on any free port in front of the container on
/// `user_port`.
fn pod_env(revision: &Revision, user_port: u16) -> Vec<(String, String)> {
    let revision_name = revision.revision_name();
    let pairs = [
        (
            "CONTAINER_CONCURRENCY",
            revision.container_concurrency.to_string(),
        ),
        ("QUEUE_SERVING_PORT", "0".to_string()),
        // Never bound: TLS starts only when Knative mounts certificates.
        ("QUEUE_SERVING_TLS_PORT", "0".to_string()),
        ("USER_PORT", user_port.to_string()),
        (
            "REVISION_TIMEOUT_SECONDS",
            revision.timeout_seconds.to_string(),
        ),
        ("REVISION_RESPONSE_START_TIMEOUT_SECONDS", "0".to_string()),
        ("REVISION_IDLE_TIMEOUT_SECONDS", "0".to_string()),
        // Set and empty: the queue-proxy's own logging defaults (JSON lines at info).
        ("SERVING_LOGGING_CONFIG", String::new()),
        ("SERVING_LOGGING_LEVEL", String::new()),
        ("SERVING_NAMESPACE", "default".to_string()),
        ("SERVING_SERVICE", revision.service.clone()),
        ("SERVING_CONFIGURATION", revision.service.clone()),
        ("SERVING_REVISION", revision_name.clone()),
        ("SERVING_POD", format!("{revision_name}-deployment-test")),
        ("SERVING_POD_IP", "127.0.0.1".to_string()),
        (
            "SERVING_READINESS_PROBE",
            revision.readiness_probe_json(user_port),
        ),
        ("OBSERVABILITY_CONFIG", OBSERVABILITY_CONFIG.to_string()),
    ];
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
}

/// The sum of every sample of `name` (any labels) in a Prometheus text exposition.
pub fn sum_of(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
