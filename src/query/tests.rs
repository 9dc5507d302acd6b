//! Parsing parameters and building bodies: the original query byte for byte, and every bad value named.
use super::*;

/// The original function's body, copied from its source once, for the unit and the
/// integration tests.
const ORIGINAL: &str = include_str!("../../tests/fixtures/original-query.json").trim_ascii_end();
const ALLOW: &str = "wx-rtbeat-*";

fn parse(pairs: &[(&str, &str)]) -> Result<StatsRequest, Error> {
    let params: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    StatsRequest::parse(&params, None, ALLOW)
}

fn rejected(pairs: &[(&str, &str)]) -> String {
    match parse(pairs) {
        Err(Error::BadRequest { parameter, .. }) => parameter,
        other => panic!("expected a 400 for {pairs:?}, got {other:?}"),
    }
}

#[test]
fn default_body_is_the_original() {
    let original: Value = serde_json::from_str(ORIGINAL).unwrap();
    assert_eq!(StatsQuery::default().body(), original);
    // Same keys in the same order, so even the bytes agree.
    assert_eq!(StatsQuery::default().body().to_string(), ORIGINAL);
    assert_eq!(parse(&[]).unwrap().query.body().to_string(), ORIGINAL);
    assert_eq!(
        parse(&[("hours", "24"), ("interval", "2")])
            .unwrap()
            .query
            .body()
            .to_string(),
        ORIGINAL
    );
}

#[test]
fn parameters_reach_the_body() {
    let request = parse(&[
        ("hours", "6"),
        ("interval", "0.5"),
        ("field", "rxtxMsg.payload.currently.humidity"),
        ("min_doc_count", "1"),
    ])
    .unwrap();
    let body = request.query.body();
    let histogram = &body["aggs"]["temps"]["histogram"];
    assert_eq!(histogram["interval"], json!(0.5));
    assert_eq!(histogram["field"], "rxtxMsg.payload.currently.humidity");
    assert_eq!(histogram["min_doc_count"], 1);
    assert_eq!(body["query"]["range"]["@timestamp"]["gt"], "now-6h");
    assert!(request.query.field_requested);
}

#[test]
fn totals_are_exact_except_in_the_original_answer() {
    assert_eq!(parse(&[]).unwrap().search_body(None).to_string(), ORIGINAL);
    for format in ["buckets", "csv", "svg"] {
        let body = parse(&[("format", format)]).unwrap().search_body(None);
        assert_eq!(body["track_total_hits"], json!(true), "{format}");
    }
}

#[test]
fn fill_extends_the_bounds() {
    let query = parse(&[("fill", "true")]).unwrap().query;
    let histogram =
        query.body_with_bounds(Some((40.0, 80.5)))["aggs"]["temps"]["histogram"].clone();
    assert_eq!(histogram["min_doc_count"], 0);
    assert_eq!(
        histogram["extended_bounds"],
        json!({"min": 40, "max": 80.5})
    );
}

#[test]
fn bad_values_name_their_parameter() {
    assert_eq!(rejected(&[("hours", "0")]), "hours");
    assert_eq!(rejected(&[("hours", "8785")]), "hours");
    assert_eq!(rejected(&[("hours", "1.5")]), "hours");
    assert_eq!(rejected(&[("interval", "-1")]), "interval");
    assert_eq!(rejected(&[("interval", "0")]), "interval");
    assert_eq!(rejected(&[("interval", "1000.5")]), "interval");
    assert_eq!(rejected(&[("interval", "NaN")]), "interval");
    assert_eq!(rejected(&[("interval", "inf")]), "interval");
    assert_eq!(rejected(&[("field", "a*b")]), "field");
    assert_eq!(rejected(&[("field", "")]), "field");
    assert_eq!(rejected(&[("field", "a..b")]), "field");
    assert_eq!(rejected(&[("field", "doc['x']")]), "field");
    assert_eq!(rejected(&[("format", "xml")]), "format");
    assert_eq!(rejected(&[("fill", "maybe")]), "fill");
    assert_eq!(rejected(&[("min_doc_count", "-1")]), "min_doc_count");
    assert_eq!(rejected(&[("foo", "1")]), "foo");
    assert_eq!(rejected(&[("hours", "1"), ("hours", "2")]), "hours");
}

#[test]
fn indices_stay_inside_the_allowed_pattern() {
    assert_eq!(
        parse(&[("index", "wx-rtbeat-2026.11")])
            .unwrap()
            .query
            .index
            .as_deref(),
        Some("wx-rtbeat-2026.11")
    );
    assert_eq!(
        parse(&[("index", "wx-rtbeat-2026.*")])
            .unwrap()
            .query
            .index
            .as_deref(),
        Some("wx-rtbeat-2026.*")
    );
    for bad in [
        ".security",
        "_all",
        "*",
        "wx-*",
        "other",
        "wx-rtbeat-a,.security",
        "WX-RTBEAT-1",
        "wx-rtbeat-x/../_search",
        "",
    ] {
        assert_eq!(rejected(&[("index", bad)]), "index", "{bad}");
    }
    let two = StatsRequest::parse(
        &[("index".into(), "archive-1".into())],
        None,
        "wx-rtbeat-*, archive-*",
    )
    .unwrap();
    assert_eq!(two.query.index.as_deref(), Some("archive-1"));
}

#[test]
fn a_refused_index_is_told_without_the_allowed_patterns() {
    let allowed = "wx-rtbeat-*,private-archive-*";
    let refused = StatsRequest::parse(&[("index".into(), "other".into())], None, allowed);
    match refused {
        Err(error @ Error::BadRequest { .. }) => {
            let body = error.to_json().to_string();
            assert!(
                !body.contains("wx-rtbeat") && !body.contains("private-archive"),
                "{body}"
            );
            assert!(
                error.reason().contains("\"other\" is not an index"),
                "{body}"
            );
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn format_from_parameter_or_accept() {
    assert_eq!(parse(&[]).unwrap().format, Format::Es);
    assert_eq!(parse(&[("format", "csv")]).unwrap().format, Format::Csv);
    let by_preference = |preferred| StatsRequest::parse(&[], preferred, ALLOW).unwrap().format;
    assert_eq!(by_preference(Some(Format::Csv)), Format::Csv);
    assert_eq!(by_preference(Some(Format::Svg)), Format::Svg);
    assert_eq!(by_preference(Some(Format::Es)), Format::Es);
    assert_eq!(by_preference(None), Format::Es);
    let both = StatsRequest::parse(
        &[("format".into(), "buckets".into())],
        Some(Format::Csv),
        ALLOW,
    )
    .unwrap();
    assert_eq!(
        both.format,
        Format::Buckets,
        "the parameter wins over Accept"
    );
}

#[test]
fn patterns_with_many_stars_stay_cheap() {
    // Trying every split at every `*` took seconds here: 250 characters, five `*`, no match.
    let allowed = "wx-*-*-*-*-*z";
    let parse_index = |index: String| {
        StatsRequest::parse(&[("index".into(), index)], None, allowed).map(|r| r.query.index)
    };
    let long = format!("wx{}", "-".repeat(250));
    assert!(
        matches!(parse_index(long), Err(Error::BadRequest { parameter, .. }) if parameter == "index")
    );
    assert_eq!(
        parse_index("wx-a-b-c-d-e-fz".into()).unwrap().as_deref(),
        Some("wx-a-b-c-d-e-fz")
    );
}
