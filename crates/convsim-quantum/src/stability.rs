//! Stability limits of the finite-difference engine: the RK4 stability region and the
//! symbol of a central second difference.

use convsim_core::Complex64;

/// The RK4 stability polynomial `R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24`.
pub(crate) fn rk4_amplification(z: Complex64) -> f64 {
    (1.0 + z * (1.0 + z * (0.5 + z * (1.0 / 6.0 + z / 24.0)))).norm()
}

/// Largest `h` such that RK4 is stable (`|R| <= 1`) on the rectangle `Re in [-a h, 0]`,
/// `Im in [-b h, b h]`, which contains the numerical range of `-i (H - i W)` when `b` bounds
/// `|H|` and `a` bounds `W`. With `a = 0` this is the exact `2 sqrt 2 / b`.
pub(crate) fn rk4_limit_rectangle(a: f64, b: f64) -> f64 {
    if b <= 0.0 && a <= 0.0 {
        return f64::INFINITY;
    }
    if a <= 0.0 {
        return 2.0 * 2f64.sqrt() / b;
    }
    // |R| is subharmonic, so |R| <= 1 on the rectangle iff on its boundary; sample it densely and
    // bisect on h.
    let ok = |h: f64| {
        let n = 400;
        (0..=n).all(|s| {
            let f = f64::from(s) / f64::from(n);
            let (re, im) = (-a * h, b * h);
            [
                Complex64::new(re * f, im),
                Complex64::new(re * f, -im),
                Complex64::new(re, im * (2.0 * f - 1.0)),
                Complex64::new(0.0, im * (2.0 * f - 1.0)),
            ]
            .iter()
            .all(|&z| rk4_amplification(z) <= 1.0 + 1e-12)
        })
    };
    let mut hi = 2.0 * 2f64.sqrt() / b.max(1e-300);
    hi = hi.min(2.8 / a);
    let mut lo = 0.0;
    if ok(hi) {
        return hi;
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The negative real root of `|R(x)| = 1` for RK4 (`x ~ -2.785`): the real-axis stability
/// limit (imaginary-time evolution, where `-H` has a real spectrum).
pub(crate) fn rk4_real_limit() -> f64 {
    let (mut lo, mut hi) = (2.0, 3.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if rk4_amplification(Complex64::new(-mid, 0.0)) <= 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Largest value of the symbol `-sum_j w_j cos(j theta)` of a central second-difference stencil
/// `w` over `theta in [0, pi]` (sampled densely, `pi` included): the largest eigenvalue of `-L`
/// on unit spacing.
pub(crate) fn second_difference_symbol_max(w: &[f64]) -> f64 {
    let r = (w.len() - 1) / 2;
    let n = 4096;
    (0..=n)
        .map(|s| {
            let th = std::f64::consts::PI * f64::from(s) / f64::from(n);
            -w.iter()
                .enumerate()
                .map(|(j, wj)| wj * ((j as f64 - r as f64) * th).cos())
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}
