//! The two roofs of `docs/benchmarks.md`'s roofline table: the copy bandwidth at the sizes the
//! workloads stream (`--bandwidth`) and the vector multiply-add issue rate (`--peak`).
//!
//! A workload's memory bound is its bytes moved over the copy rate of arrays of its size: an
//! 8 MiB array stays in this machine's caches where a 128 MiB one streams from memory, so one
//! figure would misstate one of them. Its compute bound is its vector arithmetic instructions
//! (multiply-adds, multiplies and adds all issue on the same two 512-bit ports) over the rate
//! `--peak` measures.

use std::time::Instant;

use rayon::prelude::*;

/// The arrays `--bandwidth` copies: the shape and element size of each workload's field.
pub(super) const COPIES: [(&str, usize); 5] = [
    ("copy-1024-f64", 1024 * 1024 * 8),
    ("copy-2048-f32", 2048 * 2048 * 4),
    ("copy-2048-f64", 2048 * 2048 * 8),
    ("copy-4096-f32", 4096 * 4096 * 4),
    ("copy-4096-f64", 4096 * 4096 * 8),
];

/// A timed copy of `bytes`: `copy_from_slice` over 512 KiB chunks shared by the pool. That was
/// the fastest copy here (0.0084-0.0088 s for 128 MiB on two threads; one contiguous share per
/// thread, where glibc streams the stores, took 0.0108-0.0118 s), so it is the stricter bound.
pub(super) fn copy(bytes: usize) -> Box<dyn FnMut()> {
    let n = bytes / 8;
    let src = convsim_core::memory::zeros::<f64>((1, n));
    let mut dst = convsim_core::memory::zeros::<f64>((1, n));
    Box::new(move || {
        let s = src.as_slice().expect("standard layout");
        let d = dst.as_slice_mut().expect("standard layout");
        d.par_chunks_mut(1 << 16)
            .zip(s.par_chunks(1 << 16))
            .for_each(|(d, s)| d.copy_from_slice(s));
    })
}

/// Independent accumulator chains per thread: more than the multiply-add latency (4 cycles)
/// times its two ports, so the loop is bound by issue, not latency.
const CHAINS: usize = 12;

/// Wall time the timed peak loop aims at, in seconds.
const PEAK_SECONDS: f64 = 0.3;

/// The measured issue rate of vector multiply-adds.
pub(super) struct Peak {
    /// Register width in bits (512 with AVX-512F, 256 with AVX2 + FMA).
    pub(super) bits: u32,
    /// Wall time of the loop on every thread at once.
    pub(super) seconds: f64,
    /// Multiply-add instructions timed, all threads together.
    pub(super) fma: u64,
    /// Multiply-add instructions per second, all threads together.
    pub(super) fma_per_s: f64,
}

impl Peak {
    /// Floating-point operations per second for elements of `bytes` bytes (a multiply-add is 2).
    pub(super) fn flops(&self, bytes: u32) -> f64 {
        self.fma_per_s * f64::from(self.bits / 8 / bytes) * 2.0
    }
}

/// Runs the multiply-add loop on every thread of the current pool at once; `None` without FMA.
pub(super) fn peak() -> Option<Peak> {
    let bits = isa_bits()?;
    let threads = rayon::current_num_threads();
    let all = |iters: u64| {
        let t = Instant::now();
        let sums: Vec<f32> = (0..threads)
            .into_par_iter()
            .map(|_| fma_chains(bits, std::hint::black_box(iters)))
            .collect();
        std::hint::black_box(sums);
        t.elapsed().as_secs_f64()
    };
    // A short run sizes the timed one (an unoptimised build is a hundred times slower).
    let probe = 1 << 20;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a positive iteration count far below 2^52"
    )]
    let iters = ((PEAK_SECONDS / all(probe) * probe as f64) as u64).max(probe);
    let seconds = all(iters);
    let fma = (threads * CHAINS) as u64 * iters;
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let fma_per_s = fma as f64 / seconds;
    Some(Peak {
        bits,
        seconds,
        fma,
        fma_per_s,
    })
}

#[cfg(target_arch = "x86_64")]
fn isa_bits() -> Option<u32> {
    if is_x86_feature_detected!("avx512f") {
        Some(512)
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Some(256)
    } else {
        None
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn isa_bits() -> Option<u32> {
    None
}

/// The chains run `a <- a * SCALE + SHIFT`, which stays finite and normal. The constants pass
/// through `black_box` and every chain starts elsewhere: with constants the compiler found the
/// loop's fixed point and folded it away.
static SCALE: f32 = 0.5;
static SHIFT: f32 = 1.0;

/// Start of chain `i`, opaque to the compiler.
fn start(i: usize) -> f32 {
    #[allow(clippy::cast_precision_loss, reason = "i < CHAINS")]
    std::hint::black_box(i as f32)
}

/// `iters` rounds of `CHAINS` independent multiply-adds at the given width.
#[cfg(target_arch = "x86_64")]
fn fma_chains(bits: u32, iters: u64) -> f32 {
    if bits == 512 {
        // SAFETY: `isa_bits` returned 512 only if the CPU has AVX-512F.
        unsafe { chains512(iters) }
    } else {
        // SAFETY: `isa_bits` returned 256 only if the CPU has AVX2 and FMA.
        unsafe { chains256(iters) }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_chains(_bits: u32, _iters: u64) -> f32 {
    unreachable!("isa_bits is None off x86_64")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn chains512(iters: u64) -> f32 {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_reduce_add_ps, _mm512_set1_ps};
    let (x, y) = (_mm512_set1_ps(SCALE), _mm512_set1_ps(SHIFT));
    let mut acc: [_; CHAINS] = std::array::from_fn(|i| _mm512_set1_ps(start(i)));
    for _ in 0..iters {
        for a in &mut acc {
            *a = _mm512_fmadd_ps(*a, x, y);
        }
    }
    acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn chains256(iters: u64) -> f32 {
    use std::arch::x86_64::{__m256, _mm256_fmadd_ps, _mm256_set1_ps};
    let (x, y) = (_mm256_set1_ps(SCALE), _mm256_set1_ps(SHIFT));
    let mut acc: [_; CHAINS] = std::array::from_fn(|i| _mm256_set1_ps(start(i)));
    for _ in 0..iters {
        for a in &mut acc {
            *a = _mm256_fmadd_ps(*a, x, y);
        }
    }
    acc.iter()
        .map(|&a| {
            // SAFETY: `__m256` is eight `f32` with no invalid bit patterns.
            let lanes: [f32; 8] = unsafe { std::mem::transmute::<__m256, [f32; 8]>(a) };
            lanes.iter().sum::<f32>()
        })
        .sum()
}
