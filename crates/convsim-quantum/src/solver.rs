//! The solver: construction (the parameters are checked by
//! [`QuantumParams::validate`](crate::QuantumParams::validate)), dispatch to the split-step
//! ([`crate::split_step`]) or finite-difference ([`crate::finite_diff`]) engine,
//! imaginary-time relaxation.

use convsim_core::ParamPath;
use std::sync::Mutex;

use convsim_core::{AxisFactors, Boundary, Complex64, Grid, Isa, Sides, Simd, Source};
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::{QuantumError, Result};
use crate::finite_diff::{FiniteDiff, build_fd, fd_step};
use crate::observe::{Flux, Observer};
use crate::params::{Evolution, Method, QuantumParams, TimeProfile};
use crate::potential::{absorber_rate, sample};
use crate::split_step::{Factor, SplitStep, build_split, split_step};
use crate::state::{cell_measure, norm};

// Boxing the split-step engine too would add an indirection on the hot path for no gain: there
// is exactly one engine per solver.
#[allow(
    clippy::large_enum_variant,
    reason = "one engine per solver; boxing would add an indirection on the hot path"
)]
enum Engine {
    Split(SplitStep),
    Fd(Box<FiniteDiff>),
}

/// What a time step reads besides its engine and `psi`: the Hamiltonian's terms, borrowed from
/// the solver next to the engine it borrows mutably, and the step's times. Built on the stack
/// once per step.
#[derive(Clone, Copy)]
pub(crate) struct StepTerms<'a> {
    /// Static real potential `V`.
    pub(crate) v: &'a Array2<f64>,
    /// Drive shape and profile.
    pub(crate) drive: Option<&'a (Array2<f64>, TimeProfile)>,
    /// Absorption rate `W`.
    pub(crate) cap: Option<&'a Array2<f64>>,
    /// Gross-Pitaevskii coefficient.
    pub(crate) g: f64,
    pub(crate) dt: f64,
    /// Time at the step's start.
    pub(crate) t: f64,
    pub(crate) imaginary: bool,
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

impl QuantumSolver {
    /// Validates `params` ([`QuantumParams::validate`]) and `psi0`, samples the potentials, normalises `psi0` to 1 and builds
    /// every plan and buffer.
    ///
    /// # Errors
    /// Any [`QuantumError`]: a bad parameter (named), an initial state of the wrong shape,
    /// with NaN, or zero; an unstable `dt` on the finite-difference path; an unsupported
    /// combination (imaginary time with Yoshida4, a drive or an absorber).
    pub fn new(params: QuantumParams, psi0: Array2<Complex64>) -> Result<Self> {
        params.validate()?;
        let grid = params.grid;
        let (ny, nx) = grid.shape();
        let one_d = ny == 1;
        if psi0.dim() != (ny, nx) {
            return Err(QuantumError::Shape {
                param: ParamPath::Initial("psi_re"),
                expected: [ny, nx],
                actual: [psi0.nrows(), psi0.ncols()],
            });
        }
        if let Some(((i, j), v)) = psi0.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(QuantumError::NonFinite {
                param: ParamPath::Initial("psi_re"),
                value: if v.re.is_finite() { v.im } else { v.re },
                at: [i, j],
            });
        }
        let imaginary = match params.evolution {
            Evolution::Real => None,
            Evolution::Imaginary { tolerance } => Some(tolerance),
        };
        let v = sample("potential", &params.potential, &grid, params.mass)?;
        let drive = match &params.drive {
            None => None,
            Some(d) => Some((
                sample("drive.shape", &d.shape, &grid, params.mass)?,
                d.profile.clone(),
            )),
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

        let terms = StepTerms {
            v: &v,
            drive: drive.as_ref(),
            cap: cap.as_ref(),
            g: params.g,
            dt: params.dt,
            t: 0.0,
            imaginary: imaginary.is_some(),
        };
        let engine = match params.method {
            Method::Strang | Method::Yoshida4 => Engine::Split(build_split(&params, &terms)?),
            Method::FiniteDifference { order, boundaries } => Engine::Fd(Box::new(build_fd(
                &params, order, boundaries, &terms, &psi,
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

    /// Caps the instruction set of the stepping loops (default [`Simd::Best`]): the split-step
    /// potential factors and kinetic products, or the finite-difference stencil (its plan is
    /// rebuilt). `Portable` runs the same operations without fused multiply-adds, so results
    /// agree to rounding.
    pub fn set_simd(&mut self, simd: Simd) {
        match &mut self.engine {
            Engine::Split(ss) => ss.set_simd(simd),
            Engine::Fd(fd) => fd.set_simd(simd),
        }
    }

    /// The instruction set the stepping loops run on.
    #[must_use]
    pub fn isa(&self) -> Isa {
        match &self.engine {
            Engine::Split(ss) => ss.isa,
            Engine::Fd(fd) => fd.isa,
        }
    }

    /// Drive amplitude `profile(t)` (0 without a drive).
    pub(crate) fn drive_at(&self, t: f64) -> f64 {
        self.drive.as_ref().map_or(0.0, |(_, p)| p.at(t))
    }

    /// Advances one step (real or imaginary time). Allocates nothing.
    pub fn step(&mut self) {
        let imaginary = self.relax.is_some();
        let terms = StepTerms {
            v: &self.v,
            drive: self.drive.as_ref(),
            cap: self.cap.as_ref(),
            g: self.params.g,
            dt: self.params.dt,
            t: self.time,
            imaginary,
        };
        match &mut self.engine {
            Engine::Split(ss) => split_step(ss, &mut self.psi, &terms),
            Engine::Fd(fd) => fd_step(fd, &mut self.psi, &terms),
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
                let isa = ss.isa;
                let apply = |i: usize, r: &mut [Complex64]| half.apply_row(isa, i, r);
                let mid = |i: usize, r: &mut [Complex64]| full.apply_row(isa, i, r);
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
