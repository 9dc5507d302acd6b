//! wx-stats: how were the temperatures spread over the last N hours?
//!
//! One path for data, whichever door a request comes through:
//!
//! ```text
//! request ─► door (src/bin/*) ─► StatsQuery ─► EsClient::search ─► response
//! ```
//!
//! - [`config`] reads the environment through a lookup function, so it is pure.
//! - [`query`] holds [`query::StatsQuery`], whose default is the original function's query.
//! - [`es`] builds the Elasticsearch client and maps every failure to an [`error::Error`].
//! - [`error`] is the one error type, with its one JSON shape.
//! - [`sample`] writes observations shaped like the station's, for trying wx-stats out.
//! - [`telemetry`] sets up logging.
//!
//! The core knows no platform: none of these modules imports an HTTP framework or a FaaS runtime.

pub mod config;
pub mod error;
pub mod es;
pub mod query;
pub mod sample;
pub mod telemetry;

pub use config::Config;
pub use error::Error;
pub use es::EsClient;
pub use query::StatsQuery;
