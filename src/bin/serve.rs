//! `wx-stats-serve`: the entry point of the one `wx-stats` image, which runs on every platform.
//! It serves the door of the platform the environment names (see [`Platform`]): Lambda's
//! runtime API, Knative (or Cloud Run), Kubeless, or else plain HTTP on `PORT`.

use std::process::ExitCode;

use wx_stats::Env;
use wx_stats::door::Platform;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    Platform::of(&Env::process()).serve().await
}
