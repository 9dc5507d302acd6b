//! Elasticsearch's search response, read once into the parts wx-stats uses. `format=es` never
//! comes here: it sends the response text untouched.

use serde::Deserialize;

use crate::error::Error;

/// The parts of a search response that wx-stats reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchView {
    /// `hits.total`: how many observations the query matched.
    pub total: u64,
    /// `aggregations.temps.buckets`, lowest key first.
    pub buckets: Vec<Bucket>,
    /// `aggregations.min.value` and `aggregations.max.value`: the field's observed range, when
    /// the search asked for it and the field has values.
    pub range: Option<(f64, f64)>,
}

/// One histogram bucket as Elasticsearch sends it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Bucket {
    /// The bucket's lower edge.
    pub key: f64,
    /// How many observations fall in it.
    #[serde(default)]
    pub doc_count: u64,
}

impl SearchView {
    /// Reads a search response's text; anything that is not a search response is our 500,
    /// since Elasticsearch answered it with a success status.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let raw: Raw = serde_json::from_str(text).map_err(|e| {
            Error::Internal(format!("cannot read Elasticsearch's search response: {e}"))
        })?;
        let aggregations = raw.aggregations.unwrap_or_default();
        let value = |metric: Option<Metric>| metric.and_then(|m| m.value);
        Ok(SearchView {
            total: raw.hits.map_or(0, |hits| hits.total.count()),
            buckets: aggregations.temps.map(|h| h.buckets).unwrap_or_default(),
            range: value(aggregations.min).zip(value(aggregations.max)),
        })
    }
}

#[derive(Deserialize)]
struct Raw {
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
        let view = SearchView::parse(es7).unwrap();
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
        assert_eq!(SearchView::parse(es6).unwrap().total, 1);
    }

    #[test]
    fn observed_range() {
        let bounds = r#"{"hits":{"total":{"value":3}},"aggregations":{"min":{"value":61.5},"max":{"value":75.0}}}"#;
        assert_eq!(SearchView::parse(bounds).unwrap().range, Some((61.5, 75.0)));
        let no_values = r#"{"aggregations":{"min":{"value":null},"max":{"value":null}}}"#;
        assert_eq!(SearchView::parse(no_values).unwrap().range, None);
    }

    #[test]
    fn what_is_not_a_search_response_is_an_internal_error() {
        for text in ["not json", r#"{"aggregations":{"temps":{"buckets":7}}}"#] {
            let error = SearchView::parse(text).unwrap_err();
            assert_eq!(error.status(), 500, "{error}");
        }
    }
}
