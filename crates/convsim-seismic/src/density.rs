//! Variable density: `p_tt = rho v^2 div((1/rho) grad p) + v^2 s(t) delta(x - x_s)`.
//!
//! The operator is discretised in the standard staggered (flux) form: per axis,
//! `d/dx (b dp/dx)` at node `j` is `D- [ b_{j+1/2} (D+ p)_{j+1/2} ]`, where `D+` maps nodes to
//! the half-points and `D-` half-points to nodes, both the order-`2r` first derivative on `2r`
//! points at half offsets (Fornberg weights `c_k` of the nodes `+-(k - 1/2)`):
//! `(D+ p)_{j+1/2} = sum_k c_k (p_{j+k} - p_{j+1-k}) / h`. Because `D- = -(D+)^T`, the operator
//! is symmetric and leapfrog conserves a discrete energy exactly (see [`Density::energy`]).
//!
//! Buoyancy `b = 1/rho` at a half-point is the arithmetic mean of `b` at its two nodes. That is
//! the average of the coefficient that multiplies the gradient (the one the flux needs), it keeps
//! the operator symmetric, it is exact where `b` is linear, and it equals the harmonic mean of
//! `rho` (Moczo et al. 2002's "effective density" at a node-centred interface).
//!
//! For constant `b` the composite stencil `D- D+` is a `(4r - 1)`-point second derivative of
//! order `2r`; it equals the central order-`2r` stencil of the constant-density path only for
//! order 2 (for higher orders the two differ at `O(h^{2r})`), which is why constant density
//! keeps the constant-density path.
//!
//! Boundaries: rigid (`dp/dn = 0`) mirrors `p` evenly about the half-point outside the edge, so
//! the flux there is zero and the fluxes beyond are odd mirrors; the free surface mirrors `p`
//! oddly about the edge node, so the fluxes are even mirrors; zero, sponge and CPML edges leave
//! the fluxes beyond the first outer half-point at zero. The CPML is the convolutional PML of
//! the flux form: memory variables `psi` on the half-points stretch `D+ p`, memory variables
//! `zeta` on the nodes stretch `D- q`, with the same `a`, `b`, damping and frequency shift as the
//! constant-density CPML.

use convsim_core::ParamPath;
use convsim_core::fp::Subnormals;
use convsim_core::stencil::fd_weights;
use convsim_core::sum::ExactSum;
use convsim_core::{Element, Grid, RealElement};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::absorb::{Axis, Cpml, CpmlSetup};
use crate::sweep::Layout;
use crate::{Result, SeismicError, SideBoundary};

/// Staggered first-derivative weights `c_k`, `k = 1..=r`, of accuracy `order` on unit spacing:
/// the weight of the node at `+(k - 1/2)` (the node at `-(k - 1/2)` has `-c_k`).
///
/// # Panics
/// If `order` is not even and at least 2 (checked by the solver first).
#[must_use]
pub fn staggered_weights(order: usize) -> Vec<f64> {
    let r = order / 2;
    let xs: Vec<f64> = (0..2 * r).map(|i| i as f64 - r as f64 + 0.5).collect();
    let w = fd_weights(1, 0.0, &xs).expect("distinct nodes");
    // Antisymmetrise exactly so the operator stays symmetric to round-off.
    (1..=r).map(|k| 0.5 * (w[r - 1 + k] - w[r - k])).collect()
}

/// CPML state of one axis in the flux form.
#[derive(Clone, Debug)]
struct Pml<T> {
    /// The profile at the nodes (`zeta`, `D- q`) and at the half-points `m + 1/2` (index `m`;
    /// `psi`, `D+ p`).
    node: Cpml<T>,
    half: Cpml<T>,
    /// `psi` on the half-points, `zeta` on the nodes (padded layout).
    psi: Vec<T>,
    zeta: Vec<T>,
}

/// The flux-form CPML of one axis (`len` padded positions, `size` samples per array), `None`
/// without a CPML side.
fn pml<T: RealElement>(ax: &Axis, len: usize, cs: CpmlSetup, size: usize) -> Option<Pml<T>> {
    Some(Pml {
        node: ax.cpml(len, false, cs)?,
        half: ax.cpml(len, true, cs)?,
        psi: vec![T::zero(); size],
        zeta: vec![T::zero(); size],
    })
}

/// Everything the variable-density step needs, allocated once.
#[derive(Clone, Debug)]
pub(crate) struct Density<T> {
    lay: Layout,
    r: usize,
    /// `[top, bottom, left, right]`.
    sides: [SideBoundary; 4],
    /// `c_k / h` per axis.
    cy: Vec<T>,
    cx: Vec<T>,
    /// `rho v^2 dt^2` per padded node.
    kdt2: Vec<T>,
    /// Buoyancy at `(i, j + 1/2)` (`bx[i s + j]`) and at `(i + 1/2, j)` (`by[i s + j]`).
    bx: Vec<T>,
    by: Vec<T>,
    /// Fluxes `b D+ p` at the same positions as `bx`, `by`.
    qx: Vec<T>,
    qy: Vec<T>,
    pml_x: Option<Pml<T>>,
    pml_y: Option<Pml<T>>,
    /// The density model on the physical grid, kg/m^3.
    pub(crate) rho: Array2<f64>,
    /// The stability limit of this discretisation and model, s.
    pub(crate) dt_limit: f64,
}

/// What [`Density::new`] needs from the solver's constructor.
pub(crate) struct Setup<'a> {
    pub(crate) grid: Grid,
    pub(crate) lay: Layout,
    pub(crate) rows: usize,
    pub(crate) r: usize,
    pub(crate) oy: usize,
    pub(crate) ox: usize,
    pub(crate) dt: f64,
    pub(crate) order: usize,
    pub(crate) velocity: ArrayView2<'a, f64>,
    pub(crate) sides: [SideBoundary; 4],
    /// The CPML setup of the solver (the same profiles as the constant-density sweep).
    pub(crate) cs: CpmlSetup,
}

impl<T> Density<T> {
    /// The CPML memory variables of the flux form, named for checkpoints (the fluxes `qx`, `qy`
    /// are recomputed from `p` every step, so they are not state).
    pub(crate) fn state_arrays(&self) -> Vec<(&'static str, &[T])> {
        let mut v: Vec<(&'static str, &[T])> = Vec::new();
        if let Some(p) = &self.pml_y {
            v.push(("rho_psi_y", &p.psi));
            v.push(("rho_zeta_y", &p.zeta));
        }
        if let Some(p) = &self.pml_x {
            v.push(("rho_psi_x", &p.psi));
            v.push(("rho_zeta_x", &p.zeta));
        }
        v
    }

    /// The same arrays as [`Density::state_arrays`], in the same order, for restoring.
    pub(crate) fn state_arrays_mut(&mut self) -> Vec<&mut Vec<T>> {
        let mut v = Vec::new();
        for p in [&mut self.pml_y, &mut self.pml_x].into_iter().flatten() {
            v.push(&mut p.psi);
            v.push(&mut p.zeta);
        }
        v
    }
}

impl<T: RealElement> Density<T> {
    /// Builds the half-point buoyancies, `rho v^2 dt^2`, the CPML profiles and the stability
    /// limit.
    ///
    /// The limit is Gershgorin's bound on `K D-^T B D+` (similar to a symmetric matrix, so its
    /// eigenvalues are real): `lambda <= max_i K_i sum_axis S^2 max_{|m - i| < r} b_m` with
    /// `S = 2 sum |c_k| / h`, and leapfrog is stable for `dt^2 lambda <= 4`. For a homogeneous
    /// model the bound is the exact Nyquist eigenvalue (the `c_k` alternate in sign).
    pub(crate) fn new(st: &Setup<'_>, rho: Array2<f64>) -> Result<Self> {
        let g = st.grid;
        let lay = st.lay;
        let s = lay.stride;
        let size = st.rows * s;
        let r = st.r;
        let c = staggered_weights(st.order);
        let t = |v: f64| <T as Element>::from_f64(v);
        let at = |a: &ArrayView2<'_, f64>, i: usize, j: usize| {
            let pi = (i as isize - st.oy as isize).clamp(0, g.ny as isize - 1) as usize;
            let pj = (j as isize - st.ox as isize).clamp(0, g.nx as isize - 1) as usize;
            a[[pi, pj]]
        };
        let rv = rho.view();
        let mut kdt2 = vec![<T as num_traits::Zero>::zero(); size];
        let mut bx64 = vec![0.0; size];
        let mut by64 = vec![0.0; size];
        for i in 0..st.rows {
            for j in 0..s {
                let v = at(&st.velocity, i, j);
                let rh = at(&rv, i, j);
                kdt2[i * s + j] = t(rh * (v * st.dt).powi(2));
                bx64[i * s + j] = 0.5 * (1.0 / rh + 1.0 / at(&rv, i, j + 1));
                by64[i * s + j] = 0.5 * (1.0 / rh + 1.0 / at(&rv, i + 1, j));
            }
        }
        let sum_abs: f64 = c.iter().map(|v| v.abs()).sum();
        let (sy2, sx2) = (
            (2.0 * sum_abs / g.dy).powi(2),
            (2.0 * sum_abs / g.dx).powi(2),
        );
        let mut lambda: f64 = 0.0;
        for i in lay.cy0..lay.cy1 {
            for j in lay.cx0..lay.cx1 {
                let k = at(&rv, i, j) * at(&st.velocity, i, j).powi(2);
                let mbx = (j - r..j + r).map(|m| bx64[i * s + m]).fold(0.0, f64::max);
                let mby = (i - r..i + r).map(|m| by64[m * s + j]).fold(0.0, f64::max);
                lambda = lambda.max(k * (sy2 * mby + sx2 * mbx));
            }
        }
        let dt_limit = 2.0 / lambda.sqrt();
        let [y_axis, x_axis] = Axis::pair(&lay, st.sides, g.dy, g.dx);
        let pml_y = pml::<T>(&y_axis, st.rows, st.cs, size);
        let pml_x = pml::<T>(&x_axis, s, st.cs, size);
        if !(dt_limit.is_finite() && dt_limit > 0.0) {
            return Err(SeismicError::invalid(
                ParamPath::table("density"),
                "(model)",
                "density and velocity must give a finite stability limit",
            ));
        }
        Ok(Density {
            lay,
            r,
            sides: st.sides,
            cy: c.iter().map(|v| t(v / g.dy)).collect(),
            cx: c.iter().map(|v| t(v / g.dx)).collect(),
            kdt2,
            bx: bx64.into_iter().map(t).collect(),
            by: by64.into_iter().map(t).collect(),
            qx: vec![<T as num_traits::Zero>::zero(); size],
            qy: vec![<T as num_traits::Zero>::zero(); size],
            pml_x,
            pml_y,
            rho,
            dt_limit,
        })
    }

    /// One leapfrog step `next = 2 cur - next + rho v^2 dt^2 div(b grad cur)` over the
    /// computational region (CPML included). `cur` must have its ghost cells filled by the
    /// boundaries. `fp`: the subnormal setting of the step's threads. Allocates nothing.
    ///
    /// `halo(qx, qy)` runs once the fluxes are complete (CPML and mirrors included) and before
    /// the divergence reads them: a tile fills their ghost cells there (the one process passes a
    /// no-op).
    pub(crate) fn step(
        &mut self,
        cur: &[T],
        next: &mut [T],
        fp: Subnormals,
        halo: &mut dyn FnMut(&mut [T], &mut [T]),
    ) {
        macro_rules! go {
            ($r:literal) => {
                self.step_r::<$r>(cur, next, fp, halo)
            };
        }
        match self.r {
            1 => go!(1),
            2 => go!(2),
            3 => go!(3),
            4 => go!(4),
            5 => go!(5),
            6 => go!(6),
            7 => go!(7),
            8 => go!(8),
            r => unreachable!("stencil radius {r} outside 1..=8 (checked at construction)"),
        }
    }

    fn step_r<const R: usize>(
        &mut self,
        cur: &[T],
        next: &mut [T],
        fp: Subnormals,
        halo: &mut dyn FnMut(&mut [T], &mut [T]),
    ) {
        let lay = self.lay;
        let cy: [T; R] = std::array::from_fn(|k| self.cy[k]);
        let cx: [T; R] = std::array::from_fn(|k| self.cx[k]);
        fluxes::<T, R>(
            (lay, fp),
            &cy,
            &cx,
            &self.bx,
            &self.by,
            cur,
            &mut self.qx,
            &mut self.qy,
        );
        // CPML: stretch the gradients in the layers (recomputing D+ p there only).
        if let Some(px) = &mut self.pml_x {
            Pass {
                lay,
                fp,
                c: &cx,
                layer: &px.half,
                w: &self.bx,
                src: cur,
            }
            .along_x::<1>(&mut self.qx, &mut px.psi);
        }
        if let Some(py) = &mut self.pml_y {
            Pass {
                lay,
                fp,
                c: &cy,
                layer: &py.half,
                w: &self.by,
                src: cur,
            }
            .along_y::<1>(&mut self.qy, &mut py.psi);
        }
        mirror_fluxes(lay, self.r, self.sides, &mut self.qx, &mut self.qy);
        halo(&mut self.qx, &mut self.qy);
        update::<T, R>(
            (lay, fp),
            &cy,
            &cx,
            &self.kdt2,
            &self.qx,
            &self.qy,
            cur,
            next,
        );
        // CPML: stretch the divergence in the layers.
        if let Some(px) = &mut self.pml_x {
            Pass {
                lay,
                fp,
                c: &cx,
                layer: &px.node,
                w: &self.kdt2,
                src: &self.qx,
            }
            .along_x::<0>(next, &mut px.zeta);
        }
        if let Some(py) = &mut self.pml_y {
            Pass {
                lay,
                fp,
                c: &cy,
                layer: &py.node,
                w: &self.kdt2,
                src: &self.qy,
            }
            .along_y::<0>(next, &mut py.zeta);
        }
    }

    /// The discrete energy `(hy hx / 2) sum [(p^n - p^{n-1})^2 / (rho v^2 dt^2) - p^n A p^{n-1}]`
    /// with `A = D- b D+` (a discrete `(1/2) int p_t^2 / (rho v^2) + b |grad p|^2`), which
    /// leapfrog conserves exactly (up to round-off) with rigid, free-surface or zero boundaries
    /// below the stability limit. `prev` must have valid ghost cells (those of the last step).
    /// Allocates two scratch fields (a diagnostic, not part of the step).
    pub(crate) fn energy(&self, cur: &[T], prev: &[T], hy: f64, hx: f64) -> f64 {
        let lay = self.lay;
        let mut qx = vec![<T as num_traits::Zero>::zero(); self.qx.len()];
        let mut qy = qx.clone();
        self.energy_fluxes(prev, &mut qx, &mut qy);
        let sum = self.energy_sum(cur, prev, (&qx, &qy), lay.cy0..lay.cy1, lay.cx0..lay.cx1);
        0.5 * sum.value() * hy * hx
    }

    /// The fluxes `b D+ p^{n-1}` the energy reads (mirrors included), into `qx`, `qy` (arrays
    /// of the padded size).
    pub(crate) fn energy_fluxes(&self, prev: &[T], qx: &mut [T], qy: &mut [T]) {
        let lay = self.lay;
        let r = self.r;
        macro_rules! go {
            ($r:literal) => {{
                let cy: [T; $r] = std::array::from_fn(|k| self.cy[k]);
                let cx: [T; $r] = std::array::from_fn(|k| self.cx[k]);
                // A diagnostic: IEEE arithmetic, as the constant-density energy.
                fluxes::<T, $r>(
                    (lay, Subnormals::Keep),
                    &cy,
                    &cx,
                    &self.bx,
                    &self.by,
                    prev,
                    qx,
                    qy,
                );
            }};
        }
        match r {
            1 => go!(1),
            2 => go!(2),
            3 => go!(3),
            4 => go!(4),
            5 => go!(5),
            6 => go!(6),
            7 => go!(7),
            8 => go!(8),
            r => unreachable!("stencil radius {r} outside 1..=8"),
        }
        mirror_fluxes(lay, r, self.sides, qx, qy);
    }

    /// The energy terms over padded rows `rows` and columns `cols`, from the fluxes of
    /// [`Density::energy_fluxes`] (with their ghost cells filled). The sum is exact
    /// ([`ExactSum`]), so the shares of tiles combine to the one-process bits.
    pub(crate) fn energy_sum(
        &self,
        cur: &[T],
        prev: &[T],
        (qx, qy): (&[T], &[T]),
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
    ) -> ExactSum {
        let s = self.lay.stride;
        let f = |v: T| v.to_c64().re;
        let mut e = ExactSum::default();
        for i in rows {
            for j in cols.clone() {
                let idx = i * s + j;
                let mut div = 0.0;
                for k in 0..self.r {
                    div += f(self.cy[k]) * (f(qy[idx + k * s]) - f(qy[idx - (k + 1) * s]))
                        + f(self.cx[k]) * (f(qx[idx + k]) - f(qx[idx - 1 - k]));
                }
                let dp = f(cur[idx]) - f(prev[idx]);
                e.add(dp * dp / f(self.kdt2[idx]) - f(cur[idx]) * div);
            }
        }
        e
    }

    /// The operator on a tile: every array cut by `field` (a padded array of the whole grid to
    /// the tile's), the per-row profiles from row `row0` on (`rows` of them), the per-column
    /// ones cut by `cols`, the CPML layers whose first node lies in the tile's padded rows
    /// `gy` (columns `gx`, first column `col0`), and the tile's boundary `sides`
    /// (`[top, bottom, left, right]`, zero on the inner sides).
    #[allow(
        clippy::too_many_arguments,
        reason = "the tile's rows, columns, offset and sides are separate inputs of the cut"
    )]
    pub(crate) fn cut(
        &self,
        lay: Layout,
        sides: [SideBoundary; 4],
        (row0, rows, gy): (usize, usize, std::ops::Range<usize>),
        (col0, gx): (usize, std::ops::Range<usize>),
        field: &dyn Fn(&[T]) -> Vec<T>,
        cols: &dyn Fn(&[T]) -> Vec<T>,
        rho: Array2<f64>,
    ) -> Self {
        // Strips of the layers whose first node (`lo` after the strip's start) is in `keep`,
        // shifted by `o` to the tile.
        let strips = |v: &[(usize, usize)], keep: &std::ops::Range<usize>, o: usize, lo: usize| {
            v.iter()
                .filter(|(a, _)| keep.contains(&(a + lo)))
                .map(|&(a, b)| (a - o, b - o))
                .collect::<Vec<_>>()
        };
        let cut =
            |p: &Pml<T>, keep: &std::ops::Range<usize>, o: usize, prof: &dyn Fn(&[T]) -> Vec<T>| {
                let node = strips(&p.node.strips, keep, o, 0);
                (!node.is_empty()).then(|| Pml {
                    node: Cpml {
                        a: prof(&p.node.a),
                        b: prof(&p.node.b),
                        strips: node,
                    },
                    half: Cpml {
                        a: prof(&p.half.a),
                        b: prof(&p.half.b),
                        strips: strips(&p.half.strips, keep, o, 1),
                    },
                    psi: field(&p.psi),
                    zeta: field(&p.zeta),
                })
            };
        let pml_y = self
            .pml_y
            .as_ref()
            .and_then(|p| cut(p, &gy, row0, &|v: &[T]| v[row0..row0 + rows].to_vec()));
        let pml_x = self.pml_x.as_ref().and_then(|p| cut(p, &gx, col0, cols));
        Density {
            lay,
            r: self.r,
            sides,
            cy: self.cy.clone(),
            cx: self.cx.clone(),
            kdt2: field(&self.kdt2),
            bx: field(&self.bx),
            by: field(&self.by),
            qx: field(&self.qx),
            qy: field(&self.qy),
            pml_x,
            pml_y,
            rho,
            dt_limit: self.dt_limit,
        }
    }

    /// The CPML memory variables as a tile lists them for its checkpoint: always four arrays,
    /// empty without that layer (every tile lists the same names).
    pub(crate) fn tile_arrays(&self) -> [(&'static str, &[T]); 4] {
        let (py, px) = (self.pml_y.as_ref(), self.pml_x.as_ref());
        [
            ("rho_psi_y", py.map_or(&[][..], |p| &p.psi)),
            ("rho_zeta_y", py.map_or(&[][..], |p| &p.zeta)),
            ("rho_psi_x", px.map_or(&[][..], |p| &p.psi)),
            ("rho_zeta_x", px.map_or(&[][..], |p| &p.zeta)),
        ]
    }

    /// The same arrays as [`Density::tile_arrays`], in the same order, for restoring.
    pub(crate) fn tile_arrays_mut(&mut self) -> [&mut [T]; 4] {
        let (psi_y, zeta_y) = psi_zeta(self.pml_y.as_mut());
        let (psi_x, zeta_x) = psi_zeta(self.pml_x.as_mut());
        [psi_y, zeta_y, psi_x, zeta_x]
    }
}

/// The memory variables of a layer, empty without one.
fn psi_zeta<T>(p: Option<&mut Pml<T>>) -> (&mut [T], &mut [T]) {
    match p {
        Some(p) => (&mut p.psi, &mut p.zeta),
        None => (&mut [], &mut []),
    }
}

/// One CPML pass of the flux form: in the layers of `layer`, the staggered difference
/// `d = sum_k c_k (src[m + O + k] - src[m + O - 1 - k])` along the axis (`O = 1`: `D+` from the
/// nodes to the half-point `m + 1/2`; `O = 0`: `D-` from the half-points to the node `m`), the
/// memory update `mem <- b mem + a d`, then `out += w mem`. Rows in parallel.
struct Pass<'a, T, const R: usize> {
    lay: Layout,
    fp: Subnormals,
    c: &'a [T; R],
    layer: &'a Cpml<T>,
    w: &'a [T],
    src: &'a [T],
}

impl<T: RealElement, const R: usize> Pass<'_, T, R> {
    /// Along x: the layer columns of rows `[cy0, cy1)`.
    fn along_x<const O: usize>(&self, out: &mut [T], mem: &mut [T]) {
        let (lay, c, layer, w, src) = (self.lay, self.c, self.layer, self.w, self.src);
        let s = lay.stride;
        let rows = lay.cy0 * s..lay.cy1 * s;
        out[rows.clone()]
            .par_chunks_mut(s)
            .zip(mem[rows].par_chunks_mut(s))
            .enumerate()
            .for_each_init(
                || self.fp.enter(),
                |_fp, (ri, (out, mem))| {
                    let i = lay.cy0 + ri;
                    let p = &src[i * s..(i + 1) * s];
                    for &(m0, m1) in &layer.strips {
                        for m in m0..m1 {
                            let d = |k: usize| p[m + O + k] - p[m + O - 1 - k];
                            let coef = (layer.a[m], layer.b[m], w[i * s + m]);
                            stretch(c, d, coef, &mut mem[m], &mut out[m]);
                        }
                    }
                },
            );
    }

    /// Along y: the layer rows, columns `[cx0, cx1)`.
    fn along_y<const O: usize>(&self, out: &mut [T], mem: &mut [T]) {
        let (lay, c, layer) = (self.lay, self.c, self.layer);
        let (w, src) = (self.w, self.src);
        let s = lay.stride;
        for &(i0, i1) in &layer.strips {
            out[i0 * s..i1 * s]
                .par_chunks_mut(s)
                .zip(mem[i0 * s..i1 * s].par_chunks_mut(s))
                .enumerate()
                .for_each_init(
                    || self.fp.enter(),
                    |_fp, (ri, (out, mem))| {
                        let i = i0 + ri;
                        for j in lay.cx0..lay.cx1 {
                            let d =
                                |k: usize| src[(i + O + k) * s + j] - src[(i + O - 1 - k) * s + j];
                            let coef = (layer.a[i], layer.b[i], w[i * s + j]);
                            stretch(c, d, coef, &mut mem[j], &mut out[j]);
                        }
                    },
                );
        }
    }
}

/// One point of a CPML pass: `d = sum_k c_k diff(k)`, `mem <- b mem + a d`, `out += w mem`
/// with `(a, b, w)` = `coef`.
#[inline]
fn stretch<T: RealElement, const R: usize>(
    c: &[T; R],
    diff: impl Fn(usize) -> T,
    (a, b, w): (T, T, T),
    mem: &mut T,
    out: &mut T,
) {
    let mut d = <T as num_traits::Zero>::zero();
    for (k, &ck) in c.iter().enumerate() {
        d += ck * diff(k);
    }
    *mem = b * *mem + a * d;
    *out += w * *mem;
}

/// `qx = bx D+x p` on rows `[cy0, cy1)`, half-columns `[cx0 - 1, cx1)`; `qy = by D+y p` on
/// half-rows `[cy0 - 1, cy1)`, columns `[cx0, cx1)`. Rows in parallel.
#[allow(
    clippy::too_many_arguments,
    reason = "fields and row/column ranges of the kernel, passed unbundled to the parallel loop"
)]
fn fluxes<T: RealElement, const R: usize>(
    (lay, fp): (Layout, Subnormals),
    cy: &[T; R],
    cx: &[T; R],
    bx: &[T],
    by: &[T],
    p: &[T],
    qx: &mut [T],
    qy: &mut [T],
) {
    let s = lay.stride;
    let rows = (lay.cy0 - 1) * s..lay.cy1 * s;
    qx[rows.clone()]
        .par_chunks_mut(s)
        .zip(qy[rows].par_chunks_mut(s))
        .with_min_len(4)
        .enumerate()
        .for_each_init(
            || fp.enter(),
            |_fp, (ri, (qxr, qyr))| {
                let i = lay.cy0 - 1 + ri;
                if i >= lay.cy0 {
                    // Half-columns j + 1/2, j in [cx0 - 1, cx1).
                    let j0 = lay.cx0 - 1;
                    let n = lay.cx1 - j0;
                    let row = &p[i * s..(i + 1) * s];
                    let b = &bx[i * s + j0..][..n];
                    let out = &mut qxr[j0..][..n];
                    let pp: [&[T]; R] = std::array::from_fn(|k| &row[j0 + 1 + k..][..n]);
                    let pm: [&[T]; R] = std::array::from_fn(|k| &row[j0 - k..][..n]);
                    for j in 0..n {
                        let mut d = <T as num_traits::Zero>::zero();
                        for k in 0..R {
                            d += cx[k] * (pp[k][j] - pm[k][j]);
                        }
                        out[j] = b[j] * d;
                    }
                }
                let (j0, n) = (lay.cx0, lay.cx1 - lay.cx0);
                let b = &by[i * s + j0..][..n];
                let out = &mut qyr[j0..][..n];
                let pp: [&[T]; R] = std::array::from_fn(|k| &p[(i + 1 + k) * s + j0..][..n]);
                let pm: [&[T]; R] = std::array::from_fn(|k| &p[(i - k) * s + j0..][..n]);
                for j in 0..n {
                    let mut d = <T as num_traits::Zero>::zero();
                    for k in 0..R {
                        d += cy[k] * (pp[k][j] - pm[k][j]);
                    }
                    out[j] = b[j] * d;
                }
            },
        );
}

/// Fills the fluxes beyond the first outer half-point from the mirror boundaries (odd mirror for
/// rigid, even for the free surface); other sides keep zeros there.
fn mirror_fluxes<T: RealElement>(
    lay: Layout,
    r: usize,
    sides: [SideBoundary; 4],
    qx: &mut [T],
    qy: &mut [T],
) {
    let s = lay.stride;
    let [top, bottom, left, right] = sides;
    let e = lay.cy1 - 1;
    for m in 1..r {
        for j in lay.cx0..lay.cx1 {
            match top {
                SideBoundary::Rigid => {
                    qy[(lay.cy0 - 1 - m) * s + j] = -qy[(lay.cy0 - 1 + m) * s + j];
                }
                SideBoundary::FreeSurface => {
                    qy[(lay.cy0 - 1 - m) * s + j] = qy[(lay.cy0 + m) * s + j];
                }
                _ => {}
            }
            match bottom {
                SideBoundary::Rigid => qy[(e + m) * s + j] = -qy[(e - m) * s + j],
                SideBoundary::FreeSurface => qy[(e + m) * s + j] = qy[(e - 1 - m) * s + j],
                _ => {}
            }
        }
    }
    let (c0, ce) = (lay.cx0, lay.cx1 - 1);
    for i in lay.cy0..lay.cy1 {
        let q = &mut qx[i * s..(i + 1) * s];
        for m in 1..r {
            match left {
                SideBoundary::Rigid => q[c0 - 1 - m] = -q[c0 - 1 + m],
                SideBoundary::FreeSurface => q[c0 - 1 - m] = q[c0 + m],
                _ => {}
            }
            match right {
                SideBoundary::Rigid => q[ce + m] = -q[ce - m],
                SideBoundary::FreeSurface => q[ce + m] = q[ce - 1 - m],
                _ => {}
            }
        }
    }
}

/// `next = 2 cur - next + kdt2 (D-x qx + D-y qy)` on the computational region, rows in parallel.
#[allow(
    clippy::too_many_arguments,
    reason = "fields and row/column ranges of the kernel, passed unbundled to the parallel loop"
)]
fn update<T: RealElement, const R: usize>(
    (lay, fp): (Layout, Subnormals),
    cy: &[T; R],
    cx: &[T; R],
    kdt2: &[T],
    qx: &[T],
    qy: &[T],
    cur: &[T],
    next: &mut [T],
) {
    let s = lay.stride;
    let two = <T as Element>::from_f64(2.0);
    next[lay.cy0 * s..lay.cy1 * s]
        .par_chunks_mut(s)
        .with_min_len(4)
        .enumerate()
        .for_each_init(
            || fp.enter(),
            |_fp, (ri, out)| {
                let i = lay.cy0 + ri;
                let (j0, n) = (lay.cx0, lay.cx1 - lay.cx0);
                let base = i * s + j0;
                let out = &mut out[j0..][..n];
                let c = &cur[base..][..n];
                let k2 = &kdt2[base..][..n];
                let xp: [&[T]; R] = std::array::from_fn(|k| &qx[base + k..][..n]);
                let xm: [&[T]; R] = std::array::from_fn(|k| &qx[base - 1 - k..][..n]);
                let yp: [&[T]; R] = std::array::from_fn(|k| &qy[base + k * s..][..n]);
                let ym: [&[T]; R] = std::array::from_fn(|k| &qy[base - (k + 1) * s..][..n]);
                for j in 0..n {
                    let mut d = <T as num_traits::Zero>::zero();
                    for k in 0..R {
                        d += cx[k] * (xp[k][j] - xm[k][j]) + cy[k] * (yp[k][j] - ym[k][j]);
                    }
                    out[j] = two * c[j] - out[j] + k2[j] * d;
                }
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staggered_weights_are_the_classic_ones() {
        // Order 2: 1; order 4: 9/8, -1/24 (Levander 1988).
        assert!((staggered_weights(2)[0] - 1.0).abs() < 1e-14);
        let w = staggered_weights(4);
        assert!((w[0] - 9.0 / 8.0).abs() < 1e-14 && (w[1] + 1.0 / 24.0).abs() < 1e-14);
        // Every order differentiates x exactly: sum_k c_k (2k - 1) = 1.
        for order in (2..=16).step_by(2) {
            let w = staggered_weights(order);
            let m: f64 = w
                .iter()
                .enumerate()
                .map(|(k, c)| c * (2 * k + 1) as f64)
                .sum();
            assert!((m - 1.0).abs() < 1e-10, "order {order}: {m}");
        }
    }
}
