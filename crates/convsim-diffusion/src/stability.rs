//! Explicit stability limits from the stencil's symbol.
//!
//! Forward Euler `u <- u + dt L u` multiplies a Fourier mode `exp(i(theta_y i + theta_x j))` by
//! `1 + dt sigma(theta)`, where `sigma` is the symbol of the (point-symmetric, hence real)
//! operator kernel `K` with taps at offsets `(a, b)`:
//!
//! ```text
//! sigma(theta_y, theta_x) = sum_{a, b} K[a, b] cos(a theta_y + b theta_x)   (<= 0 for diffusion)
//! stable  <=>  |1 + dt sigma| <= 1 for all modes  <=>  dt <= 2 / max(-sigma)
//! ```
//!
//! The maximum is found on a grid of wavenumbers refined by a pattern search, so it is exact to
//! rounding for the smooth symbols of finite stencils; for the 5-point Laplacian with constant
//! `D` it is the checkerboard `(pi, pi)` and the limit is `1 / (2 D (1/dx^2 + 1/dy^2))`, i.e.
//! `h^2 / (4 D)` on a square grid. Periodic, symmetric and antisymmetric extensions only keep a
//! subset of the periodic modes, so the bound holds for every boundary. An axis of one node has
//! only the mode `theta = 0`.
//!
//! ```
//! use convsim_core::stencil::laplacian;
//! use convsim_diffusion::stability::explicit_limit;
//! let k = laplacian(2, 0.1, 0.1).unwrap();
//! let limit = explicit_limit(k.taps().view(), [1, 1], [true, true]);
//! assert!((limit - 0.01 / 4.0).abs() < 1e-15);
//! ```

use std::f64::consts::PI;

use ndarray::ArrayView2;

/// `sigma(theta_y, theta_x)` of a centred point-symmetric kernel with the given anchor.
#[must_use]
pub fn symbol(taps: ArrayView2<'_, f64>, anchor: [usize; 2], theta: [f64; 2]) -> f64 {
    let mut s = 0.0;
    for ((a, b), &w) in taps.indexed_iter() {
        if w != 0.0 {
            let oy = a as f64 - anchor[0] as f64;
            let ox = b as f64 - anchor[1] as f64;
            s += w * (oy * theta[0] + ox * theta[1]).cos();
        }
    }
    s
}

/// Largest stable forward-Euler step `2 / max(-sigma)` of a kernel; `active[axis]` is `false`
/// for an axis of a single node (only `theta = 0` exists there). Returns `f64::INFINITY` if the
/// symbol is never negative (the zero operator).
#[must_use]
pub fn explicit_limit(taps: ArrayView2<'_, f64>, anchor: [usize; 2], active: [bool; 2]) -> f64 {
    let neg = |t: [f64; 2]| -symbol(taps, anchor, t);
    // sigma(-theta) = sigma(theta): theta_y in [0, pi] and theta_x in [-pi, pi] cover all.
    let n: u32 = 64;
    let ys: Vec<f64> = if active[0] {
        (0..=n).map(|i| PI * f64::from(i) / f64::from(n)).collect()
    } else {
        vec![0.0]
    };
    let xs: Vec<f64> = if active[1] {
        (0..=2 * n)
            .map(|i| PI * (f64::from(i) / f64::from(n) - 1.0))
            .collect()
    } else {
        vec![0.0]
    };
    let mut best = [0.0, 0.0];
    let mut best_v = f64::NEG_INFINITY;
    for &ty in &ys {
        for &tx in &xs {
            let v = neg([ty, tx]);
            if v > best_v {
                best_v = v;
                best = [ty, tx];
            }
        }
    }
    // Pattern search from the best grid point: halve the step until it is below 1e-13 rad.
    let mut step = PI / f64::from(n);
    while step > 1e-13 {
        let mut moved = false;
        for (dy, dx) in [
            (1.0, 0.0),
            (-1.0, 0.0),
            (0.0, 1.0),
            (0.0, -1.0),
            (1.0, 1.0),
            (1.0, -1.0),
            (-1.0, 1.0),
            (-1.0, -1.0),
        ] {
            let t = [
                if active[0] { best[0] + dy * step } else { 0.0 },
                if active[1] { best[1] + dx * step } else { 0.0 },
            ];
            let v = neg(t);
            if v > best_v {
                best_v = v;
                best = t;
                moved = true;
            }
        }
        if !moved {
            step *= 0.5;
        }
    }
    if best_v > 0.0 {
        2.0 / best_v
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convsim_core::stencil::{laplacian, laplacian_9pt};

    #[test]
    fn classic_limits() {
        // 5-point, dx != dy: 1 / (2 D (1/dx^2 + 1/dy^2)).
        let (dy, dx) = (0.1, 0.2);
        let k = laplacian(2, dy, dx).unwrap();
        let expect = 1.0 / (2.0 * (1.0 / (dx * dx) + 1.0 / (dy * dy)));
        let got = explicit_limit(k.taps().view(), k.anchor(), [true, true]);
        assert!((got / expect - 1.0).abs() < 1e-14, "{got} vs {expect}");
        // 4th order: per-axis maximum 16/3 at pi -> 3 h^2 / 16.
        let k = laplacian(4, 1.0, 1.0).unwrap();
        let got = explicit_limit(k.taps().view(), k.anchor(), [true, true]);
        assert!((got - 3.0 / 16.0).abs() < 1e-14, "{got}");
        // 9-point isotropic: sigma(pi, pi) = -32 / (6 h^2) -> 3 h^2 / 8.
        let k = laplacian_9pt(1.0).unwrap();
        let got = explicit_limit(k.taps().view(), k.anchor(), [true, true]);
        assert!((got - 3.0 / 8.0).abs() < 1e-14, "{got}");
        // 1D (ny = 1): only the x modes, h^2 / (2 D).
        let k = laplacian(2, 1.0, 1.0).unwrap();
        let got = explicit_limit(k.taps().view(), k.anchor(), [false, true]);
        assert!((got - 0.5).abs() < 1e-14, "{got}");
    }
}
