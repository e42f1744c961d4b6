//! `dashboard.png` / `.svg`: checkout latency, throughput and (when sampled) the database's own
//! view, on one incident-clock axis, with the outage shaded and faults and alerts marked.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;
use crate::analysis::FOCUS_OP;
use crate::results::{DbSample, EventRow, WindowRow, window_secs};

/// What the analysis adds to the raw rows.
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    /// (from, to) clock of the outage window, shaded.
    pub outage: Option<(String, String)>,
    /// (label, milliseconds): p99 alert thresholds drawn on the latency panel.
    pub p99_thresholds: Vec<(String, f64)>,
}

struct Series {
    x: Vec<f64>,
    latency: [(Vec<Option<f64>>, &'static str, RGBColor); 3],
    throughput: Vec<(Vec<f64>, &'static str, RGBColor)>,
    /// (x, label, is_alert)
    markers: Vec<(f64, String, bool)>,
    outage: Option<(f64, f64)>,
    db: Vec<(String, Vec<(f64, f64)>)>,
}

fn series(windows: &[WindowRow], events: &[EventRow], db: &[DbSample], notes: &Annotations) -> Series {
    let rows: Vec<&WindowRow> = windows.iter().filter(|w| w.op == FOCUS_OP).collect();
    let per_s = window_secs(&rows);
    let rate = |f: fn(&WindowRow) -> u64| rows.iter().map(|w| f(w) as f64 / per_s).collect::<Vec<f64>>();
    let markers = events
        .iter()
        .filter_map(|e| {
            let hm = e.clock.get(..5).unwrap_or(&e.clock);
            let label = match e.kind.as_str() {
                "fault_apply_sent" => format!("{hm} {} applied", e.name),
                "fault_rollback_sent" => format!("{hm} rollback of {} sent", e.name),
                "fault_failed" => format!("{hm} {} failed", e.name),
                "alert_fired" => format!("{hm} alert: {}", e.name),
                _ => return None,
            };
            Some((clock_x(&e.clock), label, e.kind == "alert_fired"))
        })
        .collect();
    let mut metrics: Vec<String> = db.iter().map(|s| s.metric.clone()).collect();
    metrics.sort();
    metrics.dedup();
    let db = metrics
        .into_iter()
        // Counts share the panel; sizes, durations and per-state breakdowns stay in db.csv.
        .filter(|m| !m.ends_with("_bytes") && !m.ends_with("_s") && !m.contains(':'))
        .map(|m| {
            let pts: Vec<(f64, f64, f64)> = db
                .iter()
                .filter(|s| s.metric == m)
                .map(|s| (clock_x(&s.clock), s.t_s, s.value))
                .collect();
            // Counters (`_total`) are drawn as a rate per second, gauges as they are.
            let values = if m.ends_with("_total") {
                pts.windows(2)
                    .map(|p| (p[1].0, (p[1].2 - p[0].2) / (p[1].1 - p[0].1).max(1e-3)))
                    .collect()
            } else {
                pts.iter().map(|p| (p.0, p.2)).collect()
            };
            let name = if m.ends_with("_total") {
                format!("{} / s", m.trim_end_matches("_total"))
            } else {
                m
            };
            (name, values)
        })
        .collect();
    Series {
        x: rows.iter().map(|w| clock_x(&w.clock)).collect(),
        latency: [
            (rows.iter().map(|w| w.p50_ms).collect(), "p50", C_BLUE),
            (rows.iter().map(|w| w.p95_ms).collect(), "p95", C_ORANGE),
            (rows.iter().map(|w| w.p99_ms).collect(), "p99", C_RED),
        ],
        throughput: vec![
            (rate(|w| w.offered), "offered", C_GREY),
            (rate(|w| w.ok), "ok", C_GREEN),
            (rate(|w| w.failed), "failed", C_PURPLE),
            (rate(|w| w.timed_out), "timed out", C_RED),
            (rate(|w| w.dropped), "dropped (503)", C_ORANGE),
        ],
        markers,
        outage: notes.outage.as_ref().map(|(a, b)| (clock_x(a), clock_x(b))),
        db,
    }
}

pub(super) type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn shade<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    s: &Series,
    lo: f64,
    hi: f64,
) -> DrawResult<DB> {
    if let Some((a, b)) = s.outage {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(a, lo), (b, hi)],
            C_RED.mix(0.08).filled(),
        )))?;
    }
    for (x, _, alert) in &s.markers {
        let style = if *alert {
            C_ORANGE.stroke_width(2)
        } else {
            BLACK.mix(0.7).stroke_width(2)
        };
        chart.draw_series(std::iter::once(PathElement::new(vec![(*x, lo), (*x, hi)], style)))?;
    }
    Ok(())
}

/// One labelled line of a panel.
pub(super) fn line<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    points: impl IntoIterator<Item = (f64, f64)>,
    label: &str,
    color: RGBColor,
) -> DrawResult<DB> {
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(2)))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
    Ok(())
}

pub(super) fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 17))
        .draw()
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Series,
    notes: &Annotations,
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title_area, body) = root.split_vertically(50);
    title_area.titled(title, ("sans-serif", 28))?;
    let panels = if s.db.is_empty() {
        body.split_evenly((2, 1))
    } else {
        body.split_evenly((3, 1))
    };
    let x0 = s.x.first().map(|x| x - 1.0).unwrap_or(0.0);
    let x1 = s.x.last().copied().unwrap_or(1.0).max(x0 + 1.0);

    // Latency, log scale, with the alert thresholds and labelled markers.
    let values = s
        .latency
        .iter()
        .flat_map(|l| l.0.iter().flatten().copied())
        .chain(notes.p99_thresholds.iter().map(|t| t.1));
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // Headroom above the data: the marker labels go there, one row each.
    let (lo, hi) = if hi > 0.0 {
        ((lo * 0.5).max(0.01), hi * 40.0)
    } else {
        (0.1, 10.0)
    };
    let mut lat = panel!(
        &panels[0],
        "Checkout latency per window, from intended arrival (ms, log scale)",
        x0..x1,
        (lo..hi).log_scale()
    );
    mesh!(lat, "latency (ms)")?;
    shade(&mut lat, s, lo, hi)?;
    for (values, label, color) in &s.latency {
        let pts = s.x.iter().zip(values).filter_map(|(&x, v)| v.map(|v| (x, v)));
        line(&mut lat, pts, label, *color)?;
    }
    for (label, ms) in &notes.p99_thresholds {
        lat.draw_series(DashedLineSeries::new(
            vec![(x0, *ms), (x1, *ms)],
            8,
            6,
            C_ORANGE.stroke_width(2),
        ))?;
        let at = (x1 - (x1 - x0) * 0.3, ms / 1.6);
        lat.draw_series(std::iter::once(Text::new(
            format!("alert threshold: {label}"),
            at,
            ("sans-serif", 15),
        )))?;
    }
    // Marker labels stacked downwards from the top, one row each, so they never overlap.
    for (i, (x, label, alert)) in s.markers.iter().enumerate() {
        let y = hi / 2.0_f64.powi((i % 4) as i32 + 1);
        let color = if *alert { RGBColor(160, 90, 0) } else { BLACK };
        lat.draw_series(std::iter::once(Text::new(
            format!(" {label}"),
            (*x, y),
            ("sans-serif", 15).into_font().color(&color),
        )))?;
    }
    legend(&mut lat)?;

    // Throughput.
    let top = s
        .throughput
        .iter()
        .flat_map(|t| t.0.iter().copied())
        .fold(1.0f64, f64::max)
        * 1.15;
    let mut thr = panel!(
        &panels[1],
        "Checkout attempts per second (retries included); shaded: outage",
        x0..x1,
        0.0..top
    );
    mesh!(thr, "attempts / s")?;
    shade(&mut thr, s, 0.0, top)?;
    for (values, label, color) in &s.throughput {
        line(&mut thr, s.x.iter().copied().zip(values.iter().copied()), label, *color)?;
    }
    legend(&mut thr)?;

    // The database's own view.
    if !s.db.is_empty() {
        let top = s.db.iter().flat_map(|d| d.1.iter().map(|p| p.1)).fold(1.0f64, f64::max) * 1.15;
        let mut db = panel!(&panels[2], "Database monitor (db.csv)", x0..x1, 0.0..top);
        mesh!(db, "count, or count / s")?;
        shade(&mut db, s, 0.0, top)?;
        for (i, (name, pts)) in s.db.iter().enumerate() {
            line(&mut db, pts.iter().copied(), name, PALETTE[i % PALETTE.len()])?;
        }
        legend(&mut db)?;
    }
    root.present()?;
    Ok(())
}

/// Writes `dashboard.png` and `dashboard.svg` into `dir`.
pub fn render_dashboard(
    dir: &Path,
    windows: &[WindowRow],
    events: &[EventRow],
    db: &[DbSample],
    notes: &Annotations,
    title: &str,
) -> Result<()> {
    register_font();
    let s = series(windows, events, db, notes);
    let png = dir.join("dashboard.png");
    let svg = dir.join("dashboard.svg");
    draw(
        &BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area(),
        &s,
        notes,
        title,
    )
    .map_err(|e| anyhow!("cannot draw {}: {e:?}", png.display()))?;
    draw(
        &SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area(),
        &s,
        notes,
        title,
    )
    .map_err(|e| anyhow!("cannot draw {}: {e:?}", svg.display()))?;
    Ok(())
}
