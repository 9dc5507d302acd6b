//! `StatsQuery`: what a request asks for, and the Elasticsearch search body that answers it.

use serde_json::{Value, json};

/// The field the original function aggregated.
pub const DEFAULT_FIELD: &str = "rxtxMsg.payload.currently.temperature";

/// One histogram question: which field, over how many hours, in buckets how wide.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsQuery {
    /// The window: documents newer than `now - hours`.
    pub hours: u32,
    /// The bucket width, in the field's unit.
    pub interval: f64,
    /// The numeric field to aggregate.
    pub field: String,
}

impl Default for StatsQuery {
    /// The original function's question: the last 24 hours of temperature in 2-degree buckets.
    fn default() -> Self {
        StatsQuery {
            hours: 24,
            interval: 2.0,
            field: DEFAULT_FIELD.to_string(),
        }
    }
}

impl StatsQuery {
    /// The search body. With the defaults it is the original function's body exactly.
    pub fn body(&self) -> Value {
        json!({
            "size": 0,
            "aggs": { "temps": { "histogram": { "field": self.field, "interval": number(self.interval) } } },
            "query": { "range": { "@timestamp": { "gt": format!("now-{}h", self.hours) } } },
        })
    }
}

/// A whole number is written without a fraction (`2`, not `2.0`), as the original wrote it.
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original function's body, copied from its source.
    const ORIGINAL: &str = r#"{"size":0,"aggs":{"temps":{"histogram":{"field":"rxtxMsg.payload.currently.temperature","interval":2}}},"query":{"range":{"@timestamp":{"gt":"now-24h"}}}}"#;

    #[test]
    fn default_body_is_the_original() {
        let original: Value = serde_json::from_str(ORIGINAL).unwrap();
        assert_eq!(StatsQuery::default().body(), original);
        // Same keys in the same order, so even the bytes agree.
        assert_eq!(StatsQuery::default().body().to_string(), ORIGINAL);
    }

    #[test]
    fn parameters_reach_the_body() {
        let query = StatsQuery {
            hours: 6,
            interval: 0.5,
            field: "rxtxMsg.payload.currently.humidity".into(),
        };
        let body = query.body();
        assert_eq!(body["aggs"]["temps"]["histogram"]["interval"], json!(0.5));
        assert_eq!(
            body["aggs"]["temps"]["histogram"]["field"],
            "rxtxMsg.payload.currently.humidity"
        );
        assert_eq!(body["query"]["range"]["@timestamp"]["gt"], "now-6h");
    }
}
