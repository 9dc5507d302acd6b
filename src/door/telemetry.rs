//! Logging, and traces and metrics over OTLP when the `OTEL_*` variables ask for them
//! (`telemetry/otel.rs`). `RUST_LOG` picks the level. The CLI and Kubeless log text to stderr, or
//! JSON lines when `LOG_FORMAT=json`; Knative always logs JSON lines to stdout, where its log
//! collectors look, each carrying the fields of the span it was written in (`K_SERVICE`, …). Lambda
//! logs to stdout in the format and at the level its advanced logging controls ask for.

mod otel;

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets, filter_fn};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::config::Env;
use crate::error::Error;
use crate::http::identity::CALL_LOG;
use opentelemetry_sdk::trace::SdkTracerProvider;
pub(crate) use otel::{DEFAULT_PROPAGATORS, LAMBDA_PROPAGATORS};
use otel::{Otel, OtelSettings};

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

/// What a process exports, kept to flush it (Lambda, after each invocation) and to send the
/// last of it when the platform stops the process. Empty when nothing is exported.
#[derive(Clone, Debug, Default)]
pub struct Telemetry {
    otel: Option<Otel>,
}

impl Telemetry {
    /// Sends the spans and metrics waiting, and waits until they have left or failed.
    pub async fn flush(&self) {
        if let Some(otel) = &self.otel {
            otel.flush().await;
        }
    }

    /// The last flush, at SIGTERM.
    pub async fn shutdown(&self) {
        if let Some(otel) = &self.otel {
            otel.shutdown().await;
        }
    }

    /// Whether anything is exported.
    pub fn is_on(&self) -> bool {
        self.otel.is_some()
    }
}

/// Installs the logging `logs` names, as the variables in `env` adjust it: the command line's,
/// which exports nothing.
pub fn init(logs: Logs, env: &Env) {
    install_logs(logs, env, None);
}

/// A door's [`init`], with the OTLP exporters the `OTEL_*` variables ask for, `platform`'s
/// attributes in their Resource and `propagators` as `OTEL_PROPAGATORS`' default. A bad
/// `OTEL_*` variable is an error, and logging is installed without them, to report it.
pub(crate) fn start(
    logs: Logs,
    env: &Env,
    platform: Vec<(String, String)>,
    propagators: &str,
) -> Result<Telemetry, Error> {
    let started = OtelSettings::read(env, platform, propagators)
        .and_then(|settings| settings.as_ref().map(Otel::start).transpose());
    let (otel, failed) = match started {
        Ok(otel) => (otel, None),
        Err(error) => (None, Some(error)),
    };
    let exported = otel.as_ref().and_then(|otel| otel.tracer.clone());
    install_logs(logs, env, exported);
    match failed {
        Some(error) => Err(error),
        None => Ok(Telemetry { otel }),
    }
}

/// Installs the logging `logs` names, and the layer that exports spans through `exported`.
fn install_logs(logs: Logs, env: &Env, exported: Option<SdkTracerProvider>) {
    let says_json = |variable: &str| {
        env.get(variable)
            .is_some_and(|f| f.eq_ignore_ascii_case("json"))
    };
    match logs {
        Logs::Text(default_level) => {
            let json = says_json("LOG_FORMAT");
            let colour = !json && std::io::stderr().is_terminal();
            let filter = level_filter(env, default_level);
            install(filter, json, colour, stderr(), exported);
        }
        Logs::JsonStdout => install(level_filter(env, "info"), true, false, stdout(), exported),
        Logs::Lambda => {
            let level = env
                .get("AWS_LAMBDA_LOG_LEVEL")
                .map(|level| level.to_lowercase());
            let filter = match level.as_deref().map(LevelFilter::from_str) {
                Some(Ok(level)) => Targets::new().with_default(level),
                _ => level_filter(env, "info"),
            };
            let json = says_json("AWS_LAMBDA_LOG_FORMAT");
            install(filter, json, false, stdout(), exported);
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
/// CloudWatch would show the escape codes. A second init (e.g. in tests) is harmless, so its
/// error is ignored.
///
/// Nothing exported, one filter serves the whole subscriber, the cheapest way to log: a
/// callsite the level turns off costs nothing after its first call. Spans exported, each layer
/// has its own filter, so that the log's level does not decide what is exported; that costs
/// every span and event some bookkeeping, paid only then.
fn install(
    filter: Targets,
    json: bool,
    colour: bool,
    writer: BoxMakeWriter,
    exported: Option<SdkTracerProvider>,
) {
    let Some(provider) = exported else {
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(colour)
            .with_writer(writer);
        let registry = tracing_subscriber::registry().with(filter);
        let _ = if json {
            let layer = layer.json().with_current_span(true).with_span_list(true);
            registry.with(layer).try_init()
        } else {
            registry.with(layer).try_init()
        };
        return;
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(writer);
    let logs: Box<dyn Layer<Registry> + Send + Sync> = if json {
        let layer = layer.json().with_current_span(true).with_span_list(true);
        Box::new(layer.with_filter(filter))
    } else {
        Box::new(layer.with_filter(filter))
    };
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "wx-stats");
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false)
        // Every callsite of the call's target, its `call` line too: `tracing::enabled!` asks
        // about that line before the call's span is made, and a layer that refused it would
        // be left, by tracing-subscriber's per-layer filters, refusing the span.
        .with_filter(filter_fn(|metadata| {
            let target = metadata.target();
            target == CALL_LOG || (metadata.is_span() && target == crate::otel::SEARCH_SPANS)
        }));
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init();
}
