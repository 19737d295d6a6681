//! The `ringress` binary: parse flags, run, map the outcome to an exit code
//! (0 success, 1 failure or check errors, 2 usage).

use std::process::ExitCode;

use clap::Parser;
use ringress::cli::{Cli, Command};

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
        Command::Run(args) => {
            ringress::serve::run(*args).map(|()| ExitCode::SUCCESS).map_err(anyhow::Error::from)
        }
        Command::Check(args) => Ok(ringress::serve::check(&args)),
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
