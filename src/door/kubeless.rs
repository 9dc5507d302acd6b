//! The Kubeless door: a custom runtime image serving HTTP on `FUNC_PORT`, as Kubeless's runtime
//! contract asks, with the function's timeout from `FUNC_TIMEOUT`. Custom images often lack
//! some of the contract's variables, so all of them default.

use std::time::Duration;

use super::{HttpDoor, duration};
use crate::config::Env;
use crate::error::Error;

/// The Kubeless function's timeout when `FUNC_TIMEOUT` is unset: Kubeless's own default.
pub(super) const DEFAULT_FUNC_TIMEOUT: Duration = Duration::from_secs(180);

/// The Kubeless door's settings: `FUNC_PORT`, `FUNC_TIMEOUT` (a call running longer is
/// answered 408), and the handler, module, runtime and memory limit, which are only logged.
pub(super) fn door(env: &Env) -> Result<HttpDoor, Error> {
    let details = [
        ("FUNC_HANDLER", "handler"),
        ("MOD_NAME", "wx-stats"),
        ("FUNC_RUNTIME", "custom"),
        ("FUNC_MEMORY_LIMIT", "0"),
    ]
    .map(|(variable, default)| format!("{variable}={}", env.get_or(variable, default)));
    Ok(HttpDoor {
        function_timeout: Some(duration(env, "FUNC_TIMEOUT")?.unwrap_or(DEFAULT_FUNC_TIMEOUT)),
        details: details.join(" "),
        ..HttpDoor::new("kubeless", "FUNC_PORT", env)?
    })
}
