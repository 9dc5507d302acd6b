//! HTTPS and basic authentication through a real nginx in front of the test Elasticsearch. With
//! the CA and the right password every door answers with data; without the CA, with a wrong
//! password, or with credentials whose roles may not search (403), every door answers 502
//! saying which of these failed, and nothing more: the address, the user, the roles and
//! Elasticsearch's words are in the door's log line for the call, never in the answer.

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

/// What each HTTP door answered to one failing call, and the log line it wrote for it.
struct Failed {
    door: &'static str,
    body: String,
    reason: String,
    logged: String,
}

/// `GET /` on each HTTP door started with `env`, each call with its own request id: each must
/// fail with `status` and `expected_type`. Returns what the client was told and the door's log
/// line for that call (found by its request id), where the whole story must be.
async fn failing_doors(env: &[(&str, &str)], status: u16, expected_type: &str) -> Vec<Failed> {
    let mut doors = Doors::start(env).await;
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for (door, url) in doors.functions() {
        let request_id = format!("tls-test-{door}-{}", std::process::id());
        let response = client
            .get(&url)
            .header("x-request-id", &request_id)
            .send()
            .await
            .unwrap();
        let (got, _, body) = support::read(response).await;
        assert_eq!(got, status, "{door}: {body}");
        let reason = reason_of(&body, status, expected_type);
        answers.push((door, request_id, body, reason));
    }
    // Every door has written each call's line once it has exited: the Lambda runtime, for one,
    // writes its lines as it goes.
    doors.stop().await;
    let logs = [
        doors.kubeless.log(),
        doors.knative.log(),
        doors.lambda.function_log(),
    ];
    answers
        .into_iter()
        .zip(logs)
        .map(|((door, request_id, body, reason), log)| {
            let logged = log
                .lines()
                .find(|line| line.contains(&request_id) && line.contains("request failed"))
                .unwrap_or_else(|| panic!("{door}: no failure line for {request_id} in:\n{log}"))
                .to_string();
            Failed {
                door,
                body,
                reason,
                logged,
            }
        })
        .collect()
}

/// Every door's 502 of `expected_type`, each telling the caller `reason` and nothing of the
/// service; printed, with what its log line kept, for the per-case checks of the log.
async fn doors_told(
    env: &[(&str, &str)],
    proxy: &TlsProxy,
    expected_type: &str,
    reason: &str,
) -> Vec<Failed> {
    let failures = failing_doors(env, 502, expected_type).await;
    for failed in &failures {
        eprintln!(
            "{}: told {:?}; logged {}",
            failed.door, failed.reason, failed.logged
        );
        assert_eq!(failed.reason, reason, "{}", failed.door);
        assert_tells_nothing_of_the_service(failed, proxy);
    }
    failures
}

/// Nothing of the service's own reaches a client: not the address of Elasticsearch (or of the
/// proxy in front of it), nor the user, nor the variables that hold the credentials.
fn assert_tells_nothing_of_the_service(failed: &Failed, proxy: &TlsProxy) {
    for inside in [
        proxy.address.as_str(),
        "127.0.0.1",
        USERNAME,
        "ES_",
        "nginx",
        "<html",
    ] {
        assert!(
            !failed.body.contains(inside),
            "{}: {inside} in {}",
            failed.door,
            failed.body
        );
    }
}

#[tokio::test]
async fn without_the_ca_every_door_says_tls_failed_and_its_log_says_why() {
    let proxy = basic_auth_proxy().await;
    let env = env(&proxy, "wx-rtbeat-*", PASSWORD, false);

    let output = run(CLI, &[], &env);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("certificate verification failed"),
        "{}",
        stderr(&output)
    );

    for failed in doors_told(
        &env,
        &proxy,
        "elasticsearch_tls_error",
        "TLS with Elasticsearch failed",
    )
    .await
    {
        let logged = &failed.logged;
        assert!(
            logged.contains("certificate verification failed")
                && logged.contains("ES_CA_CERT")
                && logged.contains(&proxy.url),
            "{}: {logged}",
            failed.door
        );
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_never_echoed() {
    let proxy = basic_auth_proxy().await;
    let env = env(&proxy, "wx-rtbeat-*", WRONG_PASSWORD, true);

    let output = run(CLI, &[], &env);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("refused the search (401)"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains(WRONG_PASSWORD));

    for failed in doors_told(
        &env,
        &proxy,
        "elasticsearch_refused",
        "Elasticsearch refused the service's credentials (401)",
    )
    .await
    {
        assert!(
            failed.logged.contains("(401)") && failed.logged.contains("ES_PASSWORD"),
            "{}: {}",
            failed.door,
            failed.logged
        );
        assert!(!failed.logged.contains(WRONG_PASSWORD), "{}", failed.logged);
    }
}

/// A role that may not search, as a secured Elasticsearch names it when it refuses.
const ROLE: &str = "wx-role-without-read";

/// Elasticsearch 8's and 9's answer to a user whose roles do not allow the search.
fn security_exception() -> String {
    let reason = format!(
        "action [indices:data/read/search] is unauthorized for user [{USERNAME}] with effective \
         roles [{ROLE}] on indices [wx-rtbeat-2026.11], this action is granted by the index \
         privileges [read,all]"
    );
    serde_json::json!({
        "error": {
            "root_cause": [{"type": "security_exception", "reason": reason}],
            "type": "security_exception",
            "reason": reason,
        },
        "status": 403,
    })
    .to_string()
}

#[tokio::test]
async fn a_403_is_elasticsearch_refused_without_elasticsearchs_text() {
    let proxy = TlsProxy::forbidding(
        ProxyAuth::Basic {
            username: USERNAME.to_string(),
            password: PASSWORD.to_string(),
        },
        &security_exception(),
    )
    .await;
    let env = env(&proxy, "wx-rtbeat-*", PASSWORD, true);

    // The operator, on the command line, sees it all.
    let output = run(CLI, &[], &env);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("(403)") && stderr(&output).contains(ROLE),
        "{}",
        stderr(&output)
    );

    for failed in doors_told(
        &env,
        &proxy,
        "elasticsearch_refused",
        "Elasticsearch does not allow the service's credentials this search (403)",
    )
    .await
    {
        for elasticsearchs in [
            ROLE,
            "unauthorized",
            "security_exception",
            "wx-rtbeat-2026.11",
        ] {
            assert!(
                !failed.body.contains(elasticsearchs),
                "{}: {elasticsearchs} in {}",
                failed.door,
                failed.body
            );
        }
        assert!(
            failed.logged.contains("(403)")
                && failed.logged.contains(ROLE)
                && failed.logged.contains(&proxy.url),
            "{}: {}",
            failed.door,
            failed.logged
        );
    }
}
