//! Serving the Router over HTTP, shared by the Kubeless and Knative doors (the Lambda door
//! hands the same Router to the Lambda runtime instead).
//!
//! Shutdown is done once, here: on the signal the listener closes, so new connections are
//! refused, while requests in flight finish. A grace period bounds the wait.
//!
//! This is `axum::serve` with hyper's limits set: axum's defaults have no header read timeout,
//! so a client that sends its headers one byte at a time would hold a connection for ever.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::error::Error;

/// A client must send its whole request head within this time (hyper answers 408 otherwise).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head read, in bytes: larger ones are answered 431. Our parameters fit in
/// a few hundred bytes; this leaves room for proxies' headers and cookies.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Serves `router` on `listener` until `shutdown` resolves, then drains for at most `grace`.
/// A failed accept is logged and retried, so serving itself cannot fail.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) {
    let connections = GracefulShutdown::new();
    let mut http = Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Usually out of file descriptors: wait for some to be freed, as axum does.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = http
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        grace_seconds = grace.as_secs_f64(),
        "shutting down: no new connections, finishing requests in flight"
    );
    tokio::select! {
        () = connections.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over with requests still in flight; exiting anyway");
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
    serve(listener, router, shutdown_signal(), grace).await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
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
