//! Charts drawn from a run's rows with plotters: `dashboard.png` / `.svg` and the comparison.
//!
//! Text uses an embedded DejaVu Sans (ab_glyph), so charts render the same with no system fonts.
//! x is incident-clock minutes since midnight, so axis ticks fall on round minutes.

/// The grid and axes every panel shares: incident clock in HH:MM on x.
macro_rules! mesh {
    ($chart:expr, $y:expr) => {
        $chart
            .configure_mesh()
            .x_labels(14)
            .x_label_formatter(&hhmm)
            .y_label_formatter(&tick)
            .x_desc("incident clock (HH:MM)")
            .y_desc($y)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()
    };
}

/// A captioned panel with room for the axis labels.
macro_rules! panel {
    ($area:expr, $caption:expr, $x:expr, $y:expr) => {
        ChartBuilder::on($area)
            .caption($caption, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d($x, $y)?
    };
}

/// Draws `$draw(area, args…)` (generic over the backend) to `<$name>.png` and `<$name>.svg`
/// in `$dir`, each error naming its file.
macro_rules! png_and_svg {
    ($dir:expr, $name:literal, $draw:ident($($arg:expr),*)) => {{
        register_font();
        let png = $dir.join(concat!($name, ".png"));
        let svg = $dir.join(concat!($name, ".svg"));
        $draw(&BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area(), $($arg),*)
            .map_err(|e| anyhow::anyhow!("cannot draw {}: {e:?}", png.display()))?;
        $draw(&SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area(), $($arg),*)
            .map_err(|e| anyhow::anyhow!("cannot draw {}: {e:?}", svg.display()))?;
        Ok(())
    }};
}

mod capacity;
mod compare;
mod dashboard;
mod ensemble;
mod region;
mod whatif;

pub use capacity::render_capacity;
pub use compare::render_compare;
pub use dashboard::{Annotations, render_dashboard};
pub use ensemble::render_ensemble;
pub use region::{HeatCell, HeatRow, Heatmap, render_region};
pub use whatif::{WhatifRow, render_whatif};

use std::sync::Once;

use plotters::prelude::*;

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

fn clock_x(clock: &str) -> f64 {
    crate::results::clock_secs(clock) / 60.0
}

/// An axis value as a reader says it: 0.5, 12, 1.5k, 20k.
fn tick(v: &f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        let k = v / 1000.0;
        if (k - k.round()).abs() < 0.05 {
            format!("{:.0}k", k)
        } else {
            format!("{k:.1}k")
        }
    } else if a >= 10.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn hhmm(x: &f64) -> String {
    let m = x.max(0.0).round() as u32;
    format!("{:02}:{:02}", m / 60, m % 60)
}

const C_GREY: RGBColor = RGBColor(110, 110, 110);
const C_BLUE: RGBColor = RGBColor(40, 120, 200);
const C_ORANGE: RGBColor = RGBColor(230, 150, 30);
const C_RED: RGBColor = RGBColor(200, 30, 30);
const C_GREEN: RGBColor = RGBColor(30, 150, 60);
const C_PURPLE: RGBColor = RGBColor(130, 60, 170);
const C_BROWN: RGBColor = RGBColor(140, 70, 0);
const C_NAVY: RGBColor = RGBColor(20, 40, 130);
const PALETTE: [RGBColor; 6] = [C_BLUE, C_RED, C_GREEN, C_ORANGE, C_PURPLE, C_GREY];
