//! Instruction-set dispatch shared by the fast paths: the one convention every crate follows.
//!
//! 1. **The user's limit is a [`Simd`]**, given through the same switch everywhere: `simd(Simd)`
//!    on builders and configs ([`crate::ConvPlanBuilder::simd`],
//!    [`crate::ChannelConvPlanBuilder::simd`], `convsim_cnn::Conv2dConfig::simd`,
//!    `convsim_cnn::Activation::simd`), `set_simd(Simd)` on objects built from parameters with no
//!    builder ([`crate::SpectralPlan::set_simd`], `convsim_seismic::Seismic::set_simd`,
//!    `convsim_quantum::QuantumSolver::set_simd`). The default is [`Simd::Best`];
//!    [`Simd::Portable`] is for comparisons and tests.
//! 2. **The choice is made once.** The plan, layer or solver turns the limit into an [`Isa`]
//!    with [`Isa::detect_up_to`] (plus [`Isa::at_most_avx2`] where its loops have no AVX-512
//!    variant) when it is built, stores it (and records it in its recipe where it has one), and
//!    passes it down; inner loops never test the CPU. A kernel exported for callers outside
//!    the crate takes the caller's `Isa` the same way ([`crate::spectral::mul_line_scaled_isa`],
//!    used by the quantum split-step factors).
//! 3. **A kernel is written once**, as an `#[inline(always)]` body generic over `const FMA: bool`
//!    (scalar code the compiler vectorises) or over a [`Lanes`] token (explicit vectors). Each
//!    instruction set gets a thin wrapper compiled with `#[target_feature(enable = ...)]` that
//!    calls the body, so the body is inlined and compiled for that set; the portable path calls
//!    the body with `FMA = false` or the [`Scalar`] token. The entry point matches on the stored
//!    `Isa` to pick the wrapper. Element types are picked by monomorphisation (traits, or
//!    `TypeId` tests that fold to constants), never at run time.
//! 4. **Safety.** Calling a wrapper is sound only with an `Isa` from [`Isa::detect_up_to`] (or
//!    [`Isa::Portable`]), or with a [`Lanes`] token, which exists only once its set was
//!    detected. A function that takes an `Isa` across a public API is therefore `unsafe`
//!    (`convsim_cnn::Float::tanh_slice`, [`crate::spectral::mul_line_scaled_isa`]); plans keep
//!    theirs private.
//! 5. **Results.** AVX2 and AVX-512 run each output's operations in the same order, so they agree
//!    bitwise. The portable path does not fuse multiply-adds (one more rounding per `a * b + c`),
//!    so it agrees with the vector paths to rounding. Every crate tests the portable path
//!    against the vector one, bitwise where the operations are equal and otherwise to a
//!    tolerance justified from that rounding: `direct` (all three sets), the channels oracle,
//!    the spectral products, the seismic sweep, the quantum solver's steps, and the CNN layers'
//!    forward and gradients.

// The inner-loop bodies must be inlined into their `#[target_feature]` wrappers to be compiled
// for AVX2+FMA; `#[inline(always)]` is how that is guaranteed.
#![allow(
    clippy::inline_always,
    reason = "inner-loop bodies must be inlined into their `#[target_feature]` wrappers to be compiled for AVX2+FMA"
)]

mod lanes;

pub use lanes::{Avx2, Avx512, Fma1, Lanes, Scalar, SimdReal};

use crate::Element;

/// The widest instruction set a [`crate::ConvPlan`] may use
/// ([`crate::ConvPlanBuilder::simd`]); it takes the best the machine has up to this. Every level
/// computes each output with the same operations in the same order, so `Best` and `Avx2Fma`
/// agree bitwise; `Portable` does not fuse multiply-adds and agrees to rounding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Simd {
    /// AVX-512F where present, else AVX2+FMA, else portable.
    #[default]
    Best,
    /// At most AVX2+FMA (256-bit vectors).
    Avx2Fma,
    /// Portable code only (what the compile target allows, SSE2 on x86-64).
    Portable,
}

/// The instruction set a plan's inner loops run on: chosen once when the plan is built
/// ([`Isa::detect_up_to`]) and recorded in it, so the inner loops never test the CPU (see the
/// [module docs](crate::simd) for the whole convention). Calling a `#[target_feature]` wrapper
/// is sound only with an `Isa` obtained from [`Isa::detect_up_to`] (or [`Isa::Portable`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Whatever the compile target allows (SSE2 on x86-64).
    Portable,
    /// x86-64 with AVX2 and FMA, detected at run time.
    Avx2Fma,
    /// x86-64 with AVX-512F, AVX2 and FMA, detected at run time: twice the vector width and 32
    /// vector registers, so twice the outputs per register block for the same loads per FMA.
    Avx512,
}

impl Isa {
    /// The best instruction set of the running machine up to `limit`.
    #[must_use]
    pub fn detect_up_to(limit: Simd) -> Isa {
        match limit {
            Simd::Portable => Isa::Portable,
            Simd::Avx2Fma => Isa::detect(),
            Simd::Best => {
                #[cfg(target_arch = "x86_64")]
                {
                    if Isa::detect() == Isa::Avx2Fma
                        && std::arch::is_x86_feature_detected!("avx512f")
                    {
                        return Isa::Avx512;
                    }
                }
                Isa::detect()
            }
        }
    }

    /// The best instruction set of the running machine up to AVX2+FMA (the paths with no
    /// AVX-512 variant).
    #[must_use]
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2Fma;
            }
        }
        Isa::Portable
    }

    /// This set, or AVX2+FMA in place of AVX-512F (for the loops with no AVX-512 variant).
    #[must_use]
    pub fn at_most_avx2(self) -> Isa {
        if self == Isa::Avx512 {
            Isa::Avx2Fma
        } else {
            self
        }
    }

    /// Name used in recipes.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Avx512 => "avx512f+fma",
        }
    }
}

/// `a + x * w`, fused when `FMA` (only used inside AVX2+FMA compiled code).
#[inline(always)]
pub(crate) fn madd<T: Element, const FMA: bool>(x: T, w: T, a: T) -> T {
    if FMA {
        x.fused_mul_add(w, a)
    } else {
        a + x * w
    }
}

/// Asks for the cache lines of `run` to be brought into L2 ahead of use (nothing on targets
/// without a prefetch instruction). A direct row pass reads its newest input row from memory
/// while the others hit in cache; with the hardware prefetcher alone, those loads stall the FMA
/// loop. Fetching the next pass's new rows during this pass made lap3 f64 at 4096^2 on 2 threads
/// run in 0.0110-0.0135 s instead of 0.0131-0.0166 s (medians of 15, 4 KiB pages).
#[inline(always)]
pub(crate) fn prefetch_l2<T>(run: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        let line = (64 / std::mem::size_of::<T>().max(1)).max(1);
        for k in (0..run.len()).step_by(line) {
            // SAFETY: `k < run.len()`, so the address lies inside `run`; a prefetch reads nothing
            // architecturally and cannot fault. SSE is part of x86-64.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(run.as_ptr().add(k).cast::<i8>()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = run;
}

/// Outputs at least this large are written with non-temporal (streaming) stores by
/// `ConvPlan::apply`: they cannot stay in cache anyway, and streaming skips reading each output
/// cache line before overwriting it (a third of the memory traffic of a low-order stencil).
const STREAM_BYTES: usize = 24 << 20;

/// Whether an output of `outputs` elements of `T` is written with streaming stores.
pub(crate) fn worth_streaming<T>(outputs: usize) -> bool {
    outputs.saturating_mul(std::mem::size_of::<T>()) >= STREAM_BYTES
}

/// `dst.copy_from_slice(src)` with non-temporal stores where possible.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub(crate) fn stream_copy<T: Copy>(src: &[T], dst: &mut [T]) {
    assert_eq!(src.len(), dst.len(), "stream_copy: lengths (src, dst)");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
        let size = std::mem::size_of::<T>();
        if size > 0 && 16_usize.is_multiple_of(size) {
            let per = 16 / size;
            // Elements before the first 16-byte aligned destination address.
            let head = dst.as_ptr().align_offset(16).min(dst.len());
            if (dst.as_ptr() as usize + head * size).is_multiple_of(16) {
                dst[..head].copy_from_slice(&src[..head]);
                let body = (dst.len() - head) / per;
                let s = src[head..].as_ptr().cast::<__m128i>();
                let d = dst[head..].as_mut_ptr().cast::<__m128i>();
                for k in 0..body {
                    // SAFETY: `k < body` keeps both 16-byte accesses inside the slices (`body`
                    // whole 16-byte chunks follow `head`); `d` is 16-byte aligned (checked above),
                    // `s` is read unaligned; `T: Copy` has no drop glue or invalid bit patterns
                    // among values we copy byte-for-byte from valid `T`s.
                    unsafe { _mm_stream_si128(d.add(k), _mm_loadu_si128(s.add(k))) };
                }
                let done = head + body * per;
                dst[done..].copy_from_slice(&src[done..]);
                // SAFETY: SSE2 is part of x86-64; the fence orders the streaming stores before
                // any later store of this thread (and so before rayon's join signals).
                unsafe { _mm_sfence() };
                return;
            }
        }
    }
    dst.copy_from_slice(src);
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;

    /// Every alignment of the destination and every tail length: the streaming body, the scalar
    /// head and tail, and the fallback for elements that do not divide 16 bytes.
    fn same_as_copy<T: Copy + PartialEq + std::fmt::Debug>(make: impl Fn(usize) -> T) {
        let src: Vec<T> = (0..80).map(&make).collect();
        for start in 0..4 {
            for len in 0..70 {
                let mut dst: Vec<T> = (0..80).map(|i| make(1000 + i)).collect();
                let mut want = dst.clone();
                want[start..start + len].copy_from_slice(&src[3..3 + len]);
                stream_copy(&src[3..3 + len], &mut dst[start..start + len]);
                assert_eq!(dst, want, "start {start} len {len}");
                prefetch_l2(&src[start..start + len]);
            }
        }
    }

    #[test]
    fn stream_copy_equals_copy_from_slice() {
        same_as_copy(|i| i as f32 * 0.5);
        same_as_copy(|i| i as f64 * 0.25);
        same_as_copy(|i| Complex64::new(i as f64, -(i as f64)));
        same_as_copy(|i| [i as u8; 3]);
    }
}
