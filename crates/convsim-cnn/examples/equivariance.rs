//! Translation equivariance of a convolution (exact under Periodic boundaries) and its loss
//! under stride 2: shifting the input by one pixel is not a shift of the output.
//!
//! `cargo run -p convsim-cnn --example equivariance`

use convsim_cnn::equivariance::translation_error;
use convsim_cnn::{Conv2d, Conv2dConfig};
use convsim_core::Boundary;
use ndarray::Array4;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = Array4::<f64>::from_shape_simple_fn((1, 3, 32, 32), || StandardNormal.sample(&mut rng));
    let cfg = Conv2dConfig::new(3, 8, 3).boundary(Boundary::Periodic);
    let mut conv = Conv2d::<f64>::new(cfg, 7).expect("valid layer");
    let mut strided = Conv2d::<f64>::new(cfg.stride(2), 7).expect("valid layer");
    println!(
        "relative error min_e |f(shift_s x) - shift_e f(x)| / |f(x)| on 32x32, 3 -> 8 channels, Periodic"
    );
    let e1 = translation_error(&mut conv, x.view(), [0, 1]).unwrap();
    let e2 = translation_error(&mut conv, x.view(), [5, -3]).unwrap();
    let s2 = translation_error(&mut strided, x.view(), [0, 2]).unwrap();
    let s1 = translation_error(&mut strided, x.view(), [0, 1]).unwrap();
    println!("stride 1, shift (0, 1):  {e1:.2e}   (equivariant: rounding only)");
    println!("stride 1, shift (5, -3): {e2:.2e}");
    println!("stride 2, shift (0, 2):  {s2:.2e}   (a shift by the stride is still a shift)");
    println!("stride 2, shift (0, 1):  {s1:.2e}   (no output shift matches: equivariance lost)");
    assert!(e1 < 1e-14 && e2 < 1e-14 && s2 < 1e-14);
    assert!(s1 > 0.1);
}
