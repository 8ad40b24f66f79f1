//! The kernels: one AVX2+FMA wrapper per entry point and one portable path, then the bodies
//! (padding, forward, backward-input and weight-gradient register blocks).

use ndarray::{ArrayView1, ArrayView3, ArrayViewMut1, ArrayViewMut3, s};

use crate::Element;
use crate::boundary::Source;
use crate::simd::{Isa, madd};

use super::{CB, CW, Geo, Scratch, Stage, VW, blocks};

// ---------------------------------------------------------------------------------------------
// Dispatch: one AVX2+FMA wrapper per entry point (the body is inlined into it), one portable.

macro_rules! first_geo {
    ($first:ident $(, $rest:ident)*) => {
        $first
    };
}

macro_rules! entry {
    ($name:ident, $body:ident, $avx:ident, ($($arg:ident : $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx<T: Element, const V: usize>($($arg: $ty),*) {
            $body::<T, V, true>($($arg),*);
        }

        pub(super) fn $name<T: Element>($($arg: $ty),*) {
            let geo: &Geo = first_geo!($($arg),*);
            match (geo.isa, geo.v) {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Avx2Fma` is only recorded after run-time detection of both features.
                (Isa::Avx2Fma, 16) => unsafe { $avx::<T, 16>($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above.
                (Isa::Avx2Fma, _) => unsafe { $avx::<T, 8>($($arg),*) },
                (_, 16) => $body::<T, 16, false>($($arg),*),
                _ => $body::<T, 8, false>($($arg),*),
            }
        }
    };
}

entry!(
    run_forward,
    forward_sample,
    forward_sample_avx2,
    (geo: &Geo, x: ArrayView3<'_, T>, wp: &[T], bias: Option<&ArrayView1<'_, T>>, out: ArrayViewMut3<'_, T>, s: &mut Scratch<T>)
);
entry!(
    run_backward_input,
    backward_input_sample,
    backward_input_sample_avx2,
    (geo: &Geo, g: ArrayView3<'_, T>, wp: &[T], gin: ArrayViewMut3<'_, T>, s: &mut Scratch<T>)
);
entry!(
    run_backward_weights,
    backward_weights_sample,
    backward_weights_sample_avx2,
    (geo: &Geo, x: ArrayView3<'_, T>, g: ArrayView3<'_, T>, gw: &mut [T], gb: &mut [T], s: &mut Scratch<T>)
);

// ---------------------------------------------------------------------------------------------
// Bodies.

/// Boundary-pads every channel of one sample into `xp` (layout `geo.fwd`).
#[inline(always)]
pub(super) fn pad_sample<T: Element>(geo: &Geo, x: &ArrayView3<'_, T>, xp: &mut [T]) {
    let st = &geo.fwd;
    let (lo, w) = (geo.rx.lo, geo.w);
    let wpad = geo.col_src.len();
    for ci in 0..geo.c_in {
        let plane = &mut xp[ci * st.plane..(ci + 1) * st.plane];
        for (r, rs) in geo.row_src.iter().enumerate() {
            let dst = &mut plane[r * st.rowlen..(r + 1) * st.rowlen];
            let (srow, neg) = match *rs {
                Source::Constant(v) => {
                    let v = T::from_f64(v);
                    for c in 0..wpad {
                        dst[st.pos(c)] = v;
                    }
                    continue;
                }
                Source::Index(i) => (i, false),
                Source::Negated(i) => (i, true),
            };
            let src = x.slice(s![ci, srow, ..]);
            let sgn = |v: T| if neg { -v } else { v };
            match (st.sx, src.as_slice()) {
                (1, Some(sl)) => {
                    if neg {
                        for (d, v) in dst[lo..lo + w].iter_mut().zip(sl) {
                            *d = -*v;
                        }
                    } else {
                        dst[lo..lo + w].copy_from_slice(sl);
                    }
                }
                _ => {
                    for j in 0..w {
                        dst[st.pos(lo + j)] = sgn(src[j]);
                    }
                }
            }
            for c in (0..lo).chain(lo + w..wpad) {
                dst[st.pos(c)] = match geo.col_src[c] {
                    Source::Index(j) => sgn(src[j]),
                    Source::Negated(j) => -sgn(src[j]),
                    Source::Constant(v) => T::from_f64(v),
                };
            }
        }
    }
}

/// One output row of `C` channels: `out[c * wv + ox] = init[c] + sum w * x`, register-blocked
/// over `C` channels and `V` columns. `x` holds the group's input planes, `w` the packed taps
/// `[ci][ky][kx][C]`.
#[inline(always)]
pub(super) fn row_block<T: Element, const C: usize, const V: usize, const FMA: bool>(
    x: &[T],
    st: &Stage,
    r0: usize,
    cin: usize,
    w: &[T],
    init: [T; C],
    out: &mut [T],
) {
    let wv = st.wv;
    for ox0 in (0..wv).step_by(V) {
        let mut a = [[T::zero(); V]; C];
        for c in 0..C {
            a[c] = [init[c]; V];
        }
        let mut wi = 0;
        for ci in 0..cin {
            for ky in 0..st.kh {
                let base = ci * st.plane + (r0 + ky * st.dy) * st.rowlen + ox0;
                for &off in &st.offs {
                    let xs: &[T; V] = x[base + off..base + off + V].try_into().unwrap();
                    let ws: &[T; C] = w[wi..wi + C].try_into().unwrap();
                    wi += C;
                    for c in 0..C {
                        for l in 0..V {
                            a[c][l] = madd::<T, FMA>(xs[l], ws[c], a[c][l]);
                        }
                    }
                }
            }
        }
        for c in 0..C {
            out[c * wv + ox0..c * wv + ox0 + V].copy_from_slice(&a[c]);
        }
    }
}

#[inline(always)]
pub(super) fn forward_sample<T: Element, const V: usize, const FMA: bool>(
    geo: &Geo,
    x: ArrayView3<'_, T>,
    wp: &[T],
    bias: Option<&ArrayView1<'_, T>>,
    mut out: ArrayViewMut3<'_, T>,
    s: &mut Scratch<T>,
) {
    pad_sample(geo, &x, &mut s.xp);
    let st = &geo.fwd;
    let per_co = geo.cin_g * geo.kh * geo.kw;
    let wo = st.out_cols;
    for g in 0..geo.groups {
        let xg = &s.xp[g * geo.cin_g * st.plane..(g + 1) * geo.cin_g * st.plane];
        let wg = &wp[g * geo.cout_g * per_co..(g + 1) * geo.cout_g * per_co];
        for oy in 0..st.out_rows {
            let r0 = oy * st.sy;
            for (co0, cb) in blocks(geo.cout_g, CB) {
                let co = g * geo.cout_g + co0;
                let b = |c: usize| bias.map_or(T::zero(), |b| b[co + c]);
                let wb = &wg[co0 * per_co..(co0 + cb) * per_co];
                if cb == CB {
                    let init = [b(0), b(1), b(2), b(3)];
                    row_block::<T, CB, V, FMA>(xg, st, r0, geo.cin_g, wb, init, &mut s.row);
                } else {
                    row_block::<T, 1, V, FMA>(xg, st, r0, geo.cin_g, wb, [b(0)], &mut s.row);
                }
                for c in 0..cb {
                    let src = &s.row[c * st.wv..c * st.wv + wo];
                    let mut dst = out.slice_mut(s![co + c, oy, ..]);
                    if let Some(d) = dst.as_slice_mut() {
                        d.copy_from_slice(src);
                    } else {
                        for (d, v) in dst.iter_mut().zip(src) {
                            *d = *v;
                        }
                    }
                }
            }
        }
    }
}

/// Adds the gradient of one padded row onto its source row (the adjoint of the column padding).
#[inline(always)]
pub(super) fn fold_row<T: Element>(
    geo: &Geo,
    vals: &[T],
    neg: bool,
    mut dst: ArrayViewMut1<'_, T>,
) {
    let (lo, w) = (geo.rx.lo, geo.w);
    let wpad = geo.col_src.len();
    let sgn = |v: T| if neg { -v } else { v };
    if let Some(d) = dst.as_slice_mut() {
        for (d, v) in d.iter_mut().zip(&vals[lo..lo + w]) {
            *d += sgn(*v);
        }
    } else {
        for (d, v) in dst.iter_mut().zip(&vals[lo..lo + w]) {
            *d += sgn(*v);
        }
    }
    for c in (0..lo).chain(lo + w..wpad) {
        match geo.col_src[c] {
            Source::Index(j) => dst[j] += sgn(vals[c]),
            Source::Negated(j) => dst[j] -= sgn(vals[c]),
            Source::Constant(_) => {}
        }
    }
}

#[inline(always)]
pub(super) fn backward_input_sample<T: Element, const V: usize, const FMA: bool>(
    geo: &Geo,
    g: ArrayView3<'_, T>,
    wp: &[T],
    mut gin: ArrayViewMut3<'_, T>,
    s: &mut Scratch<T>,
) {
    let st = &geo.bwd;
    let (ry, rx) = (geo.ry, geo.rx);
    // Scatter the output gradient onto its (strided) positions; every other entry of `gz` is
    // zero since plan time and never written.
    for co in 0..geo.c_out {
        for oy in 0..ry.out {
            let base = co * st.plane + (ry.k_eff - 1 + oy * ry.stride) * st.rowlen + rx.k_eff - 1;
            for (ox, v) in g.slice(s![co, oy, ..]).iter().enumerate() {
                s.gz[base + ox * rx.stride] = *v;
            }
        }
    }
    gin.fill(T::zero());
    let per_ci = geo.cout_g * geo.kh * geo.kw;
    let wpad = geo.col_src.len();
    for grp in 0..geo.groups {
        let zg = &s.gz[grp * geo.cout_g * st.plane..(grp + 1) * geo.cout_g * st.plane];
        let wg = &wp[grp * geo.cin_g * per_ci..(grp + 1) * geo.cin_g * per_ci];
        for r in 0..st.out_rows {
            let (srow, neg) = match geo.row_src[r] {
                Source::Constant(_) => continue,
                Source::Index(i) => (i, false),
                Source::Negated(i) => (i, true),
            };
            for (ci0, cb) in blocks(geo.cin_g, CB) {
                let wb = &wg[ci0 * per_ci..(ci0 + cb) * per_ci];
                let z = T::zero();
                if cb == CB {
                    row_block::<T, CB, V, FMA>(zg, st, r, geo.cout_g, wb, [z; CB], &mut s.row);
                } else {
                    row_block::<T, 1, V, FMA>(zg, st, r, geo.cout_g, wb, [z], &mut s.row);
                }
                for c in 0..cb {
                    let vals = &s.row[c * st.wv..c * st.wv + wpad];
                    let ci = grp * geo.cin_g + ci0 + c;
                    fold_row(geo, vals, neg, gin.slice_mut(s![ci, srow, ..]));
                }
            }
        }
    }
}

/// Accumulates `lanes[c][k] += conj(x[offs[k] + ox]) * g[c][ox]` over a row, for `C` output
/// channels and `KW` taps, in `VW` lanes held in registers.
#[inline(always)]
pub(super) fn wgrad_block<T: Element, const C: usize, const KW: usize, const FMA: bool>(
    x: &[T],
    offs: &[usize],
    g: &[T],
    gstride: usize,
    wv: usize,
    lanes: &mut [T],
    lstride: usize,
) {
    let mut a = [[[T::zero(); VW]; KW]; C];
    for c in 0..C {
        for k in 0..KW {
            a[c][k].copy_from_slice(&lanes[c * lstride + k * VW..c * lstride + (k + 1) * VW]);
        }
    }
    let offs: &[usize; KW] = offs[..KW].try_into().unwrap();
    for ox0 in (0..wv).step_by(VW) {
        let mut gv = [[T::zero(); VW]; C];
        for c in 0..C {
            gv[c].copy_from_slice(&g[c * gstride + ox0..c * gstride + ox0 + VW]);
        }
        for k in 0..KW {
            let xs: &[T; VW] = x[offs[k] + ox0..offs[k] + ox0 + VW].try_into().unwrap();
            for c in 0..C {
                for l in 0..VW {
                    a[c][k][l] = madd::<T, FMA>(xs[l].conj(), gv[c][l], a[c][k][l]);
                }
            }
        }
    }
    for c in 0..C {
        for k in 0..KW {
            lanes[c * lstride + k * VW..c * lstride + (k + 1) * VW].copy_from_slice(&a[c][k]);
        }
    }
}

#[inline(always)]
pub(super) fn backward_weights_sample<T: Element, const V: usize, const FMA: bool>(
    geo: &Geo,
    x: ArrayView3<'_, T>,
    g: ArrayView3<'_, T>,
    gw: &mut [T],
    gb: &mut [T],
    s: &mut Scratch<T>,
) {
    pad_sample(geo, &x, &mut s.xp);
    let st = &geo.fwd;
    let (ho, wo, wv) = (st.out_rows, st.out_cols, st.wv);
    // Output gradient rows padded to `wv` (the tails stay zero since plan time).
    for co in 0..geo.c_out {
        for oy in 0..ho {
            let dst = &mut s.gs[(co * ho + oy) * wv..(co * ho + oy) * wv + wo];
            for (d, v) in dst.iter_mut().zip(g.slice(s![co, oy, ..])) {
                *d = *v;
            }
        }
    }
    s.lanes.fill(T::zero());
    let (kh, kw, cin_g) = (geo.kh, geo.kw, geo.cin_g);
    let lstride = cin_g * kh * kw * VW;
    for grp in 0..geo.groups {
        for oy in 0..ho {
            let r0 = oy * st.sy;
            for (co0, cb) in blocks(geo.cout_g, CW) {
                let co = grp * geo.cout_g + co0;
                let gr = &s.gs[(co * ho + oy) * wv..];
                for ci in 0..cin_g {
                    for ky in 0..kh {
                        let xbase = (grp * cin_g + ci) * st.plane + (r0 + ky * st.dy) * st.rowlen;
                        let xr = &s.xp[xbase..xbase + st.rowlen];
                        let mut kx0 = 0;
                        while kx0 < kw {
                            let lbase = (((co * cin_g + ci) * kh + ky) * kw + kx0) * VW;
                            let lanes = &mut s.lanes[lbase..];
                            let offs = &st.offs[kx0..];
                            let step = if kw - kx0 >= 3 { 3 } else { 1 };
                            match (cb, step) {
                                (CW, 3) => wgrad_block::<T, CW, 3, FMA>(
                                    xr,
                                    offs,
                                    gr,
                                    ho * wv,
                                    wv,
                                    lanes,
                                    lstride,
                                ),
                                (CW, _) => wgrad_block::<T, CW, 1, FMA>(
                                    xr,
                                    offs,
                                    gr,
                                    ho * wv,
                                    wv,
                                    lanes,
                                    lstride,
                                ),
                                (_, 3) => wgrad_block::<T, 1, 3, FMA>(
                                    xr,
                                    offs,
                                    gr,
                                    ho * wv,
                                    wv,
                                    lanes,
                                    lstride,
                                ),
                                _ => wgrad_block::<T, 1, 1, FMA>(
                                    xr,
                                    offs,
                                    gr,
                                    ho * wv,
                                    wv,
                                    lanes,
                                    lstride,
                                ),
                            }
                            kx0 += step;
                        }
                    }
                }
            }
        }
    }
    for (d, l) in gw.iter_mut().zip(s.lanes.chunks_exact(VW)) {
        let mut acc = T::zero();
        for v in l {
            acc += *v;
        }
        *d = acc;
    }
    // Bias gradient: lane sums over the padded rows (tails are zero), then the lanes in order.
    for (co, d) in gb.iter_mut().enumerate() {
        let mut lane = [T::zero(); VW];
        for ch in s.gs[co * ho * wv..(co + 1) * ho * wv].chunks_exact(VW) {
            for l in 0..VW {
                lane[l] += ch[l];
            }
        }
        let mut acc = T::zero();
        for v in lane {
            acc += v;
        }
        *d = acc;
    }
    let _ = V;
}
