//! Shared helpers of the seismic verification tests.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a subset of these helpers, which are `pub` for that"
)]

use convsim_core::{Element, RealElement};
use convsim_seismic::{
    PointSource, Receivers, Seismic, SeismicBoundaries, SeismicParams, SideBoundary, Wavelet,
    analytic,
};
use ndarray::Array2;

/// Runs a shot to the end of `duration` and returns the gather `(receiver, sample)`.
pub fn run<T: RealElement>(p: &SeismicParams) -> Array2<f64> {
    let mut s = Seismic::<T>::new(p).expect("valid parameters");
    for _ in 0..p.nt() {
        s.step();
    }
    s.receivers().1.to_owned()
}

/// Devito's accuracy setup (`examples/seismic/acoustic/accuracy.ipynb`): 400 m square, c =
/// 1.5 km/s, Ricker 90 Hz delayed 1.5 / f0, dt = 0.1 ms, 150 ms, source (200, 200) m, receiver
/// (260, 260) m. Nothing reflected by the edges reaches the receiver within 150 ms, so the
/// edges are left as zero pressure.
pub fn devito_setup(order: usize, n: usize, h: f64, dt: f64) -> SeismicParams {
    let mut p = SeismicParams::homogeneous(n, n, h, 1500.0);
    p.space_order = order;
    p.dt = dt;
    p.duration = 0.150;
    p.sources = vec![PointSource {
        y: 200.0,
        x: 200.0,
        wavelet: Wavelet::ricker(90.0),
    }];
    p.receivers = vec![Receivers::Points {
        coords: vec![[260.0, 260.0]],
    }];
    p.boundaries = SeismicBoundaries::uniform(SideBoundary::Zero);
    p
}

/// Devito's error measure: the RMS over the samples `0..nt` (the last excluded) of the
/// difference from the analytic solution.
pub fn devito_error(trace: &[f64], dt: f64) -> f64 {
    let r = 60.0 * 2f64.sqrt();
    let n = trace.len() - 1;
    let s: f64 = (0..n)
        .map(|k| {
            let a = analytic::ricker_response(r, 1500.0, 90.0, 1.5 / 90.0, k as f64 * dt);
            (trace[k] - a).powi(2)
        })
        .sum();
    (s / n as f64).sqrt()
}

/// Least-squares slope of `log(e)` against `log(h)`.
pub fn rate(h: &[f64], e: &[f64]) -> f64 {
    let x: Vec<f64> = h.iter().map(|v| v.ln()).collect();
    let y: Vec<f64> = e.iter().map(|v| v.ln()).collect();
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let num: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let den: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    num / den
}

/// `20 log10(max |d - d_ref| / max |d_ref|)` over every receiver and sample.
pub fn reflection_db(d: &Array2<f64>, d_ref: &Array2<f64>) -> f64 {
    let diff = d
        .iter()
        .zip(d_ref)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let peak = d_ref.iter().map(|v| v.abs()).fold(0.0, f64::max);
    20.0 * (diff / peak).log10()
}

/// Converts to f64 (for comparing precisions).
pub fn to_f64<T: Element>(v: T) -> f64 {
    v.to_c64().re
}
