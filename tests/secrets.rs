//! Credentials never show. Every door runs at debug log level with a password, then with an API
//! key, each a marker string used nowhere else, through a success and every kind of failure.
//! Everything a caller or an operator could see (every log line, response body and header, and
//! /metrics) is searched for the markers, and for the encodings they travel in.
//!
//! And a client learns nothing of the service: no answer's body, on any door, names the address
//! of Elasticsearch or of the proxies in front of it, the user, the roles Elasticsearch names
//! when it refuses, the `ES_INDEX_ALLOW` patterns, the configured index, or an upstream's error
//! page.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use support::doors::{Doors, KNATIVE, KUBELESS};
use support::nginx::{ProxyAuth, TlsProxy};
use support::server::delaying_proxy;
use support::{TestIndex, error_type, es_host, run};

const CLI: &str = env!("CARGO_BIN_EXE_wx-stats");
const LAMBDA: &str = env!("CARGO_BIN_EXE_wx-stats-lambda");

const USERNAME: &str = "wx-reader";
/// Every door logs at the most verbose level, its dependencies (hyper, reqwest, rustls) included.
const VERBOSE_LOGS: [(&str, &str); 2] = [("RUST_LOG", "trace"), ("AWS_LAMBDA_LOG_LEVEL", "trace")];

/// Which kind of credential a run carries.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Basic,
    ApiKey,
}

/// The secret the proxy accepts and a wrong one, both unique to this run.
struct Markers {
    kind: Kind,
    right: String,
    wrong: String,
}

impl Markers {
    fn new(kind: Kind) -> Markers {
        let unique = format!(
            "{}x{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        Markers {
            kind,
            right: format!("marker-right-{kind:?}-{unique}"),
            wrong: format!("marker-wrong-{kind:?}-{unique}"),
        }
    }

    /// The variables that carry `secret`.
    fn env(&self, secret: &str) -> Vec<(String, String)> {
        match self.kind {
            Kind::Basic => vec![
                ("ES_USERNAME".into(), USERNAME.into()),
                ("ES_PASSWORD".into(), secret.into()),
            ],
            Kind::ApiKey => vec![("ES_API_KEY".into(), secret.into())],
        }
    }

    fn proxy_auth(&self) -> ProxyAuth {
        match self.kind {
            Kind::Basic => ProxyAuth::Basic {
                username: USERNAME.to_string(),
                password: self.right.clone(),
            },
            Kind::ApiKey => ProxyAuth::ApiKey(self.right.clone()),
        }
    }

    /// Each secret as set, as a Basic header carries it, and as an ApiKey header carries it.
    fn forbidden(&self) -> Vec<String> {
        [&self.right, &self.wrong]
            .into_iter()
            .flat_map(|secret| {
                [
                    secret.clone(),
                    BASE64.encode(format!("{USERNAME}:{secret}")),
                    BASE64.encode(secret),
                    format!("ApiKey {secret}"),
                ]
            })
            .collect()
    }
}

/// One request and what it must be answered with.
struct Call {
    method: &'static str,
    path: String,
    body: Vec<u8>,
    status: u16,
    /// The error type, for a failure.
    error: Option<&'static str>,
}

fn get(path: impl Into<String>, status: u16, error: Option<&'static str>) -> Call {
    Call {
        method: "GET",
        path: path.into(),
        body: Vec::new(),
        status,
        error,
    }
}

/// One way of starting the doors, and the calls made to each.
struct Scenario {
    name: &'static str,
    env: Vec<(String, String)>,
    calls: Vec<Call>,
    /// The CLI's arguments and its exit code, for each failure it can show.
    cli: Vec<(Vec<String>, i32)>,
}

/// Everything anyone could see, gathered from every door; searched once at the end. `bodies`
/// holds what clients were sent, each after its label.
#[derive(Default)]
struct Seen(String, String);

impl Seen {
    fn add(&mut self, label: &str, text: &str) {
        self.0.push_str(&format!("\n===== {label}\n{text}"));
    }

    fn add_body(&mut self, label: &str, body: &str) {
        self.1.push_str(&format!("\n===== {label}\n{body}"));
    }
}

/// Fails the test at the first of `forbidden` found in `text`, showing where.
fn assert_none_in(text: &str, forbidden: &[String], what: &str) {
    for needle in forbidden {
        if let Some(at) = text.find(needle.as_str()) {
            let start = text[..at].rfind("\n=====").unwrap_or(0);
            panic!(
                "{needle:?} was shown {what}:\n{}",
                &text[start..(at + needle.len() + 300).min(text.len())]
            );
        }
    }
}

/// Makes `call` and records its status line, every header and the body.
async fn exchange(base: &str, call: &Call, door: &str, seen: &mut Seen) {
    let client = reqwest::Client::new();
    let url = format!("{}{}", base.trim_end_matches('/'), call.path);
    let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap();
    let response = client
        .request(method, &url)
        .body(call.body.clone())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers: String = response
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    let body = response.text().await.unwrap();
    let label = format!("{door} {} {}", call.method, call.path);
    assert_eq!(status, call.status, "{label}: {body}");
    if let Some(expected) = call.error {
        assert_eq!(error_type(&body, status), expected, "{label}");
    }
    seen.add(&label, &format!("{status}\n{headers}\n{body}"));
    seen.add_body(&label, &body);
}

async fn run_scenario(scenario: &Scenario, seen: &mut Seen) {
    let env: Vec<(&str, &str)> = scenario
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(VERBOSE_LOGS)
        .collect();
    let mut doors = Doors::start(&env).await;
    for (door, function) in doors.functions() {
        for call in &scenario.calls {
            exchange(&function, call, door, seen).await;
        }
        exchange(&function, &get("/metrics", 200, None), door, seen).await;
    }
    // Every line a door writes counts, those after its last answer (the Lambda runtime's
    // connection pool's) and at shutdown included: the logs are read once the doors have exited.
    doors.stop().await;
    for (door, log) in [
        ("kubeless", doors.kubeless.log()),
        ("knative", doors.knative.log()),
        ("lambda", doors.lambda.function_log()),
    ] {
        seen.add(&format!("{door} log ({})", scenario.name), &log);
    }

    for (args, code) in &scenario.cli {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run(CLI, &args, &env);
        let label = format!("cli {args:?} ({})", scenario.name);
        let printed =
            String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(*code), "{label}: {printed}");
        seen.add(&label, &printed);
    }
}

fn with(mut env: Vec<(String, String)>, more: &[(&str, &str)]) -> Vec<(String, String)> {
    env.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// A role Elasticsearch names when it refuses a search, unique to this run and kind.
fn role_marker(kind: Kind) -> String {
    format!("role-marker-{kind:?}-{}", std::process::id())
}

/// Elasticsearch 8's and 9's answer to a user whose roles do not allow the search.
fn security_exception(role: &str) -> String {
    let reason = format!(
        "action [indices:data/read/search] is unauthorized for user [{USERNAME}] with effective \
         roles [{role}] on indices [wx-rtbeat-2026.11], this action is granted by the index \
         privileges [read,all]"
    );
    serde_json::json!({
        "error": {"root_cause": [{"type": "security_exception", "reason": reason}],
                  "type": "security_exception", "reason": reason},
        "status": 403,
    })
    .to_string()
}

async fn never_shown(kind: Kind) {
    let markers = Markers::new(kind);
    let label = format!("secrets-{kind:?}").to_lowercase();
    let index = TestIndex::create(&label).await;
    index.add(&[(Duration::from_secs(300), 65.0)]).await;
    let keyword = TestIndex::create_unaggregatable(&format!("{label}-keyword")).await;
    keyword.add(&[(Duration::from_secs(300), 65.0)]).await;
    let proxy = TlsProxy::start(markers.proxy_auth()).await;
    let role = role_marker(kind);
    let forbidding = TlsProxy::forbidding(markers.proxy_auth(), &security_exception(&role)).await;
    let slow = delaying_proxy(proxy.address.clone(), Duration::from_secs(3)).await;
    let ca = proxy.ca_cert.to_str().unwrap().to_string();
    let forbidding_ca = forbidding.ca_cert.to_str().unwrap().to_string();
    // The allowed patterns, with one no request names: a marker no answer may show.
    let allow_marker = format!("allow-marker-{}", std::process::id());
    let allow = format!("wx-rtbeat-test-*,{allow_marker}-*");
    let missing = format!("wx-rtbeat-test-missing-marker-{}", std::process::id());

    let env_for = |url: &str, ca: &str, secret: &str, es_index: &str| {
        with(
            markers.env(secret),
            &[
                ("ES_URL", url),
                ("ES_CA_CERT", ca),
                ("ES_INDEX", es_index),
                ("ES_INDEX_ALLOW", &allow),
            ],
        )
    };
    let base = |url: &str, secret: &str| env_for(url, &ca, secret, &index.name);
    let failing = |name, env, status, error, cli_code| Scenario {
        name,
        env,
        calls: vec![get("/", status, Some(error))],
        cli: vec![(vec![], cli_code)],
    };
    let scenarios = [
        Scenario {
            name: "success and request failures",
            env: base(&proxy.url, &markers.right),
            calls: vec![
                get("/", 200, None),
                get("/?format=csv", 200, None),
                get("/?hours=banana", 400, Some("invalid_parameter")),
                get("/?index=not-allowed", 400, Some("invalid_parameter")),
                get(
                    format!("/?index={}", keyword.name),
                    502,
                    Some("illegal_argument_exception"),
                ),
                Call {
                    method: "POST",
                    path: "/".into(),
                    body: vec![b' '; 100 * 1024],
                    status: 413,
                    error: Some("request_too_large"),
                },
            ],
            cli: vec![
                (vec![], 0),
                (vec!["--hours".into(), "banana".into()], 2),
                (vec!["--index".into(), keyword.name.clone()], 1),
            ],
        },
        failing(
            "TLS verification",
            with(
                markers.env(&markers.right),
                &[("ES_URL", &proxy.url), ("ES_INDEX", &index.name)],
            ),
            502,
            "elasticsearch_tls_error",
            1,
        ),
        failing(
            "credentials refused",
            base(&proxy.url, &markers.wrong),
            502,
            "elasticsearch_refused",
            1,
        ),
        failing(
            "search forbidden",
            env_for(&forbidding.url, &forbidding_ca, &markers.right, &index.name),
            502,
            "elasticsearch_refused",
            1,
        ),
        failing(
            "configured index missing",
            env_for(&proxy.url, &ca, &markers.right, &missing),
            404,
            "index_not_found",
            1,
        ),
        failing(
            "Elasticsearch down",
            base("https://127.0.0.1:1", &markers.right),
            503,
            "elasticsearch_unavailable",
            1,
        ),
        failing(
            "Elasticsearch slow",
            with(
                base(&format!("https://{slow}"), &markers.right),
                &[("ES_TIMEOUT", "1s")],
            ),
            504,
            "elasticsearch_timeout",
            1,
        ),
    ];

    let mut seen = Seen::default();
    for scenario in &scenarios {
        run_scenario(scenario, &mut seen).await;
    }
    if let Kind::ApiKey = kind {
        // A key no header can carry stops every door at start-up, without showing it.
        let bad_key = format!("{}\u{1}", markers.right);
        let env = [
            ("ES_API_KEY", bad_key.as_str()),
            VERBOSE_LOGS[0],
            VERBOSE_LOGS[1],
        ];
        for binary in [CLI, KUBELESS, KNATIVE, LAMBDA] {
            let output = run(binary, &[], &env);
            let printed =
                String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
            assert!(printed.contains("ES_API_KEY"), "{binary}: {printed}");
            seen.add(&format!("{binary} with a bad key"), &printed);
        }
    }

    // The logs really were that verbose, so there was every chance to leak.
    assert!(
        seen.0.contains("TRACE") && seen.0.contains("DEBUG"),
        "no trace or debug lines were logged:{}",
        seen.0
    );
    assert_none_in(&seen.0, &markers.forbidden(), "");

    // What the service knows of itself stays in its logs: no body names it.
    let insides = [
        proxy.address.clone(),
        forbidding.address.clone(),
        slow.clone(),
        "127.0.0.1:1".to_string(),
        es_host(),
        USERNAME.to_string(),
        role.clone(),
        allow_marker.clone(),
        missing.clone(),
        "unauthorized".to_string(),
        "nginx".to_string(),
        "<html".to_string(),
    ];
    assert_none_in(&seen.1, &insides, "in an answer's body");
    // ... and the logs have what the bodies leave out, for the operator.
    for inside in [&proxy.address, &role, &missing] {
        assert!(seen.0.contains(inside.as_str()), "no log names {inside}");
    }
    eprintln!(
        "{kind:?}: searched {} bytes from {} sources; no secret shown; {} bytes of {} bodies \
         name nothing of the service",
        seen.0.len(),
        seen.0.matches("\n=====").count(),
        seen.1.len(),
        seen.1.matches("\n=====").count()
    );
}

#[tokio::test]
async fn a_password_never_shows_on_any_door() {
    never_shown(Kind::Basic).await;
}

#[tokio::test]
async fn an_api_key_never_shows_on_any_door() {
    never_shown(Kind::ApiKey).await;
}
