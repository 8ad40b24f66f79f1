//! Row kernels of the sweep: the leapfrog update of one row with its CPML terms, and the CPML
//! memory-variable rows.
//!
//! Each is written once as an `#[inline(always)]` body generic over the stencil radius `R` and
//! the vector type ([`Lanes`]), and compiled per instruction set by the wrappers of
//! `dispatch!` ([`Isa`] chosen once when the solver is built).
//!
//! Rows start on 64-byte boundaries and the computational columns on a multiple of the vector
//! width (the layout guarantees it), so a segment of columns `[j0, j1)` is processed as whole
//! aligned vectors: every load is aligned, the neighbours along the row come from lane shifts
//! of the aligned vectors either side where those are cheap (AVX-512), and the vectors that
//! stick out of the segment store only their lanes inside it. Every column is computed with the
//! same operations and rounding on every vector width, so AVX2 and AVX-512 agree bitwise.
//!
//! Update of row `i` (the fields live on the padded layout; `c` = p^n, `o` = p^(n-1) on entry
//! and p^(n+1) on exit):
//!
//! ```text
//! Dyy c = w0y c + sum_k wy_k (c[i-k] + c[i+k]),   Dxx c likewise along the row
//! o <- 2 c - o + c2 (Dyy c + Dxx c + [x CPML] + [y CPML])
//! x CPML: psi_x <- b psi_x + a Dx c   (before the update, over the strip)
//!         zeta_x <- b zeta_x + a (Dxx c + Dx psi_x),  term Dx psi_x + zeta_x
//! ```
//!
//! and the same along `y` with `psi_y` rows updated by [`psi_y`] one stage earlier. Outside the
//! layers the two axis sums are merged (`w0 = w0y + w0x`), which is the plain interior stencil.

// The bodies must be inlined into their `#[target_feature]` wrappers to be compiled for the
// wrapper's instruction set; `#[inline(always)]` guarantees it.
#![allow(
    clippy::inline_always,
    reason = "the bodies must be inlined into their `#[target_feature]` wrappers to be compiled for the wrapper's instruction set"
)]

mod vector;

use convsim_core::simd::{Avx2, Avx512, Lanes, Scalar};
use convsim_core::{Isa, RealElement};
use vector::{plain2, psi_x_cols, put, segment};

/// The stencil taps, already divided by the squared (second derivative) or plain (first
/// derivative) spacing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Taps<T, const R: usize> {
    /// Centre weight of `Dyy + Dxx`, and of each axis alone.
    pub(crate) w0: T,
    pub(crate) w0y: T,
    pub(crate) w0x: T,
    /// Second-derivative weights of the neighbours at distance `k + 1`.
    pub(crate) wy: [T; R],
    pub(crate) wx: [T; R],
    /// First-derivative weights of the neighbour at `+(k + 1)` (the one at `-(k + 1)` has the
    /// opposite sign).
    pub(crate) d1y: [T; R],
    pub(crate) d1x: [T; R],
}

/// The rows one update reads and writes: output row `i` (or rows `i` and `i + 1` for
/// [`update2`]).
pub(crate) struct Io<'a, T> {
    /// Rows `i - R ..= i + R` of p^n (to `i + 1 + R` for two rows), `stride` columns each.
    pub(crate) win: &'a [T],
    pub(crate) stride: usize,
    /// The output rows of the other field (p^(n-1) in, p^(n+1) out).
    pub(crate) out: &'a mut [T],
    /// The output rows of `(v dt)^2`, or `None` for the uniform value `c2s`.
    pub(crate) c2: Option<&'a [T]>,
    pub(crate) c2s: T,
    /// Computational columns `[c0, c1)`.
    pub(crate) c0: usize,
    pub(crate) c1: usize,
}

/// One CPML strip of the row along x.
pub(crate) struct XStrip<'a, T> {
    /// Columns `[j0, j1)`.
    pub(crate) j0: usize,
    pub(crate) j1: usize,
    /// `psi_x` of columns `base ..` (zero outside the strip).
    pub(crate) psi: &'a mut [T],
    /// `zeta_x` of columns `base ..`.
    pub(crate) zeta: &'a mut [T],
    /// The first column of `psi` and `zeta`.
    pub(crate) base: usize,
    /// Profile `a`, `b` per padded column.
    pub(crate) a: &'a [T],
    pub(crate) b: &'a [T],
}

/// The y CPML of a row inside a y layer.
pub(crate) struct YRow<'a, T> {
    /// `psi_y` rows `i - R ..= i + R`, `stride` columns each (zero outside the layer).
    pub(crate) psi: &'a [T],
    /// `zeta_y` of row `i`, `stride` columns.
    pub(crate) zeta: &'a mut [T],
    pub(crate) a: T,
    pub(crate) b: T,
}

/// Raw row pointers of one update. Every access stays inside the ranges `update_body` checks
/// once per row.
struct Rows<T, const R: usize> {
    ctr: *const T,
    up: [*const T; R],
    dn: [*const T; R],
    /// `(v dt)^2` row, or null for the uniform `c2s`.
    c2: *const T,
    c2s: T,
    out: *mut T,
    /// `psi_y` rows above and below (y layers only).
    ypsi: Option<([*const T; R], [*const T; R])>,
}

/// One strip's raw pointers, shifted so that column `j` is at offset `j` (offsets are only
/// ever taken inside the strip's buffers).
struct XPtrs<T> {
    j0: usize,
    j1: usize,
    base: usize,
    psi: *mut T,
    zeta: *mut T,
    a: *const T,
    b: *const T,
}

/// The y CPML of the row: `zeta_y` row pointer and the row's profile values.
struct YPtrs<T> {
    zeta: *mut T,
    a: T,
    b: T,
}

/// Checks that `io` holds `nrows` output rows laid out as the sweep's layout promises (aligned
/// rows and computational columns, room for a vector either side) with the `2 R + nrows`
/// rows of p^n they read, and that every strip's buffers cover the vectors around it.
///
/// # Panics
/// If not.
fn check<T: RealElement, const R: usize>(
    n: usize,
    io: &Io<'_, T>,
    nrows: usize,
    strips: &[&[XStrip<'_, T>]],
) {
    let (s, c0, c1) = (io.stride, io.c0, io.c1);
    // The ranges every access stays in: whole vectors from the one before c0 to the one after
    // the last that covers c1, in rows of `s`.
    let last = c1.div_ceil(n) * n + n;
    assert!(
        c0 >= n.max(R) && c0.is_multiple_of(n) && s.is_multiple_of(n) && last.max(c1 + R) <= s,
        "columns [{c0}, {c1}) with radius {R} and {n} lanes in rows of {s}"
    );
    assert!(
        io.win.len() >= (2 * R + nrows) * s && io.out.len() >= nrows * s,
        "row lengths"
    );
    assert!(
        io.c2.is_none_or(|c| c.len() >= nrows * s),
        "(v dt)^2 row length"
    );
    for st in strips.iter().flat_map(|x| x.iter()) {
        let (lo, hi) = (st.j0 / n * n - n, st.j1.div_ceil(n) * n + n);
        assert!(
            st.j0 >= c0
                && st.j1 <= c1
                && st.base <= lo
                && st.psi.len() >= hi - st.base
                && st.zeta.len() >= hi - st.base
                && st.a.len() >= hi
                && st.b.len() >= hi,
            "x strip [{}, {})",
            st.j0,
            st.j1
        );
    }
}

/// The raw pointers of output row `q` of `io` (0 or 1), whose window starts at row `q` of
/// `io.win`.
///
/// # Safety
/// `io` passed [`check`] with more than `q` rows.
unsafe fn rows_of<T: RealElement, const R: usize>(io: &mut Io<'_, T>, q: usize) -> Rows<T, R> {
    let s = io.stride;
    let win = io.win.as_ptr();
    // SAFETY: rows q ..= q + 2 R of `win`, row q of `out` and `c2` (checked by the caller).
    unsafe {
        let row = |r: usize| win.add((q + r) * s);
        Rows {
            ctr: row(R),
            up: std::array::from_fn(|k| row(R - k - 1)),
            dn: std::array::from_fn(|k| row(R + k + 1)),
            c2: io.c2.map_or(std::ptr::null(), |c| c.as_ptr().add(q * s)),
            c2s: io.c2s,
            out: io.out.as_mut_ptr().add(q * s),
            ypsi: None,
        }
    }
}

/// The raw pointers of a row's x strips (at most two: left and right).
fn strip_ptrs<T>(x: &mut [XStrip<'_, T>]) -> [Option<XPtrs<T>>; 2] {
    std::array::from_fn(|q| {
        x.get_mut(q).map(|st| XPtrs {
            j0: st.j0,
            j1: st.j1,
            base: st.base,
            psi: st.psi.as_mut_ptr(),
            zeta: st.zeta.as_mut_ptr(),
            a: st.a.as_ptr(),
            b: st.b.as_ptr(),
        })
    })
}

/// `psi_x` over the row's strips: before any column's update, which reads it `R` columns
/// either side.
///
/// # Safety
/// As [`update_body`].
#[inline(always)]
unsafe fn psi_x_row<T: RealElement, V: Lanes<T>, const R: usize>(
    v: V,
    t: &Taps<T, R>,
    rows: &Rows<T, R>,
    strips: &[Option<XPtrs<T>>; 2],
) {
    for st in strips.iter().flatten() {
        let mut j = st.j0 / V::N * V::N;
        while j < st.j1 {
            // SAFETY: inside the strip's checked ranges (caller).
            unsafe { psi_x_cols::<T, V, R>(v, t, rows.ctr, st, j) };
            j += V::N;
        }
    }
}

/// The columns of one x strip of a row, with the x CPML terms (and the y terms where `y`).
///
/// # Safety
/// As [`update_body`].
#[inline(always)]
unsafe fn strip_segment<T: RealElement, V: Lanes<T>, const R: usize>(
    v: V,
    t: &Taps<T, R>,
    rows: &Rows<T, R>,
    st: &XPtrs<T>,
    y: Option<&YPtrs<T>>,
) {
    // SAFETY: as the caller's.
    unsafe {
        match y {
            Some(_) => segment::<T, V, R, true, true>(v, t, rows, (st.j0, st.j1), Some(st), y),
            None => segment::<T, V, R, true, false>(v, t, rows, (st.j0, st.j1), Some(st), None),
        }
    }
}

/// The leapfrog update of one row with its CPML terms: `x` holds the row's x strips in column
/// order (none without an x CPML), `y` the y CPML when the row is inside a y layer.
///
/// # Panics
/// If the row is not laid out as the sweep's layout promises (see [`check`]), or the y CPML
/// rows are too short.
#[inline(always)]
fn update_body<T: RealElement, V: Lanes<T>, const R: usize>(
    v: V,
    t: &Taps<T, R>,
    io: &mut Io<'_, T>,
    x: &mut [XStrip<'_, T>],
    y: Option<YRow<'_, T>>,
) {
    let s = io.stride;
    let (c0, c1) = (io.c0, io.c1);
    check::<T, R>(V::N, io, 1, &[x]);
    if let Some(y) = &y {
        assert!(
            y.psi.len() >= (2 * R + 1) * s && y.zeta.len() >= s,
            "y CPML rows"
        );
    }
    // SAFETY: `io` holds one row (checked).
    let mut rows = unsafe { rows_of::<T, R>(io, 0) };
    rows.ypsi = y.as_ref().map(|y| {
        let p = y.psi.as_ptr();
        // SAFETY: rows of `y.psi` (checked above).
        let prow = |r: usize| unsafe { p.add(r * s) };
        (
            std::array::from_fn(|k| prow(R - k - 1)),
            std::array::from_fn(|k| prow(R + k + 1)),
        )
    });
    let strips = strip_ptrs(x);
    let yp = y.map(|y| YPtrs {
        zeta: y.zeta.as_mut_ptr(),
        a: y.a,
        b: y.b,
    });
    let yp = yp.as_ref();
    // SAFETY: every vector access of these calls lies inside the rows, strips and columns
    // that `check` verified above (the calls read and write nothing else).
    unsafe {
        psi_x_row::<T, V, R>(v, t, &rows, &strips);
        // Segments in column order: the strips with their x terms, the columns between without.
        let mut j = c0;
        for st in strips.iter().flatten() {
            if st.j0 > j {
                plain_or_y::<T, V, R>(v, t, &rows, (j, st.j0), yp);
            }
            strip_segment::<T, V, R>(v, t, &rows, st, yp);
            j = st.j1;
        }
        if j < c1 {
            plain_or_y::<T, V, R>(v, t, &rows, (j, c1), yp);
        }
    }
}

/// The leapfrog update of two consecutive rows outside the y layers: `io` holds both (its
/// window the `2 R + 2` rows they read), `xa` and `xb` their x strips. The columns between the
/// strips run through [`interior2`](vector::interior2); every column gets the operations of
/// [`update_body`].
///
/// # Panics
/// As [`update_body`], or if the rows' strips differ in their columns.
#[inline(always)]
fn update2_body<T: RealElement, V: Lanes<T>, const R: usize>(
    v: V,
    t: &Taps<T, R>,
    io: &mut Io<'_, T>,
    xa: &mut [XStrip<'_, T>],
    xb: &mut [XStrip<'_, T>],
) {
    let (c0, c1) = (io.c0, io.c1);
    check::<T, R>(V::N, io, 2, &[xa, xb]);
    assert!(
        xa.len() == xb.len()
            && xa
                .iter()
                .zip(xb.iter())
                .all(|(a, b)| (a.j0, a.j1) == (b.j0, b.j1)),
        "both rows have the same x strips"
    );
    // SAFETY: `io` holds two rows (checked).
    let (ra, rb) = unsafe { (rows_of::<T, R>(io, 0), rows_of::<T, R>(io, 1)) };
    let (sa, sb) = (strip_ptrs(xa), strip_ptrs(xb));
    // SAFETY: every vector access of these calls lies inside the rows, strips and columns
    // that `check` verified above (the calls read and write nothing else).
    unsafe {
        psi_x_row::<T, V, R>(v, t, &ra, &sa);
        psi_x_row::<T, V, R>(v, t, &rb, &sb);
        let mut j = c0;
        for (a, b) in sa.iter().flatten().zip(sb.iter().flatten()) {
            if a.j0 > j {
                plain2::<T, V, R>(v, t, (&ra, &rb), (j, a.j0));
            }
            strip_segment::<T, V, R>(v, t, &ra, a, None);
            strip_segment::<T, V, R>(v, t, &rb, b, None);
            j = a.j1;
        }
        if j < c1 {
            plain2::<T, V, R>(v, t, (&ra, &rb), (j, c1));
        }
    }
}

/// A segment outside the x strips.
///
/// # Safety
/// As [`segment`].
#[inline(always)]
unsafe fn plain_or_y<T: RealElement, V: Lanes<T>, const R: usize>(
    v: V,
    t: &Taps<T, R>,
    rows: &Rows<T, R>,
    cols: (usize, usize),
    y: Option<&YPtrs<T>>,
) {
    // SAFETY: as the caller's.
    unsafe {
        match y {
            Some(_) => segment::<T, V, R, false, true>(v, t, rows, cols, None, y),
            None => segment::<T, V, R, false, false>(v, t, rows, cols, None, None),
        }
    }
}

/// `psi_y <- b psi_y + a Dy c` over columns `[c0, c1)` of one row: `win` holds rows
/// `q - R ..= q + R` of p^n.
///
/// # Panics
/// If the rows are shorter than the aligned vectors covering `[c0, c1)`.
#[inline(always)]
fn psi_y_body<T: RealElement, V: Lanes<T>, const R: usize>(
    v: V,
    t: &Taps<T, R>,
    win: &[T],
    (s, c0, c1): (usize, usize, usize),
    (a, b): (T, T),
    psi: &mut [T],
) {
    let n = V::N;
    assert!(
        c0.is_multiple_of(n) && s.is_multiple_of(n) && c1.div_ceil(n) * n <= s,
        "columns [{c0}, {c1}) in rows of {s}"
    );
    assert!(
        win.len() >= (2 * R + 1) * s && psi.len() >= s,
        "row lengths"
    );
    let w = win.as_ptr();
    // SAFETY: rows of `win` (checked above).
    let row = |r: usize| unsafe { w.add(r * s) };
    let up: [*const T; R] = std::array::from_fn(|k| row(R - k - 1));
    let dn: [*const T; R] = std::array::from_fn(|k| row(R + k + 1));
    let p = psi.as_mut_ptr();
    let mut j = c0;
    // SAFETY: whole vectors inside the rows (checked above).
    unsafe {
        while j < c1 {
            let mut d = v.splat(T::zero());
            for k in 0..R {
                let diff = v.sub(v.load_ptr(dn[k].add(j)), v.load_ptr(up[k].add(j)));
                d = v.mul_add(v.splat(t.d1y[k]), diff, d);
            }
            let pj = p.add(j);
            let b_psi = v.mul(v.splat(b), v.load_ptr(pj));
            put(v, pj, j, (c0, c1), v.mul_add(v.splat(a), d, b_psi));
            j += n;
        }
    }
}

/// Calls `$body::<T, V, R>(v, args)` compiled for the instruction set `$isa`, with `V` that
/// set's vectors of `T` (the portable path: one unfused lane).
macro_rules! dispatch {
    ($isa:expr, $body:ident, ($($arg:ident : $ty:ty),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn wide<T: RealElement, const R: usize>(v: T::Avx512, $($arg: $ty),*) {
                $body::<T, T::Avx512, R>(v, $($arg),*);
            }
            #[target_feature(enable = "avx2,fma")]
            fn fast<T: RealElement, const R: usize>(v: T::Avx2, $($arg: $ty),*) {
                $body::<T, T::Avx2, R>(v, $($arg),*);
            }
            match ($isa, Avx512::try_new(), Avx2::try_new()) {
                // SAFETY: the token proves the CPU has the wrapper's instruction set.
                (Isa::Avx512, Some(w), _) => return unsafe { wide::<T, R>(T::avx512(w), $($arg),*) },
                // SAFETY: as above.
                (Isa::Avx512 | Isa::Avx2Fma, _, Some(a)) => return unsafe { fast::<T, R>(T::avx2(a), $($arg),*) },
                _ => {}
            }
        }
        $body::<T, T::Scalar, R>(T::scalar(Scalar), $($arg),*)
    }};
}

/// [`update_body`] on the instruction set `isa`.
pub(crate) fn update<T: RealElement, const R: usize>(
    isa: Isa,
    t: &Taps<T, R>,
    io: &mut Io<'_, T>,
    x: &mut [XStrip<'_, T>],
    y: Option<YRow<'_, T>>,
) {
    dispatch!(isa, update_body, (t: &Taps<T, R>, io: &mut Io<'_, T>, x: &mut [XStrip<'_, T>], y: Option<YRow<'_, T>>));
}

/// [`update2_body`] on the instruction set `isa`.
pub(crate) fn update2<T: RealElement, const R: usize>(
    isa: Isa,
    t: &Taps<T, R>,
    io: &mut Io<'_, T>,
    xa: &mut [XStrip<'_, T>],
    xb: &mut [XStrip<'_, T>],
) {
    dispatch!(isa, update2_body, (t: &Taps<T, R>, io: &mut Io<'_, T>, xa: &mut [XStrip<'_, T>], xb: &mut [XStrip<'_, T>]));
}

/// [`psi_y_body`] on the instruction set `isa`.
pub(crate) fn psi_y<T: RealElement, const R: usize>(
    isa: Isa,
    t: &Taps<T, R>,
    win: &[T],
    geo: (usize, usize, usize),
    ab: (T, T),
    psi: &mut [T],
) {
    dispatch!(isa, psi_y_body, (t: &Taps<T, R>, win: &[T], geo: (usize, usize, usize), ab: (T, T), psi: &mut [T]));
}
