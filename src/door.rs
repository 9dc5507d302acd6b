//! The doors' side of start-up and lifecycle, for every door including Lambda: which platform a
//! process serves, each platform's variables, reporting a bad one, and serving HTTP until the
//! platform says stop.
//!
//! An HTTP door is its settings ([`HttpDoor`], read from its platform's variables by
//! `kubeless::door` or `knative::door`) served by one starter. A new HTTP door is a function
//! that reads its settings, a one-line `serve_` function for its binary, and one [`Platform`]
//! arm.

mod knative;
mod kubeless;
pub mod lambda;
pub mod telemetry;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::Instrument;

use crate::config::{Env, parse_duration};
use crate::error::Error;
use crate::http::app::{AppState, router};
use crate::http::identity::CallSettings;
use crate::http::serve::serve;
use crate::http::shed::{DEFAULT_MAX_IN_FLIGHT, MAX_IN_FLIGHT_LIMIT};
use crate::stats::Stats;
use telemetry::{DEFAULT_PROPAGATORS, Logs, Telemetry};

/// The platform a process serves, as the one image's entry point (`wx-stats-serve`) tells it
/// from the variables each platform sets; each binary names its own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Platform {
    /// `AWS_LAMBDA_RUNTIME_API` is set: Lambda's runtime API, as for a Lambda container image.
    Lambda,
    /// `K_SERVICE` is set: Knative Serving, or Cloud Run, which sets it too.
    Knative,
    /// `FUNC_HANDLER` or `FUNC_PORT` is set: a Kubeless function's runtime container.
    Kubeless,
    /// None of them: plain HTTP on `PORT` (8080 by default), as the Knative door serves it.
    Http,
}

impl Platform {
    /// The platform the variables name, checked in the order above: Lambda first, as nothing
    /// but Lambda's runtime sets its variable.
    pub fn of(env: &Env) -> Platform {
        if env.is_set("AWS_LAMBDA_RUNTIME_API") {
            Platform::Lambda
        } else if env.is_set("K_SERVICE") {
            Platform::Knative
        } else if env.is_set("FUNC_HANDLER") || env.is_set("FUNC_PORT") {
            Platform::Kubeless
        } else {
            Platform::Http
        }
    }

    /// Serves this platform's door until the platform stops it: the one image's entry point,
    /// which holds every door. Each door's own binary calls its door's function instead, so
    /// that it holds only its own code (tests/bench/RESULTS.md keeps the binaries' sizes).
    pub async fn serve(self) -> ExitCode {
        match self {
            Platform::Lambda => serve_lambda().await,
            Platform::Knative => serve_knative().await,
            Platform::Http => serve_plain_http().await,
            Platform::Kubeless => serve_kubeless().await,
        }
    }
}

/// Serves the Lambda door until the runtime stops it: `wx-stats-lambda`.
pub async fn serve_lambda() -> ExitCode {
    lambda::main().await
}

/// Serves the Knative door until SIGTERM: `wx-stats-knative`.
pub async fn serve_knative() -> ExitCode {
    serve_http(Logs::JsonStdout, knative::door, knative::resource).await
}

/// Serves plain HTTP on `PORT`, as the Knative door does, logged as itself.
pub async fn serve_plain_http() -> ExitCode {
    serve_http(Logs::JsonStdout, knative::plain_http, |_| Vec::new()).await
}

/// Serves the Kubeless door until SIGTERM: `wx-stats-kubeless`.
pub async fn serve_kubeless() -> ExitCode {
    serve_http(Logs::Text("info"), kubeless::door, kubeless::resource).await
}

/// What an HTTP door serves with, as its platform's variables say.
#[derive(Clone, Debug)]
pub struct HttpDoor {
    /// The door's name in its start-up line.
    pub name: &'static str,
    /// Where to listen, on every address.
    pub port: u16,
    /// How long to drain after SIGTERM (`SHUTDOWN_GRACE`).
    pub grace: Duration,
    /// Function calls in progress at once (`MAX_IN_FLIGHT`); more are answered 503.
    pub max_in_flight: usize,
    /// The platform's limit on one call, answered 408 when it is reached; `None`, no limit.
    pub function_timeout: Option<Duration>,
    /// The span every line logged while serving is written in: the service's name, if any.
    pub span: tracing::Span,
    /// The `ce-source` of reply events.
    pub event_source: String,
    /// What else the platform says of the function, for the start-up line only; empty, none.
    pub details: String,
}

impl HttpDoor {
    /// A door named `name` on `port`, with the defaults every platform shares and the
    /// variables they share read from `env`.
    fn new(name: &'static str, port_variable: &'static str, env: &Env) -> Result<Self, Error> {
        Ok(HttpDoor {
            name,
            port: port(env, port_variable)?,
            grace: duration(env, "SHUTDOWN_GRACE")?.unwrap_or(DEFAULT_SHUTDOWN_GRACE),
            max_in_flight: calls(env, "MAX_IN_FLIGHT")?.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            function_timeout: None,
            span: tracing::Span::none(),
            event_source: "/wx-stats".to_string(),
            details: String::new(),
        })
    }
}

/// Starts the HTTP door that `read` reads from the process's variables, logging as `logs`
/// says, with `resource` (where it runs, from the same variables) in its telemetry: binds
/// `0.0.0.0:port`, as Kubeless and Knative expect, serves the Router until SIGTERM or SIGINT,
/// drains for at most the door's grace, and turns the outcome into an exit code.
async fn serve_http(
    logs: Logs,
    read: fn(&Env) -> Result<HttpDoor, Error>,
    resource: fn(&Env) -> Vec<(String, String)>,
) -> ExitCode {
    let env = Env::process();
    let resource = resource(&env);
    let (door, stats, telemetry) = match start(&env, logs, resource, DEFAULT_PROPAGATORS, read) {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    let span = door.span.clone();
    span.in_scope(|| {
        tracing::info!(
            program = %program(),
            port = door.port,
            max_in_flight = door.max_in_flight,
            function_timeout_seconds = door.function_timeout.map(|t| t.as_secs_f64()),
            details = (!door.details.is_empty()).then_some(door.details.as_str()),
            elasticsearch = %stats.es().host(),
            "{} door starting", door.name
        )
    });
    let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, door.port));
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(error) => {
            let _in_span = span.enter();
            tracing::error!(port = door.port, %error, "cannot listen");
            eprintln!(
                "{}: cannot listen on port {}: {error}",
                program(),
                door.port
            );
            return ExitCode::FAILURE;
        }
    };
    let state = AppState {
        call: Arc::new(CallSettings {
            function_timeout: door.function_timeout,
            span: span.clone(),
        }),
        event_source: door.event_source,
        max_in_flight: door.max_in_flight,
        ..AppState::new(stats)
    };
    let serving = async move {
        let address = listener.local_addr().map(|a| a.to_string());
        tracing::info!(address = %address.unwrap_or_default(), "listening");
        let router = router(Arc::new(state));
        serve(
            listener,
            router,
            door.max_in_flight,
            shutdown_signal(),
            door.grace,
        )
        .await;
        telemetry.shutdown().await;
        tracing::info!("stopped");
    };
    serving.instrument(span).await;
    ExitCode::SUCCESS
}

/// What every door does first: install its logging and telemetry (`logs`; `resource` is where
/// it runs, `propagators` its default `OTEL_PROPAGATORS`), read its platform's settings and
/// build the [`Stats`] from `env`. A bad variable is reported and becomes exit code 2.
fn start<T>(
    env: &Env,
    logs: Logs,
    resource: Vec<(String, String)>,
    propagators: &str,
    read: impl FnOnce(&Env) -> Result<T, Error>,
) -> Result<(T, Stats, Telemetry), ExitCode> {
    telemetry::start(logs, env, resource, propagators)
        .and_then(|telemetry| Ok((read(env)?, Stats::from_env(env)?, telemetry)))
        .map_err(|error| startup_failed(&error))
}

/// Reports a configuration error naming its variable, and exits 2 as a usage error does.
pub fn startup_failed(error: &Error) -> ExitCode {
    tracing::error!(%error, "cannot start");
    eprintln!("{}: {error}", program());
    ExitCode::from(2)
}

/// This binary's name, for messages.
pub fn program() -> String {
    std::env::args()
        .next()
        .and_then(|path| {
            std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "wx-stats".to_string())
}

/// Resolves on SIGTERM (how Kubernetes stops a pod) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without signal handlers the process can only be killed; never shut down on our own.
        _ => std::future::pending().await,
    }
}

/// How long a door drains in-flight requests after SIGTERM, unless `SHUTDOWN_GRACE` says otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A port variable; both platforms default to 8080, and 0 asks the system for a free port.
fn port(env: &Env, variable: &'static str) -> Result<u16, Error> {
    let port = env.parse(variable, |text| {
        text.parse::<u16>()
            .map_err(|_| format!("{text:?} is not a port number (0-65535)"))
    })?;
    Ok(port.unwrap_or(8080))
}

/// A number of calls, from 1 to [`MAX_IN_FLIGHT_LIMIT`]; `None` when unset.
fn calls(env: &Env, variable: &'static str) -> Result<Option<usize>, Error> {
    env.parse(variable, |text| {
        text.parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_IN_FLIGHT_LIMIT).contains(n))
            .ok_or_else(|| {
                format!("{text:?} is not a number of calls from 1 to {MAX_IN_FLIGHT_LIMIT}")
            })
    })
}

/// A duration variable, as [`parse_duration`] reads it; `None` when unset.
fn duration(env: &Env, variable: &'static str) -> Result<Option<Duration>, Error> {
    env.parse(variable, parse_duration)
}

#[cfg(test)]
mod tests;
