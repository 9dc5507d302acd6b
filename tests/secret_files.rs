//! Secrets as Kubernetes mounts them: a file per key, read through `ES_PASSWORD_FILE` or
//! `ES_API_KEY_FILE`, by every door and the CLI, against a real nginx that demands them in
//! front of the test Elasticsearch. A file that cannot be used stops start-up naming the
//! variable and the path, never what the file holds. And credentials set to travel over plain
//! `http://` get one warning at start-up.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use support::doors::{Doors, KNATIVE, KUBELESS};
use support::nginx::{ProxyAuth, TlsProxy};
use support::{TestIndex, es_host, fetch, run};

const CLI: &str = env!("CARGO_BIN_EXE_wx-stats");
const LAMBDA: &str = env!("CARGO_BIN_EXE_wx-stats-lambda");

const USERNAME: &str = "wx-reader";

/// A directory standing for a mounted Secret: one file per key, read-only as the kubelet
/// writes them. Removed when dropped.
struct MountedSecret(PathBuf);

impl MountedSecret {
    fn new(label: &str) -> MountedSecret {
        let dir =
            std::env::temp_dir().join(format!("wx-stats-secret-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        MountedSecret(dir)
    }

    /// Writes `key` holding `value` (mode 0400) and returns its path as text.
    fn key(&self, key: &str, value: &str) -> String {
        let path = self.0.join(key);
        std::fs::write(&path, value).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        path.to_str().unwrap().to_string()
    }
}

impl Drop for MountedSecret {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Each door and the CLI, started with `env`, answer `GET /` with the index's one observation.
async fn every_door_answers(env: &[(&str, &str)], label: &str) {
    let output = run(CLI, &["--format", "buckets"], env);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && printed.contains("\"total\":1"),
        "cli ({label}): {printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doors = Doors::start(env).await;
    for (door, url) in doors.functions() {
        let (status, _, body) = fetch("GET", &format!("{url}?format=buckets")).await;
        assert_eq!(status, 200, "{door} ({label}): {body}");
        assert!(body.contains("\"total\":1"), "{door} ({label}): {body}");
    }
}

#[tokio::test]
async fn a_password_or_api_key_from_a_mounted_file_reaches_elasticsearch_on_every_door() {
    let index = TestIndex::create("secret-files").await;
    index.add(&[(Duration::from_secs(300), 65.0)]).await;
    let secret = MountedSecret::new("reaches");
    // kubectl create secret --from-file keeps a file's newline: the door drops it.
    let password_file = secret.key("password", "right-horse-battery-staple\n");
    let api_key_file = secret.key("api-key", "d3gtc3RhdHMta2V5\n");

    let basic = TlsProxy::start(ProxyAuth::Basic {
        username: USERNAME.into(),
        password: "right-horse-battery-staple".into(),
    })
    .await;
    let ca = basic.ca_cert.to_str().unwrap();
    let env = [
        ("ES_URL", basic.url.as_str()),
        ("ES_CA_CERT", ca),
        ("ES_INDEX", &index.name),
        ("ES_USERNAME", USERNAME),
        ("ES_PASSWORD_FILE", &password_file),
    ];
    every_door_answers(&env, "ES_PASSWORD_FILE").await;

    let api_key = TlsProxy::start(ProxyAuth::ApiKey("d3gtc3RhdHMta2V5".into())).await;
    let ca = api_key.ca_cert.to_str().unwrap();
    let env = [
        ("ES_URL", api_key.url.as_str()),
        ("ES_CA_CERT", ca),
        ("ES_INDEX", &index.name),
        ("ES_API_KEY_FILE", &api_key_file),
    ];
    every_door_answers(&env, "ES_API_KEY_FILE").await;
}

/// An environment, the variable its start-up error must name, and what else it must say.
type Refusal<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a [&'a str]);

#[test]
fn a_secret_file_that_cannot_be_used_stops_every_door_naming_the_variable_and_the_path() {
    let secret = MountedSecret::new("refused");
    let empty = secret.key("empty", "\n");
    let password = secret.key("password", "marker-in-the-file\n");
    let missing = format!("{}/no-such-key", secret.0.display());
    let cases: [Refusal; 4] = [
        (
            &[("ES_USERNAME", USERNAME), ("ES_PASSWORD_FILE", &missing)],
            "ES_PASSWORD_FILE",
            &[&missing, "No such file"],
        ),
        (
            &[("ES_API_KEY_FILE", &empty)],
            "ES_API_KEY_FILE",
            &[&empty, "is empty"],
        ),
        (
            &[
                ("ES_USERNAME", USERNAME),
                ("ES_PASSWORD", "marker-in-the-variable"),
                ("ES_PASSWORD_FILE", &password),
            ],
            "ES_PASSWORD_FILE",
            &["ES_PASSWORD or ES_PASSWORD_FILE"],
        ),
        (
            &[("ES_PASSWORD_FILE", &password)],
            "ES_USERNAME",
            &["ES_PASSWORD_FILE"],
        ),
    ];
    for (env, variable, named) in cases {
        for binary in [CLI, KUBELESS, KNATIVE, LAMBDA] {
            let output = run(binary, &[], env);
            let printed =
                String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
            let label = format!("{binary} {env:?}");
            assert_eq!(output.status.code(), Some(2), "{label}: {printed}");
            assert!(printed.contains(variable), "{label}: {printed}");
            for name in named {
                assert!(printed.contains(name), "{label}: {name} not in {printed}");
            }
            assert!(!printed.contains("marker-in-the"), "{label}: {printed}");
        }
    }
}

/// The start-up warning's lines in `log`.
fn plain_http_warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains("over plain http"))
        .collect()
}

#[tokio::test]
async fn credentials_over_plain_http_are_warned_of_once_at_start_up() {
    let index = TestIndex::create("plain-http").await;
    index.add(&[(Duration::from_secs(300), 65.0)]).await;
    let secret = MountedSecret::new("plain-http");
    let password_file = secret.key("password", "marker-plain-password\n");
    let host = es_host();
    // The test Elasticsearch runs without security, and takes any credentials.
    let env = [
        ("HOST", host.as_str()),
        ("ES_INDEX", &index.name),
        ("ES_USERNAME", USERNAME),
        ("ES_PASSWORD_FILE", &password_file),
    ];
    let cli = run(CLI, &[], &env);
    assert!(cli.status.success());
    let doors = Doors::start(&env).await;
    for (_, url) in doors.functions() {
        for _ in 0..2 {
            assert_eq!(fetch("GET", &url).await.0, 200);
        }
    }
    let url = format!("http://{host}");
    for (source, log) in [
        ("cli", String::from_utf8_lossy(&cli.stderr).into_owned()),
        ("kubeless", doors.kubeless.log()),
        ("knative", doors.knative.log()),
        ("lambda", doors.lambda.function_log()),
    ] {
        let warnings = plain_http_warnings(&log);
        eprintln!("{source}: {warnings:?}");
        assert_eq!(warnings.len(), 1, "{source}: {log}");
        let warning = warnings[0];
        assert!(
            warning.contains("WARN")
                && warning.contains("ES_PASSWORD_FILE")
                && warning.contains(&url),
            "{source}: {warning}"
        );
        assert!(!log.contains("marker-plain-password"), "{source}: {log}");
    }

    // Over https, or without credentials, there is nothing to warn of.
    let proxy = TlsProxy::start(ProxyAuth::Basic {
        username: USERNAME.into(),
        password: "marker-plain-password".into(),
    })
    .await;
    let ca = proxy.ca_cert.to_str().unwrap();
    let tls = [
        ("ES_URL", proxy.url.as_str()),
        ("ES_CA_CERT", ca),
        ("ES_INDEX", &index.name),
        ("ES_USERNAME", USERNAME),
        ("ES_PASSWORD_FILE", &password_file),
    ];
    let no_credentials = [("HOST", host.as_str()), ("ES_INDEX", &index.name)];
    for env in [&tls[..], &no_credentials[..]] {
        let output = run(CLI, &[], env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(plain_http_warnings(&stderr).is_empty(), "{env:?}: {stderr}");
    }
}
