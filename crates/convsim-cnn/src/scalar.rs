//! The element types of the CNN crate (`f32`, `f64`) and the few special functions the
//! activations need.

use convsim_core::{Isa, RealElement};

/// A real element type layers compute in: `f32` or `f64`.
///
/// Adds to [`RealElement`] the vectorisable element-wise kernels of the activations, so that
/// `f32` can use a fast rational `tanh` (the network benchmark spends much of its time there)
/// while `f64` keeps the libm functions (gradient checks need full accuracy).
pub trait Float: RealElement {
    /// `y[i] = tanh(x[i])`, with the inner loop compiled for `isa` (the caller's choice, made
    /// once when it was built: [`crate::Activation::simd`]).
    ///
    /// # Safety
    /// `isa` must come from [`Isa::detect_up_to`] (or be [`Isa::Portable`]): the `f32` loop
    /// runs AVX2+FMA instructions for any other value, which the CPU may not have.
    unsafe fn tanh_slice(isa: Isa, x: &[Self], y: &mut [Self]);
    /// Widens to `f64`.
    fn to_f64_lossless(self) -> f64;
    /// Converts from `f64` (rounding for `f32`); unambiguous shorthand for
    /// [`convsim_core::Element::from_f64`].
    #[inline]
    #[must_use]
    fn of(v: f64) -> Self {
        <Self as convsim_core::Element>::from_f64(v)
    }
}

impl Float for f64 {
    /// libm's `tanh` whatever `isa` (full accuracy for gradient checks; nothing to vectorise).
    unsafe fn tanh_slice(_isa: Isa, x: &[f64], y: &mut [f64]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v.tanh();
        }
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        self
    }
}

impl Float for f32 {
    unsafe fn tanh_slice(isa: Isa, x: &[f32], y: &mut [f32]) {
        // The loop has no AVX-512 variant; a machine with AVX-512F also has AVX2+FMA
        // (`Isa::detect_up_to` only returns `Avx512` on top of `Avx2Fma`).
        #[cfg(target_arch = "x86_64")]
        if matches!(isa, Isa::Avx2Fma | Isa::Avx512) {
            // SAFETY: the caller guarantees `isa` came from `Isa::detect_up_to`, which returns
            // these only after detecting AVX2 and FMA on the running CPU.
            unsafe { tanh_slice_avx2(x, y) };
            return;
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = isa;
        tanh_slice_body::<false>(x, y);
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        f64::from(self)
    }
}

/// The loop of [`Float::tanh_slice`] for `f32` compiled for AVX2+FMA (8 lanes, fused
/// multiply-adds), chosen once by the caller ([`Isa`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tanh_slice_avx2(x: &[f32], y: &mut [f32]) {
    tanh_slice_body::<true>(x, y);
}

// Inlined into the AVX2+FMA wrapper so the loop is compiled (and vectorised) for it.
#[allow(
    clippy::inline_always,
    reason = "inlined into the AVX2+FMA wrapper so the loop is compiled for it"
)]
#[inline(always)]
fn tanh_slice_body<const FMA: bool>(x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = tanh_rational::<FMA>(v);
    }
}

/// `a * b + c`, fused only where the caller is compiled with FMA (a software `fmaf` call would
/// be slower than the separate operations).
#[allow(
    clippy::inline_always,
    reason = "inlined so the fused form compiles to one FMA instruction inside the AVX2+FMA loop"
)]
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `tanh` in `f32` as a branch-free rational function (the 13/6 minimax approximation used by
/// Eigen and XLA), accurate to 4e-7 absolute; it vectorises, unlike libm's `tanhf`.
#[inline]
#[must_use]
pub fn tanh_f32(x: f32) -> f32 {
    tanh_rational::<false>(x)
}

#[allow(
    clippy::inline_always,
    reason = "inlined into the AVX2+FMA wrapper so the rational form is vectorised for it"
)]
#[inline(always)]
#[allow(
    clippy::excessive_precision,
    reason = "the published coefficients, as written"
)]
fn tanh_rational<const FMA: bool>(x: f32) -> f32 {
    // Beyond |x| = 7.905 the rational form rounds to +-1 in f32; clamping keeps it there.
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let mut p = -2.760_768_5e-16_f32;
    p = madd::<FMA>(p, x2, 2.000_187_9e-13);
    p = madd::<FMA>(p, x2, -8.604_671_5e-11);
    p = madd::<FMA>(p, x2, 5.122_297e-8);
    p = madd::<FMA>(p, x2, 1.485_722_4e-5);
    p = madd::<FMA>(p, x2, 6.372_619_3e-4);
    p = madd::<FMA>(p, x2, 4.893_524_6e-3);
    let mut q = 1.198_258_4e-6_f32;
    q = madd::<FMA>(q, x2, 1.185_347_1e-4);
    q = madd::<FMA>(q, x2, 2.268_434_6e-3);
    q = madd::<FMA>(q, x2, 4.893_525e-3);
    x * p / q
}

/// The error function to about 1e-15 absolute, from the everywhere-convergent series
/// `erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1))`, whose terms are all
/// positive (no cancellation). Beyond `|x| = 6`, `erf(x) = +-1` to double precision.
#[must_use]
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x.abs() >= 6.0 {
        return x.signum();
    }
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    loop {
        n += 1.0;
        term *= 2.0 * x2 / (2.0 * n + 1.0);
        sum += term;
        if term.abs() <= 1e-17 * sum.abs() {
            break;
        }
    }
    (2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use convsim_core::Simd;

    #[test]
    fn erf_reference_values() {
        // Abramowitz & Stegun table 7.1 / mpmath values.
        let cases = [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.5, 0.999_999_256_901_627_7),
            (-1.0, -0.842_700_792_949_714_9),
        ];
        for (x, e) in cases {
            // A few ulp of 1: the series sums ~x^2 terms, each rounded once.
            assert!((erf(x) - e).abs() < 4e-15, "erf({x}) = {} vs {e}", erf(x));
        }
    }

    #[test]
    fn fast_tanh_matches_libm() {
        // 4e-7 absolute: about 7 ulp of 1.0 in f32, the accuracy of the minimax fit.
        let mut worst = 0.0_f64;
        for i in -20_000..=20_000 {
            let x = i as f32 * 5e-4;
            let e = f64::from(x).tanh();
            worst = worst.max((f64::from(tanh_f32(x)) - e).abs());
        }
        assert!(worst < 4e-7, "max error {worst}");
        // The slice version on every instruction set the machine has agrees to the same
        // accuracy.
        let xs: Vec<f32> = (-20_000..=20_000).map(|i| i as f32 * 5e-4).collect();
        let mut ys = vec![0.0_f32; xs.len()];
        for simd in [Simd::Portable, Simd::Best] {
            // SAFETY: the `Isa` comes from `Isa::detect_up_to`.
            unsafe { f32::tanh_slice(Isa::detect_up_to(simd), &xs, &mut ys) };
            for (x, y) in xs.iter().zip(&ys) {
                assert!(
                    (f64::from(*y) - f64::from(*x).tanh()).abs() < 4e-7,
                    "{simd:?}"
                );
            }
        }
        assert_eq!(tanh_f32(100.0), 1.0);
        assert_eq!(tanh_f32(-100.0), -1.0);
    }
}
