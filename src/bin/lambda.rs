//! `wx-stats-lambda`: the AWS Lambda door (`bootstrap` on provided.al2023). It serves the same
//! Router as the HTTP doors, and answers scheduled and direct invocations through it too.

use std::process::ExitCode;
use std::sync::Arc;

use wx_stats::door::{self, LambdaEnv, lambda, telemetry};
use wx_stats::http::app::{AppState, router};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL.
    telemetry::init_lambda();
    // Building the client makes no network call: nothing slow happens before the first event.
    let (lambda_env, stats) = match door::from_env::<LambdaEnv>() {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    tracing::debug!(
        function = %lambda_env.function_name,
        memory_mb = %lambda_env.memory_size,
        max_in_flight = lambda_env.max_in_flight,
        elasticsearch = %stats.es().host(),
        "wx-stats-lambda starting"
    );
    let state = AppState {
        max_in_flight: lambda_env.max_in_flight,
        ..AppState::new(stats)
    };
    lambda::run(router(Arc::new(state))).await
}
