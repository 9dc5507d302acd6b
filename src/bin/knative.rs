//! `wx-stats-knative`: the Knative Serving (and Cloud Run) door, serving HTTP on `PORT` and
//! draining on SIGTERM. It logs JSON lines to stdout and writes nothing to disk.

use std::process::ExitCode;

use tracing::Instrument;
use wx_stats::door::{self, KnativeEnv, telemetry};
use wx_stats::http::app::AppState;

// One thread: no cross-thread wake-ups per request, a smaller footprint and a faster start;
// a pod scales out rather than up.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    telemetry::init_json_stdout("info");
    let (knative, stats) = match door::from_env::<KnativeEnv>() {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    // Every line logged while serving carries K_SERVICE, K_REVISION and K_CONFIGURATION.
    let span = knative.identity.span();
    span.in_scope(|| tracing::info!(port = knative.port, max_in_flight = knative.max_in_flight, elasticsearch = %stats.es().host(), "wx-stats-knative starting"));
    let state = AppState {
        span: span.clone(),
        event_source: knative.identity.event_source(),
        max_in_flight: knative.max_in_flight,
        ..AppState::new(stats)
    };
    door::serve_http(knative.port, state, knative.grace)
        .instrument(span)
        .await
}
