//! The vector kernels of the row updates: one aligned vector of columns (neighbours by lane
//! shifts or unaligned loads, masked stores at segment ends), a segment of a row, and the
//! plain interior of one or two rows. The row drivers in the parent module check the ranges
//! once per row and call these.

use convsim_core::RealElement;
use convsim_core::simd::Lanes;

use super::{Rows, Taps, XPtrs, YPtrs};

/// The vector `k` columns right of `p` (`k < 0`: left), with `lo | mid | hi` the aligned
/// vectors at `p - N`, `p`, `p + N`: a lane shift where cheap, else an unaligned load.
///
/// # Safety
/// `p + k .. p + k + N` is readable.
#[inline(always)]
unsafe fn at<T: RealElement, V: Lanes<T>>(
    v: V,
    p: *const T,
    k: isize,
    (lo, mid, hi): (V::V, V::V, V::V),
) -> V::V {
    if V::SHIFTS {
        v.shifted(lo, mid, hi, k)
    } else {
        // SAFETY: readable (caller).
        unsafe { v.load_ptr(p.offset(k)) }
    }
}

/// The vectors at `p - N`, `p`, `p + N` (only `p`, three times, where shifts are not used).
///
/// # Safety
/// `p - N .. p + 2 N` is readable where [`Lanes::SHIFTS`], `p .. p + N` otherwise.
#[inline(always)]
unsafe fn around<T: RealElement, V: Lanes<T>>(v: V, p: *const T) -> (V::V, V::V, V::V) {
    // SAFETY: readable (caller).
    unsafe {
        let mid = v.load_ptr(p);
        if V::SHIFTS {
            (v.load_ptr(p.sub(V::N)), mid, v.load_ptr(p.add(V::N)))
        } else {
            (mid, mid, mid)
        }
    }
}

/// Writes `val` to `p` (the vector at column `b`), only its lanes inside `[j0, j1)`.
///
/// # Safety
/// Those lanes are writable and this task's.
#[inline(always)]
pub(super) unsafe fn put<T: RealElement, V: Lanes<T>>(
    v: V,
    p: *mut T,
    b: usize,
    (j0, j1): (usize, usize),
    val: V::V,
) {
    // SAFETY: writable and exclusive (caller).
    unsafe {
        if b >= j0 && b + V::N <= j1 {
            v.store_ptr(p, val);
        } else {
            let m = v.mask(j0.saturating_sub(b), (j1 - b).min(V::N));
            v.store_masked(p, m, val);
        }
    }
}

/// `psi <- b psi + a Dx c` over the lanes of the vector at column `j` that lie in the strip.
///
/// # Safety
/// The ranges checked by `update_body`.
#[inline(always)]
pub(super) unsafe fn psi_x_cols<T: RealElement, V: Lanes<T>, const R: usize>(
    v: V,
    t: &Taps<T, R>,
    ctr: *const T,
    st: &XPtrs<T>,
    j: usize,
) {
    // SAFETY: inside the row and the strip's buffers (caller).
    unsafe {
        let cj = ctr.add(j);
        let c3 = around(v, cj);
        let mut d = v.splat(T::zero());
        for k in 0..R {
            let kk = (k + 1) as isize;
            let diff = v.sub(at(v, cj, kk, c3), at(v, cj, -kk, c3));
            d = v.mul_add(v.splat(t.d1x[k]), diff, d);
        }
        let p = st.psi.add(j - st.base);
        let b_psi = v.mul(v.load_ptr(st.b.add(j)), v.load_ptr(p));
        let val = v.mul_add(v.load_ptr(st.a.add(j)), d, b_psi);
        put(v, p, j, (st.j0, st.j1), val);
    }
}

/// The update of the lanes of the vector at column `j` that lie in `cols` (`XC`/`YC`: with the
/// x/y CPML terms).
///
/// # Safety
/// The ranges checked by `update_body`.
#[inline(always)]
unsafe fn block<T: RealElement, V: Lanes<T>, const R: usize, const XC: bool, const YC: bool>(
    v: V,
    t: &Taps<T, R>,
    rows: &Rows<T, R>,
    j: usize,
    cols: (usize, usize),
    x: Option<&XPtrs<T>>,
    y: Option<&YPtrs<T>>,
) {
    // SAFETY: every pointer below is offset within the ranges the caller checked.
    unsafe {
        let ld = |p: *const T, at: usize| v.load_ptr(p.add(at));
        let plain = !XC && !YC;
        let cj = rows.ctr.add(j);
        let c3 = around(v, cj);
        let c = c3.1;
        // Outside the layers the axis sums merge (one accumulator for the centre of both).
        let (mut ay, mut ax) = if plain {
            (v.mul(v.splat(t.w0), c), v.splat(T::zero()))
        } else {
            (v.mul(v.splat(t.w0y), c), v.mul(v.splat(t.w0x), c))
        };
        for k in 0..R {
            let kk = (k + 1) as isize;
            let uy = v.add(ld(rows.up[k], j), ld(rows.dn[k], j));
            let ux = v.add(at(v, cj, -kk, c3), at(v, cj, kk, c3));
            ay = v.mul_add(v.splat(t.wy[k]), uy, ay);
            ax = v.mul_add(v.splat(t.wx[k]), ux, ax);
        }
        let mut acc = v.add(ay, ax);
        if XC {
            let st = x.expect("x strip");
            let pj = st.psi.add(j - st.base).cast_const();
            let p3 = around(v, pj);
            let mut dpsi = v.splat(T::zero());
            for k in 0..R {
                let kk = (k + 1) as isize;
                let diff = v.sub(at(v, pj, kk, p3), at(v, pj, -kk, p3));
                dpsi = v.mul_add(v.splat(t.d1x[k]), diff, dpsi);
            }
            let zj = st.zeta.add(j - st.base);
            let b_z = v.mul(ld(st.b, j), v.load_ptr(zj));
            let z = v.mul_add(ld(st.a, j), v.add(ax, dpsi), b_z);
            put(v, zj, j, (st.j0, st.j1), z);
            acc = v.add(acc, v.add(dpsi, z));
        }
        if YC {
            let (pu, pd) = rows.ypsi.as_ref().expect("y psi rows");
            let yr = y.expect("y row");
            let mut dpsi = v.splat(T::zero());
            for k in 0..R {
                let diff = v.sub(ld(pd[k], j), ld(pu[k], j));
                dpsi = v.mul_add(v.splat(t.d1y[k]), diff, dpsi);
            }
            let zj = yr.zeta.add(j);
            let b_z = v.mul(v.splat(yr.b), v.load_ptr(zj));
            let z = v.mul_add(v.splat(yr.a), v.add(ay, dpsi), b_z);
            put(v, zj, j, cols, z);
            acc = v.add(acc, v.add(dpsi, z));
        }
        let c2 = if rows.c2.is_null() {
            v.splat(rows.c2s)
        } else {
            ld(rows.c2, j)
        };
        let oj = rows.out.add(j);
        let lf = v.sub(v.add(c, c), v.load_ptr(oj));
        put(v, oj, j, cols, v.mul_add(c2, acc, lf));
    }
}

/// The update of columns `[j0, j1)` of the row, in the aligned vectors that cover them. The
/// whole vectors of a segment without CPML terms take [`interior`].
///
/// # Safety
/// The ranges checked by `update_body`, and `[j0, j1)` inside `[c0, c1)`.
#[inline(always)]
pub(super) unsafe fn segment<
    T: RealElement,
    V: Lanes<T>,
    const R: usize,
    const XC: bool,
    const YC: bool,
>(
    v: V,
    t: &Taps<T, R>,
    rows: &Rows<T, R>,
    (j0, j1): (usize, usize),
    x: Option<&XPtrs<T>>,
    y: Option<&YPtrs<T>>,
) {
    let n = V::N;
    let mut j = j0 / n * n;
    // SAFETY: the vectors at j .. j1 lie in the checked ranges (caller).
    unsafe {
        if !XC && !YC {
            // A partial vector first, whole vectors, a partial vector last.
            let (first, last) = (j0.next_multiple_of(n), j1 / n * n);
            if first <= last {
                if j < first {
                    block::<T, V, R, false, false>(v, t, rows, j, (j0, j1), None, None);
                }
                if rows.c2.is_null() {
                    interior::<T, V, R, false>(v, t, rows, first, last);
                } else {
                    interior::<T, V, R, true>(v, t, rows, first, last);
                }
                j = last;
            }
        }
        while j < j1 {
            block::<T, V, R, XC, YC>(v, t, rows, j, (j0, j1), x, y);
            j += n;
        }
    }
}

/// The plain update of the whole vectors from `j` to `end` (`FIELD`: `(v dt)^2` per column):
/// the same operations as [`block`] without CPML terms, in a loop that keeps every row
/// pointer and weight in registers and carries the centre row's vectors from one step to the
/// next.
///
/// # Safety
/// The ranges checked by `update_body`; `j` and `end` multiples of `N`.
#[inline(always)]
unsafe fn interior<T: RealElement, V: Lanes<T>, const R: usize, const FIELD: bool>(
    v: V,
    t: &Taps<T, R>,
    rows: &Rows<T, R>,
    mut j: usize,
    end: usize,
) {
    let n = V::N;
    let (ctr, up, dn, c2, out) = (rows.ctr, rows.up, rows.dn, rows.c2, rows.out);
    let w0 = v.splat(t.w0);
    let wy: [V::V; R] = std::array::from_fn(|k| v.splat(t.wy[k]));
    let wx: [V::V; R] = std::array::from_fn(|k| v.splat(t.wx[k]));
    let c2s = v.splat(rows.c2s);
    // SAFETY: whole vectors from `j - N` to `end + N` inside the rows (caller).
    unsafe {
        let mut c3 = around(v, ctr.add(j));
        while j < end {
            let c = c3.1;
            let cj = ctr.add(j);
            let mut ay = v.mul(w0, c);
            let mut ax = v.splat(T::zero());
            for k in 0..R {
                let kk = (k + 1) as isize;
                let uy = v.add(v.load_ptr(up[k].add(j)), v.load_ptr(dn[k].add(j)));
                let ux = v.add(at(v, cj, -kk, c3), at(v, cj, kk, c3));
                ay = v.mul_add(wy[k], uy, ay);
                ax = v.mul_add(wx[k], ux, ax);
            }
            let acc = v.add(ay, ax);
            let cc = if FIELD { v.load_ptr(c2.add(j)) } else { c2s };
            let oj = out.add(j);
            let lf = v.sub(v.add(c, c), v.load_ptr(oj));
            v.store_ptr(oj, v.mul_add(cc, acc, lf));
            j += n;
            if V::SHIFTS {
                c3 = (c3.1, c3.2, v.load_ptr(ctr.add(j + n)));
            } else {
                c3 = around(v, ctr.add(j));
            }
        }
    }
}

/// [`interior`] on two consecutive rows at once (`a` above `b`): the `2 R + 2` rows they read
/// are loaded once for both, so each output vector costs `R + 1` row loads instead of
/// `2 R + 1`. The wavefront's rows come from L2 (one core's L1 cannot hold every stage's
/// window), so this halves the L2 traffic that bounds the interior. Each output gets exactly
/// the operations of [`interior`], in its order.
///
/// # Safety
/// As [`interior`], for both rows; `b`'s rows are `a`'s shifted down by one.
#[inline(always)]
pub(super) unsafe fn interior2<T: RealElement, V: Lanes<T>, const R: usize, const FIELD: bool>(
    v: V,
    t: &Taps<T, R>,
    (ra, rb): (&Rows<T, R>, &Rows<T, R>),
    mut j: usize,
    end: usize,
) {
    let n = V::N;
    let w0 = v.splat(t.w0);
    let c2s = v.splat(ra.c2s);
    // SAFETY: whole vectors from `j - N` to `end + N` inside the rows (caller).
    unsafe {
        let mut c3a = around(v, ra.ctr.add(j));
        let mut c3b = around(v, rb.ctr.add(j));
        while j < end {
            let (ca, cb) = (c3a.1, c3b.1);
            // Rows above a (a's up) and below b (b's down); b's up are a and a's up, a's down
            // are b and b's down.
            let ua: [V::V; R] = std::array::from_fn(|k| v.load_ptr(ra.up[k].add(j)));
            let db: [V::V; R] = std::array::from_fn(|k| v.load_ptr(rb.dn[k].add(j)));
            let (caj, cbj) = (ra.ctr.add(j), rb.ctr.add(j));
            let mut aya = v.mul(w0, ca);
            let mut axa = v.splat(T::zero());
            let mut ayb = v.mul(w0, cb);
            let mut axb = v.splat(T::zero());
            for k in 0..R {
                let kk = (k + 1) as isize;
                let (wy, wx) = (v.splat(t.wy[k]), v.splat(t.wx[k]));
                let dna = if k == 0 { cb } else { db[k - 1] };
                let upb = if k == 0 { ca } else { ua[k - 1] };
                let uya = v.add(ua[k], dna);
                let uxa = v.add(at(v, caj, -kk, c3a), at(v, caj, kk, c3a));
                aya = v.mul_add(wy, uya, aya);
                axa = v.mul_add(wx, uxa, axa);
                let uyb = v.add(upb, db[k]);
                let uxb = v.add(at(v, cbj, -kk, c3b), at(v, cbj, kk, c3b));
                ayb = v.mul_add(wy, uyb, ayb);
                axb = v.mul_add(wx, uxb, axb);
            }
            for (r, c, acc) in [(ra, ca, v.add(aya, axa)), (rb, cb, v.add(ayb, axb))] {
                let cc = if FIELD { v.load_ptr(r.c2.add(j)) } else { c2s };
                let oj = r.out.add(j);
                let lf = v.sub(v.add(c, c), v.load_ptr(oj));
                v.store_ptr(oj, v.mul_add(cc, acc, lf));
            }
            j += n;
            if V::SHIFTS {
                c3a = (c3a.1, c3a.2, v.load_ptr(ra.ctr.add(j + n)));
                c3b = (c3b.1, c3b.2, v.load_ptr(rb.ctr.add(j + n)));
            } else {
                c3a = around(v, ra.ctr.add(j));
                c3b = around(v, rb.ctr.add(j));
            }
        }
    }
}

/// Columns `[j0, j1)` of two consecutive rows outside every CPML term: the partial vectors at
/// either end row by row ([`block`]), the whole vectors between by [`interior2`].
///
/// # Safety
/// As [`segment`], for both rows.
#[inline(always)]
pub(super) unsafe fn plain2<T: RealElement, V: Lanes<T>, const R: usize>(
    v: V,
    t: &Taps<T, R>,
    (ra, rb): (&Rows<T, R>, &Rows<T, R>),
    (j0, j1): (usize, usize),
) {
    let n = V::N;
    let (first, last) = (j0.next_multiple_of(n), j1 / n * n);
    // SAFETY: as the caller's.
    unsafe {
        if first > last {
            // One vector holds the whole segment.
            for r in [ra, rb] {
                segment::<T, V, R, false, false>(v, t, r, (j0, j1), None, None);
            }
            return;
        }
        if j0 < first {
            for r in [ra, rb] {
                block::<T, V, R, false, false>(v, t, r, j0 / n * n, (j0, j1), None, None);
            }
        }
        if ra.c2.is_null() {
            interior2::<T, V, R, false>(v, t, (ra, rb), first, last);
        } else {
            interior2::<T, V, R, true>(v, t, (ra, rb), first, last);
        }
        if last < j1 {
            for r in [ra, rb] {
                block::<T, V, R, false, false>(v, t, r, last, (j0, j1), None, None);
            }
        }
    }
}
