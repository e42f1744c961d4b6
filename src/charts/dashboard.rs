//! `dashboard.png` / `.svg`: checkout latency, throughput and (when sampled) the database's own
//! view, on one incident-clock axis, with the outage shaded and faults and alerts marked.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;
use crate::analysis::{AlertSpan, FOCUS_OP};
use crate::results::{DbSample, EventKind, EventRow, WindowRow, window_secs};

/// What the analysis and the scenario add to the raw rows.
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    /// (from, to) clock of the outage window, shaded.
    pub outage: Option<(String, String)>,
    /// Each alert from firing to resolving, drawn as one span.
    pub alerts: Vec<AlertSpan>,
    /// (label, milliseconds): p99 alert thresholds drawn on the latency panel.
    pub p99_thresholds: Vec<(String, f64)>,
    /// (label, ratio): success-ratio alert thresholds drawn on the success panel.
    pub success_thresholds: Vec<(String, f64)>,
    /// The app's request timeout, milliseconds: where latency stops.
    pub timeout_ms: Option<f64>,
    /// The postmortem's checkpoints from the scenario's `[story]`: (clock, label).
    pub postmortem: Vec<(String, String)>,
}

struct Series {
    x: Vec<f64>,
    /// Checkout's success ratio of attempts, and the share of its shoppers who gave up.
    success: Vec<Option<f64>>,
    lost: Vec<Option<f64>>,
    latency: [(Vec<Option<f64>>, &'static str, RGBColor); 3],
    throughput: Vec<(Vec<f64>, &'static str, RGBColor)>,
    /// Fault actions: (x, label).
    markers: Vec<(f64, String)>,
    /// Alerts: (from x, to x, label).
    alerts: Vec<(f64, f64, String)>,
    /// The postmortem's checkpoints: (x, label).
    postmortem: Vec<(f64, String)>,
    outage: Option<(f64, f64)>,
    /// The database monitor: gauges as they are, counters as rates per second.
    gauges: Vec<(String, Vec<(f64, f64)>)>,
    rates: Vec<(String, Vec<(f64, f64)>)>,
}

fn markers(events: &[EventRow]) -> Vec<(f64, String)> {
    events
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
        .collect()
}

/// The monitor's metrics drawn: counts only (sizes, durations and per-state breakdowns stay in
/// db.csv), split into gauges and counters (`_total`, drawn as a rate per second).
fn monitor(db: &[DbSample]) -> (Vec<(String, Vec<(f64, f64)>)>, Vec<(String, Vec<(f64, f64)>)>) {
    let mut metrics: Vec<&str> = db.iter().map(|s| s.metric.as_str()).collect();
    metrics.sort_unstable();
    metrics.dedup();
    let (mut gauges, mut rates) = (Vec::new(), Vec::new());
    for m in metrics {
        if m.ends_with("_bytes") || m.ends_with("_s") || m.contains(':') {
            continue;
        }
        let pts: Vec<&DbSample> = db.iter().filter(|s| s.metric == m).collect();
        match m.strip_suffix("_total") {
            Some(name) => {
                let per_s = pts.windows(2).map(|p| {
                    let dt = (p[1].t_s - p[0].t_s).max(1e-3);
                    (clock_x(&p[1].clock), (p[1].value - p[0].value) / dt)
                });
                rates.push((format!("{name} / s"), per_s.collect()));
            }
            None => gauges.push((
                m.to_string(),
                pts.iter().map(|s| (clock_x(&s.clock), s.value)).collect(),
            )),
        }
    }
    (gauges, rates)
}

fn series(windows: &[WindowRow], events: &[EventRow], db: &[DbSample], notes: &Annotations) -> Series {
    let rows: Vec<&WindowRow> = windows.iter().filter(|w| w.op == FOCUS_OP).collect();
    let per_s = window_secs(&rows);
    let rate = |f: fn(&WindowRow) -> u64| rows.iter().map(|w| f(w) as f64 / per_s).collect::<Vec<f64>>();
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
    let has_shoppers = rows.iter().any(|w| w.shoppers > 0);
    let (gauges, rates) = monitor(db);
    Series {
        x: rows.iter().map(|w| clock_x(&w.clock)).collect(),
        success: rows
            .iter()
            .map(|w| (w.offered > 0).then(|| (w.ok as f64 / w.offered as f64).min(1.0)))
            .collect(),
        lost: rows
            .iter()
            .map(|w| if has_shoppers { w.lost_share() } else { None })
            .collect(),
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
        markers: markers(events),
        alerts,
        postmortem: notes
            .postmortem
            .iter()
            .map(|(clock, label)| (clock_x(clock), label.clone()))
            .collect(),
        outage: notes.outage.as_ref().map(|(a, b)| (clock_x(a), clock_x(b))),
        gauges,
        rates,
    }
}

pub(super) type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The outage and alert spans, the fault actions and the postmortem's checkpoints, behind a
/// panel's lines; with a key, each kind of shading and mark gets an entry in it.
fn shade<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    s: &Series,
    (lo, hi): (f64, f64),
    key: Option<&mut Key>,
) -> DrawResult<DB> {
    let (outage, alert) = (C_RED.mix(0.10), C_ORANGE.mix(0.14));
    if let Some((a, b)) = s.outage {
        chart.draw_series(std::iter::once(Rectangle::new([(a, lo), (b, hi)], outage.filled())))?;
    }
    for (from, to, _) in &s.alerts {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(*from, lo), (*to, hi)],
            alert.filled(),
        )))?;
    }
    for (x, _) in &s.markers {
        let style = BLACK.mix(0.7).stroke_width(2);
        chart.draw_series(std::iter::once(PathElement::new(vec![(*x, lo), (*x, hi)], style)))?;
    }
    for (x, _) in &s.postmortem {
        chart.draw_series(DashedLineSeries::new(
            vec![(*x, lo), (*x, hi)],
            6,
            5,
            C_NAVY.stroke_width(2),
        ))?;
    }
    if let Some(key) = key {
        if s.outage.is_some() {
            key.add("outage: success below 0.5", Mark::Fill(C_RED.mix(0.3)));
        }
        if !s.alerts.is_empty() {
            key.add("an alert firing", Mark::Fill(C_ORANGE.mix(0.4)));
        }
        if !s.markers.is_empty() {
            key.add("fault action", Mark::Upright(BLACK));
        }
        if !s.postmortem.is_empty() {
            key.add("the postmortem's time", Mark::Upright(C_NAVY));
        }
    }
    Ok(())
}

/// Label rows in the success panel's headroom.
const LABEL_ROWS: usize = 4;
/// Roughly how wide a character of the 16 px label font is, in pixels.
const LABEL_CHAR_PX: f64 = 9.0;
/// Five panels of about 280 px each.
const DASHBOARD_HEIGHT: u32 = 1500;

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

/// Pixels at the right of each panel for its key, so it covers no line and no label.
pub(super) const LEGEND_PX: u32 = 300;

/// How a key entry is drawn.
#[derive(Clone, Copy)]
pub(super) enum Mark {
    Line(RGBColor),
    Fill(RGBAColor),
    Upright(RGBColor),
    Dashed(RGBColor),
}

/// A panel's key, drawn in the strip at its right, so it covers no line and no label.
#[derive(Default)]
pub(super) struct Key(Vec<(String, Mark)>);

impl Key {
    pub(super) fn add(&mut self, label: impl Into<String>, mark: Mark) {
        self.0.push((label.into(), mark));
    }

    pub(super) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let font = ("sans-serif", 16).into_font();
        for (i, (label, mark)) in self.0.iter().enumerate() {
            let y = 48 + 24 * i as i32;
            match *mark {
                Mark::Line(c) => area.draw(&PathElement::new([(8, y), (34, y)], c.stroke_width(3)))?,
                Mark::Fill(c) => area.draw(&Rectangle::new([(8, y - 8), (34, y + 8)], c.filled()))?,
                Mark::Upright(c) => area.draw(&PathElement::new([(21, y - 10), (21, y + 10)], c.stroke_width(2)))?,
                Mark::Dashed(c) => {
                    for x in [8, 20] {
                        area.draw(&PathElement::new([(x, y), (x + 7, y)], c.stroke_width(2)))?;
                    }
                }
            }
            area.draw(&Text::new(label.clone(), (42, y - 9), font.clone()))?;
        }
        Ok(())
    }
}

/// Headroom above a share's 0–1 range: the event labels go there, one row each.
const SHARE_TOP: f64 = 1.5;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Series,
    notes: &Annotations,
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title_area, body) = root.split_vertically(50);
    title_area.titled(title, ("sans-serif", 28))?;
    let db_panels = usize::from(!s.gauges.is_empty()) + usize::from(!s.rates.is_empty());
    let panels = body.split_evenly((3 + db_panels, 1));
    let x0 = s.x.first().map(|x| x - 1.0).unwrap_or(0.0);
    let x1 = s.x.last().copied().unwrap_or(1.0).max(x0 + 1.0);
    let split: Vec<_> = panels.iter().map(|p| p.split_horizontally(WIDTH - LEGEND_PX)).collect();
    let part = |i: usize| (&split[i].0, &split[i].1);
    draw_success(part(0), s, notes, (x0, x1))?;
    draw_latency(part(1), s, notes, (x0, x1))?;
    draw_attempts(part(2), s, (x0, x1))?;
    let mut next = 3;
    for (lines, caption, unit) in [
        (&s.gauges, "Database monitor: sessions and locks now (db.csv)", "count"),
        (&s.rates, "Database monitor: counters as rates (db.csv)", "per second"),
    ] {
        if !lines.is_empty() {
            draw_monitor(part(next), s, lines, caption, unit, (x0, x1))?;
            next += 1;
        }
    }
    root.present()?;
    Ok(())
}

/// Checkout success and the shoppers who could not buy, with the alert thresholds and every
/// event labelled in the headroom.
fn draw_success<DB: DrawingBackend>(
    (area, strip): (&DrawingArea<DB, Shift>, &DrawingArea<DB, Shift>),
    s: &Series,
    notes: &Annotations,
    (x0, x1): (f64, f64),
) -> DrawResult<DB> {
    let mut chart = panel!(
        area,
        "Checkout: the share of attempts that succeeded, and of shoppers who could not buy",
        x0..x1,
        0.0..SHARE_TOP
    );
    chart
        .configure_mesh()
        .x_labels(14)
        .x_label_formatter(&hhmm)
        .y_labels(6)
        .y_label_formatter(&|v: &f64| {
            if *v <= 1.0 + 1e-9 {
                format!("{:.0}%", v * 100.0)
            } else {
                String::new()
            }
        })
        .x_desc("incident clock (HH:MM)")
        .y_desc("share")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    let mut key = Key::default();
    shade(&mut chart, s, (0.0, 1.05), Some(&mut key))?;
    let pts =
        |v: &[Option<f64>]| -> Vec<(f64, f64)> { s.x.iter().zip(v).filter_map(|(&x, v)| v.map(|v| (x, v))).collect() };
    line(&mut chart, pts(&s.success), "attempts that succeeded", C_GREEN)?;
    key.add("attempts that succeeded", Mark::Line(C_GREEN));
    if s.lost.iter().any(Option::is_some) {
        line(&mut chart, pts(&s.lost), "shoppers who could not buy", C_RED)?;
        key.add("shoppers who could not buy", Mark::Line(C_RED));
    }
    for (label, at) in &notes.success_thresholds {
        threshold(&mut chart, (x0, x1), *at, &format!("alert: {label}"), at - 0.08)?;
    }
    if !notes.success_thresholds.is_empty() {
        key.add("alert threshold", Mark::Dashed(C_BROWN));
    }
    event_labels(&mut chart, s, (x0, x1))?;
    key.draw(strip)
}

/// A dashed horizontal line at `at`, its label at `label_y`, on white.
fn threshold<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    (x0, x1): (f64, f64),
    at: f64,
    label: &str,
    label_y: f64,
) -> DrawResult<DB> {
    let style = C_BROWN.stroke_width(2);
    chart.draw_series(DashedLineSeries::new(vec![(x0, at), (x1, at)], 8, 6, style))?;
    let x = x0 + (x1 - x0) * 0.005;
    boxed_text(chart, label, (x, label_y), C_BROWN)?;
    Ok(())
}

/// Text on a white box, so it reads on any shading.
pub(super) fn boxed_text<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    label: &str,
    at: (f64, f64),
    color: RGBColor,
) -> DrawResult<DB> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let font = ("sans-serif", 16)
        .into_font()
        .color(&color)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let width = (label.chars().count() as f64 * LABEL_CHAR_PX) as i32 + 8;
    let boxed = EmptyElement::at(at)
        + Rectangle::new([(0, -11), (width, 11)], WHITE.mix(0.9).filled())
        + Text::new(label.to_string(), (4, 0), font);
    chart.draw_series(std::iter::once(boxed))?;
    Ok(())
}

/// The fault actions, alerts and the postmortem's checkpoints, labelled in rows in the
/// headroom above 100%, none over another.
fn event_labels<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    s: &Series,
    (x0, x1): (f64, f64),
) -> DrawResult<DB> {
    let mut labels: Vec<(f64, &str, RGBColor)> = s.markers.iter().map(|(x, l)| (*x, l.as_str(), BLACK)).collect();
    labels.extend(s.alerts.iter().map(|(x, _, l)| (*x, l.as_str(), C_BROWN)));
    labels.extend(s.postmortem.iter().map(|(x, l)| (*x, l.as_str(), C_NAVY)));
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    let plot_px = f64::from(chart.plotting_area().dim_in_pixel().0);
    let px = |x: f64| (x - x0) / (x1 - x0) * plot_px;
    // A label that would run past the plot's right edge ends at it instead.
    let extents: Vec<(f64, f64)> = labels
        .iter()
        .map(|(x, l, _)| {
            let width = (l.chars().count() + 1) as f64 * LABEL_CHAR_PX + 8.0;
            (px(*x).min(plot_px - width).max(0.0), width)
        })
        .collect();
    let row_height = (SHARE_TOP - 1.08) / LABEL_ROWS as f64;
    let placed = place_labels(&extents, LABEL_ROWS);
    for (((_, label, color), row), (left, _)) in labels.iter().zip(placed).zip(&extents) {
        let Some(row) = row else { continue };
        let y = SHARE_TOP - row_height * (row as f64 + 0.5);
        let x = x0 + left / plot_px * (x1 - x0);
        boxed_text(chart, label, (x, y), *color)?;
    }
    Ok(())
}

/// Latency, log scale, with the request timeout and the p99 alert thresholds.
fn draw_latency<DB: DrawingBackend>(
    (area, strip): (&DrawingArea<DB, Shift>, &DrawingArea<DB, Shift>),
    s: &Series,
    notes: &Annotations,
    (x0, x1): (f64, f64),
) -> DrawResult<DB> {
    let values = s
        .latency
        .iter()
        .flat_map(|l| l.0.iter().flatten().copied())
        .chain(notes.p99_thresholds.iter().map(|t| t.1))
        .chain(notes.timeout_ms);
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if hi > 0.0 {
        ((lo * 0.5).max(0.01), hi * 4.0)
    } else {
        (0.1, 10.0)
    };
    let mut chart = panel!(
        area,
        "Checkout latency per window, from the intended arrival (ms, log scale)",
        x0..x1,
        (lo..hi).log_scale()
    );
    mesh!(chart, "latency (ms)")?;
    let mut key = Key::default();
    shade(&mut chart, s, (lo, hi), None)?;
    for (values, label, color) in &s.latency {
        let pts = s.x.iter().zip(values).filter_map(|(&x, v)| v.map(|v| (x, v)));
        line(&mut chart, pts, label, *color)?;
        key.add(*label, Mark::Line(*color));
    }
    if let Some(ms) = notes.timeout_ms {
        let label = format!("request timeout {ms:.0} ms: no request waits longer");
        threshold(&mut chart, (x0, x1), ms, &label, ms * 1.8)?;
    }
    for (label, ms) in &notes.p99_thresholds {
        threshold(&mut chart, (x0, x1), *ms, &format!("alert: {label}"), ms / 1.8)?;
    }
    if notes.timeout_ms.is_some() || !notes.p99_thresholds.is_empty() {
        key.add("timeout, alert threshold", Mark::Dashed(C_BROWN));
    }
    key.draw(strip)
}

fn draw_attempts<DB: DrawingBackend>(
    (area, strip): (&DrawingArea<DB, Shift>, &DrawingArea<DB, Shift>),
    s: &Series,
    (x0, x1): (f64, f64),
) -> DrawResult<DB> {
    let top = s
        .throughput
        .iter()
        .flat_map(|t| t.0.iter().copied())
        .fold(1.0f64, f64::max)
        * 1.15;
    let mut chart = panel!(
        area,
        "Checkout attempts per second (a shopper's retries included)",
        x0..x1,
        0.0..top
    );
    mesh!(chart, "attempts / s")?;
    let mut key = Key::default();
    shade(&mut chart, s, (0.0, top), None)?;
    for (values, label, color) in &s.throughput {
        line(
            &mut chart,
            s.x.iter().copied().zip(values.iter().copied()),
            label,
            *color,
        )?;
        key.add(*label, Mark::Line(*color));
    }
    key.draw(strip)
}

fn draw_monitor<DB: DrawingBackend>(
    (area, strip): (&DrawingArea<DB, Shift>, &DrawingArea<DB, Shift>),
    s: &Series,
    lines: &[(String, Vec<(f64, f64)>)],
    caption: &str,
    unit: &str,
    (x0, x1): (f64, f64),
) -> DrawResult<DB> {
    let top = lines
        .iter()
        .flat_map(|d| d.1.iter().map(|p| p.1))
        .fold(1.0f64, f64::max)
        * 1.15;
    let mut chart = panel!(area, caption, x0..x1, 0.0..top);
    mesh!(chart, unit)?;
    let mut key = Key::default();
    shade(&mut chart, s, (0.0, top), None)?;
    for (i, (name, pts)) in lines.iter().enumerate() {
        line(&mut chart, pts.iter().copied(), name, PALETTE[i % PALETTE.len()])?;
        key.add(name.clone(), Mark::Line(PALETTE[i % PALETTE.len()]));
    }
    key.draw(strip)
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
        &BitMapBackend::new(&png, (WIDTH, DASHBOARD_HEIGHT)).into_drawing_area(),
        &s,
        notes,
        title,
    )
    .map_err(|e| anyhow!("cannot draw {}: {e:?}", png.display()))?;
    draw(
        &SVGBackend::new(&svg, (WIDTH, DASHBOARD_HEIGHT)).into_drawing_area(),
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
