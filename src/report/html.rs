//! `report.html` and `compare.html`: one self-contained page each (SVG inline, no network).

use std::fmt::Write;

use super::{minutes, ms};
use crate::analysis::Summary;

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1700px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}\
th:first-child,td:first-child{text-align:left}svg{max-width:100%;height:auto}pre{background:#f4f4f4;padding:1em;overflow:auto}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

/// An SVG file's content for inlining: its XML declaration is not allowed inside HTML.
fn inline_svg(svg: &str) -> &str {
    svg.trim_start()
        .strip_prefix("<?xml")
        .and_then(|s| s.split_once("?>"))
        .map(|(_, rest)| rest)
        .unwrap_or(svg)
}

fn phase_rows(summary: &Summary) -> String {
    let mut out = String::from(
        "<table><tr><th>phase</th><th>clock</th><th>offered/s</th><th>ok/s</th><th>success ratio</th><th>median p50 ms</th><th>median p99 ms</th></tr>",
    );
    for p in &summary.phases {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}–{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
            escape(&p.phase),
            escape(&p.from_clock),
            escape(&p.to_clock),
            p.offered_per_s,
            p.ok_per_s,
            p.success_ratio,
            ms(p.median_p50_ms),
            ms(p.median_p99_ms)
        );
    }
    out + "</table>"
}

/// The run's report: summary, the interactive charts, timeline, dashboard and the scenario as
/// run.
pub fn report_html(
    title: &str,
    summary: &Summary,
    timeline_md: &str,
    (interactive, dashboard_svg): (&str, &str),
    scenario_toml: &str,
) -> String {
    let mut body = format!("<h1>{}</h1>\n", escape(title));
    let _ = writeln!(
        body,
        "<p>Verdict: <strong>{}</strong>. Time to detect {}, to mitigate {}, to recover {}.{}</p>",
        escape(&summary.verdict.to_string()),
        minutes(summary.time_to_detect_min),
        minutes(summary.time_to_mitigate_min),
        minutes(summary.time_to_recover_min),
        super::outage_lines(summary)
            .iter()
            .map(|line| format!(" {}", escape(line)))
            .collect::<String>()
    );
    body += "<h2>Checkout by phase</h2>\n";
    body += &phase_rows(summary);
    body += "\n<h2>Explore</h2>\n";
    body += interactive;
    body += "\n<h2>Dashboard</h2>\n";
    body += inline_svg(dashboard_svg);
    body += "\n<h2>Timeline</h2>\n<ul>\n";
    for line in timeline_md.lines().filter(|l| l.starts_with("- ")) {
        let text = line.trim_start_matches("- ").replace("**", "");
        let _ = writeln!(body, "<li>{}</li>", escape(&text));
    }
    body += "</ul>\n<h2>Scenario as run</h2>\n<pre>";
    body += &escape(scenario_toml);
    body += "</pre>";
    page(title, &body)
}

/// The comparison page: per-phase figures and response times side by side, and the chart.
pub fn compare_html(runs: &[(String, Summary)], compare_svg: &str) -> String {
    let mut body = String::from(
        "<h1>Comparison</h1>\n<table><tr><th>run</th><th>phase</th><th>success ratio</th><th>Δ vs first</th><th>median p99 ms</th><th>Δ vs first</th></tr>",
    );
    let first = &runs[0].1;
    for (label, s) in runs {
        for p in &s.phases {
            let base = first.phases.iter().find(|b| b.phase == p.phase);
            let d_ratio = base
                .map(|b| format!("{:+.3}", p.success_ratio - b.success_ratio))
                .unwrap_or_default();
            let d_p99 = match (base.and_then(|b| b.median_p99_ms), p.median_p99_ms) {
                (Some(b), Some(v)) => format!("{:+.1}", v - b),
                _ => String::new(),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{d_ratio}</td><td>{}</td><td>{d_p99}</td></tr>",
                escape(label),
                escape(&p.phase),
                p.success_ratio,
                ms(p.median_p99_ms)
            );
        }
    }
    body += "</table>\n<table><tr><th>run</th><th>verdict</th><th>time to detect</th><th>to mitigate</th><th>to recover</th></tr>";
    for (label, s) in runs {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(label),
            escape(&s.verdict.to_string()),
            minutes(s.time_to_detect_min),
            minutes(s.time_to_mitigate_min),
            minutes(s.time_to_recover_min)
        );
    }
    body += "</table>\n";
    body += inline_svg(compare_svg);
    page("outage-sim comparison", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            op: "checkout".into(),
            phases: vec![],
            alerts: vec![],
            outage: None,
            outage_gaps: vec![],
            shoppers: None,
            time_to_detect_min: Some(5.0),
            time_to_mitigate_min: None,
            time_to_recover_min: None,
            rules: vec![],
            verdict: crate::results::Verdict::Fail,
            gated: false,
            gate: crate::analysis::Gate::Off,
            faults_not_applied: vec![],
            outcome: None,
            story: None,
        }
    }

    #[test]
    fn text_is_escaped_and_the_svg_is_inlined_without_its_xml_declaration() {
        let s = summary();
        let html = report_html(
            "a <b>",
            &s,
            "- **12:00:00** x < y\n",
            ("<div id=\"charts\"></div>", "<?xml version=\"1.0\"?>\n<svg></svg>"),
            "k = \"<v>\"",
        );
        assert!(html.contains("<h1>a &lt;b&gt;</h1>"));
        assert!(html.contains("<li>12:00:00 x &lt; y</li>"));
        assert!(html.contains("<svg></svg>") && !html.contains("<?xml"));
        assert!(html.contains("k = &quot;&lt;v&gt;&quot;"));
        assert!(html.contains("Time to detect 5 min"));
    }

    #[test]
    fn a_flapping_outage_says_its_gaps_and_the_shoppers_who_could_not_buy() {
        let s = Summary {
            outage: Some(("12:02:00".into(), "12:05:00".into())),
            outage_gaps: vec![("12:04:00".into(), "12:04:00".into())],
            shoppers: Some(crate::analysis::Shoppers {
                arrived: 6000,
                completed: 3500,
                gave_up: 2500,
                lost_share: 2500.0 / 6000.0,
                outage_lost_share: Some(25.0 / 40.0),
            }),
            ..summary()
        };
        let said = super::super::outage_lines(&s).join(" ");
        assert!(
            said.contains("in 1 gap (12:04:00)") && said.contains("2,500 of 6,000 (41.7%); 62% during"),
            "{said}"
        );
    }
}
