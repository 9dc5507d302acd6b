//! Query parameters and formats against a real Elasticsearch, on the real door processes.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use support::doors::{Doors, KNATIVE, KUBELESS};
use support::server::Server;
use support::{TestIndex, error_type, es_host, fetch};

fn hours(h: f64) -> Duration {
    Duration::from_secs_f64(h * 3600.0)
}

/// Ages and temperatures: four inside 6 h, three between 6 h and 24 h.
const OBSERVATIONS: [(f64, f64); 7] = [
    (0.5, 61.2),
    (2.0, 64.99),
    (4.0, 65.0),
    (5.5, 72.4),
    (7.0, 66.0),
    (12.0, 80.0),
    (20.0, 55.5),
];

async fn index_with_observations(label: &str) -> TestIndex {
    let index = TestIndex::create(label).await;
    let observations: Vec<(Duration, f64)> = OBSERVATIONS
        .iter()
        .map(|&(age, t)| (hours(age), t))
        .collect();
    index.add(&observations).await;
    index
}

/// Counts per bucket, computed here: half_float rounding, then the bucket's lower edge.
fn expected(max_age: f64, interval: f64) -> BTreeMap<i64, u64> {
    let mut counts = BTreeMap::new();
    for &(age, t) in OBSERVATIONS.iter().filter(|(age, _)| *age < max_age) {
        let _ = age;
        let stored = half::f16::from_f64(t).to_f64();
        *counts
            .entry(((stored / interval).floor() * interval) as i64)
            .or_insert(0) += 1;
    }
    counts
}

fn non_empty(buckets: impl Iterator<Item = (i64, u64)>) -> BTreeMap<i64, u64> {
    buckets.filter(|(_, count)| *count > 0).collect()
}

#[tokio::test]
async fn hours_and_interval_shape_the_histogram() {
    let index = index_with_observations("params-window").await;
    let door = Server::start(
        KUBELESS,
        "FUNC_PORT",
        &[("HOST", &es_host()), ("ES_INDEX", &index.name)],
    )
    .await;
    let (status, _, body) = fetch("GET", &format!("{}/?hours=6&interval=5", door.base)).await;
    assert_eq!(status, 200, "{body}");
    let es: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        es["hits"]["total"]["value"], 4,
        "only the observations of the last 6 h: {es}"
    );
    let buckets = es["aggregations"]["temps"]["buckets"].as_array().unwrap();
    let keys: Vec<f64> = buckets.iter().map(|b| b["key"].as_f64().unwrap()).collect();
    assert!(
        keys.windows(2).all(|w| w[1] - w[0] == 5.0),
        "buckets 5 wide: {keys:?}"
    );
    let counts = non_empty(buckets.iter().map(|b| {
        (
            b["key"].as_f64().unwrap() as i64,
            b["doc_count"].as_u64().unwrap(),
        )
    }));
    assert_eq!(
        counts,
        expected(6.0, 5.0),
        "64.99 is stored as 65.0 and joins 65.0's bucket"
    );
}

#[tokio::test]
async fn csv_and_buckets_agree_with_es_bucket_for_bucket() {
    let index = index_with_observations("params-formats").await;
    let door = Server::start(
        KNATIVE,
        "PORT",
        &[("HOST", &es_host()), ("ES_INDEX", &index.name)],
    )
    .await;
    let base = door.base.clone();
    let get = |query: &str| {
        let url = format!("{base}/?{query}");
        async move { fetch("GET", &url).await }
    };
    let es: Value = serde_json::from_str(&get("interval=3").await.2).unwrap();
    let from_es: Vec<(f64, u64)> = es["aggregations"]["temps"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["key"].as_f64().unwrap(), b["doc_count"].as_u64().unwrap()))
        .collect();
    assert!(from_es.len() > 5, "{es}");

    let (status, content_type, buckets) = get("interval=3&format=buckets").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let buckets: Value = serde_json::from_str(&buckets).unwrap();
    let from_buckets: Vec<(f64, u64)> = buckets["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b["to"].as_f64().unwrap() - b["from"].as_f64().unwrap(), 3.0);
            (b["from"].as_f64().unwrap(), b["count"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(from_buckets, from_es);
    assert_eq!(buckets["total"], es["hits"]["total"]["value"]);

    let (status, content_type, csv) = get("interval=3&format=csv").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/csv; charset=utf-8")
    );
    let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some("from,to,count"));
    let from_csv: Vec<(f64, u64)> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[0].parse().unwrap(), cells[2].parse().unwrap())
        })
        .collect();
    assert_eq!(from_csv, from_es);

    let accept_csv = reqwest::Client::new()
        .get(format!("{}/?interval=3", door.base))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(
        accept_csv.text().await.unwrap(),
        csv,
        "Accept: text/csv selects the same CSV"
    );
}

#[tokio::test]
async fn svg_parses_rasterises_and_has_one_bar_per_non_empty_bucket() {
    let index = index_with_observations("params-svg").await;
    let door = Server::start(
        KUBELESS,
        "FUNC_PORT",
        &[("HOST", &es_host()), ("ES_INDEX", &index.name)],
    )
    .await;
    let (status, content_type, svg) = fetch("GET", &format!("{}/?format=svg", door.base)).await;
    assert_eq!((status, content_type.as_str()), (200, "image/svg+xml"));

    let tree = resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default())
        .expect("the SVG parses");
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let bar_pixels = pixmap
        .pixels()
        .iter()
        .filter(|p| (p.red(), p.green(), p.blue()) == (0x2b, 0x6c, 0xb0))
        .count();
    assert!(
        bar_pixels > 1000,
        "the bars are drawn: {bar_pixels} bar-coloured pixels"
    );

    let document = roxmltree::Document::parse(&svg).unwrap();
    let bars = document
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#2B6CB0"))
        .count();
    assert_eq!(
        bars,
        expected(24.0, 2.0).len(),
        "one bar per non-empty bucket"
    );
    assert!(
        svg.contains("temperature, last 24 h (7 observations)"),
        "titled with the field and window"
    );

    let (_, _, empty) = fetch(
        "GET",
        &format!(
            "{}/?format=svg&hours=1&field=rxtxMsg.payload.currently.ozone",
            door.base
        ),
    )
    .await;
    roxmltree::Document::parse(&empty).unwrap();
    assert!(
        empty.contains("No observations of ozone in the last 1 h"),
        "{empty}"
    );
}

/// The acceptance's bad requests, each answered 400 with the JSON shape on every door.
const BAD: [(&str, &str); 6] = [
    ("hours=0", "hours"),
    ("interval=-1", "interval"),
    ("foo=1", "foo"),
    ("index=.security", "index"),
    ("field=a*b", "field"),
    ("field=rxtxMsg.label", "field"),
];

#[tokio::test]
async fn bad_parameters_are_400_on_every_door() {
    let index = index_with_observations("params-bad").await;
    let env = [("HOST", es_host()), ("ES_INDEX", index.name.clone())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let doors = Doors::start(&env).await;
    let functions = doors.functions();
    for (query, parameter) in BAD {
        for (_, base) in &functions {
            let (status, content_type, body) = fetch("GET", &format!("{base}?{query}")).await;
            assert_eq!(
                (status, content_type.as_str()),
                (400, "application/json"),
                "{base}?{query}: {body}"
            );
            assert_eq!(
                error_type(&body, 400),
                "invalid_parameter",
                "{base}?{query}"
            );
            assert!(
                body.contains(&format!("parameter `{parameter}`")),
                "{base}?{query} must name {parameter}: {body}"
            );
        }
    }
    let (status, _, body) = fetch("GET", &format!("{}?field=rxtxMsg.label", functions[0].1)).await;
    assert!(
        status == 400 && body.contains("cannot make a histogram"),
        "explains why: {body}"
    );
}

#[tokio::test]
async fn a_json_body_carries_the_same_parameters() {
    let index = index_with_observations("params-body").await;
    let door = Server::start(
        KUBELESS,
        "FUNC_PORT",
        &[("HOST", &es_host()), ("ES_INDEX", &index.name)],
    )
    .await;
    let client = reqwest::Client::new();
    let by_query = fetch(
        "GET",
        &format!("{}/?hours=6&interval=5&format=buckets", door.base),
    )
    .await
    .2;
    let by_body = client
        .post(&door.base)
        .header("content-type", "application/json")
        .body(r#"{"hours":6,"interval":5,"format":"buckets"}"#);
    let by_body = by_body.send().await.unwrap().text().await.unwrap();
    let strip_window = |text: &str| {
        let mut v: Value = serde_json::from_str(text).unwrap();
        v.as_object_mut().unwrap().remove("window");
        v
    };
    assert_eq!(strip_window(&by_body), strip_window(&by_query));
    for bad in ["{not json", "[1,2]", r#"{"hours":"many"}"#] {
        let response = client
            .post(&door.base)
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
}
