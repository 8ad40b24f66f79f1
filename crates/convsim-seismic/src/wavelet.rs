//! Source time functions.
//!
//! ```
//! use convsim_seismic::{wavelet, Wavelet};
//! // The Ricker wavelet peaks at its delay with its amplitude.
//! let s = wavelet::sample(&Wavelet::Ricker { f0: 10.0, t0: Some(0.1), amplitude: 2.0 }, 0.05, 4);
//! assert_eq!(s.len(), 5);
//! assert!((s[2] - 2.0).abs() < 1e-12);
//! ```

use std::f64::consts::PI;

use crate::Wavelet;

/// The Ricker wavelet `a (1 - 2 pi^2 f0^2 tau^2) exp(-pi^2 f0^2 tau^2)` at `tau = t - t0`.
#[must_use]
pub fn ricker(t: f64, f0: f64, t0: f64, amplitude: f64) -> f64 {
    let a = (PI * f0 * (t - t0)).powi(2);
    amplitude * (1.0 - 2.0 * a) * (-a).exp()
}

/// Samples `wavelet` at `t = k dt` for `k = 0..=n`.
#[must_use]
pub fn sample(wavelet: &Wavelet, dt: f64, n: usize) -> Vec<f64> {
    (0..=n).map(|k| value(wavelet, k as f64 * dt)).collect()
}

/// The wavelet at time `t` (s); custom samples are linearly interpolated and zero outside.
#[must_use]
pub fn value(wavelet: &Wavelet, t: f64) -> f64 {
    match wavelet {
        Wavelet::Ricker { f0, t0, amplitude } => ricker(t, *f0, t0.unwrap_or(1.5 / f0), *amplitude),
        Wavelet::Samples { dt, values } => {
            if t < 0.0 || values.is_empty() || *dt <= 0.0 {
                return 0.0;
            }
            let x = t / dt;
            let i = x.floor() as usize;
            if i + 1 < values.len() {
                let f = x - i as f64;
                values[i] * (1.0 - f) + values[i + 1] * f
            } else if i + 1 == values.len() && x == i as f64 {
                values[i]
            } else {
                0.0
            }
        }
    }
}

/// The highest useful frequency of a wavelet, Hz: `2.5 f0` for a Ricker (where its spectrum
/// has fallen to about 1.5 % of the peak), and for samples the highest frequency at which the
/// amplitude spectrum is at least 1 % of its maximum.
#[must_use]
pub fn highest_frequency(wavelet: &Wavelet) -> f64 {
    match wavelet {
        Wavelet::Ricker { f0, .. } => 2.5 * f0,
        Wavelet::Samples { dt, values } => {
            let n = values.len();
            if n < 2 || *dt <= 0.0 {
                return 0.0;
            }
            // A direct DFT on n/2 + 1 frequencies: wavelets are short, this runs once.
            let spec: Vec<f64> = (0..=n / 2)
                .map(|k| {
                    let (mut re, mut im) = (0.0, 0.0);
                    for (j, v) in values.iter().enumerate() {
                        let ph = -2.0 * PI * (k * j) as f64 / n as f64;
                        re += v * ph.cos();
                        im += v * ph.sin();
                    }
                    re.hypot(im)
                })
                .collect();
            let peak = spec.iter().copied().fold(0.0, f64::max);
            let k = spec.iter().rposition(|&a| a >= 0.01 * peak).unwrap_or(0);
            k as f64 / (n as f64 * dt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_interpolate() {
        let w = Wavelet::Samples {
            dt: 0.1,
            values: vec![0.0, 1.0, 0.0],
        };
        assert!((value(&w, 0.05) - 0.5).abs() < 1e-12);
        assert_eq!(value(&w, 0.2), 0.0);
        assert_eq!(value(&w, 0.25), 0.0);
        assert_eq!(value(&w, -0.1), 0.0);
    }

    #[test]
    fn highest_frequency_of_sampled_ricker_is_close_to_rule() {
        // A Ricker of 10 Hz sampled at 1 ms: its 1 % point lies near 2.6 f0, close to the
        // 2.5 f0 rule used for analytic Ricker sources.
        let r = Wavelet::ricker(10.0);
        let s = Wavelet::Samples {
            dt: 1e-3,
            values: sample(&r, 1e-3, 999),
        };
        let f = highest_frequency(&s);
        assert!((24.0..30.0).contains(&f), "{f}");
    }
}
