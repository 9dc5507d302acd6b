//! The Lambda door and Lambda's Runtime API: many invocations at once in one process, as Lambda
//! Managed Instances send them, and a last log line when the environment shuts down.
//!
//! Managed Instances run through cargo-lambda's emulator: its Runtime API hands each of the
//! function's concurrent `next` polls an invocation of its own. (`cargo lambda watch
//! --concurrency N` instead starts N processes, and sets `AWS_LAMBDA_MAX_CONCURRENCY=1` in each.)
//! Shutdown runs under the AWS Lambda RIE, which sends SIGTERM as Lambda does; and the RIE with
//! extensions disabled is a Runtime API without the Extensions API the door registers with.

mod support;

use std::time::{Duration, Instant};

use support::bed::Bed;
use support::emulator::Emulator;
use support::histogram::observations;
use support::rie::Rie;
use support::server::slow_requests_proxy;
use support::{CALL_LINES, es_host};

/// Every search takes this long longer: eight at once must take about one of these, not eight.
const SLOW: Duration = Duration::from_secs(1);

/// Sends every URL at once through the function URL; each answer's status, and the time the
/// last one took.
async fn all_at_once(urls: Vec<String>) -> (Vec<u16>, Duration) {
    let started = Instant::now();
    let calls: Vec<_> = urls
        .into_iter()
        .map(|url| tokio::spawn(async move { support::fetch("GET", &url).await.0 }))
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap());
    }
    (statuses, started.elapsed())
}

/// The call lines the function wrote: one per invocation it answered.
fn calls_logged(emulator: &Emulator) -> usize {
    let log = emulator.function_log();
    log.lines().filter(|line| line.contains(" call ")).count()
}

#[tokio::test]
async fn with_max_concurrency_8_one_process_answers_8_invocations_at_once() {
    let bed = Bed::new("lambda-managed-instances", &observations()).await;
    let slow = slow_requests_proxy(es_host(), SLOW).await;
    let env = [
        bed.env_via(&slow),
        vec![
            ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
            // Each call's `call` line is written at debug level.
            ("RUST_LOG", CALL_LINES),
        ],
    ]
    .concat();
    let mut emulator = Emulator::start(&env).await;
    let function = emulator.function_url();

    // One question first, so that the door knows the field's range (kept a minute): each of
    // the eight then makes one search, its histogram's.
    let (learnt, _) = all_at_once(vec![format!("{function}?format=csv")]).await;
    assert_eq!(learnt, [200]);
    // Eight different questions: nothing can be shared, so they are fast only if concurrent.
    let before = bed.index.searches().await;
    let different = (1..=8)
        .map(|hours| format!("{function}?hours={hours}"))
        .collect();
    let (statuses, took) = all_at_once(different).await;
    let searches = bed.index.searches().await - before;
    println!(
        "8 different invocations, each search slowed by {SLOW:?}: {took:?}, {searches} searches"
    );
    assert_eq!(statuses, [200; 8]);
    assert!(
        took < 2 * SLOW,
        "8 invocations at AWS_LAMBDA_MAX_CONCURRENCY=8 took {took:?}: they ran one after another"
    );
    assert_eq!(searches, 8, "8 different questions are 8 searches");

    // Eight of the same question share the process's cache and coalescing: one search.
    let before = bed.index.searches().await;
    let same = vec![format!("{function}?hours=12"); 8];
    let (statuses, took) = all_at_once(same).await;
    let searches = bed.index.searches().await - before;
    println!("8 identical invocations: {took:?}, {searches} search(es)");
    assert_eq!(statuses, [200; 8]);
    assert!(took < 2 * SLOW, "8 identical invocations took {took:?}");
    assert_eq!(
        searches, 1,
        "8 identical invocations in one process share one search"
    );

    // One process answered all seventeen (the first question, then sixteen): the one started,
    // still running, and its log has them.
    assert!(
        emulator.function_is_running(),
        "{}",
        emulator.function_log()
    );
    assert_eq!(calls_logged(&emulator), 17, "{}", emulator.function_log());
    // cargo-lambda's Runtime API has the Extensions API: the door's extension registered.
    assert_eq!(
        shutdown_warnings(&emulator.function_log()),
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn on_shutdown_the_function_writes_a_last_line_with_its_totals() {
    let mut rie = Rie::start(&[("HOST", "127.0.0.1:1")]).await;
    let event = serde_json::from_str(include_str!("fixtures/apigw-http.json")).unwrap();
    let answer = rie.invoke(&event, "before-shutdown").await;
    assert_eq!(answer["statusCode"], 503, "{answer}");

    let exit = rie.terminate().await;
    let log = rie.log();
    println!("{log}");
    assert_eq!(
        exit,
        Some(0),
        "the emulator stops cleanly on SIGTERM:\n{log}"
    );
    let last = log
        .lines()
        .find(|line| line.contains("lambda door shutting down"))
        .unwrap_or_else(|| {
            panic!("no shutdown line: the function was killed, not stopped:\n{log}")
        });
    assert!(
        last.contains("calls=1") && last.contains("failures=1"),
        "the last line counts the one call, which failed (503): {last}"
    );
    assert_eq!(
        shutdown_warnings(&log),
        Vec::<&str>::new(),
        "the extension was registered"
    );
}

/// The function's warnings about its graceful shutdown or its extension. The emulator's own
/// lines say `[WARNING]`, the function's ` WARN `.
fn shutdown_warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains(" WARN "))
        .filter(|line| line.contains("graceful shutdown") || line.contains("extension"))
        .collect()
}

/// A Runtime API without the Extensions API: the RIE with extensions disabled, as a Lambda layer
/// disables them (its every Extensions API route answers 404). cargo-lambda's emulator (since
/// 1.8.5) and the RIE as usually run both have the Extensions API. lambda_runtime's
/// graceful-shutdown handler panicked here, and the panic's text reached the function's stderr.
#[tokio::test]
async fn without_an_extensions_api_the_function_warns_once_and_answers() {
    let rie = Rie::start_without_extensions(&[("HOST", "127.0.0.1:1")]).await;
    let event = serde_json::from_str(include_str!("fixtures/apigw-http.json")).unwrap();
    for request_id in ["first", "second"] {
        let answer = rie.invoke(&event, request_id).await;
        assert_eq!(answer["statusCode"], 503, "{answer}\n{}", rie.log());
    }
    let log = rie.log();
    println!("{log}");
    assert!(
        log.contains("Extensions disabled"),
        "the emulator ran with extensions disabled:\n{log}"
    );
    let warnings = shutdown_warnings(&log);
    assert_eq!(warnings.len(), 1, "one warning:\n{log}");
    assert!(
        warnings[0].contains("no graceful shutdown") && warnings[0].contains("404"),
        "it says what is missing and why: {}",
        warnings[0]
    );
    assert!(!log.contains("panicked"), "no panic text:\n{log}");
}
