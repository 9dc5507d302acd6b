//! What the fuzz targets check, shared so each target stays a few lines.

use std::net::TcpListener;
use std::sync::{LazyLock, Mutex};

use axum::Router;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tokio::runtime::Runtime;
use wx_stats::Stats;
use wx_stats::door::lambda::event::{Invocation, classify, handle};
use wx_stats::http::app::{AppState, router};
use wx_stats::query::{MAX_HOURS, MAX_INTERVAL, StatsRequest};

/// `ES_INDEX_ALLOW` for the query target: two patterns, as an operator might set it.
pub const ALLOWED_INDICES: &str = "wx-rtbeat-*, archive-2026.*";

/// What every accepted request must satisfy, whatever it asked for.
pub fn assert_safe_request(request: &StatsRequest) {
    let query = &request.query;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@');
    assert!(
        query.field.chars().all(plain) && !query.field.split('.').any(str::is_empty),
        "field {:?} is not a plain field path",
        query.field
    );
    if let Some(index) = &query.index {
        assert!(
            index.starts_with("wx-rtbeat-") || index.starts_with("archive-2026."),
            "index {index:?} is outside {ALLOWED_INDICES}"
        );
        assert!(
            index.chars().all(|c| c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, '-' | '_' | '.' | '*')),
            "index {index:?} could change the search URL"
        );
    }
    assert!(
        (1..=MAX_HOURS).contains(&query.hours),
        "hours {}",
        query.hours
    );
    assert!(
        query.interval > 0.0 && query.interval <= MAX_INTERVAL,
        "interval {}",
        query.interval
    );
    for body in [query.body(), query.body_with_bounds(Some((-40.5, 120.25)))] {
        let histogram = &body["aggs"]["temps"]["histogram"];
        assert_eq!(histogram["field"], query.field.as_str());
        assert!(histogram["interval"].as_f64().is_some_and(|i| i > 0.0));
        assert_eq!(
            body["query"]["range"]["@timestamp"]["gt"],
            format!("now-{}h", query.hours)
        );
        assert_reads_back(&body);
    }
}

/// The text sent reads back as the body built. serde_json's default float parsing may land a
/// unit in the last place away (Elasticsearch's does not), so the interval need only be close.
fn assert_reads_back(body: &Value) {
    let mut sent: Value = serde_json::from_str(&body.to_string()).expect("the body is JSON");
    let mut built = body.clone();
    let interval = |body: &mut Value| body["aggs"]["temps"]["histogram"]["interval"].take();
    let (sent_interval, built_interval) = (interval(&mut sent), interval(&mut built));
    assert_eq!(sent, built);
    let (Some(sent_interval), Some(built_interval)) =
        (sent_interval.as_f64(), built_interval.as_f64())
    else {
        panic!("the interval is not a number: {body}");
    };
    assert!(
        (sent_interval - built_interval).abs() <= built_interval * 4.0 * f64::EPSILON,
        "interval {built_interval} reads back as {sent_interval}"
    );
}

/// The last panic raised inside lambda_http during the current input, shown if the input
/// crashes after all.
static LAMBDA_HTTP_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// The crates lambda_http turns an event into a request with: aws_lambda_events under it, and
/// query_map, the type of an event's query parameters.
const EVENT_DECODING_CRATES: [&str; 3] = ["/lambda_http-", "/aws_lambda_events-", "/query_map-"];

/// lambda_http (and the crates it decodes events with) panics on some malformed HTTP events,
/// and `lambda::handle` catches those panics and answers 400. libFuzzer's panic hook aborts
/// before any catch, so this lets panics raised inside those crates unwind to `handle`, and
/// keeps every other panic a crash.
pub fn let_lambda_http_panics_unwind() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_lambda_http = info.location().is_some_and(|at| {
            EVENT_DECODING_CRATES
                .iter()
                .any(|krate| at.file().contains(krate))
        });
        let mut lambda_http_panic = LAMBDA_HTTP_PANIC.lock().unwrap_or_else(|e| e.into_inner());
        if in_lambda_http {
            *lambda_http_panic = Some(info.to_string());
            return;
        }
        // A crash after a lambda_http panic is most likely that panic, not caught.
        if let Some(earlier) = lambda_http_panic.take() {
            eprintln!("lambda_http {earlier}");
        }
        drop(lambda_http_panic);
        abort(info);
    }));
}

/// One runtime for every input: building one per input would be most of the work.
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
});

/// The Router the Lambda door serves, its Elasticsearch a loopback port nothing listens on:
/// requests that reach a search are answered 503 at once, all others as in production.
static APP: LazyLock<Router> = LazyLock::new(|| {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    let lookup = move |name: &str| match name {
        "ES_URL" => Some(format!("http://127.0.0.1:{port}")),
        "ES_TIMEOUT" => Some("2s".to_string()),
        "CACHE_TTL" => Some("0".to_string()),
        _ => None,
    };
    let stats = Stats::from_lookup(lookup).expect("a valid configuration");
    let _runtime = RUNTIME.enter();
    router(std::sync::Arc::new(AppState::new(stats)))
});

/// Runs one payload through `classify` and `handle`, and checks the answer's shape.
pub fn assert_invocation_answered(payload: Value) {
    *LAMBDA_HTTP_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let invocation = classify(payload.clone());
    let event = LambdaEvent::new(payload, Context::default());
    let answer = RUNTIME
        .block_on(handle(APP.clone(), event))
        .unwrap_or_else(|error| panic!("the invocation failed instead of answering: {error}"));
    match invocation {
        // The event's own response shape; a 500 is a panic or a bug inside the Router.
        Invocation::Http(_) => {
            let status = answer["statusCode"].as_u64();
            assert!(
                status.is_some_and(|s| (200..500).contains(&s) || s == 503),
                "HTTP event answered {answer}"
            );
        }
        // The defaults need Elasticsearch, which is not there.
        Invocation::Scheduled => assert_eq!(answer["status"], 503, "{answer}"),
        // The payload is the parameters: a 400 names a bad one, a 413 a huge body.
        Invocation::Direct(_) => {
            let status = answer["status"].as_u64();
            assert!(
                matches!(status, Some(400 | 413 | 503)),
                "direct invocation answered {answer}"
            );
        }
    }
}
