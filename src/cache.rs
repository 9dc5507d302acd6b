//! Coalescing and a short-lived cache of search responses, shared by every door.
//!
//! Dashboards ask the same question many times a minute while the station writes only every
//! 2 minutes. Identical searches in flight share one Elasticsearch call (moka's `try_get_with`
//! runs one loader per key and hands its result to every waiter), and the answer is kept for
//! `CACHE_TTL`. Errors are never kept: the next request tries again. Neither are answers some
//! shards failed to contribute to, nor answers larger than a share of the budget.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::error::Error;
use crate::response::{Bucket, SearchResponse};

/// What the cache keeps: at most `budget` bytes of answers, counted truthfully.
#[derive(Clone, Debug)]
pub struct SearchCache {
    cache: Cache<String, Arc<SearchResponse>>,
    /// An answer weighing more than this is served but not kept.
    largest_kept: u64,
}

/// What an entry costs beyond its key, text and buckets: moka's node, its hash-table slot and
/// timer-wheel entry, the `Arc` and the response struct. A measured upper bound, rounded up.
pub const ENTRY_OVERHEAD: u64 = 512;

/// An answer may take at most this share of the budget (1/16) to be kept.
pub const LARGEST_SHARE: u64 = 16;

impl SearchCache {
    /// A cache whose entries live for `ttl` and weigh at most `budget` bytes in all; `None`
    /// when `ttl` or `budget` is zero (caching off).
    pub fn new(ttl: Duration, budget: u64) -> Option<Self> {
        if ttl.is_zero() || budget == 0 {
            return None;
        }
        let cache = Cache::builder()
            .time_to_live(ttl)
            .max_capacity(budget)
            .weigher(|key: &String, answer: &Arc<SearchResponse>| {
                u32::try_from(weight(key, answer)).unwrap_or(u32::MAX)
            })
            .build();
        Some(SearchCache {
            cache,
            largest_kept: budget / LARGEST_SHARE,
        })
    }

    /// How long an answer is kept.
    pub fn ttl(&self) -> Duration {
        self.cache.policy().time_to_live().unwrap_or_default()
    }

    /// The response for `key`: kept, or being fetched by another request, or fetched now.
    pub async fn get_or_fetch(
        &self,
        key: String,
        fetch: impl Future<Output = Result<SearchResponse, Error>>,
    ) -> Result<Arc<SearchResponse>, Error> {
        let answer = self
            .cache
            .try_get_with_by_ref(&key, async { fetch.await.map(Arc::new) })
            .await
            .map_err(|shared: Arc<Error>| (*shared).clone())?;
        // Its waiters have it already; later requests must ask again.
        if answer.shards.partial() || weight(&key, &answer) > self.largest_kept {
            self.cache.invalidate(&key).await;
        }
        Ok(answer)
    }

    /// The bytes kept now, as the weigher counts them (after pending evictions).
    #[cfg(test)]
    async fn weighed_bytes(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.weighted_size()
    }
}

/// What an entry costs in memory: its key, its text, its parsed buckets and the overhead.
fn weight(key: &str, answer: &SearchResponse) -> u64 {
    let buckets = answer.buckets.capacity() * std::mem::size_of::<Bucket>();
    (key.len() + answer.text.capacity() + buckets) as u64 + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn answer(text: &str) -> SearchResponse {
        SearchResponse {
            text: text.to_string(),
            ..SearchResponse::default()
        }
    }

    async fn slow_answer(calls: Arc<AtomicUsize>) -> Result<SearchResponse, Error> {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(answer("answer"))
    }

    #[tokio::test]
    async fn concurrent_identical_fetches_run_once() {
        let cache = SearchCache::new(Duration::from_secs(60), MIB).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let mut waiters = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (cache, calls) = (cache.clone(), calls.clone());
            waiters.spawn(async move { cache.get_or_fetch("k".into(), slow_answer(calls)).await });
        }
        while let Some(answer) = waiters.join_next().await {
            assert_eq!(answer.unwrap().unwrap().text, "answer");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn errors_are_not_kept() {
        let cache = SearchCache::new(Duration::from_secs(60), MIB).unwrap();
        let failing = async { Err::<SearchResponse, _>(Error::Internal("down".into())) };
        assert!(cache.get_or_fetch("k".into(), failing).await.is_err());
        let calls = Arc::new(AtomicUsize::new(0));
        let kept = cache.get_or_fetch("k".into(), slow_answer(calls.clone()));
        assert_eq!(kept.await.unwrap().text, "answer");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the error was not kept, so the next request searched"
        );
    }

    #[tokio::test]
    async fn the_budget_bounds_what_is_kept_and_large_answers_are_not_kept() {
        let budget = MIB;
        let cache = SearchCache::new(Duration::from_secs(60), budget).unwrap();
        // 400 distinct answers of 10 KiB: about 4 MiB asked of a 1 MiB budget.
        for n in 0..400 {
            let text = "x".repeat(10 * 1024);
            cache
                .get_or_fetch(format!("k{n}"), async { Ok(answer(&text)) })
                .await
                .unwrap();
        }
        let kept = cache.weighed_bytes().await;
        assert!(kept <= budget, "{kept} bytes kept, budget {budget}");
        assert!(kept > budget / 2, "the cache is used: {kept} bytes kept");

        let large = "x".repeat((budget / LARGEST_SHARE) as usize + 1);
        let served = cache.get_or_fetch("large".into(), async { Ok(answer(&large)) });
        assert_eq!(served.await.unwrap().text.len(), large.len());
        let calls = Arc::new(AtomicUsize::new(0));
        cache
            .get_or_fetch("large".into(), slow_answer(calls.clone()))
            .await
            .unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the large answer was not kept"
        );
    }

    #[test]
    fn zero_ttl_or_budget_turns_caching_off() {
        assert!(SearchCache::new(Duration::ZERO, MIB).is_none());
        assert!(SearchCache::new(Duration::from_secs(1), 0).is_none());
    }
}
