//! The diffusion solver: operator construction (once) and the time step. The parameters are
//! checked in [`crate::params`]; the [`Simulation`](convsim_core::Simulation) impl is in
//! `simulation.rs`.

use convsim_core::stencil::{central_weights, laplacian, laplacian_9pt};
use convsim_core::{
    Boundaries, Boundary, Complex64, ConvPlan, Grid, Kernel2, Method, Sides, SpectralPlan,
};
use ndarray::{Array2, ArrayView2};

use convsim_core::ParamPath;

use crate::params::{check_array, invalid, scheme_name};
use crate::simulation::diagnostics_from;
use crate::{
    BoundaryCondition, BoundaryConditions, DiffusionError, DiffusionParams, Diffusivity,
    FaceAverage, Scheme, StencilForm,
};

type Result<T, E = DiffusionError> = std::result::Result<T, E>;

/// The core padding mode that implements a boundary condition (module docs of the crate).
#[must_use]
pub fn padding_of(b: BoundaryCondition) -> Boundary {
    match b {
        BoundaryCondition::Periodic => Boundary::Periodic,
        BoundaryCondition::ZeroFlux => Boundary::Symmetric,
        BoundaryCondition::Fixed { .. } => Boundary::Antisymmetric,
    }
}

/// The core boundaries of a set of boundary conditions.
#[must_use]
pub fn boundaries_of(b: &BoundaryConditions) -> Boundaries {
    Boundaries {
        y: Sides {
            lo: padding_of(b.top),
            hi: padding_of(b.bottom),
        },
        x: Sides {
            lo: padding_of(b.left),
            hi: padding_of(b.right),
        },
    }
}

/// The operator kernel `K` (including `D`) of a constant-coefficient explicit scheme, so that
/// `div(D grad u) ~ K (*) u` (correlation, centred anchor).
pub(crate) fn stencil_kernel(p: &DiffusionParams) -> Result<Kernel2<f64>> {
    let g = &p.grid;
    let (dy, dx) = (g.dy, g.dx);
    let k = match (p.scheme, &p.diffusivity) {
        (Scheme::Isotropic9, Diffusivity::Constant { d }) => {
            let k = laplacian_9pt(dx)?;
            Kernel2::new(k.taps().mapv(|v| v * d))?
        }
        (Scheme::Explicit { order }, Diffusivity::Constant { d }) => {
            let k = laplacian(order, dy, dx)?;
            Kernel2::new(k.taps().mapv(|v| v * d))?
        }
        (Scheme::Explicit { order }, Diffusivity::Tensor { dxx, dyy, dxy }) => {
            let w2 = central_weights(2, order)?;
            let w1 = central_weights(1, order)?;
            let r = order / 2;
            let n = 2 * r + 1;
            let mut taps = Array2::zeros((n, n));
            for i in 0..n {
                taps[[i, r]] += dyy * w2[i] / (dy * dy);
                taps[[r, i]] += dxx * w2[i] / (dx * dx);
                for j in 0..n {
                    // u_xy ~ sum_ab w1[a] w1[b] u(y + a dy, x + b dx) / (dy dx).
                    taps[[i, j]] += 2.0 * dxy * w1[i] * w1[j] / (dy * dx);
                }
            }
            Kernel2::new(taps)?
        }
        (s, _) => {
            return Err(invalid(
                ParamPath::table("scheme"),
                scheme_name(s),
                "a stencil scheme with a constant diffusivity (internal)",
            ));
        }
    };
    Ok(k)
}

/// `D` on the faces, divided by the spacing squared: `fx[i][j]` on the face between nodes
/// `(i, j)` and `(i, j + 1)` (wrapping for periodic axes), `fy[i][j]` between `(i, j)` and
/// `(i + 1, j)`. The last face of a non-periodic axis carries the node's own `D`; its flux is
/// zero (zero-flux side) or only feeds a fixed node, so the value never matters there.
pub(crate) struct FaceDiffusivity {
    pub(crate) fx: Array2<f64>,
    pub(crate) fy: Array2<f64>,
    /// `D / dx^2` and `D / dy^2` at the nodes (for the missing first faces in the stability
    /// bound).
    node_x: Array2<f64>,
    node_y: Array2<f64>,
    pub(crate) periodic: [bool; 2],
}

impl FaceDiffusivity {
    pub(crate) fn new(
        d: ArrayView2<'_, f64>,
        avg: FaceAverage,
        g: &Grid,
        b: &BoundaryConditions,
    ) -> Self {
        let (ny, nx) = g.shape();
        let mean = |a: f64, c: f64| match avg {
            FaceAverage::Harmonic => 2.0 * a * c / (a + c),
            FaceAverage::Arithmetic => 0.5 * (a + c),
        };
        let periodic = [
            b.top == BoundaryCondition::Periodic,
            b.left == BoundaryCondition::Periodic,
        ];
        let (ix2, iy2) = (1.0 / (g.dx * g.dx), 1.0 / (g.dy * g.dy));
        let fx = Array2::from_shape_fn((ny, nx), |(i, j)| {
            let a = d[[i, j]];
            let c = if j + 1 < nx {
                d[[i, j + 1]]
            } else if periodic[1] {
                d[[i, 0]]
            } else {
                a
            };
            mean(a, c) * ix2
        });
        let fy = Array2::from_shape_fn((ny, nx), |(i, j)| {
            let a = d[[i, j]];
            let c = if i + 1 < ny {
                d[[i + 1, j]]
            } else if periodic[0] {
                d[[0, j]]
            } else {
                a
            };
            mean(a, c) * iy2
        });
        FaceDiffusivity {
            fx,
            fy,
            node_x: d.mapv(|v| v * ix2),
            node_y: d.mapv(|v| v * iy2),
            periodic,
        }
    }

    /// Gershgorin bound: every eigenvalue of the flux-form operator lies in `[-2 m, 0]` with `m`
    /// the largest sum of a node's face coefficients, so `dt <= 1 / m` is stable (exact for
    /// constant `D`: `1 / (2 D (1/dx^2 + 1/dy^2))`).
    pub(crate) fn explicit_limit(&self, active: [bool; 2]) -> f64 {
        let (ny, nx) = self.fx.dim();
        let mut m: f64 = 0.0;
        for i in 0..ny {
            for j in 0..nx {
                let mut s = 0.0;
                if active[1] {
                    let west = if j > 0 {
                        self.fx[[i, j - 1]]
                    } else if self.periodic[1] {
                        self.fx[[i, nx - 1]]
                    } else {
                        self.node_x[[i, j]]
                    };
                    s += west + self.fx[[i, j]];
                }
                if active[0] {
                    let north = if i > 0 {
                        self.fy[[i - 1, j]]
                    } else if self.periodic[0] {
                        self.fy[[ny - 1, j]]
                    } else {
                        self.node_y[[i, j]]
                    };
                    s += north + self.fy[[i, j]];
                }
                m = m.max(s);
            }
        }
        if m > 0.0 { 1.0 / m } else { f64::INFINITY }
    }
}

/// Fixed-value (Dirichlet) nodes: whole rows for top/bottom, whole columns for left/right.
/// Where two fixed sides meet, the corner node takes the mean of the two values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FixedNodes {
    ny: usize,
    top: Option<f64>,
    bottom: Option<f64>,
    left: Option<f64>,
    right: Option<f64>,
}

impl FixedNodes {
    pub(crate) fn new(ny: usize, b: &BoundaryConditions) -> Self {
        FixedNodes {
            ny,
            top: b.top.fixed_value(),
            bottom: b.bottom.fixed_value(),
            left: b.left.fixed_value(),
            right: b.right.fixed_value(),
        }
    }

    pub(crate) fn any(&self) -> bool {
        self.top.is_some() || self.bottom.is_some() || self.left.is_some() || self.right.is_some()
    }

    /// Overwrites the fixed nodes of row `i`.
    #[inline]
    fn apply(&self, i: usize, row: &mut [f64]) {
        self.apply_piece(i, 0, row.len(), row);
    }

    /// Overwrites the fixed nodes of the piece of row `i` that starts at column `j0` of a grid
    /// `nx` columns wide (a tile's part of the row).
    #[inline]
    pub(crate) fn apply_piece(&self, i: usize, j0: usize, nx: usize, piece: &mut [f64]) {
        let row_value = match (i == 0, i + 1 == self.ny) {
            (true, true) => match (self.top, self.bottom) {
                (Some(a), Some(b)) => Some(0.5 * (a + b)),
                (a, b) => a.or(b),
            },
            (true, false) => self.top,
            (false, true) => self.bottom,
            (false, false) => None,
        };
        let (first, last) = (j0 == 0, j0 + piece.len() == nx);
        let n = piece.len();
        if n == 0 {
            return;
        }
        if let Some(g) = row_value {
            piece.fill(g);
            if let (Some(l), true) = (self.left, first) {
                piece[0] = 0.5 * (g + l);
            }
            if let (Some(r), true) = (self.right, last) {
                piece[n - 1] = 0.5 * (g + r);
            }
        } else {
            if let (Some(l), true) = (self.left, first) {
                piece[0] = l;
            }
            if let (Some(r), true) = (self.right, last) {
                piece[n - 1] = r;
            }
        }
    }
}

/// The constant part of `K (*) u` that a non-zero fixed value adds: the core pads a fixed side
/// with `-u[k]` (Antisymmetric), the boundary condition needs `2 g - u[k]`, so every tap that
/// reaches a ghost node on a fixed side contributes `w * 2 g`. Where the ghost lies beyond two
/// fixed sides (a corner) the two reflection orders give `u +- 2 (g_y - g_x)`; their mean, the
/// plain double reflection, needs no correction. Only nodes within the stencil radius of an edge
/// are touched.
pub(crate) fn dirichlet_correction(
    k: &Kernel2<f64>,
    g: &Grid,
    b: &BoundaryConditions,
) -> Option<Array2<f64>> {
    let (ny, nx) = g.shape();
    let fixed = FixedNodes::new(ny, b);
    if ![fixed.top, fixed.bottom, fixed.left, fixed.right]
        .iter()
        .any(|v| v.is_some_and(|v| v != 0.0))
    {
        return None;
    }
    let taps = k.taps();
    let [ay, ax] = k.anchor();
    let (ky, kx) = taps.dim();
    let mut c = Array2::zeros((ny, nx));
    for i in 0..ny {
        let near_y = i < ay || i + (ky - 1 - ay) >= ny;
        for j in 0..nx {
            let near_x = j < ax || j + (kx - 1 - ax) >= nx;
            if !(near_y || near_x) {
                continue;
            }
            let mut s = 0.0;
            for ((a, bb), &w) in taps.indexed_iter() {
                if w == 0.0 {
                    continue;
                }
                let yy = i as isize + a as isize - ay as isize;
                let xx = j as isize + bb as isize - ax as isize;
                let gy = if yy < 0 {
                    Some(fixed.top)
                } else if yy >= ny as isize {
                    Some(fixed.bottom)
                } else {
                    None
                };
                let gx = if xx < 0 {
                    Some(fixed.left)
                } else if xx >= nx as isize {
                    Some(fixed.right)
                } else {
                    None
                };
                let shift = match (gy, gx) {
                    (Some(Some(v)), None | Some(None)) | (None | Some(None), Some(Some(v))) => {
                        2.0 * v
                    }
                    _ => 0.0,
                };
                s += w * shift;
            }
            c[[i, j]] = s;
        }
    }
    Some(c)
}

/// The fused update of one row piece of a constant-coefficient explicit step:
/// `out = u + dt (conv + src)`, or `out = conv + src` for a whole-step stencil.
#[inline]
pub(crate) fn fused_update(
    whole_step: bool,
    dt: f64,
    conv: &[f64],
    u: &[f64],
    src: Option<&[f64]>,
    out: &mut [f64],
) {
    match src {
        Some(s) if whole_step => {
            for ((o, &c), &f) in out.iter_mut().zip(conv).zip(s) {
                *o = c + f;
            }
        }
        None if whole_step => out.copy_from_slice(conv),
        Some(s) => {
            for (((o, &c), &v), &f) in out.iter_mut().zip(conv).zip(u).zip(s) {
                *o = v + dt * (c + f);
            }
        }
        None => {
            for ((o, &c), &v) in out.iter_mut().zip(conv).zip(u) {
                *o = v + dt * c;
            }
        }
    }
}

/// The update of one row piece of the flux-form step: `out = u + dt (div_x + div_y)`, then
/// `+ dt f` (two roundings, as written).
#[inline]
pub(crate) fn flux_update(
    dt: f64,
    div_x: &[f64],
    div_y: &[f64],
    u: &[f64],
    src: Option<&[f64]>,
    out: &mut [f64],
) {
    for (((o, &a), &b), &v) in out.iter_mut().zip(div_x).zip(div_y).zip(u) {
        *o = v + dt * (a + b);
    }
    if let Some(s) = src {
        for (o, &f) in out.iter_mut().zip(s) {
            *o += dt * f;
        }
    }
}

/// Constant-coefficient explicit step: one fused pass `u_new = u + dt (K (*) u + s)`, or
/// `u_new = K (*) u + s` for a whole-step stencil.
#[derive(Debug)]
struct StencilStep {
    plan: ConvPlan<f64>,
    /// Source plus the fixed-value correction (`[u]/s`; for a whole step `dt f` plus the
    /// correction, in `[u]`), if any is non-zero.
    src: Option<Array2<f64>>,
    whole_step: bool,
}

/// Flux-form explicit step for a spatially varying `D` (four face-difference passes).
#[derive(Debug)]
struct FluxStep {
    /// `u[j+1] - u[j]` along x and y (anchor at the first tap).
    fwd_x: ConvPlan<f64>,
    fwd_y: ConvPlan<f64>,
    /// `F[j] - F[j-1]` along x and y (anchor at the second tap).
    bwd_x: ConvPlan<f64>,
    bwd_y: ConvPlan<f64>,
    faces_x: Array2<f64>,
    faces_y: Array2<f64>,
    flux_x: Array2<f64>,
    flux_y: Array2<f64>,
    div_y: Array2<f64>,
    src: Option<Array2<f64>>,
}

/// Exact heat-kernel step: `u <- H (*) u + s`.
#[derive(Debug)]
struct SpectralStep {
    plan: SpectralPlan<f64>,
    /// The exact contribution of the source over one step, `((1 - exp(-dt q)) / q) f`.
    src: Option<Array2<f64>>,
}

#[derive(Debug)]
enum Operator {
    Stencil(Box<StencilStep>),
    Flux(Box<FluxStep>),
    Spectral(Box<SpectralStep>),
}

/// Summary numbers of the current field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Diagnostics {
    /// Total mass `sum u dx dy` (`[u] m^2`).
    pub mass: f64,
    /// Smallest value of `u`.
    pub min: f64,
    /// Largest value of `u`.
    pub max: f64,
    /// `L2` norm `sqrt(sum u^2 dx dy)` (`[u] m`).
    pub l2: f64,
}

/// The diffusion solver. Built once from [`DiffusionParams`] and an initial field; every plan
/// and buffer is made at construction, [`DiffusionSolver::step`] allocates nothing.
///
/// ```
/// use convsim_diffusion::{DiffusionParams, DiffusionSolver};
/// use ndarray::Array2;
/// let p = DiffusionParams::gaussian_periodic(32, 0.1, 1.0);
/// let u0 = Array2::from_shape_fn((32, 32), |(i, j)| if (i, j) == (16, 16) { 1.0 } else { 0.0 });
/// let mut s = DiffusionSolver::new(p, u0).unwrap();
/// let m0 = s.measure().mass;
/// for _ in 0..10 {
///     s.step();
/// }
/// assert!((s.measure().mass - m0).abs() < 1e-14); // periodic: mass is conserved
/// assert!(s.measure().max < 1.0);                 // and the peak spreads
/// ```
#[derive(Debug)]
pub struct DiffusionSolver {
    pub(crate) params: DiffusionParams,
    pub(crate) u: Array2<f64>,
    next: Array2<f64>,
    op: Operator,
    fixed: FixedNodes,
    limit: Option<f64>,
    pub(crate) steps: u64,
    pub(crate) time: f64,
}

impl DiffusionSolver {
    /// Validates `params`, checks the stability limit, builds all plans and buffers, and
    /// takes `u0` (shape `(ny, nx)`, `[u]`) as the initial field. Nodes on fixed-value sides
    /// are set to their boundary values.
    ///
    /// # Errors
    /// Any [`DiffusionError`]: an invalid parameter or array, an unsupported combination, or
    /// [`DiffusionError::Unstable`] (with the limit) for an explicit `dt` that is too large.
    pub fn new(params: DiffusionParams, u0: Array2<f64>) -> Result<Self> {
        let limit = params.check_stable()?;
        Self::build(params, u0, limit)
    }

    /// As [`DiffusionSolver::new`] but accepts an explicit `dt` above the stability limit: for
    /// demonstrations and tests of the limit itself (the highest modes then grow every step).
    ///
    /// # Errors
    /// As [`DiffusionSolver::new`], except [`DiffusionError::Unstable`].
    pub fn new_allow_unstable(params: DiffusionParams, u0: Array2<f64>) -> Result<Self> {
        let limit = params.stability_limit()?;
        Self::build(params, u0, limit)
    }

    fn build(params: DiffusionParams, u0: Array2<f64>, limit: Option<f64>) -> Result<Self> {
        let g = params.grid;
        check_array(ParamPath::Initial("u"), u0.view(), &g, false)?;
        let (ny, nx) = g.shape();
        let bounds = boundaries_of(&params.boundaries);
        let fixed = FixedNodes::new(ny, &params.boundaries);
        let op = match (&params.scheme, &params.diffusivity) {
            (Scheme::Spectral, _) => Operator::Spectral(Box::new(Self::spectral(&params)?)),
            (_, Diffusivity::Field { d, face_average }) => {
                let faces = FaceDiffusivity::new(d.view(), *face_average, &g, &params.boundaries);
                let plan = |taps: Array2<f64>, anchor: [usize; 2], b: Boundaries| {
                    ConvPlan::builder([ny, nx], Kernel2::with_anchor(taps, anchor)?)
                        .boundaries(b)
                        .method(Method::Direct)
                        .build()
                };
                // The face fluxes beyond a non-periodic edge are zero (zero-flux) or feed a
                // fixed node only, so the backward differences pad the fluxes with zeros.
                let flux_bounds = Boundaries {
                    y: Sides::both(if faces.periodic[0] {
                        Boundary::Periodic
                    } else {
                        Boundary::Zero
                    }),
                    x: Sides::both(if faces.periodic[1] {
                        Boundary::Periodic
                    } else {
                        Boundary::Zero
                    }),
                };
                Operator::Flux(Box::new(FluxStep {
                    fwd_x: plan(ndarray::array![[-1.0, 1.0]], [0, 0], bounds)?,
                    fwd_y: plan(ndarray::array![[-1.0], [1.0]], [0, 0], bounds)?,
                    bwd_x: plan(ndarray::array![[-1.0, 1.0]], [0, 1], flux_bounds)?,
                    bwd_y: plan(ndarray::array![[-1.0], [1.0]], [1, 0], flux_bounds)?,
                    faces_x: faces.fx,
                    faces_y: faces.fy,
                    flux_x: Array2::zeros((ny, nx)),
                    flux_y: Array2::zeros((ny, nx)),
                    div_y: Array2::zeros((ny, nx)),
                    src: params.source.clone(),
                }))
            }
            _ => {
                let (k, whole_step) = match (params.scheme, &params.stencil) {
                    (Scheme::Stencil, Some(st)) => (
                        Kernel2::with_anchor(st.taps.clone(), st.anchor)?,
                        st.form == StencilForm::Step,
                    ),
                    _ => (stencil_kernel(&params)?, false),
                };
                let corr = dirichlet_correction(&k, &g, &params.boundaries);
                // A whole step adds dt f itself; the fixed-value correction is part of K (*) u.
                let f = if whole_step {
                    params.source.as_ref().map(|f| f * params.dt)
                } else {
                    params.source.clone()
                };
                let src = match (f, corr) {
                    (Some(f), Some(c)) => Some(f + c),
                    (f, c) => f.or(c),
                };
                let plan = ConvPlan::builder([ny, nx], k)
                    .boundaries(bounds)
                    .method(Method::Direct)
                    .build()?;
                Operator::Stencil(Box::new(StencilStep {
                    plan,
                    src,
                    whole_step,
                }))
            }
        };
        let next = match op {
            Operator::Spectral(_) => Array2::zeros((0, 0)),
            _ => Array2::zeros((ny, nx)),
        };
        let mut u = u0.as_standard_layout().into_owned();
        if fixed.any() {
            for (i, mut row) in u.outer_iter_mut().enumerate() {
                // Rows of a standard-layout array are contiguous.
                if let Some(r) = row.as_slice_mut() {
                    fixed.apply(i, r);
                }
            }
        }
        Ok(DiffusionSolver {
            params,
            u,
            next,
            op,
            fixed,
            limit,
            steps: 0,
            time: 0.0,
        })
    }

    pub(crate) fn spectral_source(p: &DiffusionParams) -> Result<Option<Array2<f64>>> {
        Ok(Self::spectral(p)?.src)
    }

    /// The decay rate `q(ky, kx)` of the heat kernel `exp(-dt q)` (spectral scheme).
    pub(crate) fn spectral_rate(p: &DiffusionParams) -> Result<impl Fn(f64, f64) -> f64 + Copy> {
        let (dxx, dyy, dxy) = match &p.diffusivity {
            Diffusivity::Constant { d } => (*d, *d, 0.0),
            Diffusivity::Tensor { dxx, dyy, dxy } => (*dxx, *dyy, *dxy),
            Diffusivity::Field { .. } => {
                return Err(invalid(
                    ParamPath::table("scheme"),
                    "spectral",
                    "explicit order 2 with a spatially varying diffusivity",
                ));
            }
        };
        Ok(move |ky: f64, kx: f64| dxx * kx * kx + dyy * ky * ky + 2.0 * dxy * kx * ky)
    }

    fn spectral(p: &DiffusionParams) -> Result<SpectralStep> {
        let g = &p.grid;
        let dt = p.dt;
        let q = Self::spectral_rate(p)?;
        let shape = [g.ny, g.nx];
        let spacing = [g.dy, g.dx];
        let plan = SpectralPlan::<f64>::new(shape, spacing, |ky, kx| {
            Complex64::new((-dt * q(ky, kx)).exp(), 0.0)
        })?;
        let src = match &p.source {
            None => None,
            Some(f) => {
                // u(t + dt) = e^{dt A} u + A^{-1} (e^{dt A} - 1) f, per mode
                // (1 - e^{-dt q}) / q, which tends to dt at q = 0 (the mean grows by f dt).
                let mut phi = SpectralPlan::<f64>::new(shape, spacing, |ky, kx| {
                    let qq = q(ky, kx);
                    let v = if qq * dt < 1e-300 {
                        dt
                    } else {
                        -(-dt * qq).exp_m1() / qq
                    };
                    Complex64::new(v, 0.0)
                })?;
                let mut s = f.as_standard_layout().into_owned();
                phi.apply_inplace(s.view_mut());
                Some(s)
            }
        };
        Ok(SpectralStep { plan, src })
    }

    /// Advances one time step. Allocates nothing.
    ///
    /// # Panics
    /// Never in practice: the solver keeps its arrays contiguous (checked by `expect`).
    pub fn step(&mut self) {
        let dt = self.params.dt;
        let nx = self.params.grid.nx;
        let fixed = self.fixed;
        match &mut self.op {
            Operator::Stencil(op) => {
                let u = self.u.as_slice().expect("u is kept in standard layout");
                let src = op
                    .src
                    .as_ref()
                    .map(|s| s.as_slice().expect("standard layout"));
                let has_fixed = fixed.any();
                let whole_step = op.whole_step;
                op.plan
                    .apply_with(self.u.view(), self.next.view_mut(), |i, conv, out| {
                        let r = i * nx..(i + 1) * nx;
                        fused_update(whole_step, dt, conv, &u[r.clone()], src.map(|s| &s[r]), out);
                        if has_fixed {
                            fixed.apply(i, out);
                        }
                    });
                std::mem::swap(&mut self.u, &mut self.next);
            }
            Operator::Flux(op) => {
                let op = &mut **op;
                let faces_x = op.faces_x.as_slice().expect("standard layout");
                let faces_y = op.faces_y.as_slice().expect("standard layout");
                op.fwd_x
                    .apply_with(self.u.view(), op.flux_x.view_mut(), |i, d, out| {
                        for ((o, &d), &w) in out.iter_mut().zip(d).zip(&faces_x[i * nx..]) {
                            *o = w * d;
                        }
                    });
                op.fwd_y
                    .apply_with(self.u.view(), op.flux_y.view_mut(), |i, d, out| {
                        for ((o, &d), &w) in out.iter_mut().zip(d).zip(&faces_y[i * nx..]) {
                            *o = w * d;
                        }
                    });
                op.bwd_y.apply(op.flux_y.view(), op.div_y.view_mut());
                let u = self.u.as_slice().expect("standard layout");
                let div_y = op.div_y.as_slice().expect("standard layout");
                let src = op
                    .src
                    .as_ref()
                    .map(|s| s.as_slice().expect("standard layout"));
                op.bwd_x
                    .apply_with(op.flux_x.view(), self.next.view_mut(), |i, dx, out| {
                        let r = i * nx..(i + 1) * nx;
                        let s = src.map(|s| &s[r.clone()]);
                        flux_update(dt, dx, &div_y[r.clone()], &u[r], s, out);
                        fixed.apply(i, out);
                    });
                std::mem::swap(&mut self.u, &mut self.next);
            }
            Operator::Spectral(op) => {
                op.plan.apply_inplace(self.u.view_mut());
                if let Some(s) = &op.src {
                    self.u += s;
                }
            }
        }
        self.steps += 1;
        self.time = self.steps as f64 * dt;
    }

    /// The current field `u` (`[u]`), shape `(ny, nx)`.
    #[must_use]
    pub fn u(&self) -> ArrayView2<'_, f64> {
        self.u.view()
    }

    /// The parameters the solver was built from.
    #[must_use]
    pub fn params(&self) -> &DiffusionParams {
        &self.params
    }

    /// The explicit stability limit (s) checked at construction; `None` for the spectral
    /// scheme.
    #[must_use]
    pub fn stability_limit(&self) -> Option<f64> {
        self.limit
    }

    /// Steps taken so far.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Simulation time `steps * dt` (s).
    #[must_use]
    pub fn time(&self) -> f64 {
        self.time
    }

    /// Mass, min, max and L2 norm of the current field. The sums are exact (rounded once,
    /// [`convsim_core::sum::ExactSum`]): conservation checks see the scheme, not the
    /// summation, and a distributed run gets the same bits from its tiles.
    #[must_use]
    pub fn measure(&self) -> Diagnostics {
        let raw: Vec<f64> = crate::tile::partials(self.u.view())
            .iter()
            .map(convsim_core::Partial::value)
            .collect();
        let mut d = [0.0; 4];
        diagnostics_from(&self.params.grid, &raw, &mut d);
        Diagnostics {
            mass: d[0],
            min: d[1],
            max: d[2],
            l2: d[3],
        }
    }
}
