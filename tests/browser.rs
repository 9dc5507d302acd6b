//! The HTML page in a real Chromium, from every door: `tests/browser/check.mjs` (puppeteer-core
//! driving Debian's chromium, axe-core for accessibility) loads each door's function URL as a
//! browser does, the Lambda door's through cargo-lambda's emulator, and checks the page's
//! structure, its Content-Security-Policy, the form with and without JavaScript, a bad input,
//! and axe-core's rules at a phone's and a desktop's width in light and dark. Screenshots land in
//! `browser/` in cargo's target directory. Another test keeps the page open on a door with a
//! 2 s `CACHE_TTL` and counts the page's own re-fetches: 304s, but for one 200 at most.
//!
//! Ignored by `cargo test`: they need Chromium and the node modules, which `tests/run` installs
//! (`tests/browser/install`) before it runs them with `--ignored`. `tests/browser/README.md`
//! says how to run them alone.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::bed::Bed;
use support::doors::KUBELESS;
use support::histogram::observations;
use support::process::Process;

/// Longer than check.mjs's own deadline (180 s, plus a refresh run's seconds), which ends it
/// with a report first: this one only keeps a stuck node from holding the test forever.
const CHECK_LIMIT: Duration = Duration::from_secs(300);

/// How long the refresh test keeps the page open: four periods of a 2 s `CACHE_TTL`, and a bit.
const REFRESH_SECONDS: u32 = 9;

/// Where the screenshots go: `browser/` in cargo's target directory, as `tests/cargo-target-dir`
/// finds it (`CARGO_TARGET_DIR` or a cargo config may move it).
fn screenshot_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cargo-target-dir");
        let output = Command::new(script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        assert!(
            output.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Path::new(String::from_utf8_lossy(&output.stdout).trim()).join("browser")
    })
    .clone()
}

/// Runs check.mjs on `url` as `door` with `more` arguments, bounded by [`CHECK_LIMIT`]: its
/// output when it passes; when it fails, the failure, its output included.
async fn check(url: &str, door: &str, more: &[&str]) -> Result<String, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/check.mjs");
    let dir = screenshot_dir();
    let mut command = Command::new("node");
    command.arg(script).arg(url).arg(door).arg(&dir).args(more);
    let mut node = Process::start(&format!("check-{door}"), &mut command).unwrap_or_else(|e| {
        panic!(
            "cannot run node ({e}): install Node.js 18 or newer (Debian: apt-get install nodejs)"
        )
    });
    let started = Instant::now();
    let code = node.wait_exit(CHECK_LIMIT).await;
    let output = node.log();
    println!(
        "check.mjs {door} ({:.1} s):\n{output}",
        started.elapsed().as_secs_f64()
    );
    match code {
        Some(0) => Ok(output),
        Some(code) => Err(format!("check.mjs {door} {url} exited {code}:\n{output}")),
        None => Err(format!(
            "check.mjs {door} {url} did not exit within {CHECK_LIMIT:?}:\n{output}"
        )),
    }
}

#[tokio::test]
#[ignore = "needs Chromium and tests/browser's node modules: tests/browser/install, as tests/run does"]
async fn every_door_serves_a_page_that_works_in_chromium() {
    let bed = Bed::new("browser", &observations()).await;
    let doors = bed.doors().await;
    // Every door is checked before any failure is reported, so one run shows them all.
    let mut failures = Vec::new();
    for (door, url) in doors.functions() {
        if let Err(failure) = check(&url, door, &[]).await {
            failures.push(failure);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("screenshots: {}", screenshot_dir().display());
}

#[tokio::test]
#[ignore = "needs Chromium and tests/browser's node modules: tests/browser/install, as tests/run does"]
async fn the_page_refreshes_itself_with_conditional_requests() {
    let bed = Bed::new("browser-refresh", &observations()).await;
    let door = bed.door_with(KUBELESS, &[("CACHE_TTL", "2s")]).await;
    let seconds = REFRESH_SECONDS.to_string();
    let url = format!("{}/", door.base);
    if let Err(failure) = check(&url, "kubeless", &["--refresh-seconds", &seconds]).await {
        panic!("{failure}");
    }
}
