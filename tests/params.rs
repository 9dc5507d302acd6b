//! Query parameters and formats against a real Elasticsearch, on the Router in-process; bad
//! parameters on every door's real process. Expected buckets are computed from the
//! observations' values (support::histogram), not taken from another answer.

mod support;

use serde_json::Value;
use support::bed::Bed;
use support::histogram::{es_buckets, histogram, observations, temperatures};
use support::inprocess::{InProcess, serve_router};
use support::{error_type, fetch};

/// A test index holding support::histogram's observations, and the Router in front of it.
async fn router_on_observations(label: &str) -> (Bed, InProcess) {
    let bed = Bed::new(label, &observations()).await;
    let router = serve_router(&bed.env()).await;
    (bed, router)
}

/// The (from, count) of each bucket of a `format=buckets` answer, each checked to be
/// `interval` wide.
fn compact_buckets(body: &str, interval: f64) -> Vec<(f64, u64)> {
    let answer: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    answer["buckets"]
        .as_array()
        .unwrap_or_else(|| panic!("no buckets in {body}"))
        .iter()
        .map(|b| {
            let (from, to) = (b["from"].as_f64().unwrap(), b["to"].as_f64().unwrap());
            assert_eq!(to - from, interval, "{b}");
            (from, b["count"].as_u64().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn hours_and_interval_shape_the_histogram() {
    let (_bed, router) = router_on_observations("params-window").await;
    let (status, _, body) = fetch("GET", &format!("{}/?hours=6&interval=5", router.base)).await;
    assert_eq!(status, 200, "{body}");
    let es: Value = serde_json::from_str(&body).unwrap();
    let recent = temperatures(6.0);
    assert_eq!(
        es["hits"]["total"]["value"],
        recent.len(),
        "only the observations of the last 6 h: {es}"
    );
    let buckets = es_buckets(&es);
    assert!(
        buckets.windows(2).all(|w| w[1].0 - w[0].0 == 5.0),
        "buckets 5 wide: {buckets:?}"
    );
    assert_eq!(
        buckets,
        histogram(&recent, 5.0, &recent),
        "71.99 is stored as 72.0, still in the 70 bucket"
    );
}

#[tokio::test]
async fn fill_keeps_every_bucket_of_the_observed_range_with_zeros() {
    let (_bed, router) = router_on_observations("params-fill").await;
    let get = |query: &str| {
        let url = format!("{}/?{query}", router.base);
        async move { fetch("GET", &url).await }
    };
    let (status, _, body) = get("hours=6&interval=2&fill=true&format=buckets").await;
    assert_eq!(status, 200, "{body}");
    // The axis spans every value ever observed (55.5 and 80.0 are older than 6 h), while the
    // counts are the last 6 hours'.
    let expected = histogram(&temperatures(6.0), 2.0, &temperatures(f64::INFINITY));
    assert_eq!(expected.first(), Some(&(54.0, 0)));
    assert_eq!(expected.last(), Some(&(80.0, 0)));
    assert_eq!(compact_buckets(&body, 2.0), expected, "{body}");

    let (_, _, unfilled) = get("hours=6&interval=2&format=buckets").await;
    let recent = temperatures(6.0);
    assert_eq!(
        compact_buckets(&unfilled, 2.0),
        histogram(&recent, 2.0, &recent),
        "without fill, only the buckets between the last 6 hours' own extremes"
    );
}

#[tokio::test]
async fn min_doc_count_leaves_out_sparser_buckets() {
    let (_bed, router) = router_on_observations("params-min-doc-count").await;
    let url = format!(
        "{}/?hours=6&interval=2&min_doc_count=2&format=buckets",
        router.base
    );
    let (status, _, body) = fetch("GET", &url).await;
    assert_eq!(status, 200, "{body}");
    let recent = temperatures(6.0);
    let expected: Vec<(f64, u64)> = histogram(&recent, 2.0, &recent)
        .into_iter()
        .filter(|(_, count)| *count >= 2)
        .collect();
    assert_eq!(
        expected,
        [(60.0, 2), (70.0, 2)],
        "71.99 is stored as 72.0, so 70 holds two, not three"
    );
    assert_eq!(compact_buckets(&body, 2.0), expected, "{body}");
}

#[tokio::test]
async fn csv_and_buckets_agree_with_es_bucket_for_bucket() {
    let (_bed, router) = router_on_observations("params-formats").await;
    let base = router.base.clone();
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
        .get(format!("{}/?interval=3", router.base))
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
    let (_bed, router) = router_on_observations("params-svg").await;
    let (status, content_type, svg) = fetch("GET", &format!("{}/?format=svg", router.base)).await;
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
    let all = temperatures(24.0);
    let non_empty = histogram(&all, 2.0, &all)
        .iter()
        .filter(|(_, count)| *count > 0)
        .count();
    assert_eq!(bars, non_empty, "one bar per non-empty bucket");
    assert!(
        svg.contains(&format!(
            "temperature, last 24 h ({} observations)",
            all.len()
        )),
        "titled with the field and window"
    );

    let (_, _, empty) = fetch(
        "GET",
        &format!(
            "{}/?format=svg&hours=1&field=rxtxMsg.payload.currently.ozone",
            router.base
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
    let bed = Bed::new("params-bad", &observations()).await;
    let doors = bed.doors().await;
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
    let (_bed, router) = router_on_observations("params-body").await;
    let client = reqwest::Client::new();
    let by_query = fetch(
        "GET",
        &format!("{}/?hours=6&interval=5&format=buckets", router.base),
    )
    .await
    .2;
    let by_body = client
        .post(&router.base)
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
            .post(&router.base)
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
}
