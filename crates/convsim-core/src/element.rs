//! Element types a plan can work on: `f32`, `f64`, `Complex32`, `Complex64`.

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use num_complex::Complex;
use num_traits::{Float, One, Zero};
use rustfft::FftNum;

/// A scalar the convolution core computes with.
///
/// Implemented for `f32`, `f64`, `Complex<f32>` and `Complex<f64>`. Kernels and data share the
/// element type; a real kernel applied to complex data is written as a complex kernel with zero
/// imaginary parts.
pub trait Element:
    Copy
    + Send
    + Sync
    + Debug
    + PartialEq
    + Zero
    + One
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
    + 'static
{
    /// The real type underneath (`f32` for `f32` and `Complex32`).
    type Real: RealElement;
    /// `true` for the complex types.
    const IS_COMPLEX: bool;
    /// Short name used in recipes and benchmark ids (`"f32"`, `"f64"`, `"c32"`, `"c64"`).
    const NAME: &'static str;
    /// Converts a real `f64` (a boundary constant, a stencil weight).
    fn from_f64(v: f64) -> Self;
    /// Embeds a real value.
    fn from_real(r: Self::Real) -> Self;
    /// Squared modulus `|z|^2`.
    fn abs_sq(self) -> Self::Real;
    /// Complex conjugate (identity for real types); the adjoint of a correlation uses it.
    #[must_use]
    fn conj(self) -> Self;
    /// Widens to `Complex<f64>` (for tolerances and reports).
    fn to_c64(self) -> Complex<f64>;
    /// Multiplies by a real scalar.
    #[must_use]
    fn scale(self, s: Self::Real) -> Self;
    /// Real part (the value itself for real types).
    fn re(self) -> Self::Real;
    /// `self * b + c`, fused (one rounding) for the real types. Only fast where the target has
    /// FMA instructions (the SIMD paths call it inside `#[target_feature(enable = "fma")]`
    /// code); portable paths use `self * b + c` instead.
    #[must_use]
    fn fused_mul_add(self, b: Self, c: Self) -> Self;
    /// As a complex number of the same precision.
    fn to_complex(self) -> Complex<Self::Real>;
    /// From a complex number of the same precision; real types keep the real part.
    fn from_complex(c: Complex<Self::Real>) -> Self;
    /// The slice as its real type, if `Self` is real (`Self == Self::Real`); `None` for complex
    /// types. Lets generic code hand real data to real-only routines without a copy.
    fn real_slice_mut(s: &mut [Self]) -> Option<&mut [Self::Real]> {
        let _ = s;
        None
    }
}

/// The real element types, `f32` and `f64`, usable as FFT scalars.
pub trait RealElement:
    Element<Real = Self> + Float + FftNum + Default + crate::simd::SimdReal
{
}

macro_rules! impl_real {
    ($t:ty, $name:literal) => {
        impl Element for $t {
            type Real = $t;
            const IS_COMPLEX: bool = false;
            const NAME: &'static str = $name;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn from_real(r: Self::Real) -> Self {
                r
            }
            #[inline(always)]
            fn abs_sq(self) -> Self::Real {
                self * self
            }
            #[inline(always)]
            fn conj(self) -> Self {
                self
            }
            #[inline(always)]
            fn to_c64(self) -> Complex<f64> {
                Complex::new(f64::from(self), 0.0)
            }
            #[inline(always)]
            fn scale(self, s: Self::Real) -> Self {
                self * s
            }
            #[inline(always)]
            fn re(self) -> Self::Real {
                self
            }
            #[inline(always)]
            fn fused_mul_add(self, b: Self, c: Self) -> Self {
                self.mul_add(b, c)
            }
            #[inline(always)]
            fn to_complex(self) -> Complex<Self::Real> {
                Complex::new(self, 0.0)
            }
            #[inline(always)]
            fn from_complex(c: Complex<Self::Real>) -> Self {
                c.re
            }
            #[inline(always)]
            fn real_slice_mut(s: &mut [Self]) -> Option<&mut [Self::Real]> {
                Some(s)
            }
        }
        impl RealElement for $t {}
    };
}

macro_rules! impl_complex {
    ($t:ty, $name:literal) => {
        impl Element for Complex<$t> {
            type Real = $t;
            const IS_COMPLEX: bool = true;
            const NAME: &'static str = $name;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                Complex::new(v as $t, 0.0)
            }
            #[inline(always)]
            fn from_real(r: Self::Real) -> Self {
                Complex::new(r, 0.0)
            }
            #[inline(always)]
            fn abs_sq(self) -> Self::Real {
                self.norm_sqr()
            }
            #[inline(always)]
            fn conj(self) -> Self {
                Complex::conj(&self)
            }
            #[inline(always)]
            fn to_c64(self) -> Complex<f64> {
                Complex::new(f64::from(self.re), f64::from(self.im))
            }
            #[inline(always)]
            fn scale(self, s: Self::Real) -> Self {
                Complex::new(self.re * s, self.im * s)
            }
            #[inline(always)]
            fn re(self) -> Self::Real {
                self.re
            }
            #[inline(always)]
            fn fused_mul_add(self, b: Self, c: Self) -> Self {
                self * b + c
            }
            #[inline(always)]
            fn to_complex(self) -> Complex<Self::Real> {
                self
            }
            #[inline(always)]
            fn from_complex(c: Complex<Self::Real>) -> Self {
                c
            }
        }
    };
}

impl_real!(f32, "f32");
impl_real!(f64, "f64");
impl_complex!(f32, "c32");
impl_complex!(f64, "c64");
