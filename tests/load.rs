//! Load and memory: many requests with the cache off, against one door and the real
//! Elasticsearch. Every answer must be a 200, and the door's memory must stay flat.
//!
//! Ignored by default (it takes a minute and both cores): `tests/run` runs it alone with
//! `cargo test --test load -- --ignored --nocapture`. `LOAD_REQUESTS` (default 100000) and
//! `LOAD_CONCURRENCY` (default 256) size it.

mod support;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use support::bed::Bed;
use support::doors::KUBELESS;
use support::load::{Load, LoadReport, rss_kib};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

fn describe(phase: &str, report: &LoadReport, rss: u64) -> String {
    format!(
        "{phase}: {} requests in {:.1} s ({:.0} req/s), by status {:?}, {} without an answer, \
         slowest {:?}, door RSS {:.1} MiB",
        report.sent(),
        report.elapsed.as_secs_f64(),
        report.sent() as f64 / report.elapsed.as_secs_f64(),
        report.statuses,
        report.transport_errors,
        report.slowest,
        rss as f64 / 1024.0
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a minute of load on both cores: run alone by tests/run"]
async fn memory_stays_flat_under_load_with_the_cache_off() {
    let requests = setting("LOAD_REQUESTS", 100_000);
    let concurrency = setting("LOAD_CONCURRENCY", 256) as usize;
    let warm_up = requests / 10;
    let bed = Bed::new(
        "load",
        &[
            (Duration::from_secs(600), 68.0),
            (Duration::from_secs(1200), 71.5),
        ],
    )
    .await;
    let door = bed.door_with(KUBELESS, &[("CACHE_TTL", "0")]).await;
    let load = |requests| Load {
        url: format!("{}/?format=buckets", door.base),
        requests,
        concurrency,
        limit: Duration::from_secs(600),
        pause: Duration::ZERO,
        request_timeout: Duration::from_secs(30),
    };
    let never = Arc::new(AtomicBool::new(false));

    let first = load(warm_up).run(never.clone()).await;
    let rss_first = rss_kib(door.pid());
    eprintln!("{}", describe("first tenth", &first, rss_first));
    let rest = load(requests - warm_up).run(never).await;
    let rss_after = rss_kib(door.pid());
    eprintln!("{}", describe("the rest", &rest, rss_after));
    let growth = rss_after as f64 / rss_first as f64 - 1.0;
    eprintln!(
        "LOAD requests={requests} concurrency={concurrency} unexpected={} rss_first_mib={:.1} \
         rss_after_mib={:.1} growth={:+.1}%",
        first.unexpected(&[200]) + rest.unexpected(&[200]),
        rss_first as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        growth * 100.0
    );

    assert_eq!(
        first.sent() + rest.sent(),
        requests,
        "the run stopped early"
    );
    assert_eq!(first.unexpected(&[200]), 0, "{first:?}");
    assert_eq!(rest.unexpected(&[200]), 0, "{rest:?}");
    assert!(growth <= 0.10, "RSS grew by {:.1}%", growth * 100.0);
}
