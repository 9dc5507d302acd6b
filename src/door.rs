//! What each door reads from its platform's environment, with the platform's defaults.
//! Pure, like [`crate::config`]: values come through a lookup function.

use std::process::ExitCode;
use std::time::Duration;

use crate::app::ServiceIdentity;
use crate::config::parse_duration;
use crate::error::Error;
use crate::es::EsClient;
use crate::serve::startup_failed;

/// A platform's own variables, read through a lookup function.
pub trait PlatformEnv: Sized {
    /// Reads the variables; a bad one is an [`Error::Config`] naming it.
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error>;
}

/// What every HTTP door does first: read its platform's variables and build the Elasticsearch
/// client from the environment. A bad variable is reported and becomes exit code 2.
pub fn from_env<P: PlatformEnv>() -> Result<(P, EsClient), ExitCode> {
    let lookup = |name: &str| std::env::var(name).ok();
    P::from_lookup(&lookup)
        .and_then(|platform| Ok((platform, EsClient::from_lookup(lookup)?)))
        .map_err(|error| startup_failed(&error))
}

/// How long a door drains in-flight requests after SIGTERM, unless `SHUTDOWN_GRACE` says otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

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
        })
    }
}

/// The Knative Serving runtime contract's variables.
#[derive(Clone, Debug, PartialEq)]
pub struct KnativeEnv {
    /// `PORT`: where to listen.
    pub port: u16,
    /// `SHUTDOWN_GRACE`: how long to drain after SIGTERM.
    pub grace: Duration,
    /// `K_SERVICE`, `K_REVISION` and `K_CONFIGURATION`, when set: they label every log line.
    pub identity: ServiceIdentity,
}

impl PlatformEnv for KnativeEnv {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let text = |name: &str| lookup(name).filter(|v| !v.is_empty());
        Ok(KnativeEnv {
            port: port(lookup, "PORT")?,
            grace: duration(lookup, "SHUTDOWN_GRACE", DEFAULT_SHUTDOWN_GRACE)?,
            identity: ServiceIdentity {
                service: text("K_SERVICE"),
                revision: text("K_REVISION"),
                configuration: text("K_CONFIGURATION"),
            },
        })
    }
}

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
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn failing_variable<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
        match result {
            Err(Error::Config { variable, .. }) => variable,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn kubeless_defaults() {
        let env = KubelessEnv::from_lookup(&lookup(&[])).unwrap();
        assert_eq!(
            (env.port, env.timeout, env.grace),
            (8080, Duration::from_secs(180), Duration::from_secs(30))
        );
        assert_eq!(
            (
                env.handler.as_str(),
                env.runtime.as_str(),
                env.memory_limit.as_str()
            ),
            ("handler", "custom", "0")
        );
    }

    #[test]
    fn kubeless_values_and_bad_values() {
        let env = KubelessEnv::from_lookup(&lookup(&[
            ("FUNC_PORT", "18080"),
            ("FUNC_TIMEOUT", "30"),
            ("FUNC_HANDLER", "wx.handler"),
        ]))
        .unwrap();
        assert_eq!(
            (env.port, env.timeout, env.handler.as_str()),
            (18080, Duration::from_secs(30), "wx.handler")
        );
        for bad in ["0", "65536", "http", "-1"] {
            assert_eq!(
                failing_variable(KubelessEnv::from_lookup(&lookup(&[("FUNC_PORT", bad)]))),
                "FUNC_PORT"
            );
        }
        for bad in ["0", "soon", "-5"] {
            assert_eq!(
                failing_variable(KubelessEnv::from_lookup(&lookup(&[("FUNC_TIMEOUT", bad)]))),
                "FUNC_TIMEOUT"
            );
        }
    }

    #[test]
    fn knative_values() {
        let env = KnativeEnv::from_lookup(&lookup(&[
            ("PORT", "18081"),
            ("K_SERVICE", "wx"),
            ("SHUTDOWN_GRACE", "5s"),
        ]))
        .unwrap();
        assert_eq!(
            (
                env.port,
                env.grace,
                env.identity.service.as_deref(),
                env.identity.revision
            ),
            (18081, Duration::from_secs(5), Some("wx"), None)
        );
        assert_eq!(
            failing_variable(KnativeEnv::from_lookup(&lookup(&[("PORT", "x")]))),
            "PORT"
        );
        assert_eq!(
            failing_variable(KnativeEnv::from_lookup(&lookup(&[("SHUTDOWN_GRACE", "x")]))),
            "SHUTDOWN_GRACE"
        );
    }
}
