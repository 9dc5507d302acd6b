//! `Format`: how an answer is written. Its names, its content type and the rules that follow
//! from what it is (the raw response or not, JSON or not, how it is tagged) live here, so the
//! `format` parameter, the CLI's `--help`, the search body, the tag and the HTTP layer's
//! reading of `Accept` agree. A new format is a variant here and its writer in `render`.

use std::fmt;
use std::str::FromStr;

/// The content type of every JSON answer, errors included: a response with it is JSON.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json";

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
    /// A page for people: the chart, the numbers as a table, and a form to ask again.
    Html,
}

impl Format {
    /// Every format, in the order the names are listed.
    pub const ALL: [Format; 5] = [
        Format::Es,
        Format::Buckets,
        Format::Csv,
        Format::Svg,
        Format::Html,
    ];
    /// Every format's name, as the `format` parameter spells it.
    pub const NAMES: [&'static str; 5] = ["es", "buckets", "csv", "svg", "html"];

    /// The format's name, as the `format` parameter spells it.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The content type the format is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Es | Format::Buckets => JSON_CONTENT_TYPE,
            Format::Csv => "text/csv; charset=utf-8",
            Format::Svg => "image/svg+xml",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// Whether the answer is a JSON document (and so can be pretty-printed or embedded as JSON).
    pub fn is_json(self) -> bool {
        self.media_type() == JSON_CONTENT_TYPE
    }

    /// Whether the answer is Elasticsearch's own response, sent as it came: the original
    /// function's answer, so it is searched with the original body, untouched.
    pub fn is_raw(self) -> bool {
        matches!(self, Format::Es)
    }

    /// How the answer's entity tag is made: Elasticsearch's own response carries its `took`,
    /// and the page its window's times, which change with every search while the data does not.
    pub fn tag_kind(self) -> TagKind {
        match self {
            Format::Es => TagKind::WeakWithoutTook,
            Format::Html => TagKind::WeakWithoutTimes,
            Format::Buckets | Format::Csv | Format::Svg => TagKind::OfBytes,
        }
    }

    /// The type and subtype of [`Format::content_type`], without parameters: what an `Accept`
    /// header names it by.
    pub fn media_type(self) -> &'static str {
        let content_type = self.content_type();
        content_type
            .split_once(';')
            .map_or(content_type, |(media_type, _)| media_type)
    }
}

/// How an answer's entity tag is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKind {
    /// Strong, of the bytes sent: each compressed variant, another representation, has its own.
    OfBytes,
    /// Weak, of the answer without the value of its `took`, and the same in every encoding: a
    /// cache's revalidation gets its 304 while the histogram stays the same.
    WeakWithoutTook,
    /// Weak, of the page without its `<time>` elements, which tell the moment it was made, and
    /// the same in every encoding: an open page's refresh gets its 304 while the histogram
    /// stays the same.
    WeakWithoutTimes,
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
            Err("\"xml\" is not one of es, buckets, csv, svg, html".to_string())
        );
    }

    #[test]
    fn a_media_type_is_its_content_type_without_parameters() {
        assert_eq!(Format::Csv.media_type(), "text/csv");
        assert_eq!(Format::Svg.media_type(), "image/svg+xml");
        assert_eq!(Format::Es.media_type(), Format::Buckets.media_type());
    }

    /// Exactly: the Lambda door embeds an answer as JSON when its content type is this one.
    #[test]
    fn json_formats_are_served_as_json() {
        for format in Format::ALL {
            assert_eq!(format.is_json(), format.content_type() == JSON_CONTENT_TYPE);
        }
    }
}
