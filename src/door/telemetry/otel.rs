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
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::error::Error;
pub(crate) use settings::{DEFAULT_PROPAGATORS, LAMBDA_PROPAGATORS, OtelSettings};
use settings::{METRICS, PropagatorName, TRACES};

mod settings;

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
                let exporter = opentelemetry_otlp::SpanExporter::builder().with_http();
                let exporter = to_collector(exporter, url, settings.traces_timeout)?
                    .build()
                    .map_err(|e| exporter_error(TRACES.endpoint, &e))?;
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
                let exporter = opentelemetry_otlp::MetricExporter::builder().with_http();
                let exporter = to_collector(exporter, url, settings.metrics_timeout)?
                    .build()
                    .map_err(|e| exporter_error(METRICS.endpoint, &e))?;
                let reader = PeriodicReader::builder(exporter)
                    .with_interval(settings.metric_interval)
                    .build();
                let provider = SdkMeterProvider::builder()
                    .with_reader(reader)
                    .with_resource(resource)
                    .build();
                let meter = opentelemetry::metrics::MeterProvider::meter(&provider, "wx-stats");
                crate::otel::install_instruments(&meter);
                Some(provider)
            }
            None => None,
        };
        opentelemetry::global::set_text_map_propagator(propagator(&settings.propagators));
        Ok(Otel { tracer, meter })
    }

    /// Sends what is waiting, and waits for it to leave (or fail): on Lambda after each
    /// invocation, before the environment may be frozen.
    pub(crate) async fn flush(&self) {
        self.on_each(
            SdkTracerProvider::force_flush,
            SdkMeterProvider::force_flush,
        )
        .await;
    }

    /// The last flush, when the platform stops the process.
    pub(crate) async fn shutdown(&self) {
        self.on_each(SdkTracerProvider::shutdown, SdkMeterProvider::shutdown)
            .await;
    }

    /// Runs `tracer` and `meter` on the providers there are, on a blocking thread: the SDK's
    /// flush blocks until its export thread is done, and the export itself runs on the runtime.
    async fn on_each(
        &self,
        tracer: fn(&SdkTracerProvider) -> OTelSdkResult,
        meter: fn(&SdkMeterProvider) -> OTelSdkResult,
    ) {
        let otel = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = otel.tracer.as_ref().map(tracer);
            let _ = otel.meter.as_ref().map(meter);
        })
        .await;
    }
}

/// An exporter's builder, sending http/protobuf to `url` through a [`Collector`] client.
fn to_collector<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    url: &str,
    timeout: Duration,
) -> Result<B, Error> {
    Ok(builder
        .with_http_client(Collector::new(timeout)?)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(timeout))
}

/// The propagators `names` lists, in order.
fn propagator(names: &[PropagatorName]) -> TextMapCompositePropagator {
    let propagators = names
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
    TextMapCompositePropagator::new(propagators)
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
