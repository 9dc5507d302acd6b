//! The real Jaeger (v1.75.0, Jaeger v2) started by `tests/jaeger/start`: where the tests send
//! their spans over OTLP/HTTP, and a small client of its query API (the JSON of
//! `GET /api/traces/{traceID}` that Jaeger's UI reads) to read them back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// How long [`Jaeger::trace`] waits for a trace's spans, and how often it looks.
const TRACE_WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(200);

/// The test Jaeger: its OTLP/HTTP receiver and its query API.
#[derive(Clone, Debug)]
pub struct Jaeger {
    otlp_url: String,
    query_url: String,
    metrics_url: String,
    client: reqwest::Client,
}

/// One span as Jaeger stores it.
#[derive(Clone, Debug)]
pub struct Span {
    /// The trace id, 32 lowercase hex digits (as in a W3C `traceparent`).
    pub trace_id: String,
    /// The span id, 16 lowercase hex digits.
    pub span_id: String,
    /// The parent span's id, or `None` for the trace's root (or a span whose parent is in no
    /// trace Jaeger knows, such as one a `traceparent` named: it is still the parent here).
    pub parent_span_id: Option<String>,
    /// The span's name (Jaeger's operation name).
    pub name: String,
    /// `server`, `client`, `internal`, `producer` or `consumer`, from the `span.kind` tag;
    /// empty when the span has none.
    pub kind: String,
    /// The `service.name` of the resource that sent the span.
    pub service: String,
    /// The span's attributes, and Jaeger's own tags such as `span.kind` and `otel.status_code`.
    pub tags: BTreeMap<String, Value>,
    /// The attributes of the resource that sent the span (Jaeger's process tags), but for
    /// `service.name`, which is [`Span::service`].
    pub resource: BTreeMap<String, Value>,
}

impl Span {
    /// The span's tag `key`, if it has one.
    pub fn tag(&self, key: &str) -> Option<&Value> {
        self.tags.get(key)
    }
}

impl Jaeger {
    /// The Jaeger that `tests/run` started: `TEST_JAEGER_OTLP_URL` and `TEST_JAEGER_QUERY_URL`.
    /// There is no default: these tests never skip, and fail saying how to start one.
    pub fn from_env() -> Jaeger {
        let var = |name: &str, line: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: these tests need a Jaeger of their own. Start one with \
                     `tests/jaeger/start` and set TEST_JAEGER_OTLP_URL, TEST_JAEGER_QUERY_URL \
                     and TEST_JAEGER_METRICS_URL to the JAEGER_..._URL=... lines it prints \
                     (here: {line}), or run the whole suite with `tests/run`."
                )
            })
        };
        let otlp_url = var("TEST_JAEGER_OTLP_URL", "JAEGER_OTLP_URL");
        let query_url = var("TEST_JAEGER_QUERY_URL", "JAEGER_QUERY_URL");
        let metrics_url = var("TEST_JAEGER_METRICS_URL", "JAEGER_METRICS_URL");
        Jaeger {
            metrics_url,
            otlp_url: otlp_url.trim_end_matches('/').to_string(),
            query_url: query_url.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    /// The OTLP metrics Jaeger has received, in Prometheus's text format: the lines that
    /// name `service` (resource attributes are labels), polled until one names `metric`.
    pub async fn metrics_of(&self, service: &str, metric: &str) -> Vec<String> {
        let label = format!("service_name=\"{service}\"");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.client.get(&self.metrics_url).send().await.unwrap();
            let text = text.text().await.unwrap();
            let lines: Vec<String> = text
                .lines()
                .filter(|line| line.contains(&label))
                .map(str::to_string)
                .collect();
            if lines.iter().any(|line| line.starts_with(metric)) {
                return lines;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {metric} from {service} within 20 s; Jaeger's metrics:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The OTLP/HTTP receiver's base URL, `http://127.0.0.1:PORT`: OTLP/HTTP exporters send
    /// traces to `/v1/traces` under it (`OTEL_EXPORTER_OTLP_ENDPOINT` takes it as it is).
    pub fn otlp_url(&self) -> &str {
        &self.otlp_url
    }

    /// The query API's base URL, `http://127.0.0.1:PORT` (Jaeger's UI too).
    pub fn query_url(&self) -> &str {
        &self.query_url
    }

    /// The spans of trace `trace_id` (hex, as in a `traceparent`), once Jaeger has at least
    /// `at_least_spans` of them: polls every 200 ms for up to 20 s, then fails the test with
    /// the spans it has. Spans are exported in batches, so a trace fills in over time.
    pub async fn trace(&self, trace_id: &str, at_least_spans: usize) -> Vec<Span> {
        let url = format!("{}/api/traces/{}", self.query_url, trace_id);
        let deadline = tokio::time::Instant::now() + TRACE_WAIT;
        loop {
            let spans = match self.get(&url).await {
                Some(response) => response
                    .data
                    .into_iter()
                    .flat_map(TraceJson::into_spans)
                    .collect(),
                None => Vec::new(),
            };
            if spans.len() >= at_least_spans {
                return spans;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "trace {trace_id} has {} span(s) in Jaeger after {TRACE_WAIT:?}, not the {} \
                     at least expected: {}",
                    spans.len(),
                    at_least_spans,
                    summary(&spans)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The ids of the traces that have a span of `service` (up to 1,000, of the
    /// last two days: Jaeger's default lookback).
    pub async fn traces_of_service(&self, service: &str) -> Vec<String> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/traces", self.query_url),
            &[("service", service), ("limit", "1000")],
        )
        .unwrap();
        let response = self.get(url.as_str()).await.unwrap_or_default();
        response
            .data
            .iter()
            .map(|trace| full_id(&trace.trace_id, 32))
            .collect()
    }

    /// The names of the services Jaeger has spans of.
    pub async fn services(&self) -> Vec<String> {
        let url = format!("{}/api/services", self.query_url);
        let response = self.client.get(&url).send().await;
        let body: Value = match response {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(error) => panic!("{}", self.unreachable(&url, &error)),
        };
        serde_json::from_value(body["data"].clone()).unwrap_or_default()
    }

    /// The query API's answer at `url`; `None` when it has no such trace (404). Fails the test
    /// when Jaeger does not answer or answers something else.
    async fn get(&self, url: &str) -> Option<ResponseJson> {
        let response = match self.client.get(url).send().await {
            Ok(response) => response,
            Err(error) => panic!("{}", self.unreachable(url, &error)),
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "GET {url}: {status}: {body}");
        let parsed =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"));
        Some(parsed)
    }

    fn unreachable(&self, url: &str, error: &reqwest::Error) -> String {
        format!(
            "no Jaeger answers GET {url} ({error}). Start one with `tests/jaeger/start` and set \
             TEST_JAEGER_QUERY_URL to the JAEGER_QUERY_URL it prints, or run `tests/run`."
        )
    }
}

/// `name id parent kind service` of each span, one a line, for a failure's message.
pub fn summary(spans: &[Span]) -> String {
    let lines: Vec<String> = spans
        .iter()
        .map(|span| {
            format!(
                "\n  {} span {} parent {} kind {} service {}",
                span.name,
                span.span_id,
                span.parent_span_id.as_deref().unwrap_or("-"),
                span.kind,
                span.service
            )
        })
        .collect();
    lines.concat()
}

/// `id` as `digits` lowercase hex digits: Jaeger drops a trace id's leading zero half.
fn full_id(id: &str, digits: usize) -> String {
    format!("{:0>digits$}", id.to_ascii_lowercase())
}

/// `GET /api/traces...`: `{"data": [trace...], "errors": ...}`.
#[derive(Debug, Default, Deserialize)]
struct ResponseJson {
    #[serde(default)]
    data: Vec<TraceJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TraceJson {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(default)]
    spans: Vec<SpanJson>,
    #[serde(default)]
    processes: BTreeMap<String, ProcessJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpanJson {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    operation_name: String,
    #[serde(default)]
    references: Vec<ReferenceJson>,
    #[serde(default)]
    tags: Vec<TagJson>,
    #[serde(rename = "processID")]
    process_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferenceJson {
    ref_type: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Debug, Deserialize)]
struct TagJson {
    key: String,
    value: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProcessJson {
    service_name: String,
    #[serde(default)]
    tags: Vec<TagJson>,
}

impl TraceJson {
    fn into_spans(self) -> Vec<Span> {
        let processes = self.processes;
        self.spans
            .into_iter()
            .map(|span| {
                let process = processes.get(&span.process_id);
                let tags: BTreeMap<String, Value> =
                    span.tags.into_iter().map(|t| (t.key, t.value)).collect();
                let parent = span
                    .references
                    .iter()
                    .find(|reference| reference.ref_type == "CHILD_OF")
                    .or(span.references.first());
                Span {
                    trace_id: full_id(&span.trace_id, 32),
                    span_id: full_id(&span.span_id, 16),
                    parent_span_id: parent.map(|reference| full_id(&reference.span_id, 16)),
                    name: span.operation_name,
                    kind: tags
                        .get("span.kind")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    service: process
                        .map(|process| process.service_name.clone())
                        .unwrap_or_default(),
                    tags,
                    resource: process
                        .into_iter()
                        .flat_map(|process| &process.tags)
                        .map(|tag| (tag.key.clone(), tag.value.clone()))
                        .collect(),
                }
            })
            .collect()
    }
}
