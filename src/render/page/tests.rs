use super::*;
use crate::render::render;
use crate::render::tests::{RESPONSE, at, parsed, request};

/// The page of the test response, rendered in `context`.
fn page_of(context: &RenderContext) -> String {
    render(&request(Format::Html), parsed(RESPONSE), context).unwrap()
}

/// The page for a request of `pairs`, which cannot be answered: the error's, with the form.
fn error_page_of(pairs: &[(&str, &str)]) -> String {
    let params: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let error = crate::query::StatsRequest::parse(&params, None, "wx-*").unwrap_err();
    error_page(&params, &error)
}

/// The text of the one `<tag>…</tag>` in `page`; fails if there is not exactly one.
fn only(page: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    assert_eq!(page.matches(&open).count(), 1, "one <{tag}> in the page");
    let start = page.find(&open).unwrap() + open.len();
    let end = start + page[start..].find(&format!("</{tag}>")).unwrap();
    page[start..end].to_string()
}

#[test]
fn the_page_holds_the_chart_the_table_the_form_and_the_links() {
    let page = page_of(&at(86_400));
    assert!(
        page.starts_with("<!DOCTYPE html><html lang=\"en\">"),
        "{page}"
    );
    assert!(page.contains("<svg role=\"img\" aria-labelledby=\"chart-caption\" width=\"800\""));
    assert_eq!(
        page.matches("fill=\"#2B6CB0\"").count(),
        2,
        "a bar per non-empty bucket"
    );
    let rows = only(&page, "tbody");
    assert_eq!(
        rows,
        "<tr><td>66</td><td>68</td><td>2</td></tr><tr><td>68</td><td>70</td><td>0</td></tr>\
         <tr><td>70</td><td>72</td><td>5</td></tr>"
    );
    assert!(page.contains("<tfoot><tr><th scope=\"row\" colspan=\"2\">Total</th><td>7</td>"));
    assert!(page.contains(
        "input name=\"hours\" type=\"number\" min=\"1\" max=\"8784\" required value=\"24\""
    ));
    assert!(page.contains("value=\"rxtxMsg.payload.currently.temperature\""));
    for format in ["es", "buckets", "csv", "svg"] {
        let link = format!("href=\"?hours=24&amp;interval=2&amp;format={format}\"");
        assert!(page.contains(&link), "{link} in {page}");
    }
    assert!(page.contains("<body data-refresh=\"15\">"));
    assert!(!page.contains("id=\"partial\""));
}

#[test]
fn the_window_is_told_in_the_station_s_time_zone() {
    let utc = page_of(&at(86_400));
    assert!(
        utc.contains(
            "From <time datetime=\"1970-01-01T00:00:00+00:00\">1970-01-01 00:00</time> to \
             <time datetime=\"1970-01-02T00:00:00+00:00\">1970-01-02 00:00</time> (UTC)"
        ),
        "{utc}"
    );
    let mut berlin = at(86_400);
    berlin.time_zone = TimeZone::get("Europe/Berlin").unwrap();
    let page = page_of(&berlin);
    assert!(
        page.contains(
            "<time datetime=\"1970-01-02T01:00:00+01:00\">1970-01-02 01:00</time> (Europe/Berlin)"
        ),
        "{page}"
    );
}

#[test]
fn the_policy_allows_the_page_s_own_style_and_script_and_nothing_else() {
    let page = page_of(&at(0));
    let [(name, policy), (nosniff, _), (referrer, _)] = page_headers();
    assert_eq!(
        (name.as_str(), nosniff.as_str(), referrer.as_str()),
        (
            "content-security-policy",
            "x-content-type-options",
            "referrer-policy"
        )
    );
    let policy = policy.to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'; "), "{policy}");
    let style = format!("style-src '{}'", csp_hash(&only(&page, "style")));
    let script = format!("script-src '{}'", csp_hash(&only(&page, "script")));
    assert!(policy.contains(&style), "{policy} lacks {style}");
    assert!(policy.contains(&script), "{policy} lacks {script}");
    assert!(
        !page.contains(" style=\""),
        "no inline style attribute, which the policy refuses"
    );
    // The published example: SHA-256 of "" is 47DEQpj8… in base64.
    assert_eq!(
        csp_hash(""),
        "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
}

#[test]
fn a_partial_answer_is_said_on_the_page() {
    let mut context = at(0);
    context.partial = Some("1 of 2 shards failed (<b>query_shard_exception</b>)".into());
    let page = page_of(&context);
    assert!(
        page.contains(
            "Partial answer: 1 of 2 shards failed (&lt;b&gt;query_shard_exception&lt;/b&gt;)"
        ),
        "{page}"
    );
}

#[test]
fn markup_sent_in_any_parameter_comes_back_escaped() {
    let markup = "\"'><script>alert(1)</script>&";
    let mut names: Vec<&str> = crate::query::PARAMETERS.to_vec();
    names.push(markup);
    for name in names {
        let page = error_page_of(&[(name, markup)]);
        assert!(!page.contains("<script>alert"), "{name}: {page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{name}: {page}"
        );
        assert!(
            page.contains("<p id=\"problem\" role=\"alert\">"),
            "{name}: {page}"
        );
        assert_eq!(
            page.matches("<script>").count(),
            1,
            "only the page's own script"
        );
    }
}

#[test]
fn the_form_keeps_what_a_bad_request_sent() {
    let page = error_page_of(&[("hours", "12"), ("interval", "-1"), ("index", "wx-a")]);
    assert!(
        page.contains(
            "name=\"hours\" type=\"number\" min=\"1\" max=\"8784\" required value=\"12\""
        )
    );
    assert!(page.contains("required value=\"-1\""), "{page}");
    assert!(
        page.contains("<input type=\"hidden\" name=\"index\" value=\"wx-a\">"),
        "{page}"
    );
    assert!(
        page.contains("interval"),
        "the message names the parameter: {page}"
    );
}

/// `fill` is ticked as the request reads it: `true`, `1` or empty; unticked otherwise.
#[test]
fn the_fill_box_is_ticked_as_the_request_reads_fill() {
    let ticked = "<input name=\"fill\" type=\"checkbox\" value=\"true\" checked>";
    for (fill, checked) in [
        ("1", true),
        ("", true),
        ("true", true),
        ("0", false),
        ("x", false),
    ] {
        let page = error_page_of(&[("fill", fill), ("interval", "-1")]);
        assert_eq!(page.contains(ticked), checked, "fill={fill:?}: {page}");
    }
    let mut filled = request(Format::Html);
    filled.query.fill = true;
    let page = render(&filled, parsed(RESPONSE), &at(0)).unwrap();
    assert!(page.contains(ticked), "{page}");
}
