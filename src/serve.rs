//! Serving the Router over HTTP, shared by the Kubeless and Knative doors (the Lambda door
//! hands the same Router to the Lambda runtime instead).
//!
//! Shutdown is done once, here: on the signal the listener closes, so new connections are
//! refused, while requests in flight finish. A grace period bounds the wait.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::error::Error;

/// Serves `router` on `listener` until `shutdown` resolves, then drains for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let (draining_tx, draining_rx) = oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        tracing::info!(
            grace_seconds = grace.as_secs_f64(),
            "shutting down: no new connections, finishing requests in flight"
        );
        let _ = draining_tx.send(());
    };
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .into_future();
    let deadline = async move {
        match draining_rx.await {
            Ok(()) => tokio::time::sleep(grace).await,
            // The server ended before any signal; nothing to wait for.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!("grace period over with requests still in flight; exiting anyway");
            Ok(())
        }
    }
}

/// Binds `0.0.0.0:port`, as Kubeless and Knative expect.
pub async fn bind(port: u16) -> io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))).await
}

/// Resolves on SIGTERM (how Kubernetes stops a pod) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without signal handlers the process can only be killed; never shut down on our own.
        _ => std::future::pending().await,
    }
}

/// Binds `port`, serves until SIGTERM/SIGINT, drains, and turns the outcome into an exit code.
pub async fn run(port: u16, router: Router, grace: Duration) -> ExitCode {
    let listener = match bind(port).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(port, %error, "cannot listen");
            eprintln!("{}: cannot listen on port {port}: {error}", program());
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "listening");
    match serve(listener, router, shutdown_signal(), grace).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Reports a configuration error naming its variable, and exits 2 as a usage error does.
pub fn startup_failed(error: &Error) -> ExitCode {
    tracing::error!(%error, "cannot start");
    eprintln!("{}: {error}", program());
    ExitCode::from(2)
}

/// This binary's name, for messages.
fn program() -> String {
    std::env::args()
        .next()
        .and_then(|path| {
            std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "wx-stats".to_string())
}
