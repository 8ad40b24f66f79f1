//! Heatmaps of 2D fields: PNG, GIF animations, shot gathers and complex fields.

use std::path::Path;

use convsim_core::{Grid, Quantity};
use ndarray::ArrayView2;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colormap::{ColorRange, Colormap, finite_min_max, resolve_auto};
use crate::error::{Result, draw_err, invalid};
use crate::font::{FAMILY, ensure_font};

/// Which way the `y` axis points on the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum YDirection {
    /// `y` grows upward: row 0 (the smallest `y`) at the bottom, as in a mathematical plot.
    #[default]
    Up,
    /// `y` grows downward: row 0 at the top, as depth in seismic sections and time in gathers.
    Down,
}

/// Physical axes of a heatmap: coordinates of the cell centres and labels with units.
#[derive(Clone, Debug, PartialEq)]
pub struct Axes {
    /// Coordinates of the columns (length `nx`, uniformly spaced, either order).
    pub x: Vec<f64>,
    /// Coordinates of the rows (length `ny`).
    pub y: Vec<f64>,
    /// Label of the x axis with its unit, e.g. `"x [m]"`.
    pub x_label: String,
    /// Label of the y axis with its unit.
    pub y_label: String,
    /// Direction of the y axis.
    pub y_direction: YDirection,
}

impl Axes {
    /// Axes of a grid, labelled `x [unit]` and `y [unit]`, y upward.
    ///
    /// ```
    /// let g = convsim_core::Grid { ny: 2, nx: 3, dy: 1.0, dx: 0.5, y0: 0.0, x0: -0.5 };
    /// let a = convsim_plot::Axes::from_grid(&g, "m");
    /// assert_eq!(a.x, vec![-0.5, 0.0, 0.5]);
    /// assert_eq!(a.x_label, "x [m]");
    /// ```
    #[must_use]
    pub fn from_grid(grid: &Grid, length_units: &str) -> Self {
        Axes {
            x: grid.xs(),
            y: grid.ys(),
            x_label: format!("x [{length_units}]"),
            y_label: format!("y [{length_units}]"),
            y_direction: YDirection::Up,
        }
    }

    /// Axes in sample indices (`j`, `i`), y upward.
    #[must_use]
    pub fn indices(ny: usize, nx: usize) -> Self {
        Axes {
            x: (0..nx).map(|j| j as f64).collect(),
            y: (0..ny).map(|i| i as f64).collect(),
            x_label: "column j".into(),
            y_label: "row i".into(),
            y_direction: YDirection::Up,
        }
    }

    /// The same axes with the given y direction.
    #[must_use]
    pub fn with_y_direction(mut self, d: YDirection) -> Self {
        self.y_direction = d;
        self
    }
}

/// Appearance of a heatmap.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatmapStyle {
    /// Title above the picture.
    pub title: String,
    /// Colour map.
    pub colormap: Colormap,
    /// Colour range.
    pub range: ColorRange,
    /// Label of the colour bar with its unit, e.g. `"u [K]"`.
    pub colorbar_label: String,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
}

impl Default for HeatmapStyle {
    fn default() -> Self {
        HeatmapStyle {
            title: String::new(),
            colormap: Colormap::Viridis,
            range: ColorRange::Auto,
            colorbar_label: String::new(),
            width: 800,
            height: 600,
        }
    }
}

impl HeatmapStyle {
    /// Style for a solver quantity: title = long name, bar label `name [units]`, diverging map
    /// for signed quantities and viridis otherwise.
    #[must_use]
    pub fn for_quantity(q: &Quantity) -> Self {
        HeatmapStyle {
            title: q.long_name.clone(),
            colormap: if q.signed {
                Colormap::Diverging
            } else {
                Colormap::Viridis
            },
            colorbar_label: format!("{} [{}]", q.name, q.units),
            ..Self::default()
        }
    }
}

/// Number formatting for tick labels on an axis spanning `span`: values below `1e-9 * span`
/// are rounding noise of the tick computation and print as `0`; short fixed notation for
/// moderate magnitudes, scientific otherwise.
pub(crate) fn fmt_num(v: f64, span: f64) -> String {
    let a = v.abs();
    if a <= 1e-9 * span.abs() || a == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{v:.2e}")
    } else {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" { "0".into() } else { s.into() }
    }
}

/// Extent of cells centred on `c` (uniform spacing): `(min edge, max edge, increasing)`.
fn extent(c: &[f64]) -> (f64, f64, bool) {
    let (lo, hi) = (c[0].min(c[c.len() - 1]), c[0].max(c[c.len() - 1]));
    let d = if c.len() > 1 {
        (hi - lo) / (c.len() - 1) as f64
    } else {
        0.0
    };
    let half = if d > 0.0 { d / 2.0 } else { 0.5 };
    (lo - half, hi + half, c.len() < 2 || c[c.len() - 1] >= c[0])
}

/// Index of the cell covering fraction `f in [0, 1)` of an axis of `n` cells.
fn cell(f: f64, n: usize, increasing: bool) -> usize {
    let i = ((f * n as f64).floor().max(0.0) as usize).min(n - 1);
    if increasing { i } else { n - 1 - i }
}

/// What the colour bar shows.
pub(crate) struct Bar<'a> {
    pub lo: f64,
    pub hi: f64,
    pub label: &'a str,
    pub colour: &'a dyn Fn(f64) -> [u8; 3],
}

/// Draws title, axes, the cells (colour from `colour(i, j)`) and a colour bar on `root`.
pub(crate) fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (ny, nx): (usize, usize),
    axes: &Axes,
    title: &str,
    colour: &dyn Fn(usize, usize) -> [u8; 3],
    bar: &Bar<'_>,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (w, h) = root.dim_in_pixel();
    let bar_width = 130.min(w / 3);
    let (main, bar_area) = root.split_horizontally(w - bar_width);
    let (x_lo, x_hi, x_inc) = extent(&axes.x);
    let (y_lo, y_hi, y_inc) = extent(&axes.y);
    let (y_first, y_last) = match axes.y_direction {
        YDirection::Up => (y_lo, y_hi),
        YDirection::Down => (y_hi, y_lo),
    };
    let mut chart = ChartBuilder::on(&main)
        .caption(title, (FAMILY, 24))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(75)
        .build_cartesian_2d(x_lo..x_hi, y_first..y_last)
        .map_err(e)?;

    let (px, py) = chart.plotting_area().get_pixel_range();
    let (pw, ph) = (
        (px.end - px.start).max(1) as usize,
        (py.end - py.start).max(1) as usize,
    );
    let mut buf = vec![0_u8; pw * ph * 3];
    // Column and row index of each pixel, computed once per axis (nearest cell).
    let cols: Vec<usize> = (0..pw)
        .map(|c| cell((c as f64 + 0.5) / pw as f64, nx, x_inc))
        .collect();
    let rows: Vec<usize> = (0..ph)
        .map(|r| {
            let f = (r as f64 + 0.5) / ph as f64;
            // Fraction measured from the smallest y: top of the picture is y_hi when y is up.
            let f = match axes.y_direction {
                YDirection::Up => 1.0 - f,
                YDirection::Down => f,
            };
            cell(f.min(1.0 - 1e-12), ny, y_inc)
        })
        .collect();
    for (r, &i) in rows.iter().enumerate() {
        for (c, &j) in cols.iter().enumerate() {
            let k = (r * pw + c) * 3;
            buf[k..k + 3].copy_from_slice(&colour(i, j));
        }
    }
    let img = BitMapElement::<(i32, i32)>::with_owned_buffer(
        (px.start, py.start),
        (pw as u32, ph as u32),
        buf,
    )
    .ok_or("bitmap size mismatch")?;
    root.draw(&img).map_err(e)?;
    let fmt_x = |v: &f64| fmt_num(*v, x_hi - x_lo);
    let fmt_y = |v: &f64| fmt_num(*v, y_hi - y_lo);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(axes.x_label.as_str())
        .y_desc(axes.y_label.as_str())
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .draw()
        .map_err(e)?;

    // Colour bar, aligned with the plotting area of the main chart.
    let mut bar_chart = ChartBuilder::on(&bar_area)
        .margin_top(py.start.max(0) as u32)
        .margin_bottom((h as i32 - py.end).max(0) as u32)
        .margin_left(8)
        .margin_right(4)
        .set_label_area_size(LabelAreaPosition::Right, 95)
        .build_cartesian_2d(0.0..1.0, bar.lo..bar.hi)
        .map_err(e)?;
    let (bx, by) = bar_chart.plotting_area().get_pixel_range();
    let (bw, bh) = (
        (bx.end - bx.start).max(1) as usize,
        (by.end - by.start).max(1) as usize,
    );
    let mut bbuf = vec![0_u8; bw * bh * 3];
    for r in 0..bh {
        let rgb = (bar.colour)(1.0 - (r as f64 + 0.5) / bh as f64);
        for c in 0..bw {
            let k = (r * bw + c) * 3;
            bbuf[k..k + 3].copy_from_slice(&rgb);
        }
    }
    let bimg = BitMapElement::<(i32, i32)>::with_owned_buffer(
        (bx.start, by.start),
        (bw as u32, bh as u32),
        bbuf,
    )
    .ok_or("bitmap size mismatch")?;
    root.draw(&bimg).map_err(e)?;
    let fmt_bar = |v: &f64| fmt_num(*v, bar.hi - bar.lo);
    bar_chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(bar.label)
        .y_label_formatter(&fmt_bar)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .draw()
        .map_err(e)?;
    Ok(())
}

fn check_shape(path: &Path, dim: (usize, usize), axes: &Axes) -> Result<()> {
    let (ny, nx) = dim;
    if ny == 0 || nx == 0 || axes.y.len() != ny || axes.x.len() != nx {
        return Err(invalid(
            path,
            format!(
                "field of shape {dim:?} with axes of lengths (y {}, x {}); need equal, non-zero sizes",
                axes.y.len(),
                axes.x.len()
            ),
        ));
    }
    Ok(())
}

fn check_size(path: &Path, w: u32, h: u32) -> Result<()> {
    if w < 200 || h < 150 {
        return Err(invalid(
            path,
            format!("picture size {w}x{h} too small; need at least 200x150"),
        ));
    }
    Ok(())
}

/// The colour range a style gives for data with finite extent `mm`.
fn resolve_range(path: &Path, style: &HeatmapStyle, mm: Option<(f64, f64)>) -> Result<(f64, f64)> {
    match style.range {
        ColorRange::Auto => Ok(resolve_auto(style.colormap, mm)),
        ColorRange::Fixed(lo, hi) if lo.is_finite() && hi.is_finite() && lo < hi => Ok((lo, hi)),
        ColorRange::Fixed(lo, hi) => Err(invalid(
            path,
            format!("colour range {lo}..{hi}: need finite lo < hi"),
        )),
    }
}

fn open_png<'a>(
    path: &'a Path,
    style: &HeatmapStyle,
) -> Result<DrawingArea<BitMapBackend<'a>, Shift>> {
    ensure_font().map_err(draw_err(path))?;
    check_size(path, style.width, style.height)?;
    Ok(BitMapBackend::new(path, (style.width, style.height)).into_drawing_area())
}

fn finish<DB: DrawingBackend>(path: &Path, root: &DrawingArea<DB, Shift>) -> Result<()> {
    root.present().map_err(|e| draw_err(path)(e.to_string()))
}

/// Draws `field` (shape `(ny, nx)`, axis order `(y, x)`) as a PNG heatmap with a title, axes
/// in physical units and a colour bar. NaN and infinite cells are drawn in
/// [`crate::NAN_RGB`]. Returns the colour range used.
///
/// ```
/// use convsim_plot::{heatmap_png, Axes, HeatmapStyle};
/// let dir = tempfile::tempdir().unwrap();
/// let f = ndarray::Array2::from_shape_fn((20, 30), |(i, j)| (i + j) as f64);
/// let range = heatmap_png(dir.path().join("u.png"), f.view(), &Axes::indices(20, 30),
///                         &HeatmapStyle { title: "u".into(), ..Default::default() }).unwrap();
/// assert_eq!(range, (0.0, 48.0));
/// ```
///
/// # Errors
/// [`crate::PlotError::Invalid`] if the axes do not match the field, the size is below
/// 200x150 or a fixed range is empty; [`crate::PlotError::Draw`] if the file cannot be written
/// (the extension chooses the format: use `.png`).
pub fn heatmap_png(
    path: impl AsRef<Path>,
    field: ArrayView2<'_, f64>,
    axes: &Axes,
    style: &HeatmapStyle,
) -> Result<(f64, f64)> {
    let path = path.as_ref();
    check_shape(path, field.dim(), axes)?;
    let (lo, hi) = resolve_range(path, style, finite_min_max(field.iter()))?;
    let root = open_png(path, style)?;
    let cmap = style.colormap;
    let colour = |i: usize, j: usize| cmap.map(field[[i, j]], lo, hi);
    let bar_colour = |t: f64| cmap.rgb(t);
    let bar = Bar {
        lo,
        hi,
        label: &style.colorbar_label,
        colour: &bar_colour,
    };
    draw_heatmap(&root, field.dim(), axes, &style.title, &colour, &bar).map_err(draw_err(path))?;
    finish(path, &root)?;
    Ok((lo, hi))
}

/// An animated GIF of `frames`, all drawn with ONE colour range (the style's fixed range, or the
/// auto range over every frame), so colours compare across time. `delay_ms` is the time per
/// frame. Returns the number of frames and the range.
///
/// # Errors
/// As [`heatmap_png`], plus [`crate::PlotError::Invalid`] for no frames or frames of
/// different shapes.
pub fn gif<'a>(
    path: impl AsRef<Path>,
    frames: impl IntoIterator<Item = ArrayView2<'a, f64>>,
    axes: &Axes,
    style: &HeatmapStyle,
    delay_ms: u32,
) -> Result<(usize, (f64, f64))> {
    let title = style.title.clone();
    gif_titled(
        path,
        frames.into_iter().map(|f| (title.clone(), f)),
        axes,
        style,
        delay_ms,
    )
}

/// As [`gif`] with a title per frame (e.g. `"u at t = 0.25 s"`); `style.title` is ignored.
///
/// # Errors
/// As [`gif`].
pub fn gif_titled<'a>(
    path: impl AsRef<Path>,
    frames: impl IntoIterator<Item = (String, ArrayView2<'a, f64>)>,
    axes: &Axes,
    style: &HeatmapStyle,
    delay_ms: u32,
) -> Result<(usize, (f64, f64))> {
    let path = path.as_ref();
    let frames: Vec<(String, ArrayView2<'a, f64>)> = frames.into_iter().collect();
    let Some(first) = frames.first() else {
        return Err(invalid(path, "gif: no frames".into()));
    };
    let dim = first.1.dim();
    check_shape(path, dim, axes)?;
    if let Some(k) = frames.iter().position(|f| f.1.dim() != dim) {
        return Err(invalid(
            path,
            format!(
                "gif: frame {k} has shape {:?}, frame 0 {dim:?}",
                frames[k].1.dim()
            ),
        ));
    }
    let mm = finite_min_max(frames.iter().flat_map(|f| f.1.iter()));
    let (lo, hi) = resolve_range(path, style, mm)?;
    ensure_font().map_err(draw_err(path))?;
    check_size(path, style.width, style.height)?;
    let backend = BitMapBackend::gif(path, (style.width, style.height), delay_ms)
        .map_err(|e| draw_err(path)(e.to_string()))?;
    let root = backend.into_drawing_area();
    let cmap = style.colormap;
    let bar_colour = |t: f64| cmap.rgb(t);
    let bar = Bar {
        lo,
        hi,
        label: &style.colorbar_label,
        colour: &bar_colour,
    };
    for (title, field) in &frames {
        let colour = |i: usize, j: usize| cmap.map(field[[i, j]], lo, hi);
        draw_heatmap(&root, dim, axes, title, &colour, &bar).map_err(draw_err(path))?;
        finish(path, &root)?;
    }
    Ok((frames.len(), (lo, hi)))
}

/// Appearance of a seismic shot gather.
#[derive(Clone, Debug, PartialEq)]
pub struct GatherStyle {
    /// Title.
    pub title: String,
    /// Colour map: [`Colormap::Grey`] (negative black, positive white) or
    /// [`Colormap::Diverging`] (negative blue, positive red).
    pub colormap: Colormap,
    /// Amplitudes are clipped at this percentile of `|trace|` (e.g. 98), so the direct wave
    /// does not hide the reflections; the colour range is `-clip..clip`.
    pub clip_percentile: f64,
    /// Label of the receiver axis, e.g. `"receiver x [m]"`.
    pub x_label: String,
    /// Label of the time axis, e.g. `"t [s]"`.
    pub time_label: String,
    /// Label of the colour bar, e.g. `"p [Pa]"`.
    pub colorbar_label: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Default for GatherStyle {
    fn default() -> Self {
        GatherStyle {
            title: "shot gather".into(),
            colormap: Colormap::Grey,
            clip_percentile: 98.0,
            x_label: "receiver x [m]".into(),
            time_label: "t [s]".into(),
            colorbar_label: "amplitude".into(),
            width: 800,
            height: 800,
        }
    }
}

/// Percentile `p` (in `(0, 100]`, nearest rank) of `|v|` over finite values; 0 if none.
pub(crate) fn abs_percentile<'a>(values: impl Iterator<Item = &'a f64>, p: f64) -> f64 {
    let mut a: Vec<f64> = values.filter(|v| v.is_finite()).map(|v| v.abs()).collect();
    if a.is_empty() {
        return 0.0;
    }
    a.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * a.len() as f64).ceil() as usize;
    a[rank.clamp(1, a.len()) - 1]
}

/// Draws a shot gather: `traces` has shape `(receiver, time sample)`; receivers along x at
/// `receiver_x`, time `k * dt` growing downward. Returns the clip value (the colour range is
/// `-clip..clip`).
///
/// # Errors
/// [`crate::PlotError::Invalid`] for mismatched lengths, `dt <= 0` or a percentile outside
/// `(0, 100]`; [`crate::PlotError::Draw`].
pub fn gather_png(
    path: impl AsRef<Path>,
    traces: ArrayView2<'_, f64>,
    receiver_x: &[f64],
    dt: f64,
    style: &GatherStyle,
) -> Result<f64> {
    let path = path.as_ref();
    let clip_ok = style.clip_percentile > 0.0 && style.clip_percentile <= 100.0;
    if !(dt > 0.0 && dt.is_finite() && clip_ok) {
        return Err(invalid(
            path,
            format!(
                "gather: dt = {dt} must be > 0 and clip_percentile = {} in (0, 100]",
                style.clip_percentile
            ),
        ));
    }
    let (r, nt) = traces.dim();
    let axes = Axes {
        x: receiver_x.to_vec(),
        y: (0..nt).map(|k| k as f64 * dt).collect(),
        x_label: style.x_label.clone(),
        y_label: style.time_label.clone(),
        y_direction: YDirection::Down,
    };
    let field = traces.reversed_axes();
    check_shape(path, (nt, r), &axes)?;
    let clip = abs_percentile(traces.iter(), style.clip_percentile);
    let clip = if clip > 0.0 { clip } else { 1.0 };
    let hs = HeatmapStyle {
        title: style.title.clone(),
        colormap: style.colormap,
        range: ColorRange::Fixed(-clip, clip),
        colorbar_label: style.colorbar_label.clone(),
        width: style.width,
        height: style.height,
    };
    heatmap_png(path, field, &axes, &hs)?;
    Ok(clip)
}

/// HSV (hue in turns, saturation 1) to RGB.
pub(crate) fn hue_value_rgb(hue: f64, value: f64) -> [u8; 3] {
    let h = hue.rem_euclid(1.0) * 6.0;
    let v = value.clamp(0.0, 1.0);
    let x = 1.0 - (h % 2.0 - 1.0).abs();
    let (r, g, b) = match h as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    let q = |c: f64| (255.0 * c * v).round() as u8;
    [q(r), q(g), q(b)]
}

/// Colour of a complex value `z` in [`complex_png`]: hue = phase (`arg z = 0` red, `2pi/3`
/// green, `-2pi/3` blue), brightness = `|z| / amax` (black where `z = 0`); NaN gives
/// [`crate::NAN_RGB`].
///
/// ```
/// use convsim_plot::complex_rgb;
/// assert_eq!(complex_rgb(1.0, 0.0, 1.0), [255, 0, 0]);
/// assert_eq!(complex_rgb(0.0, 0.0, 1.0), [0, 0, 0]);
/// ```
#[must_use]
pub fn complex_rgb(re: f64, im: f64, amax: f64) -> [u8; 3] {
    if !(re.is_finite() && im.is_finite()) {
        return crate::NAN_RGB;
    }
    let phase = im.atan2(re);
    hue_value_rgb(phase / std::f64::consts::TAU, re.hypot(im) / amax)
}

/// Draws a complex field (a wavefunction given as its real and imaginary parts) with phase as
/// hue and amplitude as brightness (see [`complex_rgb`]); amplitudes are normalised by the
/// largest `|z|`. The colour bar shows the phase from `-pi` to `pi`. `style.colormap` and
/// `style.range` are not used; an empty `style.colorbar_label` becomes `"phase [rad]"`.
///
/// # Errors
/// As [`heatmap_png`], and [`crate::PlotError::Invalid`] if `re` and `im` differ in shape.
pub fn complex_png(
    path: impl AsRef<Path>,
    re: ArrayView2<'_, f64>,
    im: ArrayView2<'_, f64>,
    axes: &Axes,
    style: &HeatmapStyle,
) -> Result<()> {
    let path = path.as_ref();
    if re.dim() != im.dim() {
        return Err(invalid(
            path,
            format!(
                "complex: re {:?} and im {:?} differ in shape",
                re.dim(),
                im.dim()
            ),
        ));
    }
    check_shape(path, re.dim(), axes)?;
    let amax = re
        .iter()
        .zip(im.iter())
        .map(|(a, b)| a.hypot(*b))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let amax = if amax > 0.0 { amax } else { 1.0 };
    let root = open_png(path, style)?;
    let colour = |i: usize, j: usize| complex_rgb(re[[i, j]], im[[i, j]], amax);
    let bar_colour = |t: f64| hue_value_rgb(t - 0.5, 1.0);
    let label = if style.colorbar_label.is_empty() {
        "phase [rad]"
    } else {
        style.colorbar_label.as_str()
    };
    let pi = std::f64::consts::PI;
    let bar = Bar {
        lo: -pi,
        hi: pi,
        label,
        colour: &bar_colour,
    };
    draw_heatmap(&root, re.dim(), axes, &style.title, &colour, &bar).map_err(draw_err(path))?;
    finish(path, &root)
}
