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
    // An active axis is searched over its whole band (as a non-periodic axis of any length > 1),
    // an inactive one has only theta = 0 (as an axis of one node).
    let n = active.map(|a| if a { 2 } else { 1 });
    let (best_v, _) = maximise(n, [false, false], neg);
    if best_v > 0.0 {
        2.0 / best_v
    } else {
        f64::INFINITY
    }
}

/// The transfer function `(re, im)` of correlating with `taps` (any symmetry): a mode
/// `exp(i(theta_y i + theta_x j))` comes out multiplied by
/// `sum_{a, b} taps[a, b] exp(i((a - anchor_y) theta_y + (b - anchor_x) theta_x))`.
#[must_use]
pub fn transfer(taps: ArrayView2<'_, f64>, anchor: [usize; 2], theta: [f64; 2]) -> (f64, f64) {
    let (mut re, mut im) = (0.0, 0.0);
    for ((a, b), &w) in taps.indexed_iter() {
        if w != 0.0 {
            let oy = a as f64 - anchor[0] as f64;
            let ox = b as f64 - anchor[1] as f64;
            let (sn, cs) = (oy * theta[0] + ox * theta[1]).sin_cos();
            re += w * cs;
            im += w * sn;
        }
    }
    (re, im)
}

/// The wavenumbers of one axis: `2 pi k / n` for a periodic axis of `n` nodes (exactly the
/// grid's modes), `0` for a single node, and otherwise a grid of `[-pi, pi]` that is refined by
/// pattern search (the reflecting extensions keep modes of period `2n` or `2n - 2`, and for a
/// non-symmetric stencil they are not exact eigenvectors, so the whole band is the safe set).
fn axis_modes(n: usize, periodic: bool) -> (Vec<f64>, bool) {
    if n <= 1 {
        (vec![0.0], false)
    } else if periodic {
        (
            (0..n).map(|k| 2.0 * PI * k as f64 / n as f64).collect(),
            false,
        )
    } else {
        let m: u32 = 64;
        let v = (0..=2 * m)
            .map(|i| PI * (f64::from(i) / f64::from(m) - 1.0))
            .collect();
        (v, true)
    }
}

/// Maximum of `f` over the modes of a grid `n = [ny, nx]` (see [`axis_modes`]), with its
/// argument. Continuous axes are refined by pattern search down to 1e-13 rad.
fn maximise(n: [usize; 2], periodic: [bool; 2], f: impl Fn([f64; 2]) -> f64) -> (f64, [f64; 2]) {
    let (ys, ry) = axis_modes(n[0], periodic[0]);
    let (xs, rx) = axis_modes(n[1], periodic[1]);
    let mut best = [0.0, 0.0];
    let mut best_v = f64::NEG_INFINITY;
    for &ty in &ys {
        for &tx in &xs {
            let v = f([ty, tx]);
            if v > best_v {
                best_v = v;
                best = [ty, tx];
            }
        }
    }
    if !(ry || rx) {
        return (best_v, best);
    }
    let mut step = PI / 64.0;
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
                if ry { best[0] + dy * step } else { best[0] },
                if rx { best[1] + dx * step } else { best[1] },
            ];
            let v = f(t);
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
    (best_v, best)
}

/// Amplification factor `max |K_hat|` of a whole-step stencil over the modes of a grid of
/// `n = [ny, nx]` nodes (`periodic[axis]`: exact grid wavenumbers `2 pi k / n`; otherwise the
/// whole band `[-pi, pi]`), and the `(theta_y, theta_x)` where it is reached. The step is
/// stable iff it is at most 1; a conservative step has `K_hat(0) = sum K = 1`.
#[must_use]
pub fn max_amplification(
    taps: ArrayView2<'_, f64>,
    anchor: [usize; 2],
    n: [usize; 2],
    periodic: [bool; 2],
) -> (f64, [f64; 2]) {
    maximise(n, periodic, |t| {
        let (re, im) = transfer(taps, anchor, t);
        re.hypot(im)
    })
}

/// Largest stable forward-Euler `dt` of an operator stencil `L` (any symmetry) on a grid of
/// `n` nodes (modes as in [`max_amplification`]). A mode with symbol `lambda = L_hat(theta)` is
/// multiplied by `1 + dt lambda`, and `|1 + dt lambda| <= 1` iff
/// `dt <= -2 Re(lambda) / |lambda|^2`; the limit is the minimum of that over the modes, which
/// for a symmetric (real, non-positive) symbol is the usual `2 / max |L_hat|`. Modes with
/// `|lambda|` below `1e-12 sum |L|` (the conserved constant mode, to rounding) are skipped. A
/// mode with `Re(lambda) >= 0` (a growing or purely oscillating mode) gives the limit 0, and
/// the zero operator `f64::INFINITY`.
#[must_use]
pub fn operator_limit(
    taps: ArrayView2<'_, f64>,
    anchor: [usize; 2],
    n: [usize; 2],
    periodic: [bool; 2],
) -> f64 {
    let tiny = 1e-12 * taps.iter().map(|v| v.abs()).sum::<f64>();
    // Maximise |lambda|^2 / (-2 Re lambda) = 1 / (the limit of that mode).
    let (inv, _) = maximise(n, periodic, |t| {
        let (re, im) = transfer(taps, anchor, t);
        let m2 = re * re + im * im;
        if m2.sqrt() <= tiny {
            0.0
        } else if re >= 0.0 {
            f64::INFINITY
        } else {
            m2 / (-2.0 * re)
        }
    });
    if inv > 0.0 { 1.0 / inv } else { f64::INFINITY }
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

    #[test]
    fn operator_limit_and_amplification_agree_with_the_symmetric_case() {
        // The symmetric symbol gives the same limit as explicit_limit: h^2 / (4 D) on a square
        // periodic grid whose modes include the checkerboard (n even).
        let k = laplacian(2, 0.1, 0.1).unwrap();
        let lim = operator_limit(k.taps().view(), k.anchor(), [16, 16], [true, true]);
        assert!((lim - 0.01 / 4.0).abs() < 1e-17, "{lim}");
        let lim = operator_limit(k.taps().view(), k.anchor(), [16, 16], [false, false]);
        assert!((lim - 0.01 / 4.0).abs() < 1e-17, "{lim}");
        // The step delta + r L5 (h = 1) has |K_hat| = max(1, |1 - 8 r|): 1 at r = 0.2, 1.4 at
        // r = 0.3 (the checkerboard).
        for (r, want) in [(0.2, 1.0), (0.3, 1.4)] {
            let mut t = laplacian(2, 1.0, 1.0).unwrap().taps().mapv(|v| r * v);
            t[[1, 1]] += 1.0;
            let (a, th) = max_amplification(t.view(), [1, 1], [8, 8], [true, true]);
            assert!((a - want).abs() < 1e-14, "{r}: {a} at {th:?}");
        }
        // Centred advection is unstable for every dt under forward Euler.
        let adv = ndarray::array![[-0.5, 0.0, 0.5]];
        assert_eq!(
            operator_limit(adv.view(), [0, 1], [1, 16], [true, true]),
            0.0
        );
    }
}
