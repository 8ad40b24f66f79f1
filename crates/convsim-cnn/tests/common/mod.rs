//! Shared test helpers: seeded data and the finite-difference gradient check.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a subset of these helpers, which are `pub` for that"
)]

use convsim_cnn::{Float, Layer, params_to_vec, set_params};
use ndarray::Array4;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Seeded standard-normal array.
pub fn randn<T: Float>(shape: (usize, usize, usize, usize), seed: u64) -> Array4<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array4::from_shape_simple_fn(shape, || {
        let v: f64 = StandardNormal.sample(&mut rng);
        T::of(v)
    })
}

/// `<g, layer(x)>`.
fn probe(layer: &mut dyn Layer<f64>, x: &Array4<f64>, g: &Array4<f64>) -> f64 {
    layer.forward(x.view()).unwrap();
    layer
        .output()
        .iter()
        .zip(g.iter())
        .map(|(a, b)| a * b)
        .sum()
}

/// Worst relative error, `|fd - exact|_inf / |exact|_inf`, of the input and parameter
/// gradients of `L(x, theta) = <g, layer(x)>` against central finite differences with step `eps`.
///
/// Every input entry and every parameter is perturbed (the layers under test are small).
pub fn gradient_check(
    layer: &mut dyn Layer<f64>,
    x: &Array4<f64>,
    seed: u64,
    eps: f64,
) -> (f64, f64) {
    layer.forward(x.view()).unwrap();
    let out = layer.output().dim();
    let g: Array4<f64> = randn(out, seed);
    layer.zero_grad();
    layer.backward(x.view(), g.view(), true);
    let gx = layer.input_grad().to_owned();
    let mut gp = vec![0.0; layer.num_params()];
    convsim_cnn::grads_into(layer, &mut gp);

    let mut xp = x.clone();
    let mut worst_x = 0.0_f64;
    let scale_x = gx.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for i in 0..x.len() {
        let orig = xp.as_slice().unwrap()[i];
        xp.as_slice_mut().unwrap()[i] = orig + eps;
        let lp = probe(layer, &xp, &g);
        xp.as_slice_mut().unwrap()[i] = orig - eps;
        let lm = probe(layer, &xp, &g);
        xp.as_slice_mut().unwrap()[i] = orig;
        let fd = (lp - lm) / (2.0 * eps);
        worst_x = worst_x.max((fd - gx.as_slice().unwrap()[i]).abs());
    }
    let p0 = params_to_vec(layer);
    let scale_p = gp.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let mut worst_p = 0.0_f64;
    let mut p = p0.clone();
    for i in 0..p.len() {
        p[i] = p0[i] + eps;
        set_params(layer, &p);
        let lp = probe(layer, x, &g);
        p[i] = p0[i] - eps;
        set_params(layer, &p);
        let lm = probe(layer, x, &g);
        p[i] = p0[i];
        let fd = (lp - lm) / (2.0 * eps);
        worst_p = worst_p.max((fd - gp[i]).abs());
    }
    set_params(layer, &p0);
    (
        worst_x / scale_x.max(f64::MIN_POSITIVE),
        if p0.is_empty() {
            0.0
        } else {
            worst_p / scale_p.max(f64::MIN_POSITIVE)
        },
    )
}
