//! HTTP/2 on the Kubeless and Knative doors, as curl speaks it with `--http2-prior-knowledge`
//! (h2c: HTTP/2 without TLS, which Knative's queue-proxy and Cloud Run use towards a container
//! that asks for it). Against a real Elasticsearch, every answer is the HTTP/1.1 answer: the
//! status, the content type, the encoding, the caching headers (ETag, Vary, Cache-Control) and
//! the body, byte for byte, but for the search response's `took`.
//!
//! curl runs as a process of its own, and the test checks from its `%{http_version}` that each
//! exchange used the protocol asked for. The doors run with `CACHE_TTL=0`, so each request is a
//! search of its own: the default format's answers differ in `took`, and its weak ETag, which
//! leaves `took` out, must not.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::bed::Bed;
use support::doors::{KNATIVE, KUBELESS};
use support::histogram::spread_observations;
use support::without_took;

/// One request compared across the two protocols.
struct Case {
    /// What it asks, for messages.
    name: &'static str,
    /// What follows the door's base URL.
    path: &'static str,
    /// The request's headers.
    headers: &'static [(&'static str, &'static str)],
    /// The status both protocols must answer.
    status: u16,
    /// Whether the body is the search response, compared without its `took`; other bodies
    /// are compared byte for byte.
    search_response: bool,
}

const CASES: [Case; 6] = [
    Case {
        name: "the default format",
        path: "/",
        headers: &[],
        status: 200,
        search_response: true,
    },
    Case {
        name: "format=csv",
        path: "/?format=csv",
        headers: &[],
        status: 200,
        search_response: false,
    },
    Case {
        name: "Accept: image/svg+xml",
        path: "/",
        headers: &[("accept", "image/svg+xml")],
        status: 200,
        search_response: false,
    },
    Case {
        name: "a long CSV as gzip",
        path: "/?format=csv&interval=0.1&fill=true",
        headers: &[("accept-encoding", "gzip")],
        status: 200,
        search_response: false,
    },
    Case {
        name: "/healthz",
        path: "/healthz",
        headers: &[],
        status: 200,
        search_response: false,
    },
    Case {
        name: "an unknown parameter",
        path: "/?colour=red",
        headers: &[],
        status: 400,
        search_response: false,
    },
];

/// The response headers that must be the same on both protocols.
const HEADERS: [&str; 6] = [
    "content-type",
    "content-encoding",
    "etag",
    "vary",
    "cache-control",
    "access-control-allow-origin",
];

/// curl's flag for each protocol, and the `%{http_version}` it must report.
const HTTP1: (&str, &str) = ("--http1.1", "1.1");
/// The same for HTTP/2 without TLS, with no HTTP/1.1 upgrade first.
const HTTP2: (&str, &str) = ("--http2-prior-knowledge", "2");

/// One exchange as curl saw it.
struct CurlAnswer {
    /// `%{http_version}`: `1.1` or `2`.
    http_version: String,
    status: u16,
    /// Every header, its name in lower case, in the order received.
    headers: Vec<(String, String)>,
    /// The body as it came off the wire: curl decodes nothing without `--compressed`.
    body: Vec<u8>,
}

impl CurlAnswer {
    /// The values of header `name`, joined with ", " when it came more than once; "" if absent.
    fn header(&self, name: &str) -> String {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        values.join(", ")
    }
}

/// A directory for curl's header and body files. Dropping it removes it.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("wx-stats-http2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `curl PROTOCOL -H … URL`, its headers and body written to files in `scratch`; `what` names
/// the door and the request in failure messages.
fn curl(
    what: &str,
    (flag, version): (&str, &str),
    url: &str,
    headers: &[(&str, &str)],
    scratch: &Scratch,
) -> CurlAnswer {
    let (head_file, body_file) = (scratch.0.join("headers"), scratch.0.join("body"));
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--max-time", "30", flag])
        .arg("--dump-header")
        .arg(&head_file)
        .arg("--output")
        .arg(&body_file)
        .args(["--write-out", "%{http_version}"]);
    for (name, value) in headers {
        command.args(["--header", &format!("{name}: {value}")]);
    }
    let output = command
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl: {e}"));
    assert!(
        output.status.success(),
        "{what}: curl {flag} {url} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let http_version = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        http_version, version,
        "{what}: curl {flag} {url}: the protocol used"
    );
    let head = std::fs::read_to_string(&head_file).unwrap();
    let mut lines = head.lines();
    // `HTTP/1.1 200 OK` or `HTTP/2 200`.
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{what}: curl {flag}: no status in {status_line:?}"));
    let headers = lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    CurlAnswer {
        http_version,
        status,
        headers,
        body: std::fs::read(&body_file).unwrap(),
    }
}

/// The body to compare: the search response without `took`, any other body as it is.
fn comparable(case: &Case, answer: &CurlAnswer) -> Value {
    if case.search_response {
        let json: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
            let body = String::from_utf8_lossy(&answer.body);
            panic!("{}: not JSON ({e}): {body}", case.name)
        });
        without_took(json)
    } else {
        Value::Array(answer.body.iter().map(|&b| Value::from(b)).collect())
    }
}

#[tokio::test]
async fn http2_prior_knowledge_gets_the_same_answers_as_http1_on_kubeless_and_knative() {
    let bed = Bed::new("http2", &spread_observations()).await;
    let scratch = Scratch::new();
    for binary in [KUBELESS, KNATIVE] {
        let door = bed.door_with(binary, &[("CACHE_TTL", "0")]).await;
        let name = binary.rsplit('/').next().unwrap_or(binary);
        for case in &CASES {
            let url = format!("{}{}", door.base, case.path);
            let what = format!("{name}, {}", case.name);
            let http1 = curl(&what, HTTP1, &url, case.headers, &scratch);
            let http2 = curl(&what, HTTP2, &url, case.headers, &scratch);
            println!(
                "{what}: HTTP/{} {} and HTTP/{} {}, {} bytes, ETag {:?}, Vary {:?}",
                http1.http_version,
                http1.status,
                http2.http_version,
                http2.status,
                http2.body.len(),
                http2.header("etag"),
                http2.header("vary"),
            );
            assert_eq!(http1.status, case.status, "{what}: HTTP/1.1's status");
            assert_eq!(http2.status, http1.status, "{what}: status");
            for header in HEADERS {
                assert_eq!(
                    http2.header(header),
                    http1.header(header),
                    "{what}: {header}"
                );
            }
            assert!(
                comparable(case, &http2) == comparable(case, &http1),
                "{what}: the bodies differ:\nHTTP/2: {}\nHTTP/1.1: {}",
                String::from_utf8_lossy(&http2.body),
                String::from_utf8_lossy(&http1.body)
            );
            // So that the comparisons above compared something.
            if case.status == 200 && case.path != "/healthz" {
                assert!(!http1.header("etag").is_empty(), "{what}: no ETag");
                assert!(!http1.header("vary").is_empty(), "{what}: no Vary");
            }
            if case.headers.contains(&("accept-encoding", "gzip")) {
                assert_eq!(http1.header("content-encoding"), "gzip", "{what}");
            }
        }
    }
}
