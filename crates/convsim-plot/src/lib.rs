//! # convsim-plot: PNG and GIF pictures of convsim fields and diagnostics
//!
//! Pictures are drawn with plotters' bitmap backend and a bundled font (`DejaVu Sans`, rendered
//! with `ab_glyph`): no fontconfig, freetype or system fonts are needed at run time. This crate
//! depends on convsim-core types and ndarray only; solvers never link it.
//!
//! ## Conventions
//!
//! - Fields are `(ny, nx)` arrays, axis order `(y, x)`; [`Axes`] gives the coordinates of the
//!   cell centres (each cell is drawn as a block centred there) and the axis labels with units.
//! - [`YDirection::Up`] (default) puts row 0 (the smallest `y`) at the bottom;
//!   [`YDirection::Down`] puts it at the top, for seismic depth sections. Gathers always draw
//!   time downward.
//! - Colour maps ([`Colormap`]): viridis for one-signed fields, a diverging blue-white-red map
//!   (symmetric about 0 with [`ColorRange::Auto`]) for signed fields, grey. NaN and infinite
//!   cells are magenta ([`NAN_RGB`]), a colour none of the maps contains. A constant field is
//!   drawn in the middle colour of the map (no division by zero).
//! - Every heatmap has a title, axes in physical units and a colour bar with its label.
//! - Output format follows the file extension: use `.png` (and `.gif` for [`gif`]).
//!
//! ## API
//!
//! [`heatmap_png`], [`gif`] / [`gif_titled`] (one fixed colour range over all frames),
//! [`line_plot_png`] (diagnostics, optional log y), [`gather_png`] (shot gathers, clipped at a
//! percentile), [`complex_png`] (phase as hue, amplitude as brightness), styles
//! [`HeatmapStyle`] (with [`HeatmapStyle::for_quantity`]), [`LineStyle`], [`GatherStyle`],
//! and [`PlotError`] ([`DrawError`]: what failed while drawing).
//!
//! ```
//! use convsim_plot::{heatmap_png, Axes, HeatmapStyle, Colormap};
//! use convsim_core::Grid;
//! let grid = Grid { ny: 32, nx: 48, dy: 0.1, dx: 0.1, y0: 0.0, x0: 0.0 };
//! let u = ndarray::Array2::from_shape_fn((32, 48), |(i, j)| ((i as f64) * 0.2).sin() * (j as f64 * 0.1).cos());
//! let style = HeatmapStyle { title: "u at t = 1 s".into(), colormap: Colormap::Diverging,
//!                            colorbar_label: "u [K]".into(), ..Default::default() };
//! let dir = tempfile::tempdir().unwrap();
//! heatmap_png(dir.path().join("u.png"), u.view(), &Axes::from_grid(&grid, "m"), &style).unwrap();
//! ```

mod colormap;
mod complex;
mod error;
mod font;
mod frame;
mod gather;
mod heatmap;
mod line;
mod ticks;

pub use colormap::{ColorRange, Colormap, MASK_RGB, NAN_RGB};
pub use complex::{complex_png, complex_rgb};
pub use error::{DrawError, PlotError, Result};
pub use gather::{GatherStyle, gather_png};
pub use heatmap::{
    Aspect, Axes, HeatmapStyle, YDirection, gif, gif_titled, heatmap_masked_png, heatmap_png,
};
pub use line::{LineStyle, line_plot_png};
