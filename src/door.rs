//! The doors' side of start-up and lifecycle, for every door including Lambda: each platform's
//! variables with its defaults, building the [`Stats`] from the environment, reporting a bad
//! variable, and serving HTTP until the platform says stop.
//!
//! Pure where it can be, like [`crate::config`]: variables come through a lookup function.

pub mod knative;
pub mod kubeless;
pub mod lambda;
pub mod telemetry;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::parse_duration;
use crate::error::Error;
use crate::http::app::{AppState, router};
use crate::http::serve::serve;
use crate::http::shed::MAX_IN_FLIGHT_LIMIT;
use crate::stats::Stats;

pub use knative::KnativeEnv;
pub use kubeless::KubelessEnv;
pub use lambda::LambdaEnv;

/// The platform a process serves, as the one image's entry point (`wx-stats-serve`) tells it
/// from the variables each platform sets.
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
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Platform {
        let set = |name: &str| lookup(name).is_some_and(|value| !value.is_empty());
        if set("AWS_LAMBDA_RUNTIME_API") {
            Platform::Lambda
        } else if set("K_SERVICE") {
            Platform::Knative
        } else if set("FUNC_HANDLER") || set("FUNC_PORT") {
            Platform::Kubeless
        } else {
            Platform::Http
        }
    }

    /// Serves this platform's door until the platform stops it.
    pub async fn serve(self) -> ExitCode {
        match self {
            Platform::Lambda => lambda::main().await,
            Platform::Knative => knative::main().await,
            Platform::Http => knative::main_plain_http().await,
            Platform::Kubeless => kubeless::main().await,
        }
    }
}

/// A platform's own variables, read through a lookup function.
pub trait PlatformEnv: Sized {
    /// Reads the variables; a bad one is an [`Error::Config`] naming it.
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error>;
}

/// What every door does first: read its platform's variables and build the [`Stats`] from the
/// environment. A bad variable is reported and becomes exit code 2.
pub fn from_env<P: PlatformEnv>() -> Result<(P, Stats), ExitCode> {
    let lookup = |name: &str| std::env::var(name).ok();
    P::from_lookup(&lookup)
        .and_then(|platform| Ok((platform, Stats::from_lookup(lookup)?)))
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

/// Binds `0.0.0.0:port`, as Kubeless and Knative expect, serves the Router on `state` until
/// SIGTERM or SIGINT, drains for at most `grace`, and turns the outcome into an exit code.
pub async fn serve_http(port: u16, state: AppState, grace: Duration) -> ExitCode {
    let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(port, %error, "cannot listen");
            eprintln!("{}: cannot listen on port {port}: {error}", program());
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "listening");
    let max_in_flight = state.max_in_flight;
    let router = router(Arc::new(state));
    serve(listener, router, max_in_flight, shutdown_signal(), grace).await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
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

/// The platform's name for this service (Knative's `K_SERVICE`, `K_REVISION`, `K_CONFIGURATION`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceIdentity {
    /// `K_SERVICE`.
    pub service: Option<String>,
    /// `K_REVISION`.
    pub revision: Option<String>,
    /// `K_CONFIGURATION`.
    pub configuration: Option<String>,
}

impl ServiceIdentity {
    /// A span whose fields label every log line inside it.
    pub fn span(&self) -> tracing::Span {
        let span = tracing::info_span!(
            "service",
            K_SERVICE = tracing::field::Empty,
            K_REVISION = tracing::field::Empty,
            K_CONFIGURATION = tracing::field::Empty
        );
        for (field, value) in [
            ("K_SERVICE", &self.service),
            ("K_REVISION", &self.revision),
            ("K_CONFIGURATION", &self.configuration),
        ] {
            if let Some(value) = value {
                span.record(field, value.as_str());
            }
        }
        span
    }

    /// The `ce-source` of reply events: the service's name.
    pub fn event_source(&self) -> String {
        format!("/{}", self.service.as_deref().unwrap_or("wx-stats"))
    }
}

/// How long a door drains in-flight requests after SIGTERM, unless `SHUTDOWN_GRACE` says otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A port variable; both platforms default to 8080.
fn port(lookup: &dyn Fn(&str) -> Option<String>, variable: &'static str) -> Result<u16, Error> {
    match lookup(variable).filter(|v| !v.is_empty()) {
        None => Ok(8080),
        Some(text) => text
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or(Error::Config {
                variable,
                reason: format!("{text:?} is not a port number (1-65535)"),
            }),
    }
}

/// A number of calls, from 1 to [`MAX_IN_FLIGHT_LIMIT`]; `None` when unset.
fn calls(
    lookup: &dyn Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<usize>, Error> {
    match lookup(variable).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_IN_FLIGHT_LIMIT).contains(n))
            .map(Some)
            .ok_or(Error::Config {
                variable,
                reason: format!(
                    "{text:?} is not a number of calls from 1 to {MAX_IN_FLIGHT_LIMIT}"
                ),
            }),
    }
}

fn duration(
    lookup: &dyn Fn(&str) -> Option<String>,
    variable: &'static str,
    default: Duration,
) -> Result<Duration, Error> {
    match lookup(variable).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(text) => parse_duration(variable, &text),
    }
}

#[cfg(test)]
mod tests;
