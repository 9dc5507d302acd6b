//! The floor's one handler: the original query, sent unchanged with the `elasticsearch` crate
//! to the Elasticsearch at `HOST`, and Elasticsearch's status and text as the answer. No cache,
//! no parameters, no metrics, no logging.

use elasticsearch::http::Url;
use elasticsearch::http::headers::{ACCEPT_ENCODING, HeaderValue};
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::{Elasticsearch, SearchParts};
use serde_json::json;

/// The client for the Elasticsearch at `HOST`, built once at start as the doors build theirs.
/// Like theirs, it asks for answers uncompressed: inflating a few kilobytes costs more CPU
/// than it saves on loopback.
pub fn client() -> Elasticsearch {
    let host = std::env::var("HOST").expect("HOST must be set to Elasticsearch's URL");
    let url = Url::parse(&host).expect("HOST must be a URL");
    let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
        .disable_proxy()
        .header(ACCEPT_ENCODING, HeaderValue::from_static("identity"))
        .build()
        .expect("cannot build the Elasticsearch client");
    Elasticsearch::new(transport)
}

/// The original query on `wx-rtbeat-*`: Elasticsearch's status and response text, or 502 and
/// the error's text.
pub async fn search(client: &Elasticsearch) -> (u16, String) {
    let sent = client
        .search(SearchParts::Index(&["wx-rtbeat-*"]))
        .body(json!({"size":0,"aggs":{"temps":{"histogram":{"field":"rxtxMsg.payload.currently.temperature","interval":2}}},"query":{"range":{"@timestamp":{"gt":"now-24h"}}}}))
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status_code().as_u16();
            match response.text().await {
                Ok(text) => (status, text),
                Err(error) => (502, error.to_string()),
            }
        }
        Err(error) => (502, error.to_string()),
    }
}
