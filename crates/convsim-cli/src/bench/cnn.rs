//! The `cnn` workloads of `convsim bench`.

use convsim_cnn::{
    Activation, ActivationKind, Adam, Conv2d, Conv2dConfig, Layer, Loss, LossEvaluator, Optimizer,
    Sequential, params_to_vec, set_params,
};
use convsim_core::Boundary;
use ndarray::Array4;

use super::{Workload, normal_samples};

pub(super) fn workloads() -> Vec<Workload> {
    vec![Workload {
        id: "cnn-train-128-b16-20",
        setup: Box::new(train_128_b16_20),
    }]
}

/// The benchmark network: conv 1->16 3x3, tanh, conv 16->16 3x3, tanh, conv 16->1 3x3; Zero
/// boundary, Same output, f32.
fn network() -> Sequential<f32> {
    let conv = |cin, cout, seed| -> Box<dyn Layer<f32>> {
        let cfg = Conv2dConfig::new(cin, cout, 3).boundary(Boundary::Zero);
        Box::new(Conv2d::new(cfg, seed).expect("valid benchmark layer"))
    };
    Sequential::new(vec![
        conv(1, 16, 0),
        Box::new(Activation::new(ActivationKind::Tanh)),
        conv(16, 16, 1),
        Box::new(Activation::new(ActivationKind::Tanh)),
        conv(16, 1, 2),
    ])
    .expect("non-empty")
}

/// cnn-train-128-b16-20: 20 Adam steps (lr 1e-3) of MSE on a batch of 16 seeded normal
/// 128x128 inputs and targets. Every run restarts from the same initial weights and a fresh
/// Adam state, as `peers.py` does.
fn train_128_b16_20() -> Box<dyn FnMut()> {
    let shape = (16, 1, 128, 128);
    let n = 16 * 128 * 128;
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<_>>();
    let x = Array4::from_shape_vec(shape, to_f32(normal_samples(n, 3))).expect("shape");
    let y = Array4::from_shape_vec(shape, to_f32(normal_samples(n, 4))).expect("shape");
    let mut net = network();
    let init = params_to_vec(&mut net);
    let mut ev = LossEvaluator::new(Loss::Mse);
    // Build every plan and buffer outside the timed region.
    ev.loss_and_grad(&mut net, x.view(), y.view(), 1.0)
        .expect("benchmark shapes fit");
    Box::new(move || {
        set_params(&mut net, &init);
        let mut adam = Adam::<f32>::new(1e-3).expect("positive learning rate");
        for _ in 0..20 {
            net.zero_grad();
            let l = ev
                .loss_and_grad(&mut net, x.view(), y.view(), 1.0)
                .expect("benchmark shapes fit");
            assert!(l.is_finite(), "benchmark loss diverged");
            adam.step(&mut net);
        }
    })
}
