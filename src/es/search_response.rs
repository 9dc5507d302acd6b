//! Elasticsearch's search response, read once into the parts wx-stats uses, beside its text,
//! which `format=es` sends untouched.

use serde::Deserialize;

use crate::error::Error;

/// A search response: its text, and the parts of it that wx-stats reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct SearchResponse {
    /// The response exactly as Elasticsearch sent it.
    pub text: String,
    /// `hits.total`: how many observations the query matched.
    pub total: u64,
    /// `aggregations.temps.buckets`, lowest key first.
    pub buckets: Vec<Bucket>,
    /// `aggregations.min.value` and `aggregations.max.value`: the field's observed range, when
    /// the search asked for it and the field has values.
    pub range: Option<(f64, f64)>,
    /// `_shards`: how many shards the search ran on, and how many of them failed.
    pub shards: Shards,
}

/// `_shards` of a search response.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub(crate) struct Shards {
    /// Shards searched.
    #[serde(default)]
    pub total: u64,
    /// Shards whose search failed; their documents are missing from the answer.
    #[serde(default)]
    pub failed: u64,
    /// Why, shard by shard.
    #[serde(default)]
    pub failures: Vec<ShardFailure>,
}

/// One failed shard.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub(crate) struct ShardFailure {
    /// The index the shard belongs to.
    #[serde(default)]
    pub index: Option<String>,
    /// Elasticsearch's reason: its `type` and `reason`.
    #[serde(default)]
    pub reason: serde_json::Value,
}

impl Shards {
    /// Some shards answered and some failed: the answer is missing their documents.
    pub(crate) fn partial(&self) -> bool {
        self.failed > 0 && self.failed < self.total
    }

    /// "1 of 2 shards failed (illegal_argument_exception)": what a client is told, with the
    /// first failure's type alone, as its index and Elasticsearch's words are the service's.
    pub(crate) fn summary(&self) -> String {
        let first = self.failures.first().and_then(|failure| {
            let es_type = failure.reason["type"].as_str()?;
            Some(format!(" ({es_type})"))
        });
        format!(
            "{} of {} shards failed{}",
            self.failed,
            self.total,
            first.unwrap_or_default()
        )
    }

    /// "1 of 2 shards failed (index x: illegal_argument_exception: …)", for the log.
    pub(crate) fn describe(&self) -> String {
        let first = self.failures.first().map(|failure| {
            let reason = &failure.reason;
            let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
            format!(
                " (index {}: {}: {})",
                failure.index.as_deref().unwrap_or("?"),
                text(&reason["type"]),
                text(&reason["reason"])
            )
        });
        format!(
            "{} of {} shards failed{}",
            self.failed,
            self.total,
            first.unwrap_or_default()
        )
    }
}

/// One histogram bucket as Elasticsearch sends it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub(crate) struct Bucket {
    /// The bucket's lower edge.
    pub key: f64,
    /// How many observations fall in it.
    #[serde(default)]
    pub doc_count: u64,
}

impl SearchResponse {
    /// Reads a search response's text; anything that is not a search response is our 500,
    /// since Elasticsearch answered it with a success status.
    pub(crate) fn parse(text: String) -> Result<Self, Error> {
        let raw: Raw = serde_json::from_str(&text).map_err(|e| {
            Error::Internal(format!("cannot read Elasticsearch's search response: {e}"))
        })?;
        let aggregations = raw.aggregations.unwrap_or_default();
        let value = |metric: Option<Metric>| metric.and_then(|m| m.value);
        Ok(SearchResponse {
            shards: raw.shards.unwrap_or_default(),
            text,
            total: raw.hits.map_or(0, |hits| hits.total.count()),
            buckets: aggregations.temps.map(|h| h.buckets).unwrap_or_default(),
            range: value(aggregations.min).zip(value(aggregations.max)),
        })
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "_shards")]
    shards: Option<Shards>,
    hits: Option<Hits>,
    aggregations: Option<Aggregations>,
}

#[derive(Deserialize)]
struct Hits {
    #[serde(default)]
    total: Total,
}

/// ES 7 and later send `{"value":N,"relation":"eq"}`; older ones a plain number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Total {
    Counted { value: u64 },
    Plain(u64),
}

impl Default for Total {
    fn default() -> Self {
        Total::Plain(0)
    }
}

impl Total {
    fn count(&self) -> u64 {
        match *self {
            Total::Counted { value } | Total::Plain(value) => value,
        }
    }
}

#[derive(Default, Deserialize)]
struct Aggregations {
    temps: Option<HistogramAggregation>,
    min: Option<Metric>,
    max: Option<Metric>,
}

#[derive(Deserialize)]
struct HistogramAggregation {
    buckets: Vec<Bucket>,
}

#[derive(Deserialize)]
struct Metric {
    value: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_and_total_of_every_shape() {
        let es7 = r#"{"took":3,"hits":{"total":{"value":7,"relation":"eq"},"hits":[]},"aggregations":{"temps":{"buckets":[{"key":66.0,"doc_count":2},{"key":70.0,"doc_count":5}]}}}"#;
        let view = SearchResponse::parse(es7.to_string()).unwrap();
        assert_eq!(view.total, 7);
        assert_eq!(
            view.buckets,
            [
                Bucket {
                    key: 66.0,
                    doc_count: 2
                },
                Bucket {
                    key: 70.0,
                    doc_count: 5
                }
            ]
        );
        assert_eq!(view.range, None);
        let es6 = r#"{"hits":{"total":1},"aggregations":{"temps":{"buckets":[]}}}"#;
        assert_eq!(SearchResponse::parse(es6.to_string()).unwrap().total, 1);
    }

    #[test]
    fn shard_failures() {
        let partial = r#"{"_shards":{"total":2,"successful":1,"skipped":0,"failed":1,"failures":[{"shard":0,"index":"wx-k","reason":{"type":"illegal_argument_exception","reason":"Field [t] of type [keyword] is not supported"}}]},"hits":{"total":{"value":3}}}"#;
        let shards = SearchResponse::parse(partial.to_string()).unwrap().shards;
        assert!(shards.partial());
        assert_eq!(
            shards.describe(),
            "1 of 2 shards failed (index wx-k: illegal_argument_exception: Field [t] of type [keyword] is not supported)"
        );
        assert_eq!(
            shards.summary(),
            "1 of 2 shards failed (illegal_argument_exception)"
        );
        let whole =
            r#"{"_shards":{"total":2,"successful":2,"failed":0},"hits":{"total":{"value":3}}}"#;
        assert!(
            !SearchResponse::parse(whole.to_string())
                .unwrap()
                .shards
                .partial()
        );
    }

    #[test]
    fn observed_range() {
        let bounds = r#"{"hits":{"total":{"value":3}},"aggregations":{"min":{"value":61.5},"max":{"value":75.0}}}"#;
        assert_eq!(
            SearchResponse::parse(bounds.to_string()).unwrap().range,
            Some((61.5, 75.0))
        );
        let no_values = r#"{"aggregations":{"min":{"value":null},"max":{"value":null}}}"#;
        assert_eq!(
            SearchResponse::parse(no_values.to_string()).unwrap().range,
            None
        );
    }

    #[test]
    fn what_is_not_a_search_response_is_an_internal_error() {
        for text in ["not json", r#"{"aggregations":{"temps":{"buckets":7}}}"#] {
            let error = SearchResponse::parse(text.to_string()).unwrap_err();
            assert_eq!(error.status(), 500, "{error}");
        }
    }
}
