//! The Lambda door: `bootstrap` on provided.al2023, or the one image's entry point under
//! Lambda's runtime API. Every invocation goes to the same Router as the HTTP doors
//! ([`event`] says how each kind of event becomes a request).

pub mod event;
mod extension;
mod flush;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::middleware::map_request;
use lambda_runtime::{Runtime, service_fn};

use super::telemetry::{LAMBDA_PROPAGATORS, Logs, Telemetry};
use super::{calls, start};
use crate::config::Env;
use crate::error::Error;
use crate::http::app::{AppState, router};
use crate::http::identity::{FaasTrigger, PlatformContext};
use crate::http::metrics::emf;

/// Serves the Lambda door until the runtime stops it: `wx-stats-lambda`, or the one image's
/// entry point when `AWS_LAMBDA_RUNTIME_API` is set.
pub(super) async fn main() -> ExitCode {
    let env = Env::process();
    // Logs honour AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL. Building the clients
    // makes no network call: nothing slow happens before the first event.
    let resource = LambdaEnv::resource(&env);
    let started = start(
        &env,
        Logs::Lambda,
        resource,
        LAMBDA_PROPAGATORS,
        LambdaEnv::read,
    );
    let (lambda, stats, telemetry) = match started {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    tracing::debug!(
        program = %super::program(),
        function = %lambda.function_name,
        memory_mb = %lambda.memory_size,
        max_in_flight = lambda.max_in_flight,
        elasticsearch = %stats.es().host(),
        "lambda door starting"
    );
    if let Some(namespace) = lambda.emf_namespace.clone() {
        emf::turn_on(namespace, lambda.function_name.clone());
    }
    let state = Arc::new(AppState {
        max_in_flight: lambda.max_in_flight,
        ..AppState::new(stats)
    });
    // Lambda sends SIGTERM only to a function with an extension ([`extension`] says why the
    // door registers its own).
    extension::on_shutdown_log_totals(&lambda.runtime_api, state.clone(), telemetry.clone()).await;
    run(router(state), telemetry).await
}

/// Serves `router` to the Lambda runtime until the runtime stops. Each request carries its
/// invocation's request id, deadline, X-Ray trace and tenant to the Router as a
/// `PlatformContext`.
///
/// On Lambda Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY` above 1) the runtime polls for
/// that many invocations at once, and they share this process's cache, coalescing and
/// connections; otherwise it takes one at a time, as classic Lambda hands them out.
///
/// After each invocation's answer is sent, its spans and metrics are flushed.
pub async fn run(router: Router, telemetry: Telemetry) -> ExitCode {
    let router = router.layer(map_request(|mut request: Request<Body>| async move {
        if let Some(context) = request.extensions().get::<lambda_http::Context>() {
            let mut platform = platform_context(context);
            platform.trigger = request.extensions().get::<FaasTrigger>().map(|t| t.0);
            request.extensions_mut().insert(platform);
        }
        request
    }));
    let handler = service_fn(move |invocation| event::handle(router.clone(), invocation));
    let runtime = Runtime::new(handler)
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(flush::FlushLayer::new(telemetry));
    match runtime.run_concurrent().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// What the invocation's context tells the Router about the call.
fn platform_context(context: &lambda_http::Context) -> PlatformContext {
    PlatformContext {
        request_id: Some(context.request_id.clone()),
        deadline: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(context.deadline)),
        xray_trace_id: context.xray_trace_id.clone(),
        tenant_id: context.tenant_id.clone(),
        trigger: None,
    }
}

/// The Lambda runtime's variables that wx-stats logs at start-up, where its Runtime API is, and
/// the limit on calls in flight; lambda_runtime reads the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct LambdaEnv {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB, as Lambda gives it.
    pub memory_size: String,
    /// `AWS_LAMBDA_RUNTIME_API`: where the Runtime API and its Extensions API are.
    pub runtime_api: String,
    /// `MAX_IN_FLIGHT`, else `AWS_LAMBDA_MAX_CONCURRENCY`, else 1: function calls in progress
    /// at once; more are answered 503.
    pub max_in_flight: usize,
    /// `EMF_NAMESPACE`: when set, each call's metrics are written to stdout as a CloudWatch
    /// Embedded Metric Format line, into this namespace.
    pub emf_namespace: Option<String>,
}

impl LambdaEnv {
    /// Where the function runs, for its traces' Resource, from the variables Lambda sets.
    pub fn resource(env: &Env) -> Vec<(String, String)> {
        let mut attributes = vec![
            ("cloud.provider".to_string(), "aws".to_string()),
            ("cloud.platform".to_string(), "aws_lambda".to_string()),
        ];
        let named = [
            ("cloud.region", "AWS_REGION"),
            ("service.name", "AWS_LAMBDA_FUNCTION_NAME"),
            ("faas.name", "AWS_LAMBDA_FUNCTION_NAME"),
            ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION"),
            ("faas.instance", "AWS_LAMBDA_LOG_STREAM_NAME"),
        ];
        for (key, variable) in named {
            if let Some(value) = env.get(variable) {
                attributes.push((key.to_string(), value));
            }
        }
        // In bytes, as the conventions count it; Lambda gives megabytes.
        let megabytes = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
        if let Some(mb) = megabytes.and_then(|mb| mb.trim().parse::<u64>().ok()) {
            attributes.push(("faas.max_memory".into(), (mb * 1024 * 1024).to_string()));
        }
        attributes
    }

    /// Reads the variables from `env`; a bad one is an [`Error::Config`] naming it.
    pub fn read(env: &Env) -> Result<Self, Error> {
        let text = |name: &str| env.get_or(name, "");
        // Lambda sends an execution environment one invocation at a time, unless Lambda
        // Managed Instances set how many it may be sent at once.
        let max_in_flight = match calls(env, "MAX_IN_FLIGHT")? {
            Some(limit) => limit,
            None => calls(env, "AWS_LAMBDA_MAX_CONCURRENCY")?.unwrap_or(1),
        };
        Ok(LambdaEnv {
            function_name: text("AWS_LAMBDA_FUNCTION_NAME"),
            memory_size: text("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
            runtime_api: text("AWS_LAMBDA_RUNTIME_API"),
            max_in_flight,
            emf_namespace: env.parse("EMF_NAMESPACE", |text| {
                let fits = (1..=255).contains(&text.len()) && !text.contains(':');
                fits.then(|| text.to_string()).ok_or_else(|| {
                    format!("{text:?} is not a CloudWatch namespace (1-255 characters, no ':')")
                })
            })?,
        })
    }
}
