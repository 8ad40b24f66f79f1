//! Unit tests of the spectral plan.

use super::passes::outer_hook;
use super::*;
use crate::testing::{Random, max_diff, random_array, rng};
use ndarray::Array2;
use num_complex::Complex32;

/// A seeded random `shape` array.
fn random<T: Random>(shape: (usize, usize), seed: u64) -> Array2<T> {
    random_array(&mut rng(seed), shape.0, shape.1)
}

fn identity_case<T: Random>(shape: (usize, usize), tol: f64) {
    let u = random::<T>(shape, 7);
    let mut plan =
        SpectralPlan::<T>::new([shape.0, shape.1], [0.3, 0.7], identity_transfer).unwrap();
    let mut out = Array2::<T>::zeros(shape);
    plan.apply(u.view(), out.view_mut());
    let e = max_diff(&u, &out);
    assert!(e < tol, "{} {shape:?}: identity error {e}", T::NAME);
}

#[test]
fn identity_all_types_and_awkward_sizes() {
    // Round-trip rounding grows like eps * log2(n); data are O(1).
    for shape in [(1, 1), (1, 7), (5, 1), (6, 10), (13, 17), (32, 33)] {
        identity_case::<f64>(shape, 1e-14);
        identity_case::<Complex64>(shape, 1e-14);
        identity_case::<f32>(shape, 1e-5);
        identity_case::<Complex32>(shape, 1e-5);
    }
}

fn shift_case<T: Random>(shape: (usize, usize), sy: usize, sx: usize) {
    let (ny, nx) = shape;
    let (dy, dx) = (0.25, 0.5);
    let u = random::<T>(shape, 11);
    let mut plan = SpectralPlan::<T>::new([ny, nx], [dy, dx], |ky, kx| {
        Complex64::from_polar(1.0, -(ky * sy as f64 * dy + kx * sx as f64 * dx))
    })
    .unwrap();
    let mut v = u.clone();
    plan.apply_inplace(v.view_mut());
    let expected =
        Array2::from_shape_fn(shape, |(i, j)| u[[(i + ny - sy) % ny, (j + nx - sx) % nx]]);
    // A whole-sample shift is exact in exact arithmetic; rounding of exp(-ika) and the
    // transforms stays below 1e-13 for O(1) data on these sizes.
    let e = max_diff(&expected, &v);
    assert!(e < 1e-13, "{} {shape:?}: shift error {e}", T::NAME);
}

#[test]
fn pure_phase_shifts_a_periodic_signal() {
    shift_case::<f64>((12, 16), 3, 5);
    shift_case::<f64>((9, 15), 2, 4);
    shift_case::<Complex64>((12, 16), 3, 5);
    shift_case::<Complex64>((9, 15), 8, 1);
    shift_case::<f64>((1, 31), 0, 7); // 1D
    shift_case::<Complex64>((1, 30), 0, 29); // 1D
}

#[test]
fn real_data_gets_real_part_of_complex_result() {
    // Half-sample shift: not Hermitian at the Nyquist bins, so the real path must apply the
    // Hermitian part to equal Re(complex path).
    let shape = (8, 10);
    let h = |ky: f64, kx: f64| Complex64::from_polar(1.0, -(ky * 0.5 + kx * 0.75));
    let u = random::<f64>(shape, 3);
    let mut real = SpectralPlan::<f64>::new([8, 10], [1.0, 1.0], h).unwrap();
    let mut cplx = SpectralPlan::<Complex64>::new([8, 10], [1.0, 1.0], h).unwrap();
    let mut a = u.clone();
    real.apply_inplace(a.view_mut());
    let mut b = u.mapv(|v| Complex64::new(v, 0.0));
    cplx.apply_inplace(b.view_mut());
    let e = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y.re).abs())
        .fold(0.0, f64::max);
    assert!(e < 1e-14, "real vs Re(complex): {e}");
}

/// The test transfer function `hy(ky) hx(kx)` on `shape` with spacings `(0.4, 0.3)`, planned
/// separable or as a table.
fn product_plan<T: Element>(shape: (usize, usize), separable: bool) -> SpectralPlan<T> {
    let hy = |k: f64| Complex64::from_polar((-0.02 * k * k).exp(), -0.3 * k * k);
    let hx = |k: f64| Complex64::from_polar(1.0, -0.2 * k * k + 0.1 * k);
    let (dims, sp) = ([shape.0, shape.1], [0.4, 0.3]);
    if separable {
        SpectralPlan::<T>::new_separable(dims, sp, hy, hx).unwrap()
    } else {
        SpectralPlan::<T>::new(dims, sp, |ky, kx| hy(ky) * hx(kx)).unwrap()
    }
}

/// A separable plan equals the plan of the product table, for every element type (real
/// data fall back to the table), awkward sizes, 1D, and through `apply_steps` with hooks.
fn separable_case<T: Random>(shape: (usize, usize), tol: f64) {
    let mut sep = product_plan::<T>(shape, true);
    let mut full = product_plan::<T>(shape, false);
    assert_eq!(sep.is_separable(), T::IS_COMPLEX);
    assert!(!full.is_separable());
    let u = random::<T>(shape, 11);
    let two = T::from_f64(2.0);
    let hook = |_: usize, r: &mut [T]| r.iter_mut().for_each(|v| *v *= two);
    let (mut a, mut b) = (u.clone(), u);
    sep.apply_steps(a.view_mut(), 3, hook, hook, no_hook);
    full.apply_steps(b.view_mut(), 3, hook, hook, no_hook);
    let e = max_diff(&a, &b);
    assert!(e < tol, "{} {shape:?}: separable vs table {e}", T::NAME);
}

#[test]
fn separable_transfer_matches_the_table() {
    for shape in [(1, 1), (1, 17), (16, 1), (7, 5), (12, 33), (40, 24)] {
        separable_case::<Complex64>(shape, 1e-12);
        separable_case::<Complex32>(shape, 1e-4);
        separable_case::<f64>(shape, 1e-12);
    }
    // Switching back to a table after a separable transfer.
    let mut plan = SpectralPlan::<Complex64>::new_separable(
        [4, 6],
        [1.0, 1.0],
        |_| 2.0.into(),
        |_| 3.0.into(),
    )
    .unwrap();
    plan.set_transfer(identity_transfer);
    assert!(!plan.is_separable());
    let u = random::<Complex64>((4, 6), 2);
    let mut v = u.clone();
    plan.apply_inplace(v.view_mut());
    assert!(max_diff(&u, &v) < 1e-14);
}

/// The portable products against the AVX2+FMA ones (where the machine has them), for tables and
/// separable transfers. The two differ only in fusing the multiply-adds of each complex product
/// (one rounding of `eps / 2` less per product); three steps of two products each plus the
/// transforms' `eps log2 n` growth stay within `32 eps` of the O(1) data, while a wrong lane or
/// a dropped tail element would differ at O(1).
fn portable_case<T: Random>(shape: (usize, usize), separable: bool, eps: f64) {
    let u = random::<T>(shape, 21);
    let run = |simd: Simd| {
        let mut plan = product_plan::<T>(shape, separable);
        plan.set_simd(simd);
        let mut v = u.clone();
        plan.apply_steps(v.view_mut(), 3, no_hook, no_hook, no_hook);
        (plan.isa(), v)
    };
    let (isa0, port) = run(Simd::Portable);
    let (isa, best) = run(Simd::Best);
    assert_eq!(isa0, Isa::Portable);
    assert_eq!(isa, Isa::detect());
    let e = max_diff(&port, &best);
    assert!(
        e < 32.0 * eps,
        "{} {shape:?} separable {separable}: {e:e}",
        T::NAME
    );
}

#[test]
fn portable_and_simd_products_agree() {
    for shape in [(7, 5), (12, 33), (1, 31)] {
        for separable in [false, true] {
            portable_case::<Complex64>(shape, separable, f64::EPSILON);
            portable_case::<f64>(shape, separable, f64::EPSILON);
            portable_case::<Complex32>(shape, separable, f64::from(f32::EPSILON));
            portable_case::<f32>(shape, separable, f64::from(f32::EPSILON));
        }
    }
}

/// The line-by-line path equals `apply_steps` with the outer-product hooks: complex128 and
/// complex64 (vector bodies and scalar tails: odd lengths), 1D, a transposed view and a
/// table transfer (both through the fallback), and real data.
fn axis_case<T: Random>(shape: (usize, usize), separable: bool, transposed: bool, tol: f64) {
    let mut plan = product_plan::<T>(shape, separable);
    let line = |n: usize, a: f64, b: f64| -> Vec<T> {
        let c = random::<T>((1, n), (a * 100.0) as u64);
        c.iter()
            .map(|&v| v * T::from_f64(b) + T::from_f64(a))
            .collect()
    };
    let (ny, nx) = shape;
    let fy = [line(ny, 1.0, 0.1), line(ny, 0.9, 0.2), line(ny, 1.1, 0.1)];
    let fx = [line(nx, 0.8, 0.3), line(nx, 1.2, 0.1), line(nx, 1.0, 0.2)];
    let ay = AxisFactors {
        pre: &fy[0],
        mid: &fy[1],
        post: &fy[2],
    };
    let ax = AxisFactors {
        pre: &fx[0],
        mid: &fx[1],
        post: &fx[2],
    };
    let u = random::<T>(shape, 21);
    let mut a = u.clone();
    let mut at = Array2::<T>::zeros((nx, ny));
    if transposed {
        at.view_mut().reversed_axes().assign(&u);
        plan.apply_axis_steps(at.view_mut().reversed_axes(), 4, ay, ax);
        a.assign(&at.view().reversed_axes());
    } else {
        plan.apply_axis_steps(a.view_mut(), 4, ay, ax);
    }
    let mut b = u;
    plan.apply_steps(
        b.view_mut(),
        4,
        outer_hook(&fy[0], &fx[0]),
        outer_hook(&fy[1], &fx[1]),
        outer_hook(&fy[2], &fx[2]),
    );
    let e = max_diff(&a, &b);
    assert!(e < tol, "{} {shape:?} separable {separable}: {e}", T::NAME);
}

#[test]
fn axis_steps_match_outer_product_hooks() {
    // Four applications of O(1) factors on O(1) data: rounding of a few FFT round trips,
    // ~1e-15 in f64 and ~1e-6 in f32, far below these bounds.
    for shape in [(1, 1), (1, 33), (9, 1), (7, 5), (17, 12), (32, 31)] {
        axis_case::<Complex64>(shape, true, false, 1e-12);
        axis_case::<Complex64>(shape, true, true, 1e-12);
        axis_case::<Complex64>(shape, false, false, 1e-12);
        axis_case::<Complex32>(shape, true, false, 1e-4);
        axis_case::<f64>(shape, true, false, 1e-12);
    }
}

/// Periodic sum of Gaussians of variance `var` centred at `c` on a period `l`.
fn periodic_gauss(x: f64, c: f64, var: f64, l: f64) -> f64 {
    (-20..=20)
        .map(|m| {
            let d = x - c - f64::from(m) * l;
            (-d * d / (2.0 * var)).exp()
        })
        .sum()
}

#[test]
fn heat_kernel_spreads_a_periodic_gaussian_exactly() {
    let (ny, nx, dy, dx) = (48, 64, 0.25, 0.2);
    let (ly, lx) = (ny as f64 * dy, nx as f64 * dx);
    let (d, t, s0) = (0.7, 0.9, 1.0);
    let (cy, cx) = (4.1, 3.3);
    let s1 = s0 * s0 + 2.0 * d * t;
    let u0 = Array2::from_shape_fn((ny, nx), |(i, j)| {
        periodic_gauss(i as f64 * dy, cy, s0 * s0, ly)
            * periodic_gauss(j as f64 * dx, cx, s0 * s0, lx)
    });
    // Each 1D factor keeps its integral, so its amplitude falls by s0 / s1.
    let amp = s0 * s0 / s1;
    let exact = Array2::from_shape_fn((ny, nx), |(i, j)| {
        amp * periodic_gauss(i as f64 * dy, cy, s1, ly) * periodic_gauss(j as f64 * dx, cx, s1, lx)
    });
    let mut plan = SpectralPlan::<f64>::new([ny, nx], [dy, dx], |ky, kx| {
        Complex64::new((-d * (ky * ky + kx * kx) * t).exp(), 0.0)
    })
    .unwrap();
    let mut u = u0.clone();
    plan.apply_inplace(u.view_mut());
    // The initial Gaussian (sigma = 4 dy, 5 dx) is band-limited to ~exp(-(pi sigma/d)^2/2)
    // < 1e-30 at Nyquist, so the discrete heat step is exact to rounding.
    let e = max_diff(&u, &exact);
    assert!(e < 1e-12, "heat kernel error {e}");
    // Mass is conserved to rounding.
    assert!((u.sum() - u0.sum()).abs() < 1e-10 * u0.sum());
}

#[test]
fn wavenumbers_match_numpy_fftfreq() {
    // 2 pi * numpy.fft.fftfreq(5, 0.5) = 2 pi * [0, 0.4, 0.8, -0.8, -0.4].
    let k = wavenumbers(5, 0.5);
    let expected = [0.0, 0.4, 0.8, -0.8, -0.4].map(|f| f * TAU);
    for (a, b) in k.iter().zip(expected) {
        assert!((a - b).abs() < 1e-15);
    }
}

#[test]
fn bad_spacing_is_a_typed_error() {
    let e = SpectralPlan::<f64>::new([4, 4], [0.0, 1.0], identity_transfer).unwrap_err();
    assert!(
        matches!(e, CoreError::InvalidValue { name: "dy", .. }),
        "{e}"
    );
    let e = SpectralPlan::<f64>::new([0, 4], [1.0, 1.0], identity_transfer).unwrap_err();
    assert!(matches!(e, CoreError::EmptyInput { .. }));
}
