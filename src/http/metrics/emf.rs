//! Each call's metrics as one CloudWatch Embedded Metric Format line on stdout, for Lambda,
//! where nothing scrapes `/metrics` and no collector may run: CloudWatch Logs turns each line
//! into metrics in the namespace `EMF_NAMESPACE` names, by function. Off unless it is set.

use std::sync::OnceLock;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::cache::CacheOutcome;
use crate::stats::Served;

/// Where the lines go, once the Lambda door has turned them on.
static EMF: OnceLock<Emf> = OnceLock::new();

/// The namespace and the function the lines name.
#[derive(Debug)]
pub(crate) struct Emf {
    namespace: String,
    function: String,
}

/// Writes one line per call from now on, into `namespace`, for `function`.
pub(crate) fn turn_on(namespace: String, function: String) {
    let _ = EMF.set(Emf {
        namespace,
        function,
    });
}

/// Writes the line of one call, when turned on.
pub(super) fn record(millis: f64, status: u16, failed: bool, served: Option<Served>) {
    if let Some(emf) = EMF.get() {
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        println!("{}", emf.line(at, millis, status, failed, served));
    }
}

impl Emf {
    /// The line: the `_aws` metadata that declares the metrics and their dimension, then each
    /// metric's value and the call's other properties as members of the root.
    fn line(
        &self,
        at: u64,
        millis: f64,
        status: u16,
        failed: bool,
        served: Option<Served>,
    ) -> Value {
        let cache = served.map(|served| served.cache);
        let count = |outcome| u8::from(cache == Some(outcome));
        let metric = |name: &str, unit: &str| json!({ "Name": name, "Unit": unit });
        let mut line = json!({
            "_aws": {
                "Timestamp": at,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [
                        metric("Duration", "Milliseconds"),
                        metric("Failures", "Count"),
                        metric("CacheHits", "Count"),
                        metric("CacheMisses", "Count"),
                        metric("Coalesced", "Count"),
                    ],
                }],
            },
            "FunctionName": self.function,
            "Duration": millis,
            "Failures": u8::from(failed),
            "CacheHits": count(CacheOutcome::Hit),
            "CacheMisses": count(CacheOutcome::Miss),
            "Coalesced": count(CacheOutcome::Coalesced),
            "StatusCode": status,
        });
        if let Some(served) = served {
            line["Format"] = json!(served.format.name());
        }
        line
    }
}

#[cfg(test)]
mod tests;
