//! A stride aliases; a blur before the stride prevents it.
//!
//! A fine checkerboard `(-1)^(i + j)` (the Nyquist frequency on both axes) has zero mean. A
//! stride-2 convolution samples it only where `i + j` is even and sees a constant 1: a false
//! low-frequency (here constant) pattern with all the input's energy. Moving the input by one
//! pixel flips it to -1. A binomial blur `[1 2 1] / 4` (per axis) before the stride removes the
//! Nyquist frequency (its response there is `(1 - 2 + 1) / 4 = 0`): the output is zero, as the
//! mean of the input is, and does not change when the input moves.
//!
//! On a mix of a slow wave and the checkerboard, the blurred stride keeps the wave and drops the
//! checkerboard; the plain stride adds a false offset and jumps when the input moves by a pixel.
//!
//! Run: `cargo run -p convsim-core --example aliasing`

use std::f64::consts::TAU;

use convsim_core::{Boundaries, Boundary, ConvPlan, Geometry, Kernel, Kernel2, stencil};
use ndarray::{Array2, array};

const N: usize = 32;

/// A stride-2 convolution with the given kernel, periodic boundaries.
fn strided(x: &Array2<f64>, k: Kernel<f64>) -> Array2<f64> {
    let mut plan = ConvPlan::builder([N, N], k)
        .boundaries(Boundaries::uniform(Boundary::Periodic))
        .geometry(Geometry::same().with_stride(2, 2))
        .build()
        .unwrap();
    let mut out = Array2::zeros(plan.output_shape());
    plan.apply(x.view(), out.view_mut());
    out
}

fn energy(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>() / a.len() as f64
}

/// Input moved by one pixel along x (periodically).
fn shift1(x: &Array2<f64>) -> Array2<f64> {
    Array2::from_shape_fn(x.dim(), |(i, j)| x[[i, (j + N - 1) % N]])
}

/// Shift-consistency error: RMS change of the output when the input moves by one pixel,
/// relative to the RMS of the output (or of the input when the output is zero).
fn shift_error(x: &Array2<f64>, k: &Kernel<f64>) -> f64 {
    let a = strided(x, k.clone());
    let b = strided(&shift1(x), k.clone());
    let d = energy(&(&b - &a)).sqrt();
    let s = energy(&a).sqrt();
    if s > 0.0 { d / s } else { d / energy(x).sqrt() }
}

/// Measurements for one downsampler.
pub(crate) struct Row {
    pub(crate) name: &'static str,
    /// Mean square of the output for the pure checkerboard (input mean square: 1).
    pub(crate) checker_energy: f64,
    /// Shift-consistency error on the pure checkerboard.
    pub(crate) checker_shift: f64,
    /// RMS error against the downsampled slow wave, on wave + checkerboard.
    pub(crate) mix_error: f64,
    /// Shift-consistency error on wave + checkerboard.
    pub(crate) mix_shift: f64,
    /// Shift-consistency error on the wave alone: the legitimate change, as the wave moves.
    pub(crate) wave_shift: f64,
}

pub(crate) fn compute() -> Vec<Row> {
    let checker = Array2::from_shape_fn((N, N), |(i, j)| if (i + j) % 2 == 0 { 1.0 } else { -1.0 });
    // A slow wave: one period across the image in x.
    let wave = Array2::from_shape_fn((N, N), |(_, j)| (TAU * j as f64 / N as f64).cos());
    let mix = &wave + &checker;
    let wave_down = Array2::from_shape_fn((N / 2, N / 2), |(i, j)| wave[[2 * i, 2 * j]]);
    let plain: Kernel<f64> = Kernel2::new(array![[1.0]]).unwrap().into();
    let blur: Kernel<f64> = stencil::binomial_2d(3).unwrap().into();
    [("stride 2", plain), ("blur + stride 2", blur)]
        .into_iter()
        .map(|(name, k)| {
            let out = strided(&checker, k.clone());
            Row {
                name,
                checker_energy: energy(&out),
                checker_shift: shift_error(&checker, &k),
                mix_error: energy(&(&strided(&mix, k.clone()) - &wave_down)).sqrt(),
                mix_shift: shift_error(&mix, &k),
                wave_shift: shift_error(&wave, &k),
            }
        })
        .collect()
}

pub(crate) fn check(rows: &[Row]) {
    let (plain, blur) = (&rows[0], &rows[1]);
    // All of the checkerboard's energy reappears as a constant; a one-pixel move flips its sign
    // (change 2, relative to RMS 1).
    assert_eq!(plain.checker_energy, 1.0);
    assert_eq!(plain.checker_shift, 2.0);
    // The binomial blur has an exact zero at Nyquist: nothing survives, nothing moves.
    assert!(blur.checker_energy < 1e-30, "{}", blur.checker_energy);
    assert!(blur.checker_shift < 1e-15, "{}", blur.checker_shift);
    // On the mix, the plain stride is off by the false constant 1 everywhere. The blur keeps the
    // wave, attenuated by its transfer function cos^2(pi / 32) = 0.990 (RMS error ~0.7% of the
    // wave's amplitude), and shifts smoothly.
    assert!((plain.mix_error - 1.0).abs() < 1e-12);
    assert!(blur.mix_error < 0.01, "{}", blur.mix_error);
    // Under a one-pixel move the blurred output changes as much as the wave itself does (0.196,
    // the wave really moves); the plain stride jumps by 8x more, the checkerboard's sign flip.
    assert!(
        (blur.mix_shift - blur.wave_shift).abs() < 1e-12,
        "{} {}",
        blur.mix_shift,
        blur.wave_shift
    );
    assert!(
        plain.mix_shift > 8.0 * plain.wave_shift,
        "{} {}",
        plain.mix_shift,
        plain.wave_shift
    );
}

fn main() {
    let rows = compute();
    println!(
        "32x32 checkerboard (-1)^(i+j): mean 0, mean square 1. Downsampled by a stride-2 convolution:\n"
    );
    println!(
        "{:<16} {:>14} {:>12} | {:>14} {:>14} {:>12}",
        "", "checker energy", "shift error", "mix vs wave", "mix shift err", "wave shift"
    );
    for r in &rows {
        println!(
            "{:<16} {:>14.3e} {:>12.3e} | {:>14.3e} {:>14.3e} {:>12.3e}",
            r.name, r.checker_energy, r.checker_shift, r.mix_error, r.mix_shift, r.wave_shift
        );
    }
    println!(
        "\n(mix = slow cosine wave + checkerboard; 'wave shift' is the change the moving wave itself causes)"
    );
    check(&rows);
    println!(
        "\nok: the plain stride turns the checkerboard into a false constant (energy 1, flips under a"
    );
    println!(
        "one-pixel shift); the binomial blur before the stride removes it (energy 0, shift error 0)."
    );
}
