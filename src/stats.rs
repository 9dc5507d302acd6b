//! The function itself: [`Stats`], the one service object every door calls. Parameters in, an
//! answer out.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::Value;

use crate::answer::Answer;
use crate::cache::AnswerCache;
use crate::call::CallContext;
use crate::config::Config;
use crate::error::Error;
use crate::es::EsClient;
use crate::query::{StatsQuery, StatsRequest};
use crate::render::render;
use crate::response::SearchResponse;

/// Answers histogram questions: parses them, asks Elasticsearch (through the cache) and renders.
#[derive(Debug)]
pub struct Stats {
    es: EsClient,
    /// The index or pattern searched when a request names none (`ES_INDEX`).
    index: String,
    /// The patterns a request's `index` parameter must match (`ES_INDEX_ALLOW`).
    index_allow: String,
    /// Coalescing and the TTL cache; `None` when `CACHE_TTL` is 0.
    cache: Option<AnswerCache>,
}

impl Stats {
    /// Builds the client and the cache. Makes no network call. Credentials set to travel over
    /// plain HTTP get one warning here, where every door and the CLI start.
    pub fn new(config: &Config) -> Result<Self, Error> {
        if let Some(plain) = config.credentials_over_plain_http() {
            tracing::warn!(
                variable = plain.variable,
                elasticsearch = %plain.nodes,
                "{} goes to Elasticsearch over plain http, readable by anyone on the network path: use an https:// ES_URL",
                plain.variable
            );
        }
        Ok(Stats {
            es: EsClient::new(config)?,
            index: config.index.clone(),
            index_allow: config.index_allow.clone(),
            cache: AnswerCache::new(config.cache_ttl, config.cache_max_bytes),
        })
    }

    /// Reads [`Config`] through `lookup` and builds: what every door does at start-up.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::new(&Config::from_lookup(lookup)?)
    }

    /// The Elasticsearch client, for the sample loader and start-up logs.
    pub fn es(&self) -> &EsClient {
        &self.es
    }

    /// How long answers are kept (`CACHE_TTL`); zero when caching is off.
    pub fn cache_ttl(&self) -> Duration {
        self.cache.as_ref().map_or(Duration::ZERO, AnswerCache::ttl)
    }

    /// Answers the request that `params` spell. `accept` picks the format when no `format`
    /// parameter does. Identical requests share one answer, kept for `CACHE_TTL`; a request
    /// waiting on another's answer gets that answer, made with the context of the call that
    /// started it.
    pub async fn answer(
        &self,
        params: &[(String, String)],
        accept: Option<&str>,
        call: &CallContext,
    ) -> Result<Arc<Answer>, Error> {
        let request = StatsRequest::parse(params, accept, &self.index_allow)?;
        match &self.cache {
            Some(cache) => {
                let fresh = || self.fresh_answer(&request, call);
                cache.get_or_make(&request, fresh).await
            }
            None => Box::pin(self.fresh_answer(&request, call))
                .await
                .map(Arc::new),
        }
    }

    /// Searches and renders the answer to `request`.
    async fn fresh_answer(
        &self,
        request: &StatsRequest,
        call: &CallContext,
    ) -> Result<Answer, Error> {
        let query = &request.query;
        let bounds = if query.fill {
            let range = self
                .search(query, &query.bounds_body(false), call)
                .await?
                .range;
            // Known before the histogram's search: refuse what Elasticsearch would refuse.
            let buckets = range.map(|range| bucket_count(range, query.interval));
            if let Some(buckets) = buckets.filter(|n| *n > MAX_BUCKETS) {
                return Err(too_many_buckets(buckets, query));
            }
            range
        } else {
            None
        };
        let response = match self.search(query, &request.search_body(bounds), call).await {
            Err(error) if error.error_type() == "too_many_buckets_exception" => {
                return Err(self.count_the_buckets(query, call).await);
            }
            searched => searched?,
        };
        let shards = &response.shards;
        if shards.failed > 0 && !shards.partial() {
            return Err(Error::AllShardsFailed {
                summary: shards.summary(),
                detail: shards.describe(),
            });
        }
        // The caller is told how many shards failed and the first failure's type; its index
        // and Elasticsearch's words go to the log, under the call's request id.
        let partial = shards.partial().then(|| {
            let request_id = call.request_id.as_str();
            tracing::warn!(request_id, shards = %shards.describe(), "partial answer");
            shards.summary()
        });
        let body = render(request, response, SystemTime::now())?;
        Ok(Answer::new(request.format, body, self.cache_ttl(), partial))
    }

    /// Elasticsearch's answer to `body` on the query's index.
    async fn search(
        &self,
        query: &StatsQuery,
        body: &Value,
        call: &CallContext,
    ) -> Result<SearchResponse, Error> {
        let index = query.index.as_deref().unwrap_or(&self.index);
        // The body's bytes, made once: a search tried on a second node sends the same ones.
        let body = Bytes::from(
            serde_json::to_vec(body)
                .map_err(|e| Error::Internal(format!("cannot write the search body: {e}")))?,
        );
        let searched = match self.es.search(index, body, call).await {
            Ok(text) => SearchResponse::parse(text),
            Err(error) => Err(error),
        };
        searched.map_err(|error| name_the_index(blame_the_field(error, query), query))
    }

    /// The 400 for a histogram Elasticsearch refused as too many buckets, with how many it
    /// would have made over the field's range in the window.
    async fn count_the_buckets(&self, query: &StatsQuery, call: &CallContext) -> Error {
        match self.search(query, &query.bounds_body(true), call).await {
            Ok(response) => match response.range {
                Some(range) => too_many_buckets(bucket_count(range, query.interval), query),
                None => too_many_buckets(MAX_BUCKETS + 1, query),
            },
            Err(error) => error,
        }
    }
}

/// The fewest buckets any server refuses by default: `search.max_buckets` is 65,536 on
/// Elasticsearch 7.9 and later, 65,535 on OpenSearch.
pub const MAX_BUCKETS: u64 = 65_535;

/// How many buckets `interval` makes across `range`, empty ones included.
fn bucket_count((min, max): (f64, f64), interval: f64) -> u64 {
    let first = (min / interval).floor();
    let last = (max / interval).floor();
    (last - first) as u64 + 1
}

fn too_many_buckets(buckets: u64, query: &StatsQuery) -> Error {
    Error::bad_request(
        "interval",
        format!(
            "{} makes {buckets} buckets over the field's range in the last {} h; \
             Elasticsearch allows at most {MAX_BUCKETS} (search.max_buckets): use a wider interval",
            query.interval, query.hours
        ),
    )
}

/// A missing index the caller named is theirs to hear of; one from `ES_INDEX` is the
/// configuration's, which the client is not told the name of.
fn name_the_index(error: Error, query: &StatsQuery) -> Error {
    match error {
        Error::IndexNotFound { reason, .. } => Error::IndexNotFound {
            reason,
            requested: query.index.clone(),
        },
        other => other,
    }
}

/// Elasticsearch refusing to aggregate a field the caller chose is the caller's mistake (400);
/// refusing the default field is a server-side problem and stays a 502.
fn blame_the_field(error: Error, query: &StatsQuery) -> Error {
    match error {
        Error::Elasticsearch {
            status: 400,
            reason,
            ..
        } if query.field_requested && reason.contains(&query.field) => Error::bad_request(
            "field",
            format!(
                "Elasticsearch cannot make a histogram of {:?}: {reason}",
                query.field
            ),
        ),
        other => other,
    }
}
