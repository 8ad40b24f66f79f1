//! Closed loop, part 1: learn the diffusion step from the diffusion solver's own data and
//! export it as the stencil file `scenarios/diffusion/learned_stencil.toml` runs.
//!
//! `cargo run -p convsim-cnn --example learn_diffusion_stencil -- data/learned_diffusion_stencil.toml`
//!
//! The data are 8 pairs `(u0, u1)`: seeded white-noise fields `u0` on the scenario's grid
//! (32 x 32 periodic nodes, spacing 1/32 m) stepped once by `DiffusionSolver` (explicit order 2,
//! D = 0.01 m^2/s, dt = 0.02 s). White noise excites every wavenumber, so the 3 x 3 least-squares
//! fit determines all nine taps; the true step is `delta + (D dt / h^2) L5`.

use convsim_cnn::SnapshotPairs;
use convsim_cnn::export::{StencilFile, StencilKind};
use convsim_cnn::fit::{StencilFitConfig, fit_stencil, relative_error};
use convsim_core::stencil::laplacian;
use convsim_core::{Boundaries, Boundary};
use convsim_diffusion::{DiffusionParams, DiffusionSolver};
use ndarray::{Array4, s};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data/learned_diffusion_stencil.toml".into());
    let (n, h, d, dt) = (32, 1.0 / 32.0, 0.01, 0.02);
    let mut p = DiffusionParams::gaussian_periodic(n, h, d);
    p.dt = dt;
    let samples = 8;
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut x = Array4::zeros((samples, 1, n, n));
    let mut y = Array4::zeros((samples, 1, n, n));
    for k in 0..samples {
        let u0 = ndarray::Array2::from_shape_fn((n, n), |_| rng.random_range(-1.0..1.0));
        let mut solver = DiffusionSolver::new(p.clone(), u0.clone()).expect("stable setup");
        solver.step();
        x.slice_mut(s![k, 0, .., ..]).assign(&u0);
        y.slice_mut(s![k, 0, .., ..]).assign(&solver.u());
    }
    let pairs = SnapshotPairs::new(x, y).expect("matching shapes");
    let cfg = StencilFitConfig::new(3, Boundaries::uniform(Boundary::Periodic));
    let fit = fit_stencil(&pairs, &cfg).expect("well-posed fit");
    let taps = fit.taps.slice(s![0, 0, .., ..]).to_owned();
    let r = d * dt / (h * h);
    let mut exact = laplacian(2, 1.0, 1.0)
        .expect("stencil")
        .taps()
        .mapv(|v| r * v);
    exact[[1, 1]] += 1.0;
    let err = relative_error(taps.view(), exact.view());
    let description = format!(
        "learned by convsim-cnn least squares (examples/learn_diffusion_stencil.rs) from {samples} \
         white-noise pairs stepped once by DiffusionSolver (explicit order 2, D = {d} m^2/s, \
         dt = {dt} s, 32x32 periodic, h = 1/32 m); relative error to the exact step \
         delta + {r} L5: {err:.2e}; rms residual {:.2e}",
        fit.rms_residual[0]
    );
    let file = StencilFile::new(
        StencilKind::Step,
        taps.view(),
        fit.anchor,
        [h, h],
        Some(dt),
        &description,
    )
    .expect("valid stencil");
    file.save(std::path::Path::new(&out))
        .expect("write the stencil file");
    println!("{description}");
    println!("taps (learned - exact):");
    for (row, ex) in taps.outer_iter().zip(exact.outer_iter()) {
        let d: Vec<String> = row
            .iter()
            .zip(ex)
            .map(|(a, b)| format!("{:+.3e}", a - b))
            .collect();
        println!("  {}", d.join(" "));
    }
    println!("sum of taps - 1 = {:e}", taps.sum() - 1.0);
    println!("written to {out}");
}
