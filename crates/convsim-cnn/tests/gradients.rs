//! Exact gradients: every layer and option against central finite differences in f64.
//!
//! Step `eps = 1e-6`: the convolutions are linear in input and weights, so central differences
//! have no truncation error and only rounding error `~ 1e-16 |L| / eps ~ 1e-9` relative; for the
//! smooth activations the truncation error is `~ eps^2 |f'''| ~ 1e-12`. A tolerance of `1e-6`
//! relative (to the largest gradient entry) therefore has three orders of margin and still
//! catches any wrong index, sign, flip or missing boundary fold (those give O(1) errors).

mod common;

use common::{gradient_check, randn};
use convsim_cnn::{Activation, ActivationKind, Conv2d, Conv2dConfig, Layer, Sequential};
use convsim_core::{Boundaries, Boundary, Padding, Sides};

const EPS: f64 = 1e-6;
const TOL: f64 = 1e-6;

const MODES: [Boundary; 7] = [
    Boundary::Zero,
    Boundary::Constant(1.5),
    Boundary::Replicate,
    Boundary::Mirror,
    Boundary::Symmetric,
    Boundary::Periodic,
    Boundary::Antisymmetric,
];

fn check(layer: &mut dyn Layer<f64>, shape: (usize, usize, usize, usize), seed: u64) {
    let x = randn::<f64>(shape, seed);
    let (ex, ep) = gradient_check(layer, &x, seed + 1000, EPS);
    assert!(
        ex < TOL && ep < TOL,
        "{}: input grad rel err {ex:e}, param grad rel err {ep:e}",
        layer.describe()
    );
}

#[test]
fn conv2d_every_boundary_stride_dilation_groups() {
    let mut seed = 1;
    for mode in MODES {
        for (stride, dilation, groups) in [(1, 1, 1), (2, 1, 1), (1, 2, 1), (1, 1, 2), (2, 2, 2)] {
            let cfg = Conv2dConfig::new(2, 4, 3)
                .boundary(mode)
                .stride(stride)
                .dilation(dilation)
                .groups(groups);
            let mut conv = Conv2d::<f64>::new(cfg, seed).unwrap();
            check(&mut conv, (2, 2, 7, 6), seed);
            seed += 1;
        }
    }
}

#[test]
fn conv2d_geometries_and_shapes() {
    // Non-square and even kernels, Valid / Full / explicit padding, mixed sides, no bias.
    let mixed = Boundaries {
        y: Sides {
            lo: Boundary::Antisymmetric,
            hi: Boundary::Replicate,
        },
        x: Sides::both(Boundary::Periodic),
    };
    let cfgs = [
        Conv2dConfig::new(3, 2, 3)
            .kernel(2, 4)
            .boundary(Boundary::Mirror),
        Conv2dConfig::new(2, 2, 3).padding(Padding::Valid),
        Conv2dConfig::new(2, 2, 3)
            .padding(Padding::Full)
            .boundary(Boundary::Symmetric),
        Conv2dConfig::new(2, 3, 3)
            .padding(Padding::Explicit { lo: 2, hi: 1 })
            .stride(2)
            .bias(false),
        Conv2dConfig::new(2, 2, 5).boundaries(mixed).dilation(2),
        Conv2dConfig::new(4, 4, 1).groups(2), // 1x1, the core's pointwise path
    ];
    for (i, cfg) in cfgs.into_iter().enumerate() {
        let cin = cfg.in_channels;
        let mut conv = Conv2d::<f64>::new(cfg, 100 + i as u64).unwrap();
        check(&mut conv, (2, cin, 11, 10), 200 + i as u64);
    }
}

#[test]
fn activations() {
    for (i, kind) in [
        ActivationKind::Relu,
        ActivationKind::Tanh,
        ActivationKind::Gelu,
    ]
    .into_iter()
    .enumerate()
    {
        let mut act = Activation::<f64>::new(kind);
        // ReLU's kink at 0 is never hit by normal samples (probability 0), and eps = 1e-6 only
        // crosses it if |x| < 1e-6 (probability ~1e-6 per entry).
        check(&mut act, (2, 3, 5, 4), 300 + i as u64);
    }
}

#[test]
fn sequential_model() {
    let mut net = Sequential::<f64>::new(vec![
        Box::new(Conv2d::new(Conv2dConfig::new(1, 4, 3).boundary(Boundary::Periodic), 1).unwrap()),
        Box::new(Activation::new(ActivationKind::Tanh)),
        Box::new(
            Conv2d::new(
                Conv2dConfig::new(4, 4, 3)
                    .stride(2)
                    .boundary(Boundary::Mirror),
                2,
            )
            .unwrap(),
        ),
        Box::new(Activation::new(ActivationKind::Gelu)),
        Box::new(Conv2d::new(Conv2dConfig::new(4, 2, 1), 3).unwrap()),
    ])
    .unwrap();
    check(&mut net, (2, 1, 8, 8), 400);
}

#[test]
fn p4_layers_blur_pool_and_moment_conv() {
    use convsim_cnn::moments::{MomentConstraint, MomentStencil};
    use convsim_cnn::{BlurPool2d, MomentConv2d, P4GroupConv, P4LiftConv, PoolMode, RotationPool};
    let mut lift =
        P4LiftConv::<f64>::new(Conv2dConfig::new(2, 2, 3).boundary(Boundary::Periodic), 1).unwrap();
    check(&mut lift, (2, 2, 6, 6), 500);
    let mut gconv =
        P4GroupConv::<f64>::new(Conv2dConfig::new(1, 2, 3).boundary(Boundary::Symmetric), 2)
            .unwrap();
    check(&mut gconv, (2, 4, 6, 6), 501);
    for mode in [PoolMode::Mean, PoolMode::Max] {
        let mut pool = RotationPool::<f64>::new(mode);
        check(&mut pool, (2, 8, 5, 5), 502);
    }
    for (m, stride) in [(1, 2), (3, 2), (4, 3)] {
        let mut bp = BlurPool2d::<f64>::new(3, m, stride, Boundary::Mirror).unwrap();
        check(&mut bp, (2, 3, 9, 8), 503);
    }
    let target = ndarray::Array2::from_shape_fn((3, 3), |(i, j)| 0.1 * (i + 2 * j) as f64);
    for c in [
        MomentConstraint::Free,
        MomentConstraint::Order(1),
        MomentConstraint::Learn(vec![[2, 0], [1, 1]]),
    ] {
        let st = MomentStencil::new(target.clone(), [1, 1], [0.5, 1.0], &c).unwrap();
        let mut mc = MomentConv2d::<f64>::new(st, Boundary::Antisymmetric).unwrap();
        check(&mut mc, (2, 1, 7, 7), 504);
    }
}

#[test]
fn rollout_loss_gradient() {
    use convsim_cnn::{Loss, LossEvaluator, params_to_vec, set_params};
    // Two time levels in, one out (a wave-equation step), rolled out 3 steps: the loss gradient
    // goes through the model three times and through the history shift.
    let mut net = Sequential::<f64>::new(vec![
        Box::new(Conv2d::new(Conv2dConfig::new(2, 3, 3).boundary(Boundary::Periodic), 1).unwrap()),
        Box::new(Activation::new(ActivationKind::Tanh)),
        Box::new(Conv2d::new(Conv2dConfig::new(3, 1, 3).boundary(Boundary::Periodic), 2).unwrap()),
    ])
    .unwrap();
    let x = randn::<f64>((2, 2, 6, 6), 600);
    let y = randn::<f64>((2, 1, 6, 6), 601);
    let mut ev = LossEvaluator::new(Loss::Rollout { steps: 3 });
    net.zero_grad();
    ev.loss_and_grad(&mut net, x.view(), y.view(), 1.0).unwrap();
    let mut g = vec![0.0; net.num_params()];
    convsim_cnn::grads_into(&mut net, &mut g);
    let p0 = params_to_vec(&mut net);
    let mut worst = 0.0_f64;
    for i in 0..p0.len() {
        let mut p = p0.clone();
        p[i] += EPS;
        set_params(&mut net, &p);
        let lp = ev.loss_only(&mut net, x.view(), y.view()).unwrap();
        p[i] -= 2.0 * EPS;
        set_params(&mut net, &p);
        let lm = ev.loss_only(&mut net, x.view(), y.view()).unwrap();
        worst = worst.max(((lp - lm) / (2.0 * EPS) - g[i]).abs());
    }
    let scale = g.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    // The loss is O(1), so rounding in the difference quotient is ~1e-16 / 1e-6 = 1e-10.
    assert!(
        worst / scale < TOL,
        "rollout gradient rel err {:e}",
        worst / scale
    );
}
