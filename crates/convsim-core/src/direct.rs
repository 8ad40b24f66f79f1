//! The direct (sliding dot product) method of [`crate::ConvPlan`].
//!
//! Output rows are split into a fixed number of row chunks run in parallel with rayon; each
//! chunk owns its output rows and a scratch allocated at plan time, so `apply` allocates nothing.
//!
//! - **Dense**: each boundary-extended input row (the `x` padding built from the boundary maps)
//!   is built once per task into a ring buffer of `k_eff_y` rows; then every output row is a sum,
//!   over the non-zero taps, of contiguous runs of those rows, accumulated in registers over
//!   blocks of output columns. Border and interior are the same code. A column stride is handled
//!   by storing each extended row split into `stride` phases, so strided taps read contiguously.
//! - **Separable**: a column pass straight from the input rows (blocks of output rows, strips of
//!   columns, so the rows a strip needs stay in cache) into extended rows whose `x` margins are
//!   then filled from the boundary maps, followed by a row pass. Away from the top and bottom
//!   borders the column pass feeds every input vector it loads to four output rows
//!   ([`column_pass_quad`]): those loads, from L2, bounded the pass (sep31 f32, 4096^2, one
//!   thread: 0.052 s -> 0.033 s).
//!
//! - **Two rows at once** (dense, AVX-512 only): [`direct_row_pair`] feeds every input vector it
//!   loads to the accumulators of two output rows, halving the loads per multiply-add.
//!
//! Inner loops are compiled three times, portable, with AVX2+FMA and with AVX-512F (chosen at
//! plan time, capped by [`crate::Simd`]); every variant gives each output the same operations
//! in the same order, so the FMA variants agree bitwise.

// The inner-loop bodies must be inlined into their `#[target_feature]` wrappers to be compiled
// for AVX2+FMA or AVX-512; `#[inline(always)]` is how that is guaranteed.
#![allow(clippy::inline_always)]

use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::boundary::Source;
use crate::simd::{Isa, madd};
use crate::{Boundaries, Element, ResolvedAxis, Sides};

/// Output rows per block of the separable column pass.
const SEP_BLOCK: usize = 8;
/// Columns per strip of the separable column pass.
const SEP_STRIP: usize = 512;

/// The taps of one method variant.
#[derive(Clone, Debug)]
enum Taps<T> {
    /// Non-zero taps `(ky, offset within an extended row, weight)`.
    Dense(Vec<(usize, usize, T)>),
    /// Column factor (length `ky`), row taps `(offset, weight)` (non-zero only).
    Separable { col: Vec<T>, row: Vec<(usize, T)> },
}

/// A dense tap regrouped for two output rows computed together ([`direct_row_pair`]): input
/// row `d` (relative to the upper output row's first tap row) at column offset `off`, with the
/// weight of tap row `d` for the upper row and of tap row `d - 1` for the lower one; `uses` bit
/// 0 / bit 1 says which of the two is a non-zero tap.
#[derive(Clone, Copy, Debug)]
struct Pair<T> {
    d: usize,
    off: usize,
    w: [T; 2],
    uses: u8,
}

/// Everything fixed at plan time.
#[derive(Clone, Debug)]
struct Cfg<T> {
    isa: Isa,
    h: usize,
    w: usize,
    ry: ResolvedAxis,
    rx: ResolvedAxis,
    by: Sides,
    /// Source of each extended column (`lo + w + hi`).
    col_src: Vec<Source>,
    /// Extended-row layout: `sx` phases of `ph_len`.
    sx: usize,
    ph_len: usize,
    rowlen: usize,
    taps: Taps<T>,
    /// Dense taps for two rows at once; empty unless AVX-512 (its 32 registers hold both rows'
    /// accumulators), row stride 1 and dilation 1.
    pairs: Vec<Pair<T>>,
    rows_per_task: usize,
}

/// Per-task scratch.
#[derive(Clone, Debug)]
struct Scratch<T> {
    /// Ring of extended rows (dense) or block of column-filtered rows (separable).
    buf: Vec<T>,
    /// One output row (`wv` wide).
    acc: Vec<T>,
    /// Output row staging for non-contiguous outputs.
    strided: Vec<T>,
    /// Start of every tap's run for the current output row.
    bases: Vec<usize>,
    /// Weights in the order of `bases`.
    weights: Vec<T>,
    /// Two-row path: the lower row's output and tap starts, the start of each input row it
    /// reads (`i * w`) and of each [`Pair`]'s run.
    acc2: Vec<T>,
    bases2: Vec<usize>,
    rowbase: Vec<usize>,
    pbases: Vec<usize>,
    /// Separable column pass, per row of a block: input offsets `i * w` of the rows read and
    /// their signed coefficients (`ky` entries reserved per row).
    vstart: Vec<usize>,
    vcoef: Vec<T>,
}

/// The direct method: plan data plus per-task scratch.
#[derive(Clone, Debug)]
pub(crate) struct Direct<T> {
    cfg: Cfg<T>,
    scratch: Vec<Scratch<T>>,
}

/// Register block (output columns) for element type `T`: 8 vector registers' worth (256-bit
/// registers, or 512-bit ones with AVX-512, which has 32 of them). The portable path uses the
/// AVX2 length.
fn block_len<T>(isa: Isa) -> usize {
    let bytes = if isa == Isa::Avx512 { 512 } else { 256 };
    bytes / std::mem::size_of::<T>()
}

impl<T: Element> Direct<T> {
    /// Plans the direct method. `taps` are in the correlation frame; `separable` is the
    /// `(col, row)` factorisation to use (only honoured for column stride 1).
    pub(crate) fn new(
        shape: [usize; 2],
        taps: &ndarray::Array2<T>,
        separable: Option<(Vec<T>, Vec<T>)>,
        boundaries: &Boundaries,
        ry: ResolvedAxis,
        rx: ResolvedAxis,
        isa: Isa,
    ) -> Self {
        let [h, w] = shape;
        let v = block_len::<T>(isa);
        let wpad = rx.lo + w + rx.hi;
        let sx = rx.stride;
        let wv = rx.out.next_multiple_of(v);
        let max_off = (rx.k - 1) * rx.dilation / sx;
        let ph_len = wpad.div_ceil(sx).max(max_off + wv);
        let rowlen = sx * ph_len;
        let off = |kx: usize| ((kx * rx.dilation) % sx) * ph_len + kx * rx.dilation / sx;
        let (taps_kind, buf_rows, ntaps) = match separable {
            Some((col, row)) if sx == 1 => {
                let row: Vec<(usize, T)> = row
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != T::zero())
                    .map(|(kx, v)| (off(kx), *v))
                    .collect();
                let n = row.len();
                (Taps::Separable { col, row }, SEP_BLOCK, n)
            }
            _ => {
                let mut d = Vec::new();
                for ((ky, kx), v) in taps.indexed_iter() {
                    if *v != T::zero() {
                        d.push((ky, off(kx), *v));
                    }
                }
                let n = d.len();
                (Taps::Dense(d), ry.k_eff, n)
            }
        };
        let mut pairs = Vec::new();
        if isa == Isa::Avx512
            && matches!(taps_kind, Taps::Dense(_))
            && sx == 1
            && ry.stride == 1
            && ry.dilation == 1
        {
            let (kh, kw) = taps.dim();
            for d in 0..=kh {
                for kx in 0..kw {
                    let w0 = if d < kh { taps[[d, kx]] } else { T::zero() };
                    let w1 = if d >= 1 { taps[[d - 1, kx]] } else { T::zero() };
                    let uses = u8::from(w0 != T::zero()) | (u8::from(w1 != T::zero()) << 1);
                    if uses != 0 {
                        pairs.push(Pair {
                            d,
                            off: off(kx),
                            w: [w0, w1],
                            uses,
                        });
                    }
                }
            }
        }
        let two = !pairs.is_empty();
        let col_src = (0..wpad)
            .map(|c| boundaries.x.source(c as isize - rx.lo as isize, w))
            .collect();
        let threads = rayon::current_num_threads().max(1);
        let tasks = ry.out.min(4 * threads).max(1);
        let rows_per_task = ry.out.div_ceil(tasks);
        let tasks = ry.out.div_ceil(rows_per_task);
        let scratch = Scratch {
            buf: vec![T::zero(); buf_rows * rowlen],
            acc: vec![T::zero(); wv],
            strided: vec![T::zero(); rx.out],
            bases: vec![0; ntaps.max(1)],
            weights: vec![T::zero(); ntaps.max(1)],
            vstart: vec![0; SEP_BLOCK * ry.k],
            vcoef: vec![T::zero(); SEP_BLOCK * ry.k],
            acc2: vec![T::zero(); if two { wv } else { 0 }],
            bases2: vec![0; if two { ntaps } else { 0 }],
            rowbase: vec![0; if two { ry.k + 1 } else { 0 }],
            pbases: vec![0; pairs.len()],
        };
        Direct {
            cfg: Cfg {
                isa,
                h,
                w,
                ry,
                rx,
                by: boundaries.y,
                col_src,
                sx,
                ph_len,
                rowlen,
                taps: taps_kind,
                pairs,
                rows_per_task,
            },
            scratch: vec![scratch; tasks],
        }
    }

    /// `"dense"` or `"separable"`.
    pub(crate) fn variant(&self) -> &'static str {
        match self.cfg.taps {
            Taps::Dense(_) => "dense",
            Taps::Separable { .. } => "separable",
        }
    }

    /// Number of parallel tasks.
    pub(crate) fn tasks(&self) -> usize {
        self.scratch.len()
    }

    /// Runs the plan; see [`crate::ConvPlan::apply_with`].
    pub(crate) fn apply_with<F>(
        &mut self,
        input: ArrayView2<'_, T>,
        mut output: ArrayViewMut2<'_, T>,
        epilogue: &F,
    ) where
        F: Fn(usize, &[T], &mut [T]) + Sync,
    {
        let cfg = &self.cfg;
        let rpt = cfg.rows_per_task;
        if rayon::current_num_threads() == 1 {
            // One worker: no fork-join bookkeeping, same chunks in the same order.
            for (t, (chunk, s)) in output
                .axis_chunks_iter_mut(Axis(0), rpt)
                .zip(self.scratch.iter_mut())
                .enumerate()
            {
                run_task(cfg, &input, t * rpt, chunk, s, epilogue);
            }
            return;
        }
        output
            .axis_chunks_iter_mut(Axis(0), rpt)
            .into_par_iter()
            .zip(self.scratch.par_iter_mut())
            .enumerate()
            .for_each(|(t, (chunk, s))| {
                run_task(cfg, &input, t * rpt, chunk, s, epilogue);
            });
    }
}

fn run_task<T: Element, F: Fn(usize, &[T], &mut [T]) + Sync>(
    cfg: &Cfg<T>,
    input: &ArrayView2<'_, T>,
    oy0: usize,
    chunk: ArrayViewMut2<'_, T>,
    s: &mut Scratch<T>,
    epi: &F,
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn fast<T: Element, F: Fn(usize, &[T], &mut [T]) + Sync>(
            cfg: &Cfg<T>,
            input: &ArrayView2<'_, T>,
            oy0: usize,
            chunk: ArrayViewMut2<'_, T>,
            s: &mut Scratch<T>,
            epi: &F,
        ) {
            match block_len::<T>(Isa::Avx2Fma) {
                64 => task_body::<T, F, 64, true>(cfg, input, oy0, chunk, s, epi),
                32 => task_body::<T, F, 32, true>(cfg, input, oy0, chunk, s, epi),
                _ => task_body::<T, F, 16, true>(cfg, input, oy0, chunk, s, epi),
            }
        }
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn wide<T: Element, F: Fn(usize, &[T], &mut [T]) + Sync>(
            cfg: &Cfg<T>,
            input: &ArrayView2<'_, T>,
            oy0: usize,
            chunk: ArrayViewMut2<'_, T>,
            s: &mut Scratch<T>,
            epi: &F,
        ) {
            match block_len::<T>(Isa::Avx512) {
                128 => task_body::<T, F, 128, true>(cfg, input, oy0, chunk, s, epi),
                64 => task_body::<T, F, 64, true>(cfg, input, oy0, chunk, s, epi),
                _ => task_body::<T, F, 32, true>(cfg, input, oy0, chunk, s, epi),
            }
        }
        if cfg.isa == Isa::Avx512 {
            // SAFETY: `Avx512` is recorded only after run-time detection of AVX-512F, AVX2, FMA.
            unsafe { wide(cfg, input, oy0, chunk, s, epi) };
            return;
        }
        if cfg.isa == Isa::Avx2Fma {
            // SAFETY: `Avx2Fma` is recorded only after run-time detection of AVX2 and FMA.
            unsafe { fast(cfg, input, oy0, chunk, s, epi) };
            return;
        }
    }
    match block_len::<T>(Isa::Avx2Fma) {
        64 => task_body::<T, F, 64, false>(cfg, input, oy0, chunk, s, epi),
        32 => task_body::<T, F, 32, false>(cfg, input, oy0, chunk, s, epi),
        _ => task_body::<T, F, 16, false>(cfg, input, oy0, chunk, s, epi),
    }
}

/// Builds extended row `pr` (padded coordinates) into `dst` (phase layout).
#[inline(always)]
fn fill_row<T: Element>(cfg: &Cfg<T>, input: &ArrayView2<'_, T>, pr: usize, dst: &mut [T]) {
    let (lo, w, sx, ph) = (cfg.rx.lo, cfg.w, cfg.sx, cfg.ph_len);
    let wpad = cfg.col_src.len();
    let pos = |c: usize| (c % sx) * ph + c / sx;
    let (i, neg) = match cfg.by.source(pr as isize - cfg.ry.lo as isize, cfg.h) {
        Source::Constant(v) => {
            let v = T::from_f64(v);
            for c in 0..wpad {
                dst[pos(c)] = v;
            }
            return;
        }
        Source::Index(i) => (i, false),
        Source::Negated(i) => (i, true),
    };
    let src = input.row(i);
    let sgn = |v: T| if neg { -v } else { v };
    match (sx, src.as_slice()) {
        (1, Some(sl)) if !neg => dst[lo..lo + w].copy_from_slice(sl),
        (1, Some(sl)) => {
            for (d, v) in dst[lo..lo + w].iter_mut().zip(sl) {
                *d = -*v;
            }
        }
        _ => {
            for (j, v) in src.iter().enumerate() {
                dst[pos(lo + j)] = sgn(*v);
            }
        }
    }
    for c in (0..lo).chain(lo + w..wpad) {
        dst[pos(c)] = match cfg.col_src[c] {
            Source::Index(j) => sgn(src[j]),
            Source::Negated(j) => -sgn(src[j]),
            Source::Constant(v) => T::from_f64(v),
        };
    }
}

/// Output columns `[ox_a, ox_b)` whose taps all fall inside the row: `lo <= ox + off < lo + w`
/// for every offset.
fn interior_cols<T>(cfg: &Cfg<T>) -> (usize, usize) {
    let rx = cfg.rx;
    let ox_a = rx.lo.min(rx.out);
    let max_off = (rx.k - 1) * rx.dilation;
    let ox_b = (rx.lo + cfg.w).saturating_sub(max_off).clamp(ox_a, rx.out);
    (ox_a, ox_b)
}

/// Starts of the `v`-wide register blocks over `[a, b)` (`b - a >= v`): the last block ends at
/// `b`, overlapping its predecessor instead of leaving a scalar tail (a latency-bound FMA chain
/// per output, which took a third of the time at width 2048). Recomputed outputs get the same
/// operations in the same order, so they are bitwise unchanged.
fn block_starts(a: usize, b: usize, v: usize) -> impl Iterator<Item = usize> {
    (a..b - v).step_by(v).chain(std::iter::once(b - v))
}

/// Dense row straight from the input rows (standard layout, column stride 1), without building
/// extended rows: the interior columns read `flat` directly, the few border columns go through
/// the column maps one sample at a time. Every output sees the same operations in the same order
/// as through the ring (`0`, then `madd` tap by tap), so the two paths agree bitwise. Returns
/// `false`, computing nothing, if a row the taps read is not a plain input row (a `Constant` or
/// `Negated` row source): the ring handles those.
#[inline(always)]
fn direct_row<T: Element, const V: usize, const FMA: bool>(
    cfg: &Cfg<T>,
    taps: &[(usize, usize, T)],
    flat: &[T],
    top: usize,
    s: &mut Scratch<T>,
) -> bool {
    let (ry, rx, w) = (cfg.ry, cfg.rx, cfg.w);
    let lo = rx.lo;
    let (ox_a, ox_b) = interior_cols(cfg);
    if ox_b < ox_a + V {
        return false; // hardly any interior: not worth a second path
    }
    for (t, &(ky, off, wt)) in taps.iter().enumerate() {
        let pr = top + ky * ry.dilation;
        match cfg.by.source(pr as isize - ry.lo as isize, cfg.h) {
            Source::Index(i) => s.bases[t] = i * w + off,
            _ => return false,
        }
        s.weights[t] = wt;
    }
    // The next output row's newest input row, fetched during this one (see `prefetch_l2`).
    let ahead = plain_row(cfg, top + ry.stride + (ry.k - 1) * ry.dilation);
    let n = taps.len();
    let (bases, weights) = (&s.bases[..n], &s.weights[..n]);
    let acc = &mut s.acc[..rx.out];
    border_outputs::<T, FMA>(cfg, flat, taps, bases, acc, 0..ox_a);
    for ox0 in block_starts(ox_a, ox_b, V) {
        prefetch_block(flat, ahead, w, ox0, V);
        let mut a = [T::zero(); V];
        for (&b, &wt) in bases.iter().zip(weights) {
            let p = b + ox0 - lo;
            let xs: &[T; V] = flat[p..p + V].try_into().unwrap();
            for l in 0..V {
                a[l] = madd::<T, FMA>(xs[l], wt, a[l]);
            }
        }
        acc[ox0..ox0 + V].copy_from_slice(&a);
    }
    border_outputs::<T, FMA>(cfg, flat, taps, bases, acc, ox_b..rx.out);
    true
}

/// Start (`i * w`) in the flat input of padded row `pr`, if it lies inside the data (rows in the
/// padding are read from cached rows, and a `Halo` side has none to map).
#[inline(always)]
fn plain_row<T>(cfg: &Cfg<T>, pr: usize) -> Option<usize> {
    let i = pr.checked_sub(cfg.ry.lo)?;
    (i < cfg.h).then_some(i * cfg.w)
}

/// Prefetches columns `[ox0, ox0 + v)` of the input row starting at `row` (cut at the row's
/// end): about one register block's worth of a later pass's input.
#[inline(always)]
fn prefetch_block<T>(flat: &[T], row: Option<usize>, w: usize, ox0: usize, v: usize) {
    if let Some(start) = row {
        let c0 = ox0.min(w);
        crate::simd::prefetch_l2(&flat[start + c0..start + (c0 + v).min(w)]);
    }
}

/// Output rows `top` and `top + 1` (row stride and dilation 1) like two calls of
/// [`direct_row`], into `s.acc` and `s.acc2`, walking the [`Pair`]s: each input vector loaded
/// feeds both rows' accumulators, halving the loads per multiply-add of a load-bound kernel.
/// Each output still sees `0`, then its non-zero taps in the order of `taps`, so the result is
/// bitwise that of [`direct_row`]. Returns `false`, computing nothing, if a row it reads is not
/// a plain input row, or the interior is narrower than a block.
#[inline(always)]
fn direct_row_pair<T: Element, const V: usize, const FMA: bool>(
    cfg: &Cfg<T>,
    taps: &[(usize, usize, T)],
    flat: &[T],
    top: usize,
    s: &mut Scratch<T>,
) -> bool {
    let (ry, rx, w) = (cfg.ry, cfg.rx, cfg.w);
    let lo = rx.lo;
    let (ox_a, ox_b) = interior_cols(cfg);
    if ox_b < ox_a + V {
        return false;
    }
    for d in 0..=ry.k {
        match cfg.by.source((top + d) as isize - ry.lo as isize, cfg.h) {
            Source::Index(i) => s.rowbase[d] = i * w,
            _ => return false,
        }
    }
    for (t, &(ky, off, _)) in taps.iter().enumerate() {
        s.bases[t] = s.rowbase[ky] + off;
        s.bases2[t] = s.rowbase[ky + 1] + off;
    }
    let pairs = &cfg.pairs;
    for (b, p) in s.pbases.iter_mut().zip(pairs) {
        *b = s.rowbase[p.d] + p.off;
    }
    // The two input rows the next pair reads and this one does not (see `prefetch_l2`).
    let ahead = [
        plain_row(cfg, top + ry.k + 1),
        plain_row(cfg, top + ry.k + 2),
    ];
    let n = taps.len();
    let (bases, bases2) = (&s.bases[..n], &s.bases2[..n]);
    let (acc0, acc1) = (&mut s.acc[..rx.out], &mut s.acc2[..rx.out]);
    border_outputs::<T, FMA>(cfg, flat, taps, bases, acc0, 0..ox_a);
    border_outputs::<T, FMA>(cfg, flat, taps, bases2, acc1, 0..ox_a);
    for ox0 in block_starts(ox_a, ox_b, V) {
        for row in ahead {
            prefetch_block(flat, row, w, ox0, V);
        }
        let mut a0 = [T::zero(); V];
        let mut a1 = [T::zero(); V];
        for (&b, p) in s.pbases.iter().zip(pairs) {
            let at = b + ox0 - lo;
            let xs: &[T; V] = flat[at..at + V].try_into().unwrap();
            let [w0, w1] = p.w;
            match p.uses {
                3 => {
                    for l in 0..V {
                        a0[l] = madd::<T, FMA>(xs[l], w0, a0[l]);
                        a1[l] = madd::<T, FMA>(xs[l], w1, a1[l]);
                    }
                }
                1 => {
                    for l in 0..V {
                        a0[l] = madd::<T, FMA>(xs[l], w0, a0[l]);
                    }
                }
                _ => {
                    for l in 0..V {
                        a1[l] = madd::<T, FMA>(xs[l], w1, a1[l]);
                    }
                }
            }
        }
        acc0[ox0..ox0 + V].copy_from_slice(&a0);
        acc1[ox0..ox0 + V].copy_from_slice(&a1);
    }
    border_outputs::<T, FMA>(cfg, flat, taps, bases, acc0, ox_b..rx.out);
    border_outputs::<T, FMA>(cfg, flat, taps, bases2, acc1, ox_b..rx.out);
    true
}

/// The output columns `acc[k]` for `k` in `cols` of [`direct_row`], whose taps reach into the
/// `x` padding: each sample goes through the column map. Taps run in the outer loop so the
/// outputs are independent FMA chains (one chain per output would be latency-bound); each output
/// still sees its taps in order. `bases[t] = i * w + off` is the input row start plus the offset.
#[inline(always)]
fn border_outputs<T: Element, const FMA: bool>(
    cfg: &Cfg<T>,
    flat: &[T],
    taps: &[(usize, usize, T)],
    bases: &[usize],
    acc: &mut [T],
    cols: std::ops::Range<usize>,
) {
    let acc = &mut acc[cols.clone()];
    acc.fill(T::zero());
    for (&b, &(_, off, wt)) in bases.iter().zip(taps) {
        let row0 = b - off;
        for (a, ox) in acc.iter_mut().zip(cols.clone()) {
            let x = match cfg.col_src[off + ox] {
                Source::Index(j) => flat[row0 + j],
                Source::Negated(j) => -flat[row0 + j],
                Source::Constant(v) => T::from_f64(v),
            };
            *a = madd::<T, FMA>(x, wt, *a);
        }
    }
}

/// `acc[ox] = sum_t weights[t] * buf[bases[t] + ox]` for `ox < wv`, in register blocks of `V`.
#[inline(always)]
fn taps_row<T: Element, const V: usize, const FMA: bool>(
    buf: &[T],
    bases: &[usize],
    weights: &[T],
    acc: &mut [T],
) {
    let wv = acc.len();
    for ox0 in (0..wv).step_by(V) {
        let mut a = [T::zero(); V];
        for (&b, &wt) in bases.iter().zip(weights) {
            let xs: &[T; V] = buf[b + ox0..b + ox0 + V].try_into().unwrap();
            for l in 0..V {
                a[l] = madd::<T, FMA>(xs[l], wt, a[l]);
            }
        }
        acc[ox0..ox0 + V].copy_from_slice(&a);
    }
}

/// Hands the finished row to the epilogue (through a staging row if the output row is strided).
#[inline(always)]
fn emit<T: Element, F: Fn(usize, &[T], &mut [T])>(
    epi: &F,
    oy: usize,
    conv: &[T],
    mut out_row: ndarray::ArrayViewMut1<'_, T>,
    staging: &mut [T],
) {
    if let Some(dst) = out_row.as_slice_mut() {
        epi(oy, conv, dst);
    } else {
        for (t, o) in staging.iter_mut().zip(out_row.iter()) {
            *t = *o;
        }
        epi(oy, conv, staging);
        for (o, t) in out_row.iter_mut().zip(staging.iter()) {
            *o = *t;
        }
    }
}

#[inline(always)]
fn task_body<T: Element, F: Fn(usize, &[T], &mut [T]), const V: usize, const FMA: bool>(
    cfg: &Cfg<T>,
    input: &ArrayView2<'_, T>,
    oy0: usize,
    mut chunk: ArrayViewMut2<'_, T>,
    s: &mut Scratch<T>,
    epi: &F,
) {
    let (ry, rx) = (cfg.ry, cfg.rx);
    let wo = rx.out;
    match &cfg.taps {
        Taps::Dense(taps) => {
            let keff = ry.k_eff;
            let rowlen = cfg.rowlen;
            let mut next = 0;
            let flat = input.as_slice().filter(|_| cfg.sx == 1);
            let nrows = chunk.nrows();
            let mut r = 0;
            while r < nrows {
                let oy = oy0 + r;
                let top = oy * ry.stride;
                if let Some(flat) = flat {
                    if r + 1 < nrows
                        && !cfg.pairs.is_empty()
                        && direct_row_pair::<T, V, FMA>(cfg, taps, flat, top, s)
                    {
                        // The ring holds stale rows now: refill it if a later row needs it.
                        next = 0;
                        emit(epi, oy, &s.acc[..wo], chunk.row_mut(r), &mut s.strided);
                        emit(
                            epi,
                            oy + 1,
                            &s.acc2[..wo],
                            chunk.row_mut(r + 1),
                            &mut s.strided,
                        );
                        r += 2;
                        continue;
                    }
                    if direct_row::<T, V, FMA>(cfg, taps, flat, top, s) {
                        next = 0;
                        emit(epi, oy, &s.acc[..wo], chunk.row_mut(r), &mut s.strided);
                        r += 1;
                        continue;
                    }
                }
                // Each extended row is built once per task, into slot `row % k_eff`.
                for pr in next.max(top)..top + keff {
                    let slot = pr % keff;
                    fill_row(
                        cfg,
                        input,
                        pr,
                        &mut s.buf[slot * rowlen..(slot + 1) * rowlen],
                    );
                }
                next = top + keff;
                for (t, &(ky, off, wt)) in taps.iter().enumerate() {
                    s.bases[t] = ((top + ky * ry.dilation) % keff) * rowlen + off;
                    s.weights[t] = wt;
                }
                let n = taps.len();
                taps_row::<T, V, FMA>(&s.buf, &s.bases[..n], &s.weights[..n], &mut s.acc);
                emit(epi, oy, &s.acc[..wo], chunk.row_mut(r), &mut s.strided);
                r += 1;
            }
        }
        Taps::Separable { col, row } => {
            let nrows = chunk.nrows();
            let rowlen = cfg.rowlen;
            let (lo, w) = (rx.lo, cfg.w);
            let wpad = cfg.col_src.len();
            let flat = input.as_slice();
            let kh = col.len();
            for b0 in (0..nrows).step_by(SEP_BLOCK) {
                let nb = SEP_BLOCK.min(nrows - b0);
                // The rows each output row of the block reads, resolved once.
                let mut counts = [0usize; SEP_BLOCK];
                let mut cparts = [T::zero(); SEP_BLOCK];
                for b in 0..nb {
                    let oy = oy0 + b0 + b;
                    for (ky, &cw) in col.iter().enumerate() {
                        let (i, c) = match row_source(cfg, oy, ky) {
                            Source::Index(i) => (i, cw),
                            Source::Negated(i) => (i, -cw),
                            Source::Constant(v) => {
                                cparts[b] += cw * T::from_f64(v);
                                continue;
                            }
                        };
                        if c != T::zero() {
                            s.vstart[b * kh + counts[b]] = i;
                            s.vcoef[b * kh + counts[b]] = c;
                            counts[b] += 1;
                        }
                    }
                }
                // A block whose rows all read consecutive plain input rows (away from the top
                // and bottom borders) loads each input vector once for 4 rows.
                let first = s.vstart[0];
                let consecutive = flat.is_some()
                    && nb.is_multiple_of(4)
                    && kh >= 3
                    && (0..nb).all(|b| {
                        counts[b] == kh
                            && (0..kh).all(|ky| {
                                s.vstart[b * kh + ky] == first + b + ky
                                    && s.vcoef[b * kh + ky] == col[ky]
                            })
                    });
                // Column pass, strip by strip, into the interior of each extended row.
                for c0 in (0..w).step_by(SEP_STRIP) {
                    let c1 = (c0 + SEP_STRIP).min(w);
                    if consecutive && c1 - c0 >= 16 {
                        let flat = flat.expect("checked above");
                        for q in (0..nb).step_by(4) {
                            column_pass_quad::<T, FMA>(
                                flat,
                                (w, first + q, c0, c1),
                                col,
                                &cparts[q..q + 4],
                                (&mut s.buf[q * rowlen..], rowlen, lo),
                            );
                        }
                        continue;
                    }
                    for b in 0..nb {
                        let dst = &mut s.buf[b * rowlen + lo + c0..b * rowlen + lo + c1];
                        if let Some(flat) = flat {
                            let rows = b * kh..b * kh + counts[b];
                            column_pass_flat::<T, V, FMA>(
                                flat,
                                w,
                                &s.vstart[rows.clone()],
                                &s.vcoef[rows],
                                cparts[b],
                                c0,
                                dst,
                            );
                        } else {
                            let rows = b * kh..b * kh + counts[b];
                            column_pass_rows::<T, FMA>(
                                input,
                                &s.vstart[rows.clone()],
                                &s.vcoef[rows],
                                cparts[b],
                                c0,
                                dst,
                            );
                        }
                    }
                }
                for (b, out_row) in chunk
                    .slice_mut(ndarray::s![b0..b0 + nb, ..])
                    .outer_iter_mut()
                    .enumerate()
                {
                    let oy = oy0 + b0 + b;
                    let ext = &mut s.buf[b * rowlen..(b + 1) * rowlen];
                    fill_margins(cfg, col, oy, ext, lo, w, wpad);
                    for (t, &(off, wt)) in row.iter().enumerate() {
                        s.bases[t] = b * rowlen + off;
                        s.weights[t] = wt;
                    }
                    let n = row.len();
                    taps_row::<T, V, FMA>(&s.buf, &s.bases[..n], &s.weights[..n], &mut s.acc);
                    emit(epi, oy, &s.acc[..wo], out_row, &mut s.strided);
                }
            }
        }
    }
}

/// Sources of the rows the column filter of output row `oy` reads: `(ky, source)`.
#[inline(always)]
fn row_source<T: Element>(cfg: &Cfg<T>, oy: usize, ky: usize) -> Source {
    let pr = oy * cfg.ry.stride + ky * cfg.ry.dilation;
    cfg.by.source(pr as isize - cfg.ry.lo as isize, cfg.h)
}

/// Column pass over a standard-layout input of width `w`: `dst[j] = (sum_t coef[t] *
/// flat[rows[t] * w + c0 + j]) + cpart`, in register blocks of `V` columns. The accumulators
/// start at zero and `cpart` comes last: with a run-time starting value LLVM kept the block's
/// accumulators on the stack (a load and a store per FMA, 15-20% slower on sep31-f32).
#[inline(always)]
fn column_pass_flat<T: Element, const V: usize, const FMA: bool>(
    flat: &[T],
    w: usize,
    rows: &[usize],
    coef: &[T],
    cpart: T,
    c0: usize,
    dst: &mut [T],
) {
    let n = dst.len();
    if n < V {
        for (j, d) in dst.iter_mut().enumerate() {
            let mut a = T::zero();
            for (&i, &c) in rows.iter().zip(coef) {
                a = madd::<T, FMA>(flat[i * w + c0 + j], c, a);
            }
            *d = a + cpart;
        }
        return;
    }
    for j0 in block_starts(0, n, V) {
        let mut a = [T::zero(); V];
        for (&i, &c) in rows.iter().zip(coef) {
            let p = i * w + c0 + j0;
            let xs: &[T; V] = flat[p..p + V].try_into().unwrap();
            for l in 0..V {
                a[l] = madd::<T, FMA>(xs[l], c, a[l]);
            }
        }
        for v in &mut a {
            *v += cpart;
        }
        dst[j0..j0 + V].copy_from_slice(&a);
    }
}

/// [`column_pass_flat`] for 4 consecutive output rows at once, output row `b` reading input
/// rows `first + b + ky` with the plain coefficients `coef[ky]`: the input vectors every row
/// reads are loaded once for the four (`kh + 3` loads for 4 rows instead of `4 kh`).
/// Columns `[c0, c1)` go to `buf[b * rowlen + lo + c0 ..]`, 16 at a time. Every output sees
/// the operations of [`column_pass_flat`] in its order (zero, `madd` in `ky` order,
/// `+ cpart`), so the two agree bitwise.
#[inline(always)]
fn column_pass_quad<T: Element, const FMA: bool>(
    flat: &[T],
    (w, first, c0, c1): (usize, usize, usize, usize),
    coef: &[T],
    cparts: &[T],
    (buf, rowlen, lo): (&mut [T], usize, usize),
) {
    const L: usize = 16;
    let kh = coef.len();
    for j0 in block_starts(c0, c1, L) {
        let ld = |r: usize| -> [T; L] {
            let p = (first + r) * w + j0;
            flat[p..p + L].try_into().unwrap()
        };
        let (mut a0, mut a1, mut a2, mut a3) = (
            [T::zero(); L],
            [T::zero(); L],
            [T::zero(); L],
            [T::zero(); L],
        );
        let fma = |a: &mut [T; L], x: &[T; L], c: T| {
            for l in 0..L {
                a[l] = madd::<T, FMA>(x[l], c, a[l]);
            }
        };
        // Ramp in: rows 0..3 of the input reach the first rows only.
        let x = ld(0);
        fma(&mut a0, &x, coef[0]);
        let x = ld(1);
        fma(&mut a0, &x, coef[1]);
        fma(&mut a1, &x, coef[0]);
        let x = ld(2);
        fma(&mut a0, &x, coef[2]);
        fma(&mut a1, &x, coef[1]);
        fma(&mut a2, &x, coef[0]);
        for r in 3..kh {
            let x = ld(r);
            fma(&mut a0, &x, coef[r]);
            fma(&mut a1, &x, coef[r - 1]);
            fma(&mut a2, &x, coef[r - 2]);
            fma(&mut a3, &x, coef[r - 3]);
        }
        // Ramp out: the last rows reach the last outputs only.
        let x = ld(kh);
        fma(&mut a1, &x, coef[kh - 1]);
        fma(&mut a2, &x, coef[kh - 2]);
        fma(&mut a3, &x, coef[kh - 3]);
        let x = ld(kh + 1);
        fma(&mut a2, &x, coef[kh - 1]);
        fma(&mut a3, &x, coef[kh - 2]);
        let x = ld(kh + 2);
        fma(&mut a3, &x, coef[kh - 1]);
        for (b, a) in [a0, a1, a2, a3].iter().enumerate() {
            let at = b * rowlen + lo + j0;
            for (d, &v) in buf[at..at + L].iter_mut().zip(a) {
                *d = v + cparts[b];
            }
        }
    }
}

/// Column pass for inputs that are not in standard layout (a window of a larger array, a
/// transposed view): tap by tap over whole rows, so every `dst[j]` sees exactly the operations
/// of [`column_pass_flat`] in the same order (a halo tile equals the whole domain bitwise).
#[inline(always)]
fn column_pass_rows<T: Element, const FMA: bool>(
    input: &ArrayView2<'_, T>,
    rows: &[usize],
    coef: &[T],
    cpart: T,
    c0: usize,
    dst: &mut [T],
) {
    dst.fill(T::zero());
    let n = dst.len();
    for (&i, &c) in rows.iter().zip(coef) {
        let src = input.slice(ndarray::s![i, c0..c0 + n]);
        if let Some(sl) = src.as_slice() {
            for (d, &x) in dst.iter_mut().zip(sl) {
                *d = madd::<T, FMA>(x, c, *d);
            }
        } else {
            for (d, &x) in dst.iter_mut().zip(src.iter()) {
                *d = madd::<T, FMA>(x, c, *d);
            }
        }
    }
    for d in dst {
        *d += cpart;
    }
}

/// Fills the `x` margins of a column-filtered extended row from its interior. Rows that were a
/// `Constant` in `y` contribute `cpart` everywhere, so only the rest is mirrored or negated.
#[inline(always)]
fn fill_margins<T: Element>(
    cfg: &Cfg<T>,
    col: &[T],
    oy: usize,
    ext: &mut [T],
    lo: usize,
    w: usize,
    wpad: usize,
) {
    if lo == 0 && wpad == lo + w {
        return;
    }
    let mut cpart = T::zero();
    let mut rest = T::zero();
    for (ky, &cw) in col.iter().enumerate() {
        if let Source::Constant(v) = row_source(cfg, oy, ky) {
            cpart += cw * T::from_f64(v);
        } else {
            rest += cw;
        }
    }
    for c in (0..lo).chain(lo + w..wpad) {
        ext[c] = match cfg.col_src[c] {
            Source::Index(j) => ext[lo + j],
            Source::Negated(j) => cpart + cpart - ext[lo + j],
            Source::Constant(v) => cpart + rest * T::from_f64(v),
        };
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        AxisGeometry, Boundaries, Boundary, ConvPlan, Element, Geometry, Kernel, Kernel2, Method,
        Orientation, Padding, SeparableKernel, Sides, reference,
    };
    use ndarray::Array2;
    use num_complex::Complex64;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const MODES: [Boundary; 7] = [
        Boundary::Zero,
        Boundary::Constant(-0.75),
        Boundary::Replicate,
        Boundary::Mirror,
        Boundary::Symmetric,
        Boundary::Periodic,
        Boundary::Antisymmetric,
    ];

    fn rand2<T: Element>(rng: &mut ChaCha8Rng, shape: (usize, usize)) -> Array2<T> {
        Array2::from_shape_fn(shape, |_| {
            let re: f64 = rng.random_range(-1.0..1.0);
            let im: f64 = if T::IS_COMPLEX {
                rng.random_range(-1.0..1.0)
            } else {
                0.0
            };
            T::from_complex(num_complex::Complex::new(
                <T::Real as Element>::from_f64(re),
                <T::Real as Element>::from_f64(im),
            ))
        })
    }

    fn check<T: Element>(
        x: &Array2<T>,
        k: &Kernel<T>,
        b: Boundaries,
        o: Orientation,
        g: Geometry,
        tol: f64,
        expect_variant: Option<&str>,
    ) {
        let Ok(r) = reference::conv2d(x.view(), k, &b, o, &g) else {
            return; // empty output: the plan must refuse too
        };
        let mut plan = ConvPlan::builder([x.nrows(), x.ncols()], k.clone())
            .boundaries(b)
            .orientation(o)
            .geometry(g)
            .method(Method::Direct)
            .build()
            .unwrap();
        if let Some(v) = expect_variant {
            assert_eq!(plan.recipe().variant, v);
        }
        let mut y = Array2::<T>::zeros(plan.output_shape());
        // A transposed (non-contiguous) input and output exercise the strided paths too.
        let xt = x.t().to_owned();
        let mut yt = Array2::<T>::zeros((y.ncols(), y.nrows()));
        plan.apply(x.view(), y.view_mut());
        plan.apply(xt.t(), yt.view_mut().reversed_axes());
        let scale = r.iter().map(|v| v.to_c64().norm()).fold(1.0, f64::max);
        for (out, what) in [(&y, "standard"), (&yt.t().to_owned(), "strided")] {
            let e = out
                .iter()
                .zip(&r)
                .map(|(a, b)| (a.to_c64() - b.to_c64()).norm())
                .fold(0.0, f64::max)
                / scale;
            assert!(
                e < tol,
                "{} {what} {:?} kernel {:?} {b:?} {o:?} {g:?}: error {e} ({})",
                T::NAME,
                x.dim(),
                k.shape(),
                plan.recipe()
            );
        }
    }

    fn sweep<T: Element>(tol: f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let shapes = [(1, 1), (1, 7), (2, 2), (5, 3), (7, 11), (13, 2)];
        let kernels = [(1, 1), (3, 3), (2, 4), (5, 1), (4, 6)];
        let geoms = [
            Geometry::same(),
            Geometry::uniform(Padding::Full),
            Geometry::uniform(Padding::Valid),
            Geometry::same().with_stride(2, 3),
            Geometry::same().with_dilation(2, 3),
            Geometry {
                y: AxisGeometry::new(Padding::Explicit { lo: 9, hi: 1 }),
                x: AxisGeometry::new(Padding::Explicit { lo: 2, hi: 12 }).stride(2),
            },
        ];
        for &shape in &shapes {
            for &ks in &kernels {
                let k: Kernel<T> = Kernel2::new(rand2(&mut rng, ks)).unwrap().into();
                for &m in &MODES {
                    for g in geoms {
                        for o in [Orientation::Correlate, Orientation::Convolve] {
                            check(
                                &rand2::<T>(&mut rng, shape),
                                &k,
                                Boundaries::uniform(m),
                                o,
                                g,
                                tol,
                                None,
                            );
                        }
                    }
                }
            }
        }
        // Mixed sides.
        let b = Boundaries {
            y: Sides {
                lo: Boundary::Constant(2.0),
                hi: Boundary::Antisymmetric,
            },
            x: Sides {
                lo: Boundary::Antisymmetric,
                hi: Boundary::Constant(-1.0),
            },
        };
        let k: Kernel<T> = Kernel2::new(rand2(&mut rng, (3, 5))).unwrap().into();
        check(
            &rand2::<T>(&mut rng, (9, 8)),
            &k,
            b,
            Orientation::Correlate,
            Geometry::same(),
            tol,
            None,
        );
    }

    #[test]
    fn dense_direct_matches_reference_everywhere() {
        // Sums of at most 24 products of O(1) values (FMA or not): a few ulps.
        sweep::<f64>(1e-13);
        sweep::<f32>(1e-5);
        sweep::<Complex64>(1e-13);
    }

    #[test]
    fn separable_matches_reference_every_mode() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mixed = Boundaries {
            y: Sides {
                lo: Boundary::Constant(2.0),
                hi: Boundary::Antisymmetric,
            },
            x: Sides {
                lo: Boundary::Antisymmetric,
                hi: Boundary::Constant(-1.0),
            },
        };
        let mut all: Vec<Boundaries> = MODES.iter().map(|m| Boundaries::uniform(*m)).collect();
        all.push(mixed);
        for b in all {
            for (shape, kl) in [((9, 700), 7), ((3, 5), 9), ((20, 33), 4)] {
                let col: Vec<f64> = (0..kl).map(|_| rng.random_range(-1.0..1.0)).collect();
                let row: Vec<f64> = (0..kl + 2).map(|_| rng.random_range(-1.0..1.0)).collect();
                let k: Kernel<f64> = SeparableKernel::new(col, row).unwrap().into();
                for g in [
                    Geometry::same(),
                    Geometry::same().with_stride(3, 1).with_dilation(2, 2),
                ] {
                    for o in [Orientation::Correlate, Orientation::Convolve] {
                        let x = rand2::<f64>(&mut rng, shape);
                        check(&x, &k, b, o, g, 1e-13, Some("separable"));
                    }
                }
            }
        }
        // A dense rank-one kernel is detected and factorised.
        let g: Vec<f64> = (0..9)
            .map(|i| (-(f64::from(i) - 4.0).powi(2) / 4.0).exp())
            .collect();
        let dense = Kernel2::new(Array2::from_shape_fn((9, 9), |(i, j)| g[i] * g[j])).unwrap();
        let x = rand2::<f64>(&mut rng, (30, 40));
        check(
            &x,
            &dense.into(),
            Boundaries::uniform(Boundary::Mirror),
            Orientation::Correlate,
            Geometry::same(),
            1e-13,
            Some("separable"),
        );
    }

    #[test]
    fn separable_blocks_of_rows_equal_the_row_by_row_pass_bitwise() {
        // A standard-layout input takes the column pass that feeds four output rows per load
        // (`column_pass_quad`) wherever a block reads plain rows; a window of a wider array
        // takes the row-by-row pass (`column_pass_rows`). Same operations in the same order:
        // the same bits, for short and long kernels, widths below and above one strip, and
        // every instruction set.
        fn run<T: Element>(rng: &mut ChaCha8Rng, simd: crate::Simd) {
            // Enough rows for blocks of 8 and of 4 rows per task (up to 4 tasks per thread).
            for (shape, kl) in [
                ((130, 700), 31),
                ((96, 20), 5),
                ((70, 1030), 3),
                ((80, 17), 4),
            ] {
                let col: Vec<T> = (0..kl)
                    .map(|_| T::from_f64(rng.random_range(-1.0..1.0)))
                    .collect();
                let row: Vec<T> = (0..kl)
                    .map(|_| T::from_f64(rng.random_range(-1.0..1.0)))
                    .collect();
                let k: Kernel<T> = SeparableKernel::new(col, row).unwrap().into();
                let mut plan = ConvPlan::builder([shape.0, shape.1], k)
                    .boundaries(Boundaries::uniform(Boundary::Mirror))
                    .method(Method::Direct)
                    .simd(simd)
                    .build()
                    .unwrap();
                assert_eq!(plan.recipe().variant, "separable");
                // The same samples as a window of a wider array (rows not contiguous).
                let wide = rand2::<T>(rng, (shape.0, shape.1 + 3));
                let window = wide.slice(ndarray::s![.., 1..=shape.1]);
                let x = window.to_owned();
                let mut y = Array2::<T>::zeros(plan.output_shape());
                let mut yt = Array2::<T>::zeros(plan.output_shape());
                plan.apply(x.view(), y.view_mut());
                plan.apply(window, yt.view_mut());
                assert!(
                    y.iter().zip(&yt).all(|(a, b)| a.to_c64() == b.to_c64()),
                    "{shape:?} taps {kl} {simd:?}"
                );
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(31);
        for simd in [
            crate::Simd::Best,
            crate::Simd::Avx2Fma,
            crate::Simd::Portable,
        ] {
            run::<f64>(&mut rng, simd);
            run::<f32>(&mut rng, simd);
        }
    }

    #[test]
    fn epilogue_sees_each_row_once_with_old_output() {
        let lap = Kernel2::new(ndarray::array![
            [0.0, 1.0, 0.0],
            [1.0, -4.0, 1.0],
            [0.0, 1.0, 0.0]
        ])
        .unwrap();
        let mut plan = ConvPlan::builder([37, 29], lap.clone())
            .boundaries(Boundaries::uniform(Boundary::Periodic))
            .build()
            .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let u = rand2::<f64>(&mut rng, (37, 29));
        let mut out = u.clone();
        plan.apply_with(u.view(), out.view_mut(), |_, conv, o| {
            for (o, c) in o.iter_mut().zip(conv) {
                *o += 0.1 * c;
            }
        });
        let r = reference::conv2d(
            u.view(),
            &lap.into(),
            &Boundaries::uniform(Boundary::Periodic),
            Orientation::Correlate,
            &Geometry::same(),
        )
        .unwrap();
        let expected = &u + &(r * 0.1);
        let e = (&out - &expected)
            .iter()
            .fold(0.0_f64, |m, v| m.max(v.abs()));
        assert!(e < 1e-14, "fused step error {e}");
    }
}
