//! Writing the answer: Elasticsearch's raw response (`es`), compact `buckets` JSON, `csv`, an
//! `svg` bar chart, or the `html` page that holds the chart. All but `es` read the histogram
//! out of the response first.

mod page;

use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::{Value, json};

use crate::error::Error;
use crate::es::SearchResponse;
use crate::format::Format;
use crate::query::{StatsQuery, StatsRequest};

pub(crate) use page::{error_page, page_headers};

/// One bar of the histogram: `count` observations in `[from, to)`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HistogramBucket {
    /// The bucket's lower edge (Elasticsearch's `key`).
    pub from: f64,
    /// The upper edge, `from + interval`.
    pub to: f64,
    /// How many observations fall in it (`doc_count`).
    pub count: u64,
}

/// The histogram read out of a search response.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Histogram {
    /// All observations in the window (`hits.total`).
    pub total: u64,
    /// The buckets, lowest first, empty ones included.
    pub buckets: Vec<HistogramBucket>,
}

impl Histogram {
    /// The histogram in a search response whose buckets are `interval` wide.
    pub(crate) fn read(response: &SearchResponse, interval: f64) -> Self {
        let buckets = response
            .buckets
            .iter()
            .map(|bucket| HistogramBucket {
                from: bucket.key,
                to: round(bucket.key + interval),
                count: bucket.doc_count,
            })
            .collect();
        Histogram {
            total: response.total,
            buckets,
        }
    }
}

/// What an answer is written with besides the search's response.
#[derive(Clone, Debug)]
pub(crate) struct RenderContext {
    /// When the window ends.
    pub now: SystemTime,
    /// How long the answer is kept (`CACHE_TTL`): the page asks again after it.
    pub refresh: Duration,
    /// Why the answer is incomplete, when some shards failed.
    pub partial: Option<String>,
    /// The station's time zone, which the page shows its times in.
    pub time_zone: TimeZone,
}

impl RenderContext {
    /// Every how many seconds the page asks again; 0 when answers are not kept.
    fn refresh_seconds(&self) -> u64 {
        self.refresh.as_secs()
    }

    /// The window the search covered: its start, `hours` before now, and its end, now.
    fn window(&self, hours: u32) -> (SystemTime, SystemTime) {
        let start = self
            .now
            .checked_sub(Duration::from_secs(u64::from(hours) * 3600))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        (start, self.now)
    }
}

/// Writes the search response in the request's format.
pub(crate) fn render(
    request: &StatsRequest,
    response: SearchResponse,
    context: &RenderContext,
) -> Result<String, Error> {
    let query = &request.query;
    let histogram = || Histogram::read(&response, query.interval);
    match request.format {
        Format::Es => Ok(response.text),
        Format::Buckets => Ok(buckets_json(query, &histogram(), context)),
        Format::Csv => csv(&histogram()),
        Format::Svg => svg(query, &histogram()),
        Format::Html => {
            let histogram = histogram();
            let chart = svg(query, &histogram)?;
            Ok(page::page(query, &histogram, &chart, context))
        }
    }
}

fn buckets_json(query: &StatsQuery, histogram: &Histogram, context: &RenderContext) -> String {
    let (start, end) = context.window(query.hours);
    let buckets: Vec<Value> = histogram
        .buckets
        .iter()
        .map(|b| json!({ "from": b.from, "to": b.to, "count": b.count }))
        .collect();
    json!({
        "field": query.field,
        "interval": query.interval,
        "window": {
            "hours": query.hours,
            "start": humantime::format_rfc3339_seconds(start).to_string(),
            "end": humantime::format_rfc3339_seconds(end).to_string(),
        },
        "total": histogram.total,
        "buckets": buckets,
    })
    .to_string()
}

fn csv(histogram: &Histogram) -> Result<String, Error> {
    let failed = |e: csv::Error| Error::Internal(format!("cannot write CSV: {e}"));
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer
        .write_record(["from", "to", "count"])
        .map_err(failed)?;
    for bucket in &histogram.buckets {
        writer
            .write_record([
                bucket.from.to_string(),
                bucket.to.to_string(),
                bucket.count.to_string(),
            ])
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::Internal(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(e.to_string()))
}

/// The chart's size in pixels.
const CHART: (u32, u32) = (800, 450);
/// The colour of the bars.
const BAR: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);

/// A bar chart: one bar per non-empty bucket, so empty buckets show as gaps.
fn svg(query: &StatsQuery, histogram: &Histogram) -> Result<String, Error> {
    let failed = |e: String| Error::Internal(format!("cannot draw the chart: {e}"));
    let measure = query.field.rsplit('.').next().unwrap_or(&query.field);
    let title = format!(
        "{measure}, last {} h ({} observations)",
        query.hours, histogram.total
    );
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, CHART).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(e.to_string()))?;
        let (Some(first), Some(last)) = (histogram.buckets.first(), histogram.buckets.last())
        else {
            let message = format!("No observations of {measure} in the last {} h", query.hours);
            let style = TextStyle::from(("sans-serif", 24).into_font())
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw_text(&message, &style, (CHART.0 as i32 / 2, CHART.1 as i32 / 2))
                .map_err(|e| failed(e.to_string()))?;
            root.present().map_err(|e| failed(e.to_string()))?;
            drop(root);
            return Ok(out);
        };
        let highest = histogram
            .buckets
            .iter()
            .map(|b| b.count)
            .max()
            .unwrap_or(1)
            .max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(first.from..last.to, 0u64..highest + highest / 10 + 1)
            .map_err(|e| failed(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc(format!("{} ({}-wide buckets)", query.field, query.interval))
            .y_desc("observations")
            .x_labels(12)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(|e| failed(e.to_string()))?;
        // A sliver of space between bars keeps neighbours apart; empty buckets are wider gaps.
        let inset = query.interval * 0.04;
        let bars = histogram.buckets.iter().filter(|b| b.count > 0);
        chart
            .draw_series(bars.map(|b| {
                Rectangle::new([(b.from + inset, 0), (b.to - inset, b.count)], BAR.filled())
            }))
            .map_err(|e| failed(e.to_string()))?;
        root.present().map_err(|e| failed(e.to_string()))?;
    }
    Ok(out)
}

/// An upper edge we compute, `from + interval`, such as 68.10000000000001, is written as 68.1.
/// Only `to` is rounded: `from` is Elasticsearch's own key, written as it sent it, so that a
/// bucket can be matched with Elasticsearch's answer.
fn round(value: f64) -> f64 {
    (value * 1e9).round() / 1e9
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(super) const RESPONSE: &str = r#"{"took":3,"hits":{"total":{"value":7,"relation":"eq"},"hits":[]},"aggregations":{"temps":{"buckets":[{"key":66.0,"doc_count":2},{"key":68.0,"doc_count":0},{"key":70.0,"doc_count":5}]}}}"#;

    pub(super) fn request(format: Format) -> StatsRequest {
        StatsRequest {
            format,
            ..StatsRequest::default()
        }
    }

    pub(super) fn parsed(text: &str) -> SearchResponse {
        SearchResponse::parse(text.to_string()).unwrap()
    }

    /// Rendered at `secs` after the epoch, kept 15 s, in UTC.
    pub(super) fn at(secs: u64) -> RenderContext {
        RenderContext {
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            refresh: Duration::from_secs(15),
            partial: None,
            time_zone: TimeZone::UTC,
        }
    }

    #[test]
    fn es_is_passed_through_untouched() {
        let rendered = render(&request(Format::Es), parsed(RESPONSE), &at(0)).unwrap();
        assert_eq!(rendered, RESPONSE);
    }

    #[test]
    fn buckets_are_compact() {
        let rendered =
            render(&request(Format::Buckets), parsed(RESPONSE), &at(86_400 * 2)).unwrap();
        let json: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(json["total"], 7);
        assert_eq!(
            json["buckets"],
            json!([{"from":66.0,"to":68.0,"count":2},{"from":68.0,"to":70.0,"count":0},{"from":70.0,"to":72.0,"count":5}])
        );
        assert_eq!(
            json["window"],
            json!({"hours": 24, "start": "1970-01-02T00:00:00Z", "end": "1970-01-03T00:00:00Z"})
        );
        assert_eq!(json["field"], "rxtxMsg.payload.currently.temperature");
    }

    #[test]
    fn csv_has_a_header_and_a_row_per_bucket() {
        let rendered = render(&request(Format::Csv), parsed(RESPONSE), &at(0)).unwrap();
        assert_eq!(
            rendered,
            "from,to,count\r\n66,68,2\r\n68,70,0\r\n70,72,5\r\n"
        );
    }

    #[test]
    fn computed_upper_edges_are_rounded_and_keys_kept_as_sent() {
        let mut req = request(Format::Csv);
        req.query.interval = 0.1;
        let response = r#"{"hits":{"total":1},"aggregations":{"temps":{"buckets":[{"key":0.6000000000000001,"doc_count":1}]}}}"#;
        let rendered = render(&req, parsed(response), &at(0)).unwrap();
        assert_eq!(rendered, "from,to,count\r\n0.6000000000000001,0.7,1\r\n");
    }

    #[test]
    fn svg_has_a_bar_per_non_empty_bucket_and_a_title() {
        let rendered = render(&request(Format::Svg), parsed(RESPONSE), &at(0)).unwrap();
        assert!(rendered.starts_with("<svg"), "{}", &rendered[..80]);
        assert!(rendered.contains("temperature, last 24 h (7 observations)"));
        assert_eq!(
            rendered.matches("fill=\"#2B6CB0\"").count(),
            2,
            "two non-empty buckets"
        );
    }

    #[test]
    fn svg_without_data_says_so() {
        let empty = r#"{"hits":{"total":{"value":0}},"aggregations":{"temps":{"buckets":[]}}}"#;
        let rendered = render(&request(Format::Svg), parsed(empty), &at(0)).unwrap();
        assert!(
            rendered.contains("No observations of temperature in the last 24 h"),
            "{}",
            rendered
        );
    }
}
