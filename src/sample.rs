//! Sample data: observations shaped like the weather station's, one every 2 minutes, written
//! into monthly `wx-rtbeat-YYYY.MM` indices with the station's mapping.

use std::f64::consts::TAU;
use std::time::{Duration, SystemTime};

use elasticsearch::http::request::JsonBody;
use elasticsearch::indices::IndicesCreateParts;
use elasticsearch::{BulkParts, Elasticsearch};
use serde_json::{Value, json};

use crate::error::Error;
use crate::es::{EsClient, elasticsearch_error};

/// The station writes one observation every 2 minutes.
pub const OBSERVATION_EVERY: Duration = Duration::from_secs(120);

/// The station's mapping. `temperature` is a half_float, so Elasticsearch buckets the value
/// rounded to half precision (69.99 is stored as 70.0), not the value that was sent.
pub fn mapping() -> Value {
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
                        "temperature": { "type": "half_float" },
                        "apparentTemperature": { "type": "half_float" },
                        "humidity": { "type": "half_float" },
                        "pressure": { "type": "float" },
                        "windSpeed": { "type": "half_float" }
                    }}
                }}
            }}
        }}
    })
}

/// The monthly index an observation at `time` belongs in: `wx-rtbeat-YYYY.MM`.
pub fn index_for(time: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(time).to_string();
    format!("wx-rtbeat-{}.{}", &stamp[0..4], &stamp[5..7])
}

/// One observation document, as the station writes it.
pub fn observation(time: SystemTime, seq: u64, temperature: f64) -> Value {
    let epoch = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let stamp = humantime::format_rfc3339_millis(time).to_string();
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
                    "summary": if temperature > 70.0 { "Clear" } else { "Partly Cloudy" },
                    "icon": if temperature > 70.0 { "clear-day" } else { "partly-cloudy-day" },
                    "temperature": temperature,
                    "apparentTemperature": temperature - 1.5,
                    "humidity": 0.6,
                    "pressure": 1013.2,
                    "windSpeed": 4.2
                }
            }
        }
    })
}

/// A plausible temperature (°F) at `time`: a daily swing of ±9° around 62° plus a little
/// deterministic jitter, so the histogram has a shape worth looking at.
pub fn temperature_at(time: SystemTime) -> f64 {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let day_fraction = (secs % 86_400) as f64 / 86_400.0;
    let jitter = ((secs / 120).wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0 - 0.5;
    let value = 62.0 + 9.0 * (TAU * (day_fraction - 0.375)).sin() + 2.0 * jitter;
    (value * 100.0).round() / 100.0
}

/// Writes `hours` of observations ending at `now` and makes them searchable. Returns the count.
pub async fn load(es: &EsClient, hours: u32, now: SystemTime) -> Result<usize, Error> {
    let count = (u64::from(hours) * 3600 / OBSERVATION_EVERY.as_secs()) as usize;
    let mut lines: Vec<JsonBody<Value>> = Vec::with_capacity(count * 2);
    let mut indices: Vec<String> = Vec::new();
    for seq in 0..count {
        let time = now - OBSERVATION_EVERY * seq as u32;
        let index = index_for(time);
        if !indices.contains(&index) {
            indices.push(index.clone());
        }
        lines.push(
            json!({ "index": { "_index": index, "_id": format!("sample-{}", time_key(time)) } })
                .into(),
        );
        lines.push(observation(time, seq as u64, temperature_at(time)).into());
    }
    for index in &indices {
        create_index(es, index).await?;
    }
    bulk(es, lines).await?;
    Ok(count)
}

/// Creates `index` with the station's mapping; an index that already exists is left as it is.
pub async fn create_index(es: &EsClient, index: &str) -> Result<(), Error> {
    let response = es
        .client()
        .indices()
        .create(IndicesCreateParts::Index(index))
        .body(mapping())
        .send()
        .await
        .map_err(|e| es.transport_error(&e))?;
    let status = response.status_code().as_u16();
    let text = response.text().await.map_err(|e| es.transport_error(&e))?;
    if status >= 400 && !text.contains("resource_already_exists_exception") {
        return Err(elasticsearch_error(status, &text));
    }
    Ok(())
}

async fn bulk(es: &EsClient, lines: Vec<JsonBody<Value>>) -> Result<(), Error> {
    let client: &Elasticsearch = es.client();
    let response = client
        .bulk(BulkParts::None)
        .body(lines)
        .refresh(elasticsearch::params::Refresh::True)
        .send()
        .await
        .map_err(|e| es.transport_error(&e))?;
    let status = response.status_code().as_u16();
    let text = response.text().await.map_err(|e| es.transport_error(&e))?;
    if status >= 400 {
        return Err(elasticsearch_error(status, &text));
    }
    let summary: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if summary["errors"] == json!(true) {
        let first = summary["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|item| item["index"]["error"].as_object().cloned());
        return Err(Error::Internal(format!(
            "bulk load failed: {}",
            Value::from(first.unwrap_or_default())
        )));
    }
    Ok(())
}

/// Ids derived from the time keep a re-run idempotent: the same minute overwrites itself.
fn time_key(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / OBSERVATION_EVERY.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monthly_index_names() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_115_200); // 2025-11-26
        assert_eq!(index_for(t), "wx-rtbeat-2025.11");
    }

    #[test]
    fn temperatures_are_plausible_and_vary() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_115_200);
        let temps: Vec<f64> = (0..720)
            .map(|i| temperature_at(start + OBSERVATION_EVERY * i))
            .collect();
        assert!(temps.iter().all(|t| (50.0..=74.0).contains(t)), "{temps:?}");
        let (min, max) = temps
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        assert!(
            max - min > 10.0,
            "a day should swing more than 10 degrees: {min}..{max}"
        );
    }

    #[test]
    fn observations_have_the_station_shape() {
        let doc = observation(SystemTime::UNIX_EPOCH + Duration::from_secs(60), 7, 68.5);
        assert_eq!(doc["@timestamp"], "1970-01-01T00:01:00.000Z");
        assert_eq!(doc["rxtxMsg"]["payload"]["currently"]["temperature"], 68.5);
        assert_eq!(doc["rxtxMsg"]["seq"], 7);
    }
}
