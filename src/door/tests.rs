//! Each platform's variables: defaults, values, and a bad value named.
use std::collections::HashMap;

use super::*;
use crate::http::shed::DEFAULT_MAX_IN_FLIGHT;
use lambda::LambdaEnv;

fn lookup(vars: &[(&str, &str)]) -> Env<'static> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Env::new(move |k| map.get(k).cloned())
}

fn failing_variable<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    match result {
        Err(Error::Config { variable, .. }) => variable,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn kubeless_defaults() {
    let env = kubeless::door(&lookup(&[])).unwrap();
    assert_eq!(
        (env.port, env.function_timeout, env.grace),
        (
            8080,
            Some(Duration::from_secs(180)),
            Duration::from_secs(30)
        )
    );
    assert_eq!(
        env.details,
        "FUNC_HANDLER=handler MOD_NAME=wx-stats FUNC_RUNTIME=custom FUNC_MEMORY_LIMIT=0"
    );
}

#[test]
fn kubeless_values_and_bad_values() {
    let env = kubeless::door(&lookup(&[
        ("FUNC_PORT", "18080"),
        ("FUNC_TIMEOUT", "30"),
        ("FUNC_HANDLER", "wx.handler"),
    ]))
    .unwrap();
    assert_eq!(
        (env.port, env.function_timeout),
        (18080, Some(Duration::from_secs(30)))
    );
    assert!(
        env.details.starts_with("FUNC_HANDLER=wx.handler "),
        "{}",
        env.details
    );
    // 0 asks the system for a free port, which the `listening` line then names.
    assert_eq!(
        kubeless::door(&lookup(&[("FUNC_PORT", "0")])).unwrap().port,
        0
    );
    for bad in ["65536", "http", "-1"] {
        assert_eq!(
            failing_variable(kubeless::door(&lookup(&[("FUNC_PORT", bad)]))),
            "FUNC_PORT"
        );
    }
    for bad in ["0", "soon", "-5"] {
        assert_eq!(
            failing_variable(kubeless::door(&lookup(&[("FUNC_TIMEOUT", bad)]))),
            "FUNC_TIMEOUT"
        );
    }
}

#[test]
fn knative_values() {
    let env = knative::door(&lookup(&[
        ("PORT", "18081"),
        ("K_SERVICE", "wx"),
        ("SHUTDOWN_GRACE", "5s"),
    ]))
    .unwrap();
    assert_eq!(
        (env.port, env.grace, env.event_source.as_str(), env.name),
        (18081, Duration::from_secs(5), "/wx", "knative")
    );
    let plain = knative::plain_http(&lookup(&[])).unwrap();
    assert_eq!(
        (plain.event_source.as_str(), plain.name),
        ("/wx-stats", "http")
    );
    assert_eq!(
        failing_variable(knative::door(&lookup(&[("PORT", "x")]))),
        "PORT"
    );
    assert_eq!(
        failing_variable(knative::door(&lookup(&[("SHUTDOWN_GRACE", "x")]))),
        "SHUTDOWN_GRACE"
    );
}

#[test]
fn max_in_flight_defaults_values_and_bad_values() {
    let none = lookup(&[]);
    assert_eq!(
        (
            kubeless::door(&none).unwrap().max_in_flight,
            knative::door(&none).unwrap().max_in_flight,
        ),
        (DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_IN_FLIGHT)
    );
    let four = lookup(&[("MAX_IN_FLIGHT", " 4 ")]);
    assert_eq!(
        (
            kubeless::door(&four).unwrap().max_in_flight,
            knative::door(&four).unwrap().max_in_flight,
            LambdaEnv::read(&four).unwrap().max_in_flight,
        ),
        (4, 4, 4)
    );
    for bad in ["0", "-1", "4.5", "many", "1000001"] {
        let vars = [("MAX_IN_FLIGHT", bad)];
        let env = lookup(&vars);
        assert_eq!(
            [
                failing_variable(kubeless::door(&env)),
                failing_variable(knative::door(&env)),
                failing_variable(LambdaEnv::read(&env)),
            ],
            ["MAX_IN_FLIGHT"; 3],
            "{bad}"
        );
    }
}

#[test]
fn lambda_limit_follows_aws_lambda_max_concurrency_else_one() {
    let limit = |vars: &[(&str, &str)]| LambdaEnv::read(&lookup(vars)).map(|e| e.max_in_flight);
    // One invocation at a time per execution environment, as classic Lambda sends them.
    assert_eq!(limit(&[]).unwrap(), 1);
    assert_eq!(limit(&[("AWS_LAMBDA_MAX_CONCURRENCY", "")]).unwrap(), 1);
    // Lambda Managed Instances say how many invocations one environment may be sent at once.
    assert_eq!(limit(&[("AWS_LAMBDA_MAX_CONCURRENCY", "8")]).unwrap(), 8);
    // MAX_IN_FLIGHT, when set, is the operator's word and wins.
    assert_eq!(
        limit(&[("AWS_LAMBDA_MAX_CONCURRENCY", "8"), ("MAX_IN_FLIGHT", "3")]).unwrap(),
        3
    );
    assert_eq!(
        failing_variable(limit(&[("AWS_LAMBDA_MAX_CONCURRENCY", "lots")])),
        "AWS_LAMBDA_MAX_CONCURRENCY"
    );
}

#[test]
fn the_one_image_serves_the_platform_its_variables_name() {
    let platform = |vars: &[(&str, &str)]| Platform::of(&lookup(vars));
    assert_eq!(platform(&[]), Platform::Http);
    assert_eq!(platform(&[("PORT", "8080")]), Platform::Http);
    assert_eq!(platform(&[("K_SERVICE", "wx")]), Platform::Knative);
    assert_eq!(platform(&[("FUNC_HANDLER", "handler")]), Platform::Kubeless);
    assert_eq!(platform(&[("FUNC_PORT", "8080")]), Platform::Kubeless);
    // Lambda's runtime API wins: only Lambda (or its emulator) sets it.
    let lambda = [
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ("K_SERVICE", "wx"),
        ("FUNC_PORT", "8080"),
    ];
    assert_eq!(platform(&lambda), Platform::Lambda);
    // Knative before Kubeless; an empty variable names nothing.
    assert_eq!(
        platform(&[("K_SERVICE", "wx"), ("FUNC_PORT", "8080")]),
        Platform::Knative
    );
    assert_eq!(
        platform(&[("AWS_LAMBDA_RUNTIME_API", ""), ("K_SERVICE", "")]),
        Platform::Http
    );
}

#[test]
fn knative_revision_timeout_is_whole_seconds_or_no_limit() {
    let timeout =
        |vars: &[(&str, &str)]| knative::door(&lookup(vars)).map(|env| env.function_timeout);
    // Unset or empty: no limit, as before the variable was read.
    assert_eq!(timeout(&[]).unwrap(), None);
    assert_eq!(timeout(&[("REVISION_TIMEOUT_SECONDS", "")]).unwrap(), None);
    // Whole seconds, as Knative writes the revision's timeoutSeconds for its queue-proxy.
    assert_eq!(
        timeout(&[("REVISION_TIMEOUT_SECONDS", " 60 ")]).unwrap(),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        timeout(&[("REVISION_TIMEOUT_SECONDS", "86400")]).unwrap(),
        Some(Duration::from_secs(86400))
    );
    // The queue-proxy reads an integer: a unit or a fraction would mean something else to it.
    for bad in ["0", "-1", "60s", "1500ms", "1.5", "soon", "86401"] {
        assert_eq!(
            failing_variable(timeout(&[("REVISION_TIMEOUT_SECONDS", bad)])),
            "REVISION_TIMEOUT_SECONDS",
            "{bad}"
        );
    }
}
