//! Rotation equivariance of a p4 group-convolution network: turning the input by 90 degrees
//! turns every feature map and cyclically permutes the rotation channels. A network whose four
//! kernels per base channel are independent (no weight sharing across rotations) loses it.
//!
//! `cargo run -p convsim-cnn --example p4_equivariance`

use convsim_cnn::equivariance::p4_error;
use convsim_cnn::{
    Activation, ActivationKind, Conv2d, Conv2dConfig, Float, Layer, P4GroupConv, P4LiftConv,
    Sequential,
};
use ndarray::Array4;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn net<T: Float>(independent: bool) -> Sequential<T> {
    let first: Box<dyn Layer<T>> = if independent {
        Box::new(Conv2d::new(Conv2dConfig::new(1, 16, 3), 1).unwrap())
    } else {
        Box::new(P4LiftConv::new(Conv2dConfig::new(1, 4, 3), 1).unwrap())
    };
    Sequential::new(vec![
        first,
        Box::new(Activation::new(ActivationKind::Relu)),
        Box::new(P4GroupConv::new(Conv2dConfig::new(4, 4, 3), 2).unwrap()),
        Box::new(Activation::new(ActivationKind::Relu)),
        Box::new(P4GroupConv::new(Conv2dConfig::new(4, 2, 3), 3).unwrap()),
    ])
    .unwrap()
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = Array4::<f64>::from_shape_simple_fn((2, 1, 25, 25), || StandardNormal.sample(&mut rng));
    let x32 = x.mapv(|v| v as f32);
    let e64 = p4_error(&mut net::<f64>(false), x.view(), false, true).unwrap();
    let e32 = p4_error(&mut net::<f32>(false), x32.view(), false, true).unwrap();
    let ctrl = p4_error(&mut net::<f64>(true), x.view(), false, true).unwrap();
    println!(
        "max |f(turn x) - turn f(x)| / max |f(x)|, 25x25, lift 1->4 (x4 rotations), 2 group convs, ReLU, Zero boundary"
    );
    println!("p4 network, f64:            {e64:.2e}");
    println!("p4 network, f32:            {e32:.2e}");
    println!("independent kernels (f64):  {ctrl:.2e}");
    assert!(e64 <= 1e-12);
    assert!(e32 <= 1e-5);
    assert!(ctrl >= 0.1);
}
