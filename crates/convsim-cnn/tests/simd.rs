//! The portable path against the SIMD path (AVX2+FMA where the machine has it): forward output,
//! input gradient and parameter gradients of a small network, in both element types.
//!
//! The two paths run the same operations in the same order; they differ only in whether each
//! multiply-add `a * b + c` is rounded once (fused) or twice. Each output of a layer is a sum of
//! `K` products (here at most `c_in * 9 = 36` taps, plus the ten multiply-adds of the `f32`
//! `tanh`), so the two results differ by at most about `K` roundings of `eps / 2` relative to the
//! sum of the absolute values of the terms; with normal data that sum is within a small factor
//! of the largest output. The tolerance `100 * eps` relative to the largest magnitude covers
//! `K = 36` roundings and their growth through three layers (measured: about `2 * eps` in both
//! types on AVX2+FMA), and is far below any real error (a wrong tap or a missed boundary row
//! changes results by O(1)).
//!
//! On a machine without AVX2+FMA both runs take the portable path and agree bitwise; the test
//! then still checks that the switch is accepted.

mod common;

use common::randn;
use convsim_cnn::{
    Activation, ActivationKind, Conv2d, Conv2dConfig, Float, Layer, Sequential, grads_into,
};
use convsim_core::{Boundary, Isa, Simd};
use ndarray::Array4;

/// conv 4->6 (periodic) -> tanh -> conv 6->2 (zero, stride 2) on the given instruction set.
fn net<T: Float>(simd: Simd) -> Sequential<T> {
    let c1 = Conv2dConfig::new(4, 6, 3)
        .boundary(Boundary::Periodic)
        .simd(simd);
    let c2 = Conv2dConfig::new(6, 2, 3).stride(2).simd(simd);
    Sequential::new(vec![
        Box::new(Conv2d::new(c1, 11).unwrap()),
        Box::new(Activation::new(ActivationKind::Tanh).simd(simd)),
        Box::new(Conv2d::new(c2, 12).unwrap()),
    ])
    .unwrap()
}

/// Output, input gradient and parameter gradients for seeded data.
fn run<T: Float>(simd: Simd) -> (Array4<T>, Array4<T>, Vec<T>) {
    let mut m = net::<T>(simd);
    let x = randn::<T>((3, 4, 13, 17), 700);
    m.forward(x.view()).unwrap();
    let y = m.output().to_owned();
    let g = randn::<T>(y.dim(), 701);
    m.zero_grad();
    m.backward(x.view(), g.view(), true);
    let gx = m.input_grad().to_owned();
    let mut gp = vec![T::zero(); m.num_params()];
    grads_into(&mut m, &mut gp);
    (y, gx, gp)
}

/// `max |a - b| / max |b|`.
fn rel_err<'a, T: Float>(
    a: impl IntoIterator<Item = &'a T>,
    b: impl IntoIterator<Item = &'a T>,
) -> f64 {
    let (mut err, mut scale) = (0.0_f64, 0.0_f64);
    for (p, q) in a.into_iter().zip(b) {
        let (p, q) = (p.to_f64_lossless(), q.to_f64_lossless());
        err = err.max((p - q).abs());
        scale = scale.max(q.abs());
    }
    err / scale
}

fn portable_matches_simd<T: Float>(eps: f64) {
    let (y0, gx0, gp0) = run::<T>(Simd::Portable);
    let (y1, gx1, gp1) = run::<T>(Simd::Best);
    let tol = 100.0 * eps;
    for (what, e) in [
        ("output", rel_err(&y1, &y0)),
        ("input gradient", rel_err(&gx1, &gx0)),
        ("parameter gradients", rel_err(&gp1, &gp0)),
    ] {
        assert!(e < tol, "{what}: relative difference {e:e} >= {tol:e}");
    }
    if Isa::detect_up_to(Simd::Best) == Isa::Portable {
        assert_eq!((y0, gx0, gp0), (y1, gx1, gp1), "same path, same bits");
    }
}

#[test]
fn portable_matches_simd_f32() {
    portable_matches_simd::<f32>(f64::from(f32::EPSILON));
}

#[test]
fn portable_matches_simd_f64() {
    portable_matches_simd::<f64>(f64::EPSILON);
}

#[test]
fn portable_switch_chooses_portable() {
    let a = Activation::<f32>::new(ActivationKind::Tanh).simd(Simd::Portable);
    assert_eq!(a.isa(), Isa::Portable);
    assert_eq!(
        Activation::<f32>::new(ActivationKind::Tanh).isa(),
        Isa::detect()
    );
}
