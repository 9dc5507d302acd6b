//! `StatsQuery`: what a request asks for, parsed and validated from its parameters, and the
//! Elasticsearch search body that answers it.
//!
//! Parameters come as name/value pairs (decoded from a query string or a JSON body by
//! the HTTP layer, or from CLI flags), so every door validates them with the same code
//! and answers a bad one with the same 400.

use serde_json::{Value, json};

use crate::error::Error;
use crate::format::Format;

/// The field the original function aggregated.
pub const DEFAULT_FIELD: &str = "rxtxMsg.payload.currently.temperature";
/// The longest window: a leap year of hours.
pub const MAX_HOURS: u32 = 8784;
/// The widest bucket.
pub const MAX_INTERVAL: f64 = 1000.0;
/// Every parameter a request may carry.
pub const PARAMETERS: [&str; 7] = [
    "hours",
    "interval",
    "field",
    "index",
    "min_doc_count",
    "fill",
    "format",
];

/// One histogram question: which field, over how many hours, in buckets how wide.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsQuery {
    /// The window: documents newer than `now - hours`.
    pub hours: u32,
    /// The bucket width, in the field's unit.
    pub interval: f64,
    /// The numeric field to aggregate.
    pub field: String,
    /// Whether `field` was asked for, rather than defaulted (decides who is to blame when
    /// Elasticsearch cannot aggregate it).
    pub field_requested: bool,
    /// An index or pattern to search instead of the configured one; always within the allowed pattern.
    pub index: Option<String>,
    /// Buckets with fewer documents are left out; Elasticsearch's default (0) when unset.
    pub min_doc_count: Option<u64>,
    /// Keep empty buckets across the field's whole observed range (see [`StatsQuery::body_with_bounds`]).
    pub fill: bool,
}

/// A parsed request: the question and the answer's format. Equal requests get the same
/// answer, so a request is its own cache key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StatsRequest {
    /// The question.
    pub query: StatsQuery,
    /// The format of the answer.
    pub format: Format,
}

// A key for the answer cache. `interval` compares by value and hashes by its bits; they
// disagree only for NaN and for 0 and -0, which parsing refuses.
impl Eq for StatsQuery {}

impl std::hash::Hash for StatsQuery {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.hours.hash(state);
        self.interval.to_bits().hash(state);
        self.field.hash(state);
        self.field_requested.hash(state);
        self.index.hash(state);
        self.min_doc_count.hash(state);
        self.fill.hash(state);
    }
}

impl Default for StatsQuery {
    /// The original function's question: the last 24 hours of temperature in 2-degree buckets.
    fn default() -> Self {
        StatsQuery {
            hours: 24,
            interval: 2.0,
            field: DEFAULT_FIELD.to_string(),
            field_requested: false,
            index: None,
            min_doc_count: None,
            fill: false,
        }
    }
}

impl StatsRequest {
    /// Parses parameters. `preferred` is the format the caller prefers otherwise (over HTTP,
    /// its `Accept`): it is the answer's when no `format` parameter names one, and the default
    /// when there is none. `allowed_indices` is `ES_INDEX_ALLOW`, the patterns an `index`
    /// parameter must match.
    pub fn parse(
        params: &[(String, String)],
        preferred: Option<Format>,
        allowed_indices: &str,
    ) -> Result<Self, Error> {
        let mut request = StatsRequest::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in params {
            let name = name.as_str();
            if seen.contains(&name) {
                return Err(Error::bad_request(name, "is given more than once"));
            }
            seen.push(name);
            let query = &mut request.query;
            match name {
                "hours" => query.hours = parse_hours(value)?,
                "interval" => query.interval = parse_interval(value)?,
                "field" => {
                    query.field = parse_field(value)?;
                    query.field_requested = true;
                }
                "index" => query.index = Some(parse_index(value, allowed_indices)?),
                "min_doc_count" => {
                    query.min_doc_count = Some(parse_number(name, value, 0, 1_000_000)?)
                }
                "fill" => query.fill = parse_bool(name, value)?,
                "format" => {
                    request.format = value
                        .parse()
                        .map_err(|reason| Error::bad_request(name, reason))?
                }
                _ => {
                    return Err(Error::bad_request(
                        name,
                        format!("is not a parameter; use {}", PARAMETERS.join(", ")),
                    ));
                }
            }
        }
        if !seen.contains(&"format") {
            request.format = preferred.unwrap_or_default();
        }
        Ok(request)
    }
}

/// The format `params` ask for, read as [`StatsRequest::parse`] reads it, whether or not the
/// rest of them parse: the one an answer's error is written in. A `format` that names none
/// leaves it to `preferred`, as if not sent.
pub fn format_asked(params: &[(String, String)], preferred: Option<Format>) -> Format {
    let named = params.iter().find(|(name, _)| name == "format");
    named
        .and_then(|(_, value)| value.parse().ok())
        .or(preferred)
        .unwrap_or_default()
}

impl StatsRequest {
    /// The search body for this request: the query's, asking Elasticsearch to count every
    /// matching observation when the answer reports the total. Without `track_total_hits` it
    /// stops counting at 10,000 (`"relation":"gte"`). The raw format (`format=es`) sends the
    /// query's body untouched: that is the original function's answer.
    pub fn search_body(&self, bounds: Option<(f64, f64)>) -> Value {
        let mut body = self.query.body_with_bounds(bounds);
        if !self.format.is_raw() {
            body["track_total_hits"] = json!(true);
        }
        body
    }
}

impl StatsQuery {
    /// The parameters that ask this question, as [`StatsRequest::parse`] reads them: `hours`
    /// and `interval` always, the others when they differ from the default.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![
            ("hours", self.hours.to_string()),
            ("interval", self.interval.to_string()),
        ];
        if self.field_requested {
            params.push(("field", self.field.clone()));
        }
        if let Some(index) = &self.index {
            params.push(("index", index.clone()));
        }
        if let Some(count) = self.min_doc_count {
            params.push(("min_doc_count", count.to_string()));
        }
        if self.fill {
            params.push(("fill", "true".to_string()));
        }
        params
    }

    /// The search body. With the defaults it is the original function's body exactly.
    pub fn body(&self) -> Value {
        self.body_with_bounds(None)
    }

    /// The body, with `extended_bounds` when `fill` asks for empty buckets across `bounds`,
    /// the field's observed minimum and maximum.
    pub fn body_with_bounds(&self, bounds: Option<(f64, f64)>) -> Value {
        let mut histogram = json!({ "field": self.field, "interval": number(self.interval) });
        if let Some(count) = self.min_doc_count {
            histogram["min_doc_count"] = json!(count);
        }
        if self.fill {
            histogram["min_doc_count"] = json!(0);
            if let Some((min, max)) = bounds {
                histogram["extended_bounds"] = json!({ "min": number(min), "max": number(max) });
            }
        }
        json!({
            "size": 0,
            "aggs": { "temps": { "histogram": histogram } },
            "query": self.window(),
        })
    }

    /// Observations newer than `hours` ago.
    fn window(&self) -> Value {
        json!({ "range": { "@timestamp": { "gt": format!("now-{}h", self.hours) } } })
    }

    /// The body that finds the field's lowest and highest value: ever observed (for `fill`,
    /// which keeps a steady axis), or `in_window`.
    pub fn bounds_body(&self, in_window: bool) -> Value {
        let mut body = json!({ "size": 0, "aggs": { "min": { "min": { "field": self.field } }, "max": { "max": { "field": self.field } } } });
        if in_window {
            body["query"] = self.window();
        }
        body
    }
}

/// A whole number is written without a fraction (`2`, not `2.0`), as the original wrote it.
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

fn parse_hours(value: &str) -> Result<u32, Error> {
    Ok(parse_number("hours", value, 1, u64::from(MAX_HOURS))? as u32)
}

fn parse_number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, Error> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            Error::bad_request(
                name,
                format!("{value:?} is not a whole number from {min} to {max}"),
            )
        })
}

fn parse_interval(value: &str) -> Result<f64, Error> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n > 0.0 && *n <= MAX_INTERVAL)
        .ok_or_else(|| {
            Error::bad_request(
                "interval",
                format!("{value:?} is not a number above 0 and at most {MAX_INTERVAL}"),
            )
        })
}

fn parse_field(value: &str) -> Result<String, Error> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@');
    let ok = !value.is_empty()
        && value.len() <= 256
        && value.chars().all(plain)
        && !value.starts_with('.')
        && !value.ends_with('.')
        && !value.contains("..");
    if ok {
        Ok(value.to_string())
    } else {
        Err(Error::bad_request(
            "field",
            format!("{value:?} is not a plain field path (letters, digits, _, . and @)"),
        ))
    }
}

/// An index the request may search: lowercase name characters and `*`, matching one of the
/// allowed patterns. A `*` in the request can only be matched by a `*` in the pattern, so
/// whatever it expands to is still inside the pattern.
fn parse_index(value: &str, allowed: &str) -> Result<String, Error> {
    let name_char = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | '*')
    };
    let well_formed = !value.is_empty()
        && value.len() <= 255
        && value.chars().all(name_char)
        && !value.starts_with(['-', '_', '.']);
    if well_formed
        && allowed
            .split(',')
            .map(str::trim)
            .any(|pattern| glob_matches(pattern, value))
    {
        Ok(value.to_string())
    } else {
        Err(Error::bad_request(
            "index",
            // The allowed patterns are the service's own: they name indices a caller may not
            // know of, so a refusal never lists them.
            format!("{value:?} is not an index this service may search"),
        ))
    }
}

/// `*` in `pattern` matches any run of characters, including a literal `*` in `text`.
/// On a mismatch only the last `*` is retried, one character further on, so the work is at most
/// the product of the lengths however many `*` an allowed pattern has (trying every split at
/// every `*` grew as the length to the power of their number).
fn glob_matches(pattern: &str, text: &str) -> bool {
    // Bytes: a literal piece of valid UTF-8 can only match at character boundaries.
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // The last `*` seen, and where the text after it would resume if it took one more byte.
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        if pattern.get(p) == Some(&b'*') {
            last_star = Some((p, t + 1));
            p += 1;
        } else if pattern.get(p) == Some(&text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star, resume)) = last_star {
            p = star + 1;
            t = resume;
            last_star = Some((star, resume + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// A flag: `true`, `1` or empty (`?fill`) for true, `false` or `0` for false.
pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, Error> {
    match value.trim() {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::bad_request(
            name,
            format!("{value:?} is not true or false"),
        )),
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
