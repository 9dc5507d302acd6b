//! The arm64 doors, cross-built for aarch64-unknown-linux-gnu and run under qemu-user
//! (`qemu-aarch64-static`) against the real Elasticsearch: they answer as the x86_64 doors do.
//! The Lambda door runs behind cargo-lambda's emulator, as in the parity suite.
//!
//! `tests/arm64` builds the doors and runs these with `TEST_ARM64_BIN_DIR` set. Nothing here is
//! timed: speed under emulation means nothing.

mod support;

use support::emulator::Emulator;
use support::server::Server;
use support::{fetch, original_body};

#[path = "parity/normalise.rs"]
mod normalise;
use normalise::{NORMALISED, normalise};
#[path = "parity/corpus.rs"]
mod corpus;
use corpus::{corpus, diff, parity_bed};

/// The arm64 build of `door`, from `TEST_ARM64_BIN_DIR`.
fn arm64(door: &str) -> String {
    let dir = std::env::var("TEST_ARM64_BIN_DIR")
        .expect("TEST_ARM64_BIN_DIR is not set: tests/arm64 builds the arm64 doors and sets it");
    let path = format!("{dir}/{door}");
    assert!(
        std::path::Path::new(&path).is_file(),
        "no {path}: run tests/arm64"
    );
    path
}

/// Whether the process `pid` is qemu-user running an arm64 program, as support::command starts
/// an arm64 door: proof that the arm64 build answered, not a native one.
fn runs_under_qemu(pid: u32) -> bool {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    exe.ends_with("qemu-aarch64-static")
}

#[tokio::test]
#[ignore = "needs the arm64 doors and qemu-user: tests/arm64"]
async fn the_arm64_knative_door_answers_get_as_elasticsearch_answers_the_original_body() {
    let bed = parity_bed("arm64-original").await;
    let door = Server::start(&arm64("wx-stats-knative"), "PORT", &bed.env()).await;
    assert!(runs_under_qemu(door.pid()), "not under qemu");
    let (status, content_type, body) = fetch("GET", &format!("{}/", door.base)).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    for (field, why) in NORMALISED {
        println!("normalised before comparing: {field}: {why}");
    }
    let ours = normalise("/", &body);
    let elasticsearch = normalise("/", &bed.index.search_text(&original_body()).await);
    println!(
        "arm64 Knative door, GET /: {} bytes, as Elasticsearch's own answer",
        body.len()
    );
    assert!(
        ours == elasticsearch,
        "the arm64 door's GET / differs from Elasticsearch's answer:\n{}",
        diff(&elasticsearch, &ours)
    );
}

#[tokio::test]
#[ignore = "needs the arm64 doors and qemu-user: tests/arm64"]
async fn every_other_parity_case_answers_on_arm64_as_on_x86_64() {
    let bed = parity_bed("arm64-parity").await;
    let index = &bed.index.name;
    let x86_64 = Server::start(support::doors::KNATIVE, "PORT", &bed.env()).await;
    let knative = Server::start(&arm64("wx-stats-knative"), "PORT", &bed.env()).await;
    let lambda = Emulator::start_binary(&arm64("wx-stats-lambda"), &bed.env()).await;
    assert!(runs_under_qemu(knative.pid()), "not under qemu");
    let lambda_base = lambda.function_url().trim_end_matches('/').to_string();
    let doors = [
        ("knative", knative.base.as_str()),
        ("lambda", lambda_base.as_str()),
    ];

    let cases: Vec<_> = corpus().cases.into_iter().step_by(2).collect();
    println!(
        "{:<48} {:>6} {:>14} {:>14}",
        "case", "status", "arm64 knative", "arm64 lambda"
    );
    let mut failures = Vec::new();
    for case in &cases {
        let reference = case.send(&x86_64.base, index).await;
        let mut cells = Vec::new();
        for (door, base) in doors {
            let answer = case.send(base, index).await;
            let same = answer == reference;
            if !same {
                failures.push(format!(
                    "{} on the arm64 {door} door: {answer:?}\n   vs x86_64 {reference:?}\n{}",
                    case.name,
                    diff(&reference.body, &answer.body)
                ));
            }
            cells.push(if same { "ok" } else { "FAIL" });
        }
        println!(
            "{:<48} {:>6} {:>14} {:>14}",
            case.name, reference.status, cells[0], cells[1]
        );
    }
    println!(
        "\n{} cases x 2 arm64 doors against the x86_64 Knative door",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
