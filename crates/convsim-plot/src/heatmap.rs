//! Heatmaps of 2D fields: PNG, GIF animations, shot gathers and complex fields.

use std::path::Path;

use convsim_core::{Grid, Quantity};
use ndarray::ArrayView2;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::colormap::{ColorRange, Colormap, MASK_RGB, finite_min_max, resolve_auto};
use crate::error::{DrawError, Result, draw_err, invalid};
use crate::font::ensure_font;
use crate::frame::{self, Bar, Layout, Picture};

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

    /// These axes if their coordinates give finite extents, else sample indices with labels
    /// that say why (coordinates such as `x0 + j dx` with `dx = 1e308` overflow).
    #[must_use]
    pub fn finite_or_indices(&self) -> Self {
        let ok = |c: &[f64]| frame::extent(c).is_some();
        let mut a = self.clone();
        if !ok(&a.x) {
            a.x = (0..a.x.len()).map(|j| j as f64).collect();
            a.x_label = format!("column j ({} not finite)", self.x_label);
        }
        if !ok(&a.y) {
            a.y = (0..a.y.len()).map(|i| i as f64).collect();
            a.y_label = format!("row i ({} not finite)", self.y_label);
        }
        a
    }

    /// Physical height over width of the data extent (`None` if not positive and finite).
    fn ratio(&self) -> Option<f64> {
        let (xs, _) = frame::extent(&self.x)?;
        let (ys, _) = frame::extent(&self.y)?;
        let r = (ys.hi / 2.0 - ys.lo / 2.0) / (xs.hi / 2.0 - xs.lo / 2.0);
        (r.is_finite() && r > 0.0).then_some(r)
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
    /// Picture width in pixels (at most, with [`Aspect::Equal`]).
    pub width: u32,
    /// Picture height in pixels (at most, with [`Aspect::Equal`]).
    pub height: u32,
    /// Aspect ratio of the plot area.
    pub aspect: Aspect,
}

/// Aspect ratio of a heatmap's plot area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Aspect {
    /// One unit of `x` is as long as one unit of `y` on the picture (a round Gaussian is
    /// round, a 4000 m x 1400 m section is wide and short): the plot area is the largest with
    /// that aspect inside `width x height`, and the picture is cut to it. An aspect flatter
    /// than 40 pixels over the width is stretched, and the title says by how much.
    #[default]
    Equal,
    /// The plot fills `width x height` (axes in different units, such as receiver x and time).
    Free,
}

impl Default for HeatmapStyle {
    fn default() -> Self {
        HeatmapStyle {
            title: String::new(),
            colormap: Colormap::Viridis,
            range: ColorRange::Auto,
            colorbar_label: String::new(),
            width: 900,
            height: 700,
            aspect: Aspect::Equal,
        }
    }
}

impl HeatmapStyle {
    /// Style for a solver quantity: title = long name, bar label `name [units]`; the cyclic
    /// map for angles (units `rad`), diverging for signed quantities, viridis otherwise.
    #[must_use]
    pub fn for_quantity(q: &Quantity) -> Self {
        HeatmapStyle {
            title: q.long_name.clone(),
            colormap: if q.units == "rad" {
                Colormap::Cyclic
            } else if q.signed {
                Colormap::Diverging
            } else {
                Colormap::Viridis
            },
            colorbar_label: format!("{} [{}]", q.name, q.units),
            ..Self::default()
        }
    }
}

pub(crate) fn check_shape(path: &Path, dim: (usize, usize), axes: &Axes) -> Result<()> {
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

pub(crate) fn check_size(path: &Path, w: u32, h: u32) -> Result<()> {
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

/// The layout of a heatmap in `style` on `axes` (checked finite) with `title`.
fn layout_for(style: &HeatmapStyle, axes: &Axes, title: &str) -> Layout {
    let ratio = match style.aspect {
        Aspect::Equal => axes.ratio(),
        Aspect::Free => None,
    };
    frame::layout((style.width, style.height), title.lines().count(), ratio)
}

/// Draws `pic` into a PNG at `path` of the style's size limits.
pub(crate) fn render(path: &Path, style: &HeatmapStyle, pic: &Picture<'_>) -> Result<()> {
    ensure_font().map_err(draw_err(path))?;
    check_size(path, style.width, style.height)?;
    let lay = layout_for(style, pic.axes, pic.title);
    let root = BitMapBackend::new(path, (lay.width, lay.height)).into_drawing_area();
    frame::draw(&root, &lay, pic).map_err(draw_err(path))?;
    finish(path, &root)
}

fn finish<DB: DrawingBackend>(path: &Path, root: &DrawingArea<DB, Shift>) -> Result<()> {
    root.present()
        .map_err(|e| draw_err(path)(DrawError::backend(e)))
}

/// Draws `field` (shape `(ny, nx)`, axis order `(y, x)`) as a PNG heatmap with a title, axes
/// in physical units (sample indices if the coordinates overflow) and a colour bar beside it.
/// NaN and infinite cells are drawn in [`crate::NAN_RGB`]. Returns the colour range used.
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
    heatmap_masked_png(path, field, None, axes, style)
}

/// As [`heatmap_png`], with the cells where `mask` is `true` drawn in [`crate::MASK_RGB`]
/// (and left out of the automatic colour range): the phase of a wavefunction where its density
/// is negligible, say. The title should say what the grey means.
///
/// # Errors
/// As [`heatmap_png`], and [`crate::PlotError::Invalid`] if the mask's shape differs.
pub fn heatmap_masked_png(
    path: impl AsRef<Path>,
    field: ArrayView2<'_, f64>,
    mask: Option<ArrayView2<'_, bool>>,
    axes: &Axes,
    style: &HeatmapStyle,
) -> Result<(f64, f64)> {
    let path = path.as_ref();
    check_shape(path, field.dim(), axes)?;
    if let Some(m) = &mask
        && m.dim() != field.dim()
    {
        return Err(invalid(
            path,
            format!(
                "mask of shape {:?} for a field of shape {:?}",
                m.dim(),
                field.dim()
            ),
        ));
    }
    let hidden = |i: usize, j: usize| mask.as_ref().is_some_and(|m| m[[i, j]]);
    let shown = field
        .indexed_iter()
        .filter(|((i, j), _)| !hidden(*i, *j))
        .map(|(_, v)| v);
    let (lo, hi) = resolve_range(path, style, finite_min_max(shown))?;
    let axes = axes.finite_or_indices();
    let cmap = style.colormap;
    let colour = |i: usize, j: usize| {
        if hidden(i, j) {
            MASK_RGB
        } else {
            cmap.map(field[[i, j]], lo, hi)
        }
    };
    let bar_colour = |t: f64| cmap.rgb(t);
    let pic = Picture {
        dims: field.dim(),
        axes: &axes,
        title: &style.title,
        colour: &colour,
        bar: Bar {
            lo,
            hi,
            label: &style.colorbar_label,
            colour: &bar_colour,
        },
    };
    render(path, style, &pic)?;
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
    let axes = axes.finite_or_indices();
    let lay = layout_for(style, &axes, &first.0);
    let backend = BitMapBackend::gif(path, (lay.width, lay.height), delay_ms)
        .map_err(|e| draw_err(path)(DrawError::backend(e)))?;
    let root = backend.into_drawing_area();
    let cmap = style.colormap;
    let bar_colour = |t: f64| cmap.rgb(t);
    for (title, field) in &frames {
        let colour = |i: usize, j: usize| cmap.map(field[[i, j]], lo, hi);
        let pic = Picture {
            dims: dim,
            axes: &axes,
            title,
            colour: &colour,
            bar: Bar {
                lo,
                hi,
                label: &style.colorbar_label,
                colour: &bar_colour,
            },
        };
        frame::draw(&root, &lay, &pic).map_err(draw_err(path))?;
        finish(path, &root)?;
    }
    Ok((frames.len(), (lo, hi)))
}
