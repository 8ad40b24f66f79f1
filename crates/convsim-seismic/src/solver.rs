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

use std::collections::BTreeMap;

use convsim_core::fp::Subnormals;
use convsim_core::memory::{ALIGN_BYTES, AlignedVec};
use convsim_core::sim::Gather;
use convsim_core::stencil::central_weights;
use convsim_core::sum::ExactSum;
use convsim_core::{Element, Isa, RealElement, Simd};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::absorb::{Axis, CpmlSetup};
use crate::density::{Density, Setup};
use crate::params::check_side;
use crate::sparse::{ReceiverRows, SourceRows, Spread};
use crate::sweep::schedule::Exec;
use crate::sweep::{C2, Engine, Layout, PmlX, PmlY, Sides, Weights};
use crate::{
    Model, Result, SeismicError, SeismicParams, SeismicWarning, SideBoundary, hicks, model,
    stability, wavelet,
};

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
    /// Any parameter out of range, as a [`SeismicError`] naming it.
    pub fn new(params: &SeismicParams) -> Result<Self> {
        Self::build(params, true)
    }

    /// As [`Seismic::new`] but without refusing a time step above the stability limit, so the
    /// limit itself can be demonstrated (the run then blows up). Every other check is kept.
    ///
    /// # Errors
    /// As [`Seismic::new`] except [`SeismicError::Unstable`].
    pub fn new_allow_unstable(params: &SeismicParams) -> Result<Self> {
        Self::build(params, false)
    }

    fn build(params: &SeismicParams, check_dt: bool) -> Result<Self> {
        let p = params;
        let g = p.grid;
        stability::check_order(p.space_order)?;
        let r = p.space_order / 2;
        for (name, v) in [("grid.dy", g.dy), ("grid.dx", g.dx)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(SeismicError::invalid(
                    name,
                    v,
                    "grid spacing must be positive and finite (m)",
                ));
            }
        }
        for (name, n) in [("grid.ny", g.ny), ("grid.nx", g.nx)] {
            if n < r + 1 {
                return Err(SeismicError::invalid(
                    name,
                    n,
                    format!(
                        "need at least {} samples for space order {}",
                        r + 1,
                        p.space_order
                    ),
                ));
            }
        }
        if !(p.dt.is_finite() && p.dt > 0.0) {
            return Err(SeismicError::invalid(
                "dt",
                p.dt,
                "time step must be positive and finite (s)",
            ));
        }
        if !(p.duration.is_finite() && p.duration >= 0.0) {
            return Err(SeismicError::invalid(
                "duration",
                p.duration,
                "must be finite and >= 0 (s)",
            ));
        }
        let velocity = model::evaluate(&p.velocity, &g, "velocity", None)?;
        // Constant density cancels out of rho v^2 div((1/rho) grad p): keep the fast path (it is
        // still checked). Any other density model takes the staggered variable-density path.
        let (rho, density_const) = match &p.density {
            None => (None, None),
            Some(m) => {
                let a = model::evaluate(m, &g, "density", Some(velocity.view()))?;
                match m {
                    Model::Constant { value } => (None, Some(*value)),
                    _ => (Some(a), None),
                }
            }
        };
        let v_max = velocity.iter().copied().fold(0.0, f64::max);
        let v_min = velocity.iter().copied().fold(f64::INFINITY, f64::min);
        let limit = stability::dt_max(p.space_order, g.dy, g.dx, v_max)?;
        // With variable density the limit of the staggered operator is checked below.
        if check_dt && rho.is_none() && p.dt > limit {
            return Err(SeismicError::Unstable {
                dt: p.dt,
                limit,
                order: p.space_order,
                v_max,
                dy: g.dy,
                dx: g.dx,
            });
        }
        let sides = p.boundaries.sides();
        let names = ["top", "bottom", "left", "right"];
        for (side, name) in sides.iter().zip(names) {
            check_side(side, name)?;
        }
        let [top, bottom, left, right] = sides;
        let (wt, wb, wl, wr) = (top.width(), bottom.width(), left.width(), right.width());
        // Rows start on 64-byte boundaries (the buffers are aligned and the stride is a whole
        // number of 64-byte blocks) and so does the first computational column, with one
        // block (at least the stencil radius of ghost columns) on each side: the row kernels
        // then load whole aligned vectors.
        let a = (ALIGN_BYTES / std::mem::size_of::<T>()).max(r);
        let cx1 = a + wl + g.nx + wr;
        let stride = cx1.next_multiple_of(a) + a;
        let rows = wt + g.ny + wb + 2 * r;
        let lay = Layout {
            stride,
            cy0: r,
            cy1: r + wt + g.ny + wb,
            cx0: a,
            cx1,
        };
        let (oy, ox) = (r + wt, a + wl);

        // Stencil weights.
        let w2 = central_weights(2, p.space_order).expect("order checked");
        let w1 = central_weights(1, p.space_order).expect("order checked");
        let t = |v: f64| <T as Element>::from_f64(v);
        let w = Weights {
            w0y: t(w2[r] / (g.dy * g.dy)),
            w0x: t(w2[r] / (g.dx * g.dx)),
            wy: (1..=r).map(|k| t(w2[r + k] / (g.dy * g.dy))).collect(),
            wx: (1..=r).map(|k| t(w2[r + k] / (g.dx * g.dx))).collect(),
            d1y: (1..=r).map(|k| t(w1[r + k] / g.dy)).collect(),
            d1x: (1..=r).map(|k| t(w1[r + k] / g.dx)).collect(),
        };

        // (v dt)^2 on the padded layout, the model replicated into the layers.
        let c2_at = |i: usize, j: usize| {
            let pi = (i as isize - oy as isize).clamp(0, g.ny as isize - 1) as usize;
            let pj = (j as isize - ox as isize).clamp(0, g.nx as isize - 1) as usize;
            (velocity[[pi, pj]] * p.dt).powi(2)
        };
        let c2 = if v_max == v_min {
            C2::Uniform(t((v_max * p.dt).powi(2)))
        } else {
            let mut f = AlignedVec::zeros(rows * stride);
            for i in lay.cy0..lay.cy1 {
                for j in lay.cx0..lay.cx1 {
                    f[i * stride + j] = t(c2_at(i, j));
                }
            }
            C2::Field(f)
        };

        // Absorbing layers.
        let f_src = p.sources.iter().find_map(|s| match s.wavelet {
            crate::Wavelet::Ricker { f0, .. } => Some(f0),
            crate::Wavelet::Samples { .. } => None,
        });
        let cs = CpmlSetup {
            v_max,
            dt: p.dt,
            f_src,
        };
        let y_axis = Axis {
            c0: lay.cy0,
            c1: lay.cy1,
            lo: top,
            hi: bottom,
            h: g.dy,
        };
        let x_axis = Axis {
            c0: lay.cx0,
            c1: lay.cx1,
            lo: left,
            hi: right,
            h: g.dx,
        };
        let sponge = sides
            .iter()
            .any(|s| matches!(s, SideBoundary::Sponge { .. }))
            .then(|| {
                (
                    y_axis.sponge_profile::<T>(rows),
                    x_axis.sponge_profile::<T>(stride),
                )
            });

        let density = match rho {
            None => None,
            Some(rho) => {
                let d = Density::new(
                    &Setup {
                        grid: g,
                        lay,
                        rows,
                        r,
                        oy,
                        ox,
                        dt: p.dt,
                        order: p.space_order,
                        velocity: velocity.view(),
                        sides,
                        f_src,
                    },
                    rho,
                )?;
                if check_dt && p.dt > d.dt_limit {
                    return Err(SeismicError::Unstable {
                        dt: p.dt,
                        limit: d.dt_limit,
                        order: p.space_order,
                        v_max,
                        dy: g.dy,
                        dx: g.dx,
                    });
                }
                Some(Box::new(d))
            }
        };
        // The flux form has its own CPML: the sweep's stays off with variable density.
        let (pml_y, pml_x) = if density.is_some() {
            (None, None)
        } else {
            (
                pml_y::<T>(&y_axis, rows, stride, r, cs),
                pml_x::<T>(&x_axis, &lay, cs),
            )
        };

        // Sources: spread times dt^2 v^2 / (dy dx) at each node.
        let nt = p.nt();
        let place = Placement {
            grid: g,
            lay,
            oy,
            ox,
            sides: p.boundaries,
        };
        let mut sources = Vec::with_capacity(p.sources.len());
        for (k, src) in p.sources.iter().enumerate() {
            if let crate::Wavelet::Samples { dt, values } = &src.wavelet
                && (!(dt.is_finite() && *dt > 0.0) || values.iter().any(|v| !v.is_finite()))
            {
                return Err(SeismicError::invalid(
                    format!("sources[{k}].wavelet"),
                    format!("dt = {dt}, {} samples", values.len()),
                    "sample interval must be positive and every sample finite",
                ));
            }
            if let crate::Wavelet::Ricker { f0, .. } = src.wavelet
                && !(f0.is_finite() && f0 > 0.0)
            {
                return Err(SeismicError::invalid(
                    format!("sources[{k}].wavelet.f0"),
                    f0,
                    "peak frequency must be positive and finite (Hz)",
                ));
            }
            let spread = place.spread(src.y, src.x, &format!("sources[{k}]"))?;
            let coefs = spread
                .into_iter()
                .map(|(idx, wgt)| {
                    let (i, j) = (idx / stride, idx % stride);
                    (idx, wgt * c2_at(i, j) / (g.dy * g.dx))
                })
                .collect();
            sources.push((coefs, wavelet::sample(&src.wavelet, p.dt, nt)));
        }
        let positions: Vec<[f64; 2]> = p
            .receivers
            .iter()
            .flat_map(crate::Receivers::positions)
            .collect();
        let rec_coords = Array2::from_shape_fn((positions.len(), 2), |(i, c)| positions[i][c]);
        let mut spreads = Vec::with_capacity(positions.len());
        for (k, pos) in positions.iter().enumerate() {
            spreads.push(place.spread(pos[0], pos[1], &format!("receivers[{k}]"))?);
        }

        let mut warnings = Vec::new();
        // Points per wavelength.
        let f_max = p
            .sources
            .iter()
            .map(|s| wavelet::highest_frequency(&s.wavelet))
            .fold(0.0, f64::max);
        if f_max > 0.0 {
            let h = g.dy.max(g.dx);
            let ppw = v_min / (f_max * h);
            let threshold = p
                .ppw_threshold
                .unwrap_or_else(|| stability::ppw_threshold(p.space_order));
            if ppw < threshold {
                warnings.push(SeismicWarning::LowPointsPerWavelength {
                    ppw,
                    threshold,
                    order: p.space_order,
                    f_max,
                    v_min,
                    h,
                });
            }
        }
        let eng = Engine {
            lay,
            rows,
            r,
            w,
            c2,
            sides: Sides {
                top,
                bottom,
                left,
                right,
            },
            pml_x,
            pml_y,
            sponge,
            sources: SourceRows::new(rows, stride, sources),
            receivers: ReceiverRows::new(rows, stride, &spreads),
            isa: Isa::detect_up_to(Simd::Best),
            cur: AlignedVec::zeros(rows * stride),
            prev: AlignedVec::zeros(rows * stride),
            depth: None,
            exec: Exec::Parallel,
            fp: Subnormals::default(),
            block: crate::sweep::ROW_BLOCK,
        };
        Ok(Seismic {
            params: p.clone(),
            eng,
            oy,
            ox,
            velocity,
            density,
            density_const,
            traces: Array2::zeros((positions.len(), nt + 1)),
            rec_coords,
            nt,
            step: 0,
            warnings,
        })
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

/// Where points go on the padded grid.
struct Placement {
    grid: convsim_core::Grid,
    lay: Layout,
    oy: usize,
    ox: usize,
    sides: crate::SeismicBoundaries,
}

impl Placement {
    /// Hicks weights of the point `(y, x)` folded by the mirror boundaries.
    fn spread(&self, y: f64, x: f64, what: &str) -> Result<Spread> {
        let g = self.grid;
        let (y1, x1) = (
            g.y0 + (g.ny - 1) as f64 * g.dy,
            g.x0 + (g.nx - 1) as f64 * g.dx,
        );
        let tol = 1e-9 * (g.dy + g.dx);
        let inside = y.is_finite()
            && x.is_finite()
            && y >= g.y0 - tol
            && y <= y1 + tol
            && x >= g.x0 - tol
            && x <= x1 + tol;
        if !inside {
            return Err(SeismicError::OutsideModel {
                what: what.into(),
                y,
                x,
                y0: g.y0,
                y1,
                x0: g.x0,
                x1,
            });
        }
        let fy = self.oy as f64 + (y - g.y0) / g.dy;
        let fx = self.ox as f64 + (x - g.x0) / g.dx;
        let (iy0, wy) = hicks::weights_1d(fy, hicks::DEFAULT_RADIUS);
        let (ix0, wx) = hicks::weights_1d(fx, hicks::DEFAULT_RADIUS);
        let b = self.sides;
        let mut acc: BTreeMap<usize, f64> = BTreeMap::new();
        for (a, wa) in wy.iter().enumerate() {
            let Some((i, sy)) = fold(
                iy0 + a as isize,
                self.lay.cy0,
                self.lay.cy1,
                b.top,
                b.bottom,
            ) else {
                continue;
            };
            for (c, wc) in wx.iter().enumerate() {
                let Some((j, sx)) = fold(
                    ix0 + c as isize,
                    self.lay.cx0,
                    self.lay.cx1,
                    b.left,
                    b.right,
                ) else {
                    continue;
                };
                *acc.entry(i * self.lay.stride + j).or_insert(0.0) += sy * sx * wa * wc;
            }
        }
        Ok(acc.into_iter().filter(|(_, w)| *w != 0.0).collect())
    }
}

/// The y CPML state: profiles per padded row, memory variables of the layer rows.
fn pml_y<T: RealElement>(
    ax: &Axis,
    rows: usize,
    stride: usize,
    r: usize,
    cs: CpmlSetup,
) -> Option<PmlY<T>> {
    if !ax.has_cpml() {
        return None;
    }
    let (a, b) = ax.cpml_profile(rows, 0.0, cs);
    let strips = ax.cpml_strips();
    let zrows: usize = strips.iter().map(|(i0, i1)| i1 - i0).sum();
    let prows = zrows + 2 * r * strips.len();
    Some(PmlY {
        a,
        b,
        strips,
        psi: AlignedVec::zeros(prows * stride),
        zeta: AlignedVec::zeros(zrows * stride),
    })
}

/// The x CPML state: profiles per padded column, memory variables of each row's strips.
fn pml_x<T: RealElement>(ax: &Axis, lay: &Layout, cs: CpmlSetup) -> Option<PmlX<T>> {
    if !ax.has_cpml() {
        return None;
    }
    let (a0, b0) = ax.cpml_profile::<T>(lay.stride, 0.0, cs);
    let (mut a, mut b) = (AlignedVec::zeros(lay.stride), AlignedVec::zeros(lay.stride));
    a.copy_from_slice(&a0);
    b.copy_from_slice(&b0);
    let strips = ax.cpml_strips();
    // Whole aligned blocks around each strip, one more either side (the kernels' neighbours).
    let blk = lay.cx0;
    let spans: Vec<(usize, usize)> = strips
        .iter()
        .map(|&(j0, j1)| (j0 / blk * blk - blk, j1.next_multiple_of(blk) + blk))
        .collect();
    let w: usize = spans.iter().map(|(s0, s1)| s1 - s0).sum();
    let ny = lay.cy1 - lay.cy0;
    Some(PmlX {
        a,
        b,
        psi: AlignedVec::zeros(ny * w),
        zeta: AlignedVec::zeros(ny * w),
        strips,
        spans,
    })
}

/// Maps a padded index along one axis through the mirror boundaries: `None` if the point falls
/// where the field is forced to zero (beyond a zero or absorbing edge, or on a free surface).
fn fold(
    i: isize,
    c0: usize,
    c1: usize,
    lo: SideBoundary,
    hi: SideBoundary,
) -> Option<(usize, f64)> {
    let (c0, e1) = (c0 as isize, c1 as isize - 1);
    let (i, sign) = if i < c0 {
        match lo {
            SideBoundary::FreeSurface => (2 * c0 - i, -1.0),
            SideBoundary::Rigid => (2 * c0 - 1 - i, 1.0),
            _ => return None,
        }
    } else if i > e1 {
        match hi {
            SideBoundary::FreeSurface => (2 * e1 - i, -1.0),
            SideBoundary::Rigid => (2 * e1 + 1 - i, 1.0),
            _ => return None,
        }
    } else {
        (i, 1.0)
    };
    if i < c0 || i > e1 {
        return None;
    }
    if (i == c0 && lo == SideBoundary::FreeSurface) || (i == e1 && hi == SideBoundary::FreeSurface)
    {
        return None;
    }
    Some((i as usize, sign))
}
