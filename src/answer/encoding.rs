//! The content codings an answer can be sent in: zstd and gzip, made once per answer.
//!
//! Not br: its encoder would grow each door by a large share of its size (the doors' sizes are in
//! tests/bench/RESULTS.md, and tests/bench/README.md has the measurement of br's), for answers
//! of a few kilobytes that gzip and zstd already shrink several times, and every browser that
//! offers br offers gzip.

use std::io::Write;

use bytes::Bytes;

/// Answers shorter than this many bytes are sent as they are. Below about 1 KiB the answer and
/// its headers already fit in one TCP segment (an MSS is 1,460 bytes on Ethernet), so
/// compression saves no packet and no round trip, while gzip's 18 bytes of framing, and on
/// Lambda base64's third, eat into what it saves. That leaves out errors (about 160 bytes) and
/// a day's answer at the default interval (about 550 bytes in any JSON format), and compresses
/// what gains: long histograms in every format, and every SVG (5 to 10 KB, about 7 to 1).
pub const MIN_COMPRESSED_BYTES: usize = 1024;

/// A content coding, in order of preference when a caller likes two equally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Zstandard (RFC 8878): smaller than gzip and faster to make and to read.
    Zstd = 0,
    /// gzip (RFC 1952): understood by every client.
    Gzip = 1,
}

/// gzip's level: zlib's default, a fast level for a per-request answer.
const GZIP_LEVEL: u32 = 6;
/// zstd's level: its own default.
const ZSTD_LEVEL: i32 = 3;

impl Encoding {
    /// Every coding, in order of preference.
    pub const ALL: [Encoding; 2] = [Encoding::Zstd, Encoding::Gzip];

    /// Its name in `Accept-Encoding` and `Content-Encoding`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
        }
    }

    /// `body` in this coding, when that is shorter. The same bytes always compress to the
    /// same bytes, so equal answers carry equal tags on every door and in every process.
    pub fn compress(self, body: &[u8]) -> Option<Bytes> {
        let compressed = match self {
            Encoding::Zstd => zstd::bulk::compress(body, ZSTD_LEVEL).ok()?,
            Encoding::Gzip => {
                let level = flate2::Compression::new(GZIP_LEVEL);
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
                encoder.write_all(body).ok()?;
                encoder.finish().ok()?
            }
        };
        (compressed.len() < body.len()).then(|| Bytes::from(compressed))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::Read;

    use super::*;

    /// `bytes` decoded from `encoding`, by each format's reference decoder.
    fn decode(encoding: Encoding, bytes: &[u8]) -> Vec<u8> {
        let mut decoded = Vec::new();
        match encoding {
            Encoding::Gzip => flate2::read::GzDecoder::new(bytes).read_to_end(&mut decoded),
            Encoding::Zstd => zstd::stream::read::Decoder::new(bytes)
                .and_then(|mut decoder| decoder.read_to_end(&mut decoded)),
        }
        .unwrap_or_else(|e| panic!("{encoding:?}: {e}"));
        decoded
    }

    /// An answer of `length` bytes shaped like a CSV of buckets, with irregular counts: it
    /// compresses as ours do, and different encoders or levels make different bytes of it.
    pub(crate) fn text(length: usize) -> String {
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

    #[test]
    fn each_coding_round_trips_and_shrinks_an_answer() {
        let body = text(4000);
        for encoding in Encoding::ALL {
            let compressed = encoding.compress(body.as_bytes()).unwrap();
            assert!(compressed.len() < body.len() / 2, "{encoding:?}");
            assert_eq!(
                decode(encoding, &compressed),
                body.as_bytes(),
                "{encoding:?}"
            );
        }
    }

    /// The ETag is taken from the compressed bytes, so equal answers must compress equally.
    #[test]
    fn compression_is_deterministic() {
        for encoding in Encoding::ALL {
            let first = encoding.compress(text(20_000).as_bytes()).unwrap();
            let second = encoding.compress(text(20_000).as_bytes()).unwrap();
            assert!(
                first == second,
                "{encoding:?}: one answer compressed twice differs"
            );
        }
    }

    #[test]
    fn what_would_not_shrink_is_not_compressed() {
        assert_eq!(Encoding::Gzip.compress(b"x"), None);
    }
}
