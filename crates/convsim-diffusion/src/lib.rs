//! # convsim-diffusion: the heat / diffusion equation on the convolution core
//!
//! Solves `u_t = div(D grad u) + f` on a uniform 2D grid (axis order `(y, x)`, `f64`), with
//! every spatial operator a convolution planned once by `convsim-core`.
//!
//! - **Schemes** ([`Scheme`]): forward Euler with the central Laplacian of order 2, 4, 6 or 8 or
//!   the 9-point isotropic one, fused into one pass `u_new = u + dt (K (*) u + f)` per step
//!   (`ConvPlan::apply_with`); or the exact heat-kernel step in Fourier space on periodic
//!   domains (`SpectralPlan`, any `dt`); or arbitrary taps (e.g. a stencil learned by
//!   convsim-cnn) as a whole step `u_new = K (*) u + dt f` or an operator
//!   `u_new = u + dt (L (*) u + f)` ([`Scheme::Stencil`], [`StencilTaps`]).
//! - **Diffusivity** ([`Diffusivity`]): constant `D`; a constant positive definite tensor
//!   (mixed term from the tensor product of central first-derivative stencils); or `D(y, x)` at
//!   the nodes in flux form `div(D grad u)`, with `D` averaged onto faces (harmonic by default,
//!   see [`FaceAverage`]) and four face-difference convolutions per step.
//! - **Stability**: an explicit `dt` above `2 / max|symbol|` is refused at construction with
//!   [`DiffusionError::Unstable`], which prints the limit; see [`stability`]. A step stencil
//!   whose amplification `max |K_hat|` exceeds `1 + 1e-12` is refused with
//!   [`DiffusionError::UnstableStep`] unless [`StencilTaps::allow_unstable`] is set.
//!
//! ## Boundaries and the grid
//!
//! Node `(i, j)` sits at `(y0 + i dy, x0 + j dx)`. Each side maps onto a core padding mode:
//!
//! | condition | padding | where the boundary is | domain length |
//! |---|---|---|---|
//! | `periodic` | `Periodic` | - | `n h` |
//! | `zero_flux` | `Symmetric` (`b a / a b c d / d c`) | on the face half a spacing outside the edge node (cell-centred) | `n h` |
//! | `fixed` (value `g`) | `Antisymmetric` about `g`: ghost `u[-k] = 2 g - u[k]` | on the edge node, held at `g` | `(n - 1) h` |
//!
//! Why these: the symmetric extension of the data is even about the face, so any symmetric
//! stencil sums to zero over the nodes: the plain sum `sum u dx dy` is conserved exactly (to
//! rounding) with zero-flux and periodic sides, for every stencil order. For a fixed value, the
//! odd extension of `u - g` is smooth when `u_xx = 0` on the boundary (true for the heat
//! equation without a source there), so the stencil keeps its order. The core pads with
//! `-u[k]`; the constant difference `2 g` on the ghost nodes is applied once, at construction,
//! as a correction folded into the source term (zero cost per step), and the edge nodes are
//! overwritten with `g` in the fused pass.
//!
//! ```
//! use convsim_diffusion::{BoundaryCondition, BoundaryConditions, DiffusionParams, DiffusionSolver};
//! use ndarray::Array2;
//! // A 1D rod (ny = 1) held at 0 and 1: it relaxes to the straight line between them.
//! let mut p = DiffusionParams::gaussian_periodic(1, 0.1, 1.0);
//! p.grid.nx = 11;
//! p.boundaries = BoundaryConditions {
//!     top: BoundaryCondition::ZeroFlux,
//!     bottom: BoundaryCondition::ZeroFlux,
//!     left: BoundaryCondition::Fixed { value: 0.0 },
//!     right: BoundaryCondition::Fixed { value: 1.0 },
//! };
//! p.dt = 0.004; // below the 1D limit h^2 / (2 D) = 0.005
//! let mut s = DiffusionSolver::new(p, Array2::zeros((1, 11))).unwrap();
//! for _ in 0..5000 {
//!     s.step();
//! }
//! for (j, v) in s.u().iter().enumerate() {
//!     assert!((v - j as f64 / 10.0).abs() < 1e-10);
//! }
//! ```

pub mod error;
pub mod params;
mod simulation;
pub mod solver;
pub mod stability;
pub mod tile;

pub use convsim_core::tile::TileLinks;
pub use error::DiffusionError;
pub use params::{
    BoundaryCondition, BoundaryConditions, DiffusionParams, Diffusivity, FaceAverage, Scheme,
    StencilForm, StencilTaps,
};
pub use solver::{Diagnostics, DiffusionSolver, boundaries_of, padding_of};
pub use tile::DiffusionTile;
