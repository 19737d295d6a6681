//! The latency-by-percentile plot, as a self-contained SVG: x is the
//! percentile on the usual "nines" scale (log of 1/(1-q)), y the latency in
//! milliseconds. Each series is one report (the run, and its reference).

use std::fmt::Write as _;

use crate::report::Summary;

const W: f64 = 900.0;
const H: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
/// Nines shown on the x axis: 0 → 0 %, 1 → 90 %, … 6 → 99.9999 %.
const MAX_NINES: f64 = 6.0;

/// Where a percentile (0..=100) lies on the nines scale.
pub fn nines(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(10f64.powf(-MAX_NINES));
    (-rest.log10()).clamp(0.0, MAX_NINES)
}

/// Renders the series as an SVG document.
pub fn svg(title: &str, series: &[(&str, &Summary)]) -> String {
    let max_us = series
        .iter()
        .flat_map(|(_, s)| s.percentiles.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1.0);
    let y_top = nice_ceiling(max_us / 1000.0);
    let px = |n: f64| LEFT + n / MAX_NINES * (W - LEFT - RIGHT);
    let py = |ms: f64| TOP + (1.0 - ms / y_top) * (H - TOP - BOTTOM);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" font-size="16" text-anchor="middle">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    for i in 0..=5 {
        let ms = y_top * f64::from(i) / 5.0;
        let y = py(ms);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            trim(ms)
        );
    }
    for (n, label) in
        ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"].iter().enumerate()
    {
        let x = px(n as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 18.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text><text x="18" y="{:.1}" transform="rotate(-90 18 {:.1})" text-anchor="middle">latency (ms)</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 15.0,
        H / 2.0,
        H / 2.0
    );
    for (i, (name, summary)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = summary
            .percentiles
            .iter()
            .filter(|(p, _)| *p < 100.0)
            .map(|(p, us)| format!("{:.1},{:.1}", px(nines(*p)), py(us / 1000.0)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = TOP + 18.0 * (i as f64 + 1.0);
        let _ = writeln!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="14" height="4" fill="{colour}"/><text x="{:.1}" y="{:.1}">{} ({:.0} req/s, max {})</text>"#,
            LEFT + 16.0,
            ly - 6.0,
            LEFT + 36.0,
            ly,
            escape(name),
            summary.rate,
            crate::report::ms(summary.latency_us.max)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// 1, 2 or 5 times a power of ten, at least `v`.
fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|c| *c >= v).unwrap_or(10.0 * p)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    #[test]
    fn nines_scale() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(nines(100.0), MAX_NINES);
    }

    #[test]
    fn axis_top_is_a_round_number_above_the_max() {
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(0.45), 0.5);
        assert_eq!(nice_ceiling(10.0), 10.0);
    }

    #[test]
    fn svg_has_one_line_per_series() {
        let mut r = Record::new();
        for us in 1..=100u64 {
            r.response(us * 1000, 200, 0);
        }
        let a = Summary::from_record("http://a/", &r, 1.0);
        let doc = svg("t <1>", &[("run", &a), ("reference", &a)]);
        assert!(doc.starts_with("<svg"));
        assert!(doc.trim_end().ends_with("</svg>"));
        assert_eq!(doc.matches("<polyline").count(), 2);
        assert!(doc.contains("t &lt;1&gt;"));
    }
}
