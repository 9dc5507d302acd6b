//! Coalescing and a short-lived cache of answers, shared by every door.
//!
//! Dashboards ask the same question many times a minute while the station writes only every
//! 2 minutes. Identical requests in flight share one answer (moka's `try_get_with` runs one
//! loader per key and hands its result to every waiter), and the answer is kept for
//! `CACHE_TTL`, as it is sent: keyed by the parsed request, holding its bytes, its tag and its
//! compressed variants. Errors are never kept: the next request tries again. Neither are
//! answers some shards failed to contribute to, nor answers larger than a share of the budget.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::answer::Answer;
use crate::error::Error;
use crate::query::StatsRequest;

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CacheOutcome {
    /// Kept from an earlier request.
    Hit,
    /// Made for another request in flight, and shared.
    Coalesced,
    /// Made for this request (or the cache is off).
    Miss,
}

impl CacheOutcome {
    /// Its name in spans and metrics.
    pub fn name(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Coalesced => "coalesced",
            CacheOutcome::Miss => "miss",
        }
    }
}

/// What the cache keeps: at most `budget` bytes of answers, counted truthfully.
#[derive(Clone, Debug)]
pub(crate) struct AnswerCache {
    cache: Cache<StatsRequest, Arc<Answer>>,
    /// An answer weighing more than this is served but not kept.
    largest_kept: u64,
}

/// What an entry costs beyond its key's text and its answer's bytes: moka's node, its
/// hash-table slot and timer-wheel entry, the `Arc`, the key and the answer's structs. A
/// measured upper bound, rounded up.
pub(crate) const ENTRY_OVERHEAD: u64 = 512;

/// An answer may take at most this share of the budget (1/16) to be kept.
pub(crate) const LARGEST_SHARE: u64 = 16;

impl AnswerCache {
    /// A cache whose entries live for `ttl` and weigh at most `budget` bytes in all; `None`
    /// when `ttl` or `budget` is zero (caching off).
    pub(crate) fn new(ttl: Duration, budget: u64) -> Option<Self> {
        if ttl.is_zero() || budget == 0 {
            return None;
        }
        let cache = Cache::builder()
            .time_to_live(ttl)
            .max_capacity(budget)
            .weigher(|request: &StatsRequest, answer: &Arc<Answer>| {
                u32::try_from(weight(request, answer)).unwrap_or(u32::MAX)
            })
            .build();
        Some(AnswerCache {
            cache,
            largest_kept: budget / LARGEST_SHARE,
        })
    }

    /// How long an answer is kept.
    pub(crate) fn ttl(&self) -> Duration {
        self.cache.policy().time_to_live().unwrap_or_default()
    }

    /// The answer to `request`: kept, or being made by another request, or made now by `make`;
    /// and which of the three.
    ///
    /// A kept answer is looked up first, on its own: `make` (a search and a render, a future of
    /// some kilobytes) is called, and its future boxed, only when none is kept, so a hit never
    /// builds or moves it. Its future runs only when no other request is making the same answer
    /// already; otherwise it is dropped unpolled and the request waits for that answer.
    pub(crate) async fn get_or_make<F>(
        &self,
        request: &StatsRequest,
        make: impl FnOnce() -> F,
    ) -> Result<(Arc<Answer>, CacheOutcome), Error>
    where
        F: Future<Output = Result<Answer, Error>> + Send,
    {
        if let Some(kept) = self.cache.get(request).await {
            return Ok((kept, CacheOutcome::Hit));
        }
        let made = Box::pin(make());
        let mut outcome = CacheOutcome::Coalesced;
        let answer = self
            .cache
            .try_get_with_by_ref(request, async {
                outcome = CacheOutcome::Miss;
                made.await.map(Arc::new)
            })
            .await
            .map_err(|shared: Arc<Error>| (*shared).clone())?;
        // Its waiters have it already; later requests must ask again.
        if answer.partial.is_some() || weight(request, &answer) > self.largest_kept {
            self.cache.invalidate(request).await;
        }
        Ok((answer, outcome))
    }

    /// The bytes kept now, as the weigher counts them (after pending evictions).
    #[cfg(test)]
    async fn weighed_bytes(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.weighted_size()
    }
}

/// What an entry costs in memory: its key's text, its answer's bytes and the overhead.
fn weight(request: &StatsRequest, answer: &Answer) -> u64 {
    let query = &request.query;
    let key = query.field.capacity() + query.index.as_ref().map_or(0, String::capacity);
    (key + answer.weight()) as u64 + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::format::Format;

    const MIB: u64 = 1024 * 1024;

    fn answer(text: &str) -> Answer {
        Answer::new(Format::Csv, text.to_string(), Duration::ZERO, None)
    }

    /// The request for the last `hours` hours.
    fn key(hours: u32) -> StatsRequest {
        let mut request = StatsRequest::default();
        request.query.hours = hours;
        request
    }

    async fn slow_answer(calls: Arc<AtomicUsize>) -> Result<Answer, Error> {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(answer("answer"))
    }

    #[tokio::test]
    async fn concurrent_identical_requests_are_answered_once() {
        let cache = AnswerCache::new(Duration::from_secs(60), MIB).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let mut waiters = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (cache, calls) = (cache.clone(), calls.clone());
            waiters.spawn(async move { cache.get_or_make(&key(24), || slow_answer(calls)).await });
        }
        let mut outcomes = Vec::new();
        while let Some(answer) = waiters.join_next().await {
            let (answer, outcome) = answer.unwrap().unwrap();
            assert_eq!(answer.body, "answer");
            outcomes.push(outcome);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let count = |o| outcomes.iter().filter(|&&x| x == o).count();
        assert_eq!(
            (count(CacheOutcome::Miss), count(CacheOutcome::Coalesced)),
            (1, 19),
            "one made it, the others shared it"
        );
        let (_, later) = cache
            .get_or_make(&key(24), || slow_answer(calls))
            .await
            .unwrap();
        assert_eq!(later, CacheOutcome::Hit);
    }

    #[tokio::test]
    async fn requests_that_differ_in_any_parameter_are_answered_apart() {
        let cache = AnswerCache::new(Duration::from_secs(60), MIB).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let mut other_format = key(24);
        other_format.format = Format::Svg;
        let mut other_interval = key(24);
        other_interval.query.interval = 2.5;
        for request in [key(24), key(24), other_format, other_interval, key(12)] {
            cache
                .get_or_make(&request, || slow_answer(calls.clone()))
                .await
                .unwrap();
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "only the repeated request was kept"
        );
    }

    #[tokio::test]
    async fn errors_and_partial_answers_are_not_kept() {
        let cache = AnswerCache::new(Duration::from_secs(60), MIB).unwrap();
        let failing = async { Err::<Answer, _>(Error::Internal("down".into())) };
        assert!(cache.get_or_make(&key(24), || failing).await.is_err());
        let partial = Answer::new(
            Format::Csv,
            "x".into(),
            Duration::ZERO,
            Some("1 of 2".into()),
        );
        let kept = cache.get_or_make(&key(24), || async { Ok(partial) }).await;
        assert_eq!(kept.unwrap().0.partial.as_deref(), Some("1 of 2"));
        let calls = Arc::new(AtomicUsize::new(0));
        let kept = cache
            .get_or_make(&key(24), || slow_answer(calls.clone()))
            .await;
        assert_eq!(kept.unwrap().0.body, "answer");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "neither the error nor the partial answer was kept, so the next request searched"
        );
    }

    #[tokio::test]
    async fn the_budget_bounds_what_is_kept_and_large_answers_are_not_kept() {
        let budget = MIB;
        let cache = AnswerCache::new(Duration::from_secs(60), budget).unwrap();
        // 400 distinct answers of 4 KiB, each weighed with room for its variants: about 4.8
        // MiB asked of a 1 MiB budget.
        for hours in 1..=400 {
            let text = "x".repeat(4 * 1024);
            cache
                .get_or_make(&key(hours), || async { Ok(answer(&text)) })
                .await
                .unwrap();
        }
        let kept = cache.weighed_bytes().await;
        assert!(kept <= budget, "{kept} bytes kept, budget {budget}");
        assert!(kept > budget / 2, "the cache is used: {kept} bytes kept");

        let large = "x".repeat((budget / LARGEST_SHARE) as usize / 3 + 1);
        let served = cache
            .get_or_make(&key(500), || async { Ok(answer(&large)) })
            .await;
        assert_eq!(served.unwrap().0.body.len(), large.len());
        let calls = Arc::new(AtomicUsize::new(0));
        cache
            .get_or_make(&key(500), || slow_answer(calls.clone()))
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
        assert!(AnswerCache::new(Duration::ZERO, MIB).is_none());
        assert!(AnswerCache::new(Duration::from_secs(1), 0).is_none());
    }
}
