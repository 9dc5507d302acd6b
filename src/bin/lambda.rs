//! `wx-stats-lambda`: the AWS Lambda door (`bootstrap` on provided.al2023). It serves the same
//! Router as the HTTP doors, and answers scheduled and direct invocations through it too.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    wx_stats::door::serve_lambda().await
}
