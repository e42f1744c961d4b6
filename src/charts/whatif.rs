//! `whatif.png` / `.svg`: one row per variant that ran. Left, the share of its runs with an
//! outage (the story's, with a story), the point and its Wilson 95% interval; right, the
//! incident minutes checkout was down per run, the median and the range. As-is is the first
//! row, its values dashed across both panels, so a variant beyond its interval or range shows
//! at a glance.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::dashboard::DrawResult;
use super::*;

/// One variant's row: its outage share with the interval, and its minutes down.
#[derive(Debug, Clone, Default)]
pub struct WhatifRow {
    pub name: String,
    /// (low, share, high).
    pub outage: (f64, f64, f64),
    /// (low, median, high).
    pub minutes: Option<(f64, f64, f64)>,
}

/// A horizontal bar from `low` to `high` at row `y`, with its `mid` point.
fn span<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<DB, CT>,
    y: f64,
    (low, mid, high): (f64, f64, f64),
    color: RGBColor,
) -> DrawResult<DB> {
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(low, y), (high, y)],
        color.stroke_width(4),
    )))?;
    chart.draw_series(std::iter::once(Circle::new((mid, y), 8, color.filled())))?;
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panel: &str,
    ran: &[WhatifRow],
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title_area, body) = root.split_vertically(60);
    title_area.titled(title, ("sans-serif", 28))?;
    let rows = ran.len().max(1) as f64;
    // The first row at the top.
    let y = |i: usize| rows - 0.5 - i as f64;
    let names = |v: &f64| {
        let i = rows - 0.5 - v;
        match ran.get(i.round() as usize) {
            Some(r) if i >= -1e-6 && (i - i.round()).abs() < 1e-6 => r.name.clone(),
            _ => String::new(),
        }
    };
    let (left, right) = body.split_horizontally(WIDTH as i32 / 2 + 80);
    let mut outage = ChartBuilder::on(&left)
        .caption(panel, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(180)
        .build_cartesian_2d(0.0..1.0, 0.0..rows)?;
    outage
        .configure_mesh()
        .y_labels(2 * ran.len() + 1)
        .y_label_formatter(&names)
        .x_desc("share of runs")
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    let longest = ran.iter().filter_map(|v| v.minutes.map(|m| m.2)).fold(10.0, f64::max);
    let mut minutes = ChartBuilder::on(&right)
        .caption("Incident minutes down (median, range)", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(20)
        .build_cartesian_2d(0.0..longest * 1.1, 0.0..rows)?;
    minutes
        .configure_mesh()
        .y_labels(0)
        .x_desc("minutes")
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    for (i, v) in ran.iter().enumerate() {
        let color = if i == 0 { C_GREY } else { PALETTE[i % PALETTE.len()] };
        span(&mut outage, y(i), v.outage, color)?;
        if let Some(m) = v.minutes {
            span(&mut minutes, y(i), m, color)?;
        }
        if i == 0 {
            // As-is across both panels.
            let at = vec![(v.outage.1, 0.0), (v.outage.1, rows)];
            outage.draw_series(DashedLineSeries::new(at, 8, 6, C_GREY.stroke_width(2)))?;
            if let Some(m) = v.minutes {
                let at = vec![(m.1, 0.0), (m.1, rows)];
                minutes.draw_series(DashedLineSeries::new(at, 8, 6, C_GREY.stroke_width(2)))?;
            }
        }
    }
    root.present()?;
    Ok(())
}

/// Writes `whatif.png` and `whatif.svg` into `dir`: a row per variant, as-is first.
/// `panel` names what the left panel counts (any outage, or the story's).
pub fn render_whatif(dir: &Path, title: &str, panel: &str, rows: &[WhatifRow]) -> Result<()> {
    png_and_svg!(dir, "whatif", draw(title, panel, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whatif_chart_is_drawn_with_a_row_per_variant() {
        let rows = [
            WhatifRow {
                name: "as-is".into(),
                outage: (0.44, 1.0, 1.0),
                minutes: Some((33.0, 33.0, 36.0)),
            },
            WhatifRow {
                name: "no-rollback".into(),
                outage: (0.44, 1.0, 1.0),
                minutes: Some((18.0, 19.0, 23.0)),
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        render_whatif(
            dir.path(),
            "checkout-peak on sqlite: what if",
            "Runs with an outage",
            &rows,
        )
        .unwrap();
        let png = std::fs::metadata(dir.path().join("whatif.png")).unwrap();
        assert!(png.len() > 10_000, "an empty picture: {} bytes", png.len());
    }
}
