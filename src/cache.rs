//! Coalescing and a short-lived cache of search responses, shared by every door.
//!
//! Dashboards ask the same question many times a minute while the station writes only every
//! 2 minutes. Identical searches in flight share one Elasticsearch call (moka's `try_get_with`
//! runs one loader per key and hands its result to every waiter), and the answer is kept for
//! `CACHE_TTL`. Errors are never kept: the next request tries again.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::error::Error;

/// The most bytes of responses kept.
pub const MAX_BYTES: u64 = 32 * 1024 * 1024;
/// The most responses kept.
pub const MAX_ENTRIES: u64 = 1024;

/// Search responses by key (index and body), kept for a TTL.
#[derive(Clone, Debug)]
pub struct SearchCache {
    cache: Cache<String, Arc<str>>,
}

impl SearchCache {
    /// A cache whose entries live for `ttl`; `None` when `ttl` is zero (caching off).
    pub fn new(ttl: Duration) -> Option<Self> {
        if ttl.is_zero() {
            return None;
        }
        // Each entry weighs its bytes plus an equal share of the byte budget per entry, so the
        // one weight bound caps both bytes and entries.
        let per_entry = (MAX_BYTES / MAX_ENTRIES) as u32;
        let cache = Cache::builder()
            .time_to_live(ttl)
            .max_capacity(MAX_BYTES * 2)
            .weigher(move |key: &String, value: &Arc<str>| {
                per_entry.saturating_add((key.len() + value.len()).try_into().unwrap_or(u32::MAX))
            })
            .build();
        Some(SearchCache { cache })
    }

    /// How long an answer is kept.
    pub fn ttl(&self) -> Duration {
        self.cache.policy().time_to_live().unwrap_or_default()
    }

    /// The response for `key`: kept, or being fetched by another request, or fetched now.
    pub async fn get_or_fetch(
        &self,
        key: String,
        fetch: impl Future<Output = Result<String, Error>>,
    ) -> Result<Arc<str>, Error> {
        self.cache
            .try_get_with(key, async { fetch.await.map(Arc::from) })
            .await
            .map_err(|shared: Arc<Error>| (*shared).clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn slow_answer(calls: Arc<AtomicUsize>) -> Result<String, Error> {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok("answer".to_string())
    }

    #[tokio::test]
    async fn concurrent_identical_fetches_run_once() {
        let cache = SearchCache::new(Duration::from_secs(60)).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let mut waiters = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (cache, calls) = (cache.clone(), calls.clone());
            waiters.spawn(async move { cache.get_or_fetch("k".into(), slow_answer(calls)).await });
        }
        while let Some(answer) = waiters.join_next().await {
            assert_eq!(answer.unwrap().as_deref().ok(), Some("answer"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn errors_are_not_kept() {
        let cache = SearchCache::new(Duration::from_secs(60)).unwrap();
        let failing = async { Err::<String, _>(Error::Internal("down".into())) };
        assert!(cache.get_or_fetch("k".into(), failing).await.is_err());
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            cache
                .get_or_fetch("k".into(), slow_answer(calls.clone()))
                .await
                .as_deref()
                .ok(),
            Some("answer")
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the error was not kept, so the next request searched"
        );
    }

    #[test]
    fn zero_ttl_turns_caching_off() {
        assert!(SearchCache::new(Duration::ZERO).is_none());
    }
}
