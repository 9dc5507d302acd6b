//! Sample data: observations shaped like the weather station's, one every 2 minutes, written
//! into monthly `wx-rtbeat-YYYY.MM` indices under an index template with the station's mapping.
//! Also loads a user's own observations from an NDJSON file.
//!
//! Generated values depend only on the seed and the 2-minute slot, and document ids only on the
//! slot, so loading the same span twice rewrites the same documents instead of adding more.

use std::f64::consts::TAU;
use std::time::{Duration, SystemTime};

use elasticsearch::BulkParts;
use elasticsearch::http::request::JsonBody;
use elasticsearch::indices::{IndicesPutIndexTemplateParts, IndicesRefreshParts};
use serde_json::{Value, json};

use crate::error::Error;
use crate::es::EsClient;

/// The station writes one observation every 2 minutes.
const OBSERVATION_EVERY: Duration = Duration::from_secs(120);
/// Observations per bulk request.
const BULK_SIZE: usize = 1000;

/// What `load-sample` generates.
#[derive(Clone, Debug)]
pub struct SampleSpec {
    /// How many days of observations.
    pub days: u32,
    /// The newest observation's time (rounded down to its 2-minute slot).
    pub until: SystemTime,
    /// Seeds the weather, so runs repeat.
    pub seed: u64,
}

/// The outcome of a load.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Documents written.
    pub loaded: usize,
    /// Lines that could not be loaded: (1-based line number, why).
    pub bad_lines: Vec<(usize, String)>,
}

/// The station's mapping. `temperature` and the other measures are half_float, so Elasticsearch
/// buckets the value rounded to half precision (69.99 is stored as 70.0), not the value sent.
pub fn mapping() -> Value {
    let half = json!({ "type": "half_float" });
    json!({
        "mappings": { "properties": {
            "@timestamp": { "type": "date" },
            "rxtxMsg": { "properties": {
                "seq": { "type": "long" },
                "time": { "type": "date" },
                "uuid": { "type": "keyword" },
                "producer": { "type": "keyword" },
                "label": { "type": "keyword" },
                "key": { "type": "keyword" },
                "payload": { "properties": {
                    "latitude": { "type": "float" },
                    "longitude": { "type": "float" },
                    "timezone": { "type": "keyword" },
                    "currently": { "properties": {
                        "time": { "type": "long" },
                        "summary": { "type": "text" },
                        "icon": { "type": "keyword" },
                        "temperature": half, "apparentTemperature": half, "dewPoint": half,
                        "humidity": half, "pressure": half, "windSpeed": half, "windBearing": half,
                        "cloudCover": half, "precipIntensity": half
                    }}
                }}
            }}
        }}
    })
}

/// Installs the `wx-rtbeat` index template, so every monthly index gets the mapping.
async fn install_template(es: &EsClient) -> Result<(), Error> {
    let body = json!({ "index_patterns": ["wx-rtbeat-*"], "template": mapping() });
    let sent = es
        .client()
        .indices()
        .put_index_template(IndicesPutIndexTemplateParts::Name("wx-rtbeat"))
        .body(body)
        .send()
        .await;
    es.response_text(sent).await.map(drop)
}

/// The monthly index, `wx-rtbeat-YYYY.MM`, for a timestamp written `YYYY-MM…`; Elasticsearch
/// itself judges the rest.
fn monthly_index(timestamp: &str) -> String {
    let digits = |range: std::ops::Range<usize>| {
        timestamp
            .get(range)
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
    };
    match (digits(0..4), digits(5..7)) {
        (Some(year), Some(month)) => format!("wx-rtbeat-{year}.{month}"),
        _ => "wx-rtbeat-undated".to_string(),
    }
}

/// One observation document, as the station writes it, with plausible weather for `time`.
pub fn observation(time: SystemTime, seq: u64, temperature: f64) -> Value {
    let epoch = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let stamp = humantime::format_rfc3339_millis(time).to_string();
    let humidity = (0.95 - (temperature - 45.0) * 0.012).clamp(0.2, 1.0);
    json!({
        "@timestamp": stamp,
        "rxtxMsg": {
            "seq": seq,
            "time": stamp,
            "uuid": format!("00000000-0000-4000-8000-{seq:012x}"),
            "producer": "wx-sample",
            "label": "sample",
            "key": "station-1",
            "payload": {
                "latitude": 37.77, "longitude": -122.42, "timezone": "America/Los_Angeles",
                "currently": {
                    "time": epoch,
                    "summary": if humidity > 0.8 { "Overcast" } else if temperature > 66.0 { "Clear" } else { "Partly Cloudy" },
                    "icon": if humidity > 0.8 { "cloudy" } else if temperature > 66.0 { "clear-day" } else { "partly-cloudy-day" },
                    "temperature": round2(temperature),
                    "apparentTemperature": round2(temperature - 1.5 + humidity),
                    "dewPoint": round2(temperature - (1.0 - humidity) * 36.0),
                    "humidity": round2(humidity),
                    "pressure": round2(1013.0 + 6.0 * (epoch as f64 / 86_400.0 / 3.0 * TAU).sin()),
                    "windSpeed": round2(3.0 + 2.5 * (epoch as f64 / 7_200.0).sin().abs()),
                    "windBearing": (epoch / 600) % 360,
                    "cloudCover": round2((humidity - 0.3).clamp(0.0, 1.0)),
                    "precipIntensity": 0
                }
            }
        }
    })
}

/// A plausible temperature (°F) for a 2-minute `slot`: a daily swing of ±9° around 62°, a
/// slower drift over days, and noise, all fixed by `seed`.
fn temperature_at(slot: u64, seed: u64) -> f64 {
    let hours = (slot * OBSERVATION_EVERY.as_secs()) as f64 / 3600.0;
    let phase = (mix(seed) % 1000) as f64 / 1000.0 * TAU;
    let daily = 9.0 * (TAU * (hours / 24.0 - 0.375)).sin();
    let drift = 4.0 * (TAU * hours / (24.0 * 5.3) + phase).sin();
    let noise = (mix(seed ^ slot) % 2001) as f64 / 1000.0 - 1.0;
    62.0 + daily + drift + 1.5 * noise
}

/// Writes `spec.days` of generated observations and makes them searchable.
pub async fn load_generated(
    es: &EsClient,
    spec: &SampleSpec,
    progress: impl Fn(usize, usize),
) -> Result<LoadReport, Error> {
    install_template(es).await?;
    let newest = slot_of(spec.until);
    let count = (u64::from(spec.days) * 86_400 / OBSERVATION_EVERY.as_secs()) as usize;
    let documents = (0..count as u64).map(|back| {
        let slot = newest.saturating_sub(back);
        let time = SystemTime::UNIX_EPOCH + OBSERVATION_EVERY * slot as u32;
        (
            format!("wx-sample-{slot}"),
            observation(time, slot, temperature_at(slot, spec.seed)),
        )
    });
    let report = write(
        es,
        documents
            .enumerate()
            .map(|(i, (id, doc))| (i + 1, Some(id), doc))
            .collect(),
        progress,
    )
    .await?;
    refresh(es).await?;
    Ok(report)
}

/// Loads a user's observations, one JSON document per line. Lines that are not an object with
/// an `@timestamp` are reported by number; the good lines are loaded all the same. Ids come
/// from each line's content, so loading a file twice adds nothing.
pub async fn load_file(
    es: &EsClient,
    text: &str,
    progress: impl Fn(usize, usize),
) -> Result<LoadReport, Error> {
    install_template(es).await?;
    let mut bad_lines = Vec::new();
    let mut documents = Vec::new();
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(doc) if doc["@timestamp"].is_string() => documents.push((
                number,
                Some(format!("wx-file-{:016x}", mix_bytes(line.as_bytes()))),
                doc,
            )),
            Ok(_) => bad_lines.push((
                number,
                "not an object with an \"@timestamp\" string".to_string(),
            )),
            Err(e) => bad_lines.push((number, format!("not JSON: {e}"))),
        }
    }
    let mut report = write(es, documents, progress).await?;
    refresh(es).await?;
    report.bad_lines.extend(bad_lines);
    report.bad_lines.sort();
    Ok(report)
}

/// Bulk-indexes `(line, id, document)` triples into each document's monthly index; documents
/// Elasticsearch rejects are reported by their line.
async fn write(
    es: &EsClient,
    documents: Vec<(usize, Option<String>, Value)>,
    progress: impl Fn(usize, usize),
) -> Result<LoadReport, Error> {
    let mut report = LoadReport::default();
    let total = documents.len();
    for chunk in documents.chunks(BULK_SIZE) {
        let mut lines: Vec<JsonBody<Value>> = Vec::with_capacity(chunk.len() * 2);
        for (_, id, doc) in chunk {
            let index = monthly_index(doc["@timestamp"].as_str().unwrap_or(""));
            lines.push(json!({ "index": { "_index": index, "_id": id } }).into());
            lines.push(doc.clone().into());
        }
        let sent = es.client().bulk(BulkParts::None).body(lines).send().await;
        let summary: Value =
            serde_json::from_str(&es.response_text(sent).await?).unwrap_or(Value::Null);
        let items = summary["items"].as_array().cloned().unwrap_or_default();
        for ((line, _, _), item) in chunk.iter().zip(items) {
            match item["index"]["error"]["reason"].as_str() {
                Some(reason) => report
                    .bad_lines
                    .push((*line, format!("rejected by Elasticsearch: {reason}"))),
                None => report.loaded += 1,
            }
        }
        progress(report.loaded + report.bad_lines.len(), total);
    }
    Ok(report)
}

async fn refresh(es: &EsClient) -> Result<(), Error> {
    let sent = es
        .client()
        .indices()
        .refresh(IndicesRefreshParts::Index(&["wx-rtbeat-*"]))
        .send()
        .await;
    es.response_text(sent).await.map(drop)
}

fn slot_of(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / OBSERVATION_EVERY.as_secs()
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// splitmix64: a fast, well-spread hash, so noise needs no random-number crate or state.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn mix_bytes(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xCBF2_9CE4_8422_2325, |hash, &b| mix(hash ^ u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monthly_index_names() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_115_200); // 2025-11-26
        let generated = observation(t, 0, 60.0);
        assert_eq!(
            monthly_index(generated["@timestamp"].as_str().unwrap()),
            "wx-rtbeat-2025.11"
        );
        assert_eq!(
            monthly_index("2026-03-01T00:00:00+02:00"),
            "wx-rtbeat-2026.03"
        );
        assert_eq!(monthly_index("yesterday"), "wx-rtbeat-undated");
    }

    #[test]
    fn temperatures_are_plausible_vary_and_repeat() {
        let day: Vec<f64> = (0..720)
            .map(|slot| temperature_at(20_000_000 + slot, 42))
            .collect();
        assert!(day.iter().all(|t| (40.0..=85.0).contains(t)), "{day:?}");
        let (min, max) = day
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        assert!(
            max - min > 12.0,
            "a day should swing more than 12 degrees: {min}..{max}"
        );
        assert_eq!(temperature_at(123, 42), temperature_at(123, 42));
        assert_ne!(temperature_at(123, 42), temperature_at(123, 43));
    }

    #[test]
    fn observations_have_the_station_shape() {
        let doc = observation(SystemTime::UNIX_EPOCH + Duration::from_secs(60), 7, 68.5);
        assert_eq!(doc["@timestamp"], "1970-01-01T00:01:00.000Z");
        let now = &doc["rxtxMsg"]["payload"]["currently"];
        assert_eq!(now["temperature"], 68.5);
        assert!((0.2..=1.0).contains(&now["humidity"].as_f64().unwrap()));
        assert!((1000.0..=1030.0).contains(&now["pressure"].as_f64().unwrap()));
        assert_eq!(doc["rxtxMsg"]["seq"], 7);
    }
}
