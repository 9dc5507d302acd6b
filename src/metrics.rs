//! Kubeless's function metrics, in Prometheus's text format:
//! `function_duration_seconds`, `function_calls_total` and `function_failures_total`, each
//! labelled by HTTP `method`.

use std::time::Instant;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::error::Error;

/// The registry and the three metrics. Each state has its own registry, so tests that build
/// several routers never share counts.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    duration: HistogramVec,
    calls: IntCounterVec,
    failures: IntCounterVec,
}

/// A running function call, measured when it finishes.
pub struct CallTimer<'a> {
    metrics: &'a Metrics,
    method: String,
    started: Instant,
}

impl Metrics {
    /// Registers the three metrics in a fresh registry.
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
        // Constant names and labels in a fresh registry: these cannot fail.
        let (Ok(duration), Ok(calls), Ok(failures)) = (duration, calls, failures) else {
            unreachable!("the metric definitions are constants")
        };
        let _ = registry.register(Box::new(duration.clone()));
        let _ = registry.register(Box::new(calls.clone()));
        let _ = registry.register(Box::new(failures.clone()));
        // Scrapers see every series from the start, at zero, rather than only after a failure.
        for method in ["GET", "POST"] {
            duration.with_label_values(&[method]);
            calls.with_label_values(&[method]);
            failures.with_label_values(&[method]);
        }
        Metrics {
            registry,
            duration,
            calls,
            failures,
        }
    }

    /// Starts measuring one call.
    pub fn start(&self, method: &str) -> CallTimer<'_> {
        CallTimer {
            metrics: self,
            method: method.to_string(),
            started: Instant::now(),
        }
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

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl CallTimer<'_> {
    /// Records the call: a failure is a timeout (408) or a server-side error (5xx), as
    /// Kubeless counts a function that raised or ran out of time. Returns the duration in
    /// milliseconds, for the access log.
    pub fn finish(self, status: u16) -> f64 {
        let method = [self.method.as_str()];
        let elapsed = self.started.elapsed().as_secs_f64();
        self.metrics.calls.with_label_values(&method).inc();
        self.metrics
            .duration
            .with_label_values(&method)
            .observe(elapsed);
        if status == 408 || status >= 500 {
            self.metrics.failures.with_label_values(&method).inc();
        }
        (elapsed * 1_000_000.0).round() / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_failures_and_durations_are_counted_per_method() {
        let metrics = Metrics::new();
        metrics.start("GET").finish(200);
        metrics.start("GET").finish(503);
        metrics.start("POST").finish(408);
        metrics.start("POST").finish(400);
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
}
