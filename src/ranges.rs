//! The lowest and highest value each field has ever had, kept a minute: what bounds an
//! answer's buckets before its histogram is searched.
//!
//! A histogram has a bucket for every `interval` between the lowest and the highest value in
//! its window, empty ones included, so the range tells how many buckets a request would make.
//! A field's range widens seldom (a new record), so one search for it serves every request on
//! that index and field for [`RANGE_TTL`], whatever the answer cache's TTL: an ordinary call
//! never waits for a second search. Concurrent misses share one search, as answers do.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::error::Error;

/// How long a field's range is kept. A value outside it that arrives meanwhile can make an
/// answer a few buckets larger than allowed; the count of the answer's own buckets catches that.
pub(crate) const RANGE_TTL: Duration = Duration::from_secs(60);

/// At most this many fields' ranges are kept: the index and field a request names are free
/// text within their rules, so the table is bounded like everything a client can fill.
const MOST_KEPT: u64 = 1024;

/// A field's lowest and highest value, `None` when it has none.
pub(crate) type Range = Option<(f64, f64)>;

/// The ranges kept, by index and field.
#[derive(Clone, Debug)]
pub(crate) struct FieldRanges {
    kept: Cache<(String, String), Range>,
}

impl FieldRanges {
    /// An empty table.
    pub(crate) fn new() -> Self {
        FieldRanges {
            kept: Cache::builder()
                .time_to_live(RANGE_TTL)
                .max_capacity(MOST_KEPT)
                .build(),
        }
    }

    /// The range of `field` on `index`: kept, or being searched by another call, or searched
    /// now by `search`. A failed search is not kept.
    pub(crate) async fn get_or_search<F>(
        &self,
        index: &str,
        field: &str,
        search: F,
    ) -> Result<Range, Error>
    where
        F: Future<Output = Result<Range, Error>> + Send,
    {
        let key = (index.to_string(), field.to_string());
        self.kept
            .try_get_with(key, search)
            .await
            .map_err(|shared: Arc<Error>| (*shared).clone())
    }
}

impl Default for FieldRanges {
    fn default() -> Self {
        Self::new()
    }
}

/// How many buckets `interval` makes across `(min, max)`, empty ones included, as a float so
/// that no interval can overflow it: tiny intervals over wide ranges give counts beyond any
/// integer type, and ones so small that a value divided by them is infinite give infinity.
pub(crate) fn bucket_count((min, max): (f64, f64), interval: f64) -> f64 {
    let count = (max / interval).floor() - (min / interval).floor() + 1.0;
    if count.is_nan() {
        f64::INFINITY
    } else {
        count.max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn buckets_span_the_range_with_edges_on_multiples_of_the_interval() {
        assert_eq!(bucket_count((20.0, 99.6), 2.0), 40.0);
        assert_eq!(bucket_count((20.0, 20.0), 2.0), 1.0);
        assert_eq!(bucket_count((-1.0, 1.0), 2.0), 2.0);
        assert_eq!(bucket_count((20.0, 99.6), 0.25), 319.0);
    }

    #[test]
    fn intervals_that_overflow_give_counts_no_bound_admits() {
        assert!(bucket_count((20.0, 99.6), 1e-300) > 1e300);
        assert_eq!(bucket_count((20.0, 99.6), 5e-324), f64::INFINITY);
        assert_eq!(bucket_count((0.0, 0.0), 5e-324), 1.0);
        assert_eq!(bucket_count((-20.0, 99.6), 5e-324), f64::INFINITY);
    }

    proptest! {
        /// Any finite range and any positive finite interval: a count that is at least one and
        /// never NaN, so `count <= bound` is false for every interval too fine to serve.
        #[test]
        fn any_finite_interval_gives_a_comparable_count(
            a in any::<f64>().prop_filter("finite", |v| v.is_finite()),
            b in any::<f64>().prop_filter("finite", |v| v.is_finite()),
            interval in any::<f64>().prop_filter("positive and finite", |v| v.is_finite() && *v > 0.0),
        ) {
            let (min, max) = if a <= b { (a, b) } else { (b, a) };
            let count = bucket_count((min, max), interval);
            prop_assert!(count >= 1.0, "{count} for {min}..{max} by {interval}");
            prop_assert!(!count.is_nan());
            // Whenever the count admits it, Elasticsearch's own keys are finite numbers.
            if count <= 65_536.0 {
                prop_assert!(((min / interval).floor() * interval).is_finite());
                prop_assert!(((max / interval).floor() * interval).is_finite());
            }
        }
    }
}
