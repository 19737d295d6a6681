//! `ringress-load compare BASELINE CURRENT`: the gate a pipeline calls.
//!
//! It prints throughput and every percentile side by side and fails when
//! throughput fell, or p99 rose, by more than `--max-regression` percent.
//! When both reports carry a `reference` (the same origin measured directly
//! in the same session), the gate judges the ratios to the reference
//! instead (rate / reference rate, p99 / reference p99): a machine that is
//! slower today slows the reference too, and the ratio survives.

use std::fmt::Write as _;
use std::path::Path;

use thiserror::Error;

use crate::report::{Report, Summary};

#[derive(Debug, Error)]
pub enum CompareError {
    #[error("{path}: {reason}")]
    Input { path: String, reason: String },
}

/// Reads a report written by `run --json`.
pub fn load(path: &Path) -> Result<Report, CompareError> {
    let err = |reason: String| CompareError::Input { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let report: Report =
        serde_json::from_str(&text).map_err(|e| err(format!("not a ringress-load report: {e}")))?;
    if report.schema_version == 0 || report.schema_version > crate::report::SCHEMA_VERSION {
        return Err(err(format!("unsupported schema_version {}", report.schema_version)));
    }
    Ok(report)
}

/// The outcome: the table to print and the regressions found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub text: String,
    pub regressions: Vec<String>,
    /// The gate judged ratios to the reference.
    pub by_ratio: bool,
}

/// Higher is better (throughput) or lower is better (latency).
#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
}

/// Compares CURRENT against BASELINE with a threshold in percent.
pub fn compare(base: &Report, cur: &Report, max_regression: f64) -> Outcome {
    let mut text = String::new();
    let mut regressions = Vec::new();
    let _ = writeln!(text, "{:<22} {:>14} {:>14} {:>9}", "metric", "baseline", "current", "change");
    let (b, c) = (&base.summary, &cur.summary);
    let by_ratio = base.reference.is_some() && cur.reference.is_some();
    for (name, bv, cv, better) in metrics(b, c) {
        let gated = !by_ratio && (name == "rate (req/s)" || name == "p99 (us)");
        row(&mut text, &mut regressions, name, bv, cv, better, gated.then_some(max_regression));
    }
    let _ = writeln!(text, "{:<22} {:>14} {:>14}", "errors", b.errors_total, c.errors_total);
    if let (Some(br), Some(cr)) = (&base.reference, &cur.reference) {
        let _ = writeln!(text, "ratio to the reference (gated):");
        let ratio = |s: &Summary, r: &Summary, f: fn(&Summary) -> f64| {
            if f(r) > 0.0 {
                f(s) / f(r)
            } else {
                0.0
            }
        };
        let rate = |s: &Summary| s.rate;
        let p99 = |s: &Summary| s.latency_us.p99;
        row(
            &mut text,
            &mut regressions,
            "rate / reference",
            ratio(b, br, rate),
            ratio(c, cr, rate),
            Better::Higher,
            Some(max_regression),
        );
        row(
            &mut text,
            &mut regressions,
            "p99 / reference",
            ratio(b, br, p99),
            ratio(c, cr, p99),
            Better::Lower,
            Some(max_regression),
        );
    }
    if regressions.is_empty() {
        let _ = writeln!(text, "verdict: ok (threshold {max_regression}%)");
    } else {
        let _ = writeln!(
            text,
            "verdict: REGRESSION beyond {max_regression}%: {}",
            regressions.join("; ")
        );
    }
    Outcome { text, regressions, by_ratio }
}

fn metrics(b: &Summary, c: &Summary) -> Vec<(&'static str, f64, f64, Better)> {
    let (bl, cl) = (&b.latency_us, &c.latency_us);
    vec![
        ("rate (req/s)", b.rate, c.rate, Better::Higher),
        ("p50 (us)", bl.p50, cl.p50, Better::Lower),
        ("p90 (us)", bl.p90, cl.p90, Better::Lower),
        ("p99 (us)", bl.p99, cl.p99, Better::Lower),
        ("p99.9 (us)", bl.p999, cl.p999, Better::Lower),
        ("p99.99 (us)", bl.p9999, cl.p9999, Better::Lower),
        ("max (us)", bl.max, cl.max, Better::Lower),
    ]
}

/// One line of the table; records a regression when gated and beyond.
fn row(
    text: &mut String,
    regressions: &mut Vec<String>,
    name: &str,
    base: f64,
    cur: f64,
    better: Better,
    gate: Option<f64>,
) {
    let change = if base > 0.0 { (cur - base) / base * 100.0 } else { 0.0 };
    let worse_by = match better {
        Better::Higher => -change,
        Better::Lower => change,
    };
    let mark = match gate {
        Some(limit) if base > 0.0 && worse_by > limit => {
            regressions.push(format!("{name} {change:+.1}%"));
            "  << regression"
        }
        Some(_) => "  (gated)",
        None => "",
    };
    let _ = writeln!(text, "{name:<22} {base:>14.3} {cur:>14.3} {change:>+8.1}%{mark}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use crate::report::SCHEMA_VERSION;

    fn report(responses: u64, latency_us: u64, reference: Option<(u64, u64)>) -> Report {
        let summary = |n: u64, us: u64| {
            let mut r = Record::new();
            for _ in 0..n {
                r.response(us * 1000, 200, 0);
            }
            Summary::from_record("http://x/", &r, 1.0)
        };
        Report {
            schema_version: SCHEMA_VERSION,
            tool: String::new(),
            config: None,
            summary: summary(responses, latency_us),
            reference: reference.map(|(n, us)| summary(n, us)),
        }
    }

    #[test]
    fn equal_runs_pass() {
        let a = report(1000, 100, None);
        assert!(compare(&a, &a, 5.0).regressions.is_empty());
    }

    #[test]
    fn throughput_drop_beyond_the_threshold_fails() {
        let out = compare(&report(1000, 100, None), &report(850, 100, None), 10.0);
        assert_eq!(out.regressions.len(), 1, "{}", out.text);
        assert!(out.regressions[0].starts_with("rate"));
        assert!(compare(&report(1000, 100, None), &report(950, 100, None), 10.0)
            .regressions
            .is_empty());
    }

    #[test]
    fn p99_rise_beyond_the_threshold_fails() {
        let out = compare(&report(1000, 100, None), &report(1000, 130, None), 10.0);
        assert_eq!(out.regressions.len(), 1, "{}", out.text);
        assert!(out.regressions[0].starts_with("p99"));
    }

    #[test]
    fn with_references_the_ratios_are_judged() {
        // The whole machine is 30 % slower today: absolute figures regress,
        // the ratios to the same-session reference do not.
        let base = report(1000, 100, Some((2000, 50)));
        let cur = report(700, 143, Some((1400, 72)));
        let out = compare(&base, &cur, 10.0);
        assert!(out.by_ratio);
        assert!(out.regressions.is_empty(), "{}", out.text);
        // The proxy itself got slower while the reference did not.
        let cur = report(700, 143, Some((2000, 50)));
        let out = compare(&base, &cur, 10.0);
        assert_eq!(out.regressions.len(), 2, "{}", out.text);
    }
}
