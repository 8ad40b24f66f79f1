//! Explicit vectors: a kernel body written once over `T` and a [`Lanes`] type runs on every
//! instruction set.
//!
//! A `Lanes<T>` value is a *token*: proof that the running CPU has the instruction set, so its
//! methods may use the set's intrinsics. [`Scalar`] (one lane, unfused multiply-add) always
//! exists; [`Fma1`] (one lane, fused), [`Avx2`] and [`Avx512`] only from their `try_new`, which
//! checks the CPU (a cached flag: cheap enough to call once per row). Kernel bodies are
//! `#[inline(always)]` and generic over the token; a `#[target_feature]` wrapper of the same set
//! calls them, so after inlining every intrinsic is compiled for it. Plans record their
//! [`Isa`](super::Isa) once and ask for its token at each call.
//!
//! Every token computes `mul_add(a, b, c)` as `a * b + c`: fused (one rounding) on the SIMD
//! sets and [`Fma1`], unfused on [`Scalar`]. A body that processes a row in blocks of
//! `L::N` lanes and finishes the last few columns with [`Fma1`] therefore gives bitwise the same
//! result on AVX2 and on AVX-512, and differs from [`Scalar`] by rounding only.

// The methods must be inlined into the `#[target_feature]` wrappers of their kernels.
#![allow(
    clippy::inline_always,
    reason = "the methods must be inlined into the `#[target_feature]` wrappers of their kernels"
)]

/// `N` lanes of `T` on one instruction set (see the [module docs](self)).
pub trait Lanes<T: Copy>: Copy + Send + Sync {
    /// The vector type.
    type V: Copy;
    /// Lanes per vector.
    const N: usize;
    /// All lanes `v`.
    fn splat(self, v: T) -> Self::V;
    /// The first `N` elements of `s`.
    ///
    /// # Panics
    /// If `s` is shorter than `N`.
    fn load(self, s: &[T]) -> Self::V;
    /// Writes the lanes to the first `N` elements of `s`.
    ///
    /// # Panics
    /// If `s` is shorter than `N`.
    fn store(self, s: &mut [T], v: Self::V);
    /// The `N` elements at `p`.
    ///
    /// # Safety
    /// `p .. p + N` is readable (inside one allocation, initialised).
    unsafe fn load_ptr(self, p: *const T) -> Self::V;
    /// Writes the lanes to `p .. p + N`.
    ///
    /// # Safety
    /// `p .. p + N` is writable and nothing else accesses it meanwhile.
    unsafe fn store_ptr(self, p: *mut T, v: Self::V);
    /// Whether [`Lanes::shifted`] is cheaper than an unaligned load (lane shuffles on AVX-512):
    /// a kernel then loads aligned vectors and shifts them instead of loading at `j + k`.
    const SHIFTS: bool;
    /// Lanes `k .. k + N` of the concatenation `lo | mid | hi` counted from the first lane of
    /// `mid`, for `-N <= k <= N` (only where [`Lanes::SHIFTS`]; elsewhere this returns `mid`).
    fn shifted(self, lo: Self::V, mid: Self::V, hi: Self::V, k: isize) -> Self::V;
    /// A lane mask for [`Lanes::store_masked`].
    type Mask: Copy;
    /// The mask of lanes `lo .. hi` (`lo <= hi <= N`).
    fn mask(self, lo: usize, hi: usize) -> Self::Mask;
    /// Writes the masked lanes to `p ..`, leaving the others untouched.
    ///
    /// # Safety
    /// As [`Lanes::store_ptr`], for the masked lanes.
    unsafe fn store_masked(self, p: *mut T, m: Self::Mask, v: Self::V);
    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a * b`.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c` (fused except on [`Scalar`]).
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
}

/// One lane, `mul_add` unfused: the portable path.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scalar;

/// One lane, `mul_add` fused: the tail of a SIMD body (same rounding as its blocks). Obtained
/// from an instruction set with FMA.
#[derive(Clone, Copy, Debug)]
pub struct Fma1(());

/// 256-bit vectors with FMA (x86-64 AVX2 + FMA).
#[derive(Clone, Copy, Debug)]
pub struct Avx2(());

/// 512-bit vectors (x86-64 AVX-512F).
#[derive(Clone, Copy, Debug)]
pub struct Avx512(());

#[cfg(target_arch = "x86_64")]
fn has(avx512: bool) -> bool {
    use std::arch::is_x86_feature_detected as has;
    has!("avx2") && has!("fma") && (!avx512 || has!("avx512f"))
}

#[cfg(not(target_arch = "x86_64"))]
fn has(_avx512: bool) -> bool {
    false
}

impl Fma1 {
    /// The token, if the CPU has FMA (with AVX2, the sets convsim's fused paths need).
    #[must_use]
    pub fn try_new() -> Option<Self> {
        has(false).then_some(Fma1(()))
    }
}

impl Avx2 {
    /// The token, if the CPU has AVX2 and FMA.
    #[must_use]
    pub fn try_new() -> Option<Self> {
        has(false).then_some(Avx2(()))
    }
}

impl Avx512 {
    /// The token, if the CPU has AVX-512F, AVX2 and FMA.
    #[must_use]
    pub fn try_new() -> Option<Self> {
        has(true).then_some(Avx512(()))
    }
}

macro_rules! one_lane {
    ($tok:ty, $t:ty, $fused:expr) => {
        impl Lanes<$t> for $tok {
            type V = $t;
            const N: usize = 1;
            #[inline(always)]
            fn splat(self, v: $t) -> $t {
                v
            }
            #[inline(always)]
            fn load(self, s: &[$t]) -> $t {
                s[0]
            }
            #[inline(always)]
            fn store(self, s: &mut [$t], v: $t) {
                s[0] = v;
            }
            #[inline(always)]
            unsafe fn load_ptr(self, p: *const $t) -> $t {
                // SAFETY: readable (caller).
                unsafe { p.read() }
            }
            #[inline(always)]
            unsafe fn store_ptr(self, p: *mut $t, v: $t) {
                // SAFETY: writable and exclusive (caller).
                unsafe { p.write(v) }
            }
            const SHIFTS: bool = false;
            #[inline(always)]
            fn shifted(self, _lo: $t, mid: $t, _hi: $t, _k: isize) -> $t {
                mid
            }
            type Mask = bool;
            #[inline(always)]
            fn mask(self, lo: usize, hi: usize) -> bool {
                lo < hi
            }
            #[inline(always)]
            unsafe fn store_masked(self, p: *mut $t, m: bool, v: $t) {
                if m {
                    // SAFETY: writable and exclusive (caller).
                    unsafe { p.write(v) }
                }
            }
            #[inline(always)]
            fn add(self, a: $t, b: $t) -> $t {
                a + b
            }
            #[inline(always)]
            fn sub(self, a: $t, b: $t) -> $t {
                a - b
            }
            #[inline(always)]
            fn mul(self, a: $t, b: $t) -> $t {
                a * b
            }
            #[inline(always)]
            fn mul_add(self, a: $t, b: $t, c: $t) -> $t {
                if $fused { a.mul_add(b, c) } else { a * b + c }
            }
        }
    };
}

one_lane!(Scalar, f32, false);
one_lane!(Scalar, f64, false);
one_lane!(Fma1, f32, true);
one_lane!(Fma1, f64, true);
// Elsewhere the x86 tokens cannot be obtained; these impls only let generic code compile.
#[cfg(not(target_arch = "x86_64"))]
one_lane!(Avx2, f32, true);
#[cfg(not(target_arch = "x86_64"))]
one_lane!(Avx2, f64, true);
#[cfg(not(target_arch = "x86_64"))]
one_lane!(Avx512, f32, true);
#[cfg(not(target_arch = "x86_64"))]
one_lane!(Avx512, f64, true);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Avx2, Avx512, Lanes};
    use std::arch::x86_64::{
        __m256, __m256d, __m256i, __m512, __m512d, _mm256_add_pd, _mm256_add_ps, _mm256_fmadd_pd,
        _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps, _mm256_loadu_si256, _mm256_maskstore_pd,
        _mm256_maskstore_ps, _mm256_mul_pd, _mm256_mul_ps, _mm256_set1_pd, _mm256_set1_ps,
        _mm256_storeu_pd, _mm256_storeu_ps, _mm256_sub_pd, _mm256_sub_ps, _mm512_add_pd,
        _mm512_add_ps, _mm512_alignr_epi32, _mm512_alignr_epi64, _mm512_castpd_si512,
        _mm512_castps_si512, _mm512_castsi512_pd, _mm512_castsi512_ps, _mm512_fmadd_pd,
        _mm512_fmadd_ps, _mm512_loadu_pd, _mm512_loadu_ps, _mm512_mask_storeu_pd,
        _mm512_mask_storeu_ps, _mm512_mul_pd, _mm512_mul_ps, _mm512_set1_pd, _mm512_set1_ps,
        _mm512_storeu_pd, _mm512_storeu_ps, _mm512_sub_pd, _mm512_sub_ps,
    };

    macro_rules! vector {
        ($tok:ty, $t:ty, $v:ty, $n:literal, $set1:ident, $load:ident, $store:ident, $add:ident,
         $sub:ident, $mul:ident, $fma:ident, $($extra:tt)*) => {
            impl Lanes<$t> for $tok {
                type V = $v;
                const N: usize = $n;
                #[inline(always)]
                fn splat(self, v: $t) -> $v {
                    // SAFETY: the token exists only after the CPU was found to support its instruction set; a broadcast touches no memory.
                    unsafe { $set1(v) }
                }
                #[inline(always)]
                fn load(self, s: &[$t]) -> $v {
                    let s = &s[..$n];
                    // SAFETY: the token exists only after the CPU was found to support its instruction set; `s` holds exactly `N` elements (sliced just above, which
                    // panics if shorter), all the unaligned load reads.
                    unsafe { $load(s.as_ptr()) }
                }
                #[inline(always)]
                fn store(self, s: &mut [$t], v: $v) {
                    let s = &mut s[..$n];
                    // SAFETY: the token exists only after the CPU was found to support its instruction set; `s` is an exclusive slice of exactly `N` elements (sliced
                    // just above), all the unaligned store writes.
                    unsafe { $store(s.as_mut_ptr(), v) }
                }
                #[inline(always)]
                unsafe fn load_ptr(self, p: *const $t) -> $v {
                    // SAFETY: the token exists only after the CPU was found to support its instruction set; the caller vouches that `p .. p + N` is readable.
                    unsafe { $load(p) }
                }
                #[inline(always)]
                unsafe fn store_ptr(self, p: *mut $t, v: $v) {
                    // SAFETY: the token exists only after the CPU was found to support its instruction set; the caller vouches that `p .. p + N` is writable and
                    // not accessed by anyone else meanwhile.
                    unsafe { $store(p, v) }
                }
                #[inline(always)]
                fn add(self, a: $v, b: $v) -> $v {
                    // SAFETY: the token exists only after the CPU was found to support its instruction set; register arithmetic, no memory access.
                    unsafe { $add(a, b) }
                }
                #[inline(always)]
                fn sub(self, a: $v, b: $v) -> $v {
                    // SAFETY: the token exists only after the CPU was found to support its instruction set; register arithmetic, no memory access.
                    unsafe { $sub(a, b) }
                }
                #[inline(always)]
                fn mul(self, a: $v, b: $v) -> $v {
                    // SAFETY: the token exists only after the CPU was found to support its instruction set; register arithmetic, no memory access.
                    unsafe { $mul(a, b) }
                }
                #[inline(always)]
                fn mul_add(self, a: $v, b: $v, c: $v) -> $v {
                    // SAFETY: the token exists only after the CPU was found to support its instruction set (AVX2 tokens require FMA too); register arithmetic.
                    unsafe { $fma(a, b, c) }
                }
                $($extra)*
            }
        };
    }

    /// AVX2: shifts by unaligned loads (no cheap cross-lane shift), masks as lane vectors.
    macro_rules! avx2_extra {
        ($t:ty, $v:ty, $maskstore:ident, $lane:ty) => {
            const SHIFTS: bool = false;
            #[inline(always)]
            fn shifted(self, _lo: $v, mid: $v, _hi: $v, _k: isize) -> $v {
                mid
            }
            type Mask = __m256i;
            #[inline(always)]
            fn mask(self, lo: usize, hi: usize) -> __m256i {
                const N: usize = 32 / std::mem::size_of::<$t>();
                let lanes: [$lane; N] =
                    std::array::from_fn(|l| if (lo..hi).contains(&l) { -1 } else { 0 });
                // SAFETY: AVX2 is present (the token exists); `lanes` is a local array of
                // exactly 32 bytes, all the unaligned load reads.
                unsafe { _mm256_loadu_si256(lanes.as_ptr().cast()) }
            }
            #[inline(always)]
            unsafe fn store_masked(self, p: *mut $t, m: __m256i, v: $v) {
                // SAFETY: AVX2 is present (the token exists); the caller vouches that the
                // masked lanes at `p` are writable and exclusive, and a masked store touches
                // only those (no fault on the others).
                unsafe { $maskstore(p, m, v) }
            }
        };
    }

    /// `valign(a, b, s)` with the shift `s` (1 to N - 1) as the immediate it must be: the
    /// match folds away once `s` is a constant (unrolled stencil loops).
    macro_rules! align_fn {
        ($name:ident, $v:ty, $cast_in:ident, $cast_out:ident, $align:ident, $($s:literal)*) => {
            #[inline(always)]
            fn $name(a: $v, b: $v, s: usize) -> $v {
                // SAFETY: only reached from an AVX-512 token's method.
                unsafe {
                    let (a, b) = ($cast_in(a), $cast_in(b));
                    $cast_out(match s {
                        $($s => $align::<$s>(a, b),)*
                        _ => unreachable!("lane shift {s}"),
                    })
                }
            }
        };
    }
    align_fn!(align_ps, __m512, _mm512_castps_si512, _mm512_castsi512_ps, _mm512_alignr_epi32, 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
    align_fn!(align_pd, __m512d, _mm512_castpd_si512, _mm512_castsi512_pd, _mm512_alignr_epi64, 1 2 3 4 5 6 7);

    /// AVX-512: shifts by `valign` (lanes `s ..` of `b | a`, `b` low), masks as bit masks.
    macro_rules! avx512_extra {
        ($t:ty, $v:ty, $n:literal, $align:ident, $mask:ty, $maskstore:ident) => {
            const SHIFTS: bool = true;
            #[inline(always)]
            fn shifted(self, lo: $v, mid: $v, hi: $v, k: isize) -> $v {
                match k {
                    0 => mid,
                    k if k <= -$n => lo,
                    k if k >= $n => hi,
                    k if k < 0 => $align(mid, lo, ($n + k) as usize),
                    _ => $align(hi, mid, k as usize),
                }
            }
            type Mask = $mask;
            #[inline(always)]
            fn mask(self, lo: usize, hi: usize) -> $mask {
                let upto = |n: usize| if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
                (upto(hi) & !upto(lo)) as $mask
            }
            #[inline(always)]
            unsafe fn store_masked(self, p: *mut $t, m: $mask, v: $v) {
                // SAFETY: AVX-512F is present (the token exists); the caller vouches that the
                // masked lanes at `p` are writable and exclusive, and a masked store touches
                // only those (no fault on the others).
                unsafe { $maskstore(p, m, v) }
            }
        };
    }

    vector!(Avx2, f32, __m256, 8, _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps, _mm256_sub_ps, _mm256_mul_ps, _mm256_fmadd_ps,
        avx2_extra!(f32, __m256, _mm256_maskstore_ps, i32););
    vector!(Avx2, f64, __m256d, 4, _mm256_set1_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_add_pd, _mm256_sub_pd, _mm256_mul_pd, _mm256_fmadd_pd,
        avx2_extra!(f64, __m256d, _mm256_maskstore_pd, i64););
    vector!(Avx512, f32, __m512, 16, _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, _mm512_fmadd_ps,
        avx512_extra!(f32, __m512, 16, align_ps, u16, _mm512_mask_storeu_ps););
    vector!(Avx512, f64, __m512d, 8, _mm512_set1_pd, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd, _mm512_sub_pd, _mm512_mul_pd, _mm512_fmadd_pd,
        avx512_extra!(f64, __m512d, 8, align_pd, u8, _mm512_mask_storeu_pd););
}

/// A real element type with vectors on every instruction set (`f32`, `f64`): generic code
/// names a token's vectors of `T` as `T::Avx2` etc. and converts the token with `T::avx2(t)`.
pub trait SimdReal: Copy + Send + Sync + 'static {
    /// One unfused lane.
    type Scalar: Lanes<Self>;
    /// One fused lane.
    type Fma1: Lanes<Self>;
    /// AVX2 vectors.
    type Avx2: Lanes<Self>;
    /// AVX-512 vectors.
    type Avx512: Lanes<Self>;
    /// The token as this type's lanes.
    fn scalar(t: Scalar) -> Self::Scalar;
    /// The token as this type's lanes.
    fn fma1(t: Fma1) -> Self::Fma1;
    /// The token as this type's vectors.
    fn avx2(t: Avx2) -> Self::Avx2;
    /// The token as this type's vectors.
    fn avx512(t: Avx512) -> Self::Avx512;
}

macro_rules! simd_real {
    ($t:ty) => {
        impl SimdReal for $t {
            type Scalar = Scalar;
            type Fma1 = Fma1;
            type Avx2 = Avx2;
            type Avx512 = Avx512;
            fn scalar(t: Scalar) -> Scalar {
                t
            }
            fn fma1(t: Fma1) -> Fma1 {
                t
            }
            fn avx2(t: Avx2) -> Avx2 {
                t
            }
            fn avx512(t: Avx512) -> Avx512 {
                t
            }
        }
    };
}

simd_real!(f32);
simd_real!(f64);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every method of one token against the element-wise definition.
    fn check<T, L>(v: L)
    where
        T: Copy
            + PartialEq
            + std::fmt::Debug
            + From<i16>
            + std::ops::Mul<Output = T>
            + std::ops::Add<Output = T>
            + std::ops::Sub<Output = T>,
        L: Lanes<T>,
    {
        let n = L::N;
        let data: Vec<T> = (0..4 * n).map(|i| T::from(i as i16 - 7)).collect();
        let (lo, mid, hi) = (v.load(&data), v.load(&data[n..]), v.load(&data[2 * n..]));
        let mut out = vec![T::from(0_i16); n];
        if L::SHIFTS {
            for k in -(n as isize)..=n as isize {
                v.store(&mut out, v.shifted(lo, mid, hi, k));
                let at = (n as isize + k) as usize;
                assert_eq!(out, &data[at..at + n], "shift {k}");
            }
        }
        for lo_l in 0..=n {
            for hi_l in lo_l..=n {
                let mut buf = vec![T::from(-1_i16); n];
                // SAFETY: `buf` holds N elements.
                unsafe { v.store_masked(buf.as_mut_ptr(), v.mask(lo_l, hi_l), mid) };
                for (l, x) in buf.iter().enumerate() {
                    let want = if (lo_l..hi_l).contains(&l) {
                        data[n + l]
                    } else {
                        T::from(-1_i16)
                    };
                    assert_eq!(*x, want, "mask [{lo_l}, {hi_l}) lane {l}");
                }
            }
        }
        // Arithmetic on small integers is exact, fused or not.
        v.store(
            &mut out,
            v.mul_add(mid, hi, v.sub(v.add(lo, v.splat(T::from(3_i16))), mid)),
        );
        for l in 0..n {
            let (a, b, c) = (data[l], data[n + l], data[2 * n + l]);
            let want = b * c + (a + T::from(3_i16) - b);
            assert_eq!(out[l], want, "lane {l}");
        }
        let mut p = vec![T::from(0_i16); n];
        // SAFETY: `p` and `data` hold at least N elements.
        unsafe { v.store_ptr(p.as_mut_ptr(), v.mul(v.load_ptr(data.as_ptr()), mid)) };
        assert_eq!(p, (0..n).map(|l| data[l] * data[n + l]).collect::<Vec<_>>());
    }

    #[test]
    fn every_token_computes_the_elementwise_definition() {
        check::<f32, Scalar>(Scalar);
        check::<f64, Scalar>(Scalar);
        if let Some(t) = Fma1::try_new() {
            check::<f32, Fma1>(t);
            check::<f64, Fma1>(t);
        }
        if let Some(t) = Avx2::try_new() {
            check::<f32, Avx2>(t);
            check::<f64, Avx2>(t);
        }
        if let Some(t) = Avx512::try_new() {
            check::<f32, Avx512>(t);
            check::<f64, Avx512>(t);
        }
    }

    #[test]
    fn fused_lanes_round_once() {
        fn fused<L: Lanes<f64>>(t: L, (a, b, c): (f64, f64, f64)) -> Vec<f64> {
            let mut out = vec![0.0; L::N];
            t.store(&mut out, t.mul_add(t.splat(a), t.splat(b), t.splat(c)));
            out
        }
        // a * b + c with a * b not representable: fused and unfused differ, and every fused
        // token agrees with `mul_add`.
        let (a, b, c) = (1.0 + f64::EPSILON, 1.0 - f64::EPSILON, -1.0);
        let want = a.mul_add(b, c);
        assert_ne!(want, a * b + c);
        assert_eq!(Lanes::<f64>::mul_add(Scalar, a, b, c), a * b + c);
        for out in [
            Avx512::try_new().map(|t| fused(t, (a, b, c))),
            Avx2::try_new().map(|t| fused(t, (a, b, c))),
            Fma1::try_new().map(|t| fused(t, (a, b, c))),
        ]
        .into_iter()
        .flatten()
        {
            assert!(out.iter().all(|&x| x == want), "{out:?}");
        }
    }
}
