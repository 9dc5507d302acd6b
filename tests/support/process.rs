//! Every child process the tests start: its stdout and stderr in a log file of its own, its PID,
//! a bounded wait for it to exit, and a stop when it is dropped, so that a failing test never
//! leaves one behind.

use std::collections::HashSet;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;

/// How long a stop by SIGTERM waits before it kills.
const TERM_GRACE: Duration = Duration::from_secs(10);

/// How often the waits below look again.
const POLL: Duration = Duration::from_millis(20);

/// How a [`Process`] is stopped when it is dropped while still running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL at once.
    Kill,
    /// SIGTERM, so that it stops what it started itself; SIGKILL if it is still running
    /// [`TERM_GRACE`] later.
    Term,
}

/// A running child process. Dropping it stops it by its PID (never a PID already reaped, which
/// may be another process's by now) and removes its log.
pub struct Process {
    /// `None` once it has been reaped.
    child: Option<Child>,
    pid: u32,
    what: String,
    log: PathBuf,
    stop: Stop,
}

impl Process {
    /// Starts `command` with no stdin and stdout and stderr in a fresh log file; `what` names it
    /// in the log's name and in messages. Dropping it kills it.
    pub fn start(what: &str, command: &mut Command) -> std::io::Result<Process> {
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let log = std::env::temp_dir().join(format!(
            "wx-stats-test-{what}-{}-{}.log",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        ));
        let out = File::create(&log)?;
        let spawned = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn();
        let child = spawned.inspect_err(|_| {
            let _ = std::fs::remove_file(&log);
        })?;
        Ok(Process {
            pid: child.id(),
            child: Some(child),
            what: what.to_string(),
            log,
            stop: Stop::Kill,
        })
    }

    /// The same process, stopped as `stop` says when dropped.
    pub fn stopped_by(mut self, stop: Stop) -> Process {
        self.stop = stop;
        self
    }

    /// The process id, e.g. to send it a signal.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still the one started, alive.
    pub fn is_running(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(_)) | Err(_) => false,
        }
    }

    /// Sends `signal` (e.g. "TERM", "STOP") to the process, which must still be running: a
    /// test that signals a process that has already gone fails here.
    pub fn signal(&mut self, signal: &str) {
        assert!(
            self.is_running(),
            "{} exited before it could be sent SIG{signal}; its log:\n{}",
            self.what,
            self.log()
        );
        send_signal(self.pid, signal);
    }

    /// Waits up to `limit` for the process to exit; its exit code, or `None` if it is still
    /// running then (or was ended by a signal).
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGTERM unless it has exited already, then waits up to `limit` for the exit code.
    pub async fn terminate(&mut self, limit: Duration) -> Option<i32> {
        if self.is_running() {
            send_signal(self.pid, "TERM");
        }
        self.wait_exit(limit).await
    }

    /// Waits up to `limit` for a whole line of the log that `pick` finds something in, and
    /// returns that. Gives up early if the process exits, and says why it gave up, log included.
    pub async fn wait_for_line<T>(
        &mut self,
        limit: Duration,
        pick: impl Fn(&str) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            // Read before asking whether it exited, so a line written just before the exit
            // is seen.
            let log = self.log();
            let lines = log
                .split_inclusive('\n')
                .filter(|line| line.ends_with('\n'));
            if let Some(found) = lines.filter_map(|line| pick(line.trim_end())).next() {
                return Ok(found);
            }
            if !self.is_running() {
                return Err(format!("{} exited; its log:\n{log}", self.what));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "{} wrote no such line within {limit:?}; its log:\n{log}",
                    self.what
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits up to 10 s for the process to accept connections on loopback `port`. Gives up
    /// early if it exits, and says why it gave up.
    pub async fn wait_listening(&mut self, port: u16) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if !self.is_running() {
                return Err(format!(
                    "{} exited before listening on port {port}",
                    self.what
                ));
            }
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
        Err(format!(
            "{} did not listen on port {port} within 10 s",
            self.what
        ))
    }

    /// Waits up to 10 s for the process to listen on a TCP port that `wanted` accepts, as the
    /// kernel lists the process's own sockets, and returns it: for a child told to take any
    /// free port (port 0) that does not say which it got.
    pub async fn wait_listening_port(
        &mut self,
        wanted: impl Fn(u16) -> bool,
    ) -> Result<u16, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if !self.is_running() {
                return Err(format!("{} exited before listening", self.what));
            }
            if let Some(port) = self
                .listening_ports()
                .into_iter()
                .find(|port| wanted(*port))
            {
                return Ok(port);
            }
            tokio::time::sleep(POLL).await;
        }
        Err(format!("{} did not listen within 10 s", self.what))
    }

    /// The TCP ports this process listens on: its sockets (the links in /proc/PID/fd) that
    /// /proc/PID/net/tcp and tcp6 list in state LISTEN.
    fn listening_ports(&self) -> Vec<u16> {
        let proc = PathBuf::from(format!("/proc/{}", self.pid));
        let inodes: HashSet<String> = std::fs::read_dir(proc.join("fd"))
            .into_iter()
            .flatten()
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter_map(|target| {
                let target = target.to_str()?;
                let inode = target.strip_prefix("socket:[")?.strip_suffix(']')?;
                Some(inode.to_string())
            })
            .collect();
        let tables = ["tcp", "tcp6"]
            .map(|table| std::fs::read_to_string(proc.join("net").join(table)).unwrap_or_default());
        // `sl local_address rem_address st … inode`: the address as HEX:HEXPORT, LISTEN as 0A.
        tables
            .iter()
            .flat_map(|table| table.lines().skip(1))
            .map(|row| row.split_whitespace().collect::<Vec<_>>())
            .filter(|fields| fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]))
            .filter_map(|fields| u16::from_str_radix(fields[1].rsplit(':').next()?, 16).ok())
            .collect()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.is_running()
            && let Some(mut child) = self.child.take()
        {
            if self.stop == Stop::Term {
                // Quietly: it may exit meanwhile, and a panic in a drop may abort the test.
                let _ = Command::new("kill")
                    .args(["-TERM", &self.pid.to_string()])
                    .status();
                let deadline = std::time::Instant::now() + TERM_GRACE;
                while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                    std::thread::sleep(POLL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Sends `signal` (e.g. "TERM") to `pid` with kill(1).
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}
