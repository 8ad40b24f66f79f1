//! # convsim-seismic: the 2D acoustic wave solver of convsim
//!
//! Solves `p_tt = v^2 Lap p + v^2 s(t) delta(x - x_s)` on a uniform grid with leapfrog in time
//! and the cross-shaped Laplacian of the core's stencil library (space orders 2 to 16).
//!
//! Conventions: SI units (m, s, m/s, Hz); axis order `(y, x)` with `y` the depth, positive
//! down; coordinates are absolute metres on the [`Grid`](convsim_core::Grid). Absorbing layers
//! (CPML, sponge) are added outside the grid, so sources, receivers and outputs refer to the
//! physical grid only.
//!
//! - [`SeismicParams`]: grid, dt, order, velocity [`Model`], [`PointSource`]s with a
//!   [`Wavelet`], [`Receivers`], [`SeismicBoundaries`] (CPML, sponge, free surface, rigid,
//!   zero per side).
//! - [`Seismic`]: the solver (`f32` or `f64`), implementing [`convsim_core::Simulation`]; shot
//!   gathers via [`Seismic::receivers`].
//! - [`SeismicTile`]: the same solver on one tile of a distributed run (constant or variable density),
//!   bitwise equal to [`Seismic`]; [`tile_of`] its tile.
//! - [`stability::dt_max`]: the exact leapfrog limit; [`analytic`]: the 2D Green's function
//!   oracle; [`hicks`]: off-grid weights; [`model::marmousi_like`]: the synthetic model.
//!
//! ```
//! use convsim_seismic::{stability, Seismic, SeismicError, SeismicParams};
//! let mut p = SeismicParams::homogeneous(50, 50, 10.0, 3000.0);
//! p.space_order = 8;
//! p.dt = 1.01 * stability::dt_max(8, 10.0, 10.0, 3000.0).unwrap();
//! let err = Seismic::<f32>::new(&p).unwrap_err();
//! assert!(matches!(err, SeismicError::Unstable { .. }));
//! assert!(err.to_string().contains("stability limit"));
//! ```

mod absorb;
pub mod analytic;
pub mod density;
pub mod error;
pub mod hicks;
pub mod model;
pub mod params;
mod shots;
mod simulation;
mod solver;
mod sparse;
pub mod stability;
mod sweep;
mod tile;
pub mod wavelet;

pub use convsim_core::fp::Subnormals;
pub use error::{Result, SeismicError, SeismicWarning};
pub use params::{
    Model, PointSource, Receivers, SeismicBoundaries, SeismicParams, SideBoundary, Wavelet,
};
pub use shots::MultiShot;
pub use solver::Seismic;
pub use tile::{SeismicTile, tile_of};
