//! `ringress-load`: parses flags, runs the subcommand, maps errors to exit
//! codes (0 ok, 1 failure or regression, 2 bad input).
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use ringress_loadtest::cli::{Cli, Command, CompareArgs, RunArgs, UpstreamArgs};
use ringress_loadtest::{compare, plot, run, upstream};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run_cmd(&a),
        Command::Upstream(a) => upstream_cmd(&a),
        Command::Compare(a) => compare_cmd(&a),
    };
    match result {
        Ok(code) => code,
        Err((code, e)) => {
            eprintln!("ringress-load: {e:#}");
            ExitCode::from(code)
        }
    }
}

type Outcome = Result<ExitCode, (u8, anyhow::Error)>;

fn run_cmd(a: &RunArgs) -> Outcome {
    let report = run::execute(a).map_err(|e| (e.exit_code(), e.into()))?;
    print!("{}", report.render());
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| (1, e.into()))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))
            .map_err(|e| (1, e))?;
    }
    if let Some(path) = &a.plot {
        let mut series = vec![("run", &report.summary)];
        if let Some(r) = &report.reference {
            series.push(("reference", r));
        }
        let title = format!("{} {}", a.method, a.url.url());
        std::fs::write(path, plot::svg(&title, &series))
            .with_context(|| format!("writing {}", path.display()))
            .map_err(|e| (1, e))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn upstream_cmd(a: &UpstreamArgs) -> Outcome {
    // As many connections as the hard open-files limit allows (best
    // effort: a failure leaves the soft limit, and accept says so).
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let config = upstream::Config {
        listen: a.listen,
        body_size: a.body_size,
        delay: a.delay,
        threads: a.threads,
        pin: !a.no_pin,
        engine: a.io_engine,
    };
    upstream::serve(&config, |addr| {
        println!("ringress-load upstream listening on {addr} ({} threads)", config.threads);
        let _ = std::io::stdout().flush();
    })
    .with_context(|| format!("listening on {}", a.listen))
    .map_err(|e| (1, e))?;
    Ok(ExitCode::SUCCESS)
}

fn compare_cmd(a: &CompareArgs) -> Outcome {
    let base = compare::load(&a.baseline).map_err(|e| (2, e.into()))?;
    let cur = compare::load(&a.current).map_err(|e| (2, e.into()))?;
    let out = compare::compare(&base, &cur, a.max_regression);
    print!("{}", out.text);
    Ok(if out.regressions.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
