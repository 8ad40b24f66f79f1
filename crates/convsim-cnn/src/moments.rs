//! Moment matrices of stencils and moment-constrained stencil parameterisations (PDE-Net, Long
//! et al. 2018).
//!
//! For a correlation kernel `w(p, q)` with tap offsets `p` (rows, `y`) and `q` (columns, `x`)
//! measured from the anchor, in units of the grid spacing `(hy, hx)`, the moment matrix is
//!
//! ```text
//! m_ij = sum_{p,q} w(p, q) (p hy)^i (q hx)^j / (i! j!)        0 <= i < kh, 0 <= j < kw
//! ```
//!
//! so that, by Taylor expansion, correlating a smooth field `u` with `w` gives
//! `sum_ij m_ij d^i_y d^j_x u`: `m_ij` is the weight the stencil gives to the derivative
//! `d^(i+j) u / dy^i dx^j`. The map is invertible (a tensor product of Vandermonde systems), so
//! a stencil can be described by its moments as well as by its taps.
//!
//! ```
//! use convsim_cnn::moments::{moment_matrix, taps_from_moments_1d};
//! use ndarray::array;
//! let lap = array![[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]];
//! let m = moment_matrix(lap.view(), [1, 1], [1.0, 1.0]);
//! assert_eq!((m[[2, 0]], m[[0, 2]], m[[0, 0]], m[[1, 1]]), (1.0, 1.0, 0.0, 0.0));
//! // The 3-tap stencil whose only moment is m_2 = 1 is the second difference.
//! assert_eq!(taps_from_moments_1d(&[0.0, 0.0, 1.0], 1, 1.0).unwrap(), [1.0, -2.0, 1.0]);
//! ```

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::linalg::solve;
use crate::{CnnError, Result};

fn factorial(n: usize) -> f64 {
    (1..=n).map(|k| k as f64).product()
}

/// `A[i][p] = ((p - anchor) h)^i / i!` for a `k`-tap axis, row-major `k x k`.
fn taylor_matrix(k: usize, anchor: usize, h: f64) -> Vec<f64> {
    let mut a = vec![0.0; k * k];
    for i in 0..k {
        let f = factorial(i);
        for p in 0..k {
            let x = (p as f64 - anchor as f64) * h;
            a[i * k + p] = x.powi(i as i32) / f;
        }
    }
    a
}

/// Moments `m_i = sum_p w_p ((p - anchor) h)^i / i!` of a 1D stencil, `i = 0..k`.
#[must_use]
pub fn moments_1d(taps: &[f64], anchor: usize, h: f64) -> Vec<f64> {
    let k = taps.len();
    let a = taylor_matrix(k, anchor, h);
    (0..k)
        .map(|i| (0..k).map(|p| a[i * k + p] * taps[p]).sum())
        .collect()
}

/// The 1D stencil of `m.len()` taps with moments `m` (the inverse of [`moments_1d`]).
///
/// # Errors
/// If `h` is not positive or the anchor lies outside the stencil.
pub fn taps_from_moments_1d(m: &[f64], anchor: usize, h: f64) -> Result<Vec<f64>> {
    let k = m.len();
    check_axis(k, anchor, h)?;
    solve(taylor_matrix(k, anchor, h), m.to_vec(), k).ok_or_else(|| singular(k))
}

fn singular(k: usize) -> CnnError {
    CnnError::InvalidParameter {
        name: "kernel_size",
        value: k.to_string(),
        allowed: "the moment system is singular to working precision; use at most 15 taps",
    }
}

fn check_axis(k: usize, anchor: usize, h: f64) -> Result<()> {
    if k == 0 {
        return Err(CnnError::InvalidParameter {
            name: "kernel_size",
            value: "0".into(),
            allowed: "a stencil needs at least one tap",
        });
    }
    if anchor >= k {
        return Err(CnnError::InvalidParameter {
            name: "anchor",
            value: anchor.to_string(),
            allowed: "the anchor must lie inside the stencil (0 <= anchor < taps)",
        });
    }
    if !(h > 0.0 && h.is_finite()) {
        return Err(CnnError::InvalidParameter {
            name: "spacing",
            value: h.to_string(),
            allowed: "grid spacing must be positive and finite",
        });
    }
    Ok(())
}

/// The moment matrix `(kh, kw)` of a 2D correlation kernel with anchor `(ay, ax)` on spacing
/// `(hy, hx)`: `M = A_y W A_x^T` (see the [module docs](self)).
#[must_use]
pub fn moment_matrix(
    taps: ArrayView2<'_, f64>,
    anchor: [usize; 2],
    spacing: [f64; 2],
) -> Array2<f64> {
    let (kh, kw) = taps.dim();
    let ay = taylor_matrix(kh, anchor[0], spacing[0]);
    let ax = taylor_matrix(kw, anchor[1], spacing[1]);
    Array2::from_shape_fn((kh, kw), |(i, j)| {
        let mut s = 0.0;
        for p in 0..kh {
            for q in 0..kw {
                s += ay[i * kh + p] * taps[[p, q]] * ax[j * kw + q];
            }
        }
        s
    })
}

/// The kernel with moment matrix `m` (the inverse of [`moment_matrix`]):
/// `W = A_y^-1 M A_x^-T`.
///
/// # Errors
/// Anchor outside the kernel, spacing not positive, or a kernel too large for the Vandermonde
/// systems.
pub fn kernel_from_moments(
    m: ArrayView2<'_, f64>,
    anchor: [usize; 2],
    spacing: [f64; 2],
) -> Result<Array2<f64>> {
    let (kh, kw) = m.dim();
    check_axis(kh, anchor[0], spacing[0])?;
    check_axis(kw, anchor[1], spacing[1])?;
    // Solve A_y Z = M column by column, then A_x W^T = Z^T row by row.
    let ay = taylor_matrix(kh, anchor[0], spacing[0]);
    let ax = taylor_matrix(kw, anchor[1], spacing[1]);
    let mut z = Array2::zeros((kh, kw));
    for j in 0..kw {
        let col = solve(ay.clone(), m.column(j).to_vec(), kh).ok_or_else(|| singular(kh))?;
        for i in 0..kh {
            z[[i, j]] = col[i];
        }
    }
    let mut w = Array2::zeros((kh, kw));
    for p in 0..kh {
        let row = solve(ax.clone(), z.row(p).to_vec(), kw).ok_or_else(|| singular(kw))?;
        for q in 0..kw {
            w[[p, q]] = row[q];
        }
    }
    Ok(w)
}

/// Which moments of a stencil are learned and which are held at their target values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MomentConstraint {
    /// Every moment is learned (equivalent to learning the taps).
    Free,
    /// Every moment is held at its target: nothing is learned.
    Frozen,
    /// PDE-Net's order-`k` sum rules: moments of total order `i + j <= k` are held at their
    /// targets (the stencil stays consistent with the target operator up to that order); higher
    /// moments are learned.
    Order(usize),
    /// Only the listed moments `[i, j]` are learned; all others are held at their targets (e.g.
    /// learn the diffusion coefficients `m20`, `m02` of a step kernel whose mass `m00 = 1` and
    /// higher moments are fixed).
    Learn(Vec<[usize; 2]>),
}

impl MomentConstraint {
    /// `true` where the moment `(i, j)` is learned, for a `(kh, kw)` kernel.
    ///
    /// # Errors
    /// A `Learn` entry outside the moment matrix.
    pub fn learned_mask(&self, shape: [usize; 2]) -> Result<Array2<bool>> {
        let [kh, kw] = shape;
        Ok(match self {
            MomentConstraint::Free => Array2::from_elem((kh, kw), true),
            MomentConstraint::Frozen => Array2::from_elem((kh, kw), false),
            MomentConstraint::Order(k) => Array2::from_shape_fn((kh, kw), |(i, j)| i + j > *k),
            MomentConstraint::Learn(list) => {
                let mut m = Array2::from_elem((kh, kw), false);
                for &[i, j] in list {
                    if i >= kh || j >= kw {
                        return Err(CnnError::InvalidParameter {
                            name: "learn",
                            value: format!("[{i}, {j}]"),
                            allowed: "learned moments must have i < kernel rows and j < kernel columns",
                        });
                    }
                    m[[i, j]] = true;
                }
                m
            }
        })
    }
}

/// A single-channel stencil parameterised by its moments: `W = W_fixed + sum_l theta_l B_l`,
/// where `B_l` is the kernel of the unit moment of the `l`-th learned entry and `W_fixed` the
/// kernel of the target moments with the learned entries zeroed. The kernel is linear in the
/// learned moments `theta`, so a least-squares fit in `theta` is exact and
/// `dL/dtheta_l = <dL/dW, B_l>`.
#[derive(Clone, Debug, PartialEq)]
pub struct MomentStencil {
    shape: [usize; 2],
    anchor: [usize; 2],
    spacing: [f64; 2],
    target: Array2<f64>,
    learned: Vec<[usize; 2]>,
    basis: Vec<Array2<f64>>,
    fixed: Array2<f64>,
}

impl MomentStencil {
    /// A parameterisation around the `target` moment matrix (shape = kernel shape) with the
    /// given constraint.
    ///
    /// # Errors
    /// Bad anchor or spacing, or a `Learn` entry outside the matrix.
    pub fn new(
        target: Array2<f64>,
        anchor: [usize; 2],
        spacing: [f64; 2],
        constraint: &MomentConstraint,
    ) -> Result<Self> {
        let (kh, kw) = target.dim();
        let mask = constraint.learned_mask([kh, kw])?;
        // Parameter order: the user's list for `Learn`, row-major otherwise.
        let order: Vec<[usize; 2]> = match constraint {
            MomentConstraint::Learn(list) => {
                let mut seen = Vec::new();
                for e in list {
                    if !seen.contains(e) {
                        seen.push(*e);
                    }
                }
                seen
            }
            _ => mask
                .indexed_iter()
                .filter(|(_, l)| **l)
                .map(|((i, j), _)| [i, j])
                .collect(),
        };
        let mut learned = Vec::new();
        let mut basis = Vec::new();
        let mut fixed_m = target.clone();
        for [i, j] in order {
            learned.push([i, j]);
            fixed_m[[i, j]] = 0.0;
            let mut e = Array2::zeros((kh, kw));
            e[[i, j]] = 1.0;
            basis.push(kernel_from_moments(e.view(), anchor, spacing)?);
        }
        let fixed = kernel_from_moments(fixed_m.view(), anchor, spacing)?;
        Ok(MomentStencil {
            shape: [kh, kw],
            anchor,
            spacing,
            target,
            learned,
            basis,
            fixed,
        })
    }

    /// Kernel shape `(kh, kw)`.
    #[must_use]
    pub fn shape(&self) -> [usize; 2] {
        self.shape
    }
    /// Anchor `(ay, ax)`.
    #[must_use]
    pub fn anchor(&self) -> [usize; 2] {
        self.anchor
    }
    /// Grid spacing `(hy, hx)`.
    #[must_use]
    pub fn spacing(&self) -> [f64; 2] {
        self.spacing
    }
    /// The learned moments `[i, j]`, in parameter order (the order of a `Learn` list, row-major
    /// for the other constraints).
    #[must_use]
    pub fn learned(&self) -> &[[usize; 2]] {
        &self.learned
    }
    /// The target moments, whose learned entries are the initial values of `theta`.
    #[must_use]
    pub fn target(&self) -> &Array2<f64> {
        &self.target
    }
    /// Initial parameters: the target values of the learned moments.
    #[must_use]
    pub fn initial_theta(&self) -> Vec<f64> {
        self.learned
            .iter()
            .map(|&[i, j]| self.target[[i, j]])
            .collect()
    }
    /// Kernel of the held (non-learned) moments.
    #[must_use]
    pub fn fixed_kernel(&self) -> &Array2<f64> {
        &self.fixed
    }
    /// Basis kernels `B_l` of the learned moments.
    #[must_use]
    pub fn basis(&self) -> &[Array2<f64>] {
        &self.basis
    }

    /// The kernel for learned moments `theta`.
    ///
    /// # Panics
    /// If `theta.len()` differs from the number of learned moments.
    #[must_use]
    pub fn kernel(&self, theta: &[f64]) -> Array2<f64> {
        assert_eq!(
            theta.len(),
            self.learned.len(),
            "MomentStencil::kernel: theta length"
        );
        let mut w = self.fixed.clone();
        for (t, b) in theta.iter().zip(&self.basis) {
            w.scaled_add(*t, b);
        }
        w
    }

    /// The full moment matrix for learned moments `theta`.
    ///
    /// # Panics
    /// If `theta.len()` differs from the number of learned moments.
    #[must_use]
    pub fn moments(&self, theta: &[f64]) -> Array2<f64> {
        assert_eq!(
            theta.len(),
            self.learned.len(),
            "MomentStencil::moments: theta length"
        );
        let mut m = self.target.clone();
        for (t, &[i, j]) in theta.iter().zip(&self.learned) {
            m[[i, j]] = *t;
        }
        m
    }

    /// `dL/dtheta_l = <dL/dW, B_l>`.
    ///
    /// # Panics
    /// If `grad_kernel` does not have the kernel shape.
    #[must_use]
    pub fn theta_grad(&self, grad_kernel: ArrayView2<'_, f64>) -> Vec<f64> {
        assert_eq!(
            grad_kernel.dim(),
            (self.shape[0], self.shape[1]),
            "theta_grad: shape"
        );
        self.basis
            .iter()
            .map(|b| b.iter().zip(grad_kernel.iter()).map(|(x, y)| x * y).sum())
            .collect()
    }
}

/// The amplification factor `max_k |K_hat(k)|` of a stencil over the discrete frequencies of a
/// periodic `(ny, nx)` grid, `K_hat(ky, kx) = sum_{p,q} w(p, q) exp(2 pi i (ky p / ny + kx q /
/// nx))`. One explicit step `u <- K * u` is stable in the l2 norm on that grid iff this is at
/// most 1.
#[must_use]
pub fn amplification_factor(taps: ArrayView2<'_, f64>, grid: [usize; 2]) -> f64 {
    let (kh, kw) = taps.dim();
    let [ny, nx] = grid;
    let mut worst = 0.0_f64;
    for fy in 0..ny {
        for fx in 0..nx {
            let (mut re, mut im) = (0.0, 0.0);
            for p in 0..kh {
                for q in 0..kw {
                    // The anchor only multiplies K_hat by a unit phase, so offsets from 0 do.
                    let ph = std::f64::consts::TAU
                        * ((fy * p) as f64 / ny as f64 + (fx * q) as f64 / nx as f64);
                    re += taps[[p, q]] * ph.cos();
                    im += taps[[p, q]] * ph.sin();
                }
            }
            worst = worst.max(re.hypot(im));
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn five_point_laplacian_moments() {
        let lap = array![[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]];
        let m = moment_matrix(lap.view(), [1, 1], [1.0, 1.0]);
        for ((i, j), &v) in m.indexed_iter() {
            let expect = if (i, j) == (2, 0) || (i, j) == (0, 2) {
                1.0
            } else {
                0.0
            };
            // Sums of small integers and halves: exact in binary floating point.
            assert_eq!(v, expect, "m{i}{j}");
        }
        let back = kernel_from_moments(m.view(), [1, 1], [1.0, 1.0]).unwrap();
        // Round trip through two 3x3 Gaussian eliminations: a few ulp.
        assert!(
            back.iter()
                .zip(lap.iter())
                .all(|(a, b)| (a - b).abs() < 1e-14)
        );
    }

    #[test]
    fn unit_moments_give_the_classic_stencils() {
        let cases: [(&[f64], usize, &[f64]); 3] = [
            (&[0.0, 0.0, 1.0], 1, &[1.0, -2.0, 1.0]),
            (
                &[0.0, 0.0, 1.0, 0.0, 0.0],
                2,
                &[-1.0 / 12.0, 4.0 / 3.0, -5.0 / 2.0, 4.0 / 3.0, -1.0 / 12.0],
            ),
            (&[0.0, 1.0, 0.0], 1, &[-0.5, 0.0, 0.5]),
        ];
        for (m, a, expect) in cases {
            let w = taps_from_moments_1d(m, a, 1.0).unwrap();
            // Gaussian elimination on 5x5 Vandermonde systems: rounding of order 10 ulp.
            for (x, e) in w.iter().zip(expect) {
                assert!((x - e).abs() < 1e-14, "{w:?} vs {expect:?}");
            }
            let back = moments_1d(&w, a, 1.0);
            assert!(back.iter().zip(m).all(|(x, e)| (x - e).abs() < 1e-14));
        }
        // Spacing h scales the second difference by 1/h^2.
        let w = taps_from_moments_1d(&[0.0, 0.0, 1.0], 1, 0.5).unwrap();
        assert!((w[0] - 4.0).abs() < 1e-13 && (w[1] + 8.0).abs() < 1e-13);
    }

    #[test]
    fn moment_stencil_is_linear_and_keeps_held_moments() {
        let target = moment_matrix(
            array![[0.0, 0.2, 0.0], [0.2, 0.2, 0.2], [0.0, 0.2, 0.0]].view(),
            [1, 1],
            [1.0, 1.0],
        );
        let ms = MomentStencil::new(
            target.clone(),
            [1, 1],
            [1.0, 1.0],
            &MomentConstraint::Learn(vec![[2, 0], [0, 2]]),
        )
        .unwrap();
        assert_eq!(ms.initial_theta(), [0.2, 0.2]);
        let w = ms.kernel(&[0.1, 0.3]);
        let m = moment_matrix(w.view(), [1, 1], [1.0, 1.0]);
        assert!(
            (m[[2, 0]] - 0.1).abs() < 1e-14 && (m[[0, 2]] - 0.3).abs() < 1e-14,
            "{m:?}"
        );
        assert!((m[[0, 0]] - 1.0).abs() < 1e-14 && m[[2, 2]].abs() < 1e-14);
        let ord = MomentConstraint::Order(1).learned_mask([3, 3]).unwrap();
        assert!(!ord[[1, 0]] && ord[[2, 0]] && ord[[1, 1]]);
        assert!(
            MomentConstraint::Learn(vec![[3, 0]])
                .learned_mask([3, 3])
                .is_err()
        );
    }

    #[test]
    fn amplification_of_the_heat_step() {
        // K = delta + r L5 has symbol 1 - 4r (sin^2 + sin^2): max |K_hat| = max(1, |1 - 8r|).
        let r = 0.2;
        let k = array![[0.0, r, 0.0], [r, 1.0 - 4.0 * r, r], [0.0, r, 0.0]];
        assert!((amplification_factor(k.view(), [16, 16]) - 1.0).abs() < 1e-14);
        let r = 0.3;
        let k = array![[0.0, r, 0.0], [r, 1.0 - 4.0 * r, r], [0.0, r, 0.0]];
        assert!((amplification_factor(k.view(), [16, 16]) - 1.4).abs() < 1e-14);
    }
}
