//! Layout and drawing of a heatmap picture: title lines, the plot area (in the physical aspect
//! ratio of the data when asked), axes with the ticks of [`crate::ticks`], and the colour bar
//! beside the plot, as tall as the plot.
//!
//! Everything is placed in pixels here, and plotters only draws on the unit square with the
//! key points given to it, so no data range (huge, tiny, wider than `f64::MAX`) reaches its
//! tick code.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::DrawError;
use crate::font::FAMILY;
use crate::heatmap::{Axes, YDirection};
use crate::ticks::{self, Span, Ticks};

const MARGIN: u32 = 10;
const TITLE: u32 = 30;
const NOTE: u32 = 20;
const LEFT: u32 = 90;
const BOTTOM: u32 = 52;
const BAR_GAP: u32 = 16;
const BAR_W: u32 = 22;
const BAR_LABELS: u32 = 112;
/// Smallest plot side in pixels; a flatter physical aspect is stretched (and the title says so).
const MIN_SIDE: u32 = 40;
/// Narrowest picture (so that the title fits), unless the caller asks for less.
const MIN_WIDTH: u32 = 440;

/// A plotters axis on `from..to` (`0..1` or `1..0`, a unit coordinate) whose key points are
/// given: plotters computes no ticks of its own.
pub(crate) struct UnitAxis {
    pub from: f64,
    pub to: f64,
    pub keys: Vec<f64>,
}

impl UnitAxis {
    /// The axis `0..1` (or `1..0` when `reversed`) with ticks at `keys`.
    pub(crate) fn new(keys: Vec<f64>, reversed: bool) -> Self {
        let (from, to) = if reversed { (1.0, 0.0) } else { (0.0, 1.0) };
        UnitAxis { from, to, keys }
    }
}

impl Ranged for UnitAxis {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = ((value - self.from) / (self.to - self.from)).clamp(-1.0, 2.0);
        let f = if f.is_nan() { 0.0 } else { f };
        limit.0 + (f64::from(limit.1 - limit.0) * f).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.from..self.to
    }
}

/// Where everything goes: the picture size and the plot area.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Layout {
    /// Picture size.
    pub width: u32,
    pub height: u32,
    /// Plot area: left, top, width, height in pixels.
    pub plot: (u32, u32, u32, u32),
    /// Title lines (the first is the title).
    pub lines: usize,
    /// `Some(k)` when the physical aspect could not be kept: y is drawn `k` times taller.
    pub stretch: Option<f64>,
}

/// The layout of a picture of at most `max` pixels with `lines` title lines. With
/// `ratio = Some(h / w)` (physical height over width of the data) the plot area has that aspect
/// (the picture shrinks to fit it); with `None` it fills the picture.
pub(crate) fn layout(max: (u32, u32), lines: usize, ratio: Option<f64>) -> Layout {
    let side = 2 * MARGIN + LEFT + BAR_GAP + BAR_W + BAR_LABELS;
    let top = |lines: usize| MARGIN + TITLE + NOTE * (lines.max(1) as u32 - 1) + 6;
    let aw = max.0.saturating_sub(side).max(MIN_SIDE);
    let ah = max
        .1
        .saturating_sub(top(lines) + BOTTOM + MARGIN)
        .max(MIN_SIDE);
    let (pw, ph, stretch) = match ratio {
        Some(r) if r.is_finite() && r > 0.0 => {
            let (mut pw, mut ph) = (f64::from(aw), f64::from(aw) * r);
            if ph > f64::from(ah) {
                ph = f64::from(ah);
                pw = ph / r;
            }
            let pw = pw.round().max(f64::from(MIN_SIDE)).min(f64::from(aw));
            let ph = ph.round();
            if ph < f64::from(MIN_SIDE) {
                let k = f64::from(MIN_SIDE) / (pw * r);
                (pw as u32, MIN_SIDE, Some(k))
            } else {
                (pw as u32, ph as u32, None)
            }
        }
        _ => (aw, ah, None),
    };
    let lines = lines.max(1) + usize::from(stretch.is_some());
    let natural = side + pw;
    let width = natural.max(MIN_WIDTH.min(max.0));
    let pad = (width - natural) / 2;
    let t = top(lines);
    Layout {
        width,
        height: t + ph + BOTTOM + MARGIN,
        plot: (MARGIN + LEFT + pad, t, pw, ph),
        lines,
        stretch,
    }
}

/// The data extent of cells centred on coordinates `c` (uniform spacing): the span from the
/// first cell's outer edge to the last one's, and whether `c` increases. `None` if not finite.
pub(crate) fn extent(c: &[f64]) -> Option<(Span, bool)> {
    let (a, b) = (*c.first()?, *c.last()?);
    let (lo, hi) = (a.min(b), a.max(b));
    let d = if c.len() > 1 {
        hi / (c.len() - 1) as f64 - lo / (c.len() - 1) as f64
    } else {
        0.0
    };
    let half = if d > 0.0 { d / 2.0 } else { 0.5 };
    let span = Span::new(lo - half, hi + half)?;
    Some((span, c.len() < 2 || b >= a))
}

/// Index of the cell covering fraction `f in [0, 1)` of an axis of `n` cells.
fn cell(f: f64, n: usize, increasing: bool) -> usize {
    let i = ((f * n as f64).floor().max(0.0) as usize).min(n - 1);
    if increasing { i } else { n - 1 - i }
}

/// What the colour bar shows: the range `lo..hi` and the colour of `t in [0, 1]`.
pub(crate) struct Bar<'a> {
    pub lo: f64,
    pub hi: f64,
    pub label: &'a str,
    pub colour: &'a dyn Fn(f64) -> [u8; 3],
}

/// A heatmap to draw: cells `(ny, nx)` coloured by `colour(i, j)` on `axes` (finite extents).
pub(crate) struct Picture<'a> {
    pub dims: (usize, usize),
    pub axes: &'a Axes,
    pub title: &'a str,
    pub colour: &'a dyn Fn(usize, usize) -> [u8; 3],
    pub bar: Bar<'a>,
}

/// An axis description with the ticks' offset, if they have one.
fn describe(label: &str, t: &Ticks) -> String {
    match &t.offset {
        Some(o) => format!("{label} = {o}"),
        None => label.to_string(),
    }
}

/// The label of the tick nearest to unit position `u`.
fn label_at(units: &[f64], t: &Ticks, u: f64) -> String {
    units
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1 - u).abs().total_cmp(&(b.1 - u).abs()))
        .map(|(i, _)| t.labels[i].clone())
        .unwrap_or_default()
}

/// Width in pixels of `s` in the bundled DejaVu Sans at `size` pixels, from its advance widths
/// (plotters' own estimate is too narrow for this font, so right-aligned text would run into
/// the axis).
fn text_width(s: &str, size: u32) -> i32 {
    #[allow(
        clippy::approx_constant,
        reason = "0.318 is the font's advance width, not 1/pi"
    )]
    let em: f64 = s
        .chars()
        .map(|c| match c {
            '0'..='9' => 0.636,
            // DejaVu Sans advance widths in em (0.318 is the font's, not 1/pi).
            '.' | ',' | ' ' => 0.318_f64,
            '-' => 0.361,
            '+' | '\u{2212}' | '\u{d7}' => 0.838,
            'e' => 0.615,
            _ => 0.65,
        })
        .sum();
    (em * f64::from(size)).ceil() as i32
}

/// Tick labels right-aligned left of a vertical axis at pixel column `axis_x`: `(label, y)`.
pub(crate) fn draw_left_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    axis_x: i32,
    labels: impl IntoIterator<Item = (String, i32)>,
) -> Result<(), DrawError> {
    let ts = TextStyle::from((FAMILY, 15).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (l, y) in labels {
        let x = axis_x - 10 - text_width(&l, 15);
        root.draw(&Text::new(l, (x, y), ts.clone()))
            .map_err(DrawError::backend)?;
    }
    Ok(())
}

/// Draws title lines centred at the top of `root`; the first line larger.
pub(crate) fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    width: u32,
    extra: Option<String>,
) -> Result<(), DrawError> {
    let e = DrawError::backend::<DrawingAreaErrorKind<DB::ErrorType>>;
    let mut y = MARGIN as i32;
    let lines = title.lines().map(str::to_string).chain(extra);
    for (k, line) in lines.enumerate() {
        let size = if k == 0 { 22 } else { 15 };
        let style = TextStyle::from((FAMILY, size).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(line, ((width / 2) as i32, y), style))
            .map_err(e)?;
        y += if k == 0 { TITLE as i32 } else { NOTE as i32 };
    }
    Ok(())
}

/// Fills a `w x h` bitmap at `(x, y)` of `root` with `rgb(column, row)`.
fn blit<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y, w, h): (i32, i32, usize, usize),
    rgb: &dyn Fn(usize, usize) -> [u8; 3],
) -> Result<(), DrawError> {
    let mut buf = vec![0_u8; w * h * 3];
    for r in 0..h {
        for c in 0..w {
            let k = (r * w + c) * 3;
            buf[k..k + 3].copy_from_slice(&rgb(c, r));
        }
    }
    let img = BitMapElement::<(i32, i32)>::with_owned_buffer((x, y), (w as u32, h as u32), buf)
        .ok_or(DrawError::Bitmap)?;
    root.draw(&img).map_err(DrawError::backend)
}

/// Draws `pic` on `root` (of the layout's size).
pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    lay: &Layout,
    pic: &Picture<'_>,
) -> Result<(), DrawError> {
    let e = DrawError::backend::<DrawingAreaErrorKind<DB::ErrorType>>;
    let (ny, nx) = pic.dims;
    let axes = pic.axes;
    let ((xs, x_inc), (ys, y_inc)) = extent(&axes.x)
        .zip(extent(&axes.y))
        .ok_or(DrawError::Axes)?;
    root.fill(&WHITE).map_err(e)?;
    let stretch = lay
        .stretch
        .map(|k| format!("(not to scale: y drawn {k:.3} times taller)"));
    draw_title(root, pic.title, lay.width, stretch)?;

    let (px, py, pw, ph) = lay.plot;
    let xt = ticks::linear(xs, (pw / 90).max(3) as usize);
    let yt = ticks::linear(ys, (ph / 45).max(4) as usize);
    let xu: Vec<f64> = xt.values.iter().map(|&v| xs.unit(v)).collect();
    let yu: Vec<f64> = yt.values.iter().map(|&v| ys.unit(v)).collect();
    let area = root
        .clone()
        .shrink(((px - LEFT) as i32, py as i32), (LEFT + pw, ph + BOTTOM));
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(BOTTOM)
        .y_label_area_size(LEFT)
        .build_cartesian_2d(
            UnitAxis::new(xu.clone(), false),
            UnitAxis::new(yu.clone(), axes.y_direction == YDirection::Down),
        )
        .map_err(e)?;
    let (rx, ry) = chart.plotting_area().get_pixel_range();
    let (w, h) = (
        (rx.end - rx.start).max(1) as usize,
        (ry.end - ry.start).max(1) as usize,
    );
    // Column and row index of each pixel, computed once per axis (nearest cell).
    let cols: Vec<usize> = (0..w)
        .map(|c| cell((c as f64 + 0.5) / w as f64, nx, x_inc))
        .collect();
    let rows: Vec<usize> = (0..h)
        .map(|r| {
            let f = (r as f64 + 0.5) / h as f64;
            // Fraction from the smallest y: the top of the picture is the largest y when up.
            let f = match axes.y_direction {
                YDirection::Up => 1.0 - f,
                YDirection::Down => f,
            };
            cell(f.min(1.0 - 1e-12), ny, y_inc)
        })
        .collect();
    blit(root, (rx.start, ry.start, w, h), &|c, r| {
        (pic.colour)(rows[r], cols[c])
    })?;
    let fx = |u: &f64| label_at(&xu, &xt, *u);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(describe(&axes.x_label, &xt))
        .y_desc(describe(&axes.y_label, &yt))
        .x_label_formatter(&fx)
        .y_label_formatter(&|_: &f64| String::new())
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .draw()
        .map_err(e)?;
    let y_of = |u: f64| {
        let f = match axes.y_direction {
            YDirection::Up => u,
            YDirection::Down => 1.0 - u,
        };
        ry.end - (f64::from(ry.end - ry.start) * f).round() as i32
    };
    draw_left_labels(
        root,
        rx.start,
        yu.iter()
            .zip(&yt.labels)
            .map(|(u, l)| (l.clone(), y_of(*u))),
    )?;

    // Colour bar beside the plot, as tall as it.
    let bar = &pic.bar;
    let bs = Span::new(bar.lo, bar.hi).ok_or(DrawError::ColourRange)?;
    let bt = ticks::linear(bs, (ph / 45).clamp(2, 8) as usize);
    let bu: Vec<f64> = bt.values.iter().map(|&v| bs.unit(v)).collect();
    let bar_area = root.clone().shrink(
        ((px + pw + BAR_GAP) as i32, ry.start),
        (BAR_W + BAR_LABELS, h as u32),
    );
    let mut bar_chart = ChartBuilder::on(&bar_area)
        .set_label_area_size(LabelAreaPosition::Right, BAR_LABELS)
        .build_cartesian_2d(
            UnitAxis::new(Vec::new(), false),
            UnitAxis::new(bu.clone(), false),
        )
        .map_err(e)?;
    let (bx, by) = bar_chart.plotting_area().get_pixel_range();
    let bh = (by.end - by.start).max(1) as usize;
    blit(
        root,
        (bx.start, by.start, (bx.end - bx.start).max(1) as usize, bh),
        &|_, r| (bar.colour)(1.0 - (r as f64 + 0.5) / bh as f64),
    )?;
    // Tick labels drawn here, left-aligned beside the bar (plotters' right-side alignment
    // estimates text widths and can push labels into the bar).
    bar_chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(describe(bar.label, &bt))
        .y_label_formatter(&|_: &f64| String::new())
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(e)?;
    let ts = TextStyle::from((FAMILY, 14).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (u, l) in bu.iter().zip(&bt.labels) {
        let y = by.end - ((f64::from(by.end - by.start)) * u).round() as i32;
        root.draw(&Text::new(l.clone(), (bx.end + 10, y), ts.clone()))
            .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{extent, layout};

    #[test]
    fn layouts_keep_the_physical_aspect_within_the_bounds() {
        // A 4000 m x 1400 m section in at most 900 x 700 pixels: wide and short.
        let l = layout((900, 700), 1, Some(1400.0 / 4000.0));
        let (_, _, w, h) = l.plot;
        assert!((f64::from(h) / f64::from(w) - 0.35).abs() < 0.01, "{l:?}");
        assert!(l.width <= 900 && l.height < 700, "{l:?}");
        // A tall one is limited by the height.
        let l = layout((900, 700), 2, Some(3.0));
        let (_, _, w, h) = l.plot;
        assert!((f64::from(h) / f64::from(w) - 3.0).abs() < 0.05, "{l:?}");
        assert!(l.height <= 700, "{l:?}");
        // Flatter than the smallest side: stretched, and said.
        let l = layout((900, 700), 1, Some(1e-3));
        assert!(l.stretch.is_some() && l.lines == 2, "{l:?}");
        // Free: the plot fills the picture.
        let l = layout((800, 600), 1, None);
        assert_eq!((l.width, l.height), (800, 600));
    }

    #[test]
    fn extents_of_huge_coordinates_are_none_or_finite() {
        assert!(extent(&[0.0, 1e308, f64::INFINITY]).is_none());
        let (s, inc) = extent(&[-1e308, 0.0, 1e308]).unwrap();
        assert!(inc && s.lo.is_finite() && s.hi.is_finite());
        let (s, _) = extent(&[3.0]).unwrap();
        assert_eq!((s.lo, s.hi), (2.5, 3.5));
    }
}
