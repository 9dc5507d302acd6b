//! What parity leaves out or masks before comparing answers, and why.

use std::collections::BTreeMap;

/// What is normalised before answers are compared, and why. Nothing else is: bodies are
/// compared as the bytes sent (decoded from their `content-encoding`, which is itself compared),
/// with only these values masked in place.
pub const NORMALISED: [(&str, &str); 8] = [
    ("took's value", "Elasticsearch's own timing of each search"),
    (
        "window.start's and window.end's values in format=buckets",
        "the clock, like the date header: the time of each request, to the second, which can \
         tick between one door's answer and the next",
    ),
    (
        "the page's <time> elements' datetime and text",
        "the clock, as for format=buckets: the window's start and end, to the second; the \
         page's weak tag leaves them out, so it is compared exactly",
    ),
    (
        "/metrics sample values",
        "each door counts its own traffic; the HELP and TYPE lines, and every sample's name \
         and labels, must match",
    ),
    (
        "ce-id, ce-time headers",
        "every reply event gets a fresh id and time",
    ),
    (
        "x-request-id's value, when the case sends no X-Request-Id",
        "each call gets a fresh id (on Lambda, the invocation's); its presence is compared, and \
         its value too when the case sends one",
    ),
    (
        "date, content-length headers",
        "the clock; the length follows the body, which differs in `took` alone",
    ),
    (
        "etag header's value, where the body had a value masked and the tag is strong",
        "a strong tag is a hash of the bytes sent, so it differs wherever the window's clock \
         times do; the default answer's weak tag leaves `took` out, and it and every other \
         answer's tag (csv, svg) are compared exactly",
    ),
];

/// The response headers left out of the comparison, as listed in [`NORMALISED`].
pub const HEADERS_NOT_COMPARED: [&str; 4] = ["ce-id", "ce-time", "date", "content-length"];

/// Masks the `etag` header's value, as [`NORMALISED`] says, for an answer whose body had a
/// value masked: a strong tag only, as a weak one leaves `took` out already.
pub fn mask_etag(headers: &mut BTreeMap<String, String>) {
    if let Some(tag) = headers.get_mut("etag").filter(|tag| !tag.starts_with("W/")) {
        *tag = "…".to_string();
    }
}

/// Applies [`NORMALISED`]: in the bytes as sent, `took`'s value and the buckets window's and
/// the page's clock times are masked; /metrics is reduced to its shape.
pub fn normalise(path: &str, body: &str) -> String {
    if path == "/metrics" {
        return metrics_shape(body);
    }
    let body = mask(body, "\"took\":", |c| c.is_ascii_digit());
    let body = mask(&body, "<time datetime=\"", |c| c != '"');
    let body = mask(&body, "<time datetime=\"…\">", |c| c != '<');
    let Some(window) = body.find("\"window\":{") else {
        return body;
    };
    let end = body[window..]
        .find('}')
        .map_or(body.len(), |at| window + at);
    let not_quote = |c: char| c != '"';
    let masked = mask(&body[window..end], "\"start\":\"", not_quote);
    let masked = mask(&masked, "\"end\":\"", not_quote);
    format!("{}{masked}{}", &body[..window], &body[end..])
}

/// `text` with the run of characters that `masked` accepts, after each `marker`, replaced by `…`.
fn mask(text: &str, marker: &str, masked: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let value_start = at + marker.len();
        out.push_str(&rest[..value_start]);
        let value = &rest[value_start..];
        let value_len = value.find(|c| !masked(c)).unwrap_or(value.len());
        out.push('…');
        rest = &value[value_len..];
    }
    out.push_str(rest);
    out
}

/// The shape of a Prometheus text exposition: its HELP and TYPE lines, and each sample's name
/// and labels without its value, sorted.
fn metrics_shape(body: &str) -> String {
    let mut lines: Vec<&str> = body
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            if line.starts_with('#') {
                line
            } else {
                // `name{labels} value`, or `name value`: labels may hold spaces, names may not.
                match line.find('{') {
                    Some(_) => line.rfind('}').map_or(line, |at| &line[..=at]),
                    None => line.split(' ').next().unwrap_or(line),
                }
            }
        })
        .collect();
    lines.sort_unstable();
    lines.join("\n")
}
