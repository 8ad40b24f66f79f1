//! Off-grid points: Kaiser-windowed sinc weights (Hicks 2002, Geophysics 67, 156-166).
//!
//! A point at fractional grid position `x` spreads over the `2r` grid nodes nearest to it with
//! weights `sinc(i - x) * K(i - x)`, where `K(d) = I0(b sqrt(1 - (d / r)^2)) / I0(b)` is a
//! Kaiser window of half-width `r`. The same weights inject a source and interpolate a receiver,
//! which makes the pair exactly reciprocal. On a node the weights reduce to that node alone.
//!
//! ```
//! use convsim_seismic::hicks::weights_1d;
//! let (start, w) = weights_1d(3.0, 4);
//! assert_eq!((start, w), (3, vec![1.0]));
//! let (start, w) = weights_1d(3.5, 4);
//! assert_eq!((start, w.len()), (0, 8));
//! assert!((w.iter().sum::<f64>() - 1.0).abs() < 0.01); // close to a partition of unity
//! ```

use std::f64::consts::PI;

/// Hicks' (2002) table of the Kaiser parameter `b` for half-widths `r = 1..=10`.
pub const KAISER_B: [f64; 10] = [
    1.24, 2.94, 4.53, 6.31, 7.91, 9.42, 10.95, 12.53, 14.09, 14.18,
];

/// Default half-width of the window, in grid points.
pub const DEFAULT_RADIUS: usize = 4;

/// Modified Bessel function of the first kind, order 0 (power series; `|x| <= 20` here).
#[must_use]
pub fn bessel_i0(x: f64) -> f64 {
    let q = 0.25 * x * x;
    let (mut term, mut sum) = (1.0, 1.0);
    let mut k = 1.0;
    while term > 1e-17 * sum {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

/// Weights of a point at fractional position `x` (in grid units) with half-width `radius`
/// (1 to 10): returns the first node index and the weights of consecutive nodes. A point within
/// `1e-9` of a node gets that node alone, with weight 1.
///
/// # Panics
/// If `radius` is not in `1..=10`.
#[must_use]
pub fn weights_1d(x: f64, radius: usize) -> (isize, Vec<f64>) {
    assert!(
        (1..=10).contains(&radius),
        "Hicks radius {radius} must be 1..=10"
    );
    let nearest = x.round();
    if (x - nearest).abs() < 1e-9 {
        return (nearest as isize, vec![1.0]);
    }
    let r = radius as f64;
    let b = KAISER_B[radius - 1];
    let i0b = bessel_i0(b);
    let first = x.floor() as isize - radius as isize + 1;
    let w = (0..2 * radius)
        .map(|k| {
            let d = (first + k as isize) as f64 - x;
            let sinc = (PI * d).sin() / (PI * d);
            let win = bessel_i0(b * (1.0 - (d / r).powi(2)).max(0.0).sqrt()) / i0b;
            sinc * win
        })
        .collect();
    (first, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i0_matches_known_values() {
        // Abramowitz & Stegun table 9.8: I0(1) = 1.266065878, I0(5) = 27.23987182.
        assert!((bessel_i0(1.0) - 1.266_065_878).abs() < 1e-9);
        assert!((bessel_i0(5.0) - 27.239_871_82).abs() < 1e-7);
    }

    #[test]
    fn weights_interpolate_smooth_signals() {
        // Band-limited signals well below Nyquist are reproduced to within the window's
        // design accuracy (Hicks reports about 1e-3 for kmax = pi/2 and r = 4).
        for &x in &[10.1, 10.37, 10.5, 10.83] {
            let (first, w) = weights_1d(x, 4);
            for &k in &[0.3_f64, 0.8, 1.2] {
                let approx: f64 = w
                    .iter()
                    .enumerate()
                    .map(|(i, wi)| wi * (k * (first + i as isize) as f64).cos())
                    .sum();
                assert!(
                    (approx - (k * x).cos()).abs() < 2e-3,
                    "x {x} k {k}: {approx}"
                );
            }
        }
    }
}
