//! The stencil library: finite-difference weights (Fornberg), Laplacians, smoothing kernels.
//!
//! All weights are computed in `f64` and returned as correlation kernels anchored at their
//! centre, so `Correlate` applies them as written (`y[i] = sum_j w[j] x[i + j - r]`). Central
//! derivative kernels of odd order are antisymmetric, so under `Convolve` they change sign.
//!
//! ```
//! use convsim_core::stencil::central_weights;
//! let w = central_weights(2, 4).unwrap();
//! let expect = [-1.0 / 12.0, 4.0 / 3.0, -5.0 / 2.0, 4.0 / 3.0, -1.0 / 12.0];
//! assert!(w.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-14));
//! ```

use ndarray::Array2;

use crate::{CoreError, Kernel2, Result, SeparableKernel};

/// Fornberg's algorithm (Math. Comp. 51, 1988): weights of every derivative order `0..=m` at
/// `x0` on the nodes `xs` (any distinct positions). Returns `w[d][j]`, the weight of node `j` in
/// the derivative of order `d`.
///
/// # Errors
/// If there are no nodes, nodes coincide, or `m >= xs.len()`.
pub fn fornberg(m: usize, x0: f64, xs: &[f64]) -> Result<Vec<Vec<f64>>> {
    let n = xs.len();
    if n == 0 || m >= n {
        return Err(CoreError::Stencil(format!(
            "derivative order {m} needs at least {} nodes, got {n}",
            m + 1
        )));
    }
    for i in 0..n {
        for j in 0..i {
            if xs[i] == xs[j] {
                return Err(CoreError::Stencil(format!(
                    "nodes {j} and {i} coincide at {}",
                    xs[i]
                )));
            }
        }
    }
    // c[j][k]: weight of node j for derivative k.
    let mut c = vec![vec![0.0; m + 1]; n];
    c[0][0] = 1.0;
    let mut c1 = 1.0;
    let mut c4 = xs[0] - x0;
    for i in 1..n {
        let mn = i.min(m);
        let mut c2 = 1.0;
        let c5 = c4;
        c4 = xs[i] - x0;
        for j in 0..i {
            let c3 = xs[i] - xs[j];
            c2 *= c3;
            if j == i - 1 {
                for k in (1..=mn).rev() {
                    c[i][k] = c1 * (k as f64 * c[i - 1][k - 1] - c5 * c[i - 1][k]) / c2;
                }
                c[i][0] = -c1 * c5 * c[i - 1][0] / c2;
            }
            for k in (1..=mn).rev() {
                c[j][k] = (c4 * c[j][k] - k as f64 * c[j][k - 1]) / c3;
            }
            c[j][0] = c4 * c[j][0] / c3;
        }
        c1 = c2;
    }
    Ok((0..=m).map(|d| (0..n).map(|j| c[j][d]).collect()).collect())
}

/// Weights of the derivative of order `deriv` at `x0` on nodes `xs` (see [`fornberg`]).
///
/// # Errors
/// As [`fornberg`].
pub fn fd_weights(deriv: usize, x0: f64, xs: &[f64]) -> Result<Vec<f64>> {
    let mut all = fornberg(deriv, x0, xs)?;
    Ok(all.swap_remove(deriv))
}

/// Central finite-difference weights on unit spacing for derivative `deriv` with accuracy
/// order `accuracy` (even, at least 2). The stencil has `2r + 1` taps with
/// `r = (deriv + 1) / 2 - 1 + accuracy / 2`; divide by `h^deriv` for spacing `h`.
///
/// # Errors
/// If `deriv` is 0 or `accuracy` is odd or 0.
pub fn central_weights(deriv: usize, accuracy: usize) -> Result<Vec<f64>> {
    if deriv == 0 || accuracy == 0 || !accuracy.is_multiple_of(2) {
        return Err(CoreError::Stencil(format!(
            "central weights need deriv >= 1 and an even accuracy >= 2, got deriv {deriv}, accuracy {accuracy}"
        )));
    }
    let r = deriv.div_ceil(2) - 1 + accuracy / 2;
    let xs: Vec<f64> = (-(r as isize)..=r as isize).map(|i| i as f64).collect();
    let mut w = fd_weights(deriv, 0.0, &xs)?;
    // Central stencils are exactly (anti)symmetric; enforce it so round-off cannot break the
    // symmetry that conservation and stability arguments rely on.
    let sign = if deriv.is_multiple_of(2) { 1.0 } else { -1.0 };
    for i in 0..r {
        let avg = 0.5 * (w[i] + sign * w[2 * r - i]);
        w[i] = avg;
        w[2 * r - i] = sign * avg;
    }
    if !deriv.is_multiple_of(2) {
        w[r] = 0.0;
    }
    Ok(w)
}

/// Supported Laplacian orders.
pub const LAPLACIAN_ORDERS: [usize; 8] = [2, 4, 6, 8, 10, 12, 14, 16];

/// The cross-shaped 2D Laplacian of accuracy `order` (2, 4, ..., 16) on spacings `(hy, hx)`:
/// a `(order + 1) x (order + 1)` kernel, zero off the two centre lines.
///
/// # Errors
/// If `order` is not an even number from 2 to 16, or a spacing is not positive and finite.
pub fn laplacian(order: usize, hy: f64, hx: f64) -> Result<Kernel2<f64>> {
    if !LAPLACIAN_ORDERS.contains(&order) {
        return Err(CoreError::Stencil(format!(
            "Laplacian order {order} is not one of 2, 4, ..., 16"
        )));
    }
    check_spacing(hy)?;
    check_spacing(hx)?;
    let w = central_weights(2, order)?;
    let r = order / 2;
    let n = 2 * r + 1;
    let mut taps = Array2::zeros((n, n));
    for (i, &wi) in w.iter().enumerate() {
        taps[[i, r]] += wi / (hy * hy);
        taps[[r, i]] += wi / (hx * hx);
    }
    Kernel2::new(taps)
}

/// The 9-point isotropic Laplacian `(1 / 6h^2) [[1, 4, 1], [4, -20, 4], [1, 4, 1]]` (second
/// order, with an isotropic leading error term).
///
/// # Errors
/// If `h` is not positive and finite.
pub fn laplacian_9pt(h: f64) -> Result<Kernel2<f64>> {
    check_spacing(h)?;
    let s = 1.0 / (6.0 * h * h);
    let taps = ndarray::array![[1.0, 4.0, 1.0], [4.0, -20.0, 4.0], [1.0, 4.0, 1.0]].mapv(|v| v * s);
    Kernel2::new(taps)
}

/// Central derivative of order `deriv` and accuracy `accuracy` along one axis (`0` = y, `1` = x)
/// on spacing `h`, as a `1 x n` (x) or `n x 1` (y) kernel.
///
/// # Errors
/// As [`central_weights`], or `axis > 1`, or a bad spacing.
pub fn derivative(axis: usize, deriv: usize, accuracy: usize, h: f64) -> Result<Kernel2<f64>> {
    check_spacing(h)?;
    let w: Vec<f64> = central_weights(deriv, accuracy)?
        .into_iter()
        .map(|v| v / h.powi(deriv as i32))
        .collect();
    let n = w.len();
    let taps = match axis {
        0 => Array2::from_shape_fn((n, 1), |(i, _)| w[i]),
        1 => Array2::from_shape_fn((1, n), |(_, j)| w[j]),
        _ => {
            return Err(CoreError::Stencil(format!(
                "axis {axis} is not 0 (y) or 1 (x)"
            )));
        }
    };
    Kernel2::new(taps)
}

/// Normalised Gaussian taps `exp(-x^2 / 2 sigma^2)` for `x = -radius..=radius` (sum 1).
///
/// # Errors
/// If `sigma` is not positive and finite.
pub fn gaussian(sigma: f64, radius: usize) -> Result<Vec<f64>> {
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(CoreError::Stencil(format!(
            "Gaussian sigma {sigma} must be positive and finite"
        )));
    }
    let r = radius as isize;
    let w: Vec<f64> = (-r..=r)
        .map(|x| (-((x * x) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = w.iter().sum();
    Ok(w.into_iter().map(|v| v / s).collect())
}

/// Normalised binomial taps with `n` taps: row `n - 1` of Pascal's triangle over `2^(n-1)`
/// (`[1, 2, 1] / 4` for `n = 3`). The anti-aliasing blur of strided downsampling.
///
/// # Errors
/// If `n` is 0 or above 64.
pub fn binomial(n: usize) -> Result<Vec<f64>> {
    if n == 0 || n > 64 {
        return Err(CoreError::Stencil(format!(
            "binomial filter length {n} must be from 1 to 64"
        )));
    }
    let mut row = vec![1.0_f64];
    for _ in 1..n {
        let mut next = vec![1.0; row.len() + 1];
        for i in 1..row.len() {
            next[i] = row[i - 1] + row[i];
        }
        row = next;
    }
    let s: f64 = row.iter().sum();
    Ok(row.into_iter().map(|v| v / s).collect())
}

/// The separable 2D Gaussian of `sigma` and `radius` (both axes).
///
/// # Errors
/// As [`gaussian`].
pub fn gaussian_2d(sigma: f64, radius: usize) -> Result<SeparableKernel<f64>> {
    let g = gaussian(sigma, radius)?;
    SeparableKernel::new(g.clone(), g)
}

/// The separable 2D binomial blur with `n` taps per axis.
///
/// # Errors
/// As [`binomial`].
pub fn binomial_2d(n: usize) -> Result<SeparableKernel<f64>> {
    let b = binomial(n)?;
    SeparableKernel::new(b.clone(), b)
}

fn check_spacing(h: f64) -> Result<()> {
    if h.is_finite() && h > 0.0 {
        Ok(())
    } else {
        Err(CoreError::Stencil(format!(
            "grid spacing {h} must be positive and finite"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn classic_weights() {
        assert!(close(
            &central_weights(2, 2).unwrap(),
            &[1.0, -2.0, 1.0],
            1e-15
        ));
        assert!(close(
            &central_weights(1, 2).unwrap(),
            &[-0.5, 0.0, 0.5],
            1e-15
        ));
        assert!(close(
            &central_weights(2, 6).unwrap(),
            &[
                1.0 / 90.0,
                -3.0 / 20.0,
                1.5,
                -49.0 / 18.0,
                1.5,
                -3.0 / 20.0,
                1.0 / 90.0
            ],
            1e-14
        ));
        // One-sided second-order first derivative: [-3/2, 2, -1/2].
        assert!(close(
            &fd_weights(1, 0.0, &[0.0, 1.0, 2.0]).unwrap(),
            &[-1.5, 2.0, -0.5],
            1e-15
        ));
    }

    #[test]
    fn laplacian_exact_on_polynomials() {
        // An order-p Laplacian differentiates x^q exactly for q <= p + 1.
        for order in LAPLACIAN_ORDERS {
            let w = central_weights(2, order).unwrap();
            let r = (w.len() - 1) as i32 / 2;
            for q in 0..=(order as i32 + 1) {
                let approx: f64 = w
                    .iter()
                    .enumerate()
                    .map(|(j, wj)| wj * f64::from(j as i32 - r).powi(q))
                    .sum();
                let exact = if q == 2 { 2.0 } else { 0.0 };
                assert!(
                    (approx - exact).abs() < 1e-8 * f64::from(r).powi(q).max(1.0),
                    "order {order} q {q}: {approx}"
                );
            }
        }
    }

    #[test]
    fn smoothing_kernels_sum_to_one() {
        assert!(close(&binomial(3).unwrap(), &[0.25, 0.5, 0.25], 1e-16));
        assert!((gaussian(5.0, 15).unwrap().iter().sum::<f64>() - 1.0).abs() < 1e-15);
        let k = laplacian_9pt(1.0).unwrap();
        assert!(k.taps().sum().abs() < 1e-15);
    }
}
