//! The page a browser is answered with (`format=html`, or an `Accept` that prefers
//! `text/html`): the chart, the numbers as a table, the form that asks again, and links to the
//! same answer in the other formats. A bad request is the same page, with the 400's message
//! and the form as it was sent.
//!
//! The page fetches nothing: its one style sheet and one script are inline, allowed by their
//! hashes in its `Content-Security-Policy`, and nothing else is. maud escapes every value it
//! is given; the chart, made by `render::svg`, whose text plotters escapes, is the one piece
//! of markup put in as it is.

use std::sync::LazyLock;
use std::time::SystemTime;

use base64::Engine;
use http::{HeaderName, HeaderValue, header};
use jiff::tz::TimeZone;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use super::{Histogram, RenderContext};
use crate::error::Error;
use crate::format::Format;
use crate::query::{MAX_HOURS, MAX_INTERVAL, StatsQuery, parse_bool};

/// The page's style: light and dark, a phone's width and a desktop's.
const STYLE: &str = include_str!("page/style.css");

/// Asks again every `data-refresh` seconds (the cache's TTL), with the last answer's tag, so
/// that an open page mostly costs a 304; a new answer replaces the page's `#answer`, and the
/// form, which a person may be typing in, is left alone.
const SCRIPT: &str = include_str!("page/refresh.js");

/// The headers every page is sent with.
pub(crate) fn page_headers() -> [(HeaderName, HeaderValue); 3] {
    static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
        let policy = format!(
            "default-src 'none'; style-src '{}'; script-src '{}'; connect-src 'self'; \
             img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            csp_hash(STYLE),
            csp_hash(SCRIPT)
        );
        HeaderValue::try_from(policy).expect("the policy is ASCII")
    });
    [
        (header::CONTENT_SECURITY_POLICY, POLICY.clone()),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// `sha256-…`: how a Content-Security-Policy names an inline element by its text.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The page for `query`'s answer: `histogram`, drawn as `chart`.
pub(super) fn page(
    query: &StatsQuery,
    histogram: &Histogram,
    chart: &str,
    context: &RenderContext,
) -> String {
    let measure = query.field.rsplit('.').next().unwrap_or(&query.field);
    let title = format!("{measure}, last {} h", query.hours);
    let window = Window::new(context.window(query.hours), &context.time_zone);
    let chart = chart.strip_prefix("<svg ").map_or_else(
        || chart.to_string(),
        |rest| format!("<svg role=\"img\" aria-labelledby=\"chart-caption\" {rest}"),
    );
    let body = html! {
        h1 { (title) }
        (form(&FormValues::of_query(query)))
        div #answer {
            p.window {
                (window.markup()) ": " (histogram.total)
                @if histogram.total == 1 { " observation of " } @else { " observations of " }
                code { (query.field) }
            }
            @if let Some(partial) = &context.partial {
                p #partial .warning role="status" {
                    "Partial answer: " (partial) ". The numbers below leave those shards out."
                }
            }
            figure #chart {
                (PreEscaped(chart))
                figcaption #chart-caption {
                    "Observations of " code { (query.field) } " per " (query.interval)
                    "-wide bucket; the table below holds the same numbers."
                }
            }
            (table(query, histogram))
            nav #formats aria-label="The same answer as data" {
                ul {
                    @for (format, label) in [
                        (Format::Es, "JSON (Elasticsearch's response)"),
                        (Format::Buckets, "JSON (buckets)"),
                        (Format::Csv, "CSV"),
                        (Format::Svg, "SVG"),
                    ] {
                        li { a href=(link(query, format)) { (label) } }
                    }
                }
            }
        }
    };
    document(&title, context.refresh_seconds(), body)
}

/// The page for a request that cannot be answered: `error`'s message, and the form holding
/// what `params` sent, to be put right.
pub(crate) fn error_page(params: &[(String, String)], error: &Error) -> String {
    let body = html! {
        h1 { "Weather statistics" }
        p #problem role="alert" { (error.reason()) }
        (form(&FormValues::of_params(params)))
    };
    document("Cannot answer: weather statistics", 0, body)
}

/// The whole document around `body`, refreshed every `refresh` seconds (0: never).
fn document(title: &str, refresh: u64, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                // No request for /favicon.ico, which would be a function call.
                link rel="icon" href="data:,";
                title { (title) " · wx-stats" }
                style { (PreEscaped(STYLE)) }
            }
            body data-refresh=(refresh) {
                main { (body) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

/// The window's start and end, in the station's time zone.
struct Window {
    start: jiff::ZonedDateTime,
    end: jiff::ZonedDateTime,
}

impl Window {
    /// The window from `start` to `end`, each to the second, in `zone`.
    fn new((start, end): (SystemTime, SystemTime), zone: &TimeZone) -> Window {
        let zoned = |at: SystemTime| {
            jiff::Timestamp::try_from(at)
                .ok()
                .and_then(|at| jiff::Timestamp::from_second(at.as_second()).ok())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                .to_zoned_datetime(zone.clone())
        };
        Window {
            start: zoned(start),
            end: zoned(end),
        }
    }

    /// "From 2026-12-05 09:30 to 2026-12-06 09:30 (Europe/Berlin)".
    fn markup(&self) -> Markup {
        let zone = self.end.time_zone().iana_name().unwrap_or("UTC");
        html! {
            "From " (time(&self.start)) " to " (time(&self.end)) " (" (zone) ")"
        }
    }
}

/// A `<time>` to the minute, with its exact moment in `datetime`.
fn time(at: &jiff::ZonedDateTime) -> Markup {
    html! {
        time datetime=(at.strftime("%Y-%m-%dT%H:%M:%S%:z")) { (at.strftime("%Y-%m-%d %H:%M")) }
    }
}

/// The buckets, each with its range and count, and the total: the chart's numbers.
fn table(query: &StatsQuery, histogram: &Histogram) -> Markup {
    html! {
        table #buckets {
            caption { "Observations per bucket, " (query.interval) " wide" }
            thead {
                tr { th scope="col" { "From" } th scope="col" { "To" } th scope="col" { "Observations" } }
            }
            tbody {
                @for bucket in &histogram.buckets {
                    tr { td { (bucket.from) } td { (bucket.to) } td { (bucket.count) } }
                }
            }
            tfoot {
                tr { th scope="row" colspan="2" { "Total" } td { (histogram.total) } }
            }
        }
    }
}

/// What the form holds: the request's values, or the defaults.
struct FormValues {
    hours: String,
    interval: String,
    field: String,
    fill: bool,
    /// Kept as they were sent, for the next request to carry on.
    hidden: Vec<(&'static str, String)>,
}

impl FormValues {
    /// The values that ask `query`.
    fn of_query(query: &StatsQuery) -> FormValues {
        let mut values = FormValues::of_defaults();
        values.field = query.field.clone();
        for (name, value) in query.params() {
            values.set(name, value);
        }
        values
    }

    /// The values `params` sent, as they were, whether or not they parse.
    fn of_params(params: &[(String, String)]) -> FormValues {
        let mut values = FormValues::of_defaults();
        for (name, value) in params {
            if let Some(name) = HIDDEN
                .iter()
                .chain(SHOWN.iter())
                .find(|known| *known == name)
            {
                values.set(name, value.clone());
            }
        }
        values
    }

    fn of_defaults() -> FormValues {
        let query = StatsQuery::default();
        FormValues {
            hours: query.hours.to_string(),
            interval: query.interval.to_string(),
            field: query.field,
            fill: false,
            hidden: Vec::new(),
        }
    }

    fn set(&mut self, name: &'static str, value: String) {
        match name {
            "hours" => self.hours = value,
            "interval" => self.interval = value,
            "field" => self.field = value,
            // As the request is read; a value that is neither true nor false leaves it unticked.
            "fill" => self.fill = parse_bool(name, &value).unwrap_or(false),
            _ => self.hidden.push((name, value)),
        }
    }
}

/// The parameters the form shows.
const SHOWN: [&str; 4] = ["hours", "interval", "field", "fill"];
/// The parameters the form carries on, unseen, when the request had them.
const HIDDEN: [&str; 2] = ["index", "min_doc_count"];

/// The form: its GET asks the same URL a program would.
fn form(values: &FormValues) -> Markup {
    html! {
        form #ask method="get" {
            label {
                "Hours"
                input name="hours" type="number" min="1" max=(MAX_HOURS) required value=(values.hours);
            }
            label {
                "Bucket width"
                input name="interval" type="number" step="any" min="0" max=(MAX_INTERVAL) required value=(values.interval);
            }
            label {
                "Field"
                input name="field" type="text" spellcheck="false" required value=(values.field);
            }
            label .check {
                input name="fill" type="checkbox" value="true" checked[values.fill];
                "Empty buckets across every value ever seen"
            }
            @for (name, value) in &values.hidden {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { "Show" }
        }
    }
}

/// The same answer in `format`: a query string relative to the page's own URL.
fn link(query: &StatsQuery, format: Format) -> String {
    let mut link = form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    link.extend_pairs(query.params());
    link.append_pair("format", format.name());
    link.finish()
}

#[cfg(test)]
mod tests;
