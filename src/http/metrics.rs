//! The function's metrics, which every HTTP door serves at `/metrics` (and the Lambda door
//! sums in its last log line), in Prometheus's text format and with the names Kubeless's
//! runtimes gave them:
//! `function_duration_seconds`, `function_calls_total` and `function_failures_total`, each
//! labelled by HTTP `method`; `function_calls_in_flight`, which shows that calls whose
//! client went away do not linger; and `function_calls_shed_total` by `method`, the calls
//! refused at once because `MAX_IN_FLIGHT` were in progress; and `function_cache_outcomes_total`
//! by `outcome` (hit, coalesced, miss).
//!
//! The same calls also go, when the door exports them, to OTLP ([`crate::otel::Instruments`])
//! and, on Lambda, to CloudWatch as Embedded Metric Format lines ([`emf`]).

pub(crate) mod emf;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::http::Method;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder, core::Collector,
};

use crate::cache::CacheOutcome;
use crate::error::Error;
use crate::stats::Served;
use opentelemetry::KeyValue;

/// The registry and its metrics. Each state has its own registry, so tests that build several
/// routers never share counts. Cheap to clone: every clone counts into the same series.
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Registered>);

/// What [`Metrics`] shares between its clones.
#[derive(Debug)]
pub struct Registered {
    registry: Registry,
    duration: HistogramVec,
    calls: IntCounterVec,
    failures: IntCounterVec,
    in_flight: IntGauge,
    shed: IntCounterVec,
    /// Each cache outcome's series, in [`CacheOutcome`]'s order, looked up once.
    cache_outcomes: [IntCounter; 3],
    /// Each method's series, looked up in the vectors the first time the method is seen,
    /// rather than by label on every call.
    by_method: [OnceLock<MethodSeries>; LABELS.len()],
}

/// One method's series.
#[derive(Debug)]
struct MethodSeries {
    duration: Histogram,
    calls: IntCounter,
    failures: IntCounter,
    shed: IntCounter,
}

/// A running function call, measured when it finishes. It counts as in flight until dropped,
/// so a call abandoned midway (its client disconnected) leaves the gauge too.
pub struct CallTimer {
    metrics: Metrics,
    method: usize,
    started: Instant,
    finished: bool,
}

impl Metrics {
    /// Registers the metrics in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let by_method = ["method"];
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "function_duration_seconds",
                "Duration of function calls in seconds",
            ),
            &by_method,
        );
        let calls = IntCounterVec::new(
            Opts::new("function_calls_total", "Number of function calls"),
            &by_method,
        );
        let failures = IntCounterVec::new(
            Opts::new(
                "function_failures_total",
                "Number of function calls that failed (408 or 5xx)",
            ),
            &by_method,
        );
        let in_flight = IntGauge::new(
            "function_calls_in_flight",
            "Number of function calls being answered now",
        );
        let shed = IntCounterVec::new(
            Opts::new(
                "function_calls_shed_total",
                "Number of function calls answered 503 at once because MAX_IN_FLIGHT were in progress",
            ),
            &by_method,
        );
        let cache_outcomes = IntCounterVec::new(
            Opts::new(
                "function_cache_outcomes_total",
                "Number of answers by where they came from: hit, coalesced or miss",
            ),
            &["outcome"],
        );
        // Constant names and labels in a fresh registry: these cannot fail.
        let (Ok(duration), Ok(calls), Ok(failures), Ok(in_flight), Ok(shed), Ok(cache_outcomes)) =
            (duration, calls, failures, in_flight, shed, cache_outcomes)
        else {
            unreachable!("the metric definitions are constants")
        };
        let _ = registry.register(Box::new(duration.clone()));
        let _ = registry.register(Box::new(calls.clone()));
        let _ = registry.register(Box::new(failures.clone()));
        let _ = registry.register(Box::new(in_flight.clone()));
        let _ = registry.register(Box::new(shed.clone()));
        let _ = registry.register(Box::new(cache_outcomes.clone()));
        let outcomes = [
            CacheOutcome::Hit,
            CacheOutcome::Coalesced,
            CacheOutcome::Miss,
        ];
        let cache_outcomes = outcomes.map(|o| cache_outcomes.with_label_values(&[o.name()]));
        // Scrapers see every series from the start, at zero, rather than only after a failure.
        for method in ["GET", "POST"] {
            duration.with_label_values(&[method]);
            calls.with_label_values(&[method]);
            failures.with_label_values(&[method]);
            shed.with_label_values(&[method]);
        }
        Metrics(Arc::new(Registered {
            registry,
            duration,
            calls,
            failures,
            in_flight,
            shed,
            cache_outcomes,
            by_method: Default::default(),
        }))
    }

    /// The series of the method [`LABELS`]`[at]`.
    fn series(&self, at: usize) -> &MethodSeries {
        self.by_method[at].get_or_init(|| {
            let label = [LABELS[at]];
            MethodSeries {
                duration: self.duration.with_label_values(&label),
                calls: self.calls.with_label_values(&label),
                failures: self.failures.with_label_values(&label),
                shed: self.shed.with_label_values(&label),
            }
        })
    }

    /// Starts measuring one call.
    pub fn start(&self, method: &Method) -> CallTimer {
        self.in_flight.inc();
        if let Some(otel) = crate::otel::instruments() {
            otel.active_requests.add(1, &[]);
        }
        CallTimer {
            metrics: self.clone(),
            method: label(method),
            started: Instant::now(),
            finished: false,
        }
    }

    /// Counts one call refused because `MAX_IN_FLIGHT` calls were in progress. It is still
    /// measured as a call (a 503, so a failure) by its [`CallTimer`]; this says why it failed.
    pub fn shed(&self, method: &Method) {
        self.series(label(method)).shed.inc();
        if let Some(otel) = crate::otel::instruments() {
            otel.shed.add(
                1,
                &[KeyValue::new("http.request.method", method_name(method))],
            );
        }
    }

    /// Function calls and failed calls since start, over every method: the last log line of a
    /// Lambda environment, whose metrics nothing scrapes.
    pub fn totals(&self) -> (u64, u64) {
        let sum = |counter: &IntCounterVec| -> u64 {
            let families = counter.collect();
            let metrics = families.iter().flat_map(|family| family.get_metric());
            metrics
                .map(|metric| metric.get_counter().get_value() as u64)
                .sum()
        };
        (sum(&self.calls), sum(&self.failures))
    }

    /// The text exposition format.
    pub fn render(&self) -> Result<String, Error> {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .map_err(|e| Error::Internal(format!("cannot encode metrics: {e}")))?;
        String::from_utf8(buffer).map_err(|e| Error::Internal(e.to_string()))
    }
}

impl std::ops::Deref for Metrics {
    type Target = Registered;

    fn deref(&self) -> &Registered {
        &self.0
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The values of the `method` label: the standard methods by name, and any other as `other`,
/// so that a client inventing methods cannot grow the registry without bound.
const LABELS: [&str; 10] = [
    "GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "CONNECT", "TRACE", "other",
];

/// `method`'s label.
fn method_name(method: &Method) -> &'static str {
    LABELS[label(method)]
}

/// Where `method`'s label is in [`LABELS`].
fn label(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::HEAD => 2,
        Method::OPTIONS => 3,
        Method::PUT => 4,
        Method::DELETE => 5,
        Method::PATCH => 6,
        Method::CONNECT => 7,
        Method::TRACE => 8,
        _ => 9,
    }
}

impl CallTimer {
    /// The call's method, as its `method` label names it.
    pub fn method(&self) -> &'static str {
        LABELS[self.method]
    }

    /// Records the call, with what it was `served` when it was answered: a failure is a
    /// timeout (408) or a server-side error (5xx), as Kubeless counts a function that raised or
    /// ran out of time. Returns the duration in milliseconds, for the access log.
    pub(crate) fn finish(mut self, status: u16, served: Option<Served>) -> f64 {
        self.finished = true;
        let elapsed = self.started.elapsed().as_secs_f64();
        let series = self.metrics.series(self.method);
        series.calls.inc();
        series.duration.observe(elapsed);
        let failed = status == 408 || status >= 500;
        if failed {
            series.failures.inc();
        }
        let cache = served.map(|served| served.cache);
        if let Some(cache) = cache {
            self.metrics.cache_outcomes[cache as usize].inc();
        }
        if let Some(otel) = crate::otel::instruments() {
            let method = KeyValue::new("http.request.method", self.method());
            let status = KeyValue::new("http.response.status_code", i64::from(status));
            otel.request_duration.record(elapsed, &[method, status]);
            otel.invoke_duration.record(elapsed, &[]);
            if let Some(cache) = cache {
                let outcome = KeyValue::new("wx_stats.cache", cache.name());
                otel.cache_outcomes.add(1, &[outcome]);
            }
        }
        let millis = (elapsed * 1_000_000.0).round() / 1000.0;
        emf::record(millis, status, failed, served);
        millis
    }
}

impl Drop for CallTimer {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        if let Some(otel) = crate::otel::instruments() {
            otel.active_requests.add(-1, &[]);
        }
        if !self.finished {
            tracing::info!(
                method = self.method(),
                "call abandoned: the client went away"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invented_method_is_counted_as_other_so_clients_cannot_add_series() {
        let metrics = Metrics::new();
        for name in ["FOO", "BAR"] {
            metrics
                .start(&Method::from_bytes(name.as_bytes()).unwrap())
                .finish(405, None);
        }
        let text = metrics.render().unwrap();
        assert!(
            text.contains("function_calls_total{method=\"other\"} 2"),
            "{text}"
        );
        assert!(!text.contains("FOO") && !text.contains("BAR"), "{text}");
    }

    #[test]
    fn each_answer_is_counted_by_where_it_came_from() {
        let metrics = Metrics::new();
        let served = |cache| {
            let format = crate::format::Format::Csv;
            Some(Served { format, cache })
        };
        metrics
            .start(&Method::GET)
            .finish(200, served(CacheOutcome::Miss));
        metrics
            .start(&Method::GET)
            .finish(200, served(CacheOutcome::Hit));
        metrics
            .start(&Method::GET)
            .finish(304, served(CacheOutcome::Hit));
        metrics.start(&Method::GET).finish(503, None);
        let text = metrics.render().unwrap();
        for (outcome, count) in [("hit", 2), ("coalesced", 0), ("miss", 1)] {
            let line = format!("function_cache_outcomes_total{{outcome=\"{outcome}\"}} {count}");
            assert!(text.contains(&line), "{line} in:\n{text}");
        }
    }

    #[test]
    fn calls_failures_and_durations_are_counted_per_method() {
        let metrics = Metrics::new();
        metrics.start(&Method::GET).finish(200, None);
        metrics.start(&Method::GET).finish(503, None);
        metrics.start(&Method::POST).finish(408, None);
        metrics.start(&Method::POST).finish(400, None);
        let text = metrics.render().unwrap();
        assert!(
            text.contains("function_calls_total{method=\"GET\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("function_calls_total{method=\"POST\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("function_failures_total{method=\"GET\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("function_failures_total{method=\"POST\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("function_duration_seconds_count{method=\"GET\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE function_duration_seconds histogram"),
            "{text}"
        );
    }

    #[test]
    fn shed_calls_are_counted_per_method_from_zero() {
        let metrics = Metrics::new();
        let text = metrics.render().unwrap();
        assert!(
            text.contains("function_calls_shed_total{method=\"POST\"} 0"),
            "{text}"
        );
        metrics.shed(&Method::GET);
        metrics.shed(&Method::GET);
        let text = metrics.render().unwrap();
        assert!(
            text.contains("function_calls_shed_total{method=\"GET\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("function_calls_shed_total{method=\"POST\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn a_call_is_in_flight_until_finished_or_dropped() {
        let metrics = Metrics::new();
        let finished = metrics.start(&Method::GET);
        let abandoned = metrics.start(&Method::GET);
        assert!(
            metrics
                .render()
                .unwrap()
                .contains("function_calls_in_flight 2")
        );
        finished.finish(200, None);
        assert!(
            metrics
                .render()
                .unwrap()
                .contains("function_calls_in_flight 1")
        );
        drop(abandoned);
        let text = metrics.render().unwrap();
        assert!(text.contains("function_calls_in_flight 0"), "{text}");
        // Only finished calls are counted as calls.
        assert!(
            text.contains("function_calls_total{method=\"GET\"} 1"),
            "{text}"
        );
    }
}
