//! The distributed split-step loop (`DistFft::apply_steps`) on tiles stepped by threads, with
//! channels for the all-to-all, against the single-process `SpectralPlan::apply_steps` on
//! the whole field with the same transfer and the same row hooks.
//!
//! Tolerance: both compute the same sums of products but group the butterflies differently
//! (a complex-to-complex transform per axis here, the plan's own layout there): a few ulps
//! per transform. Each application is unitary (|H| = 1) and the hooks are phases, so the
//! errors add up over `2 n` transforms without growing: `1e-13` relative to the largest
//! magnitude leaves a factor ~10 over the `n = 5` steps (`4e-15` measured).

use convsim_core::testing::{random_array, rng};
use convsim_core::tile::{DistFft, channel_all_to_alls, channel_all_to_alls_shared, split};
use convsim_core::{Complex64, SpectralPlan, wavenumbers};
use ndarray::{Array2, s};

/// A phase per sample, different per hook: `exp(i c (y + 2 x) / n)`.
fn hook(c: f64, nx: usize) -> impl Fn(usize, &mut [Complex64]) + Sync {
    move |y, row: &mut [Complex64]| {
        for (x, z) in row.iter_mut().enumerate() {
            *z *= Complex64::from_polar(1.0, c * (y as f64 + 2.0 * x as f64) / nx as f64);
        }
    }
}

fn transfer(ky: f64, kx: f64) -> Complex64 {
    Complex64::from_polar(1.0, -0.013 * (ky * ky + 0.7 * kx * kx) + 0.05 * kx)
}

/// Runs `calls` times `n` steps on a `dims` process grid and returns the stitched field
/// (`shared`: the ranks transpose through shared memory instead of all-to-alls).
fn distributed(
    u0: &Array2<Complex64>,
    dims: [usize; 2],
    n: usize,
    (calls, shared): (usize, bool),
) -> Array2<Complex64> {
    let (ny, nx) = u0.dim();
    let p = dims[0] * dims[1];
    let blocks: Vec<([usize; 2], [usize; 2])> = (0..p)
        .map(|r| {
            let (ry, rx) = (
                split(ny, dims[0], r / dims[1]),
                split(nx, dims[1], r % dims[1]),
            );
            ([ry.start, rx.start], [ry.len(), rx.len()])
        })
        .collect();
    let (kys, kxs) = (wavenumbers(ny, 0.5), wavenumbers(nx, 0.25));
    let mut out = Array2::zeros((ny, nx));
    let tiles: Vec<Array2<Complex64>> = std::thread::scope(|sc| {
        let comms = if shared {
            channel_all_to_alls_shared(p)
        } else {
            channel_all_to_alls(p)
        };
        let handles: Vec<_> = comms
            .into_iter()
            .enumerate()
            .map(|(r, mut comm)| {
                let blocks = &blocks;
                let (kys, kxs) = (&kys, &kxs);
                sc.spawn(move || {
                    let ([y0, x0], [h, w]) = blocks[r];
                    let mut fft = DistFft::new([ny, nx], blocks, r);
                    let h_k: Vec<Complex64> = fft
                        .spectrum_cols()
                        .flat_map(|c| kys.iter().map(move |&ky| transfer(ky, kxs[c])))
                        .collect();
                    let mut u = u0.slice(s![y0..y0 + h, x0..x0 + w]).to_owned();
                    for _ in 0..calls {
                        fft.apply_steps(
                            u.view_mut(),
                            n,
                            &h_k,
                            hook(0.3, nx),
                            hook(-0.7, nx),
                            hook(1.1, nx),
                            &mut comm,
                        );
                    }
                    u
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (r, t) in tiles.iter().enumerate() {
        let ([y0, x0], [h, w]) = blocks[r];
        out.slice_mut(s![y0..y0 + h, x0..x0 + w]).assign(t);
    }
    out
}

#[test]
fn distributed_split_steps_equal_the_single_process_plan() {
    let mut r = rng(17);
    // Uneven sides (not divisible by the rank counts), and one side shorter than 3 ranks.
    for (ny, nx) in [(24, 20), (13, 10), (2, 9)] {
        let u0: Array2<Complex64> = random_array(&mut r, ny, nx);
        let mut plan = SpectralPlan::<Complex64>::new([ny, nx], [0.5, 0.25], transfer).unwrap();
        for n in [1, 5] {
            let mut whole = u0.clone();
            plan.apply_steps(
                whole.view_mut(),
                n,
                hook(0.3, nx),
                hook(-0.7, nx),
                hook(1.1, nx),
            );
            let scale = whole.iter().fold(0.0_f64, |m, z| m.max(z.norm()));
            for dims in [[1, 1], [1, 2], [2, 1], [3, 1], [2, 2], [1, 3], [3, 2]] {
                let d = distributed(&u0, dims, n, (1, false));
                let err = d
                    .iter()
                    .zip(&whole)
                    .fold(0.0_f64, |m, (a, b)| m.max((a - b).norm()))
                    / scale;
                assert!(
                    err < 1e-13,
                    "{ny}x{nx}, {n} steps, grid {dims:?}: relative error {err:e}"
                );
            }
        }
    }
}

#[test]
fn shared_memory_transposes_equal_the_all_to_alls_bit_for_bit() {
    // Ranks of one node transpose through shared blocks (`AllToAll::shared`): the same
    // operations on every sample in the same order, so the same bits as the all-to-all
    // path. Two calls: the second reuses the blocks the first allocated.
    let mut r = rng(23);
    for (ny, nx) in [(24, 20), (13, 10), (2, 9), (40, 37)] {
        let u0: Array2<Complex64> = random_array(&mut r, ny, nx);
        for dims in [[1, 1], [1, 2], [2, 1], [3, 1], [2, 2], [1, 3], [3, 2]] {
            for n in [1, 4] {
                let a = distributed(&u0, dims, n, (2, false));
                let b = distributed(&u0, dims, n, (2, true));
                let same = a.iter().zip(&b).all(|(x, y)| {
                    x.re.to_bits() == y.re.to_bits() && x.im.to_bits() == y.im.to_bits()
                });
                let diff = a
                    .iter()
                    .zip(&b)
                    .fold(0.0_f64, |m, (x, y)| m.max((x - y).norm()));
                assert!(same, "{ny}x{nx}, grid {dims:?}, {n} steps: {diff:e}");
            }
        }
    }
}

#[test]
fn one_step_is_forward_transfer_inverse_with_the_hooks_around() {
    // The loop against the plain transforms of the same plan: pre, forward, H, inverse, post.
    let (ny, nx) = (12, 16);
    let u0: Array2<Complex64> = random_array(&mut rng(5), ny, nx);
    let d = distributed(&u0, [2, 2], 1, (1, false));
    let mut v = u0.clone();
    for (y, mut row) in v.rows_mut().into_iter().enumerate() {
        hook(0.3, nx)(y, row.as_slice_mut().unwrap());
    }
    let mut plan = SpectralPlan::<Complex64>::new([ny, nx], [0.5, 0.25], transfer).unwrap();
    plan.apply_inplace(v.view_mut());
    for (y, mut row) in v.rows_mut().into_iter().enumerate() {
        hook(1.1, nx)(y, row.as_slice_mut().unwrap());
    }
    let err = d
        .iter()
        .zip(&v)
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).norm()));
    assert!(err < 1e-13, "{err:e}");
    // And a random field is not left unchanged (the test would pass for a no-op otherwise).
    assert!(d.iter().zip(&u0).any(|(a, b)| (a - b).norm() > 0.1));
}
