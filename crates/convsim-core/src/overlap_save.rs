//! The block method of [`crate::ConvPlan`] (`Method::OverlapSave`), implemented as
//! **overlap-save**: the output is tiled into blocks of `by x bx` samples; each block reads the
//! `fy x fx` window of the boundary-padded input that its outputs depend on, transforms it
//! (real-to-complex rows for real data, complex otherwise, then complex columns), multiplies by
//! the kernel's block spectrum, transforms back and keeps the samples where the circular
//! correlation did not wrap around.
//!
//! Overlap-save rather than overlap-add because the input is padded anyway: every block's
//! window is read straight from the input through the boundary index maps, so no block ever adds
//! into another's output. Each output block is computed by exactly one task with the same
//! arithmetic whatever the thread count, so results are bitwise independent of it.
//!
//! With `k_eff = (k - 1) * dilation + 1` and stride `s` along an axis, a block transform of
//! length `f >= k_eff` yields `(f - k_eff) / s + 1` outputs (the stride-1 correlation positions
//! `0, s, 2s, ...` that do not wrap). Dilation is a dilated kernel in the block spectrum, stride
//! a subsampled block. Block lengths are fast sizes (products of 2, 3, 5, 7) chosen at plan
//! time to minimise `blocks x f log f` with the block's spectrum in cache (see
//! [`choose_blocks`]). Kernel spectrum, transform plans and per-thread block buffers are all
//! made at plan time; `apply` allocates nothing.

// The block body and its helpers must be inlined into the `#[target_feature]` wrapper of
// `OverlapSave::block` to be compiled for AVX2; `#[inline(always)]` is how that is guaranteed.
#![allow(
    clippy::inline_always,
    reason = "the block body must be inlined into its `#[target_feature]` wrapper to be compiled for AVX2"
)]

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use ndarray::{Array2, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};
use num_complex::Complex;
use num_traits::Zero;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use crate::boundary::Source;
use crate::fft::next_fast_len;
use crate::simd::Isa;
use crate::{Boundaries, Element, ResolvedAxis};

/// Largest block spectrum (bytes) we aim to keep per thread near the core. Measured on a
/// 1 MiB-L2 machine (2048^2, 63^2 taps, one thread): spectra up to 1.6 MB ran as fast as
/// smaller ones, since the fused column pass holds one column at a time in L1; 2.1 MB and
/// beyond were 12-30% slower.
const BLOCK_BYTES: usize = 2 << 20;

/// Block geometry of one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AxisBlocks {
    /// Block transform length.
    pub(crate) f: usize,
    /// Outputs per block.
    pub(crate) per: usize,
    /// Number of blocks.
    pub(crate) count: usize,
}

impl AxisBlocks {
    fn new(r: &ResolvedAxis, f: usize) -> Self {
        let per = ((f - r.k_eff) / r.stride + 1).min(r.out);
        AxisBlocks {
            f,
            per,
            count: r.out.div_ceil(per),
        }
    }
}

/// Candidate block lengths of one axis: fast sizes from about `2 k_eff` (fewer outputs per
/// block than that waste most of the transform) up to the whole padded axis.
fn candidates(r: &ResolvedAxis, even: bool) -> Vec<usize> {
    // The whole axis in one block: the longest useful length.
    let whole = next_fast_len((r.out - 1) * r.stride + r.k_eff, even);
    let mut v = Vec::new();
    let mut f = next_fast_len((2 * r.k_eff).max(16).min(whole), even);
    while f < whole {
        v.push(f);
        f = next_fast_len(f + 1, even);
    }
    v.push(whole);
    v
}

/// Work of a length-`n` transform per point, in radix-2 passes: each factor 2 counts 1, 3
/// counts 1.9, 5 counts 4.2 and 7 counts 4.5 (any other prime `p`, 2 log2 p). A least-squares
/// fit of rustfft's f64 time over the 7-smooth lengths 120-2200 (AVX2): 12% rms error, against
/// 23% for `log2 n`, whose equal weight per bit made the chooser prefer lengths like 405 =
/// 3^4 5, which run at 1.5x the time per point of 512.
pub(crate) fn passes(mut n: usize) -> f64 {
    let mut w = 0.0;
    for (p, cost) in [(2, 1.0), (3, 1.9), (5, 4.2), (7, 4.5)] {
        while n.is_multiple_of(p) && n > 1 {
            n /= p;
            w += cost;
        }
    }
    if n > 1 {
        w += 2.0 * (n as f64).log2();
    }
    w.max(1.0)
}

/// Relative work of a block plan: `blocks x fy fx (passes(fy) + passes(fx))` (see
/// [`passes`]), times 1.5 when one block's spectrum does not fit [`BLOCK_BYTES`], plus the
/// idle share of the last round of blocks over `threads` workers.
pub(crate) fn block_work(by: AxisBlocks, bx: AxisBlocks, spec_bytes: usize, threads: usize) -> f64 {
    let n = (by.f * bx.f) as f64;
    let blocks = by.count * bx.count;
    let rounds = blocks.div_ceil(threads.max(1)) * threads.max(1);
    let cache = if spec_bytes > BLOCK_BYTES { 1.5 } else { 1.0 };
    rounds as f64 * n * (passes(by.f) + passes(bx.f)) * cache
}

/// Chooses the block transform lengths `(fy, fx)` minimising [`block_work`] on one worker, or
/// the fast lengths at least `forced` (and `k_eff`) if given. The choice ignores the thread
/// count on purpose: other blocks give results that differ by rounding, and results must not
/// depend on the number of threads.
pub(crate) fn choose_blocks<T: Element>(
    ry: &ResolvedAxis,
    rx: &ResolvedAxis,
    forced: Option<[usize; 2]>,
) -> (AxisBlocks, AxisBlocks) {
    if let Some([fy, fx]) = forced {
        let len = |r: &ResolvedAxis, f: usize, even: bool| {
            let whole = *candidates(r, even).last().expect("non-empty");
            next_fast_len(f.max(r.k_eff), even).min(whole)
        };
        return (
            AxisBlocks::new(ry, len(ry, fy, false)),
            AxisBlocks::new(rx, len(rx, fx, !T::IS_COMPLEX)),
        );
    }
    let cplx = 2 * std::mem::size_of::<T::Real>();
    let mut best = None;
    for fy in candidates(ry, false) {
        for fx in candidates(rx, !T::IS_COMPLEX) {
            let (by, bx) = (AxisBlocks::new(ry, fy), AxisBlocks::new(rx, fx));
            let cx = if T::IS_COMPLEX { fx } else { fx / 2 + 1 };
            let w = block_work(by, bx, fy * cx * cplx, 1);
            if best.is_none_or(|(bw, _, _)| w < bw) {
                best = Some((w, by, bx));
            }
        }
    }
    let (_, by, bx) = best.expect("at least one candidate per axis");
    (by, bx)
}

/// Row transforms: real-to-complex for real data, complex for complex.
#[derive(Clone)]
enum RowFft<R: crate::RealElement> {
    Real(Arc<dyn RealToComplex<R>>, Arc<dyn ComplexToReal<R>>),
    Complex(Arc<dyn Fft<R>>, Arc<dyn Fft<R>>),
}

/// Rows transformed, then transposed into (or out of) the column-major block spectrum,
/// together: four complex f64 are one 64-byte cache line, so the transposes move whole lines.
const GROUP: usize = 4;

/// How many window rows ahead of the one being filled the input is prefetched.
const PREFETCH_ROWS: usize = 4;

/// One thread's block buffers.
#[derive(Clone)]
struct Scratch<T: Element> {
    /// One window row of the padded input (`fx` samples).
    win: Vec<T>,
    /// Real output row of the inverse row transforms (real data).
    re: Vec<T::Real>,
    /// [`GROUP`] spectrum rows (real data) or rows (complex data) of `cx` samples each.
    rows: Vec<Complex<T::Real>>,
    /// Block spectrum, column-major: `spec[c * fy + r]`.
    spec: Vec<Complex<T::Real>>,
    /// Transform scratch.
    scr: Vec<Complex<T::Real>>,
}

/// The overlap-save engine.
pub(crate) struct OverlapSave<T: Element> {
    ry: ResolvedAxis,
    rx: ResolvedAxis,
    by: AxisBlocks,
    bx: AxisBlocks,
    /// Spectrum row length: `fx / 2 + 1` (real) or `fx` (complex).
    cx: usize,
    w: usize,
    row_src: Vec<Source>,
    col_src: Vec<Source>,
    /// Instruction set of the block body (the copies, transposes and kernel multiply; the
    /// transforms are rustfft's own dispatch).
    isa: Isa,
    /// Write contiguous output rows with streaming stores (outputs too large to stay cached).
    stream: bool,
    rows: RowFft<T::Real>,
    col_fwd: Arc<dyn Fft<T::Real>>,
    col_inv: Arc<dyn Fft<T::Real>>,
    /// Kernel block spectrum over `fy * fx` (normalisation folded in), column-major.
    kspec: Vec<Complex<T::Real>>,
    /// One set of block buffers per worker thread (indexed by rayon's thread index).
    scratch: Vec<Mutex<Scratch<T>>>,
    /// Convolution result handed to `apply_with`'s epilogue, row by row.
    staging: Array2<T>,
    /// Per-thread copy of a strided output row for the epilogue.
    rowbufs: Vec<Mutex<Vec<T>>>,
}

impl<T: Element> Clone for OverlapSave<T> {
    fn clone(&self) -> Self {
        OverlapSave {
            ry: self.ry,
            rx: self.rx,
            by: self.by,
            bx: self.bx,
            cx: self.cx,
            w: self.w,
            row_src: self.row_src.clone(),
            col_src: self.col_src.clone(),
            isa: self.isa,
            stream: self.stream,
            rows: self.rows.clone(),
            col_fwd: Arc::clone(&self.col_fwd),
            col_inv: Arc::clone(&self.col_inv),
            kspec: self.kspec.clone(),
            scratch: self
                .scratch
                .iter()
                .map(|m| Mutex::new(m.lock().unwrap_or_else(PoisonError::into_inner).clone()))
                .collect(),
            staging: self.staging.clone(),
            rowbufs: self
                .rowbufs
                .iter()
                .map(|m| Mutex::new(m.lock().unwrap_or_else(PoisonError::into_inner).clone()))
                .collect(),
        }
    }
}

impl<T: Element> fmt::Debug for OverlapSave<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OverlapSave")
            .field("blocks_y", &self.by)
            .field("blocks_x", &self.bx)
            .field("threads", &self.scratch.len())
            .finish_non_exhaustive()
    }
}

impl<T: Element> OverlapSave<T> {
    /// Plans the block method for correlation-frame `taps`.
    pub(crate) fn new(
        shape: [usize; 2],
        taps: &Array2<T>,
        boundaries: &Boundaries,
        ry: ResolvedAxis,
        rx: ResolvedAxis,
        forced: Option<[usize; 2]>,
        isa: Isa,
    ) -> Self {
        let [h, w] = shape;
        let threads = rayon::current_num_threads().max(1);
        let (by, bx) = choose_blocks::<T>(&ry, &rx, forced);
        let (fy, fx) = (by.f, bx.f);
        let cx = if T::IS_COMPLEX { fx } else { fx / 2 + 1 };
        let mut cplan = FftPlanner::<T::Real>::new();
        let col_fwd = cplan.plan_fft_forward(fy);
        let col_inv = cplan.plan_fft_inverse(fy);
        let rows = if T::IS_COMPLEX {
            RowFft::Complex(cplan.plan_fft_forward(fx), cplan.plan_fft_inverse(fx))
        } else {
            let mut rplan = RealFftPlanner::<T::Real>::new();
            RowFft::Real(rplan.plan_fft_forward(fx), rplan.plan_fft_inverse(fx))
        };
        let row_scr = match &rows {
            RowFft::Real(f, i) => f
                .get_scratch_len()
                .max(i.get_scratch_len())
                .max(f.make_scratch_vec().len()),
            RowFft::Complex(f, i) => f.get_inplace_scratch_len().max(i.get_inplace_scratch_len()),
        };
        let scr_len = row_scr
            .max(col_fwd.get_inplace_scratch_len())
            .max(col_inv.get_inplace_scratch_len());
        let zero = Complex::<T::Real>::zero();
        let scratch_one = Scratch {
            win: vec![T::zero(); fx],
            re: vec![T::Real::zero(); if T::IS_COMPLEX { 0 } else { fx }],
            rows: vec![zero; GROUP * cx],
            spec: vec![zero; cx * fy],
            scr: vec![zero; scr_len],
        };
        let span_y = ry.n + ry.lo + ry.hi;
        let span_x = rx.n + rx.lo + rx.hi;
        let row_src = (0..span_y)
            .map(|p| boundaries.y.source(p as isize - ry.lo as isize, h))
            .collect();
        let col_src = (0..span_x)
            .map(|p| boundaries.x.source(p as isize - rx.lo as isize, w))
            .collect();
        let mut me = OverlapSave {
            ry,
            rx,
            by,
            bx,
            cx,
            w,
            row_src,
            col_src,
            isa: isa.at_most_avx2(),
            stream: crate::simd::worth_streaming::<T>(ry.out * rx.out),
            rows,
            col_fwd,
            col_inv,
            kspec: Vec::new(),
            scratch: Vec::new(),
            staging: Array2::zeros((ry.out, rx.out)),
            rowbufs: (0..threads)
                .map(|_| Mutex::new(vec![T::zero(); rx.out]))
                .collect(),
        };
        // Kernel block spectrum: h[(-jy) mod fy, (-jx) mod fx] = k[ky, kx] (jy, jx dilated),
        // so that the circular convolution with h is the correlation with k where it does not
        // wrap; 1 / (fy fx) of the inverse transforms folded in.
        let mut s = scratch_one.clone();
        let (dy, dx) = (ry.dilation, rx.dilation);
        me.forward(&mut s, |r, win| {
            let jy = (fy - r) % fy;
            if !jy.is_multiple_of(dy) || jy / dy >= taps.nrows() {
                return false;
            }
            win.fill(T::zero());
            for (kx, v) in taps.row(jy / dy).iter().enumerate() {
                win[(fx - kx * dx) % fx] = *v;
            }
            true
        });
        let norm = <T::Real as Element>::from_f64(1.0 / (fy * fx) as f64);
        for c in 0..cx {
            let col = &mut s.spec[c * fy..(c + 1) * fy];
            me.col_fwd.process_with_scratch(col, &mut s.scr);
            for v in col {
                *v = *v * norm;
            }
        }
        me.kspec = s.spec;
        me.scratch = (0..threads)
            .map(|_| Mutex::new(scratch_one.clone()))
            .collect();
        me
    }

    /// Block transform shape `(fy, fx)`.
    pub(crate) fn fft_shape(&self) -> [usize; 2] {
        [self.by.f, self.bx.f]
    }

    /// Outputs per block `(by, bx)`.
    pub(crate) fn block_outputs(&self) -> [usize; 2] {
        [self.by.per, self.bx.per]
    }

    /// Blocks per axis.
    pub(crate) fn blocks(&self) -> [usize; 2] {
        [self.by.count, self.bx.count]
    }

    /// Instruction set of the block body.
    pub(crate) fn isa(&self) -> Isa {
        self.isa
    }

    /// Number of parallel tasks (blocks).
    pub(crate) fn tasks(&self) -> usize {
        self.by.count * self.bx.count
    }

    /// Row transforms of a block into `s.spec` (column-major). `fill(r, win)` writes window
    /// row `r` (all `fx` samples) into `win`, or returns `false` if the row is all zero (its
    /// transform is skipped).
    #[inline(always)]
    fn forward<G>(&self, s: &mut Scratch<T>, mut fill: G)
    where
        G: FnMut(usize, &mut [T]) -> bool,
    {
        let (fy, cx) = (self.by.f, self.cx);
        let zero = Complex::<T::Real>::zero();
        let Scratch {
            win,
            rows,
            spec,
            scr,
            ..
        } = s;
        for r0 in (0..fy).step_by(GROUP) {
            let n = GROUP.min(fy - r0);
            let mut nonzero = [false; GROUP];
            for (i, row) in rows.chunks_exact_mut(cx).take(n).enumerate() {
                nonzero[i] = fill(r0 + i, win);
                if !nonzero[i] {
                    continue;
                }
                match &self.rows {
                    RowFft::Real(fwd, _) => {
                        // Real data is transformed in place of the window (the transform may
                        // overwrite its input; `fill` rewrites every sample).
                        let line = T::real_slice_mut(win)
                            .expect("real row transforms are planned for real elements only");
                        fwd.process_with_scratch(line, row, scr)
                            .expect("buffer lengths fixed at plan time");
                    }
                    RowFft::Complex(fwd, _) => {
                        for (d, v) in row.iter_mut().zip(win.iter()) {
                            *d = v.to_complex();
                        }
                        fwd.process_with_scratch(row, scr);
                    }
                }
            }
            for (c, col) in spec.chunks_exact_mut(fy).enumerate() {
                for (i, d) in col[r0..r0 + n].iter_mut().enumerate() {
                    *d = if nonzero[i] { rows[i * cx + c] } else { zero };
                }
            }
        }
    }

    /// Computes block `(ty, tx)` into `out` (its `per`-sized window of the output), with AVX2
    /// where the plan found it: the kernel multiply and the copies then run on 256-bit vectors.
    fn block(&self, ty: usize, tx: usize, input: ArrayView2<'_, T>, out: ArrayViewMut2<'_, T>) {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            fn avx2<T: Element>(
                me: &OverlapSave<T>,
                ty: usize,
                tx: usize,
                input: ArrayView2<'_, T>,
                out: ArrayViewMut2<'_, T>,
            ) {
                me.block_body(ty, tx, input, out);
            }
            if self.isa == Isa::Avx2Fma {
                // SAFETY: `Avx2Fma` is recorded only after run-time detection of AVX2 and FMA.
                unsafe { avx2(self, ty, tx, input, out) };
                return;
            }
        }
        self.block_body(ty, tx, input, out);
    }

    #[inline(always)]
    fn block_body(
        &self,
        ty: usize,
        tx: usize,
        input: ArrayView2<'_, T>,
        mut out: ArrayViewMut2<'_, T>,
    ) {
        let (ry, rx) = (self.ry, self.rx);
        let (fy, fx, cx) = (self.by.f, self.bx.f, self.cx);
        let z0y = ty * self.by.per * ry.stride;
        let z0x = tx * self.bx.per * rx.stride;
        let span_x = self.col_src.len();
        let cols = fx.min(span_x - z0x);
        // Columns of the window that are data samples `z0x + t - lo`, copied as a run. The run
        // is empty (t0 == t1) when the window lies wholly in the left or right padding, which
        // wide padding or a tiny image makes common.
        let t0 = rx.lo.saturating_sub(z0x).min(cols);
        let t1 = (rx.lo + self.w).saturating_sub(z0x).clamp(t0, cols);
        let slot = rayon::current_thread_index().unwrap_or(0) % self.scratch.len();
        let mut guard = self.scratch[slot]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let s = &mut *guard;
        let flat = input.as_slice();
        self.forward(s, |r, win| {
            // The window's rows are runs far apart in the input, each a cold start for the
            // hardware prefetcher: fetch the data run of a row a few rows ahead (see
            // `simd::prefetch_l2`).
            if let (Some(sl), Some(&Source::Index(i)), true) =
                (flat, self.row_src.get(z0y + r + PREFETCH_ROWS), t1 > t0)
            {
                let d0 = i * self.w + z0x + t0 - rx.lo;
                crate::simd::prefetch_l2(&sl[d0..d0 + (t1 - t0)]);
            }
            let Some(&rs) = self.row_src.get(z0y + r) else {
                return false;
            };
            win[cols..].fill(T::zero());
            let (i, neg) = match rs {
                Source::Constant(v) => {
                    if v == 0.0 {
                        return false;
                    }
                    win[..cols].fill(T::from_f64(v));
                    return true;
                }
                Source::Index(i) => (i, false),
                Source::Negated(i) => (i, true),
            };
            let src = input.row(i);
            let sgn = |v: T| if neg { -v } else { v };
            for t in (0..t0).chain(t1..cols) {
                win[t] = match self.col_src[z0x + t] {
                    Source::Index(j) => sgn(src[j]),
                    Source::Negated(j) => -sgn(src[j]),
                    Source::Constant(v) => T::from_f64(v),
                };
            }
            if t0 == t1 {
                // No data column: `z0x + t0 - lo` would point outside the row.
                return true;
            }
            let d0 = z0x + t0 - rx.lo;
            let run = &mut win[t0..t1];
            match src.as_slice() {
                Some(sl) if !neg => run.copy_from_slice(&sl[d0..d0 + run.len()]),
                Some(sl) => {
                    for (d, v) in run.iter_mut().zip(&sl[d0..]) {
                        *d = -*v;
                    }
                }
                None => {
                    for (k, d) in run.iter_mut().enumerate() {
                        *d = sgn(src[d0 + k]);
                    }
                }
            }
            true
        });
        let Scratch {
            re,
            rows,
            spec,
            scr,
            ..
        } = s;
        // Fused column pass: forward, kernel multiply, inverse, one column at a time in cache.
        for (col, k) in spec.chunks_exact_mut(fy).zip(self.kspec.chunks_exact(fy)) {
            self.col_fwd.process_with_scratch(col, scr);
            for (a, k) in col.iter_mut().zip(k) {
                *a = *a * *k;
            }
            self.col_inv.process_with_scratch(col, scr);
        }
        // Inverse row transforms of the rows holding outputs, subsampled by the strides.
        let nout = out.nrows();
        for k0 in (0..nout).step_by(GROUP) {
            let n = GROUP.min(nout - k0);
            for (c, col) in spec.chunks_exact(fy).enumerate() {
                for i in 0..n {
                    rows[i * cx + c] = col[(k0 + i) * ry.stride];
                }
            }
            for (i, row) in rows.chunks_exact_mut(cx).take(n).enumerate() {
                let orow = out.row_mut(k0 + i);
                match &self.rows {
                    RowFft::Real(_, inv) => {
                        // The result is real: the imaginary parts of the DC and Nyquist bins
                        // are rounding noise (c2r ignores them; zeroing keeps it from
                        // complaining).
                        row[0].im = T::Real::zero();
                        if fx.is_multiple_of(2) {
                            row[cx - 1].im = T::Real::zero();
                        }
                        inv.process_with_scratch(row, re, scr)
                            .expect("buffer lengths fixed at plan time");
                        store_real(orow, re, rx.stride, self.stream);
                    }
                    RowFft::Complex(_, inv) => {
                        inv.process_with_scratch(row, scr);
                        store(orow, row, rx.stride, T::from_complex);
                    }
                }
            }
        }
    }

    /// Computes the convolution into `output`, block by block in parallel.
    fn run(&self, input: ArrayView2<'_, T>, mut output: ArrayViewMut2<'_, T>) {
        let (pery, perx) = (self.by.per, self.bx.per);
        output
            .axis_chunks_iter_mut(Axis(0), pery)
            .into_par_iter()
            .enumerate()
            .for_each(|(ty, mut strip)| {
                strip
                    .axis_chunks_iter_mut(Axis(1), perx)
                    .into_par_iter()
                    .enumerate()
                    .for_each(|(tx, out)| self.block(ty, tx, input, out));
            });
    }

    /// Writes the convolution straight into `output` (`ConvPlan::apply`).
    pub(crate) fn apply(&mut self, input: ArrayView2<'_, T>, output: ArrayViewMut2<'_, T>) {
        self.run(input, output);
    }

    /// Runs the plan; see [`crate::ConvPlan::apply_with`]. The blocks write a staging array
    /// first, since an epilogue needs whole rows.
    pub(crate) fn apply_with<F>(
        &mut self,
        input: ArrayView2<'_, T>,
        mut output: ArrayViewMut2<'_, T>,
        epilogue: &F,
    ) where
        F: Fn(usize, &[T], &mut [T]) + Sync,
    {
        let mut staging = std::mem::replace(&mut self.staging, Array2::zeros((0, 0)));
        self.run(input, staging.view_mut());
        output
            .axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(staging.axis_iter_mut(Axis(0)))
            .enumerate()
            .for_each(|(oy, (mut out_row, mut conv))| {
                let conv = conv.as_slice_mut().expect("staging is in standard layout");
                if let Some(dst) = out_row.as_slice_mut() {
                    epilogue(oy, conv, dst);
                } else {
                    // Strided output row: the epilogue reads and writes a contiguous copy.
                    let slot = rayon::current_thread_index().unwrap_or(0) % self.rowbufs.len();
                    let mut buf = self.rowbufs[slot]
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    for (d, o) in buf.iter_mut().zip(out_row.iter()) {
                        *d = *o;
                    }
                    epilogue(oy, conv, &mut buf);
                    for (o, d) in out_row.iter_mut().zip(buf.iter()) {
                        *o = *d;
                    }
                }
            });
        self.staging = staging;
    }
}

/// [`store`] for real data, with streaming stores if `stream` and the row is a contiguous,
/// stride-1 run of a real element type.
#[inline(always)]
fn store_real<T: Element>(
    mut out: ArrayViewMut1<'_, T>,
    src: &[T::Real],
    stride: usize,
    stream: bool,
) {
    if stream
        && stride == 1
        && let Some(o) = out.as_slice_mut().and_then(T::real_slice_mut)
    {
        crate::simd::stream_copy(&src[..o.len()], o);
        return;
    }
    store(out, src, stride, T::from_real);
}

/// Writes every `stride`-th sample of `src`, converted by `f`, into `out`: a straight
/// (vectorised) copy for the common contiguous, stride-1 case.
#[inline(always)]
fn store<S: Copy, T>(mut out: ArrayViewMut1<'_, T>, src: &[S], stride: usize, f: impl Fn(S) -> T) {
    match out.as_slice_mut() {
        Some(o) if stride == 1 => {
            for (d, v) in o.iter_mut().zip(src) {
                *d = f(*v);
            }
        }
        _ => {
            for (u, d) in out.iter_mut().enumerate() {
                *d = f(src[u * stride]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AxisGeometry, Boundary, resolve_axis};
    use ndarray::{Array2, s};

    /// Streaming stores are used only for outputs `simd::worth_streaming` accepts, too large for a
    /// unit test, so the flag is forced here: the result must be bitwise that of plain stores,
    /// for contiguous outputs (blocks start at unaligned columns) and strided ones (fallback).
    fn streaming_matches_plain<T: Element>() {
        let (h, w, k) = (37, 53, 7);
        let input = Array2::from_shape_fn((h, w), |(i, j)| {
            T::from_f64(((i * 31 + j * 17) % 23) as f64 / 7.0 - 1.5)
        });
        let taps = Array2::from_shape_fn((k, k), |(i, j)| {
            T::from_f64(((i * 5 + j * 3) % 11) as f64 / 11.0 - 0.4)
        });
        let g = AxisGeometry::default();
        let ry = resolve_axis(h, k, k / 2, &g, "y").unwrap();
        let rx = resolve_axis(w, k, k / 2, &g, "x").unwrap();
        let b = Boundaries::uniform(Boundary::Mirror);
        let mut plain = OverlapSave::new([h, w], &taps, &b, ry, rx, Some([16, 24]), Isa::detect());
        let mut streamed = plain.clone();
        plain.stream = false;
        streamed.stream = true;
        let mut want = Array2::<T>::zeros((h, w));
        plain.apply(input.view(), want.view_mut());
        let mut got = Array2::<T>::zeros((h, w));
        streamed.apply(input.view(), got.view_mut());
        assert_eq!(got, want);
        let mut wide = Array2::<T>::zeros((h, 2 * w));
        streamed.apply(input.view(), wide.slice_mut(s![.., ..;2]));
        assert_eq!(wide.slice(s![.., ..;2]), want);
    }

    #[test]
    fn streaming_stores_match_plain_stores() {
        streaming_matches_plain::<f32>();
        streaming_matches_plain::<f64>();
    }
}
