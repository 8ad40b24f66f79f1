//! Parameters of the diffusion solver: what a scenario file (or a library user) sets, and
//! their validation ([`DiffusionParams::validate`]).
//!
//! Units: lengths in metres (`m`), times in seconds (`s`), diffusivities in `m^2/s`, the field
//! `u` in the user's unit `[u]` (temperature, concentration, ...), the source `f` in `[u]/s`.
//! Any consistent unit system works; the solver only multiplies numbers.

use convsim_core::{Grid, ParamPath};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::DiffusionError;
use crate::solver::{FaceDiffusivity, stencil_kernel};
use crate::stability::{explicit_limit, max_amplification, operator_limit};

/// Everything that defines a diffusion run except the initial field
/// (`u_t = div(D grad u) + f` on a 2D grid, axis order `(y, x)`, `f64`).
///
/// The schema of a scenario's `[diffusion]` table (with `grid`, `time.dt` and `boundary`),
/// validated here once. Errors name each field by its scenario key
/// ([`convsim_core::ParamPath`]): the explicit scheme's order is `order`, a constant or
/// varying `D` is `diffusivity`, a tensor's entries `anisotropic.dxx`, ..., a side's
/// condition `boundary.<side>`, the taps `stencil` (the file they come from), the initial
/// field `initial.u`.
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

type Result<T, E = DiffusionError> = std::result::Result<T, E>;

/// Relative slack on the stability comparison, so that a `dt` written as exactly the limit
/// (e.g. `h^2 / (4 D)`) is not refused because the limit was computed a few ulps lower. At the
/// limit the worst mode has amplification exactly `-1`: bounded, not growing.
const LIMIT_SLACK: f64 = 1e-12;

pub(crate) fn invalid(
    param: ParamPath,
    value: impl std::fmt::Display,
    allowed: &str,
) -> DiffusionError {
    DiffusionError::InvalidParameter {
        param,
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

fn check_positive(param: ParamPath, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(invalid(param, v, "a finite number > 0"))
    }
}

pub(crate) fn check_array(
    param: ParamPath,
    a: ArrayView2<'_, f64>,
    grid: &Grid,
    positive: bool,
) -> Result<()> {
    if a.dim() != grid.shape() {
        return Err(DiffusionError::Shape {
            param,
            expected: grid.shape(),
            actual: a.dim(),
        });
    }
    for ((i, j), &v) in a.indexed_iter() {
        let ok = if positive {
            v.is_finite() && v > 0.0
        } else {
            v.is_finite()
        };
        if !ok {
            return Err(DiffusionError::BadValue {
                param,
                index: (i, j),
                value: v,
                allowed: if positive {
                    "finite values > 0"
                } else {
                    "finite values"
                },
            });
        }
    }
    Ok(())
}

pub(crate) fn scheme_name(s: Scheme) -> String {
    s.describe()
}

impl Scheme {
    /// The scheme in the words of the `[diffusion]` table (`explicit order-2`, `isotropic9`,
    /// `spectral`, `stencil`), as messages and `convsim validate` show it.
    #[must_use]
    pub fn describe(self) -> String {
        match self {
            Scheme::Explicit { order } => format!("explicit order-{order}"),
            Scheme::Isotropic9 => "isotropic9".into(),
            Scheme::Spectral => "spectral".into(),
            Scheme::Stencil => "stencil".into(),
        }
    }
}

/// Stencil radius of the scheme (ghost nodes it reaches beyond an edge).
pub(crate) fn radius(p: &DiffusionParams) -> usize {
    match p.scheme {
        Scheme::Explicit { order } => order / 2,
        Scheme::Isotropic9 => 1,
        Scheme::Spectral => 0,
        Scheme::Stencil => p.stencil.as_ref().map_or(0, |st| {
            let (kh, kw) = st.taps.dim();
            let [ay, ax] = st.anchor;
            ay.max(ax)
                .max(kh.saturating_sub(ay + 1))
                .max(kw.saturating_sub(ax + 1))
        }),
    }
}

/// Where the taps come from in a scenario: the stencil file (`stencil`).
fn stencil_key() -> ParamPath {
    ParamPath::table("stencil")
}

/// The taps of the stencil scheme, checked: present, finite, anchor inside, not larger than
/// the grid.
pub(crate) fn checked_stencil(p: &DiffusionParams) -> Result<&StencilTaps> {
    let st = p.stencil.as_ref().ok_or_else(|| {
        invalid(
            stencil_key(),
            "(missing)",
            "taps, anchor and form for the stencil scheme",
        )
    })?;
    let (kh, kw) = st.taps.dim();
    if kh == 0 || kw == 0 {
        return Err(invalid(
            stencil_key(),
            format!("taps of shape ({kh}, {kw})"),
            "at least one tap",
        ));
    }
    if st.anchor[0] >= kh || st.anchor[1] >= kw {
        return Err(invalid(
            stencil_key(),
            format!("anchor {:?}", st.anchor),
            &format!("an index inside the {kh}x{kw} taps"),
        ));
    }
    if let Some(((i, j), v)) = st.taps.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(DiffusionError::BadValue {
            param: stencil_key(),
            index: (i, j),
            value: *v,
            allowed: "finite values",
        });
    }
    let g = &p.grid;
    if kh > g.ny || kw > g.nx {
        return Err(invalid(
            stencil_key(),
            format!("taps of shape ({kh}, {kw})"),
            &format!("at most the grid (ny, nx) = ({}, {})", g.ny, g.nx),
        ));
    }
    Ok(st)
}

impl DiffusionParams {
    /// Checks every parameter (ranges, array shapes and values, scheme/diffusivity/boundary
    /// combinations) and the explicit stability limit, without building anything large.
    ///
    /// # Errors
    /// The first problem found, as a [`DiffusionError`] naming parameter, value and what is
    /// allowed; [`DiffusionError::Unstable`] with the limit if `dt` is too large.
    pub fn validate(&self) -> Result<()> {
        self.check_stable().map(|_| ())
    }

    /// The largest stable `dt` (s) of an explicit scheme (`None` for the spectral scheme, which
    /// is stable for any `dt`), after validating all parameters except `dt` against it.
    ///
    /// # Errors
    /// As [`DiffusionParams::validate`], except that a too-large `dt` is not an error here.
    pub fn stability_limit(&self) -> Result<Option<f64>> {
        let g = &self.grid;
        if g.ny == 0 {
            return Err(invalid(ParamPath::Grid("ny"), g.ny, "at least 1 node"));
        }
        if g.nx == 0 {
            return Err(invalid(ParamPath::Grid("nx"), g.nx, "at least 1 node"));
        }
        check_positive(ParamPath::Grid("dy"), g.dy)?;
        check_positive(ParamPath::Grid("dx"), g.dx)?;
        if !g.y0.is_finite() {
            return Err(invalid(ParamPath::Grid("y0"), g.y0, "a finite coordinate"));
        }
        if !g.x0.is_finite() {
            return Err(invalid(ParamPath::Grid("x0"), g.x0, "a finite coordinate"));
        }
        check_positive(ParamPath::Time("dt"), self.dt)?;
        if let Scheme::Explicit { order } = self.scheme
            && ![2, 4, 6, 8].contains(&order)
        {
            return Err(invalid(ParamPath::table("order"), order, "2, 4, 6, 8"));
        }
        match &self.diffusivity {
            Diffusivity::Constant { d } => check_positive(ParamPath::table("diffusivity"), *d)?,
            Diffusivity::Tensor { dxx, dyy, dxy } => {
                check_positive(ParamPath::table("anisotropic.dxx"), *dxx)?;
                check_positive(ParamPath::table("anisotropic.dyy"), *dyy)?;
                if !(dxy.is_finite() && dxy * dxy < dxx * dyy) {
                    return Err(invalid(
                        ParamPath::table("anisotropic.dxy"),
                        dxy,
                        &format!(
                            "|dxy| < sqrt(dxx dyy) = {} (a positive definite tensor)",
                            (dxx * dyy).sqrt()
                        ),
                    ));
                }
                if *dxy != 0.0
                    && let Some((side, _)) = self
                        .boundaries
                        .sides()
                        .into_iter()
                        .find(|(_, bc)| *bc == BoundaryCondition::ZeroFlux)
                {
                    // With dxy != 0 no flux means D_xx u_x + D_xy u_y = 0 (the conormal
                    // derivative), not the u_x = 0 a symmetric padding imposes.
                    return Err(invalid(
                        ParamPath::Boundary(side),
                        "zero_flux",
                        "periodic or fixed with a tensor diffusivity whose dxy != 0 \
                         (zero flux along the conormal is not supported)",
                    ));
                }
                if self.scheme == Scheme::Isotropic9 {
                    return Err(invalid(
                        ParamPath::table("scheme"),
                        "isotropic9",
                        "explicit or spectral with a tensor diffusivity (isotropic9 needs a constant isotropic D)",
                    ));
                }
            }
            Diffusivity::Field { d, .. } => {
                check_array(ParamPath::table("diffusivity"), d.view(), g, true)?;
                if self.scheme != (Scheme::Explicit { order: 2 }) {
                    return Err(invalid(
                        ParamPath::table("scheme"),
                        scheme_name(self.scheme),
                        "explicit order 2 with a spatially varying diffusivity (flux form)",
                    ));
                }
            }
        }
        if let Some(f) = &self.source {
            check_array(ParamPath::table("source"), f.view(), g, false)?;
        }
        let b = &self.boundaries;
        for (side, lo, hi) in [("top", b.top, b.bottom), ("left", b.left, b.right)] {
            if (lo == BoundaryCondition::Periodic) != (hi == BoundaryCondition::Periodic) {
                return Err(invalid(
                    ParamPath::Boundary(side),
                    format!("{}/{}", lo.name(), hi.name()),
                    "periodic on both sides of an axis or on neither",
                ));
            }
        }
        for (side, bc) in b.sides() {
            if let BoundaryCondition::Fixed { value } = bc
                && !value.is_finite()
            {
                return Err(invalid(ParamPath::Boundary(side), value, "a finite value"));
            }
        }
        // A fixed side's ghost nodes must come from one reflection (see the crate docs).
        let r = radius(self);
        for (axis, n, lo, hi) in [("ny", g.ny, b.top, b.bottom), ("nx", g.nx, b.left, b.right)] {
            let fixed = lo.fixed_value().is_some() || hi.fixed_value().is_some();
            if fixed && n < r + 2 {
                return Err(invalid(
                    ParamPath::Grid(axis),
                    n,
                    &format!(
                        "at least {} nodes with a fixed-value side and the {} scheme",
                        r + 2,
                        scheme_name(self.scheme)
                    ),
                ));
            }
        }
        if self.scheme == Scheme::Isotropic9 && (g.dx - g.dy).abs() > 1e-12 * g.dx {
            return Err(invalid(
                ParamPath::Grid("dy"),
                g.dy,
                &format!("equal to grid.dx = {} for the isotropic9 scheme", g.dx),
            ));
        }
        if self.scheme == Scheme::Spectral {
            if let Some((side, bc)) = b
                .sides()
                .into_iter()
                .find(|(_, bc)| *bc != BoundaryCondition::Periodic)
            {
                return Err(invalid(
                    ParamPath::Boundary(side),
                    bc.name(),
                    "periodic (the spectral scheme needs periodic boundaries on all sides)",
                ));
            }
            return Ok(None);
        }
        let active = [g.ny > 1, g.nx > 1];
        if self.scheme == Scheme::Stencil {
            let st = checked_stencil(self)?;
            return Ok(match st.form {
                // A whole step has no dt limit of its own: see `stencil_amplification`.
                StencilForm::Step => None,
                StencilForm::Operator => Some(operator_limit(
                    st.taps.view(),
                    st.anchor,
                    [g.ny, g.nx],
                    self.periodic_axes(),
                )),
            });
        }
        let limit = if let Diffusivity::Field { d, face_average } = &self.diffusivity {
            FaceDiffusivity::new(d.view(), *face_average, g, b).explicit_limit(active)
        } else {
            let k = stencil_kernel(self)?;
            explicit_limit(k.taps().view(), k.anchor(), active)
        };
        Ok(Some(limit))
    }

    /// `[y, x]`: is the axis periodic.
    fn periodic_axes(&self) -> [bool; 2] {
        [
            self.boundaries.top == BoundaryCondition::Periodic,
            self.boundaries.left == BoundaryCondition::Periodic,
        ]
    }

    /// For a step stencil ([`Scheme::Stencil`] with [`StencilForm::Step`]): the amplification
    /// factor `max |K_hat|` over the grid's wavenumbers and the `(theta_y, theta_x)` (rad per
    /// node) where it is reached (see [`crate::stability::max_amplification`]); `None` for
    /// every other scheme or form, or if the stencil is missing.
    #[must_use]
    pub fn stencil_amplification(&self) -> Option<(f64, [f64; 2])> {
        match (&self.scheme, &self.stencil) {
            (Scheme::Stencil, Some(st)) if st.form == StencilForm::Step => {
                let g = &self.grid;
                Some(max_amplification(
                    st.taps.view(),
                    st.anchor,
                    [g.ny, g.nx],
                    self.periodic_axes(),
                ))
            }
            _ => None,
        }
    }

    /// Validation and the stability checks of [`DiffusionSolver::new`]: `dt` against the
    /// explicit limit, and a step stencil's amplification against `1 + 1e-12`; a stencil with
    /// `allow_unstable` skips both.
    ///
    /// # Errors
    /// As [`DiffusionParams::validate`], plus [`DiffusionError::UnstableStep`].
    pub fn check_stable(&self) -> Result<Option<f64>> {
        let limit = self.stability_limit()?;
        if self.scheme == Scheme::Stencil && self.stencil.as_ref().is_some_and(|s| s.allow_unstable)
        {
            return Ok(limit);
        }
        if let Some((amplification, theta)) = self.stencil_amplification()
            && amplification > 1.0 + LIMIT_SLACK
        {
            return Err(DiffusionError::UnstableStep {
                amplification,
                theta,
            });
        }
        if let Some(limit) = limit
            && self.dt > limit * (1.0 + LIMIT_SLACK)
        {
            return Err(DiffusionError::Unstable {
                dt: self.dt,
                limit,
                scheme: scheme_name(self.scheme),
            });
        }
        Ok(limit)
    }
}
