//! What the `OTEL_*` variables ask for, read and checked at start-up: each bad value is an
//! [`Error::Config`] naming its variable.

use std::time::Duration;

use opentelemetry_sdk::trace::Sampler;

use crate::config::Env;
use crate::error::Error;

/// What the `OTEL_*` variables ask for; `None` from [`OtelSettings::read`] when nothing is on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OtelSettings {
    /// Where spans go, if anywhere.
    pub traces: Option<String>,
    /// Where metrics go, if anywhere.
    pub metrics: Option<String>,
    pub traces_timeout: Duration,
    pub metrics_timeout: Duration,
    pub sampler: SamplerSetting,
    pub propagators: Vec<PropagatorName>,
    /// The Resource's attributes, the platform's first, then `OTEL_RESOURCE_ATTRIBUTES`', then
    /// `OTEL_SERVICE_NAME`: a later one wins.
    pub resource: Vec<(String, String)>,
    pub metric_interval: Duration,
}

/// `OTEL_TRACES_SAMPLER`, with its argument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum SamplerSetting {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedRatio(f64),
}

/// One of `OTEL_PROPAGATORS`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum PropagatorName {
    TraceContext,
    Baggage,
    Xray,
}

/// The specification's default propagators, and Lambda's: there an invocation's own X-Ray
/// header is the parent when the caller sent no `traceparent` (set `OTEL_PROPAGATORS` to drop
/// it: with active tracing off, Lambda's header says `Sampled=0`, which a parent-based
/// sampler follows).
pub(crate) const DEFAULT_PROPAGATORS: &str = "tracecontext,baggage";
pub(crate) const LAMBDA_PROPAGATORS: &str = "xray,tracecontext,baggage";

impl OtelSettings {
    /// Reads the variables from `env`; `platform` is what the door's platform says of where it
    /// runs, and `propagators` its default `OTEL_PROPAGATORS`. A bad value is an
    /// [`Error::Config`] naming its variable, even when nothing would be exported.
    pub(crate) fn read(
        env: &Env,
        platform: Vec<(String, String)>,
        propagators: &str,
    ) -> Result<Option<Self>, Error> {
        let disabled = env.parse("OTEL_SDK_DISABLED", boolean)?.unwrap_or(false);
        let traces = endpoint(env, &TRACES)?;
        let metrics = endpoint(env, &METRICS)?;
        let settings = OtelSettings {
            traces_timeout: timeout(env, TRACES.timeout)?,
            metrics_timeout: timeout(env, METRICS.timeout)?,
            sampler: sampler(env)?,
            propagators: env
                .parse("OTEL_PROPAGATORS", parse_propagators)?
                .unwrap_or(parse_propagators(propagators).unwrap_or_default()),
            resource: resource(env, platform)?,
            metric_interval: env
                .parse("OTEL_METRIC_EXPORT_INTERVAL", millis)?
                .unwrap_or(Duration::from_secs(60)),
            traces,
            metrics,
        };
        let on = settings.traces.is_some() || settings.metrics.is_some();
        Ok((on && !disabled).then_some(settings))
    }
}

impl SamplerSetting {
    /// The SDK's sampler.
    pub(super) fn sampler(self) -> Sampler {
        let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
        match self {
            SamplerSetting::AlwaysOn => Sampler::AlwaysOn,
            SamplerSetting::AlwaysOff => Sampler::AlwaysOff,
            SamplerSetting::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
            SamplerSetting::ParentBasedAlwaysOn => parent_based(Sampler::AlwaysOn),
            SamplerSetting::ParentBasedAlwaysOff => parent_based(Sampler::AlwaysOff),
            SamplerSetting::ParentBasedRatio(r) => parent_based(Sampler::TraceIdRatioBased(r)),
        }
    }
}

/// One signal's variables, and the path its base URL gains.
pub(super) struct Signal {
    exporter: &'static str,
    protocol: &'static str,
    pub(super) endpoint: &'static str,
    timeout: &'static str,
    path: &'static str,
}

pub(super) const TRACES: Signal = Signal {
    exporter: "OTEL_TRACES_EXPORTER",
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    timeout: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    path: "v1/traces",
};

pub(super) const METRICS: Signal = Signal {
    exporter: "OTEL_METRICS_EXPORTER",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    path: "v1/metrics",
};

/// A signal's endpoint: its own variable as it is, else the base URL with its path added;
/// `None` when neither is set or its exporter is `none`.
fn endpoint(env: &Env, signal: &Signal) -> Result<Option<String>, Error> {
    let exporter = env.parse(signal.exporter, |text| match text {
        "otlp" => Ok(true),
        "none" => Ok(false),
        other => Err(format!(
            "{other:?} is not an exporter wx-stats has: otlp or none"
        )),
    })?;
    for variable in ["OTEL_EXPORTER_OTLP_PROTOCOL", signal.protocol] {
        env.parse(variable, |text| match text {
            "http/protobuf" => Ok(()),
            "grpc" | "http/json" => Err(format!(
                "{text} is not built into wx-stats: use http/protobuf"
            )),
            other => Err(format!(
                "{other:?} is not an OTLP protocol (grpc, http/protobuf, http/json)"
            )),
        })?;
    }
    let url = match env.parse(signal.endpoint, url)? {
        Some(url) => Some(url),
        None => env
            .parse("OTEL_EXPORTER_OTLP_ENDPOINT", url)?
            .map(|base| format!("{}/{}", base.trim_end_matches('/'), signal.path)),
    };
    Ok(url.filter(|_| exporter != Some(false)))
}

fn url(text: &str) -> Result<String, String> {
    let uri: axum::http::Uri = text
        .parse()
        .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(text.to_string()),
        _ => Err(format!(
            "{text:?} is not an http:// or https:// URL of a collector"
        )),
    }
}

fn timeout(env: &Env, own: &'static str) -> Result<Duration, Error> {
    Ok(match env.parse(own, millis)? {
        Some(timeout) => timeout,
        None => env
            .parse("OTEL_EXPORTER_OTLP_TIMEOUT", millis)?
            .unwrap_or(Duration::from_secs(10)),
    })
}

fn millis(text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{text:?} is not a whole number of milliseconds"))
}

fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{text:?} is neither true nor false")),
    }
}

fn sampler(env: &Env) -> Result<SamplerSetting, Error> {
    let ratio = || {
        env.parse("OTEL_TRACES_SAMPLER_ARG", |text| {
            text.parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("{text:?} is not a ratio from 0 to 1"))
        })
        .map(|ratio| ratio.unwrap_or(1.0))
    };
    let name = env.get("OTEL_TRACES_SAMPLER");
    Ok(match name.as_deref().map(str::trim) {
        None | Some("parentbased_always_on") => SamplerSetting::ParentBasedAlwaysOn,
        Some("always_on") => SamplerSetting::AlwaysOn,
        Some("always_off") => SamplerSetting::AlwaysOff,
        Some("traceidratio") => SamplerSetting::Ratio(ratio()?),
        Some("parentbased_always_off") => SamplerSetting::ParentBasedAlwaysOff,
        Some("parentbased_traceidratio") => SamplerSetting::ParentBasedRatio(ratio()?),
        Some(other) => {
            return Err(Error::config(
                "OTEL_TRACES_SAMPLER",
                format!(
                    "{other:?} is not a sampler wx-stats has: always_on, always_off, \
                     traceidratio, parentbased_always_on, parentbased_always_off or \
                     parentbased_traceidratio"
                ),
            ));
        }
    })
}

fn parse_propagators(text: &str) -> Result<Vec<PropagatorName>, String> {
    let mut names = Vec::new();
    for name in text.split(',').map(str::trim) {
        match name {
            "tracecontext" => names.push(PropagatorName::TraceContext),
            "baggage" => names.push(PropagatorName::Baggage),
            "xray" => names.push(PropagatorName::Xray),
            "none" => return Ok(Vec::new()),
            other => {
                return Err(format!(
                    "{other:?} is not a propagator wx-stats has: tracecontext, baggage, xray or none"
                ));
            }
        }
    }
    Ok(names)
}

/// The platform's attributes, then `OTEL_RESOURCE_ATTRIBUTES`' (`key=value,…`, values
/// percent-encoded), then `OTEL_SERVICE_NAME` as `service.name`.
fn resource(
    env: &Env,
    mut attributes: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, Error> {
    let listed = env.parse("OTEL_RESOURCE_ATTRIBUTES", |text| {
        text.split(',')
            .filter(|pair| !pair.trim().is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => {
                    Ok((key.trim().to_string(), percent_decoded(value.trim())?))
                }
                _ => Err(format!("{pair:?} is not key=value")),
            })
            .collect::<Result<Vec<_>, String>>()
    })?;
    attributes.extend(listed.unwrap_or_default());
    if let Some(name) = env.get("OTEL_SERVICE_NAME") {
        attributes.push(("service.name".into(), name.trim().to_string()));
    }
    if !attributes.iter().any(|(key, _)| key == "service.name") {
        attributes.insert(0, ("service.name".into(), "wx-stats".into()));
    }
    attributes.insert(
        0,
        ("service.version".into(), env!("CARGO_PKG_VERSION").into()),
    );
    Ok(attributes)
}

fn percent_decoded(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3).unwrap_or("");
            let byte = u8::from_str_radix(hex, 16)
                .map_err(|_| format!("{text:?} has a % not followed by two hex digits"))?;
            out.push(byte);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests;
