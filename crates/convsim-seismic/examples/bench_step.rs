//! Times the `seismic-2000-so{2,8}-200` workloads on this crate alone (no CLI build needed):
//! `cargo run --release -p convsim-seismic --example bench_step [threads]`. Prints the best and
//! median of 5 runs and the throughput in GPts/s (grid points updated per second).

use std::time::Instant;

use convsim_seismic::{Seismic, SeismicBoundaries, SeismicParams, SideBoundary};
use ndarray::Array2;

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let n = 2000;
    for order in [2, 8] {
        let mut p = SeismicParams::homogeneous(n, n, 10.0, 2000.0);
        p.space_order = order;
        p.dt = 1.25e-3;
        p.boundaries = SeismicBoundaries::uniform(SideBoundary::Zero);
        let mut s = Seismic::<f32>::new(&p).expect("valid");
        let mut p0 = Array2::zeros((n, n));
        p0[[n / 2, n / 2]] = 1.0;
        s.set_initial(p0.view());
        let mut times: Vec<f64> = pool.install(|| {
            (0..6)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..200 {
                        s.step();
                    }
                    t.elapsed().as_secs_f64()
                })
                .skip(1)
                .collect()
        });
        times.sort_by(f64::total_cmp);
        let pts = (n * n * 200) as f64;
        println!(
            "so{order}: best {:.4} s ({:.2} GPts/s), median {:.4} s, {threads} threads",
            times[0],
            pts / times[0] / 1e9,
            times[2]
        );
    }
}
