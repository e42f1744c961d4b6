//! Charts drawn from a run's rows with plotters: `dashboard.png` and `dashboard.svg`.
//!
//! Text uses an embedded DejaVu Sans (ab_glyph), so charts render the same with no system fonts.

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::analysis::FOCUS_OP;
use crate::results::{EventRow, WindowRow};
use crate::scenario::ClockTime;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub const WIDTH: u32 = 1600;
pub const HEIGHT: u32 = 1000;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let registered = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
        assert!(registered.is_ok(), "the embedded font is valid");
    });
}

/// What the dashboard shows, in incident-clock seconds since midnight on x.
struct Series {
    x: Vec<f64>,
    p50: Vec<Option<f64>>,
    p95: Vec<Option<f64>>,
    p99: Vec<Option<f64>>,
    offered: Vec<f64>,
    ok: Vec<f64>,
    not_ok: Vec<f64>,
    /// (x, label) for each fault action: applied, rolled back, failed.
    markers: Vec<(f64, String)>,
    /// Shaded spans (from x, to x) while a fault was applied.
    fault_spans: Vec<(f64, f64)>,
}

/// x is in incident-clock minutes since midnight, so axis ticks fall on round minutes.
fn clock_x(clock: &str) -> f64 {
    clock.parse::<ClockTime>().map(|c| f64::from(c.secs()) / 60.0).unwrap_or(0.0)
}

fn hhmm(x: &f64) -> String {
    let m = x.max(0.0).round() as u32;
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn series(windows: &[WindowRow], events: &[EventRow]) -> Series {
    let rows: Vec<&WindowRow> = windows.iter().filter(|w| w.op == FOCUS_OP).collect();
    let window_s = match rows.as_slice() {
        [a, b, ..] => (b.t_s - a.t_s).max(1e-3),
        _ => 1.0,
    };
    let rate = |n: u64| n as f64 / window_s;
    let mut markers = Vec::new();
    let mut fault_spans = Vec::new();
    let mut open: Option<f64> = None;
    for e in events {
        let x = clock_x(&e.clock);
        match e.kind.as_str() {
            "fault_apply_sent" => {
                open = Some(x);
                markers.push((x, format!("{} {} applied", &e.clock[..5], e.name)));
            }
            "fault_rollback_sent" => markers.push((x, format!("{} rollback sent", &e.clock[..5]))),
            "fault_rollback_done" => {
                if let Some(from) = open.take() {
                    fault_spans.push((from, x));
                }
            }
            "fault_failed" => markers.push((x, format!("{} {} failed", &e.clock[..5], e.name))),
            _ => {}
        }
    }
    if let (Some(from), Some(last)) = (open, rows.last()) {
        fault_spans.push((from, clock_x(&last.clock)));
    }
    Series {
        x: rows.iter().map(|w| clock_x(&w.clock)).collect(),
        p50: rows.iter().map(|w| w.p50_ms).collect(),
        p95: rows.iter().map(|w| w.p95_ms).collect(),
        p99: rows.iter().map(|w| w.p99_ms).collect(),
        offered: rows.iter().map(|w| rate(w.offered)).collect(),
        ok: rows.iter().map(|w| rate(w.ok)).collect(),
        not_ok: rows.iter().map(|w| rate(w.failed + w.timed_out + w.dropped)).collect(),
        markers,
        fault_spans,
    }
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Series, title: &str) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title_area, body) = root.split_vertically(60);
    title_area.titled(title, ("sans-serif", 30))?;
    let panels = body.split_evenly((2, 1));
    let x0 = s.x.first().copied().unwrap_or(0.0);
    let x1 = s.x.last().copied().unwrap_or(1.0).max(x0 + 1.0);

    // Latency, log scale.
    let all = s.p50.iter().chain(&s.p95).chain(&s.p99).flatten().copied();
    let (lo, hi) = all.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if hi > 0.0 { ((lo * 0.5).max(0.01), hi * 2.0) } else { (0.1, 10.0) };
    let mut lat = ChartBuilder::on(&panels[0])
        .caption("Checkout latency per window, from intended arrival (ms, log scale)", ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(x0..x1, (lo..hi).log_scale())?;
    lat.configure_mesh()
        .x_label_formatter(&hhmm)
        .x_desc("incident clock (HH:MM)")
        .y_desc("latency (ms)")
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 20))
        .draw()?;
    for &(a, b) in &s.fault_spans {
        lat.draw_series(std::iter::once(Rectangle::new([(a, lo), (b, hi)], RED.mix(0.08).filled())))?;
    }
    let colors = [(&s.p50, "p50", RGBColor(40, 120, 200)), (&s.p95, "p95", RGBColor(230, 150, 30)), (&s.p99, "p99", RGBColor(200, 30, 30))];
    for (values, label, color) in colors {
        let pts = s.x.iter().zip(values.iter()).filter_map(|(&x, v)| v.map(|v| (x, v)));
        lat.draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
    }
    for (i, (x, label)) in s.markers.iter().enumerate() {
        lat.draw_series(LineSeries::new(vec![(*x, lo), (*x, hi)], BLACK.mix(0.6).stroke_width(2)))?;
        let y = hi / 1.6_f64.powi(i as i32 % 3 + 1);
        lat.draw_series(std::iter::once(Text::new(format!(" {label}"), (*x, y), ("sans-serif", 18).into_font().color(&BLACK))))?;
    }
    lat.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 18))
        .draw()?;

    // Throughput.
    let top = s.offered.iter().chain(&s.ok).chain(&s.not_ok).copied().fold(1.0f64, f64::max) * 1.1;
    let mut thr = ChartBuilder::on(&panels[1])
        .caption("Checkout attempts per second (retries included)", ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(x0..x1, 0.0..top)?;
    thr.configure_mesh()
        .x_label_formatter(&hhmm)
        .x_desc("incident clock (HH:MM)")
        .y_desc("attempts / s")
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 20))
        .draw()?;
    for &(a, b) in &s.fault_spans {
        thr.draw_series(std::iter::once(Rectangle::new([(a, 0.0), (b, top)], RED.mix(0.08).filled())))?;
    }
    let lines = [
        (&s.offered, "offered", RGBColor(110, 110, 110)),
        (&s.ok, "ok", RGBColor(30, 150, 60)),
        (&s.not_ok, "failed + timed out + dropped", RGBColor(200, 30, 30)),
    ];
    for (values, label, color) in lines {
        thr.draw_series(LineSeries::new(s.x.iter().copied().zip(values.iter().copied()), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3)));
    }
    for (x, _) in &s.markers {
        thr.draw_series(LineSeries::new(vec![(*x, 0.0), (*x, top)], BLACK.mix(0.6).stroke_width(2)))?;
    }
    thr.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 18))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Writes `dashboard.png` and `dashboard.svg` into `dir`.
pub fn render_dashboard(dir: &Path, windows: &[WindowRow], events: &[EventRow], title: &str) -> Result<()> {
    register_font();
    let s = series(windows, events);
    let png = dir.join("dashboard.png");
    let svg = dir.join("dashboard.svg");
    draw(&BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area(), &s, title)
        .map_err(|e| anyhow!("cannot draw {}: {e:?}", png.display()))?;
    draw(&SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area(), &s, title)
        .map_err(|e| anyhow!("cannot draw {}: {e:?}", svg.display()))?;
    Ok(())
}
