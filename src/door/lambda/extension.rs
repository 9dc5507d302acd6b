//! Lambda's shutdown: on SIGTERM, which Lambda sends before it ends an environment, the door
//! writes a last line with the calls it answered, flushed, as nothing scrapes a Lambda's
//! metrics. Lambda sends SIGTERM only to a function with an extension, so the door registers a
//! no-op internal one, as lambda_runtime's graceful-shutdown handler does, but with its own
//! requests: that handler panics when the registration fails. A Runtime API without the
//! Extensions API (Lambda and the Runtime Interface Emulator with extensions disabled answer
//! 404; some emulators never answer) gets one warning, and the door runs on without.
//!
//! The requests go through `lambda_runtime_api_client`, the client lambda_runtime itself talks
//! to the Runtime API with, so the door carries no HTTP client of its own.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, Uri};
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{BoxError, Client, build_request};
use tokio::signal::unix::{SignalKind, signal};

use crate::door::telemetry::Telemetry;
use crate::http::app::AppState;

/// The door's no-op internal extension: a name unique within the function, as Lambda requires.
const EXTENSION_NAME: &str = "wx-stats-graceful-shutdown";

/// How long the registration may take. Lambda answers it at once, during Init; an emulator
/// without the Extensions API may never answer (cargo-lambda's leaves a route it does not know
/// waiting, and so did its Extensions API before 1.8.5), which must not hold Init up for ever.
const REGISTRATION_WAIT: Duration = Duration::from_secs(1);

/// Registers the no-op extension with the Extensions API at `runtime_api`, then, on SIGTERM (or
/// SIGINT, Ctrl-C under an emulator), logs the calls `state` counted, sends the last of its
/// `telemetry` and exits 0. Without an Extensions API it logs one warning and returns.
pub(in crate::door) async fn on_shutdown_log_totals(
    runtime_api: &str,
    state: Arc<AppState>,
    telemetry: Telemetry,
) {
    let registration = async {
        let client = runtime_api_client(runtime_api)?;
        let extension = register_extension(&client).await?;
        Ok((client, extension))
    };
    let registered = tokio::time::timeout(REGISTRATION_WAIT, registration)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the registration was not answered within {REGISTRATION_WAIT:?}"
            ))
        });
    let (client, extension) = match registered {
        Ok(registered) => registered,
        Err(why) => {
            tracing::warn!(%why, "no graceful shutdown: the Runtime API registered no extension");
            return;
        }
    };
    // Subscribed to no events, the extension is never sent one: its long poll tells Lambda it
    // is ready, and then waits.
    tokio::spawn(async move { while next_extension_event(&client, &extension).await.is_ok() {} });
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
        telemetry.shutdown().await;
        std::io::Write::flush(&mut std::io::stdout()).ok();
        std::process::exit(0);
    });
}

/// A client of the Runtime API at `runtime_api`. Lambda gives `host:port`; emulators may give a
/// URL with a path, which the client puts before every route. The client takes a URL without a
/// scheme as `http`, but panics on one without a host, so that is an error here.
fn runtime_api_client(runtime_api: &str) -> Result<Client, String> {
    let unusable = |why: &str| format!("AWS_LAMBDA_RUNTIME_API={runtime_api:?} {why}");
    let endpoint: Uri = runtime_api.parse().map_err(|_| unusable("is no URL"))?;
    if endpoint.authority().is_none() {
        return Err(unusable("names no host"));
    }
    Client::builder()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| unusable(&format!("gives no client: {e}")))
}

/// Registers the no-op extension with the Extensions API, for no events: its identifier.
async fn register_extension(client: &Client) -> Result<String, String> {
    let route = "/2020-01-01/extension/register";
    let request = build_request()
        .method(Method::POST)
        .uri(route)
        .header("lambda-extension-name", EXTENSION_NAME)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"events":[]}"#))
        .map_err(|e| format!("POST {route}: {e}"))?;
    let answer = client
        .call(request)
        .await
        .map_err(|e| failed("POST", route, e))?;
    if !answer.status().is_success() {
        return Err(format!("POST {route} answered {}", answer.status()));
    }
    let identifier = answer.headers().get("lambda-extension-identifier");
    identifier
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| format!("POST {route} answered no Lambda-Extension-Identifier"))
}

/// Waits for the extension's next event; an error once the Extensions API fails it.
async fn next_extension_event(client: &Client, extension: &str) -> Result<(), String> {
    let route = "/2020-01-01/extension/event/next";
    let request = build_request()
        .method(Method::GET)
        .uri(route)
        .header("lambda-extension-identifier", extension)
        .body(Body::empty())
        .map_err(|e| format!("GET {route}: {e}"))?;
    let answer = client
        .call(request)
        .await
        .map_err(|e| failed("GET", route, e))?;
    match answer.status() {
        status if status.is_success() => Ok(()),
        status => Err(format!("GET {route} answered {status}")),
    }
}

/// Why a request failed, with the causes: hyper's own message ("client error (Connect)") does
/// not say what went wrong.
fn failed(method: &str, route: &str, error: BoxError) -> String {
    let mut why = format!("{method} {route}: {error}");
    let mut cause = error.source();
    while let Some(inner) = cause {
        why.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    why
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    /// A stand-in Runtime API on loopback that answers one request with `answer`: its address,
    /// and the request it was sent.
    fn runtime_api(answer: &'static str) -> (String, thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let served = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut chunk = [0; 1024];
            while !request.ends_with(br#"{"events":[]}"#) {
                let read = stream.read(&mut chunk).unwrap();
                assert!(read > 0, "the request ended early");
                request.extend_from_slice(&chunk[..read]);
            }
            stream.write_all(answer.as_bytes()).unwrap();
            String::from_utf8(request).unwrap()
        });
        (address, served)
    }

    const REGISTERED: &str =
        "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: the-id\r\ncontent-length: 0\r\n\r\n";

    #[tokio::test]
    async fn the_runtime_api_is_host_and_port_or_a_url_whose_path_prefixes_every_route() {
        // Lambda, and the Runtime Interface Emulator.
        let (address, served) = runtime_api(REGISTERED);
        let client = runtime_api_client(&address).unwrap();
        assert_eq!(register_extension(&client).await.unwrap(), "the-id");
        let request = served.join().unwrap().to_lowercase();
        assert!(request.starts_with("post /2020-01-01/extension/register http/1.1\r\n"));
        assert!(request.contains("\r\nlambda-extension-name: wx-stats-graceful-shutdown\r\n"));
        // cargo-lambda's emulator.
        let (address, served) = runtime_api(REGISTERED);
        let client = runtime_api_client(&format!("http://{address}/.rt/wx-stats-lambda/")).unwrap();
        assert_eq!(register_extension(&client).await.unwrap(), "the-id");
        let request = served.join().unwrap();
        assert!(request.starts_with("POST /.rt/wx-stats-lambda/2020-01-01/extension/register "));
        // Neither is a Runtime API; the client would panic on the second.
        assert!(runtime_api_client("").is_err());
        assert!(runtime_api_client("/.rt").is_err());
    }

    #[tokio::test]
    async fn a_runtime_api_without_the_extensions_api_is_an_error_that_says_so() {
        let (address, served) = runtime_api("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        let client = runtime_api_client(&address).unwrap();
        let why = register_extension(&client).await.unwrap_err();
        assert!(why.contains("answered 404"), "{why}");
        served.join().unwrap();
    }
}
