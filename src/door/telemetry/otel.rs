//! Traces and metrics over OTLP (http/protobuf), turned on by the OpenTelemetry specification's
//! variables and by nothing else: with no endpoint set, nothing here is built.
//!
//! - `OTEL_EXPORTER_OTLP_ENDPOINT` (the collector's base URL, to which `/v1/traces` and
//!   `/v1/metrics` are added), or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and
//!   `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (used as they are), turn each signal on;
//!   `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` = `none`, or `OTEL_SDK_DISABLED=true`,
//!   turn them off again.
//! - `OTEL_EXPORTER_OTLP_PROTOCOL` (and the signals' own): `http/protobuf`, the only one built.
//! - `OTEL_EXPORTER_OTLP_TIMEOUT` (and the signals' own), in milliseconds; 10 s by default.
//! - `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` add to what the platform's own
//!   variables say of where the function runs, and win over it.
//! - `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`: `parentbased_always_on` by default.
//! - `OTEL_PROPAGATORS`: `tracecontext`, `baggage`, `xray` or `none`, in order; where two find a
//!   parent, the later wins, as the specification's composite propagator says.
//! - `OTEL_METRIC_EXPORT_INTERVAL`, in milliseconds; 60 s by default.
//!
//! Exports leave from the SDK's own threads, never on a call's path. They travel over the
//! process's tokio runtime with reqwest (which the Elasticsearch client brings already), and
//! the first failure to reach the collector is logged once, as is its return.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

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
        let traces = endpoint(env, "TRACES", "v1/traces")?;
        let metrics = endpoint(env, "METRICS", "v1/metrics")?;
        let settings = OtelSettings {
            traces_timeout: timeout(env, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")?,
            metrics_timeout: timeout(env, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT")?,
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

/// The providers that export, kept to flush and to shut down.
#[derive(Clone, Debug)]
pub(crate) struct Otel {
    pub tracer: Option<SdkTracerProvider>,
    pub meter: Option<SdkMeterProvider>,
}

impl Otel {
    /// Builds the exporters and providers `settings` ask for, and installs the propagators and
    /// the instruments. Must run inside the tokio runtime, which carries the exports.
    pub(crate) fn start(settings: &OtelSettings) -> Result<Otel, Error> {
        let resource = Resource::builder()
            .with_attributes(
                (settings.resource.iter()).map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
            )
            .build();
        let tracer = match &settings.traces {
            Some(url) => {
                let client = Collector::new(settings.traces_timeout)?;
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_http_client(client)
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(url.as_str())
                    .with_timeout(settings.traces_timeout)
                    .build()
                    .map_err(|e| exporter_error("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &e))?;
                let provider = SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_sampler(settings.sampler.sampler())
                    .with_resource(resource.clone())
                    .build();
                crate::otel::turn_tracing_on();
                Some(provider)
            }
            None => None,
        };
        let meter = match &settings.metrics {
            Some(url) => {
                let client = Collector::new(settings.metrics_timeout)?;
                let exporter = opentelemetry_otlp::MetricExporter::builder()
                    .with_http()
                    .with_http_client(client)
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(url.as_str())
                    .with_timeout(settings.metrics_timeout)
                    .build()
                    .map_err(|e| exporter_error("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &e))?;
                let reader = PeriodicReader::builder(exporter)
                    .with_interval(settings.metric_interval)
                    .build();
                let provider = SdkMeterProvider::builder()
                    .with_reader(reader)
                    .with_resource(resource)
                    .build();
                crate::otel::install_instruments(&opentelemetry::metrics::MeterProvider::meter(
                    &provider, "wx-stats",
                ));
                Some(provider)
            }
            None => None,
        };
        let propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = settings
            .propagators
            .iter()
            .map(|name| -> Box<dyn TextMapPropagator + Send + Sync> {
                match name {
                    PropagatorName::TraceContext => Box::new(TraceContextPropagator::new()),
                    PropagatorName::Baggage => Box::new(BaggagePropagator::new()),
                    PropagatorName::Xray => {
                        Box::new(opentelemetry_aws::trace::XrayPropagator::default())
                    }
                }
            })
            .collect();
        opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(
            propagators,
        ));
        Ok(Otel { tracer, meter })
    }

    /// Sends what is waiting, and waits for it to leave (or fail): on Lambda after each
    /// invocation, before the environment may be frozen. On a blocking thread, as the SDK's
    /// flush blocks until its export thread is done, and the export itself runs on the runtime.
    pub(crate) async fn flush(&self) {
        let otel = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(tracer) = &otel.tracer {
                let _ = tracer.force_flush();
            }
            if let Some(meter) = &otel.meter {
                let _ = meter.force_flush();
            }
        })
        .await;
    }

    /// The last flush, when the platform stops the process.
    pub(crate) async fn shutdown(&self) {
        let otel = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(tracer) = &otel.tracer {
                let _ = tracer.shutdown();
            }
            if let Some(meter) = &otel.meter {
                let _ = meter.shutdown();
            }
        })
        .await;
    }
}

fn exporter_error(variable: &'static str, error: &dyn std::fmt::Display) -> Error {
    Error::config(variable, format!("cannot build the OTLP exporter: {error}"))
}

/// The HTTP client the OTLP exporters send with: reqwest on the process's tokio runtime, so
/// that an export waits on the network without holding a thread of the runtime. It logs the
/// first failure to reach the collector, and its return, once each.
#[derive(Debug)]
struct Collector {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    reachable: AtomicBool,
}

impl Collector {
    fn new(timeout: Duration) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the OTLP client: {e}")))?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| Error::Internal(format!("no runtime for the OTLP exporter: {e}")))?;
        Ok(Collector {
            client,
            runtime,
            reachable: AtomicBool::new(true),
        })
    }

    fn report(&self, outcome: Result<u16, &str>, url: &str) {
        match outcome {
            Ok(status) if status < 300 => {
                if !self.reachable.swap(true, Ordering::Relaxed) {
                    tracing::info!(collector = url, "the OTLP collector is reachable again");
                }
            }
            failed => {
                if self.reachable.swap(false, Ordering::Relaxed) {
                    let reason = match failed {
                        Ok(status) => format!("it answered {status}"),
                        Err(reason) => reason.to_string(),
                    };
                    tracing::warn!(
                        collector = url,
                        %reason,
                        "cannot reach the OTLP collector: spans and metrics are dropped until it answers"
                    );
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for Collector {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let url = request.uri().to_string();
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
            let response = client.execute(request).await?;
            let status = response.status();
            let body = response.bytes().await?;
            let mut answer = Response::new(body);
            *answer.status_mut() = status;
            Ok::<_, reqwest::Error>(answer)
        });
        let answer = match sent.await {
            Ok(answer) => answer,
            Err(stopped) => return Err(Box::new(stopped)),
        };
        match &answer {
            Ok(response) => self.report(Ok(response.status().as_u16()), &url),
            Err(error) => self.report(Err(&root_cause(error)), &url),
        }
        Ok(answer?)
    }
}

/// The innermost cause of `error`: "connection refused" rather than "error sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

impl SamplerSetting {
    fn sampler(self) -> Sampler {
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

/// A signal's endpoint: its own variable as it is, else the base URL with `path` added.
fn endpoint(env: &Env, signal: &str, path: &str) -> Result<Option<String>, Error> {
    let exporter = leak(format!("OTEL_{signal}_EXPORTER"));
    let exporter = env.parse(exporter, |text| match text {
        "otlp" => Ok(true),
        "none" => Ok(false),
        other => Err(format!(
            "{other:?} is not an exporter wx-stats has: otlp or none"
        )),
    })?;
    for variable in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        leak(format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")),
    ] {
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
    let own = leak(format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"));
    let url = match env.parse(own, url)? {
        Some(url) => Some(url),
        None => env
            .parse("OTEL_EXPORTER_OTLP_ENDPOINT", url)?
            .map(|base| format!("{}/{path}", base.trim_end_matches('/'))),
    };
    Ok(url.filter(|_| exporter != Some(false)))
}

/// The names built from a signal's name live as long as the process, as every variable's
/// name does, so that an error can name them; there are a handful.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
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
