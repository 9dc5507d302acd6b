//! `Format`: how an answer is written. Its names, its content type and what `Accept` asks for
//! all live here, so the `format` parameter, the CLI's `--help` and the HTTP layer agree.

use std::fmt;
use std::str::FromStr;

/// How the answer is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Elasticsearch's search response, untouched: what the original returned.
    #[default]
    Es,
    /// A compact JSON document of buckets.
    Buckets,
    /// One CSV row per bucket.
    Csv,
    /// A histogram bar chart.
    Svg,
}

impl Format {
    /// Every format, in the order the names are listed.
    pub const ALL: [Format; 4] = [Format::Es, Format::Buckets, Format::Csv, Format::Svg];
    /// Every format's name, as the `format` parameter spells it.
    pub const NAMES: [&'static str; 4] = ["es", "buckets", "csv", "svg"];

    /// The format's name, as the `format` parameter spells it.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The content type the format is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Es | Format::Buckets => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Svg => "image/svg+xml",
        }
    }

    /// Whether the answer is a JSON document (and so can be pretty-printed or embedded as JSON).
    pub fn is_json(self) -> bool {
        matches!(self, Format::Es | Format::Buckets)
    }

    /// The format an `Accept` header prefers, read as RFC 9110 (12.5.1) says: media ranges
    /// match case-insensitively, each format takes the q-value of the most specific range
    /// that matches it (`text/csv` over `text/*` over `*/*`), `q=0` means "not acceptable",
    /// and the highest q wins; at equal q the format named by the more specific range wins,
    /// then the default. `None` when the header prefers JSON, or accepts none of our formats:
    /// the answer is then JSON, as the original's always was.
    pub fn from_accept(accept: &str) -> Option<Format> {
        // (q in thousandths, specificity) of each format, for what the header says of it.
        let preference = |format: Format| {
            let (kind, subtype) = format.media_type();
            accept
                .split(',')
                .filter_map(MediaRange::parse)
                .filter_map(|range| range.matches(kind, subtype).map(|s| (s, range.quality)))
                .max_by_key(|(specificity, _)| *specificity)
                .map(|(specificity, quality)| (quality, specificity))
        };
        // `Es` first, so that it wins a full tie; `Buckets` shares its media type.
        [Format::Es, Format::Csv, Format::Svg]
            .into_iter()
            .filter_map(|format| Some((format, preference(format)?)))
            .filter(|(_, (quality, _))| *quality > 0)
            .fold(None::<(Format, (u16, u8))>, |best, candidate| match best {
                Some(best) if best.1 >= candidate.1 => Some(best),
                _ => Some(candidate),
            })
            .map(|(format, _)| format)
            .filter(|format| *format != Format::Es)
    }

    /// The type and subtype of [`Format::content_type`], without parameters.
    fn media_type(self) -> (&'static str, &'static str) {
        match self {
            Format::Es | Format::Buckets => ("application", "json"),
            Format::Csv => ("text", "csv"),
            Format::Svg => ("image", "svg+xml"),
        }
    }
}

/// One media range of an `Accept` header, such as `text/*;q=0.5`.
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    /// The q-value in thousandths: 1000 when none is given.
    quality: u16,
}

impl<'a> MediaRange<'a> {
    /// A range, or `None` when it is malformed (it is then ignored, as if not sent): a
    /// parameter is `name=value`, and an empty one is skipped (RFC 9110, 5.6.6).
    fn parse(text: &'a str) -> Option<MediaRange<'a>> {
        let mut parts = text.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let (kind, subtype) = (kind.trim(), subtype.trim());
        if kind.is_empty() || subtype.is_empty() || (kind == "*" && subtype != "*") {
            return None;
        }
        let mut quality = 1000;
        for parameter in parts.map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = parameter.split_once('=')?;
            if name.trim().eq_ignore_ascii_case("q") {
                quality = parse_quality(value.trim())?;
            }
        }
        Some(MediaRange {
            kind,
            subtype,
            quality,
        })
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
pub(crate) fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl FromStr for Format {
    type Err = String;

    /// A name from [`Format::NAMES`]; the error says which names there are.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        Format::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| format!("{text:?} is not one of {}", Format::NAMES.join(", ")))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
        }
        assert_eq!(" csv ".parse::<Format>(), Ok(Format::Csv));
        assert_eq!(
            "xml".parse::<Format>(),
            Err("\"xml\" is not one of es, buckets, csv, svg".to_string())
        );
    }

    #[test]
    fn accept_picks_csv_or_svg_only() {
        assert_eq!(Format::from_accept("text/csv"), Some(Format::Csv));
        assert_eq!(
            Format::from_accept("image/svg+xml,*/*;q=0.8"),
            Some(Format::Svg)
        );
        assert_eq!(Format::from_accept("application/json"), None);
        assert_eq!(Format::from_accept("*/*"), None);
        assert_eq!(Format::from_accept("text/html"), None);
        assert_eq!(Format::from_accept(""), None);
    }

    /// RFC 9110 (12.5.1): q=0 is "not acceptable", media types are case-insensitive, and at
    /// equal q the more specific range decides.
    #[test]
    fn accept_weighs_q_values_case_and_specificity() {
        let cases = [
            ("text/csv;q=0, application/json", None),
            ("application/json, image/svg+xml;q=0", None),
            ("TEXT/CSV", Some(Format::Csv)),
            ("Image/SVG+XML", Some(Format::Svg)),
            ("text/csv ; Q=0", None),
            ("application/json;q=0.5, text/csv;q=0.9", Some(Format::Csv)),
            ("text/csv;q=0.4, image/svg+xml;q=0.6", Some(Format::Svg)),
            ("application/json;q=0.9, image/svg+xml", Some(Format::Svg)),
            ("text/*", Some(Format::Csv)),
            ("image/*, */*;q=0.1", Some(Format::Svg)),
            ("text/csv, */*", Some(Format::Csv)),
            ("*/*, text/csv;q=0", None),
            ("text/*;q=0.2, text/csv;q=0", None),
            ("text/csv;q=0, */*", None),
            ("text/csv, application/json", None),
            ("text/csv;q=2, image/svg+xml;q=0.1", Some(Format::Svg)),
            ("text/csv;q=0.0001", None),
            ("csv, image/svg+xml", Some(Format::Svg)),
            ("text/csv;", Some(Format::Csv)),
            ("text/csv; ;q=0.5, image/svg+xml;q=0.4", Some(Format::Csv)),
            ("text/csv;level, image/svg+xml;q=0.4", Some(Format::Svg)),
        ];
        for (accept, wanted) in cases {
            assert_eq!(Format::from_accept(accept), wanted, "Accept: {accept}");
        }
    }

    #[test]
    fn q_values_parse_as_rfc_9110_writes_them() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("0.125"), Some(125));
        assert_eq!(parse_quality("0"), Some(0));
        for bad in ["1.5", "2", "0.1234", "-1", "", "x", "0.a"] {
            assert_eq!(parse_quality(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_formats_are_served_as_json() {
        for format in Format::ALL {
            assert_eq!(
                format.is_json(),
                format.content_type() == "application/json"
            );
        }
    }
}
