//! Content negotiation (RFC 9110, 12.5): the format a caller's `Accept` prefers and the coding
//! its `Accept-Encoding` prefers. Both headers are lists of `name;q=…`, read here by one parser
//! (`entries`), and both choose by one rule (`best`): the highest q wins, `q=0` refuses,
//! and a tie goes to the earlier candidate (the default format; zstd). The core makes the
//! formats and the answer the codings; here is only the caller's choice.

use axum::http::{HeaderMap, HeaderName, header};

use crate::answer::Encoding;
use crate::format::Format;

/// The format the request's `Accept` prefers, read as RFC 9110 (12.5.1) says: media ranges
/// match case-insensitively, each format takes the q-value of the most specific range that
/// matches it (`text/csv` over `text/*` over `*/*`), and at equal q the format named by the
/// more specific range wins, then the default. `None` when no range accepts any format.
pub fn preferred_format(headers: &HeaderMap) -> Option<Format> {
    let candidates = Format::ALL
        .into_iter()
        .enumerate()
        // A media type names the first format that has it: `application/json` is `Es`, the
        // default, which `Buckets` is only when asked for by name.
        .filter(|(at, format)| {
            let same = |other: &Format| other.media_type() == format.media_type();
            !Format::ALL[..*at].iter().any(same)
        })
        .filter_map(|(_, format)| {
            let (kind, subtype) = format.media_type().split_once('/')?;
            let ranges = entries(headers, header::ACCEPT).filter_map(|(range, quality)| {
                Some((MediaRange::parse(range)?.matches(kind, subtype)?, quality))
            });
            let (quality, specificity) = most_specific(ranges)?;
            Some((format, quality, specificity))
        });
    best(candidates)
}

/// The coding the request's `Accept-Encoding` prefers (RFC 9110, 12.5.3), or `None` for the
/// body as it is. Each coding takes the q-value of its own entry, else of `*`, else 0. The
/// coding with the highest q wins, zstd on a tie with gzip, unless `identity` (or `*`, when it
/// is not named) has a higher q: the body as it is is then preferred.
pub fn preferred_encoding(headers: &HeaderMap) -> Option<Encoding> {
    // Names its own coding at specificity 1; `*` names every coding at 0.
    let quality_of = |name: &str| {
        let codings = entries(headers, header::ACCEPT_ENCODING).filter_map(|(coding, quality)| {
            let specificity = match coding {
                "*" => 0,
                coding if coding.eq_ignore_ascii_case(name) => 1,
                _ => return None,
            };
            Some((specificity, quality))
        });
        most_specific(codings).map_or(0, |(quality, _)| quality)
    };
    let plain = quality_of("identity");
    let candidates = Encoding::ALL
        .into_iter()
        .map(|encoding| (encoding, quality_of(encoding.name()), ()))
        .filter(|(_, quality, _)| *quality >= plain);
    best(candidates)
}

/// The entries of every `name` line (one list, RFC 9110, 5.3) as (name, q in thousandths):
/// `text/csv;q=0.5` is `("text/csv", 500)`, and an entry without q has 1000. A parameter is
/// `name=value`, and an empty one is skipped (RFC 9110, 5.6.6); an entry with any other, or
/// with a malformed q, is ignored, as if not sent.
fn entries(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = (&str, u16)> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let name = parts.next()?.trim();
            if name.is_empty() {
                return None;
            }
            let mut quality = 1000;
            for parameter in parts.map(str::trim).filter(|p| !p.is_empty()) {
                let (key, value) = parameter.split_once('=')?;
                if key.trim().eq_ignore_ascii_case("q") {
                    quality = parse_quality(value.trim())?;
                }
            }
            Some((name, quality))
        })
}

/// Of the entries that name a candidate, each as (specificity, q): the q of the most specific
/// (the later of two as specific), with its specificity.
fn most_specific(named: impl Iterator<Item = (u8, u16)>) -> Option<(u16, u8)> {
    named
        .max_by_key(|(specificity, _)| *specificity)
        .map(|(specificity, quality)| (quality, specificity))
}

/// The candidate the caller likes best: the highest q, then the highest `rank`, then the
/// earliest; `None` when the caller refuses them all (`q=0`).
fn best<T, R: Ord>(candidates: impl Iterator<Item = (T, u16, R)>) -> Option<T> {
    candidates
        .filter(|(_, quality, _)| *quality > 0)
        .map(|(candidate, quality, rank)| (candidate, (quality, rank)))
        .fold(None::<(T, (u16, R))>, |best, candidate| match best {
            Some(best) if best.1 >= candidate.1 => Some(best),
            _ => Some(candidate),
        })
        .map(|(candidate, _)| candidate)
}

/// A media range of `Accept`, such as `text/*`, without its parameters.
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
}

impl<'a> MediaRange<'a> {
    /// A range, or `None` when it is malformed (it is then ignored, as if not sent).
    fn parse(text: &'a str) -> Option<MediaRange<'a>> {
        let (kind, subtype) = text.split_once('/')?;
        let (kind, subtype) = (kind.trim(), subtype.trim());
        if kind.is_empty() || subtype.is_empty() || (kind == "*" && subtype != "*") {
            return None;
        }
        Some(MediaRange { kind, subtype })
    }

    /// How specifically this range names `kind/subtype`: 2 exactly, 1 as `kind/*`, 0 as `*/*`.
    fn matches(&self, kind: &str, subtype: &str) -> Option<u8> {
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        match (self.kind, self.subtype) {
            ("*", "*") => Some(0),
            (k, "*") if same(k, kind) => Some(1),
            (k, s) if same(k, kind) && same(s, subtype) => Some(2),
            _ => None,
        }
    }
}

/// A qvalue (RFC 9110, 12.4.2): `0` to `1` with at most three decimals, in thousandths.
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Right-padded to three digits without building a string: this runs for every q-value of
    // every request's `Accept` and `Accept-Encoding`, cached answers included.
    let digits = fraction
        .bytes()
        .fold(0u16, |n, digit| n * 10 + u16::from(digit - b'0'));
    let thousandths = digits * 10u16.pow(3 - fraction.len() as u32);
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
