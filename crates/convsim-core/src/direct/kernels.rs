//! The kernels behind [`Direct`](super::Direct): dense rows in register blocks (single and
//! paired), border outputs, the task body, and the separable column passes.

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::Element;
use crate::boundary::Source;
use crate::simd::madd;

use super::{
    Cfg, Pair, Quad, SEP_BLOCK, SEP_STRIP, Scratch, Taps, fill_margins, fill_row, interior_cols,
    row_source,
};

/// Starts of the `v`-wide register blocks over `[a, b)` (`b - a >= v`): the last block ends at
/// `b`, overlapping its predecessor instead of leaving a scalar tail (a latency-bound FMA chain
/// per output, which took a third of the time at width 2048). Recomputed outputs get the same
/// operations in the same order, so they are bitwise unchanged.
pub(super) fn block_starts(a: usize, b: usize, v: usize) -> impl Iterator<Item = usize> {
    (a..b - v).step_by(v).chain(std::iter::once(b - v))
}

/// The interior columns [`interior_cols`], if they hold at least one `v`-wide register block
/// (hardly any interior is not worth the paths that read the input rows directly).
#[inline(always)]
fn interior_blocks<T>(cfg: &Cfg<T>, v: usize) -> Option<(usize, usize)> {
    let (ox_a, ox_b) = interior_cols(cfg);
    (ox_b >= ox_a + v).then_some((ox_a, ox_b))
}

/// Dense row straight from the input rows (standard layout, column stride 1), without building
/// extended rows: the interior columns read `flat` directly, the few border columns go through
/// the column maps one sample at a time. Every output sees the same operations in the same order
/// as through the ring (`0`, then `madd` tap by tap), so the two paths agree bitwise. Returns
/// `false`, computing nothing, if a row the taps read is not a plain input row (a `Constant` or
/// `Negated` row source): the ring handles those.
#[inline(always)]
pub(super) fn direct_row<T: Element, const V: usize, const FMA: bool>(
    cfg: &Cfg<T>,
    taps: &[(usize, usize, T)],
    flat: &[T],
    top: usize,
    s: &mut Scratch<T>,
) -> bool {
    let (ry, rx, w, lo) = (cfg.ry, cfg.rx, cfg.w, cfg.rx.lo);
    let Some((ox_a, ox_b)) = interior_blocks(cfg, V) else {
        return false;
    };
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
pub(super) fn plain_row<T>(cfg: &Cfg<T>, pr: usize) -> Option<usize> {
    let i = pr.checked_sub(cfg.ry.lo)?;
    (i < cfg.h).then_some(i * cfg.w)
}

/// Prefetches columns `[ox0, ox0 + v)` of the input row starting at `row` (cut at the row's
/// end): about one register block's worth of a later pass's input.
#[inline(always)]
pub(super) fn prefetch_block<T>(flat: &[T], row: Option<usize>, w: usize, ox0: usize, v: usize) {
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
pub(super) fn direct_row_pair<T: Element, const V: usize, const FMA: bool>(
    cfg: &Cfg<T>,
    taps: &[(usize, usize, T)],
    flat: &[T],
    top: usize,
    s: &mut Scratch<T>,
) -> bool {
    let (ry, rx, w, lo) = (cfg.ry, cfg.rx, cfg.w, cfg.rx.lo);
    let Some((ox_a, ox_b)) = interior_blocks(cfg, V) else {
        return false;
    };
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
        for &(r0, r1, uses) in &cfg.pair_runs {
            let (bs, ps) = (&s.pbases[r0..r1], &pairs[r0..r1]);
            let at = ox0 - lo;
            match uses {
                3 => pair_run::<T, V, FMA, true, true>(flat, bs, ps, at, &mut a0, &mut a1),
                1 => pair_run::<T, V, FMA, true, false>(flat, bs, ps, at, &mut a0, &mut a1),
                _ => pair_run::<T, V, FMA, false, true>(flat, bs, ps, at, &mut a0, &mut a1),
            }
        }
        acc0[ox0..ox0 + V].copy_from_slice(&a0);
        acc1[ox0..ox0 + V].copy_from_slice(&a1);
    }
    border_outputs::<T, FMA>(cfg, flat, taps, bases, acc0, ox_b..rx.out);
    border_outputs::<T, FMA>(cfg, flat, taps, bases2, acc1, ox_b..rx.out);
    true
}

/// One run of [`Pair`]s of [`direct_row_pair`] that feed the upper row (`UP`), the lower row
/// (`DOWN`) or both: a loop without a branch per pair, whose weights load straight into the
/// multiply-adds (a broadcast from memory, not a shuffle on the port the multiply-adds need;
/// dense9 f32 with AVX-512, one thread: 0.0111 s -> 0.0097 s).
#[inline(always)]
fn pair_run<T: Element, const V: usize, const FMA: bool, const UP: bool, const DOWN: bool>(
    flat: &[T],
    bases: &[usize],
    pairs: &[Pair<T>],
    at: usize,
    a0: &mut [T; V],
    a1: &mut [T; V],
) {
    for (&b, p) in bases.iter().zip(pairs) {
        let xs: &[T; V] = flat[b + at..b + at + V].try_into().unwrap();
        for l in 0..V {
            if UP {
                a0[l] = madd::<T, FMA>(xs[l], p.w[0], a0[l]);
            }
            if DOWN {
                a1[l] = madd::<T, FMA>(xs[l], p.w[1], a1[l]);
            }
        }
    }
}

/// Output rows `top .. top + 4` (row stride and dilation 1) like four calls of [`direct_row`],
/// into `s.acc`, `s.acc2` and the two halves of `s.acc34`, walking the [`Quad`]s: each input
/// vector loaded feeds up to four rows' accumulators. `Q` columns per block: 4 rows of 6
/// registers (24 accumulators of the 32 AVX-512 registers, the rest for the input vector and
/// the broadcast weights), so one weight broadcast serves 6 multiply-adds and one load 4.
/// Each output still sees `0`, then its non-zero taps in the order of `taps`: bitwise the
/// result of [`direct_row`]. Returns `false`, computing nothing, where [`direct_row_pair`]
/// would.
#[inline(always)]
pub(super) fn direct_row_quad<T: Element, const Q: usize, const FMA: bool>(
    cfg: &Cfg<T>,
    taps: &[(usize, usize, T)],
    flat: &[T],
    top: usize,
    s: &mut Scratch<T>,
) -> bool {
    let (ry, rx, w, lo) = (cfg.ry, cfg.rx, cfg.w, cfg.rx.lo);
    let Some((ox_a, ox_b)) = interior_blocks(cfg, Q) else {
        return false;
    };
    for d in 0..ry.k + 3 {
        match cfg.by.source((top + d) as isize - ry.lo as isize, cfg.h) {
            Source::Index(i) => s.rowbase[d] = i * w,
            _ => return false,
        }
    }
    let n = taps.len();
    for (t, &(ky, off, _)) in taps.iter().enumerate() {
        s.bases[t] = s.rowbase[ky] + off;
        s.bases2[t] = s.rowbase[ky + 1] + off;
        s.bases34[t] = s.rowbase[ky + 2] + off;
        s.bases34[n + t] = s.rowbase[ky + 3] + off;
    }
    let quads = &cfg.quads;
    for (b, q) in s.qbases.iter_mut().zip(quads) {
        *b = s.rowbase[q.d] + q.off;
    }
    // The four input rows the next quad reads and this one does not (see `prefetch_l2`).
    let ahead = [1, 2, 3, 4].map(|i| plain_row(cfg, top + ry.k + 2 + i));
    let wo = rx.out;
    let (bases3, bases4) = s.bases34[..2 * n].split_at(n);
    let bases = [&s.bases[..n], &s.bases2[..n], bases3, bases4];
    let (acc2, acc3) = s.acc34[..2 * wo].split_at_mut(wo);
    let mut accs = [&mut s.acc[..wo], &mut s.acc2[..wo], acc2, acc3];
    for (b, acc) in bases.iter().zip(accs.iter_mut()) {
        border_outputs::<T, FMA>(cfg, flat, taps, b, acc, 0..ox_a);
    }
    for ox0 in block_starts(ox_a, ox_b, Q) {
        for row in ahead {
            prefetch_block(flat, row, w, ox0, Q);
        }
        let mut a = (
            [T::zero(); Q],
            [T::zero(); Q],
            [T::zero(); Q],
            [T::zero(); Q],
        );
        let at = ox0 - lo;
        for &(r0, r1, uses) in &cfg.quad_runs {
            let (bs, qs) = (&s.qbases[r0..r1], &quads[r0..r1]);
            macro_rules! by_uses {
                ($($u:literal)+) => {
                    match uses {
                        $($u => quad_run::<T, Q, FMA, $u>(flat, bs, qs, at, &mut a),)+
                        _ => unreachable!("a quad feeds at least one row"),
                    }
                };
            }
            by_uses!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
        }
        accs[0][ox0..ox0 + Q].copy_from_slice(&a.0);
        accs[1][ox0..ox0 + Q].copy_from_slice(&a.1);
        accs[2][ox0..ox0 + Q].copy_from_slice(&a.2);
        accs[3][ox0..ox0 + Q].copy_from_slice(&a.3);
    }
    for (b, acc) in bases.iter().zip(accs.iter_mut()) {
        border_outputs::<T, FMA>(cfg, flat, taps, b, acc, ox_b..wo);
    }
    true
}

/// Four-row accumulators of [`direct_row_quad`], one array per row (separate arrays, not an
/// array of arrays, which LLVM kept on the stack).
type Acc4<T, const Q: usize> = ([T; Q], [T; Q], [T; Q], [T; Q]);

/// One run of [`Quad`]s of [`direct_row_quad`] feeding the rows in the bit mask `U`: like
/// [`pair_run`], no branch per quad and the weights broadcast from memory.
#[inline(always)]
fn quad_run<T: Element, const Q: usize, const FMA: bool, const U: u8>(
    flat: &[T],
    bases: &[usize],
    quads: &[Quad<T>],
    at: usize,
    a: &mut Acc4<T, Q>,
) {
    for (&b, q) in bases.iter().zip(quads) {
        let xs: &[T; Q] = flat[b + at..b + at + Q].try_into().unwrap();
        #[expect(
            clippy::needless_range_loop,
            reason = "one lane index into the input and four accumulators, as in `pair_run`"
        )]
        for l in 0..Q {
            if U & 1 != 0 {
                a.0[l] = madd::<T, FMA>(xs[l], q.w[0], a.0[l]);
            }
            if U & 2 != 0 {
                a.1[l] = madd::<T, FMA>(xs[l], q.w[1], a.1[l]);
            }
            if U & 4 != 0 {
                a.2[l] = madd::<T, FMA>(xs[l], q.w[2], a.2[l]);
            }
            if U & 8 != 0 {
                a.3[l] = madd::<T, FMA>(xs[l], q.w[3], a.3[l]);
            }
        }
    }
}

/// The output columns `acc[k]` for `k` in `cols` of [`direct_row`], whose taps reach into the
/// `x` padding: each sample goes through the column map. Taps run in the outer loop so the
/// outputs are independent FMA chains (one chain per output would be latency-bound); each output
/// still sees its taps in order. `bases[t] = i * w + off` is the input row start plus the offset.
#[inline(always)]
pub(super) fn border_outputs<T: Element, const FMA: bool>(
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
pub(super) fn taps_row<T: Element, const V: usize, const FMA: bool>(
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
pub(super) fn emit<T: Element, F: Fn(usize, &[T], &mut [T])>(
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
pub(super) fn task_body<
    T: Element,
    F: Fn(usize, &[T], &mut [T]),
    const V: usize,
    const FMA: bool,
>(
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
                    // 6 registers per row (`V` is 8 registers' worth).
                    if r + 3 < nrows
                        && !cfg.quads.is_empty()
                        && match V {
                            128 => direct_row_quad::<T, 96, FMA>(cfg, taps, flat, top, s),
                            64 => direct_row_quad::<T, 48, FMA>(cfg, taps, flat, top, s),
                            _ => false,
                        }
                    {
                        next = 0;
                        let (a2, a3) = s.acc34[..2 * wo].split_at(wo);
                        for (i, a) in [&s.acc[..wo], &s.acc2[..wo], a2, a3]
                            .into_iter()
                            .enumerate()
                        {
                            emit(epi, oy + i, a, chunk.row_mut(r + i), &mut s.strided);
                        }
                        r += 4;
                        continue;
                    }
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
                    if consecutive && c1 - c0 >= V / 4 {
                        let flat = flat.expect("checked above");
                        // The input rows the next block reads and this one does not.
                        let fresh = first + nb + kh - 1;
                        for q in (0..nb).step_by(4) {
                            let ahead = [0, 1, 2, 3].map(|i| plain_row(cfg, fresh + q + i + ry.lo));
                            let rows = (w, first + q, c0, c1, ahead);
                            let out = (&mut s.buf[q * rowlen..], rowlen, lo);
                            let cp = &cparts[q..q + 4];
                            // Two vector registers per output row (`V` is eight): eight
                            // independent multiply-add chains, enough to cover the FMA latency.
                            match V {
                                128 => column_pass_quad::<T, FMA, 32>(flat, rows, col, cp, out),
                                64 => column_pass_quad::<T, FMA, 16>(flat, rows, col, cp, out),
                                32 => column_pass_quad::<T, FMA, 8>(flat, rows, col, cp, out),
                                _ => column_pass_quad::<T, FMA, 4>(flat, rows, col, cp, out),
                            }
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

/// Column pass over a standard-layout input of width `w`: `dst[j] = (sum_t coef[t] *
/// flat[rows[t] * w + c0 + j]) + cpart`, in register blocks of `V` columns. The accumulators
/// start at zero and `cpart` comes last: with a run-time starting value LLVM kept the block's
/// accumulators on the stack (a load and a store per FMA, 15-20% slower on sep31-f32).
#[inline(always)]
pub(super) fn column_pass_flat<T: Element, const V: usize, const FMA: bool>(
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
/// Columns `[c0, c1)` go to `buf[b * rowlen + lo + c0 ..]`, `L` at a time (`c1 - c0 >= L`),
/// while the same columns of the input rows starting at `ahead` (a later block's new rows) are
/// prefetched: the loads of each block's new rows missed the caches.
/// Every output sees the operations of [`column_pass_flat`] in its order (zero, `madd` in `ky`
/// order, `+ cpart`), so the two agree bitwise.
///
/// `L` is two vector registers (32 f32 or 16 f64 with AVX-512): the four rows' accumulators are
/// then eight independent chains. With one register per row (L = 16 for f32) there are four
/// chains of 4-cycle multiply-adds, at most one multiply-add per cycle where the two FMA units
/// take two; on sep31 f32 the change measured within noise (docs/benchmarks.md, "Roofline"):
/// the row pass, not this one, bounds it.
#[inline(always)]
pub(super) fn column_pass_quad<T: Element, const FMA: bool, const L: usize>(
    flat: &[T],
    (w, first, c0, c1, ahead): (usize, usize, usize, usize, [Option<usize>; 4]),
    coef: &[T],
    cparts: &[T],
    (buf, rowlen, lo): (&mut [T], usize, usize),
) {
    let kh = coef.len();
    for j0 in block_starts(c0, c1, L) {
        for row in ahead {
            prefetch_block(flat, row, w, j0, L);
        }
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
pub(super) fn column_pass_rows<T: Element, const FMA: bool>(
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
