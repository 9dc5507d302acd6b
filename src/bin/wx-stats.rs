//! `wx-stats`: the command-line door. With no subcommand it runs the original query and prints
//! Elasticsearch's response, as the original function's local mode did.

use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Parser, Subcommand};
use wx_stats::{Config, Error, EsClient, StatsQuery, config, sample};

/// Temperature histograms from a weather station's Elasticsearch.
#[derive(Parser)]
#[command(version, after_help = config::ENVIRONMENT_HELP)]
struct Cli {
    /// Pretty-print the JSON.
    #[arg(long, global = true)]
    pretty: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Write sample observations, one every 2 minutes, into wx-rtbeat-YYYY.MM indices.
    LoadSample {
        /// How many hours of observations, ending now.
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=8784))]
        hours: u32,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    wx_stats::telemetry::init("warn");
    let es = match Config::from_lookup(|k| std::env::var(k).ok()).and_then(|c| EsClient::new(&c)) {
        Ok(es) => es,
        Err(e) => return fail(&e, 2),
    };
    let outcome = match cli.command {
        None => es
            .search(&StatsQuery::default().body())
            .await
            .and_then(|text| print_json(&text, cli.pretty)),
        Some(Command::LoadSample { hours }) => {
            sample::load(&es, hours, SystemTime::now()).await.map(|n| {
                eprintln!(
                    "wx-stats: loaded {n} observations ({hours} h) into {}",
                    es.host()
                )
            })
        }
    };
    outcome.map_or_else(|e| fail(&e, 1), |()| ExitCode::SUCCESS)
}

fn print_json(text: &str, pretty: bool) -> Result<(), Error> {
    if !pretty {
        println!("{text}");
        return Ok(());
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::Internal(format!("Elasticsearch sent invalid JSON: {e}")))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
    Ok(())
}

fn fail(error: &Error, code: u8) -> ExitCode {
    eprintln!("wx-stats: {error}");
    ExitCode::from(code)
}
