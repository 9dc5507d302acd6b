//! `wx-stats-lambda`: the AWS Lambda door (`bootstrap` on provided.al2023). It serves the same
//! Router as the HTTP doors, and answers scheduled and direct invocations through it too.

use std::process::ExitCode;

use lambda_runtime::service_fn;
use wx_stats::app::{AppState, router};
use wx_stats::{EsClient, lambda, serve, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL.
    telemetry::init_lambda();
    // Building the client makes no network call: nothing slow happens before the first event.
    let es = match EsClient::from_lookup(|name| std::env::var(name).ok()) {
        Ok(es) => es,
        Err(error) => return serve::startup_failed(&error),
    };
    let app = router(std::sync::Arc::new(AppState::new(es)));
    match lambda_runtime::run(service_fn(|event| lambda::handle(app.clone(), event))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
