//! What `Accept` and `Accept-Encoding` choose, case by case, as RFC 9110 (12.5) reads them.
use axum::http::HeaderValue;

use super::*;

/// Headers of one `name` line per value.
fn headers(name: HeaderName, values: &[&'static str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(name.clone(), HeaderValue::from_static(value));
    }
    headers
}

fn format_by(accept: &'static str) -> Option<Format> {
    preferred_format(&headers(header::ACCEPT, &[accept]))
}

fn encoding_by(accept_encoding: &'static str) -> Option<Encoding> {
    preferred_encoding(&headers(header::ACCEPT_ENCODING, &[accept_encoding]))
}

#[test]
fn accept_picks_a_format() {
    use Format::{Csv, Es, Html, Svg};
    assert_eq!(format_by("text/csv"), Some(Csv));
    assert_eq!(format_by("image/svg+xml,*/*;q=0.8"), Some(Svg));
    assert_eq!(format_by("application/json"), Some(Es));
    assert_eq!(format_by("*/*"), Some(Es));
    assert_eq!(format_by("text/html"), Some(Html));
    // What Chromium and Firefox send when a person opens the URL: the page.
    let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
                    image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
    assert_eq!(format_by(chromium), Some(Html));
    let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    assert_eq!(format_by(firefox), Some(Html));
    assert_eq!(format_by("application/xml"), None);
    assert_eq!(format_by(""), None);
    assert_eq!(preferred_format(&HeaderMap::new()), None);
}

/// RFC 9110 (12.5.1): q=0 is "not acceptable", media types are case-insensitive, and at
/// equal q the more specific range decides.
#[test]
fn accept_weighs_q_values_case_and_specificity() {
    use Format::{Csv, Es, Html, Svg};
    let cases = [
        ("text/csv;q=0, application/json", Some(Es)),
        ("application/json, image/svg+xml;q=0", Some(Es)),
        ("TEXT/CSV", Some(Csv)),
        ("Image/SVG+XML", Some(Svg)),
        ("text/csv ; Q=0", None),
        ("application/json;q=0.5, text/csv;q=0.9", Some(Csv)),
        ("text/csv;q=0.4, image/svg+xml;q=0.6", Some(Svg)),
        ("application/json;q=0.9, image/svg+xml", Some(Svg)),
        ("text/*", Some(Csv)),
        ("image/*, */*;q=0.1", Some(Svg)),
        ("text/csv, */*", Some(Csv)),
        ("*/*, text/csv;q=0", Some(Es)),
        ("text/*;q=0.2, text/csv;q=0", Some(Html)),
        ("text/*;q=0.2, text/csv;q=0, text/html;q=0", None),
        ("text/html;q=0.5, text/csv;q=0.6", Some(Csv)),
        ("text/csv;q=0, */*", Some(Es)),
        ("text/csv, application/json", Some(Es)),
        ("text/csv;q=2, image/svg+xml;q=0.1", Some(Svg)),
        ("text/csv;q=0.0001", None),
        ("csv, image/svg+xml", Some(Svg)),
        ("text/csv;", Some(Csv)),
        ("text/csv; ;q=0.5, image/svg+xml;q=0.4", Some(Csv)),
        ("text/csv;level, image/svg+xml;q=0.4", Some(Svg)),
    ];
    for (accept, wanted) in cases {
        assert_eq!(format_by(accept), wanted, "Accept: {accept}");
    }
}

#[test]
fn the_coding_is_the_one_accept_encoding_prefers() {
    use Encoding::{Gzip, Zstd};
    let cases = [
        ("br", None),
        ("gzip", Some(Gzip)),
        ("GZIP", Some(Gzip)),
        ("zstd", Some(Zstd)),
        ("gzip;q=0.5, br;q=0.9, zstd;q=0.1", Some(Gzip)),
        ("zstd;q=0, gzip", Some(Gzip)),
        ("gzip, br, zstd", Some(Zstd)),
        ("gzip, deflate, br, zstd", Some(Zstd)),
        ("br, gzip", Some(Gzip)),
        ("gzip;q=0.5, identity", None),
        ("gzip;q=0.5, identity;q=0.1", Some(Gzip)),
        ("*", Some(Zstd)),
        ("*;q=0.5, gzip", Some(Gzip)),
        ("gzip;q=2, zstd;q=0.4", Some(Zstd)),
        ("compress", None),
        ("gzip;", Some(Gzip)),
        ("gzip; ;q=0.5, zstd;q=0.4", Some(Gzip)),
        ("gzip;level, zstd;q=0.4", Some(Zstd)),
        ("", None),
    ];
    for (accept_encoding, expected) in cases {
        assert_eq!(
            encoding_by(accept_encoding),
            expected,
            "{accept_encoding:?}"
        );
    }
    assert_eq!(preferred_encoding(&HeaderMap::new()), None);
}

/// RFC 9110 (5.3): a list header sent on two lines means what it means on one, as the Lambda
/// events, which join them, carry it.
#[test]
fn every_line_of_a_list_header_is_read() {
    let accept = headers(header::ACCEPT, &["text/html", "text/csv"]);
    assert_eq!(preferred_format(&accept), Some(Format::Csv));
    let accept_encoding = headers(header::ACCEPT_ENCODING, &["br", "gzip"]);
    assert_eq!(preferred_encoding(&accept_encoding), Some(Encoding::Gzip));
}

#[test]
fn q_values_parse_as_rfc_9110_writes_them() {
    assert_eq!(parse_quality("1"), Some(1000));
    assert_eq!(parse_quality("1.000"), Some(1000));
    assert_eq!(parse_quality("0.5"), Some(500));
    assert_eq!(parse_quality("0.125"), Some(125));
    assert_eq!(parse_quality("0"), Some(0));
    for bad in ["1.5", "2", "0.1234", "-1", "", "x", "0.a"] {
        assert_eq!(parse_quality(bad), None, "{bad}");
    }
}
