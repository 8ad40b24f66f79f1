//! The seismic solver on one tile of a domain decomposition ([`SeismicTile`]).
//!
//! Every rank of a distributed run steps its own tile; fields, diagnostics and receiver
//! gathers equal the single-process [`Seismic`] bit for bit:
//!
//! - A tile owns a block of the physical grid plus the absorbing layers beyond its outer
//!   sides (the layers lie outside the grid, so they go whole to the edge tiles). Its
//!   [`Engine`] is cut out of the whole grid's: the same weights, `(v dt)^2`, CPML and sponge
//!   profiles and source coefficients, on a padded layout of its own (the row kernels compute
//!   every column with the same operations whatever its vector lane). Each step runs the one-process row kernels on the tile
//!   (a sweep of depth one), so every sample gets the same operations in the same order.
//! - Before each step the ghost cells of `p^n` (the stencil radius deep) are filled by the
//!   halo exchange of `convsim_core::tile` (nonblocking messages, phase x then y) on the
//!   inner sides, and by the one-process mirror rules on the outer sides. The CPML memory
//!   variables only read along their own axis, inside the layer that one tile holds: they
//!   need no exchange. The exchange does not yet overlap the step (the sweep is not split
//!   into interior and strips); the temporally blocked sweep ([`Seismic::advance`]) stays a
//!   one-process path.
//! - Sources: each tile injects the taps of the spread (Hicks weights folded by the mirrors)
//!   that fall in its block, per tap, in source order, as the whole grid does.
//! - Receivers: a receiver whose taps all lie in one tile is recorded there with the
//!   one-process sum ([`LaneSum`]); a receiver whose taps straddle tiles is recorded as the
//!   products of its taps, and rank 0 adds them in the one-process order (see
//!   [`convsim_core::Simulation::gather_share`]).
//! - Diagnostics: the energy is an exact sum (`convsim_core::sum::ExactSum`, as on one process), so the tiles'
//!   shares combine to the same bits; the largest `|p|` is a maximum.
//!
//! - Variable density (the staggered flux form, [`crate::density`]): the tile cuts the
//!   operator (`rho v^2 dt^2`, half-point buoyancies, the flux-form CPML profiles and memory
//!   variables) as it cuts the engine, and steps with the one-process flux, CPML and divergence
//!   passes. After the `p^n` exchange above, the flux pass computes `qx`, `qy` on the tile's
//!   half-points; the divergence then reads `r` fluxes either side of a node, `r - 1` of them
//!   beyond the tile's own half-points, so both flux arrays get their ghost cells from a halo
//!   exchange of their own between the two passes (the neighbour's values, CPML stretch
//!   included, are the whole grid's). The energy reads the fluxes of `p^(n-1)`: they are
//!   computed and exchanged at the end of every [`SeismicTile::advance`] and checkpointed
//!   with the state, so the diagnostics need no message.
//!
//! Multi-shot surveys run on one process only.
//!
//! [`Seismic`]: crate::Seismic
//! [`Seismic::advance`]: crate::Seismic::advance

mod build;

use convsim_core::sim::Gather;
use convsim_core::tile::{HaloExchange, Tile, TileLinks, TileSide, split};
use convsim_core::{
    Boundary, Element, Grid, Partial, Quantity, RealElement, RestoreError, Simulation, StateArray,
};
use ndarray::{Array2, ArrayViewMut2};

use crate::density::Density;
use crate::solver::energy_sum;
use crate::sparse::{LaneSum, tap_product};
use crate::sweep::{Engine, Layout};
use crate::{Result, SeismicParams};

/// Computational rows (or columns) of tile `p` of `parts` along an axis of `n` physical
/// samples with layers `lo`, `hi` outside it, counted from the first layer sample.
fn comp_range(
    n: usize,
    (lo, hi): (usize, usize),
    parts: usize,
    p: usize,
) -> std::ops::Range<usize> {
    let r = split(n, parts, p);
    let start = if p == 0 { 0 } else { lo + r.start };
    let end = if p + 1 == parts {
        lo + n + hi
    } else {
        lo + r.end
    };
    start..end
}

/// The tile `coords` of a `dims` process grid over the computational region of `params`
/// (the grid and its absorbing layers), with ghost cells the stencil radius deep: the tile
/// whose halo exchange a [`SeismicTile`] uses. Outer sides are [`TileSide::Physical`] (the
/// solver applies its own boundary rules there).
#[must_use]
pub fn tile_of(params: &SeismicParams, dims: [usize; 2], coords: [usize; 2]) -> Tile {
    let b = params.boundaries;
    let g = params.grid;
    let layers = [
        (b.top.width(), b.bottom.width()),
        (b.left.width(), b.right.width()),
    ];
    let n = [g.ny, g.nx];
    let mut start = [0; 2];
    let mut shape = [0; 2];
    let mut sides = [[TileSide::Exchange; 2]; 2];
    for a in 0..2 {
        let r = comp_range(n[a], layers[a], dims[a], coords[a]);
        start[a] = r.start;
        shape[a] = r.len();
        if coords[a] == 0 {
            sides[a][0] = TileSide::Physical(Boundary::Zero);
        }
        if coords[a] + 1 == dims[a] {
            sides[a][1] = TileSide::Physical(Boundary::Zero);
        }
    }
    Tile {
        global: [
            layers[0].0 + n[0] + layers[0].1,
            layers[1].0 + n[1] + layers[1].1,
        ],
        start,
        shape,
        ghost: params.space_order / 2,
        sides,
    }
}

/// A receiver all of whose taps lie in this tile: `(receiver, [(local index, weight, lane)])`.
type Whole = (usize, Vec<(usize, f64, usize)>);

/// The seismic solver on one tile (see the [module docs](self)).
pub struct SeismicTile<T> {
    params: SeismicParams,
    eng: Engine<T>,
    tile: Tile,
    links: TileLinks,
    /// The ghosted tile the halo exchange packs from and unpacks into (strips only).
    stage: Array2<f64>,
    /// Local index of the first owned physical sample, and the owned physical block.
    origin: (usize, usize),
    block: (usize, usize),
    grid: Grid,
    velocity: Array2<f64>,
    density_const: Option<f64>,
    /// The variable-density operator of this tile, `None` for constant density.
    density: Option<Box<Density<T>>>,
    /// Variable density: the fluxes of `p^(n-1)` the energy reads, ghost cells exchanged.
    energy_q: (Vec<T>, Vec<T>),
    nt: usize,
    step: u64,
    /// No receivers in the engine: the tile records them itself after each step.
    no_traces: Array2<f64>,
    whole: Vec<Whole>,
    /// Taps of split receivers in this tile: `(local index, weight, global tap number)`.
    split_taps: Vec<(usize, f64, usize)>,
    /// Every split receiver (all tiles): `(receiver, first tap number, lanes of its taps)`.
    split: Vec<(usize, usize, Vec<usize>)>,
    /// This tile's samples of its whole receivers (zero elsewhere), `(receiver, sample)`.
    traces: Array2<f64>,
    /// This tile's tap products of split receivers (zero elsewhere), `(tap, sample)`.
    taps: Array2<f64>,
    rec_coords: Array2<f64>,
    /// The combined gathers (rank 0) and how many samples they hold.
    gathered: Array2<f64>,
    gathered_upto: usize,
}

impl<T> std::fmt::Debug for SeismicTile<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeismicTile")
            .field("tile", &self.tile)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<T: RealElement> SeismicTile<T> {
    /// Records receiver sample `s` from `p^n` (see the [module docs](self)).
    fn record(&mut self, s: usize) {
        if s > self.nt {
            return;
        }
        let cur = &self.eng.cur;
        for (k, taps) in &self.whole {
            let mut acc = LaneSum::default();
            for &(idx, w, c) in taps {
                acc.add(c, tap_product(w, cur[idx]));
            }
            self.traces[[*k, s]] = acc.value();
        }
        for &(idx, w, t) in &self.split_taps {
            self.taps[[t, s]] = tap_product(w, cur[idx]);
        }
    }

    /// Fills the ghost cells of `p^n` (`prev = false`) or `p^(n-1)` on the inner sides.
    fn exchange(&mut self, prev: bool) {
        let buf = if prev {
            &mut self.eng.prev
        } else {
            &mut self.eng.cur
        };
        exchange(
            &self.tile,
            self.eng.lay,
            buf,
            &mut self.stage,
            self.links.halo.as_mut(),
        );
    }

    /// Advances one step (the other tiles must step too). Allocates nothing.
    pub fn step(&mut self) {
        self.exchange(false);
        let n = self.step as usize;
        if let Some(d) = &mut self.density {
            // As `Seismic::step`, with the fluxes' ghost cells exchanged between the flux
            // and divergence passes (the divergence reads `r` fluxes either side).
            let fp = self.eng.fp;
            let _fp = fp.enter();
            let (tile, lay, stage) = (&self.tile, self.eng.lay, &mut self.stage);
            let halo = self.links.halo.as_mut();
            self.eng.step_with(n, &mut self.no_traces, |cur, next| {
                d.step(cur, next, fp, &mut |qx, qy| {
                    exchange(tile, lay, qx, stage, halo);
                    exchange(tile, lay, qy, stage, halo);
                });
            });
        } else {
            self.eng.sweep(1, n, &mut self.no_traces);
        }
        self.step += 1;
        self.record(self.step as usize);
    }

    /// Advances `steps` steps, then fills the ghost cells of `p^(n-1)` (which the energy
    /// reads).
    pub fn advance(&mut self, steps: u64) {
        for _ in 0..steps {
            self.step();
        }
        self.exchange(true);
        self.energy_fluxes();
    }

    /// Variable density: the fluxes of `p^(n-1)` the energy reads, with their ghost cells.
    fn energy_fluxes(&mut self) {
        if let Some(d) = &self.density {
            let (qx, qy) = &mut self.energy_q;
            d.energy_fluxes(&self.eng.prev, qx, qy);
            let halo = self.links.halo.as_mut();
            exchange(&self.tile, self.eng.lay, qx, &mut self.stage, halo);
            exchange(&self.tile, self.eng.lay, qy, &mut self.stage, halo);
        }
    }

    /// Trace samples recorded so far.
    fn recorded(&self) -> usize {
        (self.step as usize).min(self.nt) + 1
    }

    /// Largest `|p|` on the owned block.
    fn max_abs(&self) -> f64 {
        let s = self.eng.lay.stride;
        let (oy, ox) = self.origin;
        let mut m = 0.0f64;
        for i in 0..self.block.0 {
            for v in &self.eng.cur[(oy + i) * s + ox..][..self.block.1] {
                m = m.max(v.to_c64().re.abs());
            }
        }
        m
    }

    /// The state arrays: name and data (flat: they are this tile's alone). Every tile lists
    /// the same names (a tile without a layer has empty CPML arrays), as the collective
    /// checkpoint needs.
    fn arrays(&self) -> Vec<(&'static str, &[T])> {
        let e = &self.eng;
        let (py, px) = (e.pml_y.as_ref(), e.pml_x.as_ref());
        let mut v = vec![
            ("p", &e.cur[..]),
            ("p_prev", &e.prev[..]),
            ("psi_y", py.map_or(&[][..], |p| &p.psi)),
            ("zeta_y", py.map_or(&[][..], |p| &p.zeta)),
            ("psi_x", px.map_or(&[][..], |p| &p.psi)),
            ("zeta_x", px.map_or(&[][..], |p| &p.zeta)),
        ];
        if let Some(d) = &self.density {
            // The energy's fluxes too: restoring them needs no exchange.
            v.extend(d.tile_arrays());
            v.push(("rho_energy_qx", &self.energy_q.0));
            v.push(("rho_energy_qy", &self.energy_q.1));
        }
        v
    }

    fn arrays_mut(&mut self) -> Vec<&mut [T]> {
        let e = &mut self.eng;
        let (py, px) = (e.pml_y.as_mut(), e.pml_x.as_mut());
        let (psi_y, zeta_y): (&mut [T], &mut [T]) = match py {
            Some(p) => (&mut p.psi, &mut p.zeta),
            None => (&mut [], &mut []),
        };
        let (psi_x, zeta_x): (&mut [T], &mut [T]) = match px {
            Some(p) => (&mut p.psi, &mut p.zeta),
            None => (&mut [], &mut []),
        };
        let mut v: Vec<&mut [T]> = vec![&mut e.cur, &mut e.prev, psi_y, zeta_y, psi_x, zeta_x];
        if let Some(d) = &mut self.density {
            v.extend(d.tile_arrays_mut());
            v.push(&mut self.energy_q.0);
            v.push(&mut self.energy_q.1);
        }
        v
    }
}

/// Copies `buf`'s owned strips into the ghosted `stage`, exchanges them (phase x, then y) and
/// copies the received ghost cells of the inner sides back. `stage` row `i` is local row `i`;
/// its column `j` is local column `j + cx0 - ghost`.
fn exchange<T: RealElement>(
    tile: &Tile,
    lay: Layout,
    buf: &mut [T],
    stage: &mut Array2<f64>,
    halo: &mut dyn HaloExchange,
) {
    let g = tile.ghost;
    let [ty, tx] = tile.shape;
    let s = lay.stride;
    let off = lay.cx0 - g;
    let inner = |ax: usize, side: usize| tile.sides[ax][side] == TileSide::Exchange;
    if !(inner(0, 0) || inner(0, 1) || inner(1, 0) || inner(1, 1)) {
        return;
    }
    let to_f = |v: T| v.to_c64().re;
    {
        let st = stage.as_slice_mut().expect("standard layout");
        let w = tx + 2 * g;
        for i in g..g + ty {
            let near = i < 2 * g || i >= ty;
            let src = &buf[i * s + off..][..w];
            let dst = &mut st[i * w..(i + 1) * w];
            if near {
                for j in g..g + tx {
                    dst[j] = to_f(src[j]);
                }
            } else {
                for j in (g..2 * g).chain(tx..tx + g) {
                    dst[j] = to_f(src[j]);
                }
            }
        }
    }
    let from_f = |v: f64| <T as Element>::from_f64(v);
    halo.exchange(1, stage, &mut |_| {});
    for (side, cols) in [(0, 0..g), (1, tx + g..tx + 2 * g)] {
        if !inner(1, side) {
            continue;
        }
        for i in g..g + ty {
            for j in cols.clone() {
                buf[i * s + off + j] = from_f(stage[[i, j]]);
            }
        }
    }
    halo.exchange(0, stage, &mut |_| {});
    for (side, rows) in [(0, 0..g), (1, ty + g..ty + 2 * g)] {
        if !inner(0, side) {
            continue;
        }
        for i in rows {
            for j in 0..tx + 2 * g {
                buf[i * s + off + j] = from_f(stage[[i, j]]);
            }
        }
    }
}

impl<T: RealElement> Simulation for SeismicTile<T> {
    fn kind(&self) -> &'static str {
        "seismic"
    }
    fn grid(&self) -> Grid {
        self.grid
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
        SeismicTile::advance(self, 1);
    }
    fn advance(&mut self, n: u64) {
        SeismicTile::advance(self, n);
    }
    fn fields(&self) -> Vec<Quantity> {
        crate::simulation::field_quantities(self.density_const.is_some() || self.density.is_some())
    }
    fn is_static(&self, name: &str) -> bool {
        matches!(name, "velocity" | "density")
    }
    fn write_field(&self, name: &str, mut out: ArrayViewMut2<'_, f64>) -> bool {
        match name {
            "pressure" => {
                let s = self.eng.lay.stride;
                let (oy, ox) = self.origin;
                for (i, mut row) in out.rows_mut().into_iter().enumerate() {
                    let src = &self.eng.cur[(oy + i) * s + ox..][..self.block.1];
                    for (o, v) in row.iter_mut().zip(src) {
                        *o = v.to_c64().re;
                    }
                }
                true
            }
            _ => crate::simulation::write_model_field(
                name,
                &self.velocity,
                self.density.as_ref().map(|d| &d.rho),
                self.density_const,
                out,
            ),
        }
    }
    fn gathers(&self) -> Vec<Gather<'_>> {
        if self.rec_coords.nrows() == 0 {
            return Vec::new();
        }
        vec![crate::simulation::gather_of(
            &self.params,
            "shot0",
            self.rec_coords.view(),
            self.gathered.view(),
            self.gathered_upto,
        )]
    }
    fn gather_share(&self, from: usize) -> Option<(usize, Vec<f64>)> {
        let to = self.recorded();
        let mut v =
            Vec::with_capacity(to.saturating_sub(from) * (self.traces.nrows() + self.taps.nrows()));
        for s in from..to {
            v.extend(self.traces.column(s).iter());
            v.extend(self.taps.column(s).iter());
        }
        Some((to, v))
    }
    fn gathers_from_shares(&mut self, from: usize, to: usize, summed: &[f64]) {
        let (nrec, ntaps) = (self.traces.nrows(), self.taps.nrows());
        for (s, chunk) in (from..to).zip(summed.chunks_exact(nrec + ntaps)) {
            for (k, &v) in chunk[..nrec].iter().enumerate() {
                self.gathered[[k, s]] = v;
            }
            for (k, first, lanes) in &self.split {
                let mut acc = LaneSum::default();
                for (t, &c) in lanes.iter().enumerate() {
                    acc.add(c, chunk[nrec + first + t]);
                }
                self.gathered[[*k, s]] = acc.value();
            }
        }
        self.gathered_upto = to;
    }
    fn diagnostics(&self) -> Vec<Quantity> {
        crate::simulation::diagnostic_quantities(self.density.is_some())
    }
    fn diagnostic_partials(&self) -> Option<Vec<Partial>> {
        let e = &self.eng;
        let lay = e.lay;
        let (rows, cols) = (lay.cy0..lay.cy1, lay.cx0..lay.cx1);
        let energy = match &self.density {
            Some(d) => {
                let q = (&self.energy_q.0[..], &self.energy_q.1[..]);
                d.energy_sum(&e.cur, &e.prev, q, rows, cols)
            }
            None => energy_sum(e, rows, cols),
        };
        Some(vec![Partial::Sum(energy), Partial::Max(self.max_abs())])
    }
    fn diagnostics_from(&self, reduced: &[f64], out: &mut [f64]) {
        let g = self.params.grid;
        out[0] = 0.5 * reduced[0] * g.dy * g.dx;
        out[1] = reduced[1];
    }
    fn diagnostic_values(&self, out: &mut [f64]) {
        // This tile alone (a single-tile run).
        let raw: Vec<f64> = self
            .diagnostic_partials()
            .unwrap_or_default()
            .iter()
            .map(Partial::value)
            .collect();
        self.diagnostics_from(&raw, out);
    }
    fn is_finite(&self) -> bool {
        self.eng.cur.iter().all(|v| v.to_c64().re.is_finite())
    }
    fn state(&self) -> Vec<StateArray> {
        let flat = |name: &str, v: Vec<f64>| StateArray {
            name: name.into(),
            data: ndarray::Array1::from(v).into_dyn(),
        };
        let mut v: Vec<StateArray> = self
            .arrays()
            .into_iter()
            .map(|(name, a)| flat(name, a.iter().map(|x| x.to_c64().re).collect()))
            .collect();
        v.push(flat("traces", self.traces.iter().copied().collect()));
        v.push(flat("taps", self.taps.iter().copied().collect()));
        v
    }
    fn restore(&mut self, step: u64, _time: f64, state: &[StateArray]) -> Result<(), RestoreError> {
        let solver = self.kind();
        let find = |name: &str, len: usize| -> Result<&ndarray::ArrayD<f64>, RestoreError> {
            let a = StateArray::find(state, solver, name)?;
            if a.len() != len {
                return Err(RestoreError::Length {
                    solver,
                    name: name.into(),
                    expected: len,
                    found: a.len(),
                });
            }
            Ok(a)
        };
        let mut loaded = Vec::new();
        for (name, a) in self.arrays() {
            loaded.push(
                find(name, a.len())?
                    .iter()
                    .map(|&x| <T as Element>::from_f64(x))
                    .collect::<Vec<T>>(),
            );
        }
        let traces = find("traces", self.traces.len())?.clone();
        let taps = find("taps", self.taps.len())?.clone();
        for (dst, src) in self.arrays_mut().into_iter().zip(loaded) {
            dst.copy_from_slice(&src);
        }
        for (d, s) in self.traces.iter_mut().zip(traces.iter()) {
            *d = *s;
        }
        for (d, s) in self.taps.iter_mut().zip(taps.iter()) {
            *d = *s;
        }
        self.step = step;
        self.gathered_upto = 0;
        Ok(())
    }
}
