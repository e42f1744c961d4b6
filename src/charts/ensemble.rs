//! `ensemble.png` / `.svg`: every run's share of shoppers who could buy over the incident clock as a thin
//! line, their median and 10–90% band, the down threshold, and the fault's phases marked.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::dashboard::{DrawResult, Key, LEGEND_PX, Mark, boxed_text};
use super::*;

/// At each minute present in the runs: (minute, 10th percentile, median, 90th percentile).
fn band(runs: &[Vec<(f64, f64)>]) -> Vec<(f64, f64, f64, f64)> {
    let mut minutes: Vec<f64> = runs.iter().flat_map(|r| r.iter().map(|p| p.0)).collect();
    minutes.sort_by(f64::total_cmp);
    minutes.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
    minutes
        .into_iter()
        .filter_map(|m| {
            let mut at: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.iter().find(|p| (p.0 - m).abs() < 1e-6).map(|p| p.1))
                .collect();
            if at.is_empty() {
                return None;
            }
            at.sort_by(f64::total_cmp);
            let q = |p: f64| at[((at.len() - 1) as f64 * p).round() as usize];
            Some((m, q(0.1), q(0.5), q(0.9)))
        })
        .collect()
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[Vec<(f64, f64)>],
    marks: &[(f64, String)],
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(50);
    head.titled(title, ("sans-serif", 28))?;
    let (plot, strip) = body.split_horizontally(WIDTH - LEGEND_PX);
    let xs = runs.iter().flat_map(|r| r.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0 < x1 { (x0, x1) } else { (0.0, 1.0) };
    let mut chart = panel!(
        &plot,
        "Shoppers who could buy (share over 5 incident minutes), each run and the ensemble",
        x0..x1,
        0.0..1.25
    );
    mesh!(chart, "shoppers who could buy")?;
    let mut key = Key::default();
    let b = band(runs);
    let fill = C_BLUE.mix(0.2);
    let outline: Vec<(f64, f64)> = b
        .iter()
        .map(|p| (p.0, p.1))
        .chain(b.iter().rev().map(|p| (p.0, p.3)))
        .collect();
    chart.draw_series(std::iter::once(Polygon::new(outline, fill.filled())))?;
    key.add("10–90% of runs", Mark::Fill(fill));
    for r in runs {
        chart.draw_series(LineSeries::new(r.iter().copied(), C_GREY.mix(0.5).stroke_width(1)))?;
    }
    key.add("one run", Mark::Line(C_GREY));
    chart.draw_series(LineSeries::new(b.iter().map(|p| (p.0, p.2)), C_BLUE.stroke_width(4)))?;
    key.add("median", Mark::Line(C_BLUE));
    let down = crate::analysis::story::DOWN_BELOW;
    chart.draw_series(DashedLineSeries::new(
        [(x0, down), (x1, down)],
        8,
        6,
        C_RED.stroke_width(2),
    ))?;
    key.add(format!("down below {down}"), Mark::Dashed(C_RED));
    for (i, (at, what)) in marks.iter().enumerate() {
        chart.draw_series(LineSeries::new([(*at, 0.0), (*at, 1.25)], C_PURPLE.stroke_width(2)))?;
        let y = 1.2 - 0.07 * (i % 2) as f64;
        boxed_text(&mut chart, &format!("{} {what}", hhmm(at)), (*at, y), C_PURPLE)?;
    }
    if !marks.is_empty() {
        key.add("fault action", Mark::Upright(C_PURPLE));
    }
    key.draw(&strip)?;
    root.present()?;
    Ok(())
}

/// Writes `ensemble.png` and `ensemble.svg` into `dir`: `runs` are each run's (incident
/// minute, smoothed share of shoppers who could buy), `marks` the fault's phases as (minute, label).
pub fn render_ensemble(dir: &Path, runs: &[Vec<(f64, f64)>], marks: &[(f64, String)], title: &str) -> Result<()> {
    register_font();
    let png = dir.join("ensemble.png");
    let svg = dir.join("ensemble.svg");
    draw(
        &BitMapBackend::new(&png, (WIDTH, HEIGHT * 3 / 5)).into_drawing_area(),
        runs,
        marks,
        title,
    )
    .map_err(|e| anyhow!("cannot draw {}: {e:?}", png.display()))?;
    draw(
        &SVGBackend::new(&svg, (WIDTH, HEIGHT * 3 / 5)).into_drawing_area(),
        runs,
        marks,
        title,
    )
    .map_err(|e| anyhow!("cannot draw {}: {e:?}", svg.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_band_is_the_10th_median_and_90th_of_the_runs_at_each_minute() {
        let runs: Vec<Vec<(f64, f64)>> = (0..11).map(|i| vec![(720.0, f64::from(i) / 10.0)]).collect();
        assert_eq!(super::band(&runs), [(720.0, 0.1, 0.5, 0.9)]);
    }
}
