//! Compressed answers: zstd or gzip, whichever the request's `Accept-Encoding` prefers, by
//! tower-http's [`CompressionLayer`]. It honours q-values (`q=0` refuses an encoding; on a tie
//! zstd wins over gzip), sends `identity` when nothing acceptable is offered, and adds
//! `Vary: accept-encoding` to every answer it could have compressed, so that a cache keeps one
//! copy per encoding.
//!
//! Not br: its encoder was about 1 MB of each door's 6.8 (15%), for answers of a few kilobytes
//! that gzip and zstd already shrink 5 to 7 times, and every browser that offers br offers gzip
//! (tests/bench/README.md has the measurement).

use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::SizeAbove;

/// Answers shorter than this many bytes are sent as they are. Below about 1 KiB the answer and
/// its headers already fit in one TCP segment (an MSS is 1,460 bytes on Ethernet), so
/// compression saves no packet and no round trip, while gzip's 18 bytes of framing, and on
/// Lambda base64's third, eat into what it saves. That leaves out errors (about 160 bytes) and
/// a day's answer at the default interval (about 550 bytes in any JSON format), and compresses
/// what gains: long histograms in every format, and every SVG (5 to 10 KB, about 7 to 1).
pub const MIN_COMPRESSED_BYTES: u16 = 1024;

/// The compression of function answers. The predicate is set explicitly, and is the size
/// alone: every format we write is text, SVG included. tower-http's default predicate would
/// also skip `image/*` (all but SVG, by an exception of its own), gRPC and server-sent events,
/// none of which we send, and compress from 32 bytes. Levels are tower-http's defaults (gzip 6,
/// zstd 3): fast enough for a per-request answer, and deterministic, so equal answers
/// compress to equal bytes and get equal ETags on every door.
pub fn layer() -> CompressionLayer<SizeAbove> {
    CompressionLayer::new()
        .gzip(true)
        .zstd(true)
        .compress_when(SizeAbove::new(MIN_COMPRESSED_BYTES))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{HeaderMap, Request, header};
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    /// `bytes` decoded from `encoding`, by each format's reference decoder.
    fn decode(encoding: &str, bytes: &[u8]) -> Vec<u8> {
        let mut decoded = Vec::new();
        match encoding {
            "gzip" => flate2::read::GzDecoder::new(bytes).read_to_end(&mut decoded),
            "zstd" => zstd::stream::read::Decoder::new(bytes)
                .and_then(|mut decoder| decoder.read_to_end(&mut decoded)),
            other => panic!("no decoder for {other}"),
        }
        .unwrap_or_else(|e| panic!("{encoding}: {e}"));
        decoded
    }

    /// An answer of `length` bytes shaped like a CSV of buckets, with irregular counts: it
    /// compresses as ours do, and different encoders or levels make different bytes of it.
    fn text(length: usize) -> String {
        let mut text = String::from("from,to,count\r\n");
        let mut state: u32 = 1;
        for bucket in 0.. {
            if text.len() >= length {
                break;
            }
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let from = f64::from(bucket) * 0.1;
            let count = (state >> 16) % 1000;
            text.push_str(&format!("{from:.1},{:.1},{count}\r\n", from + 0.1));
        }
        text.truncate(length);
        text
    }

    /// `body` as `content_type`, answered through the layer to `accept_encoding`.
    async fn answer(
        content_type: &'static str,
        body: String,
        accept: &str,
    ) -> (HeaderMap, Vec<u8>) {
        let app = Router::new()
            .route(
                "/",
                get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) }),
            )
            .layer(layer());
        let request = Request::get("/")
            .header(header::ACCEPT_ENCODING, accept)
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (headers, bytes.to_vec())
    }

    #[tokio::test]
    async fn every_format_is_compressed_as_accept_encoding_prefers() {
        let body = text(4000);
        let cases = [
            ("br", None),
            ("gzip", Some("gzip")),
            ("zstd", Some("zstd")),
            ("gzip;q=0.5, br;q=0.9, zstd;q=0.1", Some("gzip")),
            ("zstd;q=0, gzip", Some("gzip")),
            ("gzip, br, zstd", Some("zstd")),
            ("br, gzip", Some("gzip")),
            ("gzip;q=0.5, identity", None),
            ("compress", None),
            ("", None),
        ];
        for content_type in [
            "application/json",
            "text/csv; charset=utf-8",
            "image/svg+xml",
        ] {
            for (accept, expected) in cases {
                let (headers, bytes) = answer(content_type, body.clone(), accept).await;
                let what = format!("{content_type} to {accept:?}");
                let vary = headers.get(header::VARY).map(|v| v.to_str().unwrap());
                assert_eq!(vary, Some("accept-encoding"), "{what}");
                let encoding = headers.get(header::CONTENT_ENCODING);
                assert_eq!(encoding.map(|v| v.to_str().unwrap()), expected, "{what}");
                let decoded = match expected {
                    Some(encoding) => {
                        assert!(
                            bytes.len() < body.len() / 2,
                            "{what}: {} bytes",
                            bytes.len()
                        );
                        decode(encoding, &bytes)
                    }
                    None => bytes,
                };
                assert_eq!(decoded, body.as_bytes(), "{what}");
            }
        }
    }

    #[tokio::test]
    async fn answers_below_the_threshold_are_sent_as_they_are() {
        let shortest = usize::from(MIN_COMPRESSED_BYTES);
        let (headers, bytes) = answer("application/json", text(shortest - 1), "gzip").await;
        assert_eq!(headers.get(header::CONTENT_ENCODING), None);
        assert_eq!(headers.get(header::VARY), None);
        assert_eq!(bytes, text(shortest - 1).as_bytes());
        let (headers, _) = answer("application/json", text(shortest), "gzip").await;
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    }

    /// The ETag is taken from the compressed bytes, so equal answers must compress equally.
    #[tokio::test]
    async fn compression_is_deterministic() {
        for encoding in ["gzip", "zstd"] {
            let (_, first) = answer("image/svg+xml", text(20_000), encoding).await;
            let (_, second) = answer("image/svg+xml", text(20_000), encoding).await;
            assert!(
                first == second,
                "{encoding}: one answer compressed twice gave {} and then {} bytes",
                first.len(),
                second.len()
            );
        }
    }
}
