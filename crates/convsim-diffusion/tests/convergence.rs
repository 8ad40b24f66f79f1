//! Convergence against analytic solutions: the heat kernel (periodic Gaussian), an anisotropic
//! Gaussian, and sine / cosine modes with fixed-value and zero-flux boundaries.

mod common;

use common::*;
use convsim_core::testing::max_diff;
use convsim_diffusion::{BoundaryCondition, Diffusivity, Scheme};
use ndarray::Array2;

/// Spatial error of the explicit scheme of `order` on an `n x n` periodic square of side 12
/// against the spreading Gaussian (variance 1 -> 1 + 2 D t, D = 1, t = 0.5) with its periodic
/// images. `dt <= 0.1 h^2` keeps every order stable; Richardson extrapolation over
/// `order / 2 + 1` halvings of `dt` leaves a time error `O(dt^(order/2 + 1)) = O(h^(order + 2))`,
/// below the spatial error `O(h^order)` being measured.
fn heat_kernel_error(scheme: Scheme, order: usize, n: usize) -> (f64, f64) {
    let l = 12.0;
    let h = l / n as f64;
    let (d, t, c) = (1.0, 0.5, 6.1);
    let var1 = 1.0 + 2.0 * d * t;
    let u0 = Array2::from_shape_fn((n, n), |(i, j)| {
        periodic_gauss(i as f64 * h, c, 1.0, l) * periodic_gauss(j as f64 * h, c - 0.3, 1.0, l)
    });
    // Each 1D factor keeps its integral, so its peak falls by sqrt(1 / var1).
    let exact = Array2::from_shape_fn((n, n), |(i, j)| {
        periodic_gauss(i as f64 * h, c, var1, l) * periodic_gauss(j as f64 * h, c - 0.3, var1, l)
            / var1
    });
    let p = params(
        grid(n, n, h),
        0.0,
        scheme,
        Diffusivity::Constant { d },
        BoundaryCondition::Periodic,
    );
    let n0 = (t / (0.1 * h * h)).ceil() as usize;
    let u = richardson(&p, &u0, t, n0, order / 2 + 1);
    (max_diff(&u, &exact), h)
}

fn check_order(scheme: Scheme, order: usize, ns: [usize; 2]) {
    let (e1, h1) = heat_kernel_error(scheme, order, ns[0]);
    let (e2, h2) = heat_kernel_error(scheme, order, ns[1]);
    let p = observed_order(e1, e2, h1, h2);
    println!("{scheme:?}: n {ns:?} errors {e1:.3e} {e2:.3e} observed order {p:.3}");
    // The criterion: within 10% of the stencil's order.
    assert!(
        (p - order as f64).abs() <= 0.1 * order as f64,
        "{scheme:?}: observed order {p} (errors {e1:e}, {e2:e})"
    );
}

#[test]
fn heat_kernel_order_2() {
    check_order(Scheme::Explicit { order: 2 }, 2, [32, 64]);
}

#[test]
fn heat_kernel_order_4() {
    check_order(Scheme::Explicit { order: 4 }, 4, [32, 64]);
}

#[test]
fn heat_kernel_isotropic9_order_2() {
    check_order(Scheme::Isotropic9, 2, [32, 64]);
}

#[test]
#[ignore = "heavy: run in release by CI"]
fn heat_kernel_order_6_and_8() {
    check_order(Scheme::Explicit { order: 6 }, 6, [32, 64]);
    check_order(Scheme::Explicit { order: 8 }, 8, [40, 64]);
}

/// Error of `order` on an `n x n` plate whose edge nodes are held at `g = 0.7`, against
/// `g + sin(pi x / L) sin(pi y / L) exp(-2 pi^2 D t / L^2)`, `L = (n - 1) h` (the boundary on
/// the edge nodes). Exercises the Antisymmetric padding and the constant correction for a
/// non-zero value, including corners.
fn fixed_plate_error(order: usize, n: usize) -> (f64, f64) {
    let (g, d, t) = (0.7, 1.0, 0.05);
    let h = 1.0 / (n - 1) as f64;
    let k = std::f64::consts::PI;
    let mode = |i: usize, j: usize| (k * i as f64 * h).sin() * (k * j as f64 * h).sin();
    let u0 = Array2::from_shape_fn((n, n), |(i, j)| g + mode(i, j));
    let decay = (-2.0 * k * k * d * t).exp();
    let exact = Array2::from_shape_fn((n, n), |(i, j)| g + decay * mode(i, j));
    let p = params(
        grid(n, n, h),
        0.0,
        Scheme::Explicit { order },
        Diffusivity::Constant { d },
        BoundaryCondition::Fixed { value: g },
    );
    let n0 = (t / (0.1 * h * h)).ceil() as usize;
    let u = richardson(&p, &u0, t, n0, order / 2 + 1);
    (max_diff(&u, &exact), h)
}

/// Error with zero-flux sides (cell-centred: faces at `-h/2` and `(n - 1/2) h`, `L = n h`)
/// against `cos(pi (x + h/2) / L) cos(pi (y + h/2) / L) exp(-2 pi^2 D t / L^2)`.
fn zero_flux_error(order: usize, n: usize) -> (f64, f64) {
    let (d, t) = (1.0, 0.05);
    let h = 1.0 / n as f64;
    let k = std::f64::consts::PI;
    let mode =
        |i: usize, j: usize| (k * (i as f64 + 0.5) * h).cos() * (k * (j as f64 + 0.5) * h).cos();
    let u0 = Array2::from_shape_fn((n, n), |(i, j)| mode(i, j));
    let decay = (-2.0 * k * k * d * t).exp();
    let exact = u0.mapv(|v| v * decay);
    let p = params(
        grid(n, n, h),
        0.0,
        Scheme::Explicit { order },
        Diffusivity::Constant { d },
        BoundaryCondition::ZeroFlux,
    );
    let n0 = (t / (0.1 * h * h)).ceil() as usize;
    let u = richardson(&p, &u0, t, n0, order / 2 + 1);
    (max_diff(&u, &exact), h)
}

#[test]
fn boundaries_keep_the_stencil_order() {
    for order in [2, 4] {
        let (e1, h1) = fixed_plate_error(order, 17);
        let (e2, h2) = fixed_plate_error(order, 33);
        let p = observed_order(e1, e2, h1, h2);
        println!("fixed value, order {order}: errors {e1:.3e} {e2:.3e} observed {p:.3}");
        assert!(
            (p - order as f64).abs() <= 0.1 * order as f64,
            "fixed order {order}: {p}"
        );
        let (e1, h1) = zero_flux_error(order, 16);
        let (e2, h2) = zero_flux_error(order, 32);
        let p = observed_order(e1, e2, h1, h2);
        println!("zero flux, order {order}: errors {e1:.3e} {e2:.3e} observed {p:.3}");
        assert!(
            (p - order as f64).abs() <= 0.1 * order as f64,
            "zero-flux order {order}: {p}"
        );
    }
}

/// Error of the explicit scheme of `order` for a Gaussian spreading under the tensor
/// `D = [[dyy, dxy], [dxy, dxx]] = [[0.5, 0.3], [0.3, 1.0]]`: covariance `I + 2 D t`, periodic
/// images summed, time error removed by Richardson extrapolation as above.
fn anisotropic_error(scheme: Scheme, n: usize, levels: usize) -> (f64, f64, Array2<f64>) {
    let l = 12.0;
    let h = l / n as f64;
    let (dxx, dyy, dxy, t) = (1.0, 0.5, 0.3, 0.5);
    let c = (6.0, 5.8);
    let u0 = Array2::from_shape_fn((n, n), |(i, j)| {
        aniso_gauss(i as f64 * h, j as f64 * h, c, (1.0, 1.0, 0.0), 1.0, (l, l))
    });
    let cov = (1.0 + 2.0 * dyy * t, 1.0 + 2.0 * dxx * t, 2.0 * dxy * t);
    let exact = Array2::from_shape_fn((n, n), |(i, j)| {
        aniso_gauss(i as f64 * h, j as f64 * h, c, cov, 1.0, (l, l))
    });
    let p = params(
        grid(n, n, h),
        0.0,
        scheme,
        Diffusivity::Tensor { dxx, dyy, dxy },
        BoundaryCondition::Periodic,
    );
    let u = if scheme == Scheme::Spectral {
        // Any dt: two steps of t / 2 each.
        let mut p = p;
        p.dt = t / 2.0;
        run(p, u0, 2)
    } else {
        let n0 = (t / (0.1 * h * h)).ceil() as usize;
        richardson(&p, &u0, t, n0, levels)
    };
    (max_diff(&u, &exact), h, u)
}

#[test]
fn anisotropic_gaussian() {
    for order in [2, 4] {
        let s = Scheme::Explicit { order };
        let (e1, h1, _) = anisotropic_error(s, 32, order / 2 + 1);
        let (e2, h2, _) = anisotropic_error(s, 64, order / 2 + 1);
        let p = observed_order(e1, e2, h1, h2);
        println!("anisotropic order {order}: errors {e1:.3e} {e2:.3e} observed {p:.3}");
        assert!(
            (p - order as f64).abs() <= 0.1 * order as f64,
            "anisotropic order {order}: {p}"
        );
    }
    // The spectral step is exact for this band-limited Gaussian (its spectrum at Nyquist is
    // below exp(-(pi / h)^2 / 2) ~ 1e-60): only rounding remains.
    let (e, _, _) = anisotropic_error(Scheme::Spectral, 48, 0);
    println!("anisotropic spectral: error {e:.3e}");
    assert!(e < 1e-12, "spectral anisotropic error {e}");
}
