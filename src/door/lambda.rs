//! The Lambda door: `bootstrap` on provided.al2023, or the one image's entry point under
//! Lambda's runtime API. Every invocation goes to the same Router as the HTTP doors
//! ([`event`] says how each kind of event becomes a request).

pub mod event;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Uri};
use axum::middleware::map_request;
use lambda_runtime::service_fn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::signal::unix::{SignalKind, signal};

use super::{PlatformEnv, calls, from_env, telemetry};
use crate::error::Error;
use crate::http::app::{AppState, router};
use crate::http::identity::PlatformCall;

/// Serves the Lambda door until the runtime stops it: `wx-stats-lambda`, or the one image's
/// entry point when `AWS_LAMBDA_RUNTIME_API` is set.
pub async fn main() -> ExitCode {
    // Honours AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL.
    telemetry::init_lambda();
    // Building the client makes no network call: nothing slow happens before the first event.
    let (lambda, stats) = match from_env::<LambdaEnv>() {
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
    let state = Arc::new(AppState {
        max_in_flight: lambda.max_in_flight,
        ..AppState::new(stats)
    });
    on_shutdown_log_totals(&lambda.runtime_api, state.clone()).await;
    run(router(state)).await
}

/// The door's no-op internal extension: a name unique within the function, as Lambda requires.
const EXTENSION_NAME: &str = "wx-stats-graceful-shutdown";

/// How long the registration may take. Lambda answers it at once, during Init; an emulator
/// without the Extensions API may never answer (cargo-lambda's leaves a route it does not know
/// waiting, and so did its Extensions API before 1.8.5), which must not hold Init up for ever.
const REGISTRATION_WAIT: Duration = Duration::from_secs(1);

/// Lambda's shutdown: on SIGTERM, which Lambda sends before it ends an environment, the door
/// writes a last line with the calls it answered, flushed, as nothing scrapes a Lambda's
/// metrics. Lambda sends SIGTERM only to a function with an extension, so the door registers a
/// no-op internal one, as lambda_runtime's graceful-shutdown handler does, but with its own
/// request: that handler panics when the registration fails. A Runtime API without the
/// Extensions API (Lambda and the Runtime Interface Emulator with extensions disabled answer
/// 404; some emulators never answer) gets one warning, and the door runs on without.
async fn on_shutdown_log_totals(runtime_api: &str, state: Arc<AppState>) {
    let registration = tokio::time::timeout(REGISTRATION_WAIT, register_extension(runtime_api));
    let registered = registration.await.unwrap_or_else(|_| {
        Err(format!(
            "the registration was not answered within {REGISTRATION_WAIT:?}"
        ))
    });
    let extension = match registered {
        Ok(extension) => extension,
        Err(why) => {
            tracing::warn!(%why, "no graceful shutdown: the Runtime API registered no extension");
            return;
        }
    };
    let runtime_api = runtime_api.to_string();
    // Subscribed to no events, the extension is never sent one: its long poll tells Lambda it
    // is ready, and then waits.
    tokio::spawn(
        async move { while next_extension_event(&runtime_api, &extension).await.is_ok() {} },
    );
    // Listening before Init ends: Lambda sends SIGTERM only after that. SIGINT is Ctrl-C under an
    // emulator.
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("no graceful shutdown: cannot listen for SIGTERM");
        return;
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        let (calls, failures) = state.metrics.totals();
        tracing::info!(calls, failures, "lambda door shutting down");
        std::io::Write::flush(&mut std::io::stdout()).ok();
        std::process::exit(0);
    });
}

/// Registers the no-op extension with the Extensions API, for no events: its identifier.
async fn register_extension(runtime_api: &str) -> Result<String, String> {
    let route = "/2020-01-01/extension/register";
    let headers = [
        ("lambda-extension-name", EXTENSION_NAME),
        ("content-type", "application/json"),
    ];
    let answer =
        runtime_api_request(runtime_api, "POST", route, &headers, r#"{"events":[]}"#).await?;
    if !(200..300).contains(&answer.status) {
        return Err(format!("POST {route} answered {}", answer.status));
    }
    answer
        .header("lambda-extension-identifier")
        .map(str::to_string)
        .ok_or_else(|| format!("POST {route} answered no Lambda-Extension-Identifier"))
}

/// Waits for the extension's next event; an error once the Extensions API fails it.
async fn next_extension_event(runtime_api: &str, extension: &str) -> Result<(), String> {
    let route = "/2020-01-01/extension/event/next";
    let headers = [("lambda-extension-identifier", extension)];
    let answer = runtime_api_request(runtime_api, "GET", route, &headers, "").await?;
    match answer.status {
        200..300 => Ok(()),
        status => Err(format!("GET {route} answered {status}")),
    }
}

/// The head of a Runtime API answer.
struct ApiAnswer {
    status: u16,
    head: String,
}

impl ApiAnswer {
    /// The value of the header `name`, if the answer has it.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// One HTTP/1.1 request to the Runtime API, on a connection of its own: the answer's head (the
/// body is not needed). Plain TCP, as the API is on loopback and the door has no HTTP client.
async fn runtime_api_request(
    runtime_api: &str,
    method: &str,
    route: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<ApiAnswer, String> {
    let (address, base) = runtime_api_endpoint(runtime_api)?;
    let path = format!("{base}{route}");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let failed = |e: std::io::Error| format!("{method} {path}: {e}");
    let mut stream = TcpStream::connect(&address).await.map_err(failed)?;
    stream.write_all(request.as_bytes()).await.map_err(failed)?;
    let mut head = Vec::new();
    let mut chunk = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await.map_err(failed)?;
        if read == 0 || head.len() > 64 * 1024 {
            return Err(format!("{method} {path}: no HTTP answer"));
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    let status = status.ok_or_else(|| format!("{method} {path}: no HTTP status"))?;
    Ok(ApiAnswer { status, head })
}

/// Where `AWS_LAMBDA_RUNTIME_API` points: the `host:port` to connect to, and the path every route
/// goes under. Lambda gives `host:port`; emulators may give a URL with a path.
fn runtime_api_endpoint(runtime_api: &str) -> Result<(String, String), String> {
    let unusable = |why: &str| format!("AWS_LAMBDA_RUNTIME_API={runtime_api:?} {why}");
    let uri: Uri = runtime_api.parse().map_err(|_| unusable("is no URL"))?;
    let authority = uri.authority().ok_or_else(|| unusable("names no host"))?;
    let address = match authority.port() {
        Some(_) => authority.to_string(),
        None => format!("{}:80", authority.host()),
    };
    Ok((address, uri.path().trim_end_matches('/').to_string()))
}

/// Serves `router` to the Lambda runtime until the runtime stops. Each request carries its
/// invocation's request id, deadline, X-Ray trace and tenant to the Router as a
/// [`PlatformCall`].
///
/// On Lambda Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY` above 1) the runtime polls for
/// that many invocations at once, and they share this process's cache, coalescing and
/// connections; otherwise it takes one at a time, as classic Lambda hands them out.
pub async fn run(router: Router) -> ExitCode {
    let router = router.layer(map_request(|mut request: Request<Body>| async move {
        if let Some(context) = request.extensions().get::<lambda_http::Context>() {
            let platform = platform_call(context);
            request.extensions_mut().insert(platform);
        }
        request
    }));
    let handler = service_fn(move |invocation| event::handle(router.clone(), invocation));
    match lambda_runtime::run_concurrent(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// What the invocation's context tells the Router about the call.
fn platform_call(context: &lambda_http::Context) -> PlatformCall {
    PlatformCall {
        request_id: Some(context.request_id.clone()),
        deadline: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(context.deadline)),
        xray_trace_id: context.xray_trace_id.clone(),
        tenant_id: context.tenant_id.clone(),
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
}

impl PlatformEnv for LambdaEnv {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let text = |name: &str| lookup(name).unwrap_or_default();
        // Lambda sends an execution environment one invocation at a time, unless Lambda
        // Managed Instances set how many it may be sent at once.
        let max_in_flight = match calls(lookup, "MAX_IN_FLIGHT")? {
            Some(limit) => limit,
            None => calls(lookup, "AWS_LAMBDA_MAX_CONCURRENCY")?.unwrap_or(1),
        };
        Ok(LambdaEnv {
            function_name: text("AWS_LAMBDA_FUNCTION_NAME"),
            memory_size: text("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
            runtime_api: text("AWS_LAMBDA_RUNTIME_API"),
            max_in_flight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_api_is_host_and_port_or_a_url_whose_path_prefixes_every_route() {
        let endpoint = |value: &str| runtime_api_endpoint(value).unwrap();
        let own = |address: &str, base: &str| (address.to_string(), base.to_string());
        // Lambda, and the Runtime Interface Emulator.
        assert_eq!(endpoint("127.0.0.1:9001"), own("127.0.0.1:9001", ""));
        // cargo-lambda's emulator.
        assert_eq!(
            endpoint("http://127.0.0.1:9000/.rt/wx-stats-lambda"),
            own("127.0.0.1:9000", "/.rt/wx-stats-lambda")
        );
        assert_eq!(
            endpoint("http://[::1]:9000/.rt/"),
            own("[::1]:9000", "/.rt")
        );
        assert_eq!(
            endpoint("http://localhost/.rt"),
            own("localhost:80", "/.rt")
        );
        assert!(runtime_api_endpoint("").is_err());
    }
}
