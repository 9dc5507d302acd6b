//! `wx-stats load-sample` against a real Elasticsearch.

mod support;

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use support::{es_host, es_json, es_url, require_es, run};

const CLI: &str = env!("CARGO_BIN_EXE_wx-stats");

async fn count(indices: &str, query: Value) -> u64 {
    let response = es_json(
        &format!("{indices}/_count"),
        Some(&json!({ "query": query })),
    )
    .await;
    response["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("{response}"))
}

#[tokio::test]
async fn two_days_of_samples_load_once_however_often_it_runs() {
    let until_time = SystemTime::now() - Duration::from_secs(3600);
    let until = humantime::format_rfc3339_seconds(until_time).to_string();
    // Exactly the generated span: the 1440 slots ending at `until`, whatever else the index holds.
    let since =
        humantime::format_rfc3339_seconds(until_time - Duration::from_secs(2 * 86_400)).to_string();
    let generated = json!({ "bool": { "filter": [
        { "term": { "rxtxMsg.producer": "wx-sample" } },
        { "range": { "@timestamp": { "gt": since, "lte": until } } }
    ]}});
    for run_number in 1..=2 {
        let output = run(
            CLI,
            &["load-sample", "--days", "2", "--until", &until],
            &[("HOST", &es_host())],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "run {run_number}: {stderr}");
        assert!(stderr.contains("loaded 1440 observations"), "{stderr}");
        // Only the monthly indices (wx-rtbeat-2…), not other tests' wx-rtbeat-test-… indices.
        assert_eq!(
            count("wx-rtbeat-2*", generated.clone()).await,
            1440,
            "after run {run_number}"
        );
    }
    let mapping = es_json("wx-rtbeat-2*/_mapping", None).await;
    let (_, index) = mapping.as_object().unwrap().iter().next().unwrap();
    let currently = &index["mappings"]["properties"]["rxtxMsg"]["properties"]["payload"]["properties"]
        ["currently"]["properties"];
    for measure in ["temperature", "humidity", "pressure", "apparentTemperature"] {
        assert_eq!(
            currently[measure]["type"], "half_float",
            "{measure} comes from the index template"
        );
    }
}

#[tokio::test]
async fn a_file_loads_every_good_line_and_names_the_bad_one() {
    let client = require_es().await;
    client
        .delete(format!("{}/wx-rtbeat-2001.01", es_url()))
        .send()
        .await
        .unwrap();
    let good = |minute: u32, t: f64| {
        json!({"@timestamp": format!("2001-01-01T00:{minute:02}:00Z"), "rxtxMsg": {"payload": {"currently": {"temperature": t}}}}).to_string()
    };
    let lines = [
        good(0, 60.0),
        good(2, 61.0),
        "{not json".to_string(),
        good(4, 62.0),
        good(6, 63.5),
    ];
    let path = std::env::temp_dir().join(format!(
        "wx-stats-observations-{}.ndjson",
        std::process::id()
    ));
    std::fs::write(&path, lines.join("\n")).unwrap();
    for run_number in 1..=2 {
        let output = run(
            CLI,
            &["load-sample", "--from-file", path.to_str().unwrap()],
            &[("HOST", &es_host())],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "a bad line is reported as a failure: {stderr}"
        );
        assert!(stderr.contains("loaded 4 observations"), "{stderr}");
        assert!(stderr.contains("line 3: not JSON"), "{stderr}");
        assert_eq!(
            count("wx-rtbeat-2001.01", json!({"match_all": {}})).await,
            4,
            "after run {run_number}"
        );
    }
    std::fs::remove_file(path).unwrap();
}
