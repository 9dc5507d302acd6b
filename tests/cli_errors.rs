//! The command line's answers to bad configuration and to an unreachable Elasticsearch.
//! None of these needs Elasticsearch: they point at a closed port.

mod support;

use support::run;

const CLI: &str = env!("CARGO_BIN_EXE_wx-stats");
/// Variables for one run of the CLI.
type Env<'a> = Vec<(&'a str, &'a str)>;

const PASSWORD: &str = "pw-3b9f2c7e";
const API_KEY: &str = "a2V5LTdkMWU5YTQw";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn unreachable_elasticsearch_is_one_line_naming_the_host() {
    let output = run(CLI, &[], &[("HOST", "127.0.0.1:1"), ("ES_TIMEOUT", "5s")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot reach Elasticsearch at http://127.0.0.1:1"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_bad_timeout_is_a_usage_error_naming_the_variable() {
    let output = run(CLI, &[], &[("ES_TIMEOUT", "banana")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("ES_TIMEOUT") && stderr.contains("banana"),
        "{stderr}"
    );
}

#[test]
fn unknown_flags_are_usage_errors() {
    let output = run(CLI, &["--no-such-flag"], &[]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_documents_every_variable() {
    let output = run(CLI, &["--help"], &[]);
    assert!(output.status.success());
    let help = text(&output.stdout);
    for variable in [
        "HOST",
        "ES_URL",
        "ES_CLOUD_ID",
        "ES_USERNAME",
        "ES_PASSWORD",
        "ES_API_KEY",
        "ES_CA_CERT",
        "ES_TIMEOUT",
        "ES_INDEX",
        "_all",
    ] {
        assert!(help.contains(variable), "--help lacks {variable}:\n{help}");
    }
}

#[test]
fn secrets_never_appear_in_any_output() {
    let secrets = [("ES_USERNAME", "elastic"), ("ES_PASSWORD", PASSWORD)];
    let cases: Vec<(Vec<&str>, Env)> = vec![
        (vec![], [&secrets[..], &[("HOST", "127.0.0.1:1")]].concat()),
        (
            vec!["--help"],
            [&secrets[..], &[("ES_API_KEY", API_KEY)]].concat(),
        ),
        (vec![], [&secrets[..], &[("ES_TIMEOUT", "banana")]].concat()),
        (
            vec![],
            vec![
                ("ES_API_KEY", API_KEY),
                ("ES_USERNAME", "elastic"),
                ("ES_PASSWORD", PASSWORD),
            ],
        ),
        (
            vec![],
            vec![("ES_API_KEY", API_KEY), ("HOST", "127.0.0.1:1")],
        ),
        (
            vec!["load-sample"],
            vec![
                ("ES_API_KEY", API_KEY),
                ("HOST", "127.0.0.1:1"),
                ("RUST_LOG", "trace"),
            ],
        ),
    ];
    for (args, env) in cases {
        let output = run(CLI, &args, &env);
        let all = text(&output.stdout) + &text(&output.stderr);
        assert!(
            !all.contains(PASSWORD) && !all.contains(API_KEY),
            "{args:?} {env:?} leaked:\n{all}"
        );
        assert!(!all.is_empty(), "{args:?} printed nothing");
    }
}
