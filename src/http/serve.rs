//! Serving the Router on a socket, shared by the Kubeless and Knative doors.
//!
//! Shutdown is done once, here: when the shutdown future resolves the listener closes, so new
//! connections are refused, while requests in flight finish. A grace period bounds the wait.
//!
//! This is `axum::serve` with the limits a public server needs, which hyper and axum leave to
//! the program (the README's security section lists them with their defaults):
//! - a connection must deliver its first request head within [`HEADER_READ_TIMEOUT`] of being
//!   accepted, whatever it sends meanwhile: nothing, part of a head, part of HTTP/2's preface
//!   (hyper-util reads those first bytes to choose HTTP/1 or HTTP/2 with no timeout of its own);
//! - a later HTTP/1 head must arrive within the same time (hyper's `header_read_timeout`, which
//!   also closes a kept-alive connection that sends nothing more);
//! - a connection with no request in flight and none started for [`IDLE_TIMEOUT`] is closed
//!   gracefully, HTTP/2 ones included;
//! - a reader that takes nothing of its answer for [`SEND_TIMEOUT`] is disconnected
//!   (`super::stall`), which frees the answer;
//! - HTTP/2 pings an idle peer and drops one that does not answer, and opens no more streams
//!   at once than calls may be in flight.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use super::stall::SendDeadline;

/// A client must send its whole request head within this time: from the connection's accept
/// for the first request, from the end of the last answer for later ones.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection with no request in flight and none begun for this long is closed.
pub const IDLE_TIMEOUT: Duration = HEADER_READ_TIMEOUT;

/// A reader that takes no byte of its answer for this long is disconnected (nginx's
/// `send_timeout`, between two writes that make progress).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an idle HTTP/2 peer is pinged, and how long it has to answer.
pub const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
/// See [`H2_PING_INTERVAL`].
pub const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head read, in bytes: larger ones are answered 431. Our parameters fit in
/// a few hundred bytes; this leaves room for proxies' headers and cookies.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Serves `router` on `listener` until `shutdown` resolves, then drains for at most `grace`.
/// An HTTP/2 connection opens at most `max_in_flight` streams at once. A failed accept is
/// logged and retried, so serving itself cannot fail.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    max_in_flight: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) {
    let http = Arc::new(builder(max_in_flight));
    // Each connection holds a receiver: the send tells them all to finish, and the sender's
    // `closed` resolves once every one has.
    let (stop_connections, stopping) = watch::channel(false);
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
        let connection = serve_connection(http.clone(), stream, router.clone(), stopping.clone());
        tokio::spawn(connection);
    }
    drop((listener, stopping));
    tracing::info!(
        grace_seconds = grace.as_secs_f64(),
        "shutting down: no new connections, finishing requests in flight"
    );
    let _ = stop_connections.send(true);
    tokio::select! {
        () = stop_connections.closed() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over with requests still in flight; exiting anyway");
        }
    }
}

/// hyper's HTTP/1 and HTTP/2 settings.
fn builder(max_in_flight: usize) -> Builder<TokioExecutor> {
    let mut http = Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    // hyper's defenses against reset floods stay at their defaults: a connection is closed
    // once its client has reset 20 streams before we accepted them (the Rapid Reset attack,
    // CVE-2023-44487), or its frames have made us reset 1,024 streams.
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .max_concurrent_streams(u32::try_from(max_in_flight).unwrap_or(u32::MAX))
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    http
}

/// Serves one connection until it ends, its first head is late, it idles, or the server stops.
async fn serve_connection(
    http: Arc<Builder<TokioExecutor>>,
    stream: TcpStream,
    router: Router,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::default());
    let counted = activity.clone();
    // Each request is counted while its handler runs: a few atomic operations, no allocation.
    let service = ServiceExt::<Request<Incoming>>::map_future(router, move |answer| {
        let in_flight = counted.begin();
        async move {
            let answered = answer.await;
            drop(in_flight);
            answered
        }
    });
    let io = TokioIo::new(SendDeadline::new(stream, SEND_TIMEOUT));
    let connection = http.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
    tokio::pin!(connection);
    let mut look = tokio::time::interval_at(
        tokio::time::Instant::now() + HEADER_READ_TIMEOUT,
        IDLE_TIMEOUT,
    );
    let (mut begun_before, mut closing, mut stopped) = (0, false, false);
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            _ = stopping.changed(), if !stopped => {
                stopped = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = look.tick() => {
                let begun = activity.begun.load(Ordering::Relaxed);
                if begun == 0 {
                    tracing::debug!("no request head within the header read timeout: closing");
                    return;
                }
                if begun == begun_before && activity.in_flight.load(Ordering::Relaxed) == 0 {
                    if closing {
                        // Told to finish a look ago, and still open: the peer holds it.
                        return;
                    }
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                begun_before = begun;
            }
        }
    }
}

/// What a connection's requests are doing, for its idle and first-head deadlines.
#[derive(Debug, Default)]
struct Activity {
    /// Requests whose head has arrived, since the connection opened.
    begun: AtomicU64,
    /// Requests whose handler is still running.
    in_flight: AtomicUsize,
}

impl Activity {
    /// Counts a request in, until the returned guard is dropped.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.begun.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// A request counted in flight; dropped when its handler ends or is cancelled.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
