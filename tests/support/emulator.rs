//! cargo-lambda's emulator on a loopback port, with the built `wx-stats-lambda` attached to it.
//!
//! The emulator runs with `--only-lambda-apis`, so it never builds anything: the function is the
//! debug binary `cargo test` already built, started here and polling the emulator's runtime API.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use super::server::{free_port, wait_listening};

/// The function name, as in `/lambda-url/wx-stats-lambda/`.
pub const FUNCTION: &str = "wx-stats-lambda";

/// The emulator and the function. Dropping it kills both by PID.
pub struct Emulator {
    emulator: Child,
    function: Child,
    /// The port invocations go to.
    pub port: u16,
    function_log: PathBuf,
}

impl Emulator {
    /// Starts the emulator on a free port and the function with `env` (e.g. `HOST`).
    pub async fn start(env: &[(&str, &str)]) -> Emulator {
        Emulator::start_binary(env!("CARGO_BIN_EXE_wx-stats-lambda"), env).await
    }

    /// The same with another build of the Lambda door, e.g. the arm64 one (run under qemu).
    pub async fn start_binary(binary: &str, env: &[(&str, &str)]) -> Emulator {
        let port = free_port();
        // `cargo-lambda lambda …` is what `cargo lambda …` runs; calling it directly keeps the
        // PID we hold the emulator's own, so dropping kills the right process.
        let mut emulator = Command::new("cargo-lambda")
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                // The function answers OPTIONS itself, as on the other doors.
                "--disable-cors",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start cargo-lambda ({e}); install it with `pip install cargo-lambda`"
                )
            });
        if let Err(why) = wait_listening(&mut emulator, port).await {
            panic!("cargo lambda watch {why}");
        }
        let function_log = std::env::temp_dir().join(format!(
            "wx-stats-test-lambda-{}-{port}.log",
            std::process::id()
        ));
        let out = File::create(&function_log).unwrap();
        let function = super::command(binary)
            .env_clear()
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt/{FUNCTION}"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Emulator {
            emulator,
            function,
            port,
            function_log,
        }
    }

    /// The function process's id: the bootstrap's, not the emulator's, e.g. to freeze it between
    /// invocations as Lambda does.
    pub fn function_pid(&self) -> u32 {
        self.function.id()
    }

    /// Whether the function process is still the one started, alive.
    pub fn function_is_running(&mut self) -> bool {
        self.function
            .try_wait()
            .is_ok_and(|status| status.is_none())
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn function_log(&self) -> String {
        std::fs::read_to_string(&self.function_log).unwrap_or_default()
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

impl Drop for Emulator {
    fn drop(&mut self) {
        for child in [&mut self.function, &mut self.emulator] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.function_log);
    }
}
