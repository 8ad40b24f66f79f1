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
//! for _ in 0..p.nt() { s.step(); }
//! let (coords, traces) = s.receivers();
//! assert_eq!(coords.row(0).to_vec(), vec![300.0, 455.0]);
//! assert_eq!(traces.dim(), (1, 201));
//! assert!(traces.iter().any(|v| v.abs() > 1e-3)); // the wave has arrived
//! ```

use std::collections::BTreeMap;

use convsim_core::sim::Gather;
use convsim_core::stencil::central_weights;
use convsim_core::{Element, Grid, Quantity, RealElement, Simulation, StateArray};
use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewMut2, IxDyn};
use rayon::prelude::*;

use crate::density::{Density, Setup};
use crate::kernel::{Coef, Layout, Weights, fused_depth, leapfrog, leapfrog_fused};
use crate::{
    Model, Result, SeismicError, SeismicParams, SeismicWarning, SideBoundary, hicks, model,
    stability, wavelet,
};

/// A point's spread over the grid: `(flat padded index, weight)`.
type Spread = Vec<(usize, f64)>;

/// Convolutional PML state of one axis.
#[derive(Clone, Debug)]
struct PmlAxis<T> {
    /// `a` and `b` of the recursive convolution per padded index along the axis (zero `a`
    /// outside the layers).
    a: Vec<T>,
    b: Vec<T>,
    /// Layer index ranges along the axis.
    strips: Vec<(usize, usize)>,
    /// Memory variables on the padded layout.
    psi: Vec<T>,
    zeta: Vec<T>,
}

/// The 2D acoustic wave solver in precision `T` (`f32` for production, `f64` for verification).
#[derive(Clone, Debug)]
pub struct Seismic<T> {
    params: SeismicParams,
    lay: Layout,
    rows: usize,
    r: usize,
    /// Physical origin in the padded layout.
    oy: usize,
    ox: usize,
    w: Weights<T>,
    /// Centre weights of the second derivative along y and x alone (for the CPML).
    w0y: T,
    w0x: T,
    /// First-derivative weights `d1[k]` for distance `k + 1`, per axis, divided by the spacing.
    d1y: Vec<T>,
    d1x: Vec<T>,
    cur: Vec<T>,
    prev: Vec<T>,
    c2_field: Option<Vec<T>>,
    c2_uniform: T,
    velocity: Array2<f64>,
    pml_y: Option<PmlAxis<T>>,
    pml_x: Option<PmlAxis<T>>,
    /// Sponge factors per padded row / column (1 outside sponges); `None` without sponges.
    sponge: Option<(Vec<T>, Vec<T>)>,
    /// The variable-density operator; `None` for constant density (the fast path).
    density: Option<Box<Density<T>>>,
    /// A constant density model (kg/m^3), which keeps the fast path; only written as a field.
    density_const: Option<f64>,
    sources: Vec<(Spread, Vec<f64>)>,
    rec_spread: Vec<Spread>,
    rec_coords: Array2<f64>,
    traces: Array2<f64>,
    nt: usize,
    step: u64,
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
        let stride = wl + g.nx + wr + 2 * r;
        let rows = wt + g.ny + wb + 2 * r;
        let lay = Layout {
            stride,
            cy0: r,
            cy1: r + wt + g.ny + wb,
            cx0: r,
            cx1: r + wl + g.nx + wr,
        };
        let (oy, ox) = (r + wt, r + wl);
        let size = rows * stride;

        // Stencil weights.
        let w2 = central_weights(2, p.space_order).expect("order checked");
        let w1 = central_weights(1, p.space_order).expect("order checked");
        let t = |v: f64| <T as Element>::from_f64(v);
        let w = Weights {
            w0: t(w2[r] / (g.dy * g.dy) + w2[r] / (g.dx * g.dx)),
            wy: (1..=r).map(|k| t(w2[r + k] / (g.dy * g.dy))).collect(),
            wx: (1..=r).map(|k| t(w2[r + k] / (g.dx * g.dx))).collect(),
        };
        let d1y = (1..=r).map(|k| t(w1[r + k] / g.dy)).collect();
        let d1x = (1..=r).map(|k| t(w1[r + k] / g.dx)).collect();

        // (v dt)^2 on the padded layout, the model replicated into the layers.
        let uniform = v_max == v_min;
        let c2_at = |i: usize, j: usize| {
            let pi = (i as isize - oy as isize).clamp(0, g.ny as isize - 1) as usize;
            let pj = (j as isize - ox as isize).clamp(0, g.nx as isize - 1) as usize;
            (velocity[[pi, pj]] * p.dt).powi(2)
        };
        let c2_field = if uniform {
            None
        } else {
            let mut f = vec![<T as num_traits::Zero>::zero(); size];
            for i in lay.cy0..lay.cy1 {
                for j in lay.cx0..lay.cx1 {
                    f[i * stride + j] = t(c2_at(i, j));
                }
            }
            Some(f)
        };
        let c2_uniform = t((v_max * p.dt).powi(2));

        // Absorbing layers.
        let f_ref = p.sources.iter().find_map(|s| match s.wavelet {
            crate::Wavelet::Ricker { f0, .. } => Some(f0),
            crate::Wavelet::Samples { .. } => None,
        });
        let pml_y = pml_axis::<T>(
            top, bottom, lay.cy0, lay.cy1, rows, g.dy, v_max, p.dt, f_ref, size,
        );
        let pml_x = pml_axis::<T>(
            left, right, lay.cx0, lay.cx1, stride, g.dx, v_max, p.dt, f_ref, size,
        );
        let sponge = if sides
            .iter()
            .any(|s| matches!(s, SideBoundary::Sponge { .. }))
        {
            Some((
                sponge_axis::<T>(top, bottom, lay.cy0, lay.cy1, rows),
                sponge_axis::<T>(left, right, lay.cx0, lay.cx1, stride),
            ))
        } else {
            None
        };

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
                        f_src: f_ref,
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
        // The constant-density CPML stays unused with density (the flux form has its own).
        let (pml_y, pml_x) = if density.is_some() {
            (None, None)
        } else {
            (pml_y, pml_x)
        };

        let nt = p.nt();
        let mut s = Seismic {
            params: p.clone(),
            lay,
            rows,
            r,
            oy,
            ox,
            w,
            w0y: t(w2[r] / (g.dy * g.dy)),
            w0x: t(w2[r] / (g.dx * g.dx)),
            d1y,
            d1x,
            cur: vec![<T as num_traits::Zero>::zero(); size],
            prev: vec![<T as num_traits::Zero>::zero(); size],
            c2_field,
            c2_uniform,
            velocity: velocity.clone(),
            pml_y,
            pml_x,
            sponge,
            density,
            density_const,
            sources: Vec::new(),
            rec_spread: Vec::new(),
            rec_coords: Array2::zeros((0, 2)),
            traces: Array2::zeros((0, nt + 1)),
            nt,
            step: 0,
            warnings: Vec::new(),
        };

        // Sources: spread times dt^2 v^2 / (dy dx) at each node.
        for (k, src) in p.sources.iter().enumerate() {
            let spread = s.spread(src.y, src.x, &format!("sources[{k}]"))?;
            let coefs = spread
                .into_iter()
                .map(|(idx, wgt)| {
                    let (i, j) = (idx / stride, idx % stride);
                    (idx, wgt * c2_at(i, j) / (g.dy * g.dx))
                })
                .collect();
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
            s.sources
                .push((coefs, wavelet::sample(&src.wavelet, p.dt, nt)));
        }
        let positions: Vec<[f64; 2]> = p
            .receivers
            .iter()
            .flat_map(crate::Receivers::positions)
            .collect();
        s.rec_coords = Array2::from_shape_fn((positions.len(), 2), |(i, c)| positions[i][c]);
        for (k, pos) in positions.iter().enumerate() {
            let sp = s.spread(pos[0], pos[1], &format!("receivers[{k}]"))?;
            s.rec_spread.push(sp);
        }
        s.traces = Array2::zeros((positions.len(), nt + 1));

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
                s.warnings.push(SeismicWarning::LowPointsPerWavelength {
                    ppw,
                    threshold,
                    order: p.space_order,
                    f_max,
                    v_min,
                    h,
                });
            }
        }
        Ok(s)
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
        Gather {
            name: name.into(),
            coords: self.rec_coords.view(),
            traces: self.traces.view(),
            recorded: self.samples_recorded(),
            dt: self.params.dt,
            sources: self.params.sources.iter().map(|s| [s.y, s.x]).collect(),
            quantity: Quantity::new("pressure", "Pa", "acoustic pressure at the receivers", true),
        }
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
        let s = self.lay.stride;
        for ((i, j), v) in p0.indexed_iter() {
            let idx = (i + self.oy) * s + j + self.ox;
            self.cur[idx] = <T as Element>::from_f64(*v);
            self.prev[idx] = <T as Element>::from_f64(*v);
        }
        self.record(0);
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
        let s = self.lay.stride;
        for ((i, j), o) in out.indexed_iter_mut() {
            *o = self.cur[(i + self.oy) * s + j + self.ox].to_c64().re;
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
        self.fill_ghosts();
        if let Some(d) = &mut self.density {
            d.step(&self.cur, &mut self.prev);
        } else {
            let coef = match &self.c2_field {
                Some(f) => Coef::Field(f),
                None => Coef::Uniform(self.c2_uniform),
            };
            leapfrog(self.lay, &self.w, coef, &self.cur, &mut self.prev);
            self.apply_pml();
        }
        if let Some((gy, gx)) = &self.sponge {
            damp(self.lay, gy, gx, &mut self.prev);
            damp(self.lay, gy, gx, &mut self.cur);
        }
        for (spread, samples) in &self.sources {
            let amp = samples.get(n).copied().unwrap_or(0.0);
            if amp != 0.0 {
                for &(idx, c) in spread {
                    self.prev[idx] += <T as Element>::from_f64(c * amp);
                }
            }
        }
        self.zero_free_surfaces();
        std::mem::swap(&mut self.cur, &mut self.prev);
        self.step += 1;
        if n < self.nt {
            self.record(n + 1);
        }
    }

    /// Advances `steps` time steps: bitwise the same as `steps` calls of [`Seismic::step`], for
    /// any thread count. Where nothing happens between steps (zero boundaries on all sides,
    /// constant density, no source sample, no receiver recording) up to a few steps are fused
    /// into one sweep over memory (temporal blocking), which is faster once the fields outgrow
    /// the cache. Allocates nothing.
    pub fn advance(&mut self, steps: usize) {
        let mut left = steps;
        while left > 0 {
            let k = self.fusable(left);
            if k < 2 {
                self.step();
                left -= 1;
                continue;
            }
            let coef = match &self.c2_field {
                Some(f) => Coef::Field(f),
                None => Coef::Uniform(self.c2_uniform),
            };
            leapfrog_fused(self.lay, &self.w, coef, k, &mut self.cur, &mut self.prev);
            if k % 2 == 1 {
                std::mem::swap(&mut self.cur, &mut self.prev);
            }
            self.step += k as u64;
            left -= k;
        }
    }

    /// How many of the next `max` steps [`Seismic::advance`] may fuse (0 or 1: none).
    fn fusable(&self, max: usize) -> usize {
        let b = self.params.boundaries;
        let plain = [b.top, b.bottom, b.left, b.right]
            .iter()
            .all(|&side| side == SideBoundary::Zero)
            && self.density.is_none()
            && self.pml_y.is_none()
            && self.pml_x.is_none()
            && self.sponge.is_none();
        let n = self.step as usize;
        if !plain || (!self.rec_spread.is_empty() && n < self.nt) {
            return 0;
        }
        let row_bytes = self.lay.stride * std::mem::size_of::<T>();
        let depth = fused_depth(self.r, row_bytes).min(max);
        // Sources are added between steps: stop before the first step with a sample.
        (0..depth)
            .take_while(|&d| {
                self.sources
                    .iter()
                    .all(|(_, smp)| smp.get(n + d).is_none_or(|&a| a == 0.0))
            })
            .count()
    }

    /// The discrete energy `(hy hx / 2) [(p^n - p^{n-1})^T D (p^n - p^{n-1}) - (p^n)^T L
    /// p^{n-1}]` with `D = 1 / (v dt)^2` (a discrete `(1/2) int p_t^2 / v^2 + |grad p|^2`,
    /// in Pa^2), which leapfrog conserves exactly (up to
    /// round-off) with rigid, free-surface or zero boundaries below the stability limit, and
    /// which an absorbing layer only removes.
    ///
    /// With variable density it is the density form
    /// `(1/2) int p_t^2 / (rho v^2) + (1/rho) |grad p|^2` of the staggered operator (Pa^2 m^3/kg).
    #[must_use]
    pub fn energy(&self) -> f64 {
        let g = self.params.grid;
        if let Some(d) = &self.density {
            return d.energy(&self.cur, &self.prev, g.dy, g.dx);
        }
        let lay = self.lay;
        let s = lay.stride;
        let f = |v: T| v.to_c64().re;
        let mut e = 0.0;
        for i in lay.cy0..lay.cy1 {
            for j in lay.cx0..lay.cx1 {
                let idx = i * s + j;
                let c2 = self
                    .c2_field
                    .as_ref()
                    .map_or(f(self.c2_uniform), |c| f(c[idx]));
                let dp = f(self.cur[idx]) - f(self.prev[idx]);
                let mut lap = f(self.w.w0) * f(self.prev[idx]);
                for k in 0..self.r {
                    let d = (k + 1) * s;
                    lap += f(self.w.wy[k]) * (f(self.prev[idx - d]) + f(self.prev[idx + d]))
                        + f(self.w.wx[k]) * (f(self.prev[idx - k - 1]) + f(self.prev[idx + k + 1]));
                }
                e += dp * dp / c2 - f(self.cur[idx]) * lap;
            }
        }
        0.5 * e * g.dy * g.dx
    }

    /// Largest `|p|` on the physical grid, Pa.
    #[must_use]
    pub fn max_abs(&self) -> f64 {
        let g = self.params.grid;
        let s = self.lay.stride;
        let mut m = 0.0f64;
        for i in 0..g.ny {
            let row = &self.cur[(i + self.oy) * s + self.ox..][..g.nx];
            for v in row {
                m = m.max(v.to_c64().re.abs());
            }
        }
        m
    }

    fn record(&mut self, k: usize) {
        if k >= self.traces.ncols() {
            return;
        }
        for (rcv, spread) in self.rec_spread.iter().enumerate() {
            let v: f64 = spread
                .iter()
                .map(|&(idx, w)| w * self.cur[idx].to_c64().re)
                .sum();
            self.traces[[rcv, k]] = v;
        }
    }

    /// Hicks weights of the point `(y, x)` folded by the mirror boundaries.
    fn spread(&self, y: f64, x: f64, what: &str) -> Result<Spread> {
        let g = self.params.grid;
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
        let b = self.params.boundaries;
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

    /// Fills the ghost cells of `cur` on the free-surface (odd mirror) and rigid (even mirror,
    /// edge repeated) sides; the other sides keep zeros.
    fn fill_ghosts(&mut self) {
        let b = self.params.boundaries;
        let lay = self.lay;
        let s = lay.stride;
        let r = self.r;
        let cur = &mut self.cur;
        let mirror = |kind: SideBoundary| match kind {
            SideBoundary::FreeSurface => Some((-1.0, 0usize)),
            SideBoundary::Rigid => Some((1.0, 1usize)),
            _ => None,
        };
        if let Some((sign, shift)) = mirror(b.top) {
            let sg = <T as Element>::from_f64(sign);
            for k in 1..=r {
                let (dst, src) = (lay.cy0 - k, lay.cy0 + k - shift);
                for j in lay.cx0..lay.cx1 {
                    cur[dst * s + j] = sg * cur[src * s + j];
                }
            }
        }
        if let Some((sign, shift)) = mirror(b.bottom) {
            let sg = <T as Element>::from_f64(sign);
            let e = lay.cy1 - 1;
            for k in 1..=r {
                let (dst, src) = (e + k, e - k + shift);
                for j in lay.cx0..lay.cx1 {
                    cur[dst * s + j] = sg * cur[src * s + j];
                }
            }
        }
        if let Some((sign, shift)) = mirror(b.left) {
            let sg = <T as Element>::from_f64(sign);
            for i in lay.cy0..lay.cy1 {
                for k in 1..=r {
                    cur[i * s + lay.cx0 - k] = sg * cur[i * s + lay.cx0 + k - shift];
                }
            }
        }
        if let Some((sign, shift)) = mirror(b.right) {
            let sg = <T as Element>::from_f64(sign);
            let e = lay.cx1 - 1;
            for i in lay.cy0..lay.cy1 {
                for k in 1..=r {
                    cur[i * s + e + k] = sg * cur[i * s + e - k + shift];
                }
            }
        }
    }

    fn zero_free_surfaces(&mut self) {
        let b = self.params.boundaries;
        let lay = self.lay;
        let s = lay.stride;
        let next = &mut self.prev;
        if b.top == SideBoundary::FreeSurface {
            next[lay.cy0 * s + lay.cx0..lay.cy0 * s + lay.cx1]
                .fill(<T as num_traits::Zero>::zero());
        }
        if b.bottom == SideBoundary::FreeSurface {
            let e = lay.cy1 - 1;
            next[e * s + lay.cx0..e * s + lay.cx1].fill(<T as num_traits::Zero>::zero());
        }
        for (kind, j) in [(b.left, lay.cx0), (b.right, lay.cx1 - 1)] {
            if kind == SideBoundary::FreeSurface {
                for i in lay.cy0..lay.cy1 {
                    next[i * s + j] = <T as num_traits::Zero>::zero();
                }
            }
        }
    }

    /// CPML corrections in the layers: `next += c2 (D psi + zeta)` per axis, with
    /// `psi = b psi + a D p` and `zeta = b zeta + a (D2 p + D psi)` (recursive convolutions of
    /// the stretched derivative `(1/s) d/dx ((1/s) dp/dx)`).
    fn apply_pml(&mut self) {
        let lay = self.lay;
        let s = lay.stride;
        let r = self.r;
        let c2f = self.c2_field.as_deref();
        let c2u = self.c2_uniform;
        let cur = &self.cur;
        // x: each row independently (the derivatives are along the row).
        if let Some(px) = &mut self.pml_x {
            let (ax, bx, strips) = (&px.a, &px.b, &px.strips);
            let (wx, d1) = (&self.w.wx, &self.d1x);
            let w0x = self.w0x;
            let rows = lay.cy0 * s..lay.cy1 * s;
            self.prev[rows.clone()]
                .par_chunks_mut(s)
                .zip(px.psi[rows.clone()].par_chunks_mut(s))
                .zip(px.zeta[rows].par_chunks_mut(s))
                .enumerate()
                .for_each(|(ri, ((next, psi), zeta))| {
                    let i = lay.cy0 + ri;
                    let c = &cur[i * s..(i + 1) * s];
                    for &(j0, j1) in strips {
                        for j in j0..j1 {
                            let mut d = <T as num_traits::Zero>::zero();
                            for k in 0..r {
                                d += d1[k] * (c[j + k + 1] - c[j - k - 1]);
                            }
                            psi[j] = bx[j] * psi[j] + ax[j] * d;
                        }
                    }
                    for &(j0, j1) in strips {
                        for j in j0..j1 {
                            let mut dpsi = <T as num_traits::Zero>::zero();
                            let mut d2 = w0x * c[j];
                            for k in 0..r {
                                dpsi += d1[k] * (psi[j + k + 1] - psi[j - k - 1]);
                                d2 += wx[k] * (c[j + k + 1] + c[j - k - 1]);
                            }
                            zeta[j] = bx[j] * zeta[j] + ax[j] * (d2 + dpsi);
                            let c2 = c2f.map_or(c2u, |f| f[i * s + j]);
                            next[j] += c2 * (dpsi + zeta[j]);
                        }
                    }
                });
        }
        if let Some(py) = &mut self.pml_y {
            let (ay, by) = (&py.a, &py.b);
            let (wy, d1) = (&self.w.wy, &self.d1y);
            let w0y = self.w0y;
            for &(i0, i1) in &py.strips {
                // psi first over the whole strip: zeta needs psi of the neighbouring rows.
                py.psi[i0 * s..i1 * s]
                    .par_chunks_mut(s)
                    .enumerate()
                    .for_each(|(ri, psi)| {
                        let i = i0 + ri;
                        for j in lay.cx0..lay.cx1 {
                            let mut d = <T as num_traits::Zero>::zero();
                            for k in 0..r {
                                d += d1[k] * (cur[(i + k + 1) * s + j] - cur[(i - k - 1) * s + j]);
                            }
                            psi[j] = by[i] * psi[j] + ay[i] * d;
                        }
                    });
                let psi = &py.psi;
                self.prev[i0 * s..i1 * s]
                    .par_chunks_mut(s)
                    .zip(py.zeta[i0 * s..i1 * s].par_chunks_mut(s))
                    .enumerate()
                    .for_each(|(ri, (next, zeta))| {
                        let i = i0 + ri;
                        for j in lay.cx0..lay.cx1 {
                            let mut dpsi = <T as num_traits::Zero>::zero();
                            let mut d2 = w0y * cur[i * s + j];
                            for k in 0..r {
                                let (u, d) = ((i - k - 1) * s + j, (i + k + 1) * s + j);
                                dpsi += d1[k] * (psi[d] - psi[u]);
                                d2 += wy[k] * (cur[d] + cur[u]);
                            }
                            zeta[j] = by[i] * zeta[j] + ay[i] * (d2 + dpsi);
                            let c2 = c2f.map_or(c2u, |f| f[i * s + j]);
                            next[j] += c2 * (dpsi + zeta[j]);
                        }
                    });
            }
        }
    }

    fn state_arrays(&self) -> Vec<(&'static str, &[T])> {
        let mut v: Vec<(&'static str, &[T])> = vec![("p", &self.cur), ("p_prev", &self.prev)];
        if let Some(p) = &self.pml_y {
            v.push(("psi_y", &p.psi));
            v.push(("zeta_y", &p.zeta));
        }
        if let Some(p) = &self.pml_x {
            v.push(("psi_x", &p.psi));
            v.push(("zeta_x", &p.zeta));
        }
        if let Some(d) = &self.density {
            v.extend(d.state_arrays());
        }
        v
    }
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

fn check_side(side: &SideBoundary, name: &str) -> Result<()> {
    match *side {
        SideBoundary::Cpml {
            width,
            reflection,
            frequency,
        } => {
            if width == 0 || width > 1000 {
                return Err(SeismicError::invalid(
                    format!("boundaries.{name}.width"),
                    width,
                    "CPML width must be 1 to 1000 cells",
                ));
            }
            if !(reflection > 0.0 && reflection < 1.0) {
                return Err(SeismicError::invalid(
                    format!("boundaries.{name}.reflection"),
                    reflection,
                    "the reflection target must be between 0 and 1 (exclusive), e.g. 1e-4",
                ));
            }
            if let Some(f) = frequency
                && !(f.is_finite() && f >= 0.0)
            {
                return Err(SeismicError::invalid(
                    format!("boundaries.{name}.frequency"),
                    f,
                    "must be finite and >= 0 (Hz)",
                ));
            }
        }
        SideBoundary::Sponge { width, strength } => {
            if width == 0 || width > 1000 {
                return Err(SeismicError::invalid(
                    format!("boundaries.{name}.width"),
                    width,
                    "sponge width must be 1 to 1000 cells",
                ));
            }
            if !(strength.is_finite() && strength > 0.0) {
                return Err(SeismicError::invalid(
                    format!("boundaries.{name}.strength"),
                    strength,
                    "must be positive and finite",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Distance (in cells, 1..=width) of padded index `i` into the layer of the low or high side.
fn layer_depth(
    i: usize,
    c0: usize,
    c1: usize,
    lo: SideBoundary,
    hi: SideBoundary,
) -> Option<(usize, SideBoundary)> {
    let (wl, wh) = (lo.width(), hi.width());
    if i >= c0 && i < c0 + wl {
        Some((c0 + wl - i, lo))
    } else if i + wh >= c1 && i < c1 {
        Some((i + wh + 1 - c1, hi))
    } else {
        None
    }
}

#[allow(clippy::too_many_arguments)]
fn pml_axis<T: RealElement>(
    lo: SideBoundary,
    hi: SideBoundary,
    c0: usize,
    c1: usize,
    len: usize,
    h: f64,
    v_max: f64,
    dt: f64,
    f_src: Option<f64>,
    size: usize,
) -> Option<PmlAxis<T>> {
    let is_pml = |b: SideBoundary| matches!(b, SideBoundary::Cpml { .. });
    if !is_pml(lo) && !is_pml(hi) {
        return None;
    }
    let mut a = vec![<T as num_traits::Zero>::zero(); len];
    let mut b = vec![<T as num_traits::One>::one(); len];
    for i in 0..len {
        if let Some((
            depth,
            SideBoundary::Cpml {
                width,
                reflection,
                frequency,
            },
        )) = layer_depth(i, c0, c1, lo, hi)
        {
            let l = width as f64 * h;
            let q = depth as f64 / width as f64;
            let d0 = -3.0 * v_max * reflection.ln() / (2.0 * l);
            let d = d0 * q * q;
            let alpha = std::f64::consts::PI * frequency.or(f_src).unwrap_or(0.0) * (1.0 - q);
            let bb = (-(d + alpha) * dt).exp();
            let aa = if d > 0.0 {
                d * (bb - 1.0) / (d + alpha)
            } else {
                0.0
            };
            a[i] = <T as Element>::from_f64(aa);
            b[i] = <T as Element>::from_f64(bb);
        }
    }
    let mut strips = Vec::new();
    if is_pml(lo) {
        strips.push((c0, c0 + lo.width()));
    }
    if is_pml(hi) {
        strips.push((c1 - hi.width(), c1));
    }
    Some(PmlAxis {
        a,
        b,
        strips,
        psi: vec![<T as num_traits::Zero>::zero(); size],
        zeta: vec![<T as num_traits::Zero>::zero(); size],
    })
}

fn sponge_axis<T: RealElement>(
    lo: SideBoundary,
    hi: SideBoundary,
    c0: usize,
    c1: usize,
    len: usize,
) -> Vec<T> {
    (0..len)
        .map(|i| match layer_depth(i, c0, c1, lo, hi) {
            Some((depth, SideBoundary::Sponge { width, strength })) => {
                <T as Element>::from_f64((-(strength * depth as f64 / width as f64).powi(2)).exp())
            }
            _ => <T as num_traits::One>::one(),
        })
        .collect()
}

/// Multiplies the field by the sponge factors `gy[i] gx[j]` where they differ from 1.
fn damp<T: RealElement>(lay: Layout, gy: &[T], gx: &[T], f: &mut [T]) {
    let s = lay.stride;
    let one = <T as num_traits::One>::one();
    f[lay.cy0 * s..lay.cy1 * s]
        .par_chunks_mut(s)
        .enumerate()
        .for_each(|(ri, row)| {
            let g = gy[lay.cy0 + ri];
            for j in lay.cx0..lay.cx1 {
                let gg = g * gx[j];
                if gg != one {
                    row[j] *= gg;
                }
            }
        });
}

impl<T: RealElement> Simulation for Seismic<T> {
    fn kind(&self) -> &'static str {
        "seismic"
    }
    fn grid(&self) -> Grid {
        self.params.grid
    }
    fn dt(&self) -> f64 {
        self.params.dt
    }
    fn time_units(&self) -> &'static str {
        "s"
    }
    fn step_count(&self) -> u64 {
        self.step
    }
    fn time(&self) -> f64 {
        self.step as f64 * self.params.dt
    }
    fn step(&mut self) {
        Seismic::step(self);
    }
    fn advance(&mut self, n: u64) {
        convsim_core::sim::in_usize_chunks(n, |k| Seismic::advance(self, k));
    }
    fn fields(&self) -> Vec<Quantity> {
        let mut v = vec![
            Quantity::new("pressure", "Pa", "acoustic pressure", true),
            Quantity::new("velocity", "m/s", "P-wave velocity model", false),
        ];
        if self.density.is_some() || self.density_const.is_some() {
            v.push(Quantity::new(
                "density",
                "kg/m^3",
                "mass density model",
                false,
            ));
        }
        v
    }
    fn is_static(&self, name: &str) -> bool {
        matches!(name, "velocity" | "density")
    }
    fn write_field(&self, name: &str, mut out: ArrayViewMut2<'_, f64>) -> bool {
        match name {
            "pressure" => {
                self.pressure_into(out);
                true
            }
            "velocity" => {
                out.assign(&self.velocity);
                true
            }
            "density" => match (&self.density, self.density_const) {
                (Some(d), _) => {
                    out.assign(&d.rho);
                    true
                }
                (None, Some(v)) => {
                    out.fill(v);
                    true
                }
                (None, None) => false,
            },
            _ => false,
        }
    }
    fn gathers(&self) -> Vec<Gather<'_>> {
        if self.rec_coords.nrows() == 0 {
            return Vec::new();
        }
        vec![self.gather("shot0")]
    }
    fn diagnostics(&self) -> Vec<Quantity> {
        vec![
            if self.density.is_some() {
                Quantity::new(
                    "energy",
                    "Pa^2 m^3/kg",
                    "discrete wave energy (1/2) sum [p_t^2 / (rho v^2) + |grad p|^2 / rho] dA (a pressure norm, not joules; conserved without absorbing layers)",
                    false,
                )
            } else {
                Quantity::new(
                    "energy",
                    "Pa^2",
                    "discrete wave energy (1/2) sum [p_t^2 / v^2 + |grad p|^2] dA (a pressure norm, not joules; conserved without absorbing layers)",
                    false,
                )
            },
            Quantity::new("max_abs_pressure", "Pa", "largest |p| on the grid", false),
        ]
    }
    fn diagnostic_values(&self, out: &mut [f64]) {
        out[0] = self.energy();
        out[1] = self.max_abs();
    }
    fn is_finite(&self) -> bool {
        self.cur.iter().all(|v| v.to_c64().re.is_finite())
    }
    fn state(&self) -> Vec<StateArray> {
        let shape = IxDyn(&[self.rows, self.lay.stride]);
        let mut v: Vec<StateArray> = self
            .state_arrays()
            .into_iter()
            .map(|(name, a)| StateArray {
                name: name.into(),
                data: ArrayD::from_shape_vec(
                    shape.clone(),
                    a.iter().map(|x| x.to_c64().re).collect(),
                )
                .expect("padded shape"),
            })
            .collect();
        v.push(StateArray {
            name: "traces".into(),
            data: self.traces.clone().into_dyn(),
        });
        v
    }
    fn restore(
        &mut self,
        step: u64,
        _time: f64,
        state: &[StateArray],
    ) -> std::result::Result<(), String> {
        let shape = vec![self.rows, self.lay.stride];
        let find = |name: &str, want: &[usize]| -> std::result::Result<&ArrayD<f64>, String> {
            let a = state
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| format!("checkpoint has no array `{name}`"))?;
            if a.data.shape() != want {
                return Err(format!(
                    "array `{name}` has shape {:?}, expected {want:?}",
                    a.data.shape()
                ));
            }
            Ok(&a.data)
        };
        let names: Vec<&'static str> = self.state_arrays().into_iter().map(|(n, _)| n).collect();
        let mut loaded = Vec::new();
        for name in &names {
            loaded.push(
                find(name, &shape)?
                    .iter()
                    .map(|&x| <T as Element>::from_f64(x))
                    .collect::<Vec<T>>(),
            );
        }
        let traces = find("traces", &[self.traces.nrows(), self.traces.ncols()])?.clone();
        let mut it = loaded.into_iter();
        self.cur = it.next().expect("p");
        self.prev = it.next().expect("p_prev");
        if let Some(p) = &mut self.pml_y {
            p.psi = it.next().expect("psi_y");
            p.zeta = it.next().expect("zeta_y");
        }
        if let Some(p) = &mut self.pml_x {
            p.psi = it.next().expect("psi_x");
            p.zeta = it.next().expect("zeta_x");
        }
        if let Some(d) = &mut self.density {
            for a in d.state_arrays_mut() {
                *a = it.next().expect("density memory variable");
            }
        }
        self.traces = traces.into_dimensionality().map_err(|e| e.to_string())?;
        self.step = step;
        Ok(())
    }
}
