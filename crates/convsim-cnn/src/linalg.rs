//! Small dense linear algebra in `f64`: Gaussian elimination for the moment matrices and a
//! Householder QR least-squares solver for stencil fits (more robust than the normal equations
//! when smooth data make the shifted-input columns nearly collinear).

use crate::{CnnError, Result};

/// Solves `a x = b` for a small square `a` (row-major, `n x n`) by Gaussian elimination with
/// partial pivoting. Returns `None` if `a` is singular to working precision.
#[must_use]
pub(crate) fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    assert_eq!(a.len(), n * n, "solve: matrix size");
    assert_eq!(b.len(), n, "solve: rhs size");
    let scale = a.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| a[i * n + k].abs().total_cmp(&a[j * n + k].abs()))?;
        if a[p * n + k].abs() <= 1e-14 * scale {
            return None;
        }
        if p != k {
            for j in 0..n {
                a.swap(k * n + j, p * n + j);
            }
            b.swap(k, p);
        }
        for i in k + 1..n {
            let f = a[i * n + k] / a[k * n + k];
            if f != 0.0 {
                for j in k..n {
                    a[i * n + j] -= f * a[k * n + j];
                }
                b[i] -= f * b[k];
            }
        }
    }
    for k in (0..n).rev() {
        let s: f64 = (k + 1..n).map(|j| a[k * n + j] * b[j]).sum();
        b[k] = (b[k] - s) / a[k * n + k];
    }
    Some(b)
}

/// Least squares `min |A x - b_r|` for every right-hand side `b_r`, with `A` given by its
/// columns (each of length `m`), by Householder QR.
///
/// # Errors
/// [`CnnError::RankDeficient`] if a column has no component independent of the previous ones
/// (relative to its own norm, below `1e-12`), and [`CnnError::NotEnoughData`] if there are fewer
/// rows than unknowns.
pub(crate) fn lstsq(mut cols: Vec<Vec<f64>>, mut rhs: Vec<Vec<f64>>) -> Result<Vec<Vec<f64>>> {
    let n = cols.len();
    let m = cols.first().map_or(0, Vec::len);
    if m < n {
        return Err(CnnError::NotEnoughData(format!(
            "{m} equations for {n} unknowns; use more or larger snapshots"
        )));
    }
    let norms: Vec<f64> = cols
        .iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    let mut diag = vec![0.0; n];
    for k in 0..n {
        let (head, tail) = cols.split_at_mut(k + 1);
        let ck = &mut head[k];
        let norm_x = ck[k..].iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm_x <= 1e-12 * norms[k] || norm_x == 0.0 {
            return Err(CnnError::RankDeficient {
                column: k,
                columns: n,
                pivot: if norms[k] > 0.0 {
                    norm_x / norms[k]
                } else {
                    0.0
                },
            });
        }
        let alpha = if ck[k] > 0.0 { -norm_x } else { norm_x };
        // v = x - alpha e1 stored in place of x; H = I - 2 v v^T / (v^T v).
        ck[k] -= alpha;
        let vtv: f64 = ck[k..].iter().map(|v| v * v).sum();
        let v = &ck[k..];
        let apply = |c: &mut Vec<f64>| {
            let d: f64 = v.iter().zip(&c[k..]).map(|(a, b)| a * b).sum();
            let f = 2.0 * d / vtv;
            for (ci, vi) in c[k..].iter_mut().zip(v) {
                *ci -= f * vi;
            }
        };
        tail.iter_mut().for_each(apply);
        rhs.iter_mut().for_each(apply);
        diag[k] = alpha;
    }
    // Back substitution with R (upper part of cols, diagonal in `diag`).
    Ok(rhs
        .into_iter()
        .map(|b| {
            let mut x = vec![0.0; n];
            for k in (0..n).rev() {
                let s: f64 = (k + 1..n).map(|j| cols[j][k] * x[j]).sum();
                x[k] = (b[k] - s) / diag[k];
            }
            x
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_small_system() {
        let x = solve(vec![2.0, 1.0, 1.0, 3.0], vec![3.0, 5.0], 2).unwrap();
        assert!((x[0] - 0.8).abs() < 1e-15 && (x[1] - 1.4).abs() < 1e-15);
        assert!(solve(vec![1.0, 2.0, 2.0, 4.0], vec![1.0, 1.0], 2).is_none());
    }

    #[test]
    fn lstsq_fits_a_line_exactly() {
        // y = 2 - 3t on 5 points: exact data, so the residual-free solution is recovered.
        let t = [0.0, 1.0, 2.0, 3.0, 4.0];
        let cols = vec![vec![1.0; 5], t.to_vec()];
        let y: Vec<f64> = t.iter().map(|t| 2.0 - 3.0 * t).collect();
        let x = lstsq(cols, vec![y]).unwrap();
        assert!((x[0][0] - 2.0).abs() < 1e-14 && (x[0][1] + 3.0).abs() < 1e-14);
        let dup = vec![t.to_vec(), t.to_vec()];
        assert!(matches!(
            lstsq(dup, vec![vec![0.0; 5]]),
            Err(CnnError::RankDeficient { column: 1, .. })
        ));
    }
}
