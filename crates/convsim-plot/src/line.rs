//! Line plots of diagnostics.

use std::path::Path;

use plotters::prelude::*;

use crate::colormap::finite_min_max as mm;
use crate::error::{Result, draw_err, invalid};
use crate::font::{FAMILY, ensure_font};
use crate::heatmap::fmt_num;

/// Appearance of a line plot.
#[derive(Clone, Debug, PartialEq)]
pub struct LineStyle {
    /// Title.
    pub title: String,
    /// Label of the x axis with its unit, e.g. `"t [s]"`.
    pub x_label: String,
    /// Label of the y axis with its unit.
    pub y_label: String,
    /// Logarithmic y axis (decades); non-positive values are left out of the lines.
    pub log_y: bool,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Default for LineStyle {
    fn default() -> Self {
        LineStyle {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            log_y: false,
            width: 800,
            height: 500,
        }
    }
}

// Matplotlib's "tab10" colours, so several series stay distinguishable.
const PALETTE: [(u8, u8, u8); 6] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
];

/// Draws one or more series `(name, x, y)` as lines with a legend (PNG). NaN and infinite
/// points (and non-positive ones with `log_y`) break the line instead of distorting the axes.
///
/// ```
/// use convsim_plot::{line_plot_png, LineStyle};
/// let dir = tempfile::tempdir().unwrap();
/// let t = [0.0, 1.0, 2.0];
/// let m = [1.0, 0.5, 0.25];
/// let style = LineStyle { title: "mass".into(), log_y: true, ..Default::default() };
/// line_plot_png(dir.path().join("m.png"), &style, &[("mass", &t[..], &m[..])]).unwrap();
/// ```
///
/// # Errors
/// [`crate::PlotError::Invalid`] if a series has `x` and `y` of different lengths or no
/// point can be drawn; [`crate::PlotError::Draw`].
pub fn line_plot_png(
    path: impl AsRef<Path>,
    style: &LineStyle,
    series: &[(&str, &[f64], &[f64])],
) -> Result<()> {
    let path = path.as_ref();
    if let Some((name, x, y)) = series.iter().find(|(_, x, y)| x.len() != y.len()) {
        return Err(invalid(
            path,
            format!(
                "series '{name}': x has {} points, y has {}",
                x.len(),
                y.len()
            ),
        ));
    }
    if style.width < 200 || style.height < 150 {
        return Err(invalid(
            path,
            format!(
                "picture size {}x{} too small; need at least 200x150",
                style.width, style.height
            ),
        ));
    }
    let ty = |v: f64| {
        if style.log_y {
            if v > 0.0 { v.log10() } else { f64::NAN }
        } else {
            v
        }
    };
    // Each series as runs of drawable points.
    let segments: Vec<Vec<Vec<(f64, f64)>>> = series
        .iter()
        .map(|(_, x, y)| {
            let mut runs = Vec::new();
            let mut run = Vec::new();
            for (&a, &b) in x.iter().zip(y.iter()) {
                let b = ty(b);
                if a.is_finite() && b.is_finite() {
                    run.push((a, b));
                } else if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
            }
            runs.push(run);
            runs
        })
        .collect();
    let pts = || segments.iter().flatten().flatten();
    let (Some((x0, x1)), Some((y0, y1))) = (mm(pts().map(|p| &p.0)), mm(pts().map(|p| &p.1)))
    else {
        return Err(invalid(path, "line plot: no finite point to draw".into()));
    };
    let pad = |a: f64, b: f64, frac: f64| {
        if a < b {
            let d = (b - a) * frac;
            (a - d, b + d)
        } else {
            let d = if a == 0.0 { 1.0 } else { a.abs() / 10.0 };
            (a - d, b + d)
        }
    };
    let (x0, x1) = pad(x0, x1, 0.0);
    let (y0, y1) = pad(y0, y1, 0.05);

    ensure_font().map_err(draw_err(path))?;
    let root = BitMapBackend::new(path, (style.width, style.height)).into_drawing_area();
    let e = |x: DrawingAreaErrorKind<_>| draw_err(path)(x.to_string());
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(style.title.as_str(), (FAMILY, 24))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(85)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    let xfmt = |v: &f64| fmt_num(*v, x1 - x0);
    let log = style.log_y;
    let yfmt = move |v: &f64| {
        if log {
            format!("{:.1e}", 10f64.powf(*v))
        } else {
            fmt_num(*v, y1 - y0)
        }
    };
    chart
        .configure_mesh()
        .x_desc(style.x_label.as_str())
        .y_desc(style.y_label.as_str())
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;
    for (k, ((name, _, _), runs)) in series.iter().zip(&segments).enumerate() {
        let (r, g, b) = PALETTE[k % PALETTE.len()];
        let colour = RGBColor(r, g, b);
        let mut first = true;
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let drawn = if run.len() == 1 {
                chart
                    .draw_series(std::iter::once(Circle::new(run[0], 3, colour.filled())))
                    .map_err(e)?
            } else {
                chart
                    .draw_series(LineSeries::new(run.iter().copied(), colour.stroke_width(2)))
                    .map_err(e)?
            };
            if first {
                drawn.label(*name).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
                first = false;
            }
        }
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}
