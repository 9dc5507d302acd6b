//! The AWS Lambda Runtime Interface Emulator (`aws-lambda-rie`, the Go module AWS publishes for
//! testing container images) on a loopback port, running the built `wx-stats-lambda` as its
//! bootstrap. Unlike cargo-lambda's emulator, it gives each invocation a real deadline, from
//! `AWS_LAMBDA_FUNCTION_TIMEOUT`, takes the request id from `X-Amzn-RequestId` and the tenant id
//! (Lambda's tenant isolation mode) from `X-Amz-Tenant-Id`, and has the Extensions API unless
//! extensions are disabled.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::process::{Process, Stop};
use super::server::free_port;

/// The emulator with the function under it. Dropping it stops the emulator by PID with
/// SIGTERM, so that it stops the function (its child) before it goes.
pub struct Rie {
    process: Process,
    port: u16,
}

impl Rie {
    /// Starts the emulator on a free port; `env` reaches the function (e.g. `HOST`,
    /// `AWS_LAMBDA_FUNCTION_TIMEOUT`).
    pub async fn start(env: &[(&str, &str)]) -> Rie {
        Rie::start_binary(env!("CARGO_BIN_EXE_wx-stats-lambda"), env).await
    }

    /// The same with another bootstrap: an arm64 build (run under qemu), or the one image's
    /// entry point.
    pub async fn start_binary(bootstrap: &str, env: &[(&str, &str)]) -> Rie {
        Rie::spawn(Command::new("aws-lambda-rie"), bootstrap, env).await
    }

    /// The emulator with extensions disabled, as a Lambda layer holding the file
    /// `/opt/disable-extensions-jwigqn8j` disables them: every route of its Extensions API then
    /// answers 404. The emulator runs in a user and mount namespace of its own (`unshare`, no
    /// privileges needed) whose `/opt` is an empty tmpfs holding that file, so the machine's
    /// `/opt` is never touched. `unshare` and `sh` exec in turn, so the PID held is the emulator's.
    pub async fn start_without_extensions(env: &[(&str, &str)]) -> Rie {
        let mut command = Command::new("unshare");
        command
            .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
            .arg(
                "mount -t tmpfs tmpfs /opt && : > /opt/disable-extensions-jwigqn8j && exec \"$@\"",
            );
        command.args(["sh", "aws-lambda-rie"]);
        Rie::spawn(command, env!("CARGO_BIN_EXE_wx-stats-lambda"), env).await
    }

    /// Starts `command` (the emulator, or what execs it) with the emulator's arguments.
    ///
    /// Both its addresses are given in advance: it names neither the invocation port it takes
    /// for port 0, and the function is told the runtime API's as it was given (port 0 there
    /// leaves the function nothing to connect to). So both are ports free a moment ago.
    async fn spawn(mut command: Command, bootstrap: &str, env: &[(&str, &str)]) -> Rie {
        let port = free_port();
        command
            .args([
                "--runtime-interface-emulator-address",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "--runtime-api-address",
                &format!("127.0.0.1:{}", free_port()),
            ])
            .args(super::argv(bootstrap))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied());
        let mut process = Process::start("aws-lambda-rie", &mut command)
            .unwrap_or_else(|e| {
                panic!("cannot start aws-lambda-rie ({e}); tests/run installs it with `go install`")
            })
            .stopped_by(Stop::Term);
        if let Err(why) = process.wait_listening(port).await {
            panic!("{why}:\n{}", process.log());
        }
        Rie { process, port }
    }

    /// Invokes the function with `event` as `request_id`; the invocation's answer, as the
    /// function returned it (or the emulator's own error when the function timed out).
    pub async fn invoke(&self, event: &Value, request_id: &str) -> Value {
        self.invoke_with(event, &[("x-amzn-requestid", request_id)])
            .await
    }

    /// The same with the invocation request's `headers`, e.g. `x-amz-tenant-id`.
    pub async fn invoke_with(&self, event: &Value, headers: &[(&str, &str)]) -> Value {
        let port = self.port;
        let url = format!("http://127.0.0.1:{port}/2015-03-31/functions/function/invocations");
        let mut request = reqwest::Client::new().post(url).json(event);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let text = request.send().await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// What the emulator and the function wrote.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Stops the emulator as a container runtime stops it, with SIGTERM: it shuts the function
    /// down as Lambda does. Returns the emulator's exit code, if it exited within 10 s.
    pub async fn terminate(&mut self) -> Option<i32> {
        self.process.terminate(Duration::from_secs(10)).await
    }
}
