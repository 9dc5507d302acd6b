use std::collections::HashMap;

use super::*;

fn read(pairs: &[(&str, &str)]) -> Result<Option<OtelSettings>, Error> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = Env::new(move |name| map.get(name).cloned());
    let platform = vec![("faas.name".to_string(), "f".to_string())];
    OtelSettings::read(&env, platform, DEFAULT_PROPAGATORS)
}

fn variable_of(error: Error) -> String {
    match error {
        Error::Config { variable, .. } => variable.to_string(),
        other => panic!("not a configuration error: {other:?}"),
    }
}

#[test]
fn nothing_is_on_without_an_endpoint() {
    assert_eq!(read(&[]).unwrap(), None);
    assert_eq!(read(&[("OTEL_SERVICE_NAME", "x")]).unwrap(), None);
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
    assert_eq!(read(&[base, ("OTEL_SDK_DISABLED", "true")]).unwrap(), None);
    let none = [
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ];
    assert_eq!(read(&[base, none[0], none[1]]).unwrap(), None);
}

#[test]
fn the_base_endpoint_gains_each_signals_path_and_a_signals_own_is_used_as_it_is() {
    let settings = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
        .unwrap()
        .unwrap();
    assert_eq!(
        settings.traces.as_deref(),
        Some("http://collector:4318/v1/traces")
    );
    assert_eq!(
        settings.metrics.as_deref(),
        Some("http://collector:4318/v1/metrics")
    );
    let own = read(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://jaeger:4318/custom",
        ),
        ("OTEL_METRICS_EXPORTER", "none"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(own.traces.as_deref(), Some("http://jaeger:4318/custom"));
    assert_eq!(own.metrics, None);
}

#[test]
fn defaults_and_the_resource_follow_the_specification() {
    let settings = read(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces",
        ),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=prod,team=wx%20ops",
        ),
        ("OTEL_SERVICE_NAME", "station"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(settings.sampler, SamplerSetting::ParentBasedAlwaysOn);
    assert_eq!(
        settings.propagators,
        [PropagatorName::TraceContext, PropagatorName::Baggage]
    );
    assert_eq!(settings.traces_timeout, Duration::from_secs(10));
    let value = |key: &str| {
        let found = settings.resource.iter().rev().find(|(k, _)| k == key);
        found.map(|(_, v)| v.as_str())
    };
    assert_eq!(value("service.name"), Some("station"));
    assert_eq!(value("faas.name"), Some("f"));
    assert_eq!(value("team"), Some("wx ops"));
    assert_eq!(value("deployment.environment"), Some("prod"));
    let ratio = read(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ("OTEL_PROPAGATORS", "xray,tracecontext"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(ratio.sampler, SamplerSetting::ParentBasedRatio(0.25));
    assert_eq!(
        ratio.propagators,
        [PropagatorName::Xray, PropagatorName::TraceContext]
    );
}

#[test]
fn a_bad_value_is_a_start_up_error_naming_its_variable() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    for (variable, value) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://c/v1/traces"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ("OTEL_PROPAGATORS", "tracecontext,b3"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team=%zz"),
        ("OTEL_SDK_DISABLED", "yes"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "-1"),
    ] {
        let mut pairs = vec![(variable, value)];
        if variable != base.0 {
            pairs.push(base);
        }
        if variable == "OTEL_TRACES_SAMPLER_ARG" {
            pairs.push(("OTEL_TRACES_SAMPLER", "traceidratio"));
        }
        let error = read(&pairs).expect_err(&format!("{variable}={value} must be refused"));
        assert_eq!(variable_of(error), variable, "{variable}={value}");
    }
}
