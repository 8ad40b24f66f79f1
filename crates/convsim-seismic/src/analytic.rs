//! The analytic 2D solution in a homogeneous medium: the free-space Green's function
//! convolved with a Ricker wavelet. The oracle of the convergence tests.
//!
//! For `p_tt = c^2 Lap p + c^2 s(t) delta(x - x_s)` (the form the solver discretises) the
//! solution at distance `r` is `p(r, t) = (1 / 2 pi) int_{r/c}^{t} s(t - tau) / sqrt(tau^2 -
//! r^2/c^2) dtau`, i.e. `c^2` times the 2D Green's function
//! `G = H(t - r/c) / (2 pi c^2 sqrt(t^2 - r^2/c^2))` convolved with `s`. The substitution
//! `tau = r/c + u^2` removes the inverse-square-root singularity:
//! `p = (1 / pi) int_0^{sqrt(t - r/c)} s(t - r/c - u^2) / sqrt(2 r/c + u^2) du`, a smooth
//! integrand integrated here with composite 8-point Gauss-Legendre over the support of `s`.
//!
//! ```
//! use convsim_seismic::analytic::ricker_response;
//! // Before the first arrival the field is zero.
//! assert_eq!(ricker_response(100.0, 1500.0, 10.0, 0.15, 0.05), 0.0);
//! ```

use std::f64::consts::PI;

use crate::wavelet::ricker;

const GL_X: [f64; 4] = [
    0.183_434_642_495_649_8,
    0.525_532_409_916_329,
    0.796_666_477_413_626_7,
    0.960_289_856_497_536_3,
];
const GL_W: [f64; 4] = [
    0.362_683_783_378_362,
    0.313_706_645_877_887_3,
    0.222_381_034_453_374_5,
    0.101_228_536_290_376_3,
];

/// `p(r, t)` for a unit Ricker source of peak frequency `f0` (Hz) and delay `t0` (s), switched
/// on at `t = 0` (the wavelet is taken as zero before), in a medium of velocity `c` (m/s), at
/// distance `r` (m) and time `t` (s).
#[must_use]
pub fn ricker_response(r: f64, c: f64, f0: f64, t0: f64, t: f64) -> f64 {
    let tau0 = r / c;
    let span = t - tau0;
    if span <= 0.0 {
        return 0.0;
    }
    // The Ricker wavelet is below 1e-20 of its peak beyond |t - t0| = 2.3 / f0.
    let (lo, hi) = ((t0 - 2.3 / f0).max(0.0), t0 + 2.3 / f0);
    // s(t') with t' = span - u^2 in [lo, hi] (and t' >= 0).
    let u_lo = (span - hi).max(0.0).sqrt();
    let u_hi = (span - lo).max(0.0).sqrt();
    if u_hi <= u_lo {
        return 0.0;
    }
    let f = |u: f64| {
        let ts = span - u * u;
        if ts < 0.0 {
            0.0
        } else {
            ricker(ts, f0, t0, 1.0) / (2.0 * tau0 + u * u).sqrt()
        }
    };
    let panels = 400;
    let h = (u_hi - u_lo) / f64::from(panels);
    let mut sum = 0.0;
    for p in 0..panels {
        let mid = u_lo + (f64::from(p) + 0.5) * h;
        for (x, w) in GL_X.iter().zip(GL_W) {
            sum += w * (f(mid - 0.5 * h * x) + f(mid + 0.5 * h * x));
        }
    }
    sum * 0.5 * h / PI
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_devito_hankel_amplitudes() {
        // Devito's accuracy notebook evaluates the same solution in the frequency domain with
        // the Hankel function H0^(2) (c = 1.5 km/s, f0 = 90 Hz, t0 = 1.5 / f0, r = 60 sqrt 2 m)
        // and prints min/max -5.322232e-3 / 8.543911e-3 after scaling by 0.5^2; the time-domain
        // integral must agree to the precision of their 0.1 ms sampling and periodic FFT
        // (0.5 %).
        let (c, f0) = (1500.0, 90.0);
        let r = 60.0 * 2f64.sqrt();
        let (mut mn, mut mx) = (0.0f64, 0.0f64);
        for k in 0..1500 {
            let p = ricker_response(r, c, f0, 1.5 / f0, f64::from(k) * 1e-4);
            mn = mn.min(p);
            mx = mx.max(p);
        }
        assert!(
            (mx * 0.25 / 8.543_911e-3 - 1.0).abs() < 5e-3,
            "{}",
            mx * 0.25
        );
        assert!(
            (mn * 0.25 / -5.322_232e-3 - 1.0).abs() < 5e-3,
            "{}",
            mn * 0.25
        );
    }

    #[test]
    fn converged_in_panels() {
        // The quadrature is converged: halving the pieces cannot be checked without a
        // parameter, so compare with a direct evaluation of the tau integral near the peak
        // using a fine midpoint rule away from the singularity plus its analytic local part.
        let (r, c, f0, t0) = (84.85, 1500.0, 90.0, 1.5 / 90.0);
        let t = r / c + t0 + 0.004;
        let p = ricker_response(r, c, f0, t0, t);
        let tau0 = r / c;
        let eps = 1e-7;
        // Local part: s(t - tau0) * int_{tau0}^{tau0+eps} dtau / sqrt(tau^2 - tau0^2) ~ s * sqrt(2 eps / tau0).
        let mut sum = ricker(t - tau0, f0, t0, 1.0) * (2.0 * eps / tau0).sqrt();
        let n = 2_000_000;
        let a = tau0 + eps;
        let h = (t - a) / f64::from(n);
        for i in 0..n {
            let tau = a + (f64::from(i) + 0.5) * h;
            sum += ricker(t - tau, f0, t0, 1.0) / (tau * tau - tau0 * tau0).sqrt() * h;
        }
        let q = sum / (2.0 * PI);
        assert!((p - q).abs() < 1e-4 * p.abs().max(1e-3), "{p} vs {q}");
    }
}
