//! Running a sweep: the buffers its tasks share, the stage tasks (`Psi`, `Update`, `Post`)
//! of each row with the ghost cells, sponge, sources and receivers they update, and the
//! single-step path.

use convsim_core::memory::AlignedVec;
use convsim_core::{Element, RealElement};
use ndarray::Array2;
use rayon::prelude::*;

use super::rows::{self, Io, Taps, XStrip, YRow};
use super::schedule::{self, Exec};
use super::{C2, Engine, Kind, Layout, Plan};
use crate::SideBoundary;

/// A buffer shared by the tasks of a sweep, which by the schedule never touch a row that
/// another task writes at the same time.
struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Shared<T> {}

// SAFETY: the schedule makes concurrent accesses disjoint (see `schedule`).
unsafe impl<T: Send + Sync> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn new(v: &mut [T]) -> Self {
        Self {
            ptr: v.as_mut_ptr(),
            len: v.len(),
        }
    }

    /// # Safety
    /// Nobody writes `[at, at + n)` while the slice lives.
    unsafe fn get<'a>(self, at: usize, n: usize) -> &'a [T] {
        assert!(at + n <= self.len, "window inside the buffer");
        // SAFETY: in bounds (checked); no concurrent writer (caller).
        unsafe { std::slice::from_raw_parts(self.ptr.add(at), n) }
    }

    /// # Safety
    /// Nobody else reads or writes `[at, at + n)` while the slice lives.
    #[allow(
        clippy::mut_from_ref,
        reason = "`Shared` is a raw handle to a buffer the tasks share; exclusivity of the range is this unsafe fn's contract"
    )]
    unsafe fn get_mut<'a>(self, at: usize, n: usize) -> &'a mut [T] {
        assert!(at + n <= self.len, "window inside the buffer");
        // SAFETY: in bounds (checked); exclusive (caller).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(at), n) }
    }
}

/// Everything a sweep's tasks write, shared.
struct Buffers<T> {
    /// p^n (`a`) and p^(n-1) (`b`) at the start of the sweep.
    a: Shared<T>,
    b: Shared<T>,
    psi_x: Option<Shared<T>>,
    zeta_x: Option<Shared<T>>,
    psi_y: Option<Shared<T>>,
    zeta_y: Option<Shared<T>>,
    traces: Shared<f64>,
    /// Samples per trace (`nt + 1`).
    samples: usize,
}

impl<T> Buffers<T> {
    /// p^(t-1) and the field p^t overwrites (p^(t-2)) at step `t` (1-based) of the sweep.
    fn fields(&self, t: usize) -> (Shared<T>, Shared<T>) {
        if t % 2 == 1 {
            (self.a, self.b)
        } else {
            (self.b, self.a)
        }
    }
}

/// A mirror side's ghost rule: `(sign, shift)` with ghost `k` (1-based, outwards) equal to
/// `sign` times the node `k - shift` inside the edge.
fn mirror(side: SideBoundary) -> Option<(f64, usize)> {
    match side {
        SideBoundary::FreeSurface => Some((-1.0, 0)),
        SideBoundary::Rigid => Some((1.0, 1)),
        _ => None,
    }
}

impl<T: RealElement> Engine<T> {
    /// Steps per sweep: as many as keep the wavefront's rows of the two fields and `(v dt)^2`
    /// within one core's L2 cache (the CPML rows and the other stages' windows stream
    /// through it too, but their reuse distance is short), at most `MAX_DEPTH`. On the
    /// seismic shot of `convsim bench` (2 MiB L2, one thread) that is 8 steps: 0.56 s, against
    /// 0.62 s at the 4 steps of half the L2 and 0.56-0.59 s at 10 to 16 steps.
    pub(crate) fn depth(&self, max: usize) -> usize {
        const MAX_DEPTH: usize = 8;
        if let Some(d) = self.depth {
            return d.clamp(1, max.max(1));
        }
        let budget = convsim_core::memory::l2_cache_bytes();
        let row = self.lay.stride * std::mem::size_of::<T>();
        let per_row = row * (2 + usize::from(matches!(self.c2, C2::Field(_))));
        let mut k = 1;
        while k < MAX_DEPTH.min(max) {
            let span = self.plan(k + 1).span() * self.block + 2 * self.r + 1;
            if span * per_row > budget {
                break;
            }
            k += 1;
        }
        k
    }

    fn plan(&self, k: usize) -> Plan {
        let sponge = self.sponge.is_some();
        let rec = !self.receivers.is_empty();
        let (up, down) = if rec {
            (self.receivers.reach_up, self.receivers.reach_down)
        } else {
            (0, 0)
        };
        Plan::new(
            k,
            self.pml_y.is_some(),
            sponge || rec,
            self.r,
            sponge,
            (up, down),
            self.block,
        )
    }

    /// Advances `k` steps from step `n0` (the fields hold p^n0 and p^(n0-1)) in one sweep,
    /// recording receiver samples `n0 + 1 ..= n0 + k` that fall inside `traces`. Allocates
    /// nothing but the sweep's plan (a few dozen numbers).
    pub(crate) fn sweep(&mut self, k: usize, n0: usize, traces: &mut Array2<f64>) {
        macro_rules! go {
            ($r:literal) => {
                self.sweep_r::<$r>(k, n0, traces)
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

    fn sweep_r<const R: usize>(&mut self, k: usize, n0: usize, traces: &mut Array2<f64>) {
        assert!(k >= 1, "a sweep advances at least one step");
        let plan = self.plan(k);
        let lay = self.lay;
        let bl = self.block;
        let nb = (lay.cy1 - lay.cy0).div_ceil(bl);
        let most = schedule::max_bands(nb, &plan.offsets);
        // A few bands per thread even out a busy machine; the sequential test orders use as
        // many as fit, so that every seam is exercised.
        let bands = if self.exec == Exec::Parallel {
            most.min(2 * rayon::current_num_threads())
        } else {
            most
        };
        let samples = traces.ncols();
        let traces = traces.as_slice_mut().expect("traces are standard layout");
        let bufs = Buffers {
            a: Shared::new(&mut self.cur),
            b: Shared::new(&mut self.prev),
            psi_x: self.pml_x.as_mut().map(|p| Shared::new(&mut p.psi)),
            zeta_x: self.pml_x.as_mut().map(|p| Shared::new(&mut p.zeta)),
            psi_y: self.pml_y.as_mut().map(|p| Shared::new(&mut p.psi)),
            zeta_y: self.pml_y.as_mut().map(|p| Shared::new(&mut p.zeta)),
            traces: Shared::new(traces),
            samples,
        };
        let taps = self.w.taps::<R>();
        let me = &*self;
        let first = plan.stages[0].0;
        let task = |s: usize, b: usize| {
            let (kind, t) = plan.stages[s];
            let (src, dst) = bufs.fields(t);
            let i0 = lay.cy0 + b * bl;
            let rows = i0..(i0 + bl).min(lay.cy1);
            if kind == first {
                for i in rows.clone() {
                    me.fill_ghost_rows(src, i);
                }
            }
            match kind {
                Kind::Psi => rows.for_each(|i| me.psi_task::<R>(&taps, &bufs, src, i)),
                Kind::Update => me.update_task::<R>(&taps, &bufs, (src, dst), rows, n0 + t - 1),
                Kind::Post => rows.for_each(|i| me.post_task(&bufs, src, dst, i, n0 + t)),
            }
        };
        schedule::sweep((0, nb), &plan.offsets, bands, (self.exec, self.fp), &task);
        if k % 2 == 1 {
            std::mem::swap(&mut self.cur, &mut self.prev);
        }
    }

    /// Fills the ghost rows of `f` on a mirror top (at the first row) or bottom (at the row
    /// `r` above the last) from the rows inside the edge.
    fn fill_ghost_rows(&self, f: Shared<T>, i: usize) {
        let lay = self.lay;
        let (s, r) = (lay.stride, self.r);
        let (c0, n) = (lay.cx0, lay.cx1 - lay.cx0);
        let copy = |dst: usize, src: usize, sign: f64| {
            let sg = <T as Element>::from_f64(sign);
            // SAFETY: ghost rows of this field are read only by this step's stages at the rows
            // next to the edge, which the schedule runs after this task; the source rows are
            // final (the previous step passed them `r` rows ago).
            let (src_row, dst_row) =
                unsafe { (f.get(src * s + c0, n), f.get_mut(dst * s + c0, n)) };
            for (d, &v) in dst_row.iter_mut().zip(src_row) {
                *d = sg * v;
            }
        };
        if i == lay.cy0
            && let Some((sign, shift)) = mirror(self.sides.top)
        {
            for k in 1..=r {
                copy(lay.cy0 - k, lay.cy0 + k - shift, sign);
            }
        }
        if i + r == lay.cy1
            && let Some((sign, shift)) = mirror(self.sides.bottom)
        {
            let e = lay.cy1 - 1;
            for k in 1..=r {
                copy(e + k, e - k + shift, sign);
            }
        }
    }

    fn psi_task<const R: usize>(
        &self,
        taps: &Taps<T, R>,
        bufs: &Buffers<T>,
        src: Shared<T>,
        q: usize,
    ) {
        let Some(py) = &self.pml_y else { return };
        let Some((_, prow)) = py.locate(q, R) else {
            return;
        };
        let lay = self.lay;
        let s = lay.stride;
        // SAFETY: rows q - R ..= q + R of p^(t-1) are final and not written during this task
        // (the plan puts Psi(t) R rows behind Update(t-1) and before Update(t + 1)); psi_y row
        // q is this task's alone.
        let (win, psi) = unsafe {
            (
                src.get((q - R) * s, (2 * R + 1) * s),
                bufs.psi_y.expect("psi_y").get_mut(prow * s, s),
            )
        };
        rows::psi_y::<T, R>(
            self.isa,
            taps,
            win,
            (s, lay.cx0, lay.cx1),
            (py.a[q], py.b[q]),
            psi,
        );
    }

    /// The Update stage on the rows of one block: two rows outside the y layers together
    /// ([`rows::update2`]), any other row alone.
    fn update_task<const R: usize>(
        &self,
        taps: &Taps<T, R>,
        bufs: &Buffers<T>,
        (src, dst): (Shared<T>, Shared<T>),
        rows: std::ops::Range<usize>,
        n: usize,
    ) {
        let in_y = |i: usize| {
            self.pml_y
                .as_ref()
                .is_some_and(|py| py.locate(i, R).is_some())
        };
        if rows.len() != 2 || rows.clone().any(in_y) {
            for i in rows {
                self.update_row::<R>(taps, bufs, (src, dst), i, n);
            }
            return;
        }
        let s = self.lay.stride;
        let i = rows.start;
        // SAFETY: as in `update_row`, for rows i and i + 1: their ghost columns of p^(t-1) and
        // their rows of the destination are this task's; rows i - R ..= i + 1 + R of p^(t-1)
        // are final while it runs (see `dependencies`).
        let mut io = unsafe { self.rows_io::<R>((src, dst), i, 2) };
        // SAFETY: the x CPML memory variables of row i are touched by this task only.
        let (mut xa, na) = unsafe { self.x_strips(bufs, i) };
        // SAFETY: the x CPML memory variables of row i + 1 are touched by this task only.
        let (mut xb, nb) = unsafe { self.x_strips(bufs, i + 1) };
        rows::update2::<T, R>(self.isa, taps, &mut io, &mut xa[..na], &mut xb[..nb]);
        let (oa, ob) = io.out.split_at_mut(s);
        self.finish_row(i, n, oa);
        self.finish_row(i + 1, n, ob);
    }

    /// The rows an update of output rows `i .. i + n` reads and writes, after filling the
    /// ghost columns of those rows of p^(t-1) from their mirror sides.
    ///
    /// # Safety
    /// The ghost columns of those rows of `src` and the rows of `dst` are the caller's alone;
    /// rows `i - R .. i + n + R` of `src` are final and not written while the `Io` lives.
    unsafe fn rows_io<const R: usize>(
        &self,
        (src, dst): (Shared<T>, Shared<T>),
        i: usize,
        n: usize,
    ) -> Io<'_, T> {
        let lay = self.lay;
        let s = lay.stride;
        for q in i..i + n {
            // SAFETY: the caller's.
            self.fill_ghost_cols(unsafe { src.get_mut(q * s, s) });
        }
        let (c2, c2s) = match &self.c2 {
            C2::Uniform(v) => (None, *v),
            C2::Field(f) => (Some(&f[i * s..(i + n) * s]), T::zero()),
        };
        Io {
            // SAFETY: the caller's.
            win: unsafe { src.get((i - R) * s, (2 * R + n) * s) },
            stride: s,
            // SAFETY: the caller's.
            out: unsafe { dst.get_mut(i * s, n * s) },
            c2,
            c2s,
            c0: lay.cx0,
            c1: lay.cx1,
        }
    }

    /// The x CPML strips of computational row `i` (and how many there are).
    ///
    /// # Safety
    /// The row's memory variables are the caller's alone while the strips live.
    unsafe fn x_strips<'a>(&'a self, bufs: &Buffers<T>, i: usize) -> ([XStrip<'a, T>; 2], usize) {
        let mut xs = [XStrip::empty(), XStrip::empty()];
        let mut nx = 0;
        if let Some(px) = &self.pml_x {
            let ri = i - self.lay.cy0;
            let w = px.row_len();
            // SAFETY: row `ri` of the memory variables is the caller's (see above).
            let (mut psi, mut zeta) = unsafe {
                (
                    bufs.psi_x.expect("psi_x").get_mut(ri * w, w),
                    bufs.zeta_x.expect("zeta_x").get_mut(ri * w, w),
                )
            };
            for (&(j0, j1), &(base, end)) in px.strips.iter().zip(&px.spans) {
                let (p, prest) = psi.split_at_mut(end - base);
                let (z, zrest) = zeta.split_at_mut(end - base);
                xs[nx] = XStrip {
                    j0,
                    j1,
                    psi: p,
                    zeta: z,
                    base,
                    a: &px.a,
                    b: &px.b,
                };
                nx += 1;
                (psi, zeta) = (prest, zrest);
            }
        }
        (xs, nx)
    }

    fn update_row<const R: usize>(
        &self,
        taps: &Taps<T, R>,
        bufs: &Buffers<T>,
        (src, dst): (Shared<T>, Shared<T>),
        i: usize,
        n: usize,
    ) {
        let s = self.lay.stride;
        // SAFETY: the ghost columns of row i of p^(t-1) and row i of the destination field are
        // touched by this task only; rows i - R ..= i + R of p^(t-1) are final and not written
        // while it runs (see `dependencies`).
        let mut io = unsafe { self.rows_io::<R>((src, dst), i, 1) };
        // SAFETY: the x CPML memory variables of row i are touched by this task only.
        let (mut xs, nx) = unsafe { self.x_strips(bufs, i) };
        let y = self.pml_y.as_ref().and_then(|py| {
            let (zrow, prow) = py.locate(i, R)?;
            Some(YRow {
                // SAFETY: the psi_y rows i - R ..= i + R are final and not written while this
                // task runs (see `dependencies`).
                psi: unsafe {
                    bufs.psi_y
                        .expect("psi_y")
                        .get((prow - R) * s, (2 * R + 1) * s)
                },
                // SAFETY: the zeta_y row of row i is this task's alone.
                zeta: unsafe { bufs.zeta_y.expect("zeta_y").get_mut(zrow * s, s) },
                a: py.a[i],
                b: py.b[i],
            })
        });
        rows::update::<T, R>(self.isa, taps, &mut io, &mut xs[..nx], y);
        self.finish_row(i, n, io.out);
    }

    /// What follows the operator on row `i` of p^(n+1): the sponge, the sources of step `n`,
    /// the free-surface zeros.
    fn finish_row(&self, i: usize, n: usize, out: &mut [T]) {
        let lay = self.lay;
        if let Some((gy, gx)) = &self.sponge {
            damp_row(gy[i], gx, lay, out);
        }
        self.sources.inject(i, n, out);
        let zero = T::zero();
        if (i == lay.cy0 && self.sides.top == SideBoundary::FreeSurface)
            || (i + 1 == lay.cy1 && self.sides.bottom == SideBoundary::FreeSurface)
        {
            out[lay.cx0..lay.cx1].fill(zero);
        }
        if self.sides.left == SideBoundary::FreeSurface {
            out[lay.cx0] = zero;
        }
        if self.sides.right == SideBoundary::FreeSurface {
            out[lay.cx1 - 1] = zero;
        }
    }

    /// Fills the ghost columns of one row of p^n on mirror sides.
    fn fill_ghost_cols(&self, row: &mut [T]) {
        let lay = self.lay;
        if let Some((sign, shift)) = mirror(self.sides.left) {
            let sg = <T as Element>::from_f64(sign);
            for k in 1..=self.r {
                row[lay.cx0 - k] = sg * row[lay.cx0 + k - shift];
            }
        }
        if let Some((sign, shift)) = mirror(self.sides.right) {
            let sg = <T as Element>::from_f64(sign);
            let e = lay.cx1 - 1;
            for k in 1..=self.r {
                row[e + k] = sg * row[e - k + shift];
            }
        }
    }

    fn post_task(
        &self,
        bufs: &Buffers<T>,
        src: Shared<T>,
        dst: Shared<T>,
        i: usize,
        sample: usize,
    ) {
        let s = self.lay.stride;
        if let Some((gy, gx)) = &self.sponge {
            // SAFETY: every reader of row i of p^(t-1) in this step has run (the plan puts Post
            // R rows behind Update and Psi) and the next step reads it after this task.
            let row = unsafe { src.get_mut(i * s, s) };
            damp_row(gy[i], gx, self.lay, row);
        }
        let anchored = self.receivers.anchored(i);
        if sample < bufs.samples && !anchored.is_empty() {
            let (up, down) = (self.receivers.reach_up, self.receivers.reach_down);
            let (lo, hi) = (i.saturating_sub(up), (i + down + 1).min(self.rows));
            // SAFETY: the rows of the spreads anchored here (`up` above to `down` below) of p^t
            // are final and not overwritten before this task (see `dependencies`).
            let window = unsafe { dst.get(lo * s, (hi - lo) * s) };
            for &k in anchored {
                let v = self.receivers.sample(k, window, lo, s);
                // SAFETY: receiver k is anchored at row i only, so its trace sample is this
                // task's alone.
                unsafe { bufs.traces.get_mut(k * bufs.samples + sample, 1)[0] = v };
            }
        }
    }

    /// Records receiver sample `sample` of every receiver from p^n (outside sweeps: the
    /// initial state, the variable-density path).
    pub(crate) fn record_all(&mut self, sample: usize, traces: &mut Array2<f64>) {
        if sample >= traces.ncols() {
            return;
        }
        let s = self.lay.stride;
        for k in 0..self.receivers.len() {
            traces[[k, sample]] = self.receivers.sample(k, &self.cur, 0, s);
        }
    }

    /// One step of another operator `op(p^n, p^(n-1) -> p^(n+1))` (the variable-density flux
    /// form) with everything else of the step as in a sweep: the ghost cells of the mirrors
    /// before, then per row the sponge, the sources of step `n` and the free-surface zeros,
    /// the sponge on p^n, and the receivers of sample `n + 1`.
    pub(crate) fn step_with(
        &mut self,
        n: usize,
        traces: &mut Array2<f64>,
        op: impl FnOnce(&[T], &mut [T]),
    ) {
        let lay = self.lay;
        let s = lay.stride;
        // The fields leave `self` while the row helpers borrow it.
        let empty = || AlignedVec::zeros(0);
        let (mut cur, mut next) = (
            std::mem::replace(&mut self.cur, empty()),
            std::mem::replace(&mut self.prev, empty()),
        );
        let shared = Shared::new(&mut cur);
        self.fill_ghost_rows(shared, lay.cy0);
        self.fill_ghost_rows(shared, lay.cy1 - self.r);
        for i in lay.cy0..lay.cy1 {
            self.fill_ghost_cols(&mut cur[i * s..(i + 1) * s]);
        }
        op(&cur, &mut next);
        next[lay.cy0 * s..lay.cy1 * s]
            .par_chunks_mut(s)
            .enumerate()
            .for_each(|(ri, row)| self.finish_row(lay.cy0 + ri, n, row));
        (self.cur, self.prev) = (cur, next);
        if let Some((gy, gx)) = &self.sponge {
            for (i, g) in gy.iter().enumerate().take(lay.cy1).skip(lay.cy0) {
                damp_row(*g, gx, lay, &mut self.cur[i * s..(i + 1) * s]);
            }
        }
        std::mem::swap(&mut self.cur, &mut self.prev);
        self.record_all(n + 1, traces);
    }
}

impl<T> XStrip<'_, T> {
    fn empty() -> Self {
        XStrip {
            j0: 0,
            j1: 0,
            psi: &mut [],
            zeta: &mut [],
            base: 0,
            a: &[],
            b: &[],
        }
    }
}

/// Multiplies a row by the sponge factors `gy gx[j]` where they differ from 1.
fn damp_row<T: RealElement>(gy: T, gx: &[T], lay: Layout, row: &mut [T]) {
    let one = T::one();
    for j in lay.cx0..lay.cx1 {
        let g = gy * gx[j];
        if g != one {
            row[j] *= g;
        }
    }
}
