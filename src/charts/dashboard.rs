//! `dashboard.png` / `.svg`: checkout latency, throughput and (when sampled) the database's own
//! view, on one incident-clock axis, with the outage shaded and faults and alerts marked.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;
use crate::analysis::{AlertSpan, FOCUS_OP};
use crate::results::{DbSample, EventKind, EventRow, WindowRow, window_secs};

/// What the analysis adds to the raw rows.
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    /// (from, to) clock of the outage window, shaded.
    pub outage: Option<(String, String)>,
    /// Each alert from firing to resolving, drawn as one span.
    pub alerts: Vec<AlertSpan>,
    /// (label, milliseconds): p99 alert thresholds drawn on the latency panel.
    pub p99_thresholds: Vec<(String, f64)>,
}

struct Series {
    x: Vec<f64>,
    latency: [(Vec<Option<f64>>, &'static str, RGBColor); 3],
    throughput: Vec<(Vec<f64>, &'static str, RGBColor)>,
    /// Fault actions: (x, label).
    markers: Vec<(f64, String)>,
    /// Alerts: (from x, to x, label).
    alerts: Vec<(f64, f64, String)>,
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
            let label = match e.kind {
                EventKind::FaultApplySent => format!("{hm} {} applied", e.name),
                EventKind::FaultRollbackSent => format!("{hm} rollback of {} sent", e.name),
                EventKind::FaultFailed => format!("{hm} {} failed", e.name),
                EventKind::TraineeDiagnosis => format!("{hm} trainee: diagnose {}", e.name),
                EventKind::TraineeAction => format!("{hm} trainee: {}", e.name),
                EventKind::MitigationDetected => format!("{hm} mitigated: {}", e.name),
                _ => return None,
            };
            Some((clock_x(&e.clock), label))
        })
        .collect();
    let end = rows.last().map(|w| clock_x(&w.clock)).unwrap_or(0.0);
    let alerts = notes
        .alerts
        .iter()
        .map(|a| {
            let to = a.resolved.as_deref().map_or(end, clock_x);
            let label = format!("{} alert: {}", a.fired.get(..5).unwrap_or(&a.fired), a.name);
            (clock_x(&a.fired), to, label)
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
        alerts,
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
    for (from, to, _) in &s.alerts {
        let band = Rectangle::new([(*from, lo), (*to, hi)], C_ORANGE.mix(0.12).filled());
        chart.draw_series(std::iter::once(band))?;
    }
    for (x, _) in &s.markers {
        let style = BLACK.mix(0.7).stroke_width(2);
        chart.draw_series(std::iter::once(PathElement::new(vec![(*x, lo), (*x, hi)], style)))?;
    }
    Ok(())
}

/// Label rows in the latency panel's headroom.
const LABEL_ROWS: usize = 4;
/// Roughly how wide a character of the 15 px label font is, in pixels.
const LABEL_CHAR_PX: f64 = 8.5;

/// Puts each label (left edge and width, in pixels, in drawing order) in the first row where
/// it overlaps no label already there; `None` when no row has room (it is not drawn: the
/// timeline has every event). So labels never print over one another.
pub(super) fn place_labels(labels: &[(f64, f64)], rows: usize) -> Vec<Option<usize>> {
    let mut right_edge = vec![f64::NEG_INFINITY; rows];
    labels
        .iter()
        .map(|&(left, width)| {
            let row = right_edge.iter().position(|&edge| left > edge + 6.0)?;
            right_edge[row] = left + width;
            Some(row)
        })
        .collect()
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
    // Labels of fault actions and alerts, in rows from the top, none over another.
    let mut labels: Vec<(f64, &str, RGBColor)> = s.markers.iter().map(|(x, l)| (*x, l.as_str(), BLACK)).collect();
    labels.extend(s.alerts.iter().map(|(x, _, l)| (*x, l.as_str(), RGBColor(160, 90, 0))));
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    let plot_px = f64::from(WIDTH) - 120.0;
    let px = |x: f64| (x - x0) / (x1 - x0) * plot_px;
    let extents: Vec<(f64, f64)> = labels
        .iter()
        .map(|(x, l, _)| (px(*x), (l.chars().count() + 1) as f64 * LABEL_CHAR_PX))
        .collect();
    for ((x, label, color), row) in labels.iter().zip(place_labels(&extents, LABEL_ROWS)) {
        let Some(row) = row else { continue };
        let y = hi / 2.0_f64.powi(row as i32 + 1);
        lat.draw_series(std::iter::once(Text::new(
            format!(" {label}"),
            (*x, y),
            ("sans-serif", 15).into_font().color(color),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_never_overlap_and_those_without_room_are_left_out() {
        // Eleven alerts a few pixels apart, as a flapping alert drew them, and one far away.
        let mut labels: Vec<(f64, f64)> = (0..11).map(|i| (100.0 + 9.0 * f64::from(i), 150.0)).collect();
        labels.push((900.0, 150.0));
        let rows = place_labels(&labels, LABEL_ROWS);
        assert_eq!(rows.iter().filter(|r| r.is_some()).count(), LABEL_ROWS + 1);
        assert_eq!(rows[11], Some(0));
        for (i, a) in labels.iter().enumerate() {
            for (j, b) in labels.iter().enumerate().skip(i + 1) {
                if rows[i].is_some() && rows[i] == rows[j] {
                    assert!(
                        b.0 > a.0 + a.1 || a.0 > b.0 + b.1,
                        "labels {i} and {j} overlap in row {:?}",
                        rows[i]
                    );
                }
            }
        }
    }
}
