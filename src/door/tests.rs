//! Each platform's variables: defaults, values, and a bad value named.
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
