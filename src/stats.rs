//! The function itself: [`Stats`], the one service object every door calls. Parameters in, an
//! answer out.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::Value;

use crate::answer::Answer;
use crate::cache::{AnswerCache, CacheOutcome};
use crate::call::CallContext;
use crate::config::{Config, Env};
use crate::error::Error;
use crate::es::EsClient;
use crate::es::SearchResponse;
use crate::format::Format;
use crate::offload;
use crate::query::{StatsQuery, StatsRequest};
use crate::ranges::{FieldRanges, Range, bucket_count};
use crate::render::{RenderContext, render};

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
    /// Each field's range, which bounds an answer's buckets before its search.
    ranges: FieldRanges,
    /// The most buckets an answer holds (`MAX_BUCKETS_SERVED`).
    max_buckets: u64,
    /// The station's time zone (`STATION_TIME_ZONE`), which the page shows its times in.
    time_zone: jiff::tz::TimeZone,
}

/// What a call was served, left on its response for the call's span and metrics.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Served {
    /// The answer's format.
    pub format: Format,
    /// Where the answer came from.
    pub cache: CacheOutcome,
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
            ranges: FieldRanges::new(),
            max_buckets: config.max_buckets,
            time_zone: config.time_zone.clone(),
        })
    }

    /// Reads `Config` through `lookup` and builds: what every door does at start-up.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Self::from_env(&Env::new(lookup))
    }

    /// Reads `Config` from `env` and builds.
    pub fn from_env(env: &Env) -> Result<Self, Error> {
        Self::new(&Config::from_env(env)?)
    }

    /// The Elasticsearch client, for the sample loader and start-up logs.
    pub fn es(&self) -> &EsClient {
        &self.es
    }

    /// How long answers are kept (`CACHE_TTL`); zero when caching is off.
    pub fn cache_ttl(&self) -> Duration {
        self.cache.as_ref().map_or(Duration::ZERO, AnswerCache::ttl)
    }

    /// Answers the request that `params` spell, in the `preferred` format when no `format`
    /// parameter names one, and says where the answer came from. Identical requests share one
    /// answer, kept for `CACHE_TTL`; a request waiting on another's answer gets that answer,
    /// made with the context of the call that started it.
    pub async fn answer(
        &self,
        params: &[(String, String)],
        preferred: Option<Format>,
        call: &CallContext,
    ) -> Result<(Arc<Answer>, CacheOutcome), Error> {
        let request = StatsRequest::parse(params, preferred, &self.index_allow)?;
        match &self.cache {
            Some(cache) => {
                let fresh = || self.fresh_answer(&request, call);
                cache.get_or_make(&request, fresh).await
            }
            None => Box::pin(self.fresh_answer(&request, call))
                .await
                .map(|answer| (Arc::new(answer), CacheOutcome::Miss)),
        }
    }

    /// Searches and renders the answer to `request`, once its buckets are known to be few
    /// enough to serve.
    async fn fresh_answer(
        &self,
        request: &StatsRequest,
        call: &CallContext,
    ) -> Result<Answer, Error> {
        let query = &request.query;
        let call = &call.within(self.es.timeout());
        let range = self.servable_range(query, call).await?;
        let bounds = if query.fill { range } else { None };
        let response = match self.search(query, &request.search_body(bounds), call).await {
            Err(error) if error.error_type() == "too_many_buckets_exception" => {
                return Err(self.count_the_buckets(query, call).await);
            }
            searched => searched?,
        };
        // A value beyond the kept range may have arrived since it was searched.
        let served = response.buckets.len() as f64;
        if served > self.max_buckets as f64 {
            return Err(self.too_many_buckets(served, query, Span::Window));
        }
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
        let context = RenderContext {
            now: SystemTime::now(),
            refresh: self.cache_ttl(),
            partial,
            time_zone: self.time_zone.clone(),
        };
        let make = move |request: &StatsRequest, response| {
            let body = render(request, response, &context)?;
            Ok(Answer::new(
                request.format,
                body,
                context.refresh,
                context.partial,
            ))
        };
        if response.buckets.len() <= RENDERED_INLINE_BUCKETS {
            return make(request, response);
        }
        let request = request.clone();
        offload::run(move || make(&request, response)).await?
    }

    /// The field's range ever observed, once it is known that the answer's buckets will not
    /// exceed `MAX_BUCKETS_SERVED`; otherwise the 400 that says so. `fill` spans that whole
    /// range. Without `fill` the histogram spans only the window's values, which lie within
    /// it: only when the whole range is too wide is the window's own range searched.
    async fn servable_range(&self, query: &StatsQuery, call: &CallContext) -> Result<Range, Error> {
        let index = self.index_of(query);
        let ever = async {
            let response = self.search(query, &query.bounds_body(false), call).await?;
            Ok(response.range)
        };
        let range = self.ranges.get_or_search(index, &query.field, ever).await?;
        let Some(whole) = range else {
            return Ok(None);
        };
        let max = self.max_buckets as f64;
        let count = bucket_count(whole, query.interval);
        if count <= max {
            return Ok(range);
        }
        if query.fill {
            return Err(self.too_many_buckets(count, query, Span::Ever));
        }
        let window = self
            .search(query, &query.bounds_body(true), call)
            .await?
            .range;
        match window.map(|window| bucket_count(window, query.interval)) {
            Some(count) if count > max => Err(self.too_many_buckets(count, query, Span::Window)),
            _ => Ok(range),
        }
    }

    /// The index a query searches.
    fn index_of<'a>(&'a self, query: &'a StatsQuery) -> &'a str {
        query.index.as_deref().unwrap_or(&self.index)
    }

    /// Elasticsearch's answer to `body` on the query's index.
    async fn search(
        &self,
        query: &StatsQuery,
        body: &Value,
        call: &CallContext,
    ) -> Result<SearchResponse, Error> {
        let index = self.index_of(query);
        // The body's bytes, made once: a search tried on a second node sends the same ones.
        let body = Bytes::from(
            serde_json::to_vec(body)
                .map_err(|e| Error::Internal(format!("cannot write the search body: {e}")))?,
        );
        let searched = match self.es.search(index, body, call).await {
            // A large response is read off the async threads, as large answers are rendered.
            Ok(text) if text.len() >= offload::LARGE_BYTES => {
                offload::run(move || SearchResponse::parse(text)).await?
            }
            Ok(text) => SearchResponse::parse(text),
            Err(error) => Err(error),
        };
        searched.map_err(|error| name_the_index(blame_the_field(error, query), query))
    }

    /// The 400 for a histogram Elasticsearch refused as too many buckets (possible only when
    /// a server allows fewer than its default), with how many it would have made over the
    /// field's range in the window.
    async fn count_the_buckets(&self, query: &StatsQuery, call: &CallContext) -> Error {
        match self.search(query, &query.bounds_body(true), call).await {
            Ok(response) => {
                let count = response
                    .range
                    .map_or(f64::INFINITY, |range| bucket_count(range, query.interval));
                Error::bad_request(
                    "interval",
                    format!(
                        "{:?} makes {} buckets over the field's range in the last {} h, more than \
                         Elasticsearch allows (search.max_buckets): use a wider interval",
                        query.interval,
                        how_many(count),
                        query.hours
                    ),
                )
            }
            Err(error) => error,
        }
    }

    /// The 400 for an answer of more buckets than are served.
    fn too_many_buckets(&self, count: f64, query: &StatsQuery, span: Span) -> Error {
        let over = match span {
            Span::Ever => "from the field's lowest to its highest value ever (fill)".to_string(),
            Span::Window => format!("over the field's range in the last {} h", query.hours),
        };
        Error::bad_request(
            "interval",
            format!(
                "{:?} makes {} buckets {over}; an answer holds at most {} buckets: use a wider \
                 interval",
                query.interval,
                how_many(count),
                self.max_buckets
            ),
        )
    }
}

/// Answers of more buckets than this are rendered off the async threads ([`offload`]), so
/// that a few large renders (an SVG of 2,000 bars takes milliseconds) never hold up the threads
/// that answer probes and kept answers. Smaller ones are rendered where they are, at no cost.
const RENDERED_INLINE_BUCKETS: usize = 256;

/// Which values a histogram's buckets span.
enum Span {
    /// Every value the field ever had: `fill`'s buckets.
    Ever,
    /// The values in the request's window.
    Window,
}

/// A bucket count as a person reads it: whole, or in powers of ten past what a whole number
/// shows exactly.
fn how_many(count: f64) -> String {
    if count.is_infinite() {
        "more than 1e308".to_string()
    } else if count < 1e15 {
        format!("{count:.0}")
    } else {
        format!("{count:.1e}")
    }
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
