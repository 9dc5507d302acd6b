//! Logging. `RUST_LOG` picks the level. The CLI and Kubeless log text to stderr, or JSON lines
//! when `LOG_FORMAT=json`; Knative always logs JSON lines to stdout, where its log collectors
//! look, each carrying the fields of the span it was written in (`K_SERVICE`, …). Lambda logs to
//! stdout in the format and at the level its advanced logging controls ask for.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

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
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let level =
        LevelFilter::from_str(level.as_deref().unwrap_or("info")).unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    install(filter, json, false, stdout());
}

/// `RUST_LOG`, or `default_level` when it is unset or unreadable.
fn level_filter(default_level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level))
}

fn stderr() -> BoxMakeWriter {
    BoxMakeWriter::new(std::io::stderr)
}

fn stdout() -> BoxMakeWriter {
    BoxMakeWriter::new(std::io::stdout)
}

/// `colour`: ANSI colours, only for a person at a terminal; `kubectl logs`, log files and
/// CloudWatch would show the escape codes.
fn install(filter: EnvFilter, json: bool, colour: bool, writer: BoxMakeWriter) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer);
    // A second init (e.g. in tests) is harmless, so its error is ignored.
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}
