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
//!   [`direct_row_quad`] does it for four rows (real elements) in blocks of 6 registers.
//!
//! Inner loops are compiled three times, portable, with AVX2+FMA and with AVX-512F (chosen at
//! plan time, capped by [`crate::Simd`]); every variant gives each output the same operations
//! in the same order, so the FMA variants agree bitwise.

// The inner-loop bodies must be inlined into their `#[target_feature]` wrappers to be compiled
// for AVX2+FMA or AVX-512; `#[inline(always)]` is how that is guaranteed.
#![allow(
    clippy::inline_always,
    reason = "inner-loop bodies must be inlined into their `#[target_feature]` wrappers to be compiled for AVX2+FMA or AVX-512"
)]

use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::boundary::Source;
use crate::simd::Isa;
use crate::{Boundaries, Element, ResolvedAxis, Sides};

mod kernels;
mod packing;
#[cfg(test)]
mod tests;

use kernels::task_body;
use packing::{fill_margins, fill_row, interior_cols, row_source};

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
pub(super) struct Pair<T> {
    d: usize,
    off: usize,
    w: [T; 2],
    uses: u8,
}

/// A dense tap regrouped for four output rows computed together ([`direct_row_quad`]): input
/// row `d` (relative to the first output row's first tap row) at column offset `off`, with the
/// weight of tap row `d - r` for output row `r`; bit `r` of `uses` says whether that is a
/// non-zero tap.
#[derive(Clone, Copy, Debug)]
pub(super) struct Quad<T> {
    d: usize,
    off: usize,
    w: [T; 4],
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
    /// `pairs[r0..r1]` share `uses` for each `(r0, r1, uses)`, in order.
    pair_runs: Vec<(usize, usize, u8)>,
    /// Dense taps for four rows at once (AVX-512, real elements, under the conditions of
    /// `pairs`, kernels of at least two rows): each input vector loaded feeds four rows, and
    /// each weight broadcast feeds a block of 6 registers, so the unaligned loads no longer
    /// bound the multiply-adds. Empty where it is not used.
    quads: Vec<Quad<T>>,
    /// `quads[r0..r1]` share `uses` for each `(r0, r1, uses)`, in order.
    quad_runs: Vec<(usize, usize, u8)>,
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
    /// Four-row path: rows 2 and 3's outputs (`2 * wv`) and tap starts (`2 * ntaps`), and the
    /// start of each [`Quad`]'s run (rows 0 and 1 use `acc`, `acc2`, `bases`, `bases2`).
    acc34: Vec<T>,
    bases34: Vec<usize>,
    qbases: Vec<usize>,
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
        let mut quads = Vec::new();
        let (kh, kw) = taps.dim();
        if !pairs.is_empty() && !T::IS_COMPLEX && kh >= 2 {
            for d in 0..kh + 3 {
                for kx in 0..kw {
                    let mut w = [T::zero(); 4];
                    let mut uses = 0;
                    for (r, wr) in w.iter_mut().enumerate() {
                        if let Some(ky) = d.checked_sub(r).filter(|ky| *ky < kh) {
                            *wr = taps[[ky, kx]];
                            uses |= u8::from(*wr != T::zero()) << r;
                        }
                    }
                    if uses != 0 {
                        quads.push(Quad {
                            d,
                            off: off(kx),
                            w,
                            uses,
                        });
                    }
                }
            }
        }
        let two = !pairs.is_empty();
        let four = !quads.is_empty();
        let pair_runs = runs(pairs.iter().map(|p| p.uses));
        let quad_runs = runs(quads.iter().map(|q| q.uses));
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
            rowbase: vec![0; if two { ry.k + 3 } else { 0 }],
            pbases: vec![0; pairs.len()],
            acc34: vec![T::zero(); if four { 2 * wv } else { 0 }],
            bases34: vec![0; if four { 2 * ntaps } else { 0 }],
            qbases: vec![0; quads.len()],
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
                pair_runs,
                quads,
                quad_runs,
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

/// Runs `(start, end, uses)` of equal consecutive `uses` masks.
fn runs(uses: impl Iterator<Item = u8>) -> Vec<(usize, usize, u8)> {
    let mut out: Vec<(usize, usize, u8)> = Vec::new();
    for (i, u) in uses.enumerate() {
        match out.last_mut() {
            Some(run) if run.2 == u => run.1 = i + 1,
            _ => out.push((i, i + 1, u)),
        }
    }
    out
}

/// `task_body` with the register block of `block_len::<T>(isa)` (the literal lengths it can
/// take, the last as the default): a `const` per arm, so each wrapper compiles only its own.
macro_rules! task_at {
    ($isa:expr, $fma:literal, [$($v:literal),+], $last:literal, $args:tt) => {
        match block_len::<T>($isa) {
            $($v => task_body::<T, F, $v, $fma> $args,)+
            _ => task_body::<T, F, $last, $fma> $args,
        }
    };
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
            task_at! { Isa::Avx2Fma, true, [64, 32], 16, (cfg, input, oy0, chunk, s, epi) }
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
            task_at! { Isa::Avx512, true, [128, 64], 32, (cfg, input, oy0, chunk, s, epi) }
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
    task_at! { Isa::Avx2Fma, false, [64, 32], 16, (cfg, input, oy0, chunk, s, epi) }
}
