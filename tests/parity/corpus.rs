//! The parity corpus (`cases.json`): each case is a request with the status and headers every
//! door must answer it with, and the CLI flags that ask the same question. Shared by the parity
//! suite and the arm64 suite, which sends the same cases to the arm64 doors.
#![allow(dead_code)] // each suite reads its own part of a case

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use similar::TextDiff;

use crate::normalise::{HEADERS_NOT_COMPARED, mask_etag, normalise};
use crate::support::bed::Bed;
use crate::support::encoding::{decode, raw_client};

/// The corpus, read from `cases.json`.
pub fn corpus() -> Corpus {
    serde_json::from_str(include_str!("cases.json")).unwrap()
}

#[derive(Deserialize)]
pub struct Corpus {
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
pub struct Case {
    pub name: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub status: u16,
    /// Response headers every door must send with exactly these values; "" for one it must
    /// not send (e.g. no `content-encoding` on an answer too short to compress).
    #[serde(default)]
    pub expect_headers: BTreeMap<String, String>,
    pub cli: Option<Vec<String>>,
}

#[derive(Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    /// Every other header, by name; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Answer {
    /// The header `name` as compared (the content type among them), or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        match name {
            "content-type" => &self.content_type,
            _ => self.headers.get(name).map_or("", String::as_str),
        }
    }
}

impl Case {
    /// The case sent to the door at `base`, asking about `index`: its answer, normalised.
    pub async fn send(&self, base: &str, index: &str) -> Answer {
        let query = self.query.replace("{index}", index);
        let url = if query.is_empty() {
            format!("{base}{}", self.path)
        } else {
            format!("{base}{}?{query}", self.path)
        };
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).unwrap();
        let mut request = raw_client().request(method, &url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {url}: {e}", self.name));
        let mut headers = BTreeMap::<String, String>::new();
        for (name, value) in response.headers() {
            if name != "content-type" && !HEADERS_NOT_COMPARED.contains(&name.as_str()) {
                let fresh_id = name == "x-request-id" && !self.headers.contains_key(name.as_str());
                let value = if fresh_id {
                    "…".into()
                } else {
                    String::from_utf8_lossy(value.as_bytes())
                };
                headers
                    .entry(name.to_string())
                    .and_modify(|joined| *joined = format!("{joined}, {value}"))
                    .or_insert_with(|| value.to_string());
            }
        }
        let status = response.status().as_u16();
        let content_type = response.headers().get("content-type");
        let content_type = content_type.map(|v| v.to_str().unwrap().to_string());
        let encoding = response.headers().get("content-encoding").cloned();
        let bytes = response.bytes().await.unwrap();
        let text = match encoding {
            Some(encoding) => String::from_utf8(decode(encoding.to_str().unwrap(), &bytes)),
            None => String::from_utf8(bytes.to_vec()),
        }
        .unwrap_or_else(|e| panic!("{}: {url}: not UTF-8: {e}", self.name));
        let body = normalise(&self.path, &text);
        if body != text {
            mask_etag(&mut headers);
        }
        Answer {
            status,
            content_type: content_type.unwrap_or_default(),
            headers,
            body,
        }
    }
}

/// A unified diff of two answers' bodies, the reference (in parity, Kubeless's) first.
pub fn diff(expected: &str, actual: &str) -> String {
    TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(2)
        .header("reference", "this door")
        .to_string()
}

/// A fixed dataset: 400 observations, one every 4 minutes, the oldest 26.6 h ago, in an index
/// named after `label`.
pub async fn parity_bed(label: &str) -> Bed {
    let observations: Vec<(Duration, f64)> = (0..400u64)
        .map(|i| {
            (
                Duration::from_secs(30 + i * 240),
                45.0 + ((i * 37) % 61) as f64 * 0.45,
            )
        })
        .collect();
    Bed::new(label, &observations).await
}
