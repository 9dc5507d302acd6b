//! Parity: every request in `tests/parity/cases.json` goes to the Kubeless, Knative and Lambda
//! doors (real processes, Lambda behind cargo-lambda's emulator) and, where it has a flag, to the
//! CLI. Status, headers and body bytes must be identical, and the default request must equal
//! Elasticsearch's own answer to the original body, byte for byte, but for what
//! `normalise::NORMALISED` lists.

mod support;

use std::process::ExitStatus;

use support::doors::Doors;
use support::{es_host, original_body, run};

#[path = "parity/normalise.rs"]
mod normalise;
use normalise::{NORMALISED, normalise};
#[path = "parity/corpus.rs"]
mod corpus;
use corpus::{Case, corpus, diff, parity_bed};

impl Case {
    /// The CLI's answer to the same question, as an HTTP status and body; only a success has
    /// a body to compare. An exit code that stands for no status (a panic's 101, a signal) is
    /// an error, never taken for one.
    fn run_cli(&self, index: &str) -> Option<Result<(u16, String), String>> {
        let args: Vec<String> = self
            .cli
            .as_ref()?
            .iter()
            .map(|a| a.replace("{index}", index))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run(
            env!("CARGO_BIN_EXE_wx-stats"),
            &args,
            &[("HOST", &es_host()), ("ES_INDEX", index)],
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        Some(match status_of_exit(output.status, self.status) {
            Ok(200) => {
                let body = stdout.strip_suffix('\n').unwrap_or(&stdout);
                Ok((200, normalise("/", body)))
            }
            Ok(status) => Ok((status, String::new())),
            Err(why) => Err(format!(
                "{why}; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )),
        })
    }
}

/// The statuses the HTTP doors answer a runtime failure with, each of which the CLI reports as
/// exit 1: 404 (the index does not exist), 500 (internal), 502 (Elasticsearch refused the
/// search, TLS, authentication), 503 (unreachable) and 504 (too slow).
const RUNTIME_FAILURES: [u16; 5] = [404, 500, 502, 503, 504];

/// The status a CLI exit stands for: 0 a 200, 2 a 400 (a usage error), and 1 a runtime failure,
/// which is `expected` when the case expects one of [`RUNTIME_FAILURES`] (the CLI cannot say
/// which). Any other exit is an error.
fn status_of_exit(exit: ExitStatus, expected: u16) -> Result<u16, String> {
    match exit.code() {
        Some(0) => Ok(200),
        Some(2) => Ok(400),
        Some(1) if RUNTIME_FAILURES.contains(&expected) => Ok(expected),
        Some(1) => Err(format!(
            "exit 1 is a runtime failure, which is none of the statuses {RUNTIME_FAILURES:?}; \
             the case expects {expected}"
        )),
        _ => Err(format!(
            "{exit}: the CLI exits 0, 1 or 2, so this is a panic (101), a signal, or a code no \
             status stands for"
        )),
    }
}

#[tokio::test]
async fn every_door_answers_every_case_identically() {
    let corpus = corpus();
    assert!(
        corpus.cases.len() >= 30,
        "the corpus needs at least 30 cases"
    );
    let bed = parity_bed("parity").await;
    let index = &bed.index;
    let Doors {
        kubeless,
        knative,
        lambda,
    } = bed.doors().await;
    // Cases carry their own leading `/`.
    let lambda_base = lambda.function_url().trim_end_matches('/').to_string();

    println!("normalised before comparing:");
    for (field, why) in NORMALISED {
        println!("  {field}: {why}");
    }
    println!(
        "\n{:<48} {:>6} {:>8} {:>8} {:>8} {:>8}",
        "case", "status", "kubeless", "knative", "lambda", "cli"
    );
    let mut failures = Vec::new();
    for case in &corpus.cases {
        let reference = case.send(&kubeless.base, &index.name).await;
        if reference.status != case.status {
            failures.push(format!(
                "{}: kubeless answered {} instead of {}: {}",
                case.name, reference.status, case.status, reference.body
            ));
        }
        // The other doors must answer as this one; this one must answer as the case expects.
        let unexpected: Vec<String> = case
            .expect_headers
            .iter()
            .filter_map(|(name, expected)| {
                let sent = reference.header(name);
                (sent != expected).then(|| {
                    format!(
                        "{}: kubeless answered {name} {sent:?} instead of {expected:?}",
                        case.name
                    )
                })
            })
            .collect();
        let pinned = reference.status == case.status && unexpected.is_empty();
        failures.extend(unexpected);
        let mut cells = vec![if pinned { "ok" } else { "FAIL" }.to_string()];
        for (door, base) in [
            ("knative", knative.base.as_str()),
            ("lambda", lambda_base.as_str()),
        ] {
            let answer = case.send(base, &index.name).await;
            let same = answer == reference;
            if !same {
                failures.push(format!(
                    "{} on {door}: status {} vs {}, content type {:?} vs {:?}\n\
                     headers {:?}\n   vs {:?}\n{}",
                    case.name,
                    answer.status,
                    reference.status,
                    answer.content_type,
                    reference.content_type,
                    answer.headers,
                    reference.headers,
                    diff(&reference.body, &answer.body)
                ));
            }
            cells.push(if same { "ok" } else { "FAIL" }.to_string());
        }
        cells.push(match case.run_cli(&index.name) {
            None => "-".to_string(),
            Some(Err(why)) => {
                failures.push(format!("{} on the CLI: {why}", case.name));
                "FAIL".to_string()
            }
            Some(Ok((status, body))) => {
                // The CLI ends its output with a newline when the body lacks one.
                let same_body =
                    body.trim_end_matches('\n') == reference.body.trim_end_matches('\n');
                let same = status == reference.status && (status != 200 || same_body);
                if !same {
                    failures.push(format!(
                        "{} on the CLI: status {status} vs {}\n{}",
                        case.name,
                        reference.status,
                        diff(&reference.body, &body)
                    ));
                }
                if same { "ok" } else { "FAIL" }.to_string()
            }
        });
        println!(
            "{:<48} {:>6} {:>8} {:>8} {:>8} {:>8}",
            case.name, case.status, cells[0], cells[1], cells[2], cells[3]
        );
    }

    let from_elasticsearch = normalise("/", &index.search_text(&original_body()).await);
    let default = corpus
        .cases
        .iter()
        .find(|c| c.name == "default")
        .unwrap()
        .send(&kubeless.base, &index.name)
        .await;
    if default.body != from_elasticsearch {
        failures.push(format!(
            "the default answer differs from Elasticsearch's own:\n{}",
            diff(&from_elasticsearch, &default.body)
        ));
    }
    println!(
        "\n{} cases x 4 doors; default request vs Elasticsearch's own answer: {}",
        corpus.cases.len(),
        if default.body == from_elasticsearch {
            "ok"
        } else {
            "FAIL"
        }
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
