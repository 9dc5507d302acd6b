//! `wx-stats-kubeless`: the Kubeless door, a custom runtime image serving HTTP on `FUNC_PORT`.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    wx_stats::door::serve_kubeless().await
}
