//! Aliasing under stride and anti-aliasing (Zhang 2019): a Nyquist checkerboard sampled every
//! second pixel becomes a constant 1; blurring with a binomial filter first gives 0. The shift
//! consistency of the downsampled output improves as the filter grows.
//!
//! `cargo run -p convsim-cnn --example antialias`

use convsim_cnn::equivariance::shift_consistency;
use convsim_cnn::{BlurPool2d, Layer};
use convsim_core::Boundary;
use ndarray::Array4;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn main() {
    let board = Array4::from_shape_fn(
        (1, 1, 32, 32),
        |(_, _, i, j)| if (i + j) % 2 == 0 { 1.0 } else { -1.0 },
    );
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let noise =
        Array4::<f64>::from_shape_simple_fn((4, 1, 64, 64), || StandardNormal.sample(&mut rng));
    println!(
        "stride 2, Periodic; checkerboard (-1)^(i+j) on 32x32; shift consistency |f(shift_1 x) - f(x)| / |f(x)| on white noise"
    );
    println!(
        "{:>8} {:>22} {:>18}",
        "taps", "max |checkerboard out|", "shift consistency"
    );
    let mut prev = f64::INFINITY;
    for m in 1..=7 {
        let mut layer = BlurPool2d::<f64>::new(1, m, 2, Boundary::Periodic).unwrap();
        layer.forward(board.view()).unwrap();
        let amp = layer.output().iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        let sc = shift_consistency(&mut layer, noise.view()).unwrap();
        let label = if m == 1 {
            "1 (plain)".to_string()
        } else {
            m.to_string()
        };
        println!("{label:>8} {amp:>22.3e} {sc:>18.4}");
        if m == 1 {
            assert_eq!(amp, 1.0);
        } else {
            assert!(amp < 1e-15);
        }
        assert!(sc < prev);
        prev = sc;
    }
}
