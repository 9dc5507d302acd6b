//! Compressed answers as a client sees them: raw bytes over HTTP, and each encoding's own
//! reference decoder.

use std::io::Read;

use reqwest::header::HeaderMap;

/// The encodings every door offers.
pub const ENCODINGS: [&str; 2] = ["gzip", "zstd"];

/// An answer as sent: status, headers and the body's bytes, decoded by nothing.
pub struct RawAnswer {
    /// The status code.
    pub status: u16,
    /// Every response header.
    pub headers: HeaderMap,
    /// The body as it came off the wire.
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// The header `name` as text, or "" when it is absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    /// The body, decoded, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.decoded()).unwrap()
    }

    /// The body decoded from its `content-encoding`, if it has one.
    pub fn decoded(&self) -> Vec<u8> {
        match self.header("content-encoding") {
            "" => self.body.clone(),
            encoding => decode(encoding, &self.body),
        }
    }
}

/// A client that sends only the headers it is given and decodes nothing. The elasticsearch
/// crate turns on reqwest's `gzip` feature, with which a default client asks for gzip on every
/// request and decodes the answer out of sight, headers included.
pub fn raw_client() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().build().unwrap()
}

/// A GET of `url` with `headers`, read as [`RawAnswer`].
pub async fn get(url: &str, headers: &[(&str, &str)]) -> RawAnswer {
    let mut request = raw_client().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    RawAnswer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

/// `bytes` decoded from `encoding` (`gzip` or `zstd`) by that format's reference decoder
/// (flate2's, zstd's own C library).
pub fn decode(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(bytes).read_to_end(&mut decoded),
        "zstd" => zstd::stream::read::Decoder::new(bytes)
            .and_then(|mut decoder| decoder.read_to_end(&mut decoded)),
        other => panic!("no decoder for content-encoding {other:?}"),
    }
    .unwrap_or_else(|e| panic!("cannot decode {} bytes of {encoding}: {e}", bytes.len()));
    decoded
}
