//! The floating-point environment of the stepping threads: subnormal numbers flushed to zero.
//!
//! A wave or a diffusing bump leaves most of the grid at amplitudes that decay towards zero;
//! below the smallest normal number (`1.2e-38` in `f32`, `2.2e-308` in `f64`) the CPU computes
//! on *subnormal* numbers through a slow microcode path, up to a hundred times slower per
//! operation. On the seismic shot of `convsim bench` that made a third of the run time (1.04 s
//! against 0.70 s on one thread). Compilers of stencil codes (Devito, with `-ffast-math`-style
//! flags) set the CPU to flush them: results below the normal range become zero (FTZ) and
//! subnormal inputs are read as zero (DAZ). The values that change are below `1e-38` (`f32`)
//! in magnitude, far under any physical resolution of the fields.
//!
//! [`Subnormals`] is that choice, made once when a solver is built, and [`Subnormals::enter`]
//! applies it to the current thread for the lifetime of the returned [`FpGuard`], restoring the
//! thread's previous state when the guard drops. Solvers enter it at the start of each task
//! they hand to a thread, so it holds on every worker of a parallel sweep and never leaks into
//! the caller's code.
//!
//! ```
//! use convsim_core::fp::Subnormals;
//! let tiny = std::hint::black_box(1e-39_f32); // subnormal
//! {
//!     let _g = Subnormals::Flush.enter();
//!     // With FTZ/DAZ (x86-64 and aarch64) a subnormal reads as zero.
//!     # #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
//!     assert_eq!(std::hint::black_box(tiny) * 1.0, 0.0);
//! }
//! assert_eq!(std::hint::black_box(tiny) * 1.0, tiny); // restored
//! ```
//!
//! On other architectures [`Subnormals::Flush`] changes nothing.

use serde::{Deserialize, Serialize};

/// What the CPU does with subnormal numbers while a solver steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subnormals {
    /// Flush results and inputs below the normal range to zero (FTZ and DAZ): the speed of a
    /// stencil code, the default of the solvers.
    #[default]
    Flush,
    /// IEEE gradual underflow: bitwise the arithmetic of a plain program, slower where fields
    /// decay into the subnormal range.
    Keep,
}

impl Subnormals {
    /// Applies the choice to the current thread until the guard drops.
    #[must_use = "the setting lasts only while the guard lives"]
    pub fn enter(self) -> FpGuard {
        match self {
            Subnormals::Keep => FpGuard { prev: None },
            Subnormals::Flush => {
                let prev = arch::get();
                let want = prev | arch::FLUSH;
                if want == prev {
                    FpGuard { prev: None }
                } else {
                    arch::set(want);
                    FpGuard { prev: Some(prev) }
                }
            }
        }
    }
}

/// Restores the thread's floating-point control state when dropped (see [`Subnormals::enter`]).
#[derive(Debug)]
pub struct FpGuard {
    prev: Option<arch::Word>,
}

impl Drop for FpGuard {
    fn drop(&mut self) {
        if let Some(prev) = self.prev {
            arch::set(prev);
        }
    }
}

// The control register is read and written with inline assembly: `_mm_setcsr` is deprecated
// because changing the rounding mode behind the compiler's back breaks its constant folding.
// FTZ and DAZ only change results in the subnormal range, which no code of this workspace
// depends on being computed one way or the other (the solvers enter the guard around whole
// tasks, so every sample of a run is computed under the same setting).
#[cfg(target_arch = "x86_64")]
mod arch {
    pub(super) type Word = u32;
    /// MXCSR bits 15 (flush to zero) and 6 (denormals are zero).
    pub(super) const FLUSH: Word = (1 << 15) | (1 << 6);

    pub(super) fn get() -> Word {
        let mut w: Word = 0;
        // SAFETY: stores the 32-bit MXCSR into a local.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &raw mut w, options(nostack, preserves_flags));
        }
        w
    }

    pub(super) fn set(w: Word) {
        // SAFETY: loads a value read from MXCSR with only the FTZ/DAZ bits changed (no
        // exception unmasked, rounding unchanged).
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &raw const w, options(nostack, preserves_flags));
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    pub(super) type Word = u64;
    /// FPCR bit 24 (FZ: flush inputs and results to zero).
    pub(super) const FLUSH: Word = 1 << 24;

    pub(super) fn get() -> Word {
        let w: Word;
        // SAFETY: reads the FPCR.
        unsafe {
            std::arch::asm!("mrs {}, fpcr", out(reg) w, options(nomem, nostack, preserves_flags));
        }
        w
    }

    pub(super) fn set(w: Word) {
        // SAFETY: writes a value read from FPCR with only the FZ bit changed.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) w, options(nomem, nostack, preserves_flags));
        }
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod arch {
    pub(super) type Word = u8;
    pub(super) const FLUSH: Word = 0;

    pub(super) fn get() -> Word {
        0
    }

    pub(super) fn set(_: Word) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn flush_reads_and_writes_subnormals_as_zero_and_restores() {
        let tiny = black_box(f64::MIN_POSITIVE / 4.0);
        let before = arch::get();
        {
            let _g = Subnormals::Flush.enter();
            assert_eq!(
                black_box(tiny) + 0.0,
                0.0,
                "a subnormal input reads as zero"
            );
            let r = black_box(f64::MIN_POSITIVE) * black_box(0.25);
            assert_eq!(r, 0.0, "a subnormal result is flushed");
            {
                // Nested guards: the inner one finds the bits set and restores nothing.
                let _inner = Subnormals::Flush.enter();
            }
            assert_eq!(
                black_box(tiny) + 0.0,
                0.0,
                "still flushing after the inner guard"
            );
        }
        assert_eq!(arch::get(), before, "the thread's state is restored");
        assert_eq!(black_box(tiny) + 0.0, tiny);
    }

    #[test]
    fn keep_changes_nothing() {
        let before = arch::get();
        let tiny = black_box(f32::MIN_POSITIVE / 8.0);
        let _g = Subnormals::Keep.enter();
        assert_eq!(arch::get(), before);
        assert_eq!(black_box(tiny) * 1.0, tiny);
    }
}
