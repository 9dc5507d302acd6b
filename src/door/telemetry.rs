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

/// Text (or JSON with `LOG_FORMAT=json`) on stderr. `default_level` applies when `RUST_LOG` is unset.
pub fn init(default_level: &str) {
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let colour = !json && std::io::stderr().is_terminal();
    install(level_filter(default_level), json, colour, stderr());
}

/// JSON lines on stdout.
pub fn init_json_stdout(default_level: &str) {
    install(level_filter(default_level), true, false, stdout());
}

/// Lambda's logging controls: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise, at
/// `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO), on stdout. This is what
/// `lambda_http::tracing::init_default_subscriber` does, without the colour codes it writes,
/// which CloudWatch shows as they are.
pub fn init_lambda() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|level| level.to_lowercase());
    let filter = match level.as_deref().map(LevelFilter::from_str) {
        Ok(Ok(level)) => Targets::new().with_default(level),
        _ => level_filter("info"),
    };
    install(filter, json, false, stdout());
}

/// `RUST_LOG` as `target=level` directives (e.g. `info,wx_stats=debug`), or `default_level`
/// when it is unset or unreadable. Plain targets, not `EnvFilter`'s span and field filters,
/// keep a regex engine out of every binary.
fn level_filter(default_level: &str) -> Targets {
    std::env::var("RUST_LOG")
        .ok()
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
