//! wx-stats: how were the temperatures spread over the last N hours?
//!
//! One path for data, whichever door a request comes through:
//!
//! ```text
//! request ─► door (src/bin/*) ─► app::router ─► StatsQuery ─► EsClient::search ─► response
//! ```
//!
//! - The doors in `src/bin/` read their platform's variables ([`door`]), build the shared state
//!   and serve: [`serve`] for the HTTP doors. They hold no query, Elasticsearch or formatting logic.
//! - [`app`] is the one axum Router every HTTP door serves; [`metrics`] are Kubeless's metrics;
//!   [`cloudevent`] reads and answers CloudEvents; [`lambda`] hands Lambda invocations to it.
//! - [`config`] reads the environment through a lookup function, so it is pure.
//! - [`query`] holds [`query::StatsQuery`], whose default is the original function's query.
//! - [`es`] builds the Elasticsearch client and maps every failure to an [`error::Error`];
//!   [`cache`] coalesces identical searches and keeps answers for `CACHE_TTL`.
//! - [`error`] is the one error type, with its one JSON shape.
//! - [`sample`] writes observations shaped like the station's, for trying wx-stats out.
//! - [`telemetry`] sets up logging.
//!
//! The core (config, query, es, error, sample) knows no platform: it imports neither axum nor a
//! FaaS runtime.

pub mod app;
pub mod cache;
pub mod cloudevent;
pub mod config;
pub mod door;
pub mod error;
pub mod es;
pub mod lambda;
pub mod metrics;
pub mod query;
pub mod render;
pub mod sample;
pub mod serve;
pub mod stats;
pub mod telemetry;

pub use config::Config;
pub use error::Error;
pub use es::EsClient;
pub use query::StatsQuery;
