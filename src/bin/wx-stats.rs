//! `wx-stats`: the command-line door. With no subcommand it runs the query (by default the
//! original one) and prints the answer, as the original function's local mode did.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use wx_stats::door::program;
use wx_stats::door::telemetry::{self, Logs};
use wx_stats::sample::{self, LoadReport, SampleSpec};
use wx_stats::{Answer, CallContext, ENVIRONMENT_HELP, Env, Error, EsClient, Format, Stats};

/// Temperature histograms from a weather station's Elasticsearch.
#[derive(Parser)]
#[command(version, after_help = ENVIRONMENT_HELP)]
struct Cli {
    #[command(flatten)]
    query: QueryFlags,
    /// Pretty-print JSON answers.
    #[arg(long, global = true)]
    pretty: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The request parameters every door accepts, as flags. Unset flags keep the original query.
#[derive(Args)]
struct QueryFlags {
    /// The window in hours, 1 to 8784 [default: 24].
    #[arg(long)]
    hours: Option<String>,
    /// The bucket width, above 0 and at most 1000 [default: 2].
    #[arg(long)]
    interval: Option<String>,
    /// The numeric field [default: rxtxMsg.payload.currently.temperature].
    #[arg(long)]
    field: Option<String>,
    /// An index or pattern within ES_INDEX_ALLOW, instead of ES_INDEX.
    #[arg(long)]
    index: Option<String>,
    /// Leave out buckets with fewer observations.
    #[arg(long)]
    min_doc_count: Option<String>,
    /// Keep empty buckets across the field's whole observed range.
    #[arg(long)]
    fill: bool,
    /// How the answer is written: es (Elasticsearch's response), buckets, csv or svg [default: es].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Format::NAMES))]
    format: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Write sample observations, one every 2 minutes, into wx-rtbeat-YYYY.MM indices.
    LoadSample {
        /// Days of observations, ending now.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
        /// Seeds the generated weather; the same seed gives the same observations.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The newest observation's time, e.g. 2026-11-26T12:00:00Z [default: now].
        #[arg(long, value_parser = humantime::parse_rfc3339_weak)]
        until: Option<SystemTime>,
        /// Load your own observations instead: one JSON document per line, each with an @timestamp.
        #[arg(long, value_name = "NDJSON")]
        from_file: Option<std::path::PathBuf>,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::process();
    telemetry::init(Logs::Text("warn"), &env);
    let stats = match Stats::from_env(&env) {
        Ok(stats) => stats,
        Err(e) => return fail(&e, 2),
    };
    match cli.command {
        None => match stats
            .answer(&cli.query.params(), None, &CallContext::default())
            .await
        {
            Ok((answer, _)) => print(&answer, cli.pretty),
            Err(e) => fail_for(&e),
        },
        Some(Command::LoadSample {
            days,
            seed,
            until,
            from_file,
        }) => {
            let spec = SampleSpec {
                days,
                seed,
                until: until.unwrap_or_else(SystemTime::now),
            };
            load(stats.es(), spec, from_file).await
        }
    }
}

impl QueryFlags {
    fn params(&self) -> Vec<(String, String)> {
        let flags = [
            ("hours", &self.hours),
            ("interval", &self.interval),
            ("field", &self.field),
            ("index", &self.index),
            ("min_doc_count", &self.min_doc_count),
            ("format", &self.format),
        ];
        let mut params: Vec<(String, String)> = flags
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.clone()?)))
            .collect();
        if self.fill {
            params.push(("fill".into(), "true".into()));
        }
        params
    }
}

async fn load(es: &EsClient, spec: SampleSpec, from_file: Option<std::path::PathBuf>) -> ExitCode {
    // A bar on a terminal; silence when stderr is a pipe or a file.
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} observations")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report = match &from_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => sample::load_file(es, &text, progress).await,
            Err(e) => {
                return fail(
                    &Error::bad_request(
                        "--from-file",
                        format!("cannot read {}: {e}", path.display()),
                    ),
                    2,
                );
            }
        },
        None => sample::load_generated(es, &spec, progress).await,
    };
    bar.finish_and_clear();
    match report {
        Ok(LoadReport { loaded, bad_lines }) => {
            eprintln!("wx-stats: loaded {loaded} observations into {}", es.host());
            for (line, why) in &bad_lines {
                eprintln!("wx-stats: line {line}: {why}");
            }
            if bad_lines.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(&e, 1),
    }
}

fn print(answer: &Answer, pretty: bool) -> ExitCode {
    if let Some(partial) = &answer.partial {
        eprintln!("{}: warning: partial answer: {partial}", program());
    }
    // Every format is written as UTF-8 text.
    let body = String::from_utf8_lossy(&answer.body);
    let pretty_json = (pretty && answer.format.is_json())
        .then(|| serde_json::from_str::<serde_json::Value>(&body).ok())
        .flatten()
        .and_then(|json| serde_json::to_string_pretty(&json).ok());
    match pretty_json {
        Some(json) => println!("{json}"),
        // The body exactly as the HTTP doors send it, plus a final newline if it lacks one.
        None if body.ends_with('\n') => print!("{body}"),
        None => println!("{body}"),
    }
    ExitCode::SUCCESS
}

/// A bad request (400) is a usage error, exit 2, as its parameter's flag was wrong; anything
/// else at run time is exit 1. (A bad variable at start-up is exit 2 too, as on every door.)
fn fail_for(error: &Error) -> ExitCode {
    fail(error, if error.status() == 400 { 2 } else { 1 })
}

fn fail(error: &Error, code: u8) -> ExitCode {
    eprintln!("{}: {error}", program());
    ExitCode::from(code)
}
