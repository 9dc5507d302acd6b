//! The Router inside the test process, built as a door builds it, for tests that need no
//! platform around it. This is the one place tests build it, so a change to how the library
//! assembles its state is made here alone.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use wx_stats::Stats;
use wx_stats::http::app::{AppState, router as app_router};

/// The Router, its state built from `env` (e.g. `HOST`, `ES_INDEX`, `CACHE_TTL`) as a door
/// builds it from its environment.
pub fn router(env: &[(&str, &str)]) -> Router {
    let lookup = |name: &str| {
        env.iter()
            .find(|(variable, _)| *variable == name)
            .map(|(_, value)| value.to_string())
    };
    let stats = Stats::from_lookup(lookup).unwrap_or_else(|e| panic!("{env:?}: {e}"));
    app_router(Arc::new(AppState::new(stats)))
}

/// The Router served on a loopback port by the test's own runtime. Dropping it shuts the
/// server down.
pub struct InProcess {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shutdown: Option<oneshot::Sender<()>>,
}

/// Serves [`router`]`(env)` with the library's own `serve`, on a free loopback port.
pub async fn serve_router(env: &[(&str, &str)]) -> InProcess {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, stop) = oneshot::channel::<()>();
    let stopped = async move {
        let _ = stop.await;
    };
    tokio::spawn(wx_stats::http::serve::serve(
        listener,
        router(env),
        wx_stats::http::shed::DEFAULT_MAX_IN_FLIGHT,
        stopped,
        Duration::from_secs(1),
    ));
    InProcess {
        base,
        shutdown: Some(shutdown),
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
