//! Times the `cnn-train-128-b16-20` benchmark workload (also run by `convsim bench cnn`):
//! 20 Adam steps of conv 1->16 3x3, tanh, conv 16->16 3x3, tanh, conv 16->1 3x3 on a batch of 16
//! 128x128 f32 images, Zero boundary, Same output, MSE loss. Prints the median of 5 runs.
//!
//! `cargo run --release -p convsim-cnn --example train_speed`

use std::time::Instant;

use convsim_cnn::{
    Activation, ActivationKind, Adam, Conv2d, Conv2dConfig, Layer, Loss, LossEvaluator, Optimizer,
    Sequential, params_to_vec, set_params,
};
use ndarray::Array4;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut randn =
        |shape| Array4::<f32>::from_shape_simple_fn(shape, || StandardNormal.sample(&mut rng));
    let x = randn((16, 1, 128, 128));
    let y = randn((16, 1, 128, 128));
    let conv = |cin, cout, seed| -> Box<dyn Layer<f32>> {
        Box::new(Conv2d::new(Conv2dConfig::new(cin, cout, 3), seed).unwrap())
    };
    let mut net = Sequential::new(vec![
        conv(1, 16, 0),
        Box::new(Activation::new(ActivationKind::Tanh)),
        conv(16, 16, 1),
        Box::new(Activation::new(ActivationKind::Tanh)),
        conv(16, 1, 2),
    ])
    .unwrap();
    let init = params_to_vec(&mut net);
    let mut ev = LossEvaluator::new(Loss::Mse);
    let mut times = Vec::new();
    let mut last = 0.0;
    for rep in 0..6 {
        set_params(&mut net, &init);
        let mut adam = Adam::<f32>::new(1e-3).unwrap();
        let t = Instant::now();
        for _ in 0..20 {
            net.zero_grad();
            last = ev.loss_and_grad(&mut net, x.view(), y.view(), 1.0).unwrap();
            adam.step(&mut net);
        }
        if rep > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "cnn-train-128-b16-20: median {:.3} s over 5 runs ({} threads), final loss {last:.4}",
        times[2],
        rayon::current_num_threads()
    );
    assert!(last.is_finite() && last > 0.0);
}
