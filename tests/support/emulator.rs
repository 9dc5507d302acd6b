//! cargo-lambda's emulator on a loopback port, with the built `wx-stats-lambda` attached to it.
//!
//! The emulator runs with `--only-lambda-apis`, so it never builds anything: the function is the
//! debug binary `cargo test` already built, started here and polling the emulator's runtime API.

use std::process::{Command, Output};

use super::process::Process;
use super::server::free_port;

/// The function name, as in `/lambda-url/wx-stats-lambda/`.
pub const FUNCTION: &str = "wx-stats-lambda";

/// The emulator and the function. Dropping it kills both by PID, the function first.
pub struct Emulator {
    function: Process,
    emulator: Process,
    /// The port invocations go to.
    pub port: u16,
}

impl Emulator {
    /// Starts the emulator on a free port and the function with `env` (e.g. `HOST`).
    pub async fn start(env: &[(&str, &str)]) -> Emulator {
        Emulator::start_binary(env!("CARGO_BIN_EXE_wx-stats-lambda"), env).await
    }

    /// The same with another build of the Lambda door, e.g. the arm64 one (run under qemu).
    pub async fn start_binary(binary: &str, env: &[(&str, &str)]) -> Emulator {
        // cargo-lambda takes `--invoke-port 0` for its default, 9000, not for any free port,
        // and the function must be told the port before it starts: one free a moment ago.
        let port = free_port();
        // `cargo-lambda lambda …` is what `cargo lambda …` runs; calling it directly keeps the
        // PID we hold the emulator's own, so dropping kills the right process.
        let mut command = Command::new("cargo-lambda");
        command
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                // The function answers OPTIONS itself, as on the other doors.
                "--disable-cors",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()]);
        let mut emulator = Process::start("cargo-lambda", &mut command).unwrap_or_else(|e| {
            panic!("cannot start cargo-lambda ({e}); install it with `pip install cargo-lambda`")
        });
        if let Err(why) = emulator.wait_listening(port).await {
            panic!("{why}; its log:\n{}", emulator.log());
        }
        let mut command = super::command(binary);
        command
            .env_clear()
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt/{FUNCTION}"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .envs(env.iter().copied());
        let function = Process::start("lambda", &mut command)
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        Emulator {
            function,
            emulator,
            port,
        }
    }

    /// The function process's id: the bootstrap's, not the emulator's, e.g. to freeze it between
    /// invocations as Lambda does.
    pub fn function_pid(&self) -> u32 {
        self.function.pid()
    }

    /// The function process.
    pub fn function(&mut self) -> &mut Process {
        &mut self.function
    }

    /// Whether the function process is still the one started, alive.
    pub fn function_is_running(&mut self) -> bool {
        self.function.is_running()
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn function_log(&self) -> String {
        self.function.log()
    }

    /// The function URL, as the emulator maps it.
    pub fn function_url(&self) -> String {
        format!("http://127.0.0.1:{}/lambda-url/{FUNCTION}/", self.port)
    }

    /// `cargo lambda invoke wx-stats-lambda --data-file FILE`: the function result as JSON.
    pub fn invoke(&self, data_file: &str) -> serde_json::Value {
        let output: Output = Command::new("cargo-lambda")
            .args([
                "lambda",
                "invoke",
                FUNCTION,
                "--data-file",
                data_file,
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &self.port.to_string()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "cargo lambda invoke {data_file}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }
}
