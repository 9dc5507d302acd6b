//! The function itself: [`Stats`], the one service object every door calls. Parameters in, a
//! rendered answer out.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::cache::SearchCache;
use crate::config::Config;
use crate::error::Error;
use crate::es::EsClient;
use crate::format::Format;
use crate::query::{StatsQuery, StatsRequest};
use crate::render::render;
use crate::response::SearchView;

/// Answers histogram questions: parses them, asks Elasticsearch (through the cache) and renders.
#[derive(Debug)]
pub struct Stats {
    es: EsClient,
    /// The index or pattern searched when a request names none (`ES_INDEX`).
    index: String,
    /// The patterns a request's `index` parameter must match (`ES_INDEX_ALLOW`).
    index_allow: String,
    /// Coalescing and the TTL cache; `None` when `CACHE_TTL` is 0.
    cache: Option<SearchCache>,
}

/// An answer ready to send, with what the HTTP layer needs to send it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The format it is written in.
    pub format: Format,
    /// The body.
    pub body: String,
    /// How long caches downstream may keep it: as long as we do.
    pub max_age: Duration,
}

impl Rendered {
    /// The content type it is served with.
    pub fn content_type(&self) -> &'static str {
        self.format.content_type()
    }
}

impl Stats {
    /// Builds the client and the cache. Makes no network call.
    pub fn new(config: &Config) -> Result<Self, Error> {
        Ok(Stats {
            es: EsClient::new(config)?,
            index: config.index.clone(),
            index_allow: config.index_allow.clone(),
            cache: SearchCache::new(config.cache_ttl),
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
        self.cache.as_ref().map_or(Duration::ZERO, SearchCache::ttl)
    }

    /// Answers the request that `params` spell. `accept` picks the format when no `format`
    /// parameter does.
    pub async fn answer(
        &self,
        params: &[(String, String)],
        accept: Option<&str>,
    ) -> Result<Rendered, Error> {
        let request = StatsRequest::parse(params, accept, &self.index_allow)?;
        let query = &request.query;
        let bounds = if query.fill {
            SearchView::parse(&self.search(query, &query.bounds_body()).await?)?.range
        } else {
            None
        };
        let text = self.search(query, &query.body_with_bounds(bounds)).await?;
        Ok(Rendered {
            format: request.format,
            body: render(&request, text, SystemTime::now())?,
            max_age: self.cache_ttl(),
        })
    }

    /// Elasticsearch's answer to `body` on the query's index. Identical searches share one
    /// call, and answers are kept for `CACHE_TTL`.
    async fn search(&self, query: &StatsQuery, body: &Value) -> Result<String, Error> {
        let index = query.index.as_deref().unwrap_or(&self.index);
        let searched = match &self.cache {
            Some(cache) => cache
                .get_or_fetch(format!("{index}\n{body}"), self.es.search(index, body))
                .await
                .map(|text| text.to_string()),
            None => self.es.search(index, body).await,
        };
        searched.map_err(|error| blame_the_field(error, query))
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
