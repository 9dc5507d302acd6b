//! wx-stats: how were the temperatures spread over the last N hours?
//!
//! One path for data, whichever door a request comes through:
//!
//! ```text
//! request ─► door ─► http::app::router ─► call_layer ─► Stats::answer ─► response
//!                                                        │ StatsRequest::parse, cache, EsClient::search
//!                                                        └ SearchResponse::parse, render, Answer
//! ```
//!
//! Three layers, each using only the ones before it:
//!
//! - **core**, which knows no platform (neither axum nor a FaaS runtime):
//!   - `config` reads the environment, through [`Env`], the one reader every layer uses;
//!   - [`query`] parses a request's parameters into a [`query::StatsRequest`], whose default is
//!     the original function's query, and builds its search body; `format` is how the answer
//!     is written, and owns each format's rules;
//!   - `stats` is the service object every door calls: [`Stats::answer`] takes parameters and
//!     gives an [`Answer`], as it is sent, with its tag and compressed variants ([`answer`]). It
//!     keeps answers in the cache (coalescing and a TTL, keyed by the parsed request), searches
//!     through `es` (the Elasticsearch client, which maps every failure to an [`Error`], and
//!     reads its search response once) and renders it (`render`);
//!   - `call` is what a call carries to Elasticsearch besides its question: who asked (its
//!     request id and trace context) and when the platform gives up on it;
//!   - `error` is the one error type, with its one JSON shape;
//!   - [`sample`] writes observations shaped like the station's, for trying wx-stats out.
//! - **[`http`]**: the one axum Router every door serves, what wraps each call, content
//!   negotiation, and serving it on a socket.
//! - **[`door`]**: which platform a process serves, each platform's settings, start-up and
//!   lifecycle, Lambda's invocations ([`door::lambda`]) and logging ([`door::telemetry`]). Each
//!   door's binary in `src/bin/` is one call on top of it (`door::serve_kubeless()`, …), and
//!   the one image's `wx-stats-serve` serves the `Platform` its environment names.

// Items no other crate needs are `pub(crate)`, so the docs that `missing_docs` asks for are
// the public ones. Here rather than in Cargo.toml's [lints]: those reach the integration tests
// too, whose shared support module is private by nature.
#![warn(unreachable_pub)]

pub mod answer;
mod cache;
mod call;
mod config;
pub mod door;
mod error;
mod es;
mod format;
pub mod http;
mod offload;
mod otel;
pub mod query;
mod ranges;
mod render;
pub mod sample;
mod stats;

pub use answer::Answer;
pub use cache::CacheOutcome;
pub use call::CallContext;
pub use config::{ENVIRONMENT_HELP, Env};
pub use error::Error;
pub use es::EsClient;
pub use format::Format;
pub use stats::Stats;
