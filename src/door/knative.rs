//! The Knative Serving (and Cloud Run) door: HTTP on `PORT`, draining on SIGTERM, JSON log
//! lines on stdout labelled with the service's name. With no `K_SERVICE` it is plain HTTP on
//! `PORT`, which is what the one image serves when no platform is named.
//!
//! `REVISION_TIMEOUT_SECONDS` is the revision's `timeoutSeconds`, the moment Knative's
//! queue-proxy gives up on a request with a plain-text 504. Given the same value, the door
//! gives each call that deadline, so a slow Elasticsearch is answered with our JSON 504 first.

use std::time::Duration;

use super::HttpDoor;
use crate::config::Env;
use crate::error::Error;

/// The longest `REVISION_TIMEOUT_SECONDS` accepted: a day, far above what Knative (600 s unless
/// the cluster raises `max-revision-timeout-seconds`) or Cloud Run (3600 s) allow, and small
/// enough that a deadline this far ahead is always a valid instant.
pub(super) const MAX_REVISION_TIMEOUT_SECONDS: u64 = 24 * 60 * 60;

/// The variables that name a Knative service; each labels every log line when set.
const SERVICE_LABELS: [&str; 3] = ["K_SERVICE", "K_REVISION", "K_CONFIGURATION"];

/// The Knative door's settings: `PORT`, `REVISION_TIMEOUT_SECONDS`, and the service's name,
/// which labels every log line and is the `ce-source` of reply events.
pub(super) fn door(env: &Env) -> Result<HttpDoor, Error> {
    let span = tracing::info_span!(
        "service",
        K_SERVICE = tracing::field::Empty,
        K_REVISION = tracing::field::Empty,
        K_CONFIGURATION = tracing::field::Empty
    );
    for label in SERVICE_LABELS {
        if let Some(value) = env.get(label) {
            span.record(label, value.as_str());
        }
    }
    let service = env.get_or("K_SERVICE", "wx-stats");
    Ok(HttpDoor {
        name: "knative",
        span,
        event_source: format!("/{service}"),
        ..plain_http(env)?
    })
}

/// Where the function runs, for its traces' Resource: the service, its revision (the version
/// being served) and its configuration.
pub(super) fn resource(env: &Env) -> Vec<(String, String)> {
    let named = [
        ("service.name", "K_SERVICE"),
        ("faas.name", "K_SERVICE"),
        ("service.version", "K_REVISION"),
        ("faas.version", "K_REVISION"),
        ("knative.revision.name", "K_REVISION"),
        ("knative.configuration.name", "K_CONFIGURATION"),
    ];
    named
        .iter()
        .filter_map(|(key, variable)| Some((key.to_string(), env.get(variable)?)))
        .collect()
}

/// Plain HTTP on `PORT`, as the Knative door serves it: the one image's entry point when no
/// platform is named. It logs as itself, so its logs do not claim a Knative service.
pub(super) fn plain_http(env: &Env) -> Result<HttpDoor, Error> {
    Ok(HttpDoor {
        function_timeout: revision_timeout(env)?,
        ..HttpDoor::new("http", "PORT", env)?
    })
}

/// `REVISION_TIMEOUT_SECONDS` as the queue-proxy reads it: whole seconds, with no unit.
fn revision_timeout(env: &Env) -> Result<Option<Duration>, Error> {
    env.parse("REVISION_TIMEOUT_SECONDS", |text| {
        text.parse::<u64>()
            .ok()
            .filter(|seconds| (1..=MAX_REVISION_TIMEOUT_SECONDS).contains(seconds))
            .map(Duration::from_secs)
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a whole number of seconds from 1 to \
                     {MAX_REVISION_TIMEOUT_SECONDS} (the revision's timeoutSeconds)"
                )
            })
    })
}
