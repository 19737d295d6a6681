//! The `ringress` binary: parse flags, build the configuration, bind the
//! listeners, run until SIGTERM/SIGINT, and map the outcome to an exit
//! code (0 success, 1 failure or check errors, 2 usage).

use std::process::ExitCode;

use clap::Parser;
use ringress::cli::{Cli, Command, RunArgs};
use ringress::config::Source;
use ringress::listen::Listeners;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Run(args) => run(*args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => Ok(ringress::cli::check(&args)),
        Command::Demo(args) => {
            ringress::demo::run(args).map(|()| ExitCode::SUCCESS).map_err(anyhow::Error::from)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ringress: {}", message(&e));
            ExitCode::from(1)
        }
    }
}

/// `ringress run`: a manifests directory that cannot be read stops the
/// start before anything listens.
fn run(args: RunArgs) -> anyhow::Result<()> {
    let addrs = args.listen.addrs();
    let config = args.into_config().map_err(anyhow::Error::msg)?;
    if let Source::Manifests(dir) = &config.source {
        ringress::manifests::check(dir)?;
    }
    let listeners = Listeners::bind(&addrs)?;
    Ok(ringress::serve::run_until_signal(config, listeners)?)
}

/// The error and its causes on one line, each cause said once: many
/// errors (kube's among them) already print their source in their own
/// message, and `{:#}` would repeat it.
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
