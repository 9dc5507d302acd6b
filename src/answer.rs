//! An answer as the caller is sent it: its bytes, its format and its entity tag, and each
//! compressed variant once a caller has asked for it. The cache keeps answers, so a hit builds
//! no JSON, renders nothing, hashes no body and compresses nothing twice.

mod encoding;
mod tag;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;

pub use encoding::{Encoding, MIN_COMPRESSED_BYTES};
pub use tag::{entity_tag, without_times_tag, without_took_tag};

use crate::format::{Format, TagKind};

/// An answer ready to send, with what the HTTP layer needs to send it.
///
/// Its headers are header values, made once with the answer rather than on each call: a kept
/// answer is sent many times, and a hit then only counts one more reference to bytes already
/// made (the content type's are static), where making them from strings would format, check
/// and allocate again on every hit, the path the benchmark measures.
#[derive(Debug)]
pub struct Answer {
    /// The format it is written in.
    pub format: Format,
    /// The body, uncompressed.
    pub body: Bytes,
    /// Its `Content-Type`.
    pub content_type: HeaderValue,
    /// The body's entity tag (see [`Answer::new`]).
    pub tag: HeaderValue,
    /// Its `Cache-Control`: caches downstream may keep it as long as we do (`max-age`), and a
    /// partial answer not at all (`no-store`).
    pub cache_control: HeaderValue,
    /// Why the answer is incomplete, when some shards failed: it is served, but not kept.
    pub partial: Option<String>,
    /// The zstd and gzip variants, each made the first time a caller asks for it.
    compressed: [OnceLock<Option<Variant>>; 2],
}

/// The bytes sent for one `Content-Encoding`, and their tag.
#[derive(Clone, Copy, Debug)]
pub struct Representation<'a> {
    /// What goes on the wire.
    pub bytes: &'a Bytes,
    /// Its entity tag.
    pub tag: &'a HeaderValue,
    /// Its `Content-Encoding`; `None` for the body as it is.
    pub encoding: Option<Encoding>,
}

/// A compressed variant of the body.
#[derive(Debug)]
struct Variant {
    bytes: Bytes,
    tag: HeaderValue,
}

impl Answer {
    /// The answer `body` in `format`, tagged as the format's `TagKind` says. Downstream
    /// caches may keep it for `max_age` unless it is `partial`.
    pub fn new(format: Format, body: String, max_age: Duration, partial: Option<String>) -> Self {
        let tag = match format.tag_kind() {
            TagKind::WeakWithoutTook => without_took_tag(&body),
            TagKind::WeakWithoutTimes => without_times_tag(&body),
            TagKind::OfBytes => entity_tag(body.as_bytes()),
        };
        let cache_control = match partial {
            None => HeaderValue::try_from(format!("max-age={}", max_age.as_secs()))
                .unwrap_or_else(|_| HeaderValue::from_static("no-store")),
            Some(_) => HeaderValue::from_static("no-store"),
        };
        Answer {
            format,
            content_type: HeaderValue::from_static(format.content_type()),
            body: Bytes::from(body),
            tag,
            cache_control,
            partial,
            compressed: Default::default(),
        }
    }

    /// What to send a caller who prefers `encoding`: its compressed variant, made once and kept
    /// with the answer, or the body as it is when it is shorter than [`MIN_COMPRESSED_BYTES`]
    /// or would not shrink. A compressed variant is tagged as the format's `TagKind` says:
    /// by its own bytes, or with the answer's one weak tag.
    pub fn representation(&self, encoding: Option<Encoding>) -> Representation<'_> {
        let plain = Representation {
            bytes: &self.body,
            tag: &self.tag,
            encoding: None,
        };
        let Some(encoding) = encoding else {
            return plain;
        };
        if self.body.len() < MIN_COMPRESSED_BYTES {
            return plain;
        }
        let variant = self.compressed[encoding as usize].get_or_init(|| {
            let bytes = encoding.compress(&self.body)?;
            let tag = match self.format.tag_kind() {
                TagKind::OfBytes => entity_tag(&bytes),
                TagKind::WeakWithoutTook | TagKind::WeakWithoutTimes => self.tag.clone(),
            };
            Some(Variant { bytes, tag })
        });
        match variant {
            Some(variant) => Representation {
                bytes: &variant.bytes,
                tag: &variant.tag,
                encoding: Some(encoding),
            },
            None => plain,
        }
    }

    /// Makes the variant for `encoding` before [`Answer::representation`] is asked for it: off
    /// the async threads (`offload`) when the body is large enough that compressing it would
    /// hold up the threads that answer probes and kept answers.
    pub async fn compress_ahead(self: &Arc<Self>, encoding: Option<Encoding>) {
        let Some(encoding) = encoding else {
            return;
        };
        let made = self.compressed[encoding as usize].get().is_some();
        if made || self.body.len() < crate::offload::LARGE_BYTES {
            return;
        }
        let answer = self.clone();
        let compressed = crate::offload::run(move || {
            answer.representation(Some(encoding));
        });
        // A panic while compressing leaves the variant unmade; `representation` tries again.
        let _ = compressed.await;
    }

    /// The most memory the answer can come to: its body, and a variant per encoding, each kept
    /// only when smaller than the body.
    pub fn weight(&self) -> usize {
        self.body.len() * (1 + self.compressed.len())
            + self.partial.as_ref().map_or(0, String::capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(length: usize) -> String {
        encoding::tests::text(length)
    }

    #[test]
    fn a_variant_is_made_once_and_tagged_by_its_own_bytes() {
        let answer = Answer::new(Format::Csv, csv(4000), Duration::ZERO, None);
        let first = answer.representation(Some(Encoding::Gzip));
        assert_eq!(first.encoding, Some(Encoding::Gzip));
        assert!(first.bytes.len() < answer.body.len() / 2);
        assert_eq!(*first.tag, entity_tag(first.bytes));
        assert_ne!(*first.tag, answer.tag);
        let again = answer.representation(Some(Encoding::Gzip));
        assert!(
            std::ptr::eq(first.bytes, again.bytes),
            "the second caller gets the bytes made for the first"
        );
        let zstd = answer.representation(Some(Encoding::Zstd));
        assert_eq!(zstd.encoding, Some(Encoding::Zstd));
        assert_ne!(zstd.tag, first.tag);
    }

    #[test]
    fn short_answers_and_identity_are_sent_as_they_are() {
        let short = Answer::new(
            Format::Csv,
            csv(MIN_COMPRESSED_BYTES - 1),
            Duration::ZERO,
            None,
        );
        let sent = short.representation(Some(Encoding::Zstd));
        assert_eq!((sent.encoding, sent.bytes), (None, &short.body));
        let long = Answer::new(Format::Csv, csv(MIN_COMPRESSED_BYTES), Duration::ZERO, None);
        assert_eq!(long.representation(None).encoding, None);
        assert_eq!(
            long.representation(Some(Encoding::Zstd)).encoding,
            Some(Encoding::Zstd)
        );
    }

    #[test]
    fn the_default_format_keeps_its_weak_tag_in_every_encoding() {
        let text = format!("{{\"took\":3,\"hits\":\"{}\"}}", csv(3000));
        let answer = Answer::new(Format::Es, text, Duration::ZERO, None);
        assert!(answer.tag.to_str().unwrap().starts_with("W/\""));
        for encoding in [None, Some(Encoding::Gzip), Some(Encoding::Zstd)] {
            assert_eq!(*answer.representation(encoding).tag, answer.tag);
        }
    }
}
