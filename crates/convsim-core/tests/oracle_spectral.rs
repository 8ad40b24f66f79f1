//! `SpectralPlan` (a transfer function in Fourier space on a periodic domain) against the naive
//! periodic convolution: a kernel `w` with anchor `a`, correlated under `Periodic` boundaries, is
//! the transfer function
//!
//! ```text
//! H(ky, kx) = sum_{jy, jx} w[jy, jx] exp(+I (ky dy (jy - ay) + kx dx (jx - ax)))
//! ```
//!
//! (the DFT convention of `spectral`: forward `exp(-I ...)`, unnormalised; inverse `1/N`;
//! `k = 2 pi fftfreq(n, d)`). Tolerance as for the FFT path (`rel = max|a-b| / max|b|`): FFT
//! rounding ~ eps log2(N) relative to the largest values, so 1e-12 in f64 and 1e-5 in f32.

use convsim_core::testing::{Random, random_array, rel_err, rng};
use convsim_core::{
    Boundaries, Boundary, Complex32, Complex64, Element, Geometry, Kernel, Kernel2, Orientation,
    SpectralPlan, reference, wavenumbers,
};
use ndarray::Array2;

const TOL_F64: f64 = 1e-12;
const TOL_F32: f64 = 1e-5;

/// Transfer function of a correlation kernel, evaluated in f64.
fn transfer<T: Element>(
    taps: &Array2<T>,
    anchor: [usize; 2],
    d: [f64; 2],
) -> impl Fn(f64, f64) -> Complex64 + '_ {
    move |ky, kx| {
        taps.indexed_iter()
            .fold(Complex64::new(0.0, 0.0), |acc, ((jy, jx), w)| {
                let phase = ky * d[0] * (jy as f64 - anchor[0] as f64)
                    + kx * d[1] * (jx as f64 - anchor[1] as f64);
                acc + w.to_c64() * Complex64::from_polar(1.0, phase)
            })
    }
}

fn check<T: Random>(
    seed: u64,
    shape: [usize; 2],
    kshape: [usize; 2],
    anchor: [usize; 2],
    d: [f64; 2],
) -> f64 {
    let mut r = rng(seed);
    let x: Array2<T> = random_array(&mut r, shape[0], shape[1]);
    let taps: Array2<T> = random_array(&mut r, kshape[0], kshape[1]);
    let k: Kernel<T> = Kernel2::with_anchor(taps.clone(), anchor).unwrap().into();
    let expect = reference::conv2d(
        x.view(),
        &k,
        &Boundaries::uniform(Boundary::Periodic),
        Orientation::Correlate,
        &Geometry::same(),
    )
    .unwrap();
    let mut plan = SpectralPlan::<T>::new(shape, d, transfer(&taps, anchor, d)).unwrap();
    let mut out = Array2::from_elem((shape[0], shape[1]), T::from_f64(1e3));
    plan.apply(x.view(), out.view_mut());
    let mut inplace = x.clone();
    plan.apply_inplace(inplace.view_mut());
    assert_eq!(out, inplace, "apply and apply_inplace differ");
    rel_err(&out, &expect)
}

const CASES: [([usize; 2], [usize; 2], [usize; 2]); 7] = [
    ([8, 8], [3, 3], [1, 1]),
    ([7, 10], [4, 2], [2, 1]),
    ([1, 13], [1, 5], [0, 4]),
    ([6, 1], [3, 1], [0, 0]),
    ([1, 1], [2, 2], [1, 1]),
    // Kernel larger than the periodic domain: taps wrap around more than once.
    ([3, 5], [7, 11], [3, 5]),
    ([31, 16], [5, 5], [2, 2]),
];

#[test]
fn spectral_equals_periodic_correlation_all_types() {
    for (i, &(shape, kshape, anchor)) in CASES.iter().enumerate() {
        // Spacing enters H only through k d = 2 pi fftfreq: any spacing gives the same operator.
        for d in [[1.0, 1.0], [0.3, 2.5]] {
            let s = i as u64;
            let e = check::<f64>(s, shape, kshape, anchor, d);
            assert!(e <= TOL_F64, "f64 {shape:?} {kshape:?} {d:?}: {e:e}");
            let e = check::<f32>(s, shape, kshape, anchor, d);
            assert!(e <= TOL_F32, "f32 {shape:?} {kshape:?} {d:?}: {e:e}");
            let e = check::<Complex64>(s, shape, kshape, anchor, d);
            assert!(e <= TOL_F64, "c64 {shape:?} {kshape:?} {d:?}: {e:e}");
            let e = check::<Complex32>(s, shape, kshape, anchor, d);
            assert!(e <= TOL_F32, "c32 {shape:?} {kshape:?} {d:?}: {e:e}");
        }
    }
}

#[test]
fn wavenumbers_match_numpy_fftfreq() {
    // numpy: 2 pi * fftfreq(5, 0.5) = 2 pi * [0, 0.4, 0.8, -0.8, -0.4].
    let tau = std::f64::consts::TAU;
    let k = wavenumbers(5, 0.5);
    let expect = [0.0, 0.4, 0.8, -0.8, -0.4].map(|f| tau * f);
    assert!(
        k.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-15),
        "{k:?}"
    );
    // Even n: the Nyquist wavenumber is listed as negative, as numpy does.
    let k = wavenumbers(4, 1.0);
    assert_eq!(k, vec![0.0, tau / 4.0, -tau / 2.0, -tau / 4.0]);
}

#[test]
fn heat_kernel_matches_the_analytic_solution() {
    // u0 = cos(2 pi m x / L) decays as exp(-D k^2 t) under the heat kernel, exactly in the
    // spectral method (the mode is resolved): error at rounding level.
    // Decay factor exp(-D k^2 t) = 0.26: rounding of the O(1) input stays O(1e-16) of the output.
    let (n, l, dd, t, m) = (32, 2.0, 0.3, 0.05, 3.0);
    let dx = l / n as f64;
    let kk = std::f64::consts::TAU * m / l;
    let u0 = Array2::from_shape_fn((1, n), |(_, j)| (kk * j as f64 * dx).cos());
    let mut plan = SpectralPlan::<f64>::new([1, n], [1.0, dx], |ky, kx| {
        Complex64::new((-dd * (ky * ky + kx * kx) * t).exp(), 0.0)
    })
    .unwrap();
    let mut u = Array2::zeros((1, n));
    plan.apply(u0.view(), u.view_mut());
    let expect = u0.mapv(|v| v * (-dd * kk * kk * t).exp());
    assert!(rel_err(&u, &expect) < 1e-13, "{}", rel_err(&u, &expect));
}

/// `apply_steps` (row hooks fused into the row passes, several applications per call) against
/// the same operations done one at a time: hooks as separate passes around `apply_inplace`.
/// Every value goes through the same floating-point operations in the same order, so the two
/// must agree bitwise; the oracle for `apply_inplace` itself is the naive correlation above.
fn steps_case<T: Random>(shape: [usize; 2], n: usize, seed: u64) {
    let mut r = rng(seed);
    let x: Array2<T> = random_array(&mut r, shape[0], shape[1]);
    let fa: Array2<T> = random_array(&mut r, shape[0], shape[1]);
    let fb: Array2<T> = random_array(&mut r, shape[0], shape[1]);
    let fc: Array2<T> = random_array(&mut r, shape[0], shape[1]);
    let taps: Array2<T> = random_array(&mut r, 3, 3);
    let d = [0.7, 0.4];
    let mut plan = SpectralPlan::<T>::new(shape, d, transfer(&taps, [1, 1], d)).unwrap();
    let mul = |f: &Array2<T>| {
        let f = f.clone();
        move |i: usize, row: &mut [T]| {
            for (z, v) in row.iter_mut().zip(f.row(i)) {
                *z *= *v;
            }
        }
    };
    let (pre, mid, post) = (mul(&fa), mul(&fb), mul(&fc));

    let mut expect = x.clone();
    expect *= &fa;
    for k in 0..n {
        plan.apply_inplace(expect.view_mut());
        expect *= if k + 1 == n { &fc } else { &fb };
    }

    let mut fused = x.clone();
    plan.apply_steps(fused.view_mut(), n, &pre, &mid, &post);
    assert_eq!(
        fused,
        expect,
        "{} {shape:?} n = {n}: fused != separate",
        T::NAME
    );

    // Rows that are not contiguous in memory (a transposed view) give the same values.
    let mut tr = Array2::from_elem((shape[1], shape[0]), T::from_f64(7.0));
    tr.assign(&x.t());
    plan.apply_steps(tr.view_mut().reversed_axes(), n, &pre, &mid, &post);
    assert_eq!(tr.t(), expect, "{} {shape:?}: transposed view", T::NAME);

    if n == 1 {
        let mut with = x.clone();
        plan.apply_inplace_with(with.view_mut(), &pre, &post);
        let mut e1 = x.clone();
        e1 *= &fa;
        plan.apply_inplace(e1.view_mut());
        e1 *= &fc;
        assert_eq!(with, e1, "{} {shape:?}: apply_inplace_with", T::NAME);
    }
}

#[test]
fn fused_steps_equal_separate_applications() {
    // Sizes around the column block (16) and the task split, 1D rows and columns.
    for (s, shape) in [
        [8, 8],
        [37, 45],
        [16, 17],
        [1, 20],
        [20, 1],
        [5, 3],
        [64, 40],
    ]
    .into_iter()
    .enumerate()
    {
        for n in [1, 3] {
            let seed = 100 + s as u64;
            steps_case::<Complex64>(shape, n, seed);
            steps_case::<Complex32>(shape, n, seed);
            steps_case::<f64>(shape, n, seed);
            steps_case::<f32>(shape, n, seed);
        }
    }
}

#[test]
fn fused_steps_do_not_depend_on_the_thread_count() {
    // The plan sizes its tasks from the pool it is built in; every row and column transform is
    // independent of the split, so results are bitwise equal for any pool size.
    let mut r = rng(77);
    let x: Array2<Complex64> = random_array(&mut r, 70, 52);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut plan = SpectralPlan::<Complex64>::new([70, 52], [0.3, 0.2], |ky, kx| {
                Complex64::from_polar(1.0, -(ky * ky + kx * kx) * 0.01)
            })
            .unwrap();
            let mut u = x.clone();
            let f = Complex64::from_polar(1.0, 0.2);
            plan.apply_steps(
                u.view_mut(),
                4,
                |i, r| r.iter_mut().for_each(|z| *z *= f * i as f64),
                |_, r| r.iter_mut().for_each(|z| *z *= f),
                |_, r| r.iter_mut().for_each(|z| *z *= f.conj()),
            );
            u
        })
    };
    let one = run(1);
    for threads in [2, 3, 5] {
        assert_eq!(run(threads), one, "{threads} threads");
    }
}

#[test]
fn power_by_column_is_the_expectation_of_the_fourier_multiplier() {
    // Parseval: sum_j out[j][m] / N = <psi| IDFT(w_m DFT psi)>, the expectation computed by
    // applying the multiplier w_m (a real transfer) and taking the inner product. Both are
    // sums of N terms after FFTs of the same data: 1e-12 relative to the sum of the terms'
    // magnitudes (sum |w_m| |DFT psi|^2 / N, from the same method with |w_m|) as for the FFT
    // path. Odd and even sides (the Nyquist column and row exist only for even ones), one
    // row, one column.
    let mut r = rng(23);
    for (ny, nx) in [(16, 12), (9, 7), (1, 10), (8, 1)] {
        let psi: Array2<Complex64> = random_array(&mut r, ny, nx);
        let d = [0.3, 0.7];
        let weights = |ky: f64, kx: f64| [1.0, (ky * ky + kx * kx) / 3.0, kx, ky - 0.5 * kx];
        let mut plan = SpectralPlan::<Complex64>::new([ny, nx], d, |_, _| 1.0.into()).unwrap();
        let mut out = vec![[f64::NAN; 4]; nx];
        plan.power_by_column(psi.clone().view_mut(), weights, &mut out);
        let mut abs = vec![[f64::NAN; 4]; nx];
        plan.power_by_column(
            psi.clone().view_mut(),
            |ky, kx| weights(ky, kx).map(f64::abs),
            &mut abs,
        );
        let n = (ny * nx) as f64;
        for m in 0..4 {
            let got: f64 = out.iter().map(|c| c[m]).sum::<f64>() / n;
            let mut op =
                SpectralPlan::<Complex64>::new([ny, nx], d, |ky, kx| weights(ky, kx)[m].into())
                    .unwrap();
            let mut w_psi = psi.clone();
            op.apply_inplace(w_psi.view_mut());
            let want: Complex64 = psi.iter().zip(&w_psi).map(|(p, q)| p.conj() * q).sum();
            let scale = abs.iter().map(|c| c[m]).sum::<f64>() / n;
            assert!(
                (got - want.re).abs() <= 1e-12 * scale && want.im.abs() <= 1e-12 * scale,
                "{ny}x{nx} weight {m}: {got} vs {want}"
            );
        }
    }
}
