//! `wx-stats-knative`: the Knative Serving (and Cloud Run) door, serving HTTP on `PORT` and
//! draining on SIGTERM. It logs JSON lines to stdout and writes nothing to disk.

use std::process::ExitCode;
use std::sync::Arc;

use tracing::Instrument;
use wx_stats::app::{AppState, router};
use wx_stats::door::{self, KnativeEnv};
use wx_stats::{serve, telemetry};

// One thread: no cross-thread wake-ups per request, a smaller footprint and a faster start;
// a pod scales out rather than up.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    telemetry::init_json_stdout("info");
    let (knative, es) = match door::from_env::<KnativeEnv>() {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    // Every line logged while serving carries K_SERVICE, K_REVISION and K_CONFIGURATION.
    let span = knative.identity.span();
    span.in_scope(|| tracing::info!(port = knative.port, elasticsearch = %es.host(), "wx-stats-knative starting"));
    let state = AppState {
        identity: knative.identity,
        ..AppState::new(es)
    };
    serve::run(knative.port, router(Arc::new(state)), knative.grace)
        .instrument(span)
        .await
}
