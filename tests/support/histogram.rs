//! Observations with known answers, and the histogram Elasticsearch must make of any
//! observations, computed here from their values alone.

use std::time::Duration;

use serde_json::Value;

/// An age of `h` hours.
pub fn hours(h: f64) -> Duration {
    Duration::from_secs_f64(h * 3600.0)
}

/// (age in hours, temperature): seven inside the last 6 h, two between 6 h and 24 h, so that
/// a request for 6 h that lost its `hours` would count too many. Two pairs share a 2-degree
/// bucket (for `min_doc_count=2`), and 71.99 is stored as the half_float 72.0, in the next one.
pub const OBSERVATIONS: [(f64, f64); 9] = [
    (0.5, 61.0),
    (1.0, 61.9),
    (2.0, 62.4),
    (3.0, 70.0),
    (4.0, 70.5),
    (4.5, 71.99),
    (5.5, 75.0),
    (12.0, 80.0),
    (20.0, 55.5),
];

/// [`OBSERVATIONS`] as the ages and temperatures `TestIndex::add` takes.
pub fn observations() -> Vec<(Duration, f64)> {
    OBSERVATIONS
        .iter()
        .map(|&(age, t)| (hours(age), t))
        .collect()
}

/// 400 observations, one every 4 minutes, the oldest 26.6 h ago, at 61 temperatures from 45
/// to 72: every format's answer is long enough to be compressed.
pub fn spread_observations() -> Vec<(Duration, f64)> {
    (0..400u64)
        .map(|i| {
            let temperature = 45.0 + ((i * 37) % 61) as f64 * 0.45;
            (Duration::from_secs(30 + i * 240), temperature)
        })
        .collect()
}

/// The temperatures of [`OBSERVATIONS`] younger than `max_age` hours.
pub fn temperatures(max_age: f64) -> Vec<f64> {
    OBSERVATIONS
        .iter()
        .filter(|(age, _)| *age < max_age)
        .map(|&(_, t)| t)
        .collect()
}

/// The histogram of `temperatures` in buckets `interval` wide, as (lower edge, count), computed
/// as Elasticsearch does for a half_float field: each value rounded to half precision, then
/// floored to its bucket. Every bucket from the lowest to the highest that `spanning` reaches
/// is listed, the empty ones with 0.
pub fn histogram(temperatures: &[f64], interval: f64, spanning: &[f64]) -> Vec<(f64, u64)> {
    let bucket = |t: f64| (half::f16::from_f64(t).to_f64() / interval).floor() as i64;
    let lowest = spanning.iter().map(|&t| bucket(t)).min();
    let highest = spanning.iter().map(|&t| bucket(t)).max();
    let (Some(lowest), Some(highest)) = (lowest, highest) else {
        return Vec::new();
    };
    (lowest..=highest)
        .map(|b| {
            let count = temperatures.iter().filter(|&&t| bucket(t) == b).count();
            (b as f64 * interval, count as u64)
        })
        .collect()
}

/// The (key, doc_count) of each bucket in a search response's `temps` histogram.
pub fn es_buckets(response: &Value) -> Vec<(f64, u64)> {
    let buckets = response["aggregations"]["temps"]["buckets"]
        .as_array()
        .unwrap_or_else(|| panic!("no buckets in {response}"));
    buckets
        .iter()
        .map(|b| (b["key"].as_f64().unwrap(), b["doc_count"].as_u64().unwrap()))
        .collect()
}
