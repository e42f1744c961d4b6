//! `compare.png` / `.svg`: several runs' checkout p99 and ok/s overlaid on the incident clock.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::*;
use crate::analysis::FOCUS_OP;
use crate::results::{WindowRow, window_secs};

use super::dashboard::{DrawResult, legend, line};

/// (label, [(x, p99), …], [(x, ok/s), …]) for each run.
type RunSeries = (String, Vec<(f64, f64)>, Vec<(f64, f64)>);

fn series(runs: &[(String, Vec<WindowRow>)]) -> Vec<RunSeries> {
    runs.iter()
        .map(|(label, windows)| {
            let rows: Vec<&WindowRow> = windows.iter().filter(|w| w.op == FOCUS_OP).collect();
            let per_s = window_secs(&rows);
            let p99 = rows
                .iter()
                .filter_map(|w| w.p99_ms.map(|p| (clock_x(&w.clock), p)))
                .collect();
            let ok = rows.iter().map(|w| (clock_x(&w.clock), w.ok as f64 / per_s)).collect();
            (label.clone(), p99, ok)
        })
        .collect()
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, runs: &[RunSeries]) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(50);
    title.titled("Checkout, run against run, on the incident clock", ("sans-serif", 28))?;
    let panels = body.split_evenly((2, 1));
    let xs = runs.iter().flat_map(|r| r.2.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0 < x1 { (x0 - 1.0, x1) } else { (0.0, 1.0) };
    let p99s = runs.iter().flat_map(|r| r.1.iter().map(|p| p.1));
    let (lo, hi) = p99s.fold((f64::MAX, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    let (lo, hi) = if hi > 0.0 {
        ((lo * 0.5).max(0.01), hi * 3.0)
    } else {
        (0.1, 10.0)
    };
    let top = runs.iter().flat_map(|r| r.2.iter().map(|p| p.1)).fold(1.0f64, f64::max) * 1.15;

    let mut lat = panel!(
        &panels[0],
        "Checkout p99 per window (ms, log scale)",
        x0..x1,
        (lo..hi).log_scale()
    );
    mesh!(lat, "p99 (ms)")?;
    for (i, (label, p99, _)) in runs.iter().enumerate() {
        line(&mut lat, p99.iter().copied(), label, PALETTE[i % PALETTE.len()])?;
    }
    legend(&mut lat)?;

    let mut thr = panel!(&panels[1], "Successful checkouts per second", x0..x1, 0.0..top);
    mesh!(thr, "ok / s")?;
    for (i, (label, _, ok)) in runs.iter().enumerate() {
        line(&mut thr, ok.iter().copied(), label, PALETTE[i % PALETTE.len()])?;
    }
    legend(&mut thr)?;
    root.present()?;
    Ok(())
}

/// Writes `compare.png` and `compare.svg` into `dir`.
pub fn render_compare(dir: &Path, runs: &[(String, Vec<WindowRow>)]) -> Result<()> {
    register_font();
    let s = series(runs);
    let png = dir.join("compare.png");
    let svg = dir.join("compare.svg");
    draw(&BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area(), &s)
        .map_err(|e| anyhow!("cannot draw {}: {e:?}", png.display()))?;
    draw(&SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area(), &s)
        .map_err(|e| anyhow!("cannot draw {}: {e:?}", svg.display()))?;
    Ok(())
}
