//! Memory with a hard ceiling: a flood of distinct requests over a year of observations, each
//! answer different and most of them kept, against a door with the default cache. Its peak
//! RSS (VmHWM) must stay within the ceiling the README states.

mod support;

use std::time::{Duration, Instant};

use support::bed::Bed;
use support::doors::KNATIVE;
use support::load::status_kib;

/// The README's ceiling for a door with the default settings (CACHE_MAX_BYTES=16MiB), in MiB.
const CEILING_MIB: u64 = 48;
/// Distinct requests in the flood, and how many run at once.
const DISTINCT: usize = 2000;
const CONCURRENCY: usize = 8;
/// The flood stops here whether or not every request was sent.
const LIMIT: Duration = Duration::from_secs(150);

/// A year of observations, one every 2 minutes as the station writes them, between 20 and 100
/// degrees.
fn a_year() -> Vec<(Duration, f64)> {
    (0..366 * 720u64)
        .map(|slot| {
            let age = Duration::from_secs(60 + slot * 120);
            (age, 20.0 + (slot * 37 % 801) as f64 / 10.0)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_distinct_requests_stays_within_the_stated_ceiling() {
    let year = a_year();
    let mut chunks = year.chunks(25_000);
    let bed = Bed::new("flood", chunks.next().unwrap()).await;
    for chunk in chunks {
        bed.index.add(chunk).await;
    }
    let door = bed.door(KNATIVE).await;
    let pid = door.pid();
    let client = reqwest::Client::new();

    // Bucket widths from 0.041 to about 1.04 degrees: the most buckets an answer may hold
    // (MAX_BUCKETS_SERVED, 2,000, over the year's 80 degrees) down to 77, so answers of a few
    // to some tens of kilobytes, every one a new search and a new cache entry.
    let urls: Vec<String> = (0..DISTINCT)
        .map(|k| {
            let interval = 0.041 + k as f64 * 0.0005;
            format!("{}/?hours=8784&interval={interval}", door.base)
        })
        .collect();
    let started = Instant::now();
    let (mut sent, mut ok, mut bytes) = (0, 0, 0);
    for batch in urls.chunks(CONCURRENCY) {
        if started.elapsed() > LIMIT {
            break;
        }
        let mut answers = tokio::task::JoinSet::new();
        for url in batch {
            let (client, url) = (client.clone(), url.clone());
            answers.spawn(async move {
                let response = client.get(&url).send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.bytes().await.unwrap().len())
            });
        }
        for (status, length) in answers.join_all().await {
            sent += 1;
            ok += u64::from(status == 200);
            bytes += length;
        }
    }
    let peak_mib = status_kib(pid, "VmHWM") as f64 / 1024.0;
    println!(
        "{sent} distinct requests over a year ({} observations) in {:.1} s: {ok} answered 200, \
         {:.1} MiB of answers; the door's peak RSS (VmHWM) {peak_mib:.1} MiB, ceiling {CEILING_MIB} MiB",
        year.len(),
        started.elapsed().as_secs_f64(),
        bytes as f64 / 1_048_576.0
    );
    assert_eq!(ok, sent, "every request answered 200");
    assert!(sent >= 500, "the flood ran: {sent} requests");
    assert!(
        bytes > 16 << 20,
        "the answers outweigh the cache's budget of 16 MiB, so it had to evict"
    );
    assert!(
        peak_mib <= CEILING_MIB as f64,
        "peak RSS {peak_mib:.1} MiB is over the README's ceiling of {CEILING_MIB} MiB"
    );
}
