//! Moving data between the caller's arrays and the FFT buffers: same-type slice casts, column
//! gathers and scatters through cache-line blocks, precision conversion of the transfer values.

use std::any::TypeId;

use ndarray::{ArrayView2, ArrayViewMut2};
use num_complex::{Complex, Complex64};

use crate::{Element, RealElement};

/// Reinterprets a slice of `A` as a slice of `B` when they are the same type (complex data seen
/// as `Complex<T::Real>`, real rows seen as `T`), which the generic code cannot name directly.
///
/// # Panics
/// If `A` and `B` are different types (a bug in this module).
pub(super) fn cast_mut<A: 'static, B: 'static>(s: &mut [A]) -> &mut [B] {
    assert_eq!(
        TypeId::of::<A>(),
        TypeId::of::<B>(),
        "cast between different types"
    );
    // SAFETY: `A` and `B` are the same type (checked above), so layout, length and validity
    // are unchanged; the borrow is carried over.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<B>(), s.len()) }
}

/// Shared-slice version of [`cast_mut`].
pub(super) fn cast_ref<A: 'static, B: 'static>(s: &[A]) -> &[B] {
    assert_eq!(
        TypeId::of::<A>(),
        TypeId::of::<B>(),
        "cast between different types"
    );
    // SAFETY: as in `cast_mut`.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<B>(), s.len()) }
}

/// Copies columns `b0 .. b0 + w` of a chunk with contiguous rows into `buf`, column-major
/// (`w` columns of `ny` values; `w = buf.len() / ny`): each row contributes a contiguous run of
/// `w` values, written `ny` apart. Rows go four at a time, so each column receives four
/// consecutive values (a whole cache line of `Complex64`) per visit.
///
/// # Panics
/// If the chunk's rows are not contiguous or hold fewer than `b0 + w` columns.
pub(super) fn gather_columns<E: 'static, R: RealElement>(
    chunk: &ArrayView2<'_, E>,
    b0: usize,
    buf: &mut [Complex<R>],
) {
    let (ny, nc) = chunk.dim();
    let w = buf.len() / ny;
    assert!(
        b0 + w <= nc && (nc <= 1 || chunk.strides()[1] == 1),
        "column block in the chunk"
    );
    let (p, rs) = (chunk.as_ptr(), chunk.strides()[0]);
    let row = |i: usize| -> &[Complex<R>] {
        // SAFETY: row `i < ny` of the chunk starts `i * rs` elements after its first element
        // and holds `nc >= b0 + w` contiguous elements of type `E` (asserted above), which
        // `cast_ref` checks is `Complex<R>` itself (the plan's element type).
        unsafe {
            cast_ref::<E, Complex<R>>(std::slice::from_raw_parts(
                p.offset(i as isize * rs).add(b0),
                w,
            ))
        }
    };
    let mut i = 0;
    while i + 4 <= ny {
        let (r0, r1, r2, r3) = (row(i), row(i + 1), row(i + 2), row(i + 3));
        for (c, col) in buf.chunks_exact_mut(ny).enumerate() {
            let dst: &mut [Complex<R>; 4] = (&mut col[i..i + 4]).try_into().expect("four rows");
            *dst = [r0[c], r1[c], r2[c], r3[c]];
        }
        i += 4;
    }
    for i in i..ny {
        for (c, v) in row(i).iter().enumerate() {
            buf[c * ny + i] = *v;
        }
    }
}

/// The inverse of [`gather_columns`].
///
/// # Panics
/// As [`gather_columns`].
pub(super) fn scatter_columns<E: 'static, R: RealElement>(
    buf: &[Complex<R>],
    b0: usize,
    chunk: &mut ArrayViewMut2<'_, E>,
) {
    let (ny, nc) = chunk.dim();
    let w = buf.len() / ny;
    assert!(
        b0 + w <= nc && (nc <= 1 || chunk.strides()[1] == 1),
        "column block in the chunk"
    );
    let (p, rs) = (chunk.as_mut_ptr(), chunk.strides()[0]);
    let row = |i: usize| -> &mut [Complex<R>] {
        // SAFETY: as in `gather_columns`; distinct rows are disjoint, and each is written only
        // while no other reference to it exists (the chunk is borrowed mutably).
        unsafe {
            cast_mut::<E, Complex<R>>(std::slice::from_raw_parts_mut(
                p.offset(i as isize * rs).add(b0),
                w,
            ))
        }
    };
    let mut i = 0;
    while i + 4 <= ny {
        let (r0, r1, r2, r3) = (row(i), row(i + 1), row(i + 2), row(i + 3));
        for (c, col) in buf.chunks_exact(ny).enumerate() {
            let src: &[Complex<R>; 4] = (&col[i..i + 4]).try_into().expect("four rows");
            (r0[c], r1[c], r2[c], r3[c]) = (src[0], src[1], src[2], src[3]);
        }
        i += 4;
    }
    for i in i..ny {
        for (c, v) in row(i).iter_mut().enumerate() {
            *v = buf[c * ny + i];
        }
    }
}

/// A `Complex64` value in the plan's precision.
pub(super) fn to_complex_real<R: RealElement>(h: Complex64) -> Complex<R> {
    Complex::new(
        <R as Element>::from_f64(h.re),
        <R as Element>::from_f64(h.im),
    )
}
