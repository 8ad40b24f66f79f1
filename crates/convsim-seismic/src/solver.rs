//! The acoustic solver: `p_tt = v^2 Lap p + v^2 s(t) delta(x - x_s)`, leapfrog in time.
//!
//! ```
//! use convsim_seismic::{PointSource, Receivers, Seismic, SeismicParams, Wavelet};
//! let mut p = SeismicParams::homogeneous(61, 61, 10.0, 2000.0);
//! p.space_order = 4;
//! p.dt = 1e-3;
//! p.duration = 0.2;
//! p.sources = vec![PointSource { y: 300.0, x: 300.0, wavelet: Wavelet::ricker(12.0) }];
//! p.receivers = vec![Receivers::Points { coords: vec![[300.0, 455.0]] }];
//! let mut s = Seismic::<f32>::new(&p).unwrap();
//! s.advance(p.nt());
//! let (coords, traces) = s.receivers();
//! assert_eq!(coords.row(0).to_vec(), vec![300.0, 455.0]);
//! assert_eq!(traces.dim(), (1, 201));
//! assert!(traces.iter().any(|v| v.abs() > 1e-3)); // the wave has arrived
//! ```

mod build;

use convsim_core::fp::Subnormals;
use convsim_core::sim::Gather;
use convsim_core::sum::ExactSum;
use convsim_core::{Element, Isa, RealElement, Simd};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::density::Density;
#[cfg(test)]
use crate::sweep::schedule::Exec;
use crate::sweep::{C2, Engine};
use crate::{Result, SeismicParams, SeismicWarning, stability};

/// The 2D acoustic wave solver in precision `T` (`f32` for production, `f64` for verification).
///
/// Constant density runs on the fused sweep (`sweep`): leapfrog, CPML, sponge, mirrors,
/// sources and receivers in one pass over memory for several steps ([`Seismic::advance`]).
/// Variable density runs the staggered flux form ([`crate::density`]) one step at a time.
#[derive(Clone, Debug)]
pub struct Seismic<T> {
    pub(crate) params: SeismicParams,
    pub(crate) eng: Engine<T>,
    /// Physical origin in the padded layout.
    oy: usize,
    ox: usize,
    pub(crate) velocity: Array2<f64>,
    /// The variable-density operator; `None` for constant density (the fast path).
    pub(crate) density: Option<Box<Density<T>>>,
    /// A constant density model (kg/m^3), which keeps the fast path; only written as a field.
    pub(crate) density_const: Option<f64>,
    pub(crate) rec_coords: Array2<f64>,
    pub(crate) traces: Array2<f64>,
    nt: usize,
    pub(crate) step: u64,
    warnings: Vec<SeismicWarning>,
}

impl<T: RealElement> Seismic<T> {
    /// Builds the solver: evaluates and checks the model, checks the time step against the
    /// exact stability limit, places sources and receivers, builds the absorbing layers and
    /// allocates every buffer `step` uses. Warnings (e.g. too few points per wavelength) are in
    /// [`Seismic::warnings`].
    ///
    /// # Errors
    /// Any parameter out of range, as a [`SeismicError`](crate::SeismicError) naming it.
    pub fn new(params: &SeismicParams) -> Result<Self> {
        Self::build(params, true)
    }

    /// As [`Seismic::new`] but without refusing a time step above the stability limit, so the
    /// limit itself can be demonstrated (the run then blows up). Every other check is kept.
    ///
    /// # Errors
    /// As [`Seismic::new`] except [`SeismicError::Unstable`](crate::SeismicError::Unstable).
    pub fn new_allow_unstable(params: &SeismicParams) -> Result<Self> {
        Self::build(params, false)
    }

    /// Caps the instruction set of the stepping kernels (default [`Simd::Best`]): `Portable`
    /// runs the same operations without fused multiply-adds (results agree to rounding).
    pub fn set_simd(&mut self, simd: Simd) {
        self.eng.isa = Isa::detect_up_to(simd);
    }

    /// The instruction set the stepping kernels run on.
    #[must_use]
    pub fn isa(&self) -> Isa {
        self.eng.isa
    }

    /// What the CPU does with subnormal numbers while stepping (default
    /// [`Subnormals::Flush`], as Devito's generated code: a third faster on a real shot, where
    /// most of the grid holds amplitudes decaying below `1e-38`; see [`convsim_core::fp`]).
    /// [`Subnormals::Keep`] gives IEEE gradual underflow. Every step of a run uses the same
    /// setting, so results stay bitwise independent of depth and thread count either way.
    pub fn set_subnormals(&mut self, fp: Subnormals) {
        self.eng.fp = fp;
    }

    /// The subnormal setting of the stepping threads.
    #[must_use]
    pub fn subnormals(&self) -> Subnormals {
        self.eng.fp
    }

    /// Steps fused per sweep of [`Seismic::advance`] (`None`: from the cache budget, the
    /// default). Any depth gives bitwise the same result; this is a tuning and testing knob.
    pub fn set_sweep_depth(&mut self, depth: Option<usize>) {
        self.eng.depth = depth;
    }

    /// Steps [`Seismic::advance`] fuses per sweep when `steps` are left.
    #[must_use]
    pub fn sweep_depth(&self, steps: usize) -> usize {
        if self.density.is_some() {
            1
        } else {
            self.eng.depth(steps)
        }
    }

    #[cfg(test)]
    pub(crate) fn set_exec(&mut self, exec: Exec) {
        self.eng.exec = exec;
    }

    #[cfg(test)]
    pub(crate) fn set_row_block(&mut self, block: usize) {
        self.eng.block = block;
    }

    /// Back to rest at step 0: every field, memory variable and trace sample zero (the
    /// buffers are kept, so a shot can be rerun without allocating).
    pub fn reset(&mut self) {
        for a in self.state_arrays_mut() {
            a.fill(T::zero());
        }
        self.traces.fill(0.0);
        self.step = 0;
    }

    /// Warnings found while building (the driver prints them).
    #[must_use]
    pub fn warnings(&self) -> &[SeismicWarning] {
        &self.warnings
    }

    /// The parameters this solver was built from.
    #[must_use]
    pub fn params(&self) -> &SeismicParams {
        &self.params
    }

    /// The largest stable time step of this model and order, s.
    #[must_use]
    pub fn dt_limit(&self) -> f64 {
        if let Some(d) = &self.density {
            return d.dt_limit;
        }
        let v_max = self.velocity.iter().copied().fold(0.0, f64::max);
        stability::dt_max(
            self.params.space_order,
            self.params.grid.dy,
            self.params.grid.dx,
            v_max,
        )
        .unwrap_or(f64::NAN)
    }

    /// The density model on the physical grid, kg/m^3, when the variable-density operator is in
    /// use (`None` for constant density).
    #[must_use]
    pub fn density(&self) -> Option<ArrayView2<'_, f64>> {
        self.density.as_ref().map(|d| d.rho.view())
    }

    /// The velocity model on the physical grid, m/s.
    #[must_use]
    pub fn velocity(&self) -> ArrayView2<'_, f64> {
        self.velocity.view()
    }

    /// Receiver coordinates `(receiver, [y, x])` in m and the shot gather
    /// `(receiver, time sample)` of pressure, sample `k` at `t = k dt`. Samples beyond the
    /// current step are zero.
    #[must_use]
    pub fn receivers(&self) -> (ArrayView2<'_, f64>, ArrayView2<'_, f64>) {
        (self.rec_coords.view(), self.traces.view())
    }

    /// Trace samples recorded so far: sample `k` (at `t = k dt`) is recorded once the solver
    /// has taken `k` steps, so this is `min(step, nt) + 1`.
    #[must_use]
    pub fn samples_recorded(&self) -> usize {
        (self.step as usize).min(self.nt) + 1
    }

    /// This solver's receivers as a [`Gather`] named `name` (plain borrowed data for the run
    /// driver; see [`Seismic::receivers`]).
    #[must_use]
    pub fn gather(&self, name: &str) -> Gather<'_> {
        crate::simulation::gather_of(
            &self.params,
            name,
            self.rec_coords.view(),
            self.traces.view(),
            self.samples_recorded(),
        )
    }

    /// Number of time steps the receivers record (`round(duration / dt)`).
    #[must_use]
    pub fn nt(&self) -> usize {
        self.nt
    }

    /// Sets the initial pressure `p(t = 0) = p(t = -dt) = p0` (zero initial time derivative)
    /// on the physical grid, e.g. a point disturbance instead of a source wavelet.
    ///
    /// # Panics
    /// If `p0` does not have the grid's shape.
    pub fn set_initial(&mut self, p0: ArrayView2<'_, f64>) {
        let g = self.params.grid;
        assert_eq!(
            p0.dim(),
            (g.ny, g.nx),
            "Seismic::set_initial: shape (expected, actual)"
        );
        let s = self.eng.lay.stride;
        for ((i, j), v) in p0.indexed_iter() {
            let idx = (i + self.oy) * s + j + self.ox;
            self.eng.cur[idx] = <T as Element>::from_f64(*v);
            self.eng.prev[idx] = <T as Element>::from_f64(*v);
        }
        self.eng.record_all(0, &mut self.traces);
    }

    /// Copies the current pressure on the physical grid into `out`, Pa.
    ///
    /// # Panics
    /// If `out` does not have the grid's shape.
    pub fn pressure_into(&self, mut out: ArrayViewMut2<'_, f64>) {
        let g = self.params.grid;
        assert_eq!(
            out.dim(),
            (g.ny, g.nx),
            "Seismic::pressure_into: shape (expected, actual)"
        );
        let s = self.eng.lay.stride;
        for (i, mut row) in out.rows_mut().into_iter().enumerate() {
            let src = &self.eng.cur[(i + self.oy) * s + self.ox..][..g.nx];
            for (o, v) in row.iter_mut().zip(src) {
                *o = v.to_c64().re;
            }
        }
    }

    /// The current pressure on the physical grid as a new array, Pa.
    #[must_use]
    pub fn pressure(&self) -> Array2<f64> {
        let g = self.params.grid;
        let mut a = Array2::zeros((g.ny, g.nx));
        self.pressure_into(a.view_mut());
        a
    }

    /// Advances one time step. Allocates nothing.
    pub fn step(&mut self) {
        let n = self.step as usize;
        if let Some(d) = &mut self.density {
            // The sources and mirrors around the parallel update run on this thread.
            let fp = self.eng.fp;
            let _fp = fp.enter();
            self.eng.step_with(n, &mut self.traces, |cur, next| {
                d.step(cur, next, fp, &mut |_, _| {});
            });
        } else {
            self.eng.sweep(1, n, &mut self.traces);
        }
        self.step += 1;
    }

    /// Advances `steps` time steps: bitwise the same as `steps` calls of [`Seismic::step`], for
    /// any thread count. With constant density, up to [`Seismic::sweep_depth`] steps run as one
    /// sweep over memory (temporal blocking): the CPML, the sponge, the mirror boundaries, the
    /// sources and the receivers are all updated inside the sweep, row by row. Allocates
    /// nothing.
    pub fn advance(&mut self, steps: usize) {
        if self.density.is_some() {
            for _ in 0..steps {
                self.step();
            }
            return;
        }
        let mut left = steps;
        while left > 0 {
            let k = self.eng.depth(left);
            self.eng.sweep(k, self.step as usize, &mut self.traces);
            self.step += k as u64;
            left -= k;
        }
    }

    /// The discrete energy `(hy hx / 2) [(p^n - p^{n-1})^T D (p^n - p^{n-1}) - (p^n)^T L
    /// p^{n-1}]` with `D = 1 / (v dt)^2` (a discrete `(1/2) int p_t^2 / v^2 + |grad p|^2`,
    /// in Pa^2), which leapfrog conserves exactly (up to
    /// round-off) with rigid, free-surface or zero boundaries below the stability limit, and
    /// which an absorbing layer only removes.
    ///
    /// The sum is exact (correctly rounded whatever the order, [`ExactSum`]), so a distributed
    /// run, which adds its tiles' shares, gives the same bits.
    ///
    /// With variable density it is the density form
    /// `(1/2) int p_t^2 / (rho v^2) + (1/rho) |grad p|^2` of the staggered operator (Pa^2 m^3/kg).
    #[must_use]
    pub fn energy(&self) -> f64 {
        let g = self.params.grid;
        let e = &self.eng;
        if let Some(d) = &self.density {
            return d.energy(&e.cur, &e.prev, g.dy, g.dx);
        }
        let lay = e.lay;
        let sum = energy_sum(e, lay.cy0..lay.cy1, lay.cx0..lay.cx1);
        0.5 * sum.value() * g.dy * g.dx
    }

    /// Largest `|p|` on the physical grid, Pa.
    #[must_use]
    pub fn max_abs(&self) -> f64 {
        let g = self.params.grid;
        let s = self.eng.lay.stride;
        let mut m = 0.0f64;
        for i in 0..g.ny {
            let row = &self.eng.cur[(i + self.oy) * s + self.ox..][..g.nx];
            for v in row {
                m = m.max(v.to_c64().re.abs());
            }
        }
        m
    }

    /// The state arrays of a checkpoint: name, data and shape.
    pub(crate) fn state_arrays(&self) -> Vec<(&'static str, &[T], [usize; 2])> {
        let e = &self.eng;
        let (rows, s) = (e.rows, e.lay.stride);
        let mut v: Vec<(&'static str, &[T], [usize; 2])> =
            vec![("p", &e.cur, [rows, s]), ("p_prev", &e.prev, [rows, s])];
        if let Some(p) = &e.pml_y {
            v.push(("psi_y", &p.psi, [p.psi.len() / s, s]));
            v.push(("zeta_y", &p.zeta, [p.zeta.len() / s, s]));
        }
        if let Some(p) = &e.pml_x {
            let ny = e.lay.cy1 - e.lay.cy0;
            v.push(("psi_x", &p.psi, [ny, p.psi.len() / ny]));
            v.push(("zeta_x", &p.zeta, [ny, p.zeta.len() / ny]));
        }
        if let Some(d) = &self.density {
            v.extend(d.state_arrays().into_iter().map(|(n, a)| (n, a, [rows, s])));
        }
        v
    }

    /// The same arrays as [`Seismic::state_arrays`], in the same order, for restoring.
    pub(crate) fn state_arrays_mut(&mut self) -> Vec<&mut [T]> {
        let e = &mut self.eng;
        let mut v: Vec<&mut [T]> = vec![&mut e.cur, &mut e.prev];
        if let Some(p) = &mut e.pml_y {
            v.push(&mut p.psi);
            v.push(&mut p.zeta);
        }
        if let Some(p) = &mut e.pml_x {
            v.push(&mut p.psi);
            v.push(&mut p.zeta);
        }
        if let Some(d) = &mut self.density {
            v.extend(d.state_arrays_mut().into_iter().map(Vec::as_mut_slice));
        }
        v
    }
}

/// The sum of the constant-density energy terms `dp^2 / c2 - p^n (L p^(n-1))` over padded
/// rows `rows` and columns `cols` (one process: the computational region; a tile: its owned
/// part of it, with the ghost cells of `prev` filled).
pub(crate) fn energy_sum<T: RealElement>(
    e: &Engine<T>,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) -> ExactSum {
    let s = e.lay.stride;
    let f = |v: T| v.to_c64().re;
    let w0 = f(e.w.w0y) + f(e.w.w0x);
    let mut sum = ExactSum::default();
    for i in rows {
        for j in cols.clone() {
            let idx = i * s + j;
            let c2 = match &e.c2 {
                C2::Uniform(v) => f(*v),
                C2::Field(c) => f(c[idx]),
            };
            let dp = f(e.cur[idx]) - f(e.prev[idx]);
            let mut lap = w0 * f(e.prev[idx]);
            for k in 0..e.r {
                let d = (k + 1) * s;
                lap += f(e.w.wy[k]) * (f(e.prev[idx - d]) + f(e.prev[idx + d]))
                    + f(e.w.wx[k]) * (f(e.prev[idx - k - 1]) + f(e.prev[idx + k + 1]));
            }
            sum.add(dp * dp / c2 - f(e.cur[idx]) * lap);
        }
    }
    sum
}
