//! The Knative Serving (and Cloud Run) door: HTTP on `PORT`, draining on SIGTERM, JSON log
//! lines on stdout labelled with the service's name. With no `K_SERVICE` it is plain HTTP on
//! `PORT`, which is what the one image serves when no platform is named.
//!
//! `REVISION_TIMEOUT_SECONDS` is the revision's `timeoutSeconds`, the moment Knative's
//! queue-proxy gives up on a request with a plain-text 504. Given the same value, the door
//! gives each call that deadline, so a slow Elasticsearch is answered with our JSON 504 first.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::{
    DEFAULT_SHUTDOWN_GRACE, PlatformEnv, ServiceIdentity, calls, duration, from_env, port,
    serve_http, telemetry,
};
use crate::error::Error;
use crate::http::app::AppState;
use crate::http::identity::CallSettings;
use crate::http::shed::DEFAULT_MAX_IN_FLIGHT;

/// Serves the Knative door until SIGTERM: `wx-stats-knative`, or the one image's entry point
/// when `K_SERVICE` is set.
pub async fn main() -> ExitCode {
    serve_as("knative").await
}

/// Serves plain HTTP on `PORT` as the Knative door does: the one image's entry point when no
/// platform is named. It logs as itself, so its logs do not claim a Knative service.
pub async fn main_plain_http() -> ExitCode {
    serve_as("http").await
}

/// The door's start-up and serving, logged as the `door` named.
async fn serve_as(door: &'static str) -> ExitCode {
    telemetry::init_json_stdout("info");
    let (knative, stats) = match from_env::<KnativeEnv>() {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    // Every line logged while serving carries K_SERVICE, K_REVISION and K_CONFIGURATION.
    let span = knative.identity.span();
    span.in_scope(|| {
        tracing::info!(
            program = %super::program(),
            port = knative.port,
            max_in_flight = knative.max_in_flight,
            revision_timeout_seconds = knative.revision_timeout.map(|t| t.as_secs()),
            elasticsearch = %stats.es().host(),
            "{door} door starting"
        )
    });
    let call = CallSettings {
        function_timeout: knative.revision_timeout,
        span: span.clone(),
    };
    let state = AppState {
        call: Arc::new(call),
        event_source: knative.identity.event_source(),
        max_in_flight: knative.max_in_flight,
        ..AppState::new(stats)
    };
    serve_http(knative.port, state, knative.grace)
        .instrument(span)
        .await
}

/// The Knative Serving runtime contract's variables.
#[derive(Clone, Debug, PartialEq)]
pub struct KnativeEnv {
    /// `PORT`: where to listen.
    pub port: u16,
    /// `SHUTDOWN_GRACE`: how long to drain after SIGTERM.
    pub grace: Duration,
    /// `K_SERVICE`, `K_REVISION` and `K_CONFIGURATION`, when set: they label every log line.
    pub identity: ServiceIdentity,
    /// `MAX_IN_FLIGHT`: function calls in progress at once; more are answered 503.
    pub max_in_flight: usize,
    /// `REVISION_TIMEOUT_SECONDS`: the revision's `timeoutSeconds`, each call's deadline; unset,
    /// no limit.
    pub revision_timeout: Option<Duration>,
}

/// The longest `REVISION_TIMEOUT_SECONDS` accepted: a day, far above what Knative (600 s unless
/// the cluster raises `max-revision-timeout-seconds`) or Cloud Run (3600 s) allow, and small
/// enough that a deadline this far ahead is always a valid instant.
pub const MAX_REVISION_TIMEOUT_SECONDS: u64 = 24 * 60 * 60;

impl PlatformEnv for KnativeEnv {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let text = |name: &str| lookup(name).filter(|v| !v.is_empty());
        Ok(KnativeEnv {
            port: port(lookup, "PORT")?,
            grace: duration(lookup, "SHUTDOWN_GRACE", DEFAULT_SHUTDOWN_GRACE)?,
            identity: ServiceIdentity {
                service: text("K_SERVICE"),
                revision: text("K_REVISION"),
                configuration: text("K_CONFIGURATION"),
            },
            max_in_flight: calls(lookup, "MAX_IN_FLIGHT")?.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            revision_timeout: revision_timeout(lookup)?,
        })
    }
}

/// `REVISION_TIMEOUT_SECONDS` as the queue-proxy reads it: whole seconds, with no unit.
fn revision_timeout(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<Duration>, Error> {
    const VARIABLE: &str = "REVISION_TIMEOUT_SECONDS";
    let Some(text) = lookup(VARIABLE).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|seconds| (1..=MAX_REVISION_TIMEOUT_SECONDS).contains(seconds))
        .map(|seconds| Some(Duration::from_secs(seconds)))
        .ok_or(Error::Config {
            variable: VARIABLE,
            reason: format!(
                "{text:?} is not a whole number of seconds from 1 to {MAX_REVISION_TIMEOUT_SECONDS} \
                 (the revision's timeoutSeconds)"
            ),
        })
}
