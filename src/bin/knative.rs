//! `wx-stats-knative`: the Knative Serving (and Cloud Run) door, serving HTTP on `PORT` and
//! draining on SIGTERM. It logs JSON lines to stdout and writes nothing to disk.

use std::process::ExitCode;

// One thread: no cross-thread wake-ups per request, a smaller footprint and a faster start;
// a pod scales out rather than up.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    wx_stats::door::serve_knative().await
}
