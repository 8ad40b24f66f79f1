//! The pointwise products of a line with the transfer function: portable, and AVX2+FMA for
//! `Complex64` and `Complex32`.
//!
//! The instruction set follows the crate's convention ([`crate::simd`]): the plan chooses an
//! [`Isa`] once ([`super::SpectralPlan::set_simd`]) and passes it in. The `TypeId` tests below
//! choose the *element type* of a generic `R`, not the instruction set: after monomorphisation
//! each is a comparison of two constants, folded away, so `mul_line::<f64>` compiles to exactly
//! the `Complex64` kernel call (no run-time test, nothing lost to inlining). Replacing them with
//! a method of `RealElement` would compile to the same code but put these AVX2 kernels into the
//! public element trait, which every other module would then carry; they stay local here.

use std::any::TypeId;

use num_complex::Complex;

use crate::RealElement;
use crate::simd::Isa;

use super::{cast_mut, cast_ref};

/// `v[i] *= f[i]`, with AVX2+FMA when `isa` has them (a quarter of the time of a split-step
/// line is these products, which the compiler leaves scalar for SSE2).
pub(super) fn mul_line<R: RealElement>(isa: Isa, v: &mut [Complex<R>], f: &[Complex<R>]) {
    assert_eq!(v.len(), f.len(), "mul_line: lengths (v, f)");
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        if TypeId::of::<R>() == TypeId::of::<f64>() {
            // SAFETY: the plan's `isa` came from `Isa::detect_up_to`, which returns a set other
            // than `Portable` only after detecting AVX2 and FMA; the lengths are equal (asserted
            // above); `R` is `f64`, so the casts are to the same type.
            unsafe { mul_line_c64_avx2(cast_mut(v), cast_ref(f), None) };
            return;
        }
        if TypeId::of::<R>() == TypeId::of::<f32>() {
            // SAFETY: as above.
            unsafe { mul_line_c32_avx2(cast_mut(v), cast_ref(f)) };
            return;
        }
    }
    let _ = isa;
    for (a, &b) in v.iter_mut().zip(f) {
        *a = *a * b;
    }
}

/// [`mul_line_scaled`] in the plan's precision (the complex128 fast path where it applies).
pub(super) fn mul_line_scaled_r<R: RealElement>(
    isa: Isa,
    v: &mut [Complex<R>],
    f: &[Complex<R>],
    s: Complex<R>,
) {
    assert_eq!(v.len(), f.len(), "mul_line_scaled: lengths (v, f)");
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable && TypeId::of::<R>() == TypeId::of::<f64>() {
        let s = Complex::new(s.re.to_c64().re, s.im.to_c64().re);
        // SAFETY: the plan's `isa` came from `Isa::detect_up_to`, which returns a set other
        // than `Portable` only after detecting AVX2 and FMA; the lengths are equal (asserted
        // above); `R` is `f64` (tested above), so the casts are to the same type.
        unsafe { mul_line_c64_avx2(cast_mut(v), cast_ref(f), Some(s)) };
        return;
    }
    let _ = isa;
    for (a, &b) in v.iter_mut().zip(f) {
        *a = *a * (b * s);
    }
}

/// `v[i] *= f[i] * s` (with `s = 1` when `None`): the pointwise product of a line of
/// complex128 values with a transfer function (and a scalar: one factor of an outer product),
/// in place, on the instruction set `isa` (AVX2+FMA for any set but [`Isa::Portable`]).
///
/// For callers that apply such products outside a plan of this crate (the split-step potential
/// factors of `convsim-quantum`): they choose `isa` once, when they are built, as plans do.
/// `Portable` does not fuse multiply-adds, so it agrees with the vector path to rounding.
///
/// # Safety
/// `isa` must come from [`Isa::detect_up_to`] (or be [`Isa::Portable`]): any other set runs
/// AVX2+FMA instructions, which the CPU may not have.
///
/// # Panics
/// If the lengths differ.
pub unsafe fn mul_line_scaled_isa(
    isa: Isa,
    v: &mut [Complex<f64>],
    f: &[Complex<f64>],
    s: Option<Complex<f64>>,
) {
    assert_eq!(v.len(), f.len(), "mul_line_scaled: lengths (v, f)");
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // SAFETY: the caller's `isa` came from `Isa::detect_up_to`, which returns a set other
        // than `Portable` only after detecting AVX2 and FMA; the lengths are equal (asserted
        // above).
        unsafe { mul_line_c64_avx2(v, f, s) };
        return;
    }
    let _ = isa;
    match s {
        Some(s) => v.iter_mut().zip(f).for_each(|(a, &b)| *a *= b * s),
        None => v.iter_mut().zip(f).for_each(|(a, &b)| *a *= b),
    }
}

/// `v[i] *= f[i]` (or `f[i] * s`) for complex128, two products per 256-bit vector:
/// `(ar br - ai bi, ai br + ar bi)` as one `fmaddsub(a, br, swap(a) * bi)`.
///
/// # Safety
/// AVX2 and FMA must be available and `v.len() == f.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn mul_line_c64_avx2(
    v: &mut [Complex<f64>],
    f: &[Complex<f64>],
    s: Option<Complex<f64>>,
) {
    use std::arch::x86_64::{
        __m256d, _mm256_fmaddsub_pd, _mm256_loadu_pd, _mm256_movedup_pd, _mm256_mul_pd,
        _mm256_permute_pd, _mm256_set_pd, _mm256_storeu_pd,
    };
    // Inlined into this AVX2+FMA function so that its intrinsics compile for it.
    #[allow(
        clippy::inline_always,
        reason = "inlined into the AVX2+FMA function so that its intrinsics compile for it"
    )]
    #[inline(always)]
    fn cmul(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: called only inside the AVX2+FMA function below.
        unsafe {
            let (br, bi) = (_mm256_movedup_pd(b), _mm256_permute_pd::<0b1111>(b));
            let swapped = _mm256_permute_pd::<0b0101>(a);
            _mm256_fmaddsub_pd(a, br, _mm256_mul_pd(swapped, bi))
        }
    }
    let pairs = v.len() / 2;
    let (vp, fp) = (v.as_mut_ptr().cast::<f64>(), f.as_ptr().cast::<f64>());
    let sv = s.map(|s| _mm256_set_pd(s.im, s.re, s.im, s.re));
    for k in 0..pairs {
        // SAFETY: `4 k + 3 < 2 len`: both 32-byte accesses lie inside the slices (a
        // `Complex<f64>` is two `f64`, `repr(C)`); unaligned loads and stores.
        unsafe {
            let a = _mm256_loadu_pd(vp.add(4 * k));
            let mut b = _mm256_loadu_pd(fp.add(4 * k));
            if let Some(sv) = sv {
                b = cmul(b, sv);
            }
            _mm256_storeu_pd(vp.add(4 * k), cmul(a, b));
        }
    }
    for i in 2 * pairs..v.len() {
        v[i] *= s.map_or(f[i], |s| f[i] * s);
    }
}

/// `v[i] *= f[i]` for complex64, four products per 256-bit vector (as the complex128 case).
///
/// # Safety
/// AVX2 and FMA must be available and `v.len() == f.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn mul_line_c32_avx2(v: &mut [Complex<f32>], f: &[Complex<f32>]) {
    use std::arch::x86_64::{
        _mm256_fmaddsub_ps, _mm256_loadu_ps, _mm256_movehdup_ps, _mm256_moveldup_ps, _mm256_mul_ps,
        _mm256_permute_ps, _mm256_storeu_ps,
    };
    let quads = v.len() / 4;
    let (vp, fp) = (v.as_mut_ptr().cast::<f32>(), f.as_ptr().cast::<f32>());
    for k in 0..quads {
        // SAFETY: `8 k + 7 < 2 len`, as in the complex128 case.
        unsafe {
            let a = _mm256_loadu_ps(vp.add(8 * k));
            let b = _mm256_loadu_ps(fp.add(8 * k));
            let (br, bi) = (_mm256_moveldup_ps(b), _mm256_movehdup_ps(b));
            let swapped = _mm256_permute_ps::<0b1011_0001>(a);
            _mm256_storeu_ps(
                vp.add(8 * k),
                _mm256_fmaddsub_ps(a, br, _mm256_mul_ps(swapped, bi)),
            );
        }
    }
    for i in 4 * quads..v.len() {
        v[i] *= f[i];
    }
}
