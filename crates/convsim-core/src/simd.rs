//! Instruction-set dispatch shared by the fast paths.
//!
//! Inner loops are written once as `#[inline(always)]` generic bodies with a `const FMA: bool`
//! parameter. Each entry point has a thin wrapper compiled with
//! `#[target_feature(enable = "avx2,fma")]` that calls the body with `FMA = true` (so the body is
//! inlined and compiled for AVX2), and the portable path calls it with `FMA = false`. The plan
//! chooses at build time with `is_x86_feature_detected!` and records the choice in its recipe.

use crate::Element;

/// The instruction set a plan's inner loops run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// Whatever the compile target allows (SSE2 on x86-64).
    Portable,
    /// x86-64 with AVX2 and FMA, detected at run time.
    Avx2Fma,
}

impl Isa {
    /// The best instruction set of the running machine.
    pub(crate) fn detect() -> Isa {
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

    /// Name used in recipes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2Fma => "avx2+fma",
        }
    }
}

/// `a + x * w`, fused when `FMA` (only used inside AVX2+FMA compiled code).
#[inline(always)]
pub(crate) fn madd<T: Element, const FMA: bool>(x: T, w: T, a: T) -> T {
    if FMA { x.fused_mul_add(w, a) } else { a + x * w }
}
