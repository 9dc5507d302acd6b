//! Properties of parsing over generated requests: whatever is accepted builds a body that stays
//! on the allowed indices and aggregates a plain field; the defaults, however spelled, build the
//! original query. tests/fuzz/ drives the same entry points with unstructured input.
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use super::*;

const ALLOW: &str = "wx-rtbeat-*, archive-2026.*";

/// A value for `name`, near the edges of what it takes: mostly accepted, sometimes not.
fn value_for(name: &str) -> BoxedStrategy<String> {
    let edgy = match name {
        "hours" | "min_doc_count" => " ?0*[0-9]{1,7} ?",
        "interval" => " ?[0-9]{0,4}(\\.[0-9]{0,3})?(e-?[0-9])? ?|0\\.[0-9]{12,18}",
        "field" => "@?[A-Za-z0-9_]{1,8}(\\.[A-Za-z0-9_@]{1,8}){0,3}",
        "index" => "(wx-rtbeat-|archive-2026\\.)[a-z0-9*._-]{0,12}",
        "fill" => "true|false|1|0|",
        _ => "es|buckets|csv|svg",
    };
    prop_oneof![9 => edgy, 1 => ".{0,24}"].boxed()
}

/// Parameters in any order, each at most once, now and then with a stranger or a repeat.
fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    let known = proptest::sample::subsequence(PARAMETERS.to_vec(), 0..=PARAMETERS.len())
        .prop_flat_map(|names| {
            names
                .into_iter()
                .map(|name| (Just(name.to_string()), value_for(name)))
                .collect::<Vec<_>>()
        })
        .prop_shuffle();
    let stranger = proptest::option::weighted(0.1, (".{0,12}", ".{0,12}"));
    (known, stranger).prop_map(|(mut params, stranger)| {
        params.extend(stranger);
        params
    })
}

/// A query string, percent-encoded as a browser would encode it.
fn query_string() -> impl Strategy<Value = String> {
    params().prop_map(|pairs| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    })
}

fn plain_field(field: &str) -> bool {
    !field.is_empty()
        && field.len() <= 256
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@'))
        && !field.split('.').any(str::is_empty)
}

/// What every accepted request must satisfy, whatever it asked for.
fn assert_safe(request: &StatsRequest) {
    let query = &request.query;
    assert!(plain_field(&query.field), "field {:?}", query.field);
    if let Some(index) = &query.index {
        assert!(
            index.starts_with("wx-rtbeat-") || index.starts_with("archive-2026."),
            "index {index:?} is outside {ALLOW}"
        );
        assert!(!index.contains([',', '/', ' ']), "index {index:?}");
    }
    assert!((1..=MAX_HOURS).contains(&query.hours));
    assert!(query.interval > 0.0 && query.interval <= MAX_INTERVAL);
    let body = query.body_with_bounds(Some((-40.0, 120.0)));
    let histogram = &body["aggs"]["temps"]["histogram"];
    assert_eq!(histogram["field"], query.field.as_str());
    assert!(histogram["interval"].as_f64().is_some_and(|i| i > 0.0));
    assert_eq!(
        body["query"]["range"]["@timestamp"]["gt"],
        format!("now-{}h", query.hours)
    );
    // What is sent is what was built: the text reads back as the same document, but for the
    // interval, which serde_json's default float parsing may read a unit in the last place away.
    let mut sent: Value = serde_json::from_str(&body.to_string()).unwrap();
    let mut built = body.clone();
    let interval = |body: &mut Value| body["aggs"]["temps"]["histogram"]["interval"].take();
    let (sent_interval, built_interval) = (interval(&mut sent), interval(&mut built));
    assert_eq!(sent, built);
    let (sent_interval, built_interval) = (
        sent_interval.as_f64().unwrap(),
        built_interval.as_f64().unwrap(),
    );
    assert!((sent_interval - built_interval).abs() <= built_interval * 4.0 * f64::EPSILON);
}

proptest! {
    // A failing case is kept beside this file (properties.proptest-regressions) and replayed first.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn accepted_query_strings_build_safe_bodies(query in query_string()) {
        if let Ok(request) = StatsRequest::parse(&decode(&query), None, ALLOW) {
            assert_safe(&request);
        }
    }

    #[test]
    fn accepted_parameters_build_safe_bodies(
        pairs in params(),
    ) {
        if let Ok(request) = StatsRequest::parse(&pairs, None, ALLOW) {
            assert_safe(&request);
        }
    }

    #[test]
    fn any_spelling_of_the_defaults_builds_the_original_query(
        hours in proptest::option::of("0{0,3}24| 24 "),
        interval in proptest::option::of("2|2\\.0*|0*2\\.|2e0|\\+2| 2 "),
        format in proptest::option::of(Just("es")),
        order in any::<bool>(),
    ) {
        let mut pairs: Vec<(&str, String)> = [("hours", hours), ("interval", interval)]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
        pairs.extend(format.map(|f| ("format", f.to_string())));
        if order {
            pairs.reverse();
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let request = StatsRequest::parse(&decode(&query), None, ALLOW).unwrap();
        prop_assert_eq!(request.format, Format::Es);
        prop_assert_eq!(request.query.body().to_string(), StatsQuery::default().body().to_string());
    }

    #[test]
    fn globs_match_as_trying_every_split_does((pattern, text) in glob_and_text()) {
        prop_assert_eq!(glob_matches(&pattern, &text), glob_by_every_split(&pattern, &text));
    }
}

/// A pattern and a text over a small alphabet; half the time the pattern is made from the
/// text by turning some characters into `*` or adding `*`, so that many pairs match.
fn glob_and_text() -> impl Strategy<Value = (String, String)> {
    let made_from_text =
        ("[ab*-]{0,10}", proptest::collection::vec(0..4u8, 10)).prop_map(|(text, edits)| {
            let mut pattern = String::new();
            for (c, edit) in text
                .chars()
                .zip(edits.into_iter().chain(std::iter::repeat(0)))
            {
                match edit {
                    0 => pattern.push(c),
                    1 => pattern.push('*'),
                    2 => pattern.extend([c, '*']),
                    _ => pattern.extend(['*', c]),
                }
            }
            (pattern, text)
        });
    prop_oneof![made_from_text, ("[ab*-]{0,8}", "[ab*-]{0,10}")]
}

/// The plain definition of a `*` glob: some split of the text matches the rest at the first `*`.
fn glob_by_every_split(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => text.strip_prefix(prefix).is_some_and(|text| {
            (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .any(|i| glob_by_every_split(rest, &text[i..]))
        }),
    }
}

/// A query string as the HTTP layer decodes it.
fn decode(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}
