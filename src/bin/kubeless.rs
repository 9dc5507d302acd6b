//! `wx-stats-kubeless`: the Kubeless door, a custom runtime image serving HTTP on `FUNC_PORT`.

use std::process::ExitCode;

use wx_stats::door::{self, KubelessEnv, telemetry};
use wx_stats::http::app::AppState;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    telemetry::init("info");
    let (kubeless, stats) = match door::from_env::<KubelessEnv>() {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    tracing::info!(
        port = kubeless.port,
        timeout_seconds = kubeless.timeout.as_secs_f64(),
        handler = %kubeless.handler,
        module = %kubeless.module,
        runtime = %kubeless.runtime,
        memory_limit = %kubeless.memory_limit,
        max_in_flight = kubeless.max_in_flight,
        elasticsearch = %stats.es().host(),
        "wx-stats-kubeless starting"
    );
    let state = AppState {
        function_timeout: Some(kubeless.timeout),
        max_in_flight: kubeless.max_in_flight,
        ..AppState::new(stats)
    };
    door::serve_http(kubeless.port, state, kubeless.grace).await
}
