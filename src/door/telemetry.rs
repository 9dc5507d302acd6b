//! Logging. `RUST_LOG` picks the level. The CLI and Kubeless log text to stderr, or JSON lines
//! when `LOG_FORMAT=json`; Knative always logs JSON lines to stdout, where its log collectors
//! look, each carrying the fields of the span it was written in (`K_SERVICE`, …). Lambda logs to
//! stdout in the format and at the level its advanced logging controls ask for.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Env;

/// Where and how a process logs.
#[derive(Clone, Copy, Debug)]
pub enum Logs {
    /// Text on stderr, or JSON lines with `LOG_FORMAT=json`, at `RUST_LOG`, else at this level.
    Text(&'static str),
    /// JSON lines on stdout, at `RUST_LOG`, else at info.
    JsonStdout,
    /// Lambda's logging controls: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise,
    /// at `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO), on stdout. This is what
    /// `lambda_http::tracing::init_default_subscriber` does, without the colour codes it
    /// writes, which CloudWatch shows as they are.
    Lambda,
}

/// Installs the logging `logs` names, as the variables in `env` adjust it.
pub fn init(logs: Logs, env: &Env) {
    let says_json = |variable: &str| {
        env.get(variable)
            .is_some_and(|f| f.eq_ignore_ascii_case("json"))
    };
    match logs {
        Logs::Text(default_level) => {
            let json = says_json("LOG_FORMAT");
            let colour = !json && std::io::stderr().is_terminal();
            install(level_filter(env, default_level), json, colour, stderr());
        }
        Logs::JsonStdout => install(level_filter(env, "info"), true, false, stdout()),
        Logs::Lambda => {
            let level = env
                .get("AWS_LAMBDA_LOG_LEVEL")
                .map(|level| level.to_lowercase());
            let filter = match level.as_deref().map(LevelFilter::from_str) {
                Some(Ok(level)) => Targets::new().with_default(level),
                _ => level_filter(env, "info"),
            };
            install(filter, says_json("AWS_LAMBDA_LOG_FORMAT"), false, stdout());
        }
    }
}

/// `RUST_LOG` as `target=level` directives (e.g. `info,wx_stats=debug`), or `default_level`
/// when it is unset or unreadable. Plain targets, not `EnvFilter`'s span and field filters,
/// keep a regex engine out of every binary.
fn level_filter(env: &Env, default_level: &str) -> Targets {
    env.get("RUST_LOG")
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| default_level.parse().unwrap_or_default())
}

fn stderr() -> BoxMakeWriter {
    BoxMakeWriter::new(std::io::stderr)
}

fn stdout() -> BoxMakeWriter {
    BoxMakeWriter::new(std::io::stdout)
}

/// `colour`: ANSI colours, only for a person at a terminal; `kubectl logs`, log files and
/// CloudWatch would show the escape codes.
fn install(filter: Targets, json: bool, colour: bool, writer: BoxMakeWriter) {
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(writer);
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (e.g. in tests) is harmless, so its error is ignored.
    let _ = if json {
        let layer = layer.json().with_current_span(true).with_span_list(true);
        registry.with(layer).try_init()
    } else {
        registry.with(layer).try_init()
    };
}
