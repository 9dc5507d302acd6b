//! Work too heavy for the async threads: rendering and compressing large answers.
//!
//! It runs on tokio's blocking threads, and at most one fewer at once than the machine has
//! cores (at least one), so however many large answers are being made, a core is left for the
//! async threads that answer probes and kept answers. Large answers wait their turn instead.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use crate::error::Error;

/// Bytes from which reading, rendering or compressing is heavy: about a millisecond of CPU.
pub(crate) const LARGE_BYTES: usize = 32 * 1024;

/// Turns to run heavy work, shared by the whole process.
static TURNS: OnceLock<Semaphore> = OnceLock::new();

/// Runs `work` on a blocking thread when its turn comes. A panic in it is an internal error.
pub(crate) async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let turns = TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Semaphore::new(cores.saturating_sub(1).max(1))
    });
    let _turn = turns
        .acquire()
        .await
        .map_err(|_| Error::Internal("the heavy-work turns were closed".into()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::Internal(format!("heavy work failed: {error}")))
}
