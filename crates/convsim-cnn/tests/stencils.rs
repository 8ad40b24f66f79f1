//! Learning stencils back from data: least squares, Adam, noise, moment constraints.

mod common;

use common::randn;
use convsim_cnn::fit::{StencilFitConfig, fit_moment_stencil, fit_stencil, relative_error};
use convsim_cnn::moments::{MomentConstraint, MomentStencil, amplification_factor};
use convsim_cnn::train::{OptimizerConfig, TrainConfig, train};
use convsim_cnn::{Conv2d, Conv2dConfig, Layer, LrSchedule, SnapshotPairs};
use convsim_core::{Boundaries, Boundary, Geometry, Kernel2, Orientation, reference};
use ndarray::{Array2, Array4, array, s};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The diffusion step K = delta + 0.2 L5.
fn heat_step() -> Array2<f64> {
    let r = 0.2;
    array![[0.0, r, 0.0], [r, 1.0 - 4.0 * r, r], [0.0, r, 0.0]]
}

fn periodic() -> Boundaries {
    Boundaries::uniform(Boundary::Periodic)
}

/// Targets `K * x` per sample by the core's naive oracle.
fn apply(k: &Array2<f64>, x: &Array4<f64>) -> Array4<f64> {
    let kern = Kernel2::new(k.clone()).unwrap().into();
    let mut y = Array4::zeros(x.dim());
    for n in 0..x.dim().0 {
        let out = reference::conv2d(
            x.slice(s![n, 0, .., ..]),
            &kern,
            &periodic(),
            Orientation::Correlate,
            &Geometry::same(),
        )
        .unwrap();
        y.slice_mut(s![n, 0, .., ..]).assign(&out);
    }
    y
}

fn fitted_kernel(x: Array4<f64>, y: Array4<f64>) -> Array2<f64> {
    let fit = fit_stencil(
        &SnapshotPairs::new(x, y).unwrap(),
        &StencilFitConfig::new(3, periodic()),
    )
    .unwrap();
    fit.taps.slice(s![0, 0, .., ..]).to_owned()
}

#[test]
fn least_squares_recovers_the_heat_step_exactly() {
    let x = randn::<f64>((4, 1, 64, 64), 1);
    let y = apply(&heat_step(), &x);
    let k = fitted_kernel(x, y);
    let e = relative_error(k.view(), heat_step().view());
    // Exact data and a well-conditioned design (white noise): QR gives ~1e-15.
    assert!(e < 1e-10, "relative error {e:e}");
}

#[test]
fn error_grows_linearly_with_noise() {
    let x = randn::<f64>((4, 1, 64, 64), 2);
    let y = apply(&heat_step(), &x);
    let n1 = randn::<f64>((4, 1, 64, 64), 3);
    let n2 = randn::<f64>((4, 1, 64, 64), 4);
    let sigmas = [1e-5, 1e-4, 1e-3, 1e-2];
    let errs: Vec<f64> = sigmas
        .iter()
        .map(|&sg| {
            let k = fitted_kernel(&x + &(&n1 * sg), &y + &(&n2 * sg));
            relative_error(k.view(), heat_step().view())
        })
        .collect();
    // Least-squares slope of log(error) against log(sigma).
    let lx: Vec<f64> = sigmas.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = errs.iter().map(|v| v.ln()).collect();
    let (mx, my) = (lx.iter().sum::<f64>() / 4.0, ly.iter().sum::<f64>() / 4.0);
    let slope = lx
        .iter()
        .zip(&ly)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / lx.iter().map(|a| (a - mx) * (a - mx)).sum::<f64>();
    // The error is linear in the noise to first order (the errors-in-variables bias is
    // O(sigma^2), 1e-4 relative at the largest sigma).
    assert!((slope - 1.0).abs() < 0.05, "slope {slope}, errors {errs:?}");
}

#[test]
fn adam_in_f32_recovers_the_heat_step() {
    let x = randn::<f64>((8, 1, 64, 64), 5);
    let y = apply(&heat_step(), &x);
    let data = SnapshotPairs::new(x.mapv(|v| v as f32), y.mapv(|v| v as f32)).unwrap();
    let cfg = Conv2dConfig::new(1, 1, 3)
        .bias(false)
        .boundary(Boundary::Periodic);
    let mut model = Conv2d::<f32>::new(cfg, 7).unwrap();
    let tc = TrainConfig {
        epochs: 1500,
        batch_size: 6,
        val_fraction: 0.25,
        seed: 3,
        optimizer: OptimizerConfig::Adam {
            learning_rate: 1e-2,
            // 1e-2 down to 1e-6 over the 1500 steps: fast approach, then fine convergence.
            schedule: LrSchedule::Exponential { gamma: 0.993_88 },
        },
        ..TrainConfig::default()
    };
    let report = train(&mut model, &data, &tc, |_| {}).unwrap();
    let k = model.weight().slice(s![0, 0, .., ..]).mapv(f64::from);
    let e = relative_error(k.view(), heat_step().view());
    assert!(
        e < 1e-5,
        "relative error {e:e}, best val loss {:e}",
        report.best_loss
    );
}

/// Smooth periodic fields: random Fourier modes with |ky|, |kx| <= 2.
fn smooth(n: usize, seed: u64) -> Array4<f64> {
    let b = 2;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Array4::zeros((n, 1, 64, 64));
    for k in 0..n {
        for ky in -b..=b {
            for kx in -b..=b {
                let (a, ph): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(0.0..6.3));
                for i in 0..64 {
                    for j in 0..64 {
                        let t = std::f64::consts::TAU * f64::from(ky * i as i32 + kx * j as i32)
                            / 64.0
                            + ph;
                        x[[k, 0, i, j]] += a * t.cos() / f64::from(2 * b + 1);
                    }
                }
            }
        }
    }
    x
}

fn rollout_max(k: &Array2<f64>, u0: &Array4<f64>, steps: usize) -> f64 {
    let w = k.clone().into_shape_with_order((1, 1, 3, 3)).unwrap();
    let cfg = Conv2dConfig::new(1, 1, 3).boundary(Boundary::Periodic);
    let mut layer = Conv2d::<f64>::with_weights(cfg, w, None).unwrap();
    let mut u = u0.clone();
    for _ in 0..steps {
        layer.forward(u.view()).unwrap();
        u.assign(&layer.output());
    }
    // Overflow turns into NaN (inf - inf), which max() would silently skip.
    u.iter().fold(0.0_f64, |m, v| {
        if v.is_finite() {
            m.max(v.abs())
        } else {
            f64::INFINITY
        }
    })
}

#[test]
fn moment_constraint_keeps_the_learned_step_stable() {
    // Two smooth snapshots (modes |k| <= 2 of 32) and 1% noise on the targets. Over seeds, the
    // free fit's amplification ranges from 10 to 40 here (it is set by the noise, not the data).
    let x = smooth(2, 100);
    let noise = randn::<f64>((2, 1, 64, 64), 200);
    let y = &apply(&heat_step(), &x) + &(&noise * 1e-2);
    let data = SnapshotPairs::new(x.clone(), y).unwrap();
    // Free fit: 9 taps from smooth data; the high frequencies are set by the noise alone.
    let free = fit_stencil(&data, &StencilFitConfig::new(3, periodic())).unwrap();
    let kf = free.taps.slice(s![0, 0, .., ..]).to_owned();
    // Moment fit: mass m00 = 1, first moments 0 and all higher moments 0 held; only the
    // diffusion moments m20, m02 learned.
    let mut target = Array2::zeros((3, 3));
    target[[0, 0]] = 1.0;
    let st = MomentStencil::new(
        target,
        [1, 1],
        [1.0, 1.0],
        &MomentConstraint::Learn(vec![[2, 0], [0, 2]]),
    )
    .unwrap();
    let mfit = fit_moment_stencil(&data, &st, periodic()).unwrap();
    let (m20, m02) = (mfit.theta[0], mfit.theta[1]);
    let amp_c = amplification_factor(mfit.kernel.view(), [64, 64]);
    let amp_f = amplification_factor(kf.view(), [64, 64]);
    // Moment noise ~ sigma / (theta_max^2 sqrt(N)) ~ 0.03 for these data.
    assert!(
        (m20 - 0.2).abs() < 0.05 && (m02 - 0.2).abs() < 0.05,
        "learned m20 {m20}, m02 {m02}"
    );
    assert!(amp_f > 2.0, "free amplification {amp_f}");
    assert!(amp_c <= 1.0 + 1e-12, "constrained amplification {amp_c}");
    // A generic perturbed start (smooth plus white noise excites every frequency).
    let u0 = &smooth(1, 11) + &(&randn::<f64>((1, 1, 64, 64), 12) * 1e-3);
    let start = u0.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let c = rollout_max(&mfit.kernel, &u0, 1000);
    let f = rollout_max(&kf, &u0, 1000);
    assert!(c <= start, "constrained rollout grew: {start} -> {c}");
    assert!(
        f >= 1e3 * start,
        "free fit (amplification {amp_f}) stayed bounded: {start} -> {f}"
    );
}
