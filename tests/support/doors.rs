//! The three serverless doors as real processes on loopback, all started with one environment:
//! the Kubeless and Knative doors, and the Lambda door behind cargo-lambda's emulator.

use std::time::Duration;

use super::emulator::Emulator;
use super::server::Server;

/// The built `wx-stats-kubeless`.
pub const KUBELESS: &str = env!("CARGO_BIN_EXE_wx-stats-kubeless");
/// The built `wx-stats-knative`.
pub const KNATIVE: &str = env!("CARGO_BIN_EXE_wx-stats-knative");

/// The variable that gives `binary` (KUBELESS or KNATIVE) its port.
pub fn port_variable(binary: &str) -> &'static str {
    match binary {
        KUBELESS => "FUNC_PORT",
        KNATIVE => "PORT",
        other => panic!("{other} is not a door that listens on a port"),
    }
}

/// The three doors. Dropping them stops every process by its PID.
pub struct Doors {
    /// `wx-stats-kubeless` on `FUNC_PORT`.
    pub kubeless: Server,
    /// `wx-stats-knative` on `PORT`.
    pub knative: Server,
    /// `wx-stats-lambda` under `cargo lambda watch`.
    pub lambda: Emulator,
}

impl Doors {
    /// Starts all three with `env`, each waiting until it answers.
    pub async fn start(env: &[(&str, &str)]) -> Doors {
        Doors {
            kubeless: Server::start(KUBELESS, "FUNC_PORT", env).await,
            knative: Server::start(KNATIVE, "PORT", env).await,
            lambda: Emulator::start(env).await,
        }
    }

    /// Each door's name and the URL that invokes its function, ending in `/` so that a path or
    /// a query string can follow.
    pub fn functions(&self) -> [(&'static str, String); 3] {
        [
            ("kubeless", format!("{}/", self.kubeless.base)),
            ("knative", format!("{}/", self.knative.base)),
            ("lambda", self.lambda.function_url()),
        ]
    }

    /// Whether every door is still the process that was started.
    pub fn all_running(&mut self) -> bool {
        self.kubeless.is_running() && self.knative.is_running() && self.lambda.function_is_running()
    }

    /// Stops every door as its platform does, with SIGTERM (the Lambda door: its function
    /// process), and waits up to 10 s for each to exit, so that its log is whole: nothing can
    /// be added to it any more. Fails if one is still running then.
    pub async fn stop(&mut self) {
        for (door, process) in [
            ("kubeless", &mut *self.kubeless),
            ("knative", &mut *self.knative),
            ("lambda", self.lambda.function()),
        ] {
            process.terminate(Duration::from_secs(10)).await;
            assert!(
                !process.is_running(),
                "{door} still runs 10 s after SIGTERM; its log:\n{}",
                process.log()
            );
        }
    }
}
