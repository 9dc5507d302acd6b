//! A bounded load generator: `concurrency` workers share a budget of requests and a deadline,
//! and every answer is tallied by status, so a test can say exactly what came back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// What a load run got back.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no HTTP answer (refused, reset, or past the client's timeout).
    pub transport_errors: u64,
    /// The longest wait for one answer.
    pub slowest: Duration,
    /// How long the run took.
    pub elapsed: Duration,
}

impl LoadReport {
    /// Every request sent, answered or not.
    pub fn sent(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.transport_errors
    }

    /// Answers whose status is not in `expected`, plus requests with no answer.
    pub fn unexpected(&self, expected: &[u16]) -> u64 {
        let others: u64 = self
            .statuses
            .iter()
            .filter(|(status, _)| !expected.contains(status))
            .map(|(_, count)| count)
            .sum();
        others + self.transport_errors
    }
}

/// The limits of one run. Every run stops at `requests` or `limit`, whichever comes first, or
/// when `stop` is set.
pub struct Load {
    /// GET this URL.
    pub url: String,
    /// How many requests in all.
    pub requests: u64,
    /// How many at once.
    pub concurrency: usize,
    /// The longest the run may take.
    pub limit: Duration,
    /// A pause after each answer, per worker: bounds the rate when answers come back instantly.
    pub pause: Duration,
    /// The client gives up on one request after this long.
    pub request_timeout: Duration,
}

impl Load {
    /// Runs until the budget, the deadline or `stop`.
    pub async fn run(&self, stop: Arc<AtomicBool>) -> LoadReport {
        let client = reqwest::Client::builder()
            .timeout(self.request_timeout)
            .pool_max_idle_per_host(self.concurrency)
            .build()
            .unwrap();
        let issued = Arc::new(AtomicU64::new(0));
        let report = Arc::new(Mutex::new(LoadReport::default()));
        let started = Instant::now();
        let deadline = started + self.limit;
        let workers: Vec<_> = (0..self.concurrency)
            .map(|_| {
                let (client, url, issued, report, stop) = (
                    client.clone(),
                    self.url.clone(),
                    issued.clone(),
                    report.clone(),
                    stop.clone(),
                );
                let (budget, pause) = (self.requests, self.pause);
                tokio::spawn(async move {
                    while issued.fetch_add(1, Ordering::Relaxed) < budget
                        && Instant::now() < deadline
                        && !stop.load(Ordering::Relaxed)
                    {
                        let sent = Instant::now();
                        let outcome = match client.get(&url).send().await {
                            // Read the body too: a request is done when its answer is.
                            Ok(response) => {
                                let status = response.status().as_u16();
                                response.bytes().await.ok().map(|_| status)
                            }
                            Err(_) => None,
                        };
                        let waited = sent.elapsed();
                        let mut report = report.lock().await;
                        report.slowest = report.slowest.max(waited);
                        match outcome {
                            Some(status) => *report.statuses.entry(status).or_default() += 1,
                            None => report.transport_errors += 1,
                        }
                        drop(report);
                        if !pause.is_zero() {
                            tokio::time::sleep(pause).await;
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
        let mut report = std::mem::take(&mut *report.lock().await);
        report.elapsed = started.elapsed();
        report
    }
}

/// The resident set size of process `pid`, in KiB (`VmRSS` in /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// A field of /proc/PID/status in KiB, e.g. `VmRSS` or `VmHWM` (the peak resident set size).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
