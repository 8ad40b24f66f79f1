//! Timing breakdown of the quantum-1024-50 workload (diagnostic; ignored).

use std::time::Instant;

use convsim_core::{Complex64, SpectralPlan};
use ndarray::{Array2, Zip};

#[test]
#[ignore = "timing breakdown for the benchmark; run in release on a quiet machine"]
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
