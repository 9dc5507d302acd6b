//! The Kubeless door: a custom runtime image serving HTTP on `FUNC_PORT`, as Kubeless's runtime
//! contract asks, with the function's timeout from `FUNC_TIMEOUT`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::{
    DEFAULT_SHUTDOWN_GRACE, PlatformEnv, calls, duration, from_env, port, serve_http, telemetry,
};
use crate::error::Error;
use crate::http::app::AppState;
use crate::http::identity::CallSettings;
use crate::http::shed::DEFAULT_MAX_IN_FLIGHT;

/// Serves the Kubeless door until SIGTERM: `wx-stats-kubeless`, or the one image's entry point
/// when `FUNC_HANDLER` or `FUNC_PORT` is set.
pub async fn main() -> ExitCode {
    telemetry::init("info");
    let (kubeless, stats) = match from_env::<KubelessEnv>() {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    tracing::info!(
        program = %super::program(),
        port = kubeless.port,
        timeout_seconds = kubeless.timeout.as_secs_f64(),
        handler = %kubeless.handler,
        module = %kubeless.module,
        runtime = %kubeless.runtime,
        memory_limit = %kubeless.memory_limit,
        max_in_flight = kubeless.max_in_flight,
        elasticsearch = %stats.es().host(),
        "kubeless door starting"
    );
    let call = CallSettings {
        function_timeout: Some(kubeless.timeout),
        span: tracing::Span::none(),
    };
    let state = AppState {
        call: Arc::new(call),
        max_in_flight: kubeless.max_in_flight,
        ..AppState::new(stats)
    };
    serve_http(kubeless.port, state, kubeless.grace).await
}

/// The Kubeless runtime contract's variables. Custom images often lack some, so all default.
#[derive(Clone, Debug, PartialEq)]
pub struct KubelessEnv {
    /// `FUNC_PORT`: where to listen.
    pub port: u16,
    /// `FUNC_TIMEOUT`: a call running longer is answered 408.
    pub timeout: Duration,
    /// `FUNC_HANDLER`: the handler name, logged only.
    pub handler: String,
    /// `MOD_NAME`: the module name, logged only.
    pub module: String,
    /// `FUNC_RUNTIME`: the runtime name, logged only.
    pub runtime: String,
    /// `FUNC_MEMORY_LIMIT`: the memory limit, logged only.
    pub memory_limit: String,
    /// `SHUTDOWN_GRACE`: how long to drain after SIGTERM.
    pub grace: Duration,
    /// `MAX_IN_FLIGHT`: function calls in progress at once; more are answered 503.
    pub max_in_flight: usize,
}

impl PlatformEnv for KubelessEnv {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let text = |name: &str, default: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Ok(KubelessEnv {
            port: port(lookup, "FUNC_PORT")?,
            timeout: duration(lookup, "FUNC_TIMEOUT", Duration::from_secs(180))?,
            handler: text("FUNC_HANDLER", "handler"),
            module: text("MOD_NAME", "wx-stats"),
            runtime: text("FUNC_RUNTIME", "custom"),
            memory_limit: text("FUNC_MEMORY_LIMIT", "0"),
            grace: duration(lookup, "SHUTDOWN_GRACE", DEFAULT_SHUTDOWN_GRACE)?,
            max_in_flight: calls(lookup, "MAX_IN_FLIGHT")?.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        })
    }
}
