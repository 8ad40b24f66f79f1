//! Shared helpers of the verification tests: grids, analytic solutions, Richardson extrapolation.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a subset of these helpers, which are `pub` for that"
)]

use convsim_core::Grid;
use convsim_diffusion::{
    BoundaryCondition, BoundaryConditions, DiffusionParams, DiffusionSolver, Diffusivity, Scheme,
};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A square `n x n` grid of spacing `h`, origin 0.
pub fn grid(ny: usize, nx: usize, h: f64) -> Grid {
    Grid {
        ny,
        nx,
        dy: h,
        dx: h,
        y0: 0.0,
        x0: 0.0,
    }
}

/// Params with everything given.
pub fn params(
    grid: Grid,
    dt: f64,
    scheme: Scheme,
    diffusivity: Diffusivity,
    b: BoundaryCondition,
) -> DiffusionParams {
    DiffusionParams {
        grid,
        dt,
        scheme,
        diffusivity,
        source: None,
        boundaries: BoundaryConditions::uniform(b),
        stencil: None,
    }
}

/// Runs `steps` steps from `u0` and returns the final field.
pub fn run(p: DiffusionParams, u0: Array2<f64>, steps: usize) -> Array2<f64> {
    let mut s = DiffusionSolver::new(p, u0).unwrap();
    for _ in 0..steps {
        s.step();
    }
    s.u().to_owned()
}

/// Forward Euler to time `t` with `n0 * 2^k` steps for `k = 0..levels`, combined by Richardson
/// extrapolation in `dt`. Forward Euler's global error expands in powers of `dt` with the same
/// spatial operator, so the extrapolation removes the time error up to `O(dt^levels)` and leaves
/// the spatial error of the stencil untouched.
pub fn richardson(
    p: &DiffusionParams,
    u0: &Array2<f64>,
    t: f64,
    n0: usize,
    levels: usize,
) -> Array2<f64> {
    let mut table: Vec<Array2<f64>> = Vec::new();
    for k in 0..levels {
        let n = n0 << k;
        let mut pk = p.clone();
        pk.dt = t / n as f64;
        let mut row = vec![run(pk, u0.clone(), n)];
        for j in 1..=k {
            let f = f64::from(1u32 << j);
            let v = (&row[j - 1] * f - &table[j - 1]) / (f - 1.0);
            row.push(v);
        }
        table = row;
    }
    table.pop().unwrap()
}

/// `sum_m exp(-(x - c - m l)^2 / (2 var))`: a Gaussian and its periodic images.
pub fn periodic_gauss(x: f64, c: f64, var: f64, l: f64) -> f64 {
    (-20..=20)
        .map(|m| {
            let d = x - c - f64::from(m) * l;
            (-d * d / (2.0 * var)).exp()
        })
        .sum()
}

/// The anisotropic Gaussian with covariance `[[syy, sxy], [sxy, sxx]]` (in `(y, x)`) centred at
/// `(cy, cx)`, scaled by `sqrt(det0 / det)` (mass of the initial unit-peak Gaussian of
/// determinant `det0` kept), summed over periodic images of periods `(ly, lx)`.
pub fn aniso_gauss(
    y: f64,
    x: f64,
    c: (f64, f64),
    cov: (f64, f64, f64),
    det0: f64,
    l: (f64, f64),
) -> f64 {
    let (syy, sxx, sxy) = cov;
    let det = syy * sxx - sxy * sxy;
    let mut s = 0.0;
    for my in -6..=6 {
        for mx in -6..=6 {
            let dy = y - c.0 - f64::from(my) * l.0;
            let dx = x - c.1 - f64::from(mx) * l.1;
            // Inverse of [[syy, sxy], [sxy, sxx]].
            let q = (sxx * dy * dy - 2.0 * sxy * dx * dy + syy * dx * dx) / det;
            s += (-0.5 * q).exp();
        }
    }
    (det0 / det).sqrt() * s
}

/// Observed order from errors at spacings `h1 > h2`.
pub fn observed_order(e1: f64, e2: f64, h1: f64, h2: f64) -> f64 {
    (e1 / e2).ln() / (h1 / h2).ln()
}

/// Seeded uniform field in `[lo, hi)`.
pub fn random_field(ny: usize, nx: usize, lo: f64, hi: f64, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((ny, nx), |_| rng.random_range(lo..hi))
}
