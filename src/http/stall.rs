//! A socket whose writes fail once its reader has taken nothing for a while.
//!
//! hyper writes an answer as fast as the reader takes it, for as long as it takes: a client
//! that asks and never reads would hold its connection, and the answer's memory, for ever.
//! [`SendDeadline`] starts a timer when a write cannot proceed (the socket's buffers are full)
//! and stops it when one does; if it runs out first, the write fails with `TimedOut`, hyper
//! closes the connection and drops the answer. A reader that keeps taking bytes, however
//! slowly, is never cut off by it; one that stops is, after the limit. Reads pass through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `io`, whose writes fail after `limit` without progress.
#[derive(Debug)]
pub(super) struct SendDeadline<IO> {
    io: IO,
    /// Running while a write waits on a full buffer: made at the first such wait and kept
    /// for the next, so a reader that never falls behind costs nothing.
    stalled: Option<Pin<Box<Sleep>>>,
    armed: bool,
    limit: Duration,
}

impl<IO> SendDeadline<IO> {
    /// Wraps `io`.
    pub(super) fn new(io: IO, limit: Duration) -> Self {
        SendDeadline {
            io,
            stalled: None,
            armed: false,
            limit,
        }
    }
}

impl<IO: AsyncWrite + Unpin> SendDeadline<IO> {
    /// Passes on what `write` made of the socket: progress disarms the timer; a wait arms it,
    /// and fails once it has run out.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut IO>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match write(Pin::new(&mut self.io), cx) {
            Poll::Ready(written) => {
                self.armed = false;
                Poll::Ready(written)
            }
            Poll::Pending => {
                let deadline = Instant::now() + self.limit;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !self.armed {
                    self.armed = true;
                    stalled.as_mut().reset(deadline);
                }
                ready!(stalled.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the reader took nothing for {:?}", self.limit),
                )))
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for SendDeadline<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for SendDeadline<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().guard(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .guard(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().guard(cx, |io, cx| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    const LIMIT: Duration = Duration::from_millis(300);

    /// A pipe that holds 64 bytes, whose reader takes nothing: the write fails at the limit.
    #[tokio::test]
    async fn a_write_that_makes_no_progress_fails_at_the_limit() {
        let (ours, _reader) = duplex(64);
        let mut guarded = SendDeadline::new(ours, LIMIT);
        let started = Instant::now();
        let written = tokio::time::timeout(Duration::from_secs(5), guarded.write_all(&[7; 4096]))
            .await
            .expect("the write must fail at the limit, not wait for ever");
        let error = written.expect_err("nothing was read, so the write cannot succeed");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= LIMIT, "{:?}", started.elapsed());
    }

    /// A reader that takes 64 bytes every 100 ms, a third of the limit, is never cut off.
    #[tokio::test]
    async fn a_slow_reader_that_keeps_reading_is_served_whole() {
        let (ours, mut reader) = duplex(64);
        let mut guarded = SendDeadline::new(ours, LIMIT);
        let reading = tokio::spawn(async move {
            let (mut total, mut chunk) = (0, [0u8; 64]);
            while let Ok(n) = reader.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                total += n;
                tokio::time::sleep(LIMIT / 3).await;
            }
            total
        });
        guarded.write_all(&[7; 1024]).await.unwrap();
        guarded.shutdown().await.unwrap();
        drop(guarded);
        assert_eq!(reading.await.unwrap(), 1024);
    }
}
