//! HTTPS and basic authentication through a real nginx in front of the test Elasticsearch. With
//! the CA and the right password every door answers with data; without the CA, or with a wrong
//! password, every door answers 502 saying which of the two failed.

mod support;

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::doors::Doors;
use support::nginx::{ProxyAuth, TlsProxy};
use support::{TestIndex, cli_output, error_type, fetch, run, total_hits, without_took};

const CLI: &str = env!("CARGO_BIN_EXE_wx-stats");

const USERNAME: &str = "wx-reader";
const PASSWORD: &str = "right-horse-battery-staple";
const WRONG_PASSWORD: &str = "wrong-horse-battery-staple";

async fn basic_auth_proxy() -> TlsProxy {
    TlsProxy::start(ProxyAuth::Basic {
        username: USERNAME.to_string(),
        password: PASSWORD.to_string(),
    })
    .await
}

/// The variables that point a door at the proxy, with or without its CA.
fn env<'a>(
    proxy: &'a TlsProxy,
    index: &'a str,
    password: &'a str,
    ca: bool,
) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("ES_URL", proxy.url.as_str()),
        ("ES_USERNAME", USERNAME),
        ("ES_PASSWORD", password),
        ("ES_INDEX", index),
    ];
    if ca {
        env.push(("ES_CA_CERT", proxy.ca_cert.to_str().unwrap()));
    }
    env
}

/// The status and body each HTTP door (Kubeless, Knative, Lambda behind cargo-lambda) answers
/// to `GET /` when started with `env`.
async fn http_doors(env: &[(&str, &str)]) -> Vec<(&'static str, u16, String)> {
    let doors = Doors::start(env).await;
    let mut answers = Vec::new();
    for (door, url) in doors.functions() {
        let (status, _, body) = fetch("GET", &url).await;
        answers.push((door, status, body));
    }
    answers
}

/// The JSON error's reason, after checking its status and type.
fn reason_of(body: &str, status: u16, expected_type: &str) -> String {
    assert_eq!(error_type(body, status), expected_type, "{body}");
    let json: Value = serde_json::from_str(body).unwrap();
    json["error"]["reason"].as_str().unwrap().to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn with_the_ca_and_the_password_every_door_answers_with_data() {
    let index = TestIndex::create("tls-data").await;
    index
        .add(&[
            (Duration::from_secs(600), 64.2),
            (Duration::from_secs(1200), 66.8),
        ])
        .await;
    let proxy = basic_auth_proxy().await;
    let env = env(&proxy, &index.name, PASSWORD, true);
    // The same question asked of Elasticsearch directly, over plain HTTP.
    let expected = without_took(cli_output(&index.name));
    assert_eq!(total_hits(&expected), 2, "{expected}");

    let output = run(CLI, &[], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    let through_proxy: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(without_took(through_proxy), expected, "cli");

    for (door, status, body) in http_doors(&env).await {
        assert_eq!(status, 200, "{door}: {body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(without_took(answer), expected, "{door}");
    }
}

#[tokio::test]
async fn without_the_ca_every_door_says_certificate_verification_failed() {
    let proxy = basic_auth_proxy().await;
    let env = env(&proxy, "wx-rtbeat-*", PASSWORD, false);

    let output = run(CLI, &[], &env);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("certificate verification failed"),
        "{}",
        stderr(&output)
    );

    for (door, status, body) in http_doors(&env).await {
        assert_eq!(status, 502, "{door}: {body}");
        let reason = reason_of(&body, 502, "elasticsearch_tls_error");
        eprintln!("{door}: {reason}");
        assert!(
            reason.contains("certificate verification failed") && reason.contains("ES_CA_CERT"),
            "{door}: {reason}"
        );
        assert!(reason.contains(&proxy.url), "{door}: {reason}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_authentication_and_never_echoed() {
    let proxy = basic_auth_proxy().await;
    let env = env(&proxy, "wx-rtbeat-*", WRONG_PASSWORD, true);

    let output = run(CLI, &[], &env);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("refused authentication (401)"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains(WRONG_PASSWORD));

    for (door, status, body) in http_doors(&env).await {
        assert_eq!(status, 502, "{door}: {body}");
        let reason = reason_of(&body, 502, "elasticsearch_auth_refused");
        eprintln!("{door}: {reason}");
        assert!(
            reason.contains("refused authentication (401)") && reason.contains("ES_PASSWORD"),
            "{door}: {reason}"
        );
        assert!(!body.contains(WRONG_PASSWORD), "{door}: {body}");
    }
}
