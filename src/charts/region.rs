//! `region.png` / `.svg`: the vulnerable-region map as a heatmap. A column per write stall, a
//! row per load; each cell's colour is the share of its replays that stayed down (green none,
//! red all) with the count and interval written in it; each row's region on the right; the
//! scenario's peak outlined and its own change's DDL span a dashed line across the stalls.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::dashboard::DrawResult;
use super::*;

/// What the heatmap shows, in plain figures (the map's stage builds it: `region::heatmap`).
#[derive(Debug, Clone, Default)]
pub struct Heatmap {
    pub title: String,
    pub caption: String,
    /// The stall of each column, real seconds, ascending.
    pub columns: Vec<f64>,
    /// Bottom first.
    pub rows: Vec<HeatRow>,
    pub cells: Vec<HeatCell>,
    /// A dashed line at this stall (real seconds), with its label.
    pub line: Option<(f64, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct HeatRow {
    pub label: String,
    /// Written to the right of the row.
    pub region: String,
    pub outlined: bool,
}

/// `count` of `n` replays stayed down, with the interval.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeatCell {
    pub row: usize,
    pub col: usize,
    pub count: usize,
    pub n: usize,
    pub low: f64,
    pub high: f64,
}

/// Green (no replay stayed down) to red (all did).
fn shade(share: f64) -> RGBColor {
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * share).round() as u8;
    RGBColor(mix(0xd9, 0xe0), mix(0xf0, 0x4a), mix(0xd3, 0x4a))
}

/// Where `stall_s` falls on the columns `stalls` (centres at 0.5, 1.5, …), linear between them;
/// `None` beyond the longest.
fn column_at(stalls: &[f64], stall_s: f64) -> Option<f64> {
    if stall_s <= stalls[0] {
        return Some(0.5);
    }
    stalls
        .windows(2)
        .enumerate()
        .find_map(|(i, w)| (stall_s <= w[1]).then(|| i as f64 + 0.5 + (stall_s - w[0]) / (w[1] - w[0])))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heatmap) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title_area, body) = root.split_vertically(80);
    title_area.titled(&h.title, ("sans-serif", 28))?;
    let (cols, rows) = (h.columns.len().max(1), h.rows.len().max(1));
    let (map_area, side) = body.split_horizontally(WIDTH as i32 - 330);
    let mut chart = ChartBuilder::on(&map_area)
        .caption(&h.caption, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(230)
        .build_cartesian_2d(0.0..cols as f64, 0.0..rows as f64)?;
    let centred = |v: &f64| (v.fract() - 0.5).abs() < 1e-6;
    let stall_label = |x: &f64| match h.columns.get(x.floor() as usize) {
        Some(s) if centred(x) => format!("{s:.0} s"),
        _ => String::new(),
    };
    let load_label = |y: &f64| match h.rows.get(y.floor() as usize) {
        Some(r) if centred(y) => r.label.clone(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(2 * cols + 1)
        .y_labels(2 * rows + 1)
        .x_label_formatter(&stall_label)
        .y_label_formatter(&load_label)
        .x_desc("write stall (real seconds)")
        .y_desc("load (of capacity)")
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    for c in &h.cells {
        let (x, y) = (c.col as f64, c.row as f64);
        let share = c.count as f64 / c.n.max(1) as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x + 0.02, y + 0.04), (x + 0.98, y + 0.96)],
            shade(share).filled(),
        )))?;
        let text = [
            (format!("{} of {}", c.count, c.n), 0.6, 26),
            (format!("[{:.2}–{:.2}]", c.low, c.high), 0.38, 17),
        ];
        for (t, dy, size) in text {
            let style = ("sans-serif", size).into_font().color(&BLACK);
            chart.draw_series(std::iter::once(Text::new(t, (x + 0.3, y + dy), style)))?;
        }
    }
    for y in (0..h.rows.len()).filter(|y| h.rows[*y].outlined) {
        let outline = [(0.0, y as f64), (cols as f64, y as f64 + 1.0)];
        chart.draw_series(std::iter::once(Rectangle::new(outline, BLACK.stroke_width(4))))?;
    }
    if let (Some((stall_s, label)), false) = (&h.line, h.columns.is_empty()) {
        let beyond = column_at(&h.columns, *stall_s).is_none();
        let x = column_at(&h.columns, *stall_s).unwrap_or(cols as f64 - 0.01);
        let at = vec![(x, 0.0), (x, rows as f64)];
        chart.draw_series(DashedLineSeries::new(at, 10, 6, C_BLUE.stroke_width(3)))?;
        let more = if beyond { " (longer than every stall here)" } else { "" };
        let style = ("sans-serif", 18).into_font().color(&C_BLUE);
        let text = format!(" {label}{more}");
        chart.draw_series(std::iter::once(Text::new(text, (x, rows as f64 - 0.08), style)))?;
    }
    // Each row's region, level with its row.
    let side = side.margin(62, 62, 10, 10);
    let step = side.dim_in_pixel().1 as f64 / rows as f64;
    for (y, row) in h.rows.iter().enumerate() {
        let top = ((rows - 1 - y) as f64 * step + step / 2.0 - 10.0) as i32;
        side.draw(&Text::new(row.region.as_str(), (0, top), ("sans-serif", 20)))?;
    }
    root.present()?;
    Ok(())
}

/// Writes `region.png` and `region.svg` into `dir`.
pub fn render_region(dir: &Path, h: &Heatmap) -> Result<()> {
    png_and_svg!(dir, "region", draw(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heatmap_is_drawn() {
        let cell = |row, col, count| HeatCell {
            row,
            col,
            count,
            n: 3,
            low: 0.0,
            high: 0.56,
        };
        let row = |label: &str, outlined| HeatRow {
            label: label.into(),
            region: "stable".into(),
            outlined,
        };
        let h = Heatmap {
            title: "checkout-peak on sqlite".into(),
            caption: "replays still down".into(),
            columns: vec![0.0, 10.0],
            rows: vec![row("0.40", false), row("0.80", true)],
            cells: vec![cell(0, 0, 0), cell(0, 1, 0), cell(1, 0, 0), cell(1, 1, 3)],
            line: Some((60.0, "reporting-indexes: DDL 60 s".into())),
        };
        let dir = tempfile::tempdir().unwrap();
        render_region(dir.path(), &h).unwrap();
        let png = std::fs::metadata(dir.path().join("region.png")).unwrap();
        assert!(png.len() > 10_000, "an empty picture: {} bytes", png.len());
        assert_eq!(column_at(&[0.0, 10.0, 20.0], 15.0), Some(2.0));
        assert_eq!(column_at(&[0.0, 10.0], 60.0), None);
    }
}
