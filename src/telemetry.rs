//! Logging. `RUST_LOG` picks the level. The CLI and Kubeless log text to stderr, or JSON lines
//! when `LOG_FORMAT=json`; Knative always logs JSON lines to stdout, where its log collectors
//! look, each carrying the fields of the span it was written in (`K_SERVICE`, …).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// Text (or JSON with `LOG_FORMAT=json`) on stderr. `default_level` applies when `RUST_LOG` is unset.
pub fn init(default_level: &str) {
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    install(default_level, json, BoxMakeWriter::new(std::io::stderr));
}

/// JSON lines on stdout.
pub fn init_json_stdout(default_level: &str) {
    install(default_level, true, BoxMakeWriter::new(std::io::stdout));
}

fn install(default_level: &str, json: bool, writer: BoxMakeWriter) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Text goes to stderr. Colour it only for a person at a terminal: `kubectl logs` and
        // log files would show the escape codes.
        .with_ansi(!json && std::io::stderr().is_terminal())
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
