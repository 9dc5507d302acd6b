//! What a call tells OpenTelemetry once a door has turned it on (`door::telemetry::otel` reads
//! the `OTEL_*` variables and installs the exporters): the parent a call's SERVER span takes
//! from its request, the CLIENT span of each search and the `traceparent` it sends, and the
//! instruments a call's metrics also go to.
//!
//! Off (no OTLP endpoint), nothing here is built: [`tracing_on`] is one atomic load, and
//! [`instruments`] is `None`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use http::HeaderMap;
use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The target of a search's CLIENT span. The exporting layer takes these and a call's SERVER
/// span (`http::identity::CALL_LOG`), and nothing else.
pub(crate) const SEARCH_SPANS: &str = "wx_stats::search";

/// The header an X-Ray trace travels in, which the `xray` propagator reads.
const XRAY_HEADER: &str = "x-amzn-trace-id";

static TRACING: AtomicBool = AtomicBool::new(false);
static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();

/// Whether calls and searches are traced: a span exporter is installed.
pub(crate) fn tracing_on() -> bool {
    TRACING.load(Ordering::Relaxed)
}

/// Says that a span exporter is installed, so calls and searches build their spans.
pub(crate) fn turn_tracing_on() {
    TRACING.store(true, Ordering::Relaxed);
}

/// The instruments, when a metric exporter is installed.
pub(crate) fn instruments() -> Option<&'static Instruments> {
    INSTRUMENTS.get()
}

/// Makes the instruments from `meter`, once per process.
pub(crate) fn install_instruments(meter: &Meter) {
    let _ = INSTRUMENTS.set(Instruments::new(meter));
}

/// The metrics exported over OTLP, named as the semantic conventions name them: the same calls
/// that `/metrics` counts, the searches, and the cache's outcomes.
#[derive(Debug)]
pub(crate) struct Instruments {
    /// `http.server.request.duration`, in seconds, by method, route and status.
    pub request_duration: Histogram<f64>,
    /// `faas.invoke_duration`, in seconds, by trigger.
    pub invoke_duration: Histogram<f64>,
    /// `http.server.active_requests`: calls in flight.
    pub active_requests: UpDownCounter<i64>,
    /// `wx_stats.calls.shed`: calls refused at once because `MAX_IN_FLIGHT` were in progress.
    pub shed: Counter<u64>,
    /// `wx_stats.cache.outcomes`, by outcome (hit, coalesced, miss).
    pub cache_outcomes: Counter<u64>,
    /// `db.client.operation.duration`, in seconds: each try of each search, by status.
    pub search_duration: Histogram<f64>,
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        // The HTTP conventions' buckets, in seconds.
        let buckets = vec![
            0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
        ];
        let seconds = |name: &'static str, what: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(what)
                .with_boundaries(buckets.clone())
                .build()
        };
        Instruments {
            request_duration: seconds(
                "http.server.request.duration",
                "Duration of HTTP server requests",
            ),
            invoke_duration: seconds("faas.invoke_duration", "Duration of function invocations"),
            active_requests: meter
                .i64_up_down_counter("http.server.active_requests")
                .with_unit("{request}")
                .with_description("Number of active HTTP server requests")
                .build(),
            shed: meter
                .u64_counter("wx_stats.calls.shed")
                .with_unit("{call}")
                .with_description(
                    "Calls answered 503 at once because MAX_IN_FLIGHT were in progress",
                )
                .build(),
            cache_outcomes: meter
                .u64_counter("wx_stats.cache.outcomes")
                .with_unit("{call}")
                .with_description("Answers by where they came from: hit, coalesced or miss")
                .build(),
            search_duration: seconds(
                "db.client.operation.duration",
                "Duration of Elasticsearch searches",
            ),
        }
    }
}

/// Gives a call's `span` its parent, from the request's `headers` and the platform's X-Ray
/// trace header (`xray`), as the propagators `OTEL_PROPAGATORS` names find it, then records
/// its ids on it, so that every log line written in it carries them.
pub(crate) fn adopt_parent(span: &tracing::Span, headers: &HeaderMap, xray: Option<&str>) {
    let carrier = Carrier { headers, xray };
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    let _ = span.set_parent(parent);
    record_ids(span);
}

/// Records `span`'s trace and span ids as its `trace_id` and `span_id` fields.
pub(crate) fn record_ids(span: &tracing::Span) {
    let context = span.context();
    let ids = context.span().span_context().clone();
    if ids.is_valid() {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
        span.record("span_id", tracing::field::display(ids.span_id()));
    }
}

/// The W3C `traceparent` that names `span` as the parent: what a search sends, so that
/// Elasticsearch's side of the trace hangs under its CLIENT span. `None` when tracing is off.
pub(crate) fn traceparent(span: &tracing::Span) -> Option<String> {
    if !tracing_on() {
        return None;
    }
    let context = span.context();
    let ids = context.span().span_context().clone();
    ids.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            ids.trace_id(),
            ids.span_id(),
            ids.trace_flags().to_u8()
        )
    })
}

/// A request's headers, and Lambda's X-Ray trace header, which comes with the invocation rather
/// than in a header (and never from the process's `_X_AMZN_TRACE_ID`, which concurrent
/// invocations would share).
struct Carrier<'a> {
    headers: &'a HeaderMap,
    xray: Option<&'a str>,
}

impl Extractor for Carrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match (key, self.xray) {
            (XRAY_HEADER, Some(xray)) => Some(xray),
            _ => self.headers.get(key).and_then(|v| v.to_str().ok()),
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.headers.keys().map(|name| name.as_str()).collect()
    }
}
