//! Timing breakdown of the quantum-1024-50 workload: the spectral plan alone, then `step()`
//! against the fused `advance()`. A diagnostic, not a test (timings belong in benchmarks):
//!
//! ```sh
//! cargo run --release -p convsim-quantum --example profile_split_step
//! ```

use std::time::Instant;

use convsim_core::{Complex64, SpectralPlan};
use ndarray::{Array2, Zip};

fn profile_split_step_1024() {
    let n = 1024;
    let threads: usize = std::env::var("PROFILE_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut psi = Array2::from_shape_fn((n, n), |(i, j)| Complex64::new((i + j) as f64 * 1e-3, 0.5));
        let f = Array2::from_elem((n, n), Complex64::from_polar(1.0, 0.1));
        let mut plan = SpectralPlan::<Complex64>::new([n, n], [0.04, 0.04], |ky, kx| {
            Complex64::from_polar(1.0, -(ky * ky + kx * kx) * 0.0025)
        })
        .unwrap();
        plan.apply_inplace(psi.view_mut());
        let t = Instant::now();
        for _ in 0..20 {
            plan.apply_inplace(psi.view_mut());
        }
        let fft = t.elapsed().as_secs_f64() / 20.0;
        let t = Instant::now();
        for _ in 0..20 {
            Zip::from(&mut psi).and(&f).par_for_each(|p, f| *p *= *f);
        }
        let mul = t.elapsed().as_secs_f64() / 20.0;
        let t = Instant::now();
        let mut b = psi.clone();
        for _ in 0..20 {
            b.assign(&psi);
        }
        let copy = t.elapsed().as_secs_f64() / 20.0;
        // Raw rustfft, one thread: 2 x 2 x 1024 transforms of length 1024 in place on rows
        // (no transposes): the floor for one FFT pair.
        let mut planner = rustfft::FftPlanner::<f64>::new();
        let fwd = planner.plan_fft_forward(n);
        let mut buf = vec![Complex64::new(0.3, 0.1); n * n];
        let mut scratch = vec![Complex64::ZERO; fwd.get_inplace_scratch_len()];
        let t = Instant::now();
        for _ in 0..5 {
            for _ in 0..4 {
                fwd.process_with_scratch(&mut buf, &mut scratch);
            }
        }
        let raw = t.elapsed().as_secs_f64() / 5.0;
        println!("raw rustfft rows, 1 thread, 4 x 1024 FFTs of 1024 (one 2D pair): {:.2} ms", raw * 1e3);
        println!("per call: spectral apply {:.2} ms, elementwise multiply {:.2} ms, copy {:.2} ms; step estimate {:.2} ms", fft * 1e3, mul * 1e3, copy * 1e3, (fft + 2.0 * mul) * 1e3);
    });
}

/// The `quantum-1024-50` workload (as `convsim bench` runs it) with `step` x 50 and with
/// `advance(50)`, interleaved so that load from other processes hits both alike; prints the
/// median of each and checks that the two agree to 1e-12 relative (the merged half steps
/// differ by rounding only).
fn quantum_1024_50_step_vs_advance() {
    use convsim_core::Grid;
    use convsim_quantum::{Evolution, Method, PotentialTerm, QuantumParams, QuantumSolver};
    let threads: usize = std::env::var("PROFILE_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let rounds: usize = std::env::var("PROFILE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let n = 1024;
        let h = 40.0 / n as f64;
        let grid = Grid {
            ny: n,
            nx: n,
            dy: h,
            dx: h,
            y0: -20.0,
            x0: -20.0,
        };
        let params = QuantumParams {
            grid,
            dt: 0.005,
            mass: 1.0,
            g: 0.0,
            method: Method::Strang,
            evolution: Evolution::Real,
            potential: vec![PotentialTerm::Harmonic {
                omega: 1.0,
                omega_y: None,
                center_x: 0.0,
                center_y: 0.0,
            }],
            drive: None,
            absorber: None,
            flux_line: None,
        };
        let psi0 = Array2::from_shape_fn((n, n), |(i, j)| {
            let (a, b) = (-20.0 + i as f64 * h, -20.0 + j as f64 * h);
            Complex64::from_polar((-((a + 5.0).powi(2) + b * b) / 2.0).exp(), 2.0 * a)
        });
        let mut s = QuantumSolver::new(params, psi0).unwrap();
        let psi0 = s.psi().to_owned();
        let (mut t_step, mut t_adv) = (Vec::new(), Vec::new());
        let mut by_step = psi0.clone();
        for _ in 0..rounds {
            s.set_psi(psi0.view());
            let t = Instant::now();
            for _ in 0..50 {
                s.step();
            }
            t_step.push(t.elapsed().as_secs_f64());
            by_step.assign(&s.psi());
            s.set_psi(psi0.view());
            let t = Instant::now();
            s.advance(50);
            t_adv.push(t.elapsed().as_secs_f64());
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let scale = by_step.iter().fold(0.0_f64, |m, z| m.max(z.norm()));
        let err = by_step
            .iter()
            .zip(s.psi())
            .fold(0.0_f64, |m, (a, b)| m.max((a - b).norm()));
        println!(
            "quantum-1024-50, {threads} threads, median of {rounds}: step x 50 {:.3} s, \
             advance(50) {:.3} s; max |difference| / max |psi| = {:.2e}",
            median(&mut t_step),
            median(&mut t_adv),
            err / scale
        );
        assert!(err <= 1e-12 * scale);
    });
}

fn main() {
    profile_split_step_1024();
    quantum_1024_50_step_vs_advance();
}
