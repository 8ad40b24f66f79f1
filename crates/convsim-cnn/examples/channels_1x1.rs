//! Channels and 1x1 convolutions (the article's two-channel bars): image A has a vertical bar in
//! channel 0 and a horizontal bar in channel 1, image B the other way round. A spatial
//! convolution that treats the channels alike and sums them cannot tell A from B; a 1x1
//! convolution with weights [1, -1] can.
//!
//! `cargo run -p convsim-cnn --example channels_1x1`

use convsim_cnn::{Conv2d, Conv2dConfig, Layer};
use ndarray::{Array1, Array4};

fn distance(layer: &mut Conv2d<f64>, a: &Array4<f64>, b: &Array4<f64>) -> f64 {
    layer.forward(a.view()).unwrap();
    let ya = layer.output().to_owned();
    layer.forward(b.view()).unwrap();
    ya.iter()
        .zip(layer.output().iter())
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        .sqrt()
}

fn main() {
    let n = 9;
    let vertical = |i: usize, j: usize| f64::from(u8::from(j == n / 2 && i > 1 && i < n - 2));
    let horizontal = |i: usize, j: usize| f64::from(u8::from(i == n / 2 && j > 1 && j < n - 2));
    let a = Array4::from_shape_fn((1, 2, n, n), |(_, c, i, j)| {
        if c == 0 {
            vertical(i, j)
        } else {
            horizontal(i, j)
        }
    });
    let b = Array4::from_shape_fn((1, 2, n, n), |(_, c, i, j)| {
        if c == 0 {
            horizontal(i, j)
        } else {
            vertical(i, j)
        }
    });

    // A 3x3 blur applied to each channel with the same kernel, summed over channels.
    let blur = Array4::from_shape_fn((1, 2, 3, 3), |(_, _, i, j)| {
        [1.0, 2.0, 1.0][i] * [1.0, 2.0, 1.0][j] / 16.0
    });
    let mut summing = Conv2d::with_weights(Conv2dConfig::new(2, 1, 3), blur, None).unwrap();
    // A 1x1 convolution computing channel 0 minus channel 1.
    let diff = Array4::from_shape_vec((1, 2, 1, 1), vec![1.0, -1.0]).unwrap();
    let mut pointwise =
        Conv2d::with_weights(Conv2dConfig::new(2, 1, 1), diff, Some(Array1::zeros(1))).unwrap();

    let d_sum = distance(&mut summing, &a, &b);
    let d_1x1 = distance(&mut pointwise, &a, &b);
    println!("two 9x9 images, bars swapped between the channels");
    println!("spatial conv, channels summed: |f(A) - f(B)| = {d_sum:.3e}");
    println!("1x1 conv with weights [1, -1]: |f(A) - f(B)| = {d_1x1:.3}");
    assert!(d_sum < 1e-15, "summing cannot separate the images");
    assert!(d_1x1 > 1.0, "the 1x1 convolution separates them");
}
