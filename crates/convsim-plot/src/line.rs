//! Line plots of diagnostics.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::colormap::finite_min_max as mm;
use crate::error::{DrawError, Result, draw_err, invalid};
use crate::font::{FAMILY, ensure_font};
use crate::frame::{UnitAxis, draw_left_labels, draw_title};
use crate::ticks::{self, Span, Ticks, format_num};

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

/// Height of the legend strip (below the plot, never over the curves), per row.
const LEGEND_ROW: u32 = 24;

/// What the title's second line says about a y range that is small next to its values: the
/// spread `max - min` and its size relative to `max |y|` (matplotlib shows such a range with an
/// offset; the note says how small the variation is, so rounding noise is not read as a trend).
fn spread_note(lo: f64, hi: f64, offset_used: bool) -> Option<String> {
    let mag = lo.abs().max(hi.abs());
    if lo == hi {
        return Some(format!("constant: {lo} at every point"));
    }
    offset_used.then(|| {
        format!(
            "varies by {} (max - min; {} of max |value|)",
            format_num(hi - lo, 3, 2),
            format_num((hi - lo) / mag, 3, 2)
        )
    })
}

/// Draws one or more series `(name, x, y)` as lines (PNG). NaN and infinite points (and
/// non-positive ones with `log_y`) break the line instead of distorting the axes. Several
/// series get a legend in a strip below the plot, never over the curves; a single series has
/// none (the title and the y label name it). A y range small next to its values (a conserved
/// norm that varies in its 13th digit) gets offset tick labels (`1 + tick × 1e-13` on the
/// axis) and a note with the spread under the title; a constant series says it is constant.
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
    // Ranges: x as is (one point gets a unit around it), y padded by 5% (a constant gets a
    // tenth of its size around it). Halves keep the arithmetic finite near f64::MAX.
    let widen = |a: f64, b: f64, frac: f64| -> Span {
        let (a, b) = if a < b {
            let d = (b / 2.0 - a / 2.0) * 2.0 * frac;
            (a - d, b + d)
        } else {
            let d = if a == 0.0 { 1.0 } else { a.abs() / 10.0 };
            (a - d, b + d)
        };
        let clamp = |v: f64| v.clamp(-f64::MAX, f64::MAX);
        Span {
            lo: clamp(a),
            hi: clamp(b),
        }
    };
    let xs = widen(x0, x1, 0.0);
    let ys = widen(y0, y1, 0.05);
    let target_x = (style.width / 110).max(3) as usize;
    let target_y = (style.height / 70).max(3) as usize;
    let xt = ticks::linear(xs, target_x);
    let yt = if style.log_y {
        ticks::log10(ys, target_y)
    } else {
        ticks::linear(ys, target_y)
    };
    let note = if style.log_y {
        None
    } else {
        spread_note(y0, y1, yt.offset.is_some())
    };

    ensure_font().map_err(draw_err(path))?;
    let root = BitMapBackend::new(path, (style.width, style.height)).into_drawing_area();
    let e = |x: DrawingAreaErrorKind<_>| draw_err(path)(DrawError::backend(x));
    root.fill(&WHITE).map_err(e)?;
    draw_title(&root, &style.title, style.width, note.clone()).map_err(draw_err(path))?;
    let top = 10 + 30 + if note.is_some() { 20 } else { 0 } + 4;
    let legend_rows = if series.len() > 1 {
        legend_rows(series, style.width)
    } else {
        0
    };
    let legend_h = LEGEND_ROW * legend_rows;
    let area = root.margin(top, 10 + legend_h, 10, 20);
    let xu: Vec<f64> = xt.values.iter().map(|&v| xs.unit(v)).collect();
    let yu: Vec<f64> = yt.values.iter().map(|&v| ys.unit(v)).collect();
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(
            UnitAxis::new(xu.clone(), false),
            UnitAxis::new(yu.clone(), false),
        )
        .map_err(e)?;
    let label = |units: &[f64], t: &Ticks, u: f64| {
        units
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1 - u).abs().total_cmp(&(b.1 - u).abs()))
            .map(|(i, _)| t.labels[i].clone())
            .unwrap_or_default()
    };
    let xfmt = |u: &f64| label(&xu, &xt, *u);
    let desc = |l: &str, t: &Ticks| match &t.offset {
        Some(o) => format!("{l} = {o}"),
        None => l.to_string(),
    };
    chart
        .configure_mesh()
        .x_desc(desc(&style.x_label, &xt))
        .y_desc(desc(&style.y_label, &yt))
        .x_label_formatter(&xfmt)
        .y_label_formatter(&|_: &f64| String::new())
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;
    let (rx, ry) = chart.plotting_area().get_pixel_range();
    draw_left_labels(
        &root,
        rx.start,
        yu.iter().zip(&yt.labels).map(|(u, l)| {
            let y = ry.end - (f64::from(ry.end - ry.start) * u).round() as i32;
            (l.clone(), y)
        }),
    )
    .map_err(draw_err(path))?;
    let to_unit = |(a, b): (f64, f64)| (xs.unit(a), ys.unit(b));
    for (k, runs) in segments.iter().enumerate() {
        let (r, g, b) = PALETTE[k % PALETTE.len()];
        let colour = RGBColor(r, g, b);
        for run in runs.iter().filter(|r| !r.is_empty()) {
            if run.len() == 1 {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        to_unit(run[0]),
                        3,
                        colour.filled(),
                    )))
                    .map_err(e)?;
            } else {
                chart
                    .draw_series(LineSeries::new(
                        run.iter().copied().map(to_unit),
                        colour.stroke_width(2),
                    ))
                    .map_err(e)?;
            }
        }
    }
    if legend_rows > 0 {
        draw_legend(&root, series, style, legend_h).map_err(draw_err(path))?;
    }
    root.present().map_err(e)
}

/// Width in pixels of one legend entry (swatch and name, about 8 pixels per character).
fn entry_width(name: &str) -> u32 {
    34 + 8 * name.chars().count() as u32 + 18
}

/// Rows the legend needs at `width`.
fn legend_rows(series: &[(&str, &[f64], &[f64])], width: u32) -> u32 {
    let (mut rows, mut x) = (1, 0);
    for (name, _, _) in series {
        let w = entry_width(name);
        if x > 0 && x + w > width - 40 {
            rows += 1;
            x = 0;
        }
        x += w;
    }
    rows
}

/// The legend: entries left to right in the strip at the bottom, wrapped into rows.
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    series: &[(&str, &[f64], &[f64])],
    style: &LineStyle,
    strip: u32,
) -> std::result::Result<(), DrawError> {
    let e = DrawError::backend::<DrawingAreaErrorKind<DB::ErrorType>>;
    let y0 = (style.height - 6 - strip) as i32;
    let (mut x, mut y) = (20_i32, y0);
    for (k, (name, _, _)) in series.iter().enumerate() {
        let w = entry_width(name) as i32;
        if x > 20 && x + w > style.width as i32 - 20 {
            x = 20;
            y += LEGEND_ROW as i32;
        }
        let (r, g, b) = PALETTE[k % PALETTE.len()];
        let mid = y + (LEGEND_ROW / 2) as i32;
        root.draw(&PathElement::new(
            vec![(x, mid), (x + 26, mid)],
            RGBColor(r, g, b).stroke_width(3),
        ))
        .map_err(e)?;
        let ts = TextStyle::from((FAMILY, 15).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new((*name).to_string(), (x + 34, mid), ts))
            .map_err(e)?;
        x += w;
    }
    Ok(())
}
