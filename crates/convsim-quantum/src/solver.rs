//! The solver: construction, validation, the split-step and finite-difference steps,
//! imaginary-time relaxation.

use std::sync::Mutex;

use convsim_core::spectral::mul_line_scaled;
use convsim_core::stencil::{central_weights, laplacian};
use convsim_core::{
    AxisFactors, Boundary, Complex64, ConvPlan, Grid, Kernel2, Method as ConvMethod, Sides, Source,
    SpectralPlan,
};
use ndarray::{Array2, ArrayView2, Axis, Zip};
use rayon::prelude::*;

use crate::error::{QuantumError, Result, finite, invalid, positive};
use crate::observe::{Flux, Observer};
use crate::params::{Evolution, Method, QuantumParams, TimeProfile};
use crate::potential::{absorber_rate, sample};
use crate::state::{cell_measure, norm};

/// Yoshida's triple-jump weights: `w1 = 1 / (2 - 2^(1/3))`, `w0 = 1 - 2 w1` (negative).
pub(crate) fn yoshida_weights() -> (f64, f64) {
    let c = 2f64.cbrt();
    let w1 = 1.0 / (2.0 - c);
    (w1, 1.0 - 2.0 * w1)
}

/// One merged potential sub-step: `exp(-i dt sum_a a (V(t + tau_a dt) + g |psi|^2))`, as a list
/// of `(a, tau)` (potential sub-steps commute, so neighbours merge exactly).
#[derive(Clone, Debug)]
struct PotStep {
    parts: Vec<(f64, f64)>,
    /// `sum a`.
    total: f64,
    /// Index of the precomputed factor (static, linear problems).
    factor: usize,
}

/// Split-step Fourier engine.
struct SplitStep {
    /// Kinetic propagators, one per distinct weight.
    kinetic: Vec<SpectralPlan<Complex64>>,
    /// `pots[0] K[kin[0]] pots[1] K[kin[1]] ... pots[s]`.
    pots: Vec<PotStep>,
    kin: Vec<usize>,
    /// `exp(-(i V + W) a dt)` (real time) or `exp(-V a dt)` (imaginary time) per distinct `a`,
    /// when the potential is static and `g = 0`; empty otherwise.
    factors: Vec<Factor>,
    /// Real-time Strang with static factors: the full-step factor `exp(-(i V + W) dt)` that
    /// replaces the two half steps met between consecutive steps in [`QuantumSolver::advance`];
    /// `None` otherwise.
    merged: Option<Factor>,
    /// Imaginary time with `g != 0`: the half-step factor `exp(-(V + g |psi_n|^2) dt / 2)`
    /// frozen at the step's start and used for both halves, so that the step is a symmetric
    /// (Strang) splitting of a linear operator and its fixed point is the self-consistent
    /// ground state up to O(dt^2); empty otherwise.
    frozen: Array2<f64>,
}

/// Finite-difference engine: RK4 on `-i H_h psi` with `H_h = -(1/2m) L_h + V + g |psi|^2`.
struct FiniteDiff {
    /// Convolution by `-(1/2m) L_h` (the kinetic operator).
    plan: ConvPlan<Complex64>,
    k: Array2<Complex64>,
    stage: Array2<Complex64>,
    acc: Array2<Complex64>,
    /// The stability limit enforced at build time.
    dt_max: f64,
}

// Boxing the split-step engine too would add an indirection on the hot path for no gain: there
// is exactly one engine per solver.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Split(SplitStep),
    Fd(Box<FiniteDiff>),
}

/// Imaginary-time bookkeeping.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Relax {
    pub(crate) tolerance: f64,
    pub(crate) energy: f64,
    pub(crate) change: f64,
}

/// Summary of an imaginary-time relaxation ([`QuantumSolver::relax`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RelaxReport {
    /// Steps taken by this call.
    pub steps: u64,
    /// Energy `<H>` of the final (normalised) state.
    pub energy: f64,
    /// Rate of energy change `|dE / dtau|` over the last step.
    pub change: f64,
    /// `true` if the rate fell below the tolerance.
    pub converged: bool,
}

/// Time-dependent Schroedinger / Gross-Pitaevskii solver,
/// `i psi_t = -(1/2m) Lap psi + V psi + g |psi|^2 psi` (`hbar = 1`).
///
/// Built from [`QuantumParams`] and an initial state (normalised to 1 here); [`step`] advances
/// one time step without allocating. Observables are computed on demand
/// ([`QuantumSolver::observables`]).
///
/// ```
/// use convsim_core::Grid;
/// use convsim_quantum::{Method, QuantumParams, QuantumSolver, Wavepacket};
/// let grid = Grid { ny: 1, nx: 256, dy: 1.0, dx: 0.2, y0: 0.0, x0: -25.6 };
/// let p = QuantumParams {
///     grid, dt: 0.01, mass: 1.0, g: 0.0, method: Method::Strang,
///     evolution: Default::default(), potential: vec![], drive: None, absorber: None,
///     flux_line: None,
/// };
/// let psi0 = Wavepacket { center_x: 0.0, center_y: 0.0, sigma_x: 1.0, sigma_y: None,
///                         k_x: 1.0, k_y: 0.0 }.sample(&grid).unwrap();
/// let mut s = QuantumSolver::new(p, psi0).unwrap();
/// for _ in 0..100 { s.step(); }
/// let o = s.observables();
/// assert!((o.norm - 1.0).abs() < 1e-12);       // unitary
/// assert!((o.x_mean - 1.0).abs() < 1e-9);      // <x> = k t / m
/// ```
///
/// [`step`]: QuantumSolver::step
pub struct QuantumSolver {
    pub(crate) params: QuantumParams,
    pub(crate) grid: Grid,
    pub(crate) psi: Array2<Complex64>,
    /// Static real potential.
    pub(crate) v: Array2<f64>,
    /// Drive shape and profile.
    pub(crate) drive: Option<(Array2<f64>, TimeProfile)>,
    /// Absorption rate `W` (the potential's imaginary part is `-W`).
    pub(crate) cap: Option<Array2<f64>>,
    engine: Engine,
    pub(crate) time: f64,
    pub(crate) steps: u64,
    pub(crate) flux: Option<Flux>,
    pub(crate) relax: Option<Relax>,
    pub(crate) observer: Mutex<Option<Observer>>,
    /// Per-row partial sums (deterministic reductions whatever the thread count).
    row_sums: Vec<f64>,
}

impl std::fmt::Debug for QuantumSolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantumSolver")
            .field("method", &self.params.method.name())
            .field("grid", &self.grid)
            .field("time", &self.time)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

/// Checks the grid.
fn check_grid(g: &Grid) -> Result<()> {
    if g.nx < 2 {
        return Err(invalid("grid.nx", g.nx, "at least 2 samples"));
    }
    if g.ny == 0 {
        return Err(invalid("grid.ny", g.ny, "at least 1 (1 = a 1D problem)"));
    }
    positive("grid.dx", g.dx)?;
    finite("grid.x0", g.x0)?;
    if g.ny > 1 {
        positive("grid.dy", g.dy)?;
        finite("grid.y0", g.y0)?;
    }
    Ok(())
}

/// The RK4 stability polynomial `R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24`.
fn rk4_amplification(z: Complex64) -> f64 {
    (1.0 + z * (1.0 + z * (0.5 + z * (1.0 / 6.0 + z / 24.0)))).norm()
}

/// Largest `h` such that RK4 is stable (`|R| <= 1`) on the rectangle `Re in [-a h, 0]`,
/// `Im in [-b h, b h]`, which contains the numerical range of `-i (H - i W)` when `b` bounds
/// `|H|` and `a` bounds `W`. With `a = 0` this is the exact `2 sqrt 2 / b`.
pub(crate) fn rk4_limit_rectangle(a: f64, b: f64) -> f64 {
    if b <= 0.0 && a <= 0.0 {
        return f64::INFINITY;
    }
    if a <= 0.0 {
        return 2.0 * 2f64.sqrt() / b;
    }
    // |R| is subharmonic, so |R| <= 1 on the rectangle iff on its boundary; sample it densely and
    // bisect on h.
    let ok = |h: f64| {
        let n = 400;
        (0..=n).all(|s| {
            let f = f64::from(s) / f64::from(n);
            let (re, im) = (-a * h, b * h);
            [
                Complex64::new(re * f, im),
                Complex64::new(re * f, -im),
                Complex64::new(re, im * (2.0 * f - 1.0)),
                Complex64::new(0.0, im * (2.0 * f - 1.0)),
            ]
            .iter()
            .all(|&z| rk4_amplification(z) <= 1.0 + 1e-12)
        })
    };
    let mut hi = 2.0 * 2f64.sqrt() / b.max(1e-300);
    hi = hi.min(2.8 / a);
    let mut lo = 0.0;
    if ok(hi) {
        return hi;
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The negative real root of `|R(x)| = 1` for RK4 (`x ~ -2.785`): the real-axis stability
/// limit (imaginary-time evolution, where `-H` has a real spectrum).
pub(crate) fn rk4_real_limit() -> f64 {
    let (mut lo, mut hi) = (2.0, 3.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if rk4_amplification(Complex64::new(-mid, 0.0)) <= 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Largest value of the symbol `-sum_j w_j cos(j theta)` of a central second-difference stencil
/// `w` over `theta in [0, pi]` (sampled densely, `pi` included): the largest eigenvalue of `-L`
/// on unit spacing.
pub(crate) fn second_difference_symbol_max(w: &[f64]) -> f64 {
    let r = (w.len() - 1) / 2;
    let n = 4096;
    (0..=n)
        .map(|s| {
            let th = std::f64::consts::PI * f64::from(s) / f64::from(n);
            -w.iter()
                .enumerate()
                .map(|(j, wj)| wj * ((j as f64 - r as f64) * th).cos())
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

impl QuantumSolver {
    /// Validates `params` and `psi0`, samples the potentials, normalises `psi0` to 1 and builds
    /// every plan and buffer.
    ///
    /// # Errors
    /// Any [`QuantumError`]: a bad parameter (named), an initial state of the wrong shape,
    /// with NaN, or zero; an unstable `dt` on the finite-difference path; an unsupported
    /// combination (imaginary time with Yoshida4, a drive or an absorber).
    pub fn new(params: QuantumParams, psi0: Array2<Complex64>) -> Result<Self> {
        let grid = params.grid;
        check_grid(&grid)?;
        positive("dt", params.dt)?;
        positive("mass", params.mass)?;
        finite("g", params.g)?;
        let (ny, nx) = grid.shape();
        let one_d = ny == 1;
        if psi0.dim() != (ny, nx) {
            return Err(QuantumError::Shape {
                name: "initial state".into(),
                expected: [ny, nx],
                actual: [psi0.nrows(), psi0.ncols()],
            });
        }
        if let Some(((i, j), v)) = psi0.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(QuantumError::NonFinite {
                name: "initial state".into(),
                value: if v.re.is_finite() { v.im } else { v.re },
                at: [i, j],
            });
        }
        let imaginary = match params.evolution {
            Evolution::Real => None,
            Evolution::Imaginary { tolerance } => Some(positive("evolution.tolerance", tolerance)?),
        };
        if imaginary.is_some() {
            let why = |what: &str, why: &str| QuantumError::Unsupported {
                what: format!("imaginary-time evolution with {what}"),
                why: why.into(),
            };
            if params.method == Method::Yoshida4 {
                return Err(why(
                    "method yoshida4",
                    "its negative sub-step makes the kinetic factor exp(+k^2 |w| dt / 2m) grow \
                     without bound; use strang (or finite_difference)",
                ));
            }
            if params.drive.is_some() {
                return Err(why("a drive", "a ground state needs a static potential"));
            }
            if params.absorber.is_some() {
                return Err(why(
                    "an absorber",
                    "a ground state needs a Hermitian Hamiltonian",
                ));
            }
        }
        let v = sample("potential", &params.potential, &grid, params.mass)?;
        let drive = match &params.drive {
            None => None,
            Some(d) => {
                d.profile.validate("drive.profile")?;
                Some((
                    sample("drive.shape", &d.shape, &grid, params.mass)?,
                    d.profile.clone(),
                ))
            }
        };
        let cap = params
            .absorber
            .as_ref()
            .map(|a| absorber_rate(a, &grid))
            .transpose()?;

        // The state streams through memory every step: back it with huge pages (a 1024^2
        // complex128 state spans 4096 small pages; the column passes touch each row's page).
        let mut psi = convsim_core::memory::zeros::<Complex64>((ny, nx));
        psi.assign(&psi0);
        drop(psi0);
        if let Method::FiniteDifference { boundaries, .. } = params.method {
            // Hard walls on the edge samples: psi = 0 there, which the antisymmetric padding
            // then keeps exactly.
            if boundaries.x.lo == Boundary::Antisymmetric {
                psi.column_mut(0).fill(Complex64::ZERO);
            }
            if boundaries.x.hi == Boundary::Antisymmetric {
                psi.column_mut(nx - 1).fill(Complex64::ZERO);
            }
            if !one_d && boundaries.y.lo == Boundary::Antisymmetric {
                psi.row_mut(0).fill(Complex64::ZERO);
            }
            if !one_d && boundaries.y.hi == Boundary::Antisymmetric {
                psi.row_mut(ny - 1).fill(Complex64::ZERO);
            }
        }
        let n0 = norm(&psi, &grid);
        if !(n0 > 0.0 && n0.is_finite()) {
            return Err(QuantumError::NotNormalisable { norm: n0 });
        }
        let s = 1.0 / n0.sqrt();
        psi.mapv_inplace(|z| z * s);

        let engine = match params.method {
            Method::Strang | Method::Yoshida4 => Engine::Split(build_split(
                &params,
                &v,
                cap.as_ref(),
                drive.is_some(),
                imaginary.is_some(),
            )?),
            Method::FiniteDifference { order, boundaries } => Engine::Fd(Box::new(build_fd(
                &params,
                order,
                boundaries,
                &v,
                drive.as_ref(),
                cap.as_ref(),
                &psi,
                imaginary.is_some(),
            )?)),
        };
        let flux = params
            .flux_line
            .map(|line| Flux::new(&line, &grid, &params.method, params.mass, cap.as_ref()))
            .transpose()?;
        let mut solver = QuantumSolver {
            params,
            grid,
            psi,
            v,
            drive,
            cap,
            engine,
            time: 0.0,
            steps: 0,
            flux,
            relax: None,
            observer: Mutex::new(None),
            row_sums: vec![0.0; ny],
        };
        if let Some(f) = solver.flux.as_mut() {
            f.p0 = f.p_beyond(&solver.psi);
            f.rate = f.sink_rate(&solver.psi);
        }
        if let Some(tolerance) = imaginary {
            let e = solver.energy_only();
            solver.relax = Some(Relax {
                tolerance,
                energy: e,
                change: f64::INFINITY,
            });
        }
        Ok(solver)
    }

    /// The parameters the solver was built from.
    #[must_use]
    pub fn params(&self) -> &QuantumParams {
        &self.params
    }

    /// The wavefunction, shape `(ny, nx)`.
    #[must_use]
    pub fn psi(&self) -> ArrayView2<'_, Complex64> {
        self.psi.view()
    }

    /// The static real potential on the grid (without drive or absorber).
    #[must_use]
    pub fn potential(&self) -> ArrayView2<'_, f64> {
        self.v.view()
    }

    /// The absorption rate `W` of the absorber, if any.
    #[must_use]
    pub fn absorber(&self) -> Option<ArrayView2<'_, f64>> {
        self.cap.as_ref().map(|c| c.view())
    }

    /// Current time (imaginary time in imaginary-time evolution).
    #[must_use]
    pub fn time(&self) -> f64 {
        self.time
    }

    /// Steps taken.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The largest stable `dt` of the finite-difference path (`None` for split-step, which is
    /// unconditionally stable).
    #[must_use]
    pub fn dt_max(&self) -> Option<f64> {
        match &self.engine {
            Engine::Fd(fd) => Some(fd.dt_max),
            Engine::Split(_) => None,
        }
    }

    /// Drive amplitude `profile(t)` (0 without a drive).
    pub(crate) fn drive_at(&self, t: f64) -> f64 {
        self.drive.as_ref().map_or(0.0, |(_, p)| p.at(t))
    }

    /// Advances one step (real or imaginary time). Allocates nothing.
    pub fn step(&mut self) {
        let imaginary = self.relax.is_some();
        match &mut self.engine {
            Engine::Split(ss) => split_step(
                ss,
                &mut self.psi,
                &self.v,
                self.drive.as_ref(),
                self.cap.as_ref(),
                self.params.g,
                self.params.dt,
                self.time,
                imaginary,
            ),
            Engine::Fd(fd) => fd_step(
                fd,
                &mut self.psi,
                &self.v,
                self.drive.as_ref(),
                self.cap.as_ref(),
                self.params.g,
                self.params.dt,
                self.time,
                imaginary,
            ),
        }
        self.steps += 1;
        self.time = self.steps as f64 * self.params.dt;
        if imaginary {
            self.renormalise();
            let e = self.energy_only();
            if let Some(r) = self.relax.as_mut() {
                r.change = (e - r.energy).abs() / self.params.dt;
                r.energy = e;
            }
        }
        if let Some(f) = self.flux.as_mut() {
            let r = f.sink_rate(&self.psi);
            f.absorbed += 0.5 * (f.rate + r) * self.params.dt;
            f.rate = r;
        }
    }

    /// Advances `n` steps; the same as calling [`step`](Self::step) `n` times, but faster when
    /// nothing is needed between the steps. Allocates nothing.
    ///
    /// For real-time Strang splitting with a static, linear Hamiltonian (no drive, `g = 0`) and
    /// no flux line, the half potential steps that meet between consecutive steps are merged
    /// into one full step, `exp(-i V dt / 2) exp(-i V dt / 2) = exp(-i V dt)`, applied inside
    /// the row pass between the inverse transform of one step and the forward transform of the
    /// next: each step is then one pass over the rows and one over the columns. The result
    /// equals `n` calls of `step` to rounding (about `1e-16` relative per step). Every other
    /// configuration simply calls `step` `n` times.
    ///
    /// # Panics
    /// Never for a solver built by this crate (its factor arrays are in standard layout).
    pub fn advance(&mut self, n: u64) {
        let fast = self.relax.is_none() && self.flux.is_none();
        match &mut self.engine {
            Engine::Split(ss) if fast && n > 1 && ss.merged.is_some() => {
                let half = &ss.factors[ss.pots[0].factor];
                let full = ss.merged.as_ref().expect("checked by the match guard");
                let apply = |i: usize, r: &mut [Complex64]| half.apply_row(i, r);
                let mid = |i: usize, r: &mut [Complex64]| full.apply_row(i, r);
                let plan = &mut ss.kinetic[0];
                let psi = &mut self.psi;
                convsim_core::sim::in_usize_chunks(n, |k| {
                    if let (
                        Factor::Outer { col: hc, row: hr },
                        Factor::Outer { col: fc, row: fr },
                    ) = (half, full)
                    {
                        // V = f(y) + g(x): the x and y halves of every step commute, so all k
                        // steps run line by line in cache (`SpectralPlan::apply_axis_steps`).
                        let y = AxisFactors {
                            pre: hc,
                            mid: fc,
                            post: hc,
                        };
                        let x = AxisFactors {
                            pre: hr,
                            mid: fr,
                            post: hr,
                        };
                        plan.apply_axis_steps(psi.view_mut(), k, y, x);
                    } else {
                        plan.apply_steps(psi.view_mut(), k, apply, mid, apply);
                    }
                });
                self.steps += n;
                self.time = self.steps as f64 * self.params.dt;
            }
            _ => {
                for _ in 0..n {
                    self.step();
                }
            }
        }
    }

    /// Scales `psi` to unit norm (deterministic row-wise reduction).
    fn renormalise(&mut self) {
        let n = norm_of(&self.psi, &mut self.row_sums, cell_measure(&self.grid));
        let s = 1.0 / n.sqrt();
        self.psi.par_mapv_inplace(|z| z * s);
    }

    /// Runs imaginary-time steps until the energy changes at a rate `|dE / dtau|` below the
    /// tolerance, or `max_steps` steps.
    ///
    /// # Errors
    /// [`QuantumError::Unsupported`] unless the solver was built with
    /// [`Evolution::Imaginary`].
    pub fn relax(&mut self, max_steps: u64) -> Result<RelaxReport> {
        let Some(r0) = self.relax else {
            return Err(QuantumError::Unsupported {
                what: "relax() in real-time evolution".into(),
                why: "build the solver with evolution = imaginary".into(),
            });
        };
        let mut n = 0;
        while n < max_steps {
            self.step();
            n += 1;
            if self.relax.is_some_and(|r| r.change < r0.tolerance) {
                break;
            }
        }
        let r = self.relax.unwrap_or(r0);
        Ok(RelaxReport {
            steps: n,
            energy: r.energy,
            change: r.change,
            converged: r.change < r.tolerance,
        })
    }

    /// `true` once an imaginary-time relaxation has converged (always `false` in real time).
    #[must_use]
    pub fn converged(&self) -> bool {
        self.relax.is_some_and(|r| r.change < r.tolerance)
    }

    /// Replaces the wavefunction (e.g. a ground state found by an imaginary-time solver) without
    /// renormalising, and restarts the transmission bookkeeping from it.
    ///
    /// # Panics
    /// If `psi` does not have the grid's shape.
    pub fn set_psi(&mut self, psi: ArrayView2<'_, Complex64>) {
        assert_eq!(
            psi.dim(),
            self.psi.dim(),
            "set_psi: shape (actual, expected)"
        );
        self.psi.assign(&psi);
        if let Some(f) = self.flux.as_mut() {
            f.p0 = f.p_beyond(&self.psi);
            f.absorbed = 0.0;
            f.rate = f.sink_rate(&self.psi);
        }
    }
}

/// `sum |psi|^2 dA` with a deterministic row-wise reduction into `rows`.
fn norm_of(psi: &Array2<Complex64>, rows: &mut [f64], da: f64) -> f64 {
    psi.axis_iter(Axis(0))
        .into_par_iter()
        .zip(rows.par_iter_mut())
        .for_each(|(row, s)| *s = row.iter().map(Complex64::norm_sqr).sum());
    rows.iter().sum::<f64>() * da
}

/// Builds the split-step engine.
fn build_split(
    p: &QuantumParams,
    v: &Array2<f64>,
    cap: Option<&Array2<f64>>,
    has_drive: bool,
    imaginary: bool,
) -> Result<SplitStep> {
    let g = p.grid;
    let (m, dt) = (p.mass, p.dt);
    let (weights, pots): (Vec<f64>, Vec<Vec<(f64, f64)>>) = match p.method {
        Method::Yoshida4 => {
            let (w1, w0) = yoshida_weights();
            let t1 = 0.5 * w1;
            let t2 = w1 + 0.5 * w0;
            let t3 = w1 + w0 + 0.5 * w1;
            (
                vec![w1, w0, w1],
                vec![
                    vec![(0.5 * w1, t1)],
                    vec![(0.5 * w1, t1), (0.5 * w0, t2)],
                    vec![(0.5 * w0, t2), (0.5 * w1, t3)],
                    vec![(0.5 * w1, t3)],
                ],
            )
        }
        _ => (vec![1.0], vec![vec![(0.5, 0.5)], vec![(0.5, 0.5)]]),
    };
    // One kinetic plan per distinct weight.
    let mut kw: Vec<f64> = Vec::new();
    let mut kin = Vec::new();
    for w in &weights {
        let idx = kw.iter().position(|x| x == w).unwrap_or_else(|| {
            kw.push(*w);
            kw.len() - 1
        });
        kin.push(idx);
    }
    let spacing = [if g.ny == 1 { 1.0 } else { g.dy }, g.dx];
    let kinetic = kw
        .iter()
        .map(|&w| {
            let tau = w * dt / (2.0 * m);
            // exp(-I (ky^2 + kx^2) tau) = exp(-I ky^2 tau) exp(-I kx^2 tau): a separable plan
            // keeps two vectors instead of an ny x nx table.
            let h = move |k: f64| {
                if imaginary {
                    Complex64::new((-k * k * tau).exp(), 0.0)
                } else {
                    Complex64::from_polar(1.0, -k * k * tau)
                }
            };
            SpectralPlan::<Complex64>::new_separable([g.ny, g.nx], spacing, h, h)
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let dynamic = has_drive || p.g != 0.0;
    let mut totals: Vec<f64> = Vec::new();
    let mut pot_steps = Vec::new();
    for parts in pots {
        let total: f64 = parts.iter().map(|(a, _)| a).sum();
        let factor = totals.iter().position(|x| *x == total).unwrap_or_else(|| {
            totals.push(total);
            totals.len() - 1
        });
        pot_steps.push(PotStep {
            parts,
            total,
            factor,
        });
    }
    let factors = if dynamic {
        Vec::new()
    } else {
        totals
            .iter()
            .map(|&a| Factor::new(v, cap, a * dt, imaginary))
            .collect()
    };
    let merged = (!dynamic && !imaginary && p.method == Method::Strang)
        .then(|| Factor::new(v, cap, dt, false));
    let frozen = if imaginary && p.g != 0.0 {
        Array2::zeros((g.ny, g.nx))
    } else {
        Array2::zeros((0, 0))
    };
    Ok(SplitStep {
        kinetic,
        pots: pot_steps,
        kin,
        factors,
        merged,
        frozen,
    })
}

/// A precomputed potential sub-step factor `exp(-(I V + W) h)` (real time, `W` the absorber) or
/// `exp(-V h)` (imaginary time).
enum Factor {
    /// Row-major `(ny, nx)`.
    Full(Array2<Complex64>),
    /// `V` and `W` are sums `f(y) + g(x)` (harmonic traps, barriers and lattices along the axes,
    /// edge absorbers): the factor is the outer product `col[i] row[j]`, kept as two vectors so
    /// that a step streams only `psi` through memory.
    Outer {
        col: Vec<Complex64>,
        row: Vec<Complex64>,
    },
    /// `V + W = f(y) + g(x) + r(y, x)` with `r` zero outside a box (a trap with a bump, a
    /// barrier with slits, a localised obstacle): the outer product of `f` and `g` times the
    /// factor of `r` on the box only. A step then streams `psi` and the box's factors instead
    /// of a full table.
    Patched {
        col: Vec<Complex64>,
        row: Vec<Complex64>,
        /// Rows and columns `[r0, r1) x [c0, c1)` of the box.
        rows: (usize, usize),
        cols: (usize, usize),
        patch: Array2<Complex64>,
    },
}

/// `a = f(y) + g(x) + r` with `r` zero (to rounding) outside `[r0, r1) x [c0, c1)`.
struct Split {
    f: Vec<f64>,
    g: Vec<f64>,
    rows: (usize, usize),
    cols: (usize, usize),
    /// `r` on the box (empty box: `a` is a sum of axis terms).
    r: Array2<f64>,
}

impl Split {
    /// The box's residual at `(i, j)` (0 outside it).
    fn r(&self, i: usize, j: usize) -> f64 {
        if (self.rows.0..self.rows.1).contains(&i) && (self.cols.0..self.cols.1).contains(&j) {
            self.r[[i - self.rows.0, j - self.cols.0]]
        } else {
            0.0
        }
    }
}

impl Factor {
    fn new(v: &Array2<f64>, cap: Option<&Array2<f64>>, h: f64, imaginary: bool) -> Self {
        // The factor at one point, or one axis factor of an outer product.
        let at = |vv: f64, w: f64| {
            let damp = (-w * h).exp();
            if imaginary {
                Complex64::new((-vv * h).exp() * damp, 0.0)
            } else {
                Complex64::from_polar(damp, -vv * h)
            }
        };
        // Each factor of the product must stay finite on its own (their product always does),
        // which bounds the real parts of their exponents.
        let bounded = |s: &Split| {
            s.f.iter()
                .chain(&s.g)
                .chain(&s.r)
                .all(|x| (x * h).abs() < 300.0)
        };
        let sv = additive_patch(v).filter(|s| !imaginary || bounded(s));
        let sw = match cap {
            None => Some(None),
            Some(w) => additive_patch(w).filter(bounded).map(Some),
        };
        if let (Some(sv), Some(sw)) = (sv, sw) {
            let (ny, nx) = v.dim();
            let wf = |i: usize| sw.as_ref().map_or(0.0, |s| s.f[i]);
            let wg = |j: usize| sw.as_ref().map_or(0.0, |s| s.g[j]);
            let col = (0..ny).map(|i| at(sv.f[i], wf(i))).collect();
            let row = (0..nx).map(|j| at(sv.g[j], wg(j))).collect();
            // The union of the two boxes.
            let boxes = std::iter::once(&sv).chain(sw.as_ref());
            let nonempty: Vec<&Split> = boxes.filter(|s| !s.r.is_empty()).collect();
            if nonempty.is_empty() {
                return Factor::Outer { col, row };
            }
            let rows = (
                nonempty.iter().map(|s| s.rows.0).min().expect("non-empty"),
                nonempty.iter().map(|s| s.rows.1).max().expect("non-empty"),
            );
            let cols = (
                nonempty.iter().map(|s| s.cols.0).min().expect("non-empty"),
                nonempty.iter().map(|s| s.cols.1).max().expect("non-empty"),
            );
            let wr = |i: usize, j: usize| sw.as_ref().map_or(0.0, |s| s.r(i, j));
            let patch = Array2::from_shape_fn((rows.1 - rows.0, cols.1 - cols.0), |(a, b)| {
                let (i, j) = (rows.0 + a, cols.0 + b);
                at(sv.r(i, j), wr(i, j))
            });
            return Factor::Patched {
                col,
                row,
                rows,
                cols,
                patch,
            };
        }
        let mut f = Array2::zeros(v.dim());
        match cap {
            Some(w) => Zip::from(&mut f)
                .and(v)
                .and(w)
                .for_each(|f, &vv, &w| *f = at(vv, w)),
            None => Zip::from(&mut f).and(v).for_each(|f, &vv| *f = at(vv, 0.0)),
        }
        Factor::Full(f)
    }

    /// Multiplies row `i` of `psi` by the factor's row `i`.
    fn apply_row(&self, i: usize, row: &mut [Complex64]) {
        match self {
            Factor::Full(f) => {
                let f = f.row(i);
                let f = f
                    .as_slice()
                    .expect("potential factors are built in standard layout");
                mul_line_scaled(row, f, None);
            }
            Factor::Outer { col, row: fr } => outer_row(col[i], fr, row),
            Factor::Patched {
                col,
                row: fr,
                rows,
                cols,
                patch,
            } => {
                outer_row(col[i], fr, row);
                if (rows.0..rows.1).contains(&i) {
                    let pr = patch.row(i - rows.0);
                    let pr = pr.as_slice().expect("patches are built in standard layout");
                    mul_line_scaled(&mut row[cols.0..cols.1], pr, None);
                }
            }
        }
    }
}

/// `row[j] *= f[j] * c`.
fn outer_row(c: Complex64, f: &[Complex64], row: &mut [Complex64]) {
    mul_line_scaled(row, f, Some(c));
}

/// Splits `a[i, j] = f[i] + g[j] + r[i, j]` with `r` zero (to rounding: 8 ulps of `max |a|`,
/// the rounding of the potential's own sum and of the subtractions here) outside the smallest
/// box among a few reference points: `f[i] = a[i, j0] - a[i0, j0]`, `g[j] = a[i0, j]`, for
/// `(i0, j0)` the corners and the centre (a reference row and column away from a localised
/// feature leave only the feature in `r`). `None` when no box covers less than a quarter of the
/// grid, or `a` is not finite.
fn additive_patch(a: &Array2<f64>) -> Option<Split> {
    // (area, reference point, box rows and columns)
    type Candidate = (usize, (usize, usize), (usize, usize, usize, usize));
    let (ny, nx) = a.dim();
    if ny == 0 || nx == 0 {
        return None;
    }
    let scale = a.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    if !scale.is_finite() {
        return None;
    }
    let tol = 8.0 * f64::EPSILON * scale;
    let refs = [
        (0, 0),
        (0, nx - 1),
        (ny - 1, 0),
        (ny - 1, nx - 1),
        (ny / 2, nx / 2),
    ];
    let mut best: Option<Candidate> = None;
    for (i0, j0) in refs {
        let (mut r0, mut r1, mut c0, mut c1) = (ny, 0, nx, 0);
        for ((i, j), &x) in a.indexed_iter() {
            let r = x - (a[[i, j0]] - a[[i0, j0]]) - a[[i0, j]];
            if r.abs() > tol {
                (r0, r1, c0, c1) = (r0.min(i), r1.max(i + 1), c0.min(j), c1.max(j + 1));
            }
        }
        let area = if r1 > r0 { (r1 - r0) * (c1 - c0) } else { 0 };
        if best.is_none_or(|b| area < b.0) {
            best = Some((area, (i0, j0), (r0, r1, c0, c1)));
        }
        if area == 0 {
            break;
        }
    }
    let (area, (i0, j0), (r0, r1, c0, c1)) = best.expect("at least one reference");
    if area > ny * nx / 4 {
        return None;
    }
    let f: Vec<f64> = (0..ny).map(|i| a[[i, j0]] - a[[i0, j0]]).collect();
    let g: Vec<f64> = a.row(i0).to_vec();
    let (rows, cols, r) = if area == 0 {
        ((0, 0), (0, 0), Array2::zeros((0, 0)))
    } else {
        let r = Array2::from_shape_fn((r1 - r0, c1 - c0), |(p, q)| {
            let (i, j) = (r0 + p, c0 + q);
            a[[i, j]] - f[i] - g[j]
        });
        ((r0, r1), (c0, c1), r)
    };
    Some(Split {
        f,
        g,
        rows,
        cols,
        r,
    })
}

/// One potential sub-step, prepared to be applied row by row (inside the row passes of the
/// kinetic step, which saves a pass over the whole array per sub-step).
struct PotRows<'a> {
    /// Precomputed factor (static, linear problems).
    factor: Option<&'a Factor>,
    /// `sum a dt`.
    a: f64,
    /// Drive amplitude integrated over the merged sub-steps: `sum a_i f(t + tau_i dt) dt`.
    d: f64,
    v: &'a Array2<f64>,
    drive: Option<&'a Array2<f64>>,
    cap: Option<&'a Array2<f64>>,
    g: f64,
    imaginary: bool,
}

impl<'a> PotRows<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        pot: &PotStep,
        factors: &'a [Factor],
        v: &'a Array2<f64>,
        drive: Option<&'a (Array2<f64>, TimeProfile)>,
        cap: Option<&'a Array2<f64>>,
        g: f64,
        dt: f64,
        t: f64,
        imaginary: bool,
    ) -> Self {
        let d = drive.map_or(0.0, |(_, prof)| {
            pot.parts
                .iter()
                .map(|&(ai, ti)| ai * prof.at(t + ti * dt))
                .sum::<f64>()
                * dt
        });
        PotRows {
            factor: factors.get(pot.factor),
            a: pot.total * dt,
            d,
            v,
            drive: drive.map(|(s, _)| s),
            cap,
            g,
            imaginary,
        }
    }

    /// Applies the sub-step to row `i` of `psi`.
    fn row(&self, i: usize, row: &mut [Complex64]) {
        if let Some(f) = self.factor {
            f.apply_row(i, row);
            return;
        }
        let vr = self.v.row(i);
        let sr = self.drive.map(|s| s.row(i));
        let wr = self.cap.map(|w| w.row(i));
        let (a, d, g) = (self.a, self.d, self.g);
        for (j, p) in row.iter_mut().enumerate() {
            let phase = a * (vr[j] + g * p.norm_sqr()) + sr.map_or(0.0, |s| d * s[j]);
            if self.imaginary {
                *p *= (-phase).exp();
            } else {
                let damp = wr.map_or(1.0, |w| (-a * w[j]).exp());
                *p *= Complex64::from_polar(damp, -phase);
            }
        }
    }
}

/// One split-step time step: `pots[0] K pots[1] K ... pots[s]`, each potential sub-step fused
/// into the row pass of the kinetic step next to it.
#[allow(clippy::too_many_arguments)]
fn split_step(
    ss: &mut SplitStep,
    psi: &mut Array2<Complex64>,
    v: &Array2<f64>,
    drive: Option<&(Array2<f64>, TimeProfile)>,
    cap: Option<&Array2<f64>>,
    g: f64,
    dt: f64,
    t: f64,
    imaginary: bool,
) {
    if !ss.frozen.is_empty() {
        // Imaginary time, nonlinear (Strang only): freeze V + g |psi_n|^2 for the whole step.
        let h = 0.5 * dt;
        Zip::from(&mut ss.frozen)
            .and(&mut *psi)
            .and(v)
            .par_for_each(|f, p, &v| {
                *f = (-(v + g * p.norm_sqr()) * h).exp();
                *p *= *f;
            });
        ss.kinetic[0].apply_inplace(psi.view_mut());
        Zip::from(&mut *psi)
            .and(&ss.frozen)
            .par_for_each(|p, &f| *p *= f);
        return;
    }
    let n = ss.kin.len();
    let rows =
        |k: usize| PotRows::new(&ss.pots[k], &ss.factors, v, drive, cap, g, dt, t, imaginary);
    for s in 0..n {
        let pre = rows(s);
        let post = (s + 1 == n).then(|| rows(n));
        ss.kinetic[ss.kin[s]].apply_inplace_with(
            psi.view_mut(),
            |i, r| pre.row(i, r),
            |i, r| {
                if let Some(p) = &post {
                    p.row(i, r);
                }
            },
        );
    }
}

/// Builds the finite-difference engine and checks `dt` against the RK4 stability limit.
#[allow(clippy::too_many_arguments)]
fn build_fd(
    p: &QuantumParams,
    order: usize,
    boundaries: convsim_core::Boundaries,
    v: &Array2<f64>,
    drive: Option<&(Array2<f64>, TimeProfile)>,
    cap: Option<&Array2<f64>>,
    psi: &Array2<Complex64>,
    imaginary: bool,
) -> Result<FiniteDiff> {
    let g = p.grid;
    let m = p.mass;
    if !convsim_core::stencil::LAPLACIAN_ORDERS.contains(&order) {
        return Err(invalid(
            "method.order",
            order,
            "an even accuracy order from 2 to 16",
        ));
    }
    let w = central_weights(2, order)?;
    let s = -1.0 / (2.0 * m);
    let kernel: Kernel2<f64> = if g.ny == 1 {
        let n = w.len();
        Kernel2::new(Array2::from_shape_fn((1, n), |(_, j)| w[j] / (g.dx * g.dx)))?
    } else {
        laplacian(order, g.dy, g.dx)?
    };
    let taps = kernel.taps().mapv(|t| Complex64::new(s * t, 0.0));
    let kernel = Kernel2::new(taps)?;
    let plan = ConvPlan::builder([g.ny, g.nx], kernel)
        .boundaries(boundaries)
        .method(ConvMethod::Direct)
        .build()?;
    // Spectrum of H_h: kinetic part in [0, kmax], potential in [vmin, vmax] (+ drive, + g rho).
    let sym = second_difference_symbol_max(&w);
    let kmax =
        sym / (2.0 * m) * (1.0 / (g.dx * g.dx) + if g.ny == 1 { 0.0 } else { 1.0 / (g.dy * g.dy) });
    let mut vmin = v.iter().copied().fold(f64::INFINITY, f64::min);
    let mut vmax = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if let Some((shape, prof)) = drive {
        // Bound the drive by its largest amplitude over a sampled table of the profile is not
        // possible in general; use the largest |shape| times the largest |profile| seen at the
        // profile's own scale (amplitude-type parameters).
        let amp = profile_bound(prof);
        let smax = shape.iter().fold(0.0_f64, |a, b| a.max(b.abs()));
        vmin -= amp * smax;
        vmax += amp * smax;
    }
    let rho_max = psi.iter().map(Complex64::norm_sqr).fold(0.0, f64::max);
    let gr = p.g * rho_max;
    let lo = vmin + gr.min(0.0);
    let hi = kmax + vmax + gr.max(0.0);
    let wmax = cap.map_or(0.0, |c| c.iter().copied().fold(0.0, f64::max));
    let (dt_max, detail) = if imaginary {
        let lim = rk4_real_limit() / (hi - lo.min(0.0)).max(1e-300);
        (
            lim,
            format!(
                "RK4 on the real axis: dt * (E_max - min(E_min, 0)) <= {:.6}, E in [{lo:.6e}, {hi:.6e}] \
                 (stencil symbol max {sym:.6} / h^2 / 2m + potential)",
                rk4_real_limit()
            ),
        )
    } else {
        let b = lo.abs().max(hi.abs());
        (
            rk4_limit_rectangle(wmax, b),
            format!(
                "RK4 needs dt * max|E| <= 2 sqrt 2 with |E| <= {b:.6e} (stencil symbol max \
                 {sym:.6} over h^2 times 1/2m = {kmax:.6e}, potential in [{vmin:.6e}, {vmax:.6e}], \
                 g max|psi|^2 = {gr:.6e}, absorber max {wmax:.6e})"
            ),
        )
    };
    if p.dt > dt_max {
        return Err(QuantumError::UnstableDt {
            dt: p.dt,
            max_dt: dt_max,
            detail,
        });
    }
    let z = Array2::<Complex64>::zeros((g.ny, g.nx));
    Ok(FiniteDiff {
        plan,
        k: z.clone(),
        stage: z.clone(),
        acc: z,
        dt_max,
    })
}

/// An upper bound of `|profile(t)|` over all `t`.
fn profile_bound(p: &TimeProfile) -> f64 {
    match p {
        TimeProfile::Constant { value } => value.abs(),
        TimeProfile::Sine { amplitude, .. } | TimeProfile::Pulse { amplitude, .. } => {
            amplitude.abs()
        }
        TimeProfile::Ramp { from, to, .. } => from.abs().max(to.abs()),
        TimeProfile::Table { values, .. } => values.iter().fold(0.0, |a, b| a.max(b.abs())),
    }
}

/// `out = rhs(input)` at time `t`: `-i H psi - W psi` (real time) or `-H psi` (imaginary).
#[allow(clippy::too_many_arguments)]
fn fd_rhs(
    plan: &mut ConvPlan<Complex64>,
    input: &Array2<Complex64>,
    density_of: &Array2<Complex64>,
    out: &mut Array2<Complex64>,
    v: &Array2<f64>,
    drive: Option<&(Array2<f64>, TimeProfile)>,
    cap: Option<&Array2<f64>>,
    g: f64,
    t: f64,
    imaginary: bool,
) {
    let f = drive.map_or(0.0, |(_, p)| p.at(t));
    let inp = input.view();
    let den = density_of.view();
    plan.apply_with(input.view(), out.view_mut(), |i, conv, o| {
        let pr = inp.row(i);
        let dr = den.row(i);
        let vr = v.row(i);
        let sr = drive.map(|(s, _)| s.row(i));
        let wr = cap.map(|w| w.row(i));
        for (j, (o, c)) in o.iter_mut().zip(conv).enumerate() {
            let p = pr[j];
            let pot = vr[j] + g * dr[j].norm_sqr() + sr.map_or(0.0, |s| f * s[j]);
            let h = *c + p * pot;
            *o = if imaginary {
                -h
            } else {
                Complex64::new(h.im, -h.re) - p * wr.map_or(0.0, |w| w[j])
            };
        }
    });
}

/// One RK4 step of the finite-difference path.
#[allow(clippy::too_many_arguments)]
fn fd_step(
    fd: &mut FiniteDiff,
    psi: &mut Array2<Complex64>,
    v: &Array2<f64>,
    drive: Option<&(Array2<f64>, TimeProfile)>,
    cap: Option<&Array2<f64>>,
    g: f64,
    dt: f64,
    t: f64,
    imaginary: bool,
) {
    let FiniteDiff {
        plan,
        k,
        stage,
        acc,
        ..
    } = fd;
    // In imaginary time the nonlinear potential is frozen at the (normalised) step start: the
    // RK4 map is then a polynomial in one linear operator H[rho_n], whose eigenvectors it keeps,
    // so the fixed point is exactly the self-consistent discrete ground state.

    fd_rhs(plan, psi, psi, k, v, drive, cap, g, t, imaginary);
    Zip::from(&mut *acc)
        .and(&mut *stage)
        .and(&*psi)
        .and(&*k)
        .par_for_each(|a, s, p, k| {
            *a = *p + *k * (dt / 6.0);
            *s = *p + *k * (0.5 * dt);
        });
    for (c_next, w_acc, tt) in [(0.5, 1.0 / 3.0, 0.5), (1.0, 1.0 / 3.0, 0.5)] {
        let den: &Array2<Complex64> = if imaginary { psi } else { stage };
        fd_rhs(
            plan,
            stage,
            den,
            k,
            v,
            drive,
            cap,
            g,
            t + tt * dt,
            imaginary,
        );
        Zip::from(&mut *acc)
            .and(&mut *stage)
            .and(&*psi)
            .and(&*k)
            .par_for_each(|a, s, p, k| {
                *a += *k * (w_acc * dt);
                *s = *p + *k * (c_next * dt);
            });
    }
    let den: &Array2<Complex64> = if imaginary { psi } else { stage };
    fd_rhs(plan, stage, den, k, v, drive, cap, g, t + dt, imaginary);
    Zip::from(&mut *psi)
        .and(&*acc)
        .and(&*k)
        .par_for_each(|p, a, k| *p = *a + *k * (dt / 6.0));
}

/// Index of the grid coordinate nearest to `pos` on an axis of `n` samples from `origin` with
/// spacing `h`, clamped to the grid.
pub(crate) fn nearest_index(pos: f64, origin: f64, h: f64, n: usize) -> usize {
    (((pos - origin) / h).round().max(0.0) as usize).min(n - 1)
}

/// Reads sample `i` of an axis of `n` samples, with `i` outside `0..n` mapped by the padding
/// `sides`.
pub(crate) fn padded<F: Fn(usize) -> Complex64>(
    i: isize,
    n: usize,
    sides: Sides,
    get: F,
) -> Complex64 {
    match sides.source(i, n) {
        Source::Index(k) => get(k),
        Source::Negated(k) => -get(k),
        Source::Constant(c) => Complex64::new(c, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f(y, x)` on a 96 x 80 grid of spacing 0.3 from (-14.4, -12).
    fn grid_fn(f: impl Fn(f64, f64) -> f64) -> Array2<f64> {
        Array2::from_shape_fn((96, 80), |(i, j)| {
            f(-14.4 + 0.3 * i as f64, -12.0 + 0.3 * j as f64)
        })
    }

    fn factor_table(f: &Factor, shape: (usize, usize)) -> Array2<Complex64> {
        let mut t = Array2::from_elem(shape, Complex64::new(1.0, 0.0));
        for (i, mut row) in t.outer_iter_mut().enumerate() {
            f.apply_row(i, row.as_slice_mut().unwrap());
        }
        t
    }

    #[test]
    fn a_trap_with_a_bump_splits_into_axis_terms_and_a_patch_around_the_bump() {
        // Harmonic trap (a sum of axis terms) plus a Gaussian bump: the residual is the bump,
        // which is below 8 ulps of max |V| outside a box around it.
        let v = grid_fn(|y, x| {
            0.5 * (x * x + y * y) + 5.0 * (-((y - 1.0).powi(2) + (x + 2.0).powi(2))).exp()
        });
        let s = additive_patch(&v).expect("a small box");
        let (h, w) = (s.rows.1 - s.rows.0, s.cols.1 - s.cols.0);
        assert!(
            h > 0 && w > 0 && h * w < 96 * 80 / 4,
            "box {:?} x {:?}",
            s.rows,
            s.cols
        );
        // The box holds the bump's centre (y = 1 at row 51, x = -2 at column 33), and not the
        // far corners: the bump is below the tolerance 5.4 away (5 exp(-29) ~ 1e-12).
        assert!((s.rows.0..s.rows.1).contains(&51) && (s.cols.0..s.cols.1).contains(&33));
        // f + g + r reproduces V everywhere to rounding.
        let tol = 16.0 * f64::EPSILON * v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        for ((i, j), &x) in v.indexed_iter() {
            assert!((s.f[i] + s.g[j] + s.r(i, j) - x).abs() <= tol, "({i}, {j})");
        }
        // A pure sum of axis terms has no patch; a fully coupled V has no small box.
        assert_eq!(
            additive_patch(&grid_fn(|y, x| y * y + x.sin()))
                .unwrap()
                .r
                .len(),
            0
        );
        assert!(additive_patch(&grid_fn(|y, x| (x * y).cos())).is_none());
    }

    #[test]
    fn patched_factors_equal_the_full_table_to_rounding() {
        // A barrier with two slits plus an edge absorber, real and imaginary time: the factor
        // applied row by row equals exp(-(i V + W) h) (or exp(-V h)) point by point.
        let v = grid_fn(|y, x| {
            let wall = (x - 1.0).abs() < 0.4;
            let slit = (y - 1.5).abs() < 0.5 || (y + 1.5).abs() < 0.5;
            if wall && !slit { 30.0 } else { 0.1 * y * y }
        });
        let w = grid_fn(|_, x| if x > 3.5 { 2.0 * (x - 3.5) } else { 0.0 });
        let h = 0.01;
        for imaginary in [false, true] {
            let cap = (!imaginary).then_some(&w);
            let f = Factor::new(&v, cap, h, imaginary);
            assert!(matches!(f, Factor::Patched { .. }), "imaginary {imaginary}");
            let got = factor_table(&f, v.dim());
            for ((i, j), g) in got.indexed_iter() {
                let wv = cap.map_or(0.0, |w| w[[i, j]]);
                let want = if imaginary {
                    Complex64::new((-v[[i, j]] * h).exp(), 0.0)
                } else {
                    Complex64::from_polar((-wv * h).exp(), -v[[i, j]] * h)
                };
                assert!((g - want).norm() < 1e-14, "({i}, {j}): {g} vs {want}");
            }
        }
    }
}
