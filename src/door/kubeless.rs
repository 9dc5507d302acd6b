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

/// Where the function runs, for its traces' Resource. Kubeless gives a function's name to its
/// Deployment, not to its container, so it is read from the pod's name (`HOSTNAME`), which is
/// the Deployment's name with two generated parts added: `wx-stats-7d9c5b8f6-x2x8q`.
pub(super) fn resource(env: &Env) -> Vec<(String, String)> {
    let pod = env.get("HOSTNAME");
    let function = pod
        .as_deref()
        .and_then(|pod| pod.rsplitn(3, '-').nth(2))
        .map(str::to_string)
        .or_else(|| env.get("MOD_NAME"))
        .unwrap_or_else(|| "wx-stats".to_string());
    let mut attributes = vec![
        ("service.name".to_string(), function.clone()),
        ("faas.name".to_string(), function),
    ];
    if let Some(pod) = pod {
        attributes.push(("faas.instance".into(), pod.clone()));
        attributes.push(("k8s.pod.name".into(), pod));
    }
    attributes
}
