//! Parameters of the diffusion solver: what a scenario file (or a library user) sets.
//!
//! Units: lengths in metres (`m`), times in seconds (`s`), diffusivities in `m^2/s`, the field
//! `u` in the user's unit `[u]` (temperature, concentration, ...), the source `f` in `[u]/s`.
//! Any consistent unit system works; the solver only multiplies numbers.

use convsim_core::Grid;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Everything that defines a diffusion run except the initial field
/// (`u_t = div(D grad u) + f` on a 2D grid, axis order `(y, x)`, `f64`).
///
/// ```
/// use convsim_diffusion::{BoundaryCondition, DiffusionParams, Diffusivity, Scheme};
/// let p = DiffusionParams::gaussian_periodic(64, 0.1, 1.0);
/// assert_eq!(p.scheme, Scheme::Explicit { order: 2 });
/// assert_eq!(p.diffusivity, Diffusivity::Constant { d: 1.0 });
/// assert_eq!(p.boundaries.left, BoundaryCondition::Periodic);
/// // dt is 0.9 of the explicit limit h^2 / (4 D).
/// assert!((p.dt - 0.9 * 0.01 / 4.0).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffusionParams {
    /// The grid: `ny x nx` nodes spaced `dy`, `dx` (m), row 0 / column 0 at `(y0, x0)` (m).
    pub grid: Grid,
    /// Time step (s). Explicit schemes refuse a `dt` above their stability limit.
    pub dt: f64,
    /// Time stepping and spatial discretisation.
    pub scheme: Scheme,
    /// The diffusivity `D` (m^2/s).
    pub diffusivity: Diffusivity,
    /// Time-independent source `f(y, x)` (`[u]/s`), shape `(ny, nx)`; `None` for no source.
    #[serde(default)]
    pub source: Option<Array2<f64>>,
    /// Boundary condition of each side.
    pub boundaries: BoundaryConditions,
    /// The taps of [`Scheme::Stencil`] (required by that scheme, ignored by the others).
    #[serde(default)]
    pub stencil: Option<StencilTaps>,
}

impl DiffusionParams {
    /// Preset: `n x n` periodic square of spacing `h` (m, origin 0), constant `D` (m^2/s), the
    /// 5-point Laplacian, `dt` at 0.9 of the explicit limit `h^2 / (4 D)`, no source.
    #[must_use]
    pub fn gaussian_periodic(n: usize, h: f64, d: f64) -> Self {
        DiffusionParams {
            grid: Grid {
                ny: n,
                nx: n,
                dy: h,
                dx: h,
                y0: 0.0,
                x0: 0.0,
            },
            dt: 0.9 * h * h / (4.0 * d),
            scheme: Scheme::Explicit { order: 2 },
            diffusivity: Diffusivity::Constant { d },
            source: None,
            boundaries: BoundaryConditions::uniform(BoundaryCondition::Periodic),
            stencil: None,
        }
    }

    /// Preset: a plate of `n x n` nodes spaced `h` (m) whose edge nodes are held at `edge`
    /// (`[u]`), constant `D`, the 4th-order Laplacian, `dt` at 0.9 of its limit
    /// `3 h^2 / (16 D)`.
    #[must_use]
    pub fn fixed_plate(n: usize, h: f64, d: f64, edge: f64) -> Self {
        DiffusionParams {
            grid: Grid {
                ny: n,
                nx: n,
                dy: h,
                dx: h,
                y0: 0.0,
                x0: 0.0,
            },
            dt: 0.9 * 3.0 * h * h / (16.0 * d),
            scheme: Scheme::Explicit { order: 4 },
            diffusivity: Diffusivity::Constant { d },
            source: None,
            boundaries: BoundaryConditions::uniform(BoundaryCondition::Fixed { value: edge }),
            stencil: None,
        }
    }
}

/// Time stepping and spatial discretisation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scheme {
    /// Forward Euler in time with the cross-shaped central Laplacian of accuracy `order`
    /// (2, 4, 6 or 8) along each axis; with a tensor `D` the mixed term uses the tensor product
    /// of the central first-derivative stencils of the same order. With a spatially varying
    /// `D` only `order = 2` exists (the flux form, see [`Diffusivity::Field`]).
    Explicit {
        /// Accuracy order of the stencil: 2, 4, 6 or 8.
        order: usize,
    },
    /// Forward Euler with the 9-point isotropic Laplacian
    /// `(1 / 6h^2) [[1, 4, 1], [4, -20, 4], [1, 4, 1]]` (second order, isotropic leading error).
    /// Needs `dx == dy` and a constant isotropic `D`; stable for `dt <= 3 h^2 / (8 D)`.
    Isotropic9,
    /// The exact heat-kernel step in Fourier space (any `dt`): `u <- exp(-dt k.Dk) u` plus the
    /// exact integral of the constant source. Needs periodic boundaries on all sides and a
    /// constant `D` (isotropic or tensor).
    Spectral,
    /// Arbitrary taps given in [`DiffusionParams::stencil`] (e.g. a stencil learned by
    /// convsim-cnn), either a whole step or an operator, see [`StencilTaps`]. The taps already
    /// contain `D` and the spacing, so [`DiffusionParams::diffusivity`] is not used (it is
    /// still validated).
    Stencil,
}

/// What the taps of [`Scheme::Stencil`] represent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StencilForm {
    /// A whole time step `u_{n+1} = K (*) u_n + dt f`, learned for one particular `dt`.
    /// Stable iff the amplification `max |K_hat|` over the grid's wavenumbers is at most 1.
    Step,
    /// A spatial operator, forward Euler `u_{n+1} = u_n + dt (L (*) u_n + f)`; the explicit
    /// limit follows from the symbol `L_hat` (see [`crate::stability::operator_limit`]).
    Operator,
}

/// Taps of [`Scheme::Stencil`], in the correlation orientation (no flip):
/// `(K (*) u)[i, j] = sum_{a, b} taps[a, b] u[i + a - anchor[0], j + b - anchor[1]]`, with the
/// ghost values beyond the edges from the boundary conditions as for every other scheme.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StencilTaps {
    /// Whole step `K` (dimensionless) or operator `L` (`1/s`).
    pub form: StencilForm,
    /// Taps `(kh, kw)`, at most the grid size.
    pub taps: Array2<f64>,
    /// `(row, column)` of the tap applied to the centre node.
    pub anchor: [usize; 2],
    /// Run a step stencil whose amplification exceeds `1 + 1e-12`, or an operator with a `dt`
    /// above its limit (its growing modes then grow every step). Default `false`: refused.
    #[serde(default)]
    pub allow_unstable: bool,
}

/// The diffusivity `D` (m^2/s).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Diffusivity {
    /// Constant isotropic `D > 0`.
    Constant {
        /// Diffusivity (m^2/s).
        d: f64,
    },
    /// Constant tensor `[[dyy, dxy], [dxy, dxx]]` (in `(y, x)` order), positive definite:
    /// `dxx > 0`, `dyy > 0`, `dxx dyy > dxy^2`. The operator is
    /// `dxx u_xx + 2 dxy u_xy + dyy u_yy`. With `dxy != 0`, zero-flux sides are refused (no
    /// flux is then a conormal condition); with fixed sides and stencil orders above 2 the
    /// nodes next to the boundary are only second-order accurate (`u_xx != 0` on the wall).
    Tensor {
        /// `D_xx` (m^2/s).
        dxx: f64,
        /// `D_yy` (m^2/s).
        dyy: f64,
        /// `D_xy` (m^2/s).
        dxy: f64,
    },
    /// Spatially varying isotropic `D(y, x) > 0` at the nodes, shape `(ny, nx)`, in flux form:
    /// `div(D grad u)` with `D` averaged onto the faces between neighbouring nodes (see
    /// [`FaceAverage`]); second order in space.
    Field {
        /// `D` at every node (m^2/s).
        d: Array2<f64>,
        /// How `D` is averaged onto faces (default: harmonic).
        #[serde(default)]
        face_average: FaceAverage,
    },
}

/// How a node-valued `D` is averaged onto the face between two nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaceAverage {
    /// `2 D_a D_b / (D_a + D_b)`: two half cells in series. The default, because it is the exact
    /// conductance when `D` is constant within each cell, so fluxes across jumps in `D` (layered
    /// media) are exact and a 1D steady state is reproduced exactly at the nodes.
    #[default]
    Harmonic,
    /// `(D_a + D_b) / 2`: second order for smooth `D`, but overestimates the flux across jumps.
    Arithmetic,
}

/// The boundary condition of one side.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BoundaryCondition {
    /// The domain repeats: periodic length `n h`. Both sides of an axis must be periodic.
    Periodic,
    /// Zero flux (Neumann, `du/dn = 0`) on the face half a spacing outside the edge node
    /// (cell-centred: the domain is `n h` long). Padding `Symmetric`; exactly conservative.
    ZeroFlux,
    /// Fixed value (Dirichlet) on the edge node itself, which is held at `value` (`[u]`).
    /// Padding `Antisymmetric` about the value (ghost `u[-k] = 2 value - u[k]`).
    Fixed {
        /// The boundary value (`[u]`).
        value: f64,
    },
}

impl BoundaryCondition {
    /// The fixed value, if this is a Dirichlet side.
    #[must_use]
    pub fn fixed_value(self) -> Option<f64> {
        match self {
            BoundaryCondition::Fixed { value } => Some(value),
            _ => None,
        }
    }

    /// Lowercase name (as in scenario files).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            BoundaryCondition::Periodic => "periodic",
            BoundaryCondition::ZeroFlux => "zero_flux",
            BoundaryCondition::Fixed { .. } => "fixed",
        }
    }
}

/// The boundary condition of each side. `top` is row 0 (`y = y0`), `bottom` row `ny - 1`,
/// `left` column 0 (`x = x0`), `right` column `nx - 1` (the core's `(y, x)` convention).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundaryConditions {
    /// Side before row 0.
    pub top: BoundaryCondition,
    /// Side after row `ny - 1`.
    pub bottom: BoundaryCondition,
    /// Side before column 0.
    pub left: BoundaryCondition,
    /// Side after column `nx - 1`.
    pub right: BoundaryCondition,
}

impl BoundaryConditions {
    /// The same condition on all four sides.
    #[must_use]
    pub const fn uniform(b: BoundaryCondition) -> Self {
        BoundaryConditions {
            top: b,
            bottom: b,
            left: b,
            right: b,
        }
    }

    /// `(name, condition)` of the four sides, in the order top, bottom, left, right.
    #[must_use]
    pub fn sides(&self) -> [(&'static str, BoundaryCondition); 4] {
        [
            ("top", self.top),
            ("bottom", self.bottom),
            ("left", self.left),
            ("right", self.right),
        ]
    }

    /// `true` if all four sides are periodic.
    #[must_use]
    pub fn all_periodic(&self) -> bool {
        self.sides()
            .iter()
            .all(|(_, b)| *b == BoundaryCondition::Periodic)
    }
}
