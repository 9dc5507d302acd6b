//! The command-line door against a real Elasticsearch.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::bed::Bed;
use support::histogram::{es_buckets, histogram, hours};
use support::{original_body, run, total_hits, without_took};

const CLI: &str = env!("CARGO_BIN_EXE_wx-stats");

/// Observations at known ages. Inside the window: bucket edges (68.0, 66.0), values that
/// half_float rounding moves to the next bucket (69.99 → 70.0, 67.99 → 68.0, 71.99 → 72.0), a
/// value rounding moves down (31.99 → 31.984), and negatives. Outside it: older than 24 h.
fn observations() -> Vec<(Duration, f64)> {
    let inside = [
        68.0, 69.99, 67.99, 66.0, 70.0, 71.99, 65.5, 31.99, -3.2, 100.03, 68.5, 69.0,
    ];
    let outside = [69.99, 40.0, 120.0, 68.0];
    let mut all: Vec<(Duration, f64)> = inside
        .iter()
        .enumerate()
        .map(|(i, &t)| (hours(0.5 + i as f64 * 1.9), t))
        .collect();
    all.extend(
        outside
            .iter()
            .enumerate()
            .map(|(i, &t)| (hours(25.0 + i as f64 * 10.0), t)),
    );
    all
}

#[tokio::test]
async fn cli_prints_the_histogram_elasticsearch_computes() {
    let observations = observations();
    let bed = Bed::new("cli", &observations).await;

    let output = run(CLI, &[], &bed.env());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "wx-stats failed: {stderr}");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();

    let inside: Vec<f64> = observations
        .iter()
        .filter(|(age, _)| *age < hours(24.0))
        .map(|&(_, t)| t)
        .collect();
    assert_eq!(total_hits(&printed), inside.len() as u64);
    assert_eq!(es_buckets(&printed), histogram(&inside, 2.0, &inside));
    assert!(
        es_buckets(&printed).contains(&(70.0, 2)),
        "69.99 is stored as 70.0 and joins 70.0"
    );

    let direct = bed.index.search(&original_body()).await;
    assert_eq!(
        without_took(printed),
        without_took(direct),
        "the CLI must print what Elasticsearch answers"
    );
}

#[tokio::test]
async fn pretty_prints_the_same_document() {
    let bed = Bed::new("pretty", &[(hours(1.0), 70.0)]).await;
    let plain = run(CLI, &[], &bed.env());
    let pretty = run(CLI, &["--pretty"], &bed.env());
    assert!(pretty.status.success());
    let pretty_text = String::from_utf8(pretty.stdout).unwrap();
    assert!(pretty_text.lines().count() > 5, "{pretty_text}");
    let a: Value = serde_json::from_slice(&plain.stdout).unwrap();
    let b: Value = serde_json::from_str(&pretty_text).unwrap();
    assert_eq!(without_took(a), without_took(b));
}
