//! Traces in a real Jaeger (v1.75.0, started by `tests/jaeger/start`; `tests/run` does): each
//! door's call is one SERVER span under the caller's `traceparent`, with a CLIENT span for its
//! search whose id is the parent Elasticsearch was sent (a recording proxy sees it); behind
//! Knative's queue-proxy, one trace holds its spans and ours; on Lambda Managed Instances,
//! overlapping invocations keep their traces apart; and with the collector gone, calls answer
//! as before and one warning says so.
//!
//! Those that read Jaeger are ignored by `cargo test`: `tests/run` starts one, and runs them
//! with `--ignored` (`TEST_JAEGER_OTLP_URL`, `TEST_JAEGER_QUERY_URL`, `TEST_JAEGER_METRICS_URL`).

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use support::bed::Bed;
use support::doors::{KNATIVE, KUBELESS, port_variable};
use support::emulator::Emulator;
use support::es_host;
use support::histogram::observations;
use support::jaeger::{Jaeger, Span, summary};
use support::queue_proxy::{QueueProxy, Revision};
use support::server::{Server, delaying_proxy, recording_proxy};

/// A trace id no other run of these tests used, and the caller's span id in it.
fn caller_traceparent() -> (String, String, String) {
    static COUNT: AtomicU64 = AtomicU64::new(1);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let trace = format!("{nanos:016x}{:016x}", COUNT.fetch_add(1, Ordering::Relaxed));
    let parent = format!("{:016x}", nanos.rotate_left(17) | 1);
    (format!("00-{trace}-{parent}-01"), trace, parent)
}

/// The OTLP variables that send a door's spans to `jaeger` at once, as `service`.
fn traced(jaeger: &Jaeger, service: &str) -> Vec<(String, String)> {
    [
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{}/v1/traces", jaeger.otlp_url()),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_string()),
        ("OTEL_SERVICE_NAME", service.to_string()),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .to_vec()
}

fn pairs(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// GET `url` with `traceparent`: the status and the `x-request-id` the door answered with.
async fn call(url: &str, traceparent: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(url)
        .header("traceparent", traceparent)
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    (response.status().as_u16(), id)
}

fn tag<'a>(span: &'a Span, key: &str) -> &'a Value {
    span.tag(key)
        .unwrap_or_else(|| panic!("{} has no {key}: {:?}", span.name, span.tags))
}

/// Jaeger shows numbers and booleans as they were sent, and some as strings: compare as text.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The one SERVER span of a trace, and the CLIENT spans under it.
fn server_and_clients(spans: &[Span]) -> (&Span, Vec<&Span>) {
    let servers: Vec<&Span> = spans.iter().filter(|s| s.kind == "server").collect();
    assert_eq!(servers.len(), 1, "one SERVER span:\n{}", summary(spans));
    let server = servers[0];
    let clients = spans
        .iter()
        .filter(|s| s.kind == "client" && s.parent_span_id.as_deref() == Some(&server.span_id))
        .collect();
    (server, clients)
}

/// Checks one call's trace as every door must write it: the SERVER span under the caller's
/// `parent`, named and attributed by the conventions; on a miss, CLIENT spans under it, each
/// the parent named by a `traceparent` that reached Elasticsearch (`sent`, as the recording
/// proxy saw it, on `es_port`).
fn check_call(
    spans: &[Span],
    parent: &str,
    request_id: &str,
    cold: bool,
    cache: &str,
    sent: &str,
    es_port: u16,
) {
    let (server, clients) = server_and_clients(spans);
    let all = summary(spans);
    assert_eq!(server.parent_span_id.as_deref(), Some(parent), "{all}");
    // `/`, or the catch-all where an emulator's function URL puts the function under a path.
    let route = text(tag(server, "http.route"));
    assert!(["/", "/{*path}"].contains(&route.as_str()), "{all}");
    assert_eq!(server.name, format!("GET {route}"), "{all}");
    assert!(text(tag(server, "url.path")).ends_with('/'), "{all}");
    for (key, expected) in [
        ("faas.trigger", "http"),
        ("faas.invocation_id", request_id),
        ("faas.coldstart", if cold { "true" } else { "false" }),
        ("http.request.method", "GET"),
        ("http.response.status_code", "200"),
        ("wx_stats.format", "es"),
        ("wx_stats.cache", cache),
    ] {
        assert_eq!(text(tag(server, key)), expected, "{key} of {all}");
    }
    // Numbers where the conventions want numbers.
    assert!(
        tag(server, "http.response.status_code").is_number(),
        "{all}"
    );
    if cache != "miss" {
        assert!(clients.is_empty(), "a {cache} searches nothing:\n{all}");
        return;
    }
    assert!(!clients.is_empty(), "a miss searches:\n{all}");
    for client in clients {
        for (key, expected) in [
            ("db.system.name", "elasticsearch".to_string()),
            ("db.operation.name", "search".to_string()),
            ("server.address", "127.0.0.1".to_string()),
            ("server.port", es_port.to_string()),
            ("db.response.status_code", "200".to_string()),
        ] {
            assert_eq!(text(tag(client, key)), expected, "{key} of {all}");
        }
        assert!(tag(client, "server.port").is_number(), "{all}");
        let traceparent = format!("traceparent: 00-{}-{}-01", client.trace_id, client.span_id);
        assert!(
            sent.contains(&traceparent),
            "Elasticsearch was not sent `{traceparent}`; it was sent:\n{sent}"
        );
    }
}

fn port_of(host: &str) -> u16 {
    host.rsplit(':').next().unwrap().parse().unwrap()
}

/// Two calls through `base` (a door, or its emulator's function URL): a miss, then a hit.
async fn check_door(
    jaeger: &Jaeger,
    base: &str,
    recorded: &std::sync::Mutex<Vec<u8>>,
    es_port: u16,
) {
    for (cold, cache) in [(true, "miss"), (false, "hit")] {
        let (traceparent, trace, parent) = caller_traceparent();
        let (status, request_id) = call(&format!("{base}/?hours=24"), &traceparent).await;
        assert_eq!(status, 200);
        let spans = jaeger.trace(&trace, if cold { 2 } else { 1 }).await;
        println!("{base}, {cache}:\n{}", summary(&spans));
        let sent = String::from_utf8_lossy(&recorded.lock().unwrap()).to_lowercase();
        check_call(&spans, &parent, &request_id, cold, cache, &sent, es_port);
    }
}

#[tokio::test]
#[ignore = "needs Jaeger: tests/jaeger/start, as tests/run does"]
async fn each_http_doors_call_is_one_trace_under_the_callers_parent() {
    let jaeger = Jaeger::from_env();
    let bed = Bed::new("traces-http", &observations()).await;
    for binary in [KUBELESS, KNATIVE] {
        let (proxy, recorded) = recording_proxy(es_host()).await;
        let service = format!("wx-stats-{}", port_variable(binary).to_lowercase());
        let otel = traced(&jaeger, &service);
        let env = [bed.env_via(&proxy), pairs(&otel)].concat();
        let door = Server::start(binary, port_variable(binary), &env).await;
        check_door(&jaeger, &door.base, &recorded, port_of(&proxy)).await;
    }
}

#[tokio::test]
#[ignore = "needs Jaeger: tests/jaeger/start, as tests/run does"]
async fn a_lambda_invocation_is_one_trace_under_the_callers_parent_with_lambdas_resource() {
    let jaeger = Jaeger::from_env();
    let bed = Bed::new("traces-lambda", &observations()).await;
    let (proxy, recorded) = recording_proxy(es_host()).await;
    let otel = traced(&jaeger, "wx-stats-lambda-door");
    let env = [bed.env_via(&proxy), pairs(&otel[..2])].concat();
    let emulator = Emulator::start(&env).await;
    check_door(
        &jaeger,
        &emulator.function_url(),
        &recorded,
        port_of(&proxy),
    )
    .await;
    let (traceparent, trace, _) = caller_traceparent();
    call(
        &format!("{}/?hours=3", emulator.function_url()),
        &traceparent,
    )
    .await;
    let spans = jaeger.trace(&trace, 2).await;
    let (server, _) = server_and_clients(&spans);
    for (key, expected) in [("cloud.provider", "aws"), ("cloud.platform", "aws_lambda")] {
        assert_eq!(
            server.resource.get(key).map(text).as_deref(),
            Some(expected),
            "{key}"
        );
    }
    assert!(
        server.resource.contains_key("faas.name"),
        "{:?}",
        server.resource
    );
}

#[tokio::test]
#[ignore = "needs Jaeger: tests/jaeger/start, as tests/run does"]
async fn every_json_log_line_of_a_call_carries_its_trace_and_span_ids() {
    let jaeger = Jaeger::from_env();
    // Nothing listens on port 1: every call fails, and its failure is logged at warn.
    let otel = traced(&jaeger, "wx-stats-logs");
    let lines = vec![
        ("HOST", "127.0.0.1:1"),
        ("RUST_LOG", "info,wx_stats::call=debug"),
    ];
    let door = Server::start(KNATIVE, "PORT", &[pairs(&otel), lines].concat()).await;
    let (traceparent, trace, _) = caller_traceparent();
    assert_eq!(call(&format!("{}/", door.base), &traceparent).await.0, 503);
    let spans = jaeger.trace(&trace, 1).await;
    let (server, _) = server_and_clients(&spans);
    let log = door.log();
    let calls: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            ["call", "request failed"].contains(&line["fields"]["message"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(calls.len(), 2, "the call line and the failure line:\n{log}");
    for line in calls {
        assert_eq!(line["span"]["trace_id"], trace, "{line}");
        assert_eq!(line["span"]["span_id"], server.span_id, "{line}");
    }
}

/// A fixture event from tests/fixtures.
fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The X-Ray header of each call the Lambda door logged, in order: `(trace id, parent id)`.
fn xray_headers(log: &str) -> Vec<(String, String)> {
    let field = |line: &str, name: &str| {
        let start = line.find(&format!("{name}="))? + name.len() + 1;
        Some(line[start..].split([';', '"']).next()?.to_string())
    };
    log.lines()
        .filter(|line| line.contains(" call ") && line.contains("xray_trace_id="))
        .filter_map(|line| {
            let root = field(line, "Root")?;
            let trace = root.strip_prefix("1-")?.replace('-', "");
            Some((trace, field(line, "Parent")?))
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs Jaeger: tests/jaeger/start, as tests/run does"]
async fn each_lambda_invocation_is_under_its_own_xray_header_and_names_its_trigger() {
    let jaeger = Jaeger::from_env();
    let bed = Bed::new("traces-xray", &observations()).await;
    let otel = traced(&jaeger, "wx-stats-xray");
    let lines = vec![("RUST_LOG", "info,wx_stats::call=debug")];
    let emulator = Emulator::start(&[bed.env(), pairs(&otel[..2]), lines].concat()).await;
    let function_url = emulator.function_url();
    let invoke = function_url
        .trim_end_matches('/')
        .replace("/lambda-url/", "/2015-03-31/functions/")
        + "/invocations";
    // A scheduled event, then a direct invocation, with no traceparent: the emulator gives each
    // an X-Ray header of its own, as Lambda does, in its `Lambda-Runtime-Trace-Id`; Lambda's
    // default propagators put each call under its own, never the process's.
    let invocations = [
        ("scheduled.json", "timer", true),
        ("direct.json", "other", false),
    ];
    for (n, (event, trigger, cold)) in invocations.into_iter().enumerate() {
        let sent = reqwest::Client::new()
            .post(&invoke)
            .json(&fixture(event))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200, "{}", sent.text().await.unwrap());
        let log = emulator.function_log();
        let headers = xray_headers(&log);
        assert_eq!(headers.len(), n + 1, "one X-Ray header per call:\n{log}");
        let (trace, parent) = &headers[n];
        let spans = jaeger.trace(trace, 1).await;
        let all = summary(&spans);
        println!("{event} under X-Ray trace {trace}, parent {parent}:\n{all}");
        let (server, _) = server_and_clients(&spans);
        assert_eq!(
            server.parent_span_id.as_deref(),
            Some(parent.as_str()),
            "{all}"
        );
        assert_eq!(text(tag(server, "faas.trigger")), trigger, "{all}");
        assert_eq!(
            text(tag(server, "faas.coldstart")),
            cold.to_string(),
            "{all}"
        );
    }
    let headers = xray_headers(&emulator.function_log());
    assert_ne!(headers[0].0, headers[1].0, "each invocation its own trace");
}

#[tokio::test]
#[ignore = "needs Jaeger: tests/jaeger/start, as tests/run does"]
async fn behind_the_queue_proxy_one_trace_holds_its_spans_the_doors_and_the_search() {
    let jaeger = Jaeger::from_env();
    let bed = Bed::new("traces-queue-proxy", &observations()).await;
    let (proxy, recorded) = recording_proxy(es_host()).await;
    let revision = Revision::from_service_yaml();
    let door_env = revision.door_env();
    let otel = traced(&jaeger, "wx-stats-door");
    let env = [bed.env_via(&proxy), pairs(&door_env), pairs(&otel)].concat();
    let door = Server::start(KNATIVE, "PORT", &env).await;
    let queue = QueueProxy::start_traced(&revision, door.port, jaeger.otlp_url()).await;

    let (traceparent, trace, parent) = caller_traceparent();
    let (status, _) = call(&format!("{}/?hours=24", queue.base), &traceparent).await;
    assert_eq!(status, 200);
    // The queue-proxy's server, proxy and client spans, and ours: SERVER and CLIENT.
    let spans = jaeger.trace(&trace, 5).await;
    let all = summary(&spans);
    println!("through the queue-proxy:\n{all}");
    let ours = |span: &&Span| span.service == "wx-stats-door";
    let door_spans: Vec<Span> = spans.iter().filter(ours).cloned().collect();
    let (server, clients) = server_and_clients(&door_spans);
    let queue_spans: Vec<&Span> = spans.iter().filter(|s| !ours(s)).collect();
    assert!(
        queue_spans
            .iter()
            .any(|s| s.parent_span_id.as_deref() == Some(parent.as_str())),
        "the queue-proxy's span is the child of the caller's:\n{all}"
    );
    let door_parent = server.parent_span_id.clone().unwrap_or_default();
    assert!(
        queue_spans
            .iter()
            .any(|s| s.span_id == door_parent && s.kind == "client"),
        "the door's SERVER span is under the queue-proxy's CLIENT span:\n{all}"
    );
    // Where it runs, from Knative's variables: the service's name gives way to
    // OTEL_SERVICE_NAME, as the specification says; the revision is its version.
    let k_revision = door_env.iter().find(|(k, _)| k == "K_REVISION").unwrap();
    for (key, expected) in [
        ("service.version", k_revision.1.as_str()),
        ("faas.version", k_revision.1.as_str()),
        ("faas.name", "wx-stats"),
        ("knative.configuration.name", "wx-stats"),
    ] {
        assert_eq!(
            server.resource.get(key).map(text).as_deref(),
            Some(expected),
            "{key}"
        );
    }
    assert!(!clients.is_empty(), "the door searched:\n{all}");
    let sent = String::from_utf8_lossy(&recorded.lock().unwrap()).to_lowercase();
    for client in clients {
        assert!(sent.contains(&format!("-{}-01", client.span_id)), "{sent}");
    }
}

#[tokio::test]
#[ignore = "needs Jaeger: tests/jaeger/start, as tests/run does"]
async fn eight_overlapping_invocations_on_managed_instances_are_eight_traces() {
    let jaeger = Jaeger::from_env();
    let bed = Bed::new("traces-managed-instances", &observations()).await;
    // Slow enough that the eight are in flight together.
    let slow = delaying_proxy(es_host(), Duration::from_millis(400)).await;
    let otel = traced(&jaeger, "wx-stats-managed");
    let env = [
        bed.env_via(&slow),
        pairs(&otel[..2]),
        vec![("AWS_LAMBDA_MAX_CONCURRENCY", "8")],
    ]
    .concat();
    let emulator = Emulator::start(&env).await;
    let function = emulator.function_url();
    let started = Instant::now();
    let calls: Vec<_> = (1..=8)
        .map(|hours| {
            let (traceparent, trace, parent) = caller_traceparent();
            let url = format!("{function}/?hours={hours}");
            tokio::spawn(async move { (call(&url, &traceparent).await, trace, parent) })
        })
        .collect();
    let mut answered = Vec::new();
    for call in calls {
        answered.push(call.await.unwrap());
    }
    println!("8 invocations in {:?}", started.elapsed());
    for ((status, request_id), trace, parent) in answered {
        assert_eq!(status, 200);
        let spans = jaeger.trace(&trace, 2).await;
        let (server, clients) = server_and_clients(&spans);
        let all = summary(&spans);
        assert_eq!(
            server.parent_span_id.as_deref(),
            Some(parent.as_str()),
            "{all}"
        );
        assert_eq!(text(tag(server, "faas.invocation_id")), request_id, "{all}");
        assert!(!clients.is_empty(), "{all}");
        assert!(spans.iter().all(|s| s.trace_id == trace), "{all}");
    }
}

/// A loopback port with nothing listening: a collector that has stopped.
fn stopped_collector() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

const UNREACHABLE: &str = "cannot reach the OTLP collector";

#[tokio::test]
async fn with_the_collector_stopped_calls_answer_and_one_warning_says_so() {
    let bed = Bed::new("traces-collector-stopped", &observations()).await;
    let collector = stopped_collector();
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
    ];
    let env = [bed.env(), otel.to_vec()].concat();
    let door = Server::start(KUBELESS, "FUNC_PORT", &env).await;
    let emulator = Emulator::start(&env).await;
    for base in [door.base.clone(), emulator.function_url()] {
        for hours in 1..=10 {
            let (traceparent, _, _) = caller_traceparent();
            let (status, _) = call(&format!("{base}/?hours={hours}"), &traceparent).await;
            assert_eq!(status, 200);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Exports went on failing all along (every 100 ms), yet each signal warned once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (name, log) in [
        ("kubeless", door.log()),
        ("lambda", emulator.function_log()),
    ] {
        let warnings: Vec<&str> = log.lines().filter(|l| l.contains(UNREACHABLE)).collect();
        assert_eq!(warnings.len(), 2, "{name}: one warning per signal:\n{log}");
        assert!(
            warnings.iter().all(|w| w.contains("refused")),
            "{warnings:?}"
        );
    }
}

#[tokio::test]
async fn a_collector_that_never_answers_is_not_on_the_calls_path() {
    let bed = Bed::new("traces-collector-silent", &observations()).await;
    // Accepts connections and never answers: each export waits out its 3 s timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let collector = format!("http://{}", silent.local_addr().unwrap());
    let otel = [
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.as_str()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "3000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ];
    let env = [bed.env(), otel.to_vec()].concat();
    let door = Server::start(KUBELESS, "FUNC_PORT", &env).await;
    for hours in 1..=10 {
        let (traceparent, _, _) = caller_traceparent();
        let url = format!("{}/?hours={hours}", door.base);
        // Not a timing claim: a call that waited for an export would wait its whole timeout.
        let answered = tokio::time::timeout(Duration::from_secs(3), call(&url, &traceparent)).await;
        let (status, _) = answered.expect("a call waited for an export");
        assert_eq!(status, 200);
    }
}

/// The value of the first sample of `metric` among Prometheus `lines` whose labels hold all of
/// `labels`.
fn sample(lines: &[String], metric: &str, labels: &[&str]) -> f64 {
    let line = lines.iter().find(|line| {
        line.starts_with(&format!("{metric}{{")) && labels.iter().all(|l| line.contains(l))
    });
    let line =
        line.unwrap_or_else(|| panic!("no {metric} with {labels:?} in:\n{}", lines.join("\n")));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
#[ignore = "needs Jaeger: tests/jaeger/start, as tests/run does"]
async fn the_calls_metrics_reach_the_collector_over_otlp() {
    let jaeger = Jaeger::from_env();
    let bed = Bed::new("traces-metrics", &observations()).await;
    // A name of this run's own: Jaeger adds up the series of every process that has the same.
    let (_, unique, _) = caller_traceparent();
    let service = &format!("wx-stats-metrics-{unique}");
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp_url()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
        ("OTEL_SERVICE_NAME", service),
    ];
    let env = [bed.env(), otel.to_vec()].concat();
    let door = Server::start(KUBELESS, "FUNC_PORT", &env).await;
    for _ in 0..3 {
        let (traceparent, _, _) = caller_traceparent();
        assert_eq!(
            call(&format!("{}/?hours=24", door.base), &traceparent)
                .await
                .0,
            200
        );
    }
    let metric = "http_server_request_duration_seconds_count";
    let lines = jaeger.metrics_of(service, metric).await;
    let calls = sample(&lines, metric, &["http_response_status_code=\"200\""]);
    assert_eq!(calls, 3.0, "{}", lines.join("\n"));
    let cache = "wx_stats_cache_outcomes_total";
    assert_eq!(sample(&lines, cache, &["wx_stats_cache=\"miss\""]), 1.0);
    assert_eq!(sample(&lines, cache, &["wx_stats_cache=\"hit\""]), 2.0);
    let searches = sample(&lines, "db_client_operation_duration_seconds_count", &[]);
    assert!(searches >= 1.0, "{}", lines.join("\n"));
    assert_eq!(
        sample(&lines, "faas_invoke_duration_seconds_count", &[]),
        3.0
    );
}

#[tokio::test]
async fn with_emf_namespace_each_lambda_call_writes_an_embedded_metric_format_line() {
    let bed = Bed::new("traces-emf", &observations()).await;
    let env = [bed.env(), vec![("EMF_NAMESPACE", "wx-stats-test")]].concat();
    let emulator = Emulator::start(&env).await;
    for _ in 0..2 {
        let (traceparent, _, _) = caller_traceparent();
        let url = format!("{}/?hours=24", emulator.function_url());
        assert_eq!(call(&url, &traceparent).await.0, 200);
    }
    let log = emulator.function_log();
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect();
    assert_eq!(lines.len(), 2, "one line per call:\n{log}");
    for (line, hit) in lines.iter().zip([0, 1]) {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert!(line["_aws"]["Timestamp"].is_u64(), "{line}");
        assert_eq!(directive["Namespace"], "wx-stats-test", "{line}");
        assert_eq!(directive["Dimensions"][0][0], "FunctionName", "{line}");
        assert!(line["FunctionName"].is_string(), "{line}");
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "{name} of {line}");
        }
        assert_eq!(line["CacheHits"], hit, "{line}");
        assert_eq!(line["StatusCode"], 200, "{line}");
    }
}
