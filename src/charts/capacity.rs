//! `capacity.png` / `.svg`: checkout p50 and p99 against the offered rate of every calibration
//! step, the knee of each calibration marked (no fault, and each fault, on one chart).

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::dashboard::{DrawResult, legend, line};
use super::*;
use crate::results::{Calibration, CapacityStep};

fn points(steps: &[CapacityStep], pick: fn(&CapacityStep) -> Option<f64>) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = steps.iter().filter_map(|s| Some((s.offered_per_s, pick(s)?))).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, runs: &[Calibration]) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title_area, body) = root.split_vertically(50);
    title_area.titled(title, ("sans-serif", 28))?;
    let steps = runs.iter().flat_map(|c| c.steps.iter());
    let x1 = steps.clone().map(|s| s.offered_per_s).fold(1.0f64, f64::max) * 1.05;
    let ms = steps.flat_map(|s| [s.p50_ms, s.p99_ms]).flatten();
    let (lo, hi) = ms.fold((f64::MAX, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    let (lo, hi) = if hi > 0.0 {
        ((lo * 0.5).max(0.01), hi * 3.0)
    } else {
        (0.1, 10.0)
    };
    let mut chart = ChartBuilder::on(&body)
        .caption(
            "Checkout latency against the offered rate (each step's measured window)",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x1, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("offered arrivals per second (the scenario's mix)")
        .y_desc("latency (ms, log scale)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    for (i, c) in runs.iter().enumerate() {
        let name = c.fault.as_deref().unwrap_or("no fault");
        let color = PALETTE[i % PALETTE.len()];
        line(
            &mut chart,
            points(&c.steps, |s| s.p99_ms),
            &format!("p99, {name}"),
            color,
        )?;
        let light = RGBColor(color.0 / 2 + 127, color.1 / 2 + 127, color.2 / 2 + 127);
        line(
            &mut chart,
            points(&c.steps, |s| s.p50_ms),
            &format!("p50, {name}"),
            light,
        )?;
        let knee = vec![(c.knee_per_s, lo), (c.knee_per_s, hi)];
        chart.draw_series(DashedLineSeries::new(knee, 8, 6, color.stroke_width(2)))?;
        let label = format!(" knee {:.0}/s ({name})", c.knee_per_s);
        let y = hi / 2.0_f64.powi(i as i32 + 1);
        chart.draw_series(std::iter::once(Text::new(label, (c.knee_per_s, y), ("sans-serif", 16))))?;
        if let Some(sustained) = c.sustained_per_s {
            // What runs take: the knee's fraction that held for the peak.
            let at = vec![(sustained, lo), (sustained, hi)];
            chart.draw_series(DashedLineSeries::new(at, 3, 4, color.stroke_width(2)))?;
            let label = format!(" sustained {sustained:.0}/s (held for the peak)");
            let y = hi / 2.0_f64.powi(i as i32 + 3);
            chart.draw_series(std::iter::once(Text::new(label, (sustained, y), ("sans-serif", 16))))?;
        }
    }
    legend(&mut chart)?;
    root.present()?;
    Ok(())
}

/// Writes `capacity.png` and `capacity.svg` into `dir`.
pub fn render_capacity(dir: &Path, title: &str, runs: &[Calibration]) -> Result<()> {
    png_and_svg!(dir, "capacity", draw(title, runs))
}
