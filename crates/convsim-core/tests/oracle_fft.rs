//! `ConvPlan` with `Method::Fft` (and `Method::Auto`) against the naive definition
//! (`reference::conv2d`), for every boundary mode (also mixed per side), both orientations, odd,
//! even and oversized kernels, non-default anchors, every padding, stride and dilation, awkward
//! sizes and all four element types.
//!
//! Tolerance, with `rel = max|a - b| / max|b|` (see `convsim_core::testing::rel_err`): an FFT convolution's
//! rounding error is spread evenly over all samples, of size ~ eps x log2(N) x (the largest
//! magnitudes in the transform), so it is bounded relative to the largest output, not to each
//! sample; near-cancelling samples would make an element-wise relative error meaningless.
//! With eps = 2.2e-16 and N < 2^12 that is ~3e-15 per unit of scale, so 1e-12 (f64) leaves room
//! for the scale ratio between input and output; for f32 (eps 1.2e-7) the same reasoning gives
//! 1e-5.

mod common;

use common::{Case, geometries, kernels};
use convsim_core::testing::{MODES, Random, random_array, rel_err, rng, sides4};
use convsim_core::{
    Boundaries, Complex32, Complex64, ConvPlan, Geometry, Kernel, Kernel2, Method, Orientation,
    Padding, SeparableKernel, reference,
};
use ndarray::Array2;
use proptest::prelude::*;

const TOL_F64: f64 = 1e-12;
const TOL_F32: f64 = 1e-5;

const ORIENTATIONS: [Orientation; 2] = [Orientation::Correlate, Orientation::Convolve];

/// Builds a plan with `method`, applies it twice and compares with the reference; `Ok(None)` if
/// both refuse the geometry with the same error.
fn check<T: Random>(
    input: &Array2<T>,
    kernel: &Kernel<T>,
    b: &Boundaries,
    o: Orientation,
    g: &Geometry,
    method: Method,
) -> Option<f64> {
    let (h, w) = input.dim();
    let built = ConvPlan::builder([h, w], kernel.clone())
        .boundaries(*b)
        .orientation(o)
        .geometry(*g)
        .method(method)
        .build();
    let expect = match reference::conv2d(input.view(), kernel, b, o, g) {
        Ok(e) => e,
        Err(e) => {
            assert_eq!(
                built.err(),
                Some(e),
                "plan and reference disagree on the error"
            );
            return None;
        }
    };
    let mut plan = built.unwrap_or_else(|e| panic!("{method:?} refused {g:?} {b:?}: {e}"));
    if method == Method::Fft {
        assert_eq!(plan.recipe().method, Method::Fft);
        assert!(plan.recipe().fft_shape.is_some());
    }
    let mut out = Array2::from_elem(plan.output_shape(), T::from_f64(1e3));
    plan.apply(input.view(), out.view_mut());
    let mut again = Array2::from_elem(plan.output_shape(), T::from_f64(-7.0));
    plan.apply(input.view(), again.view_mut());
    assert_eq!(out, again, "second apply differs from the first");
    Some(rel_err(&out, &expect))
}

const SHAPES: [[usize; 2]; 6] = [[1, 1], [1, 5], [2, 2], [3, 7], [5, 2], [13, 11]];

/// Runs every (shape, kernel, mode, orientation, geometry) combination; `orientations` lets the
/// secondary element types run one orientation only (the flip is element-type independent and
/// fully covered in f64), keeping the suite fast.
fn sweep<T: Random>(
    seed: u64,
    tol: f64,
    method: Method,
    orientations: &[Orientation],
) -> (f64, usize) {
    let mut r = rng(seed);
    let (mut worst, mut n) = (0.0_f64, 0);
    for (si, &[h, w]) in SHAPES.iter().enumerate() {
        let input: Array2<T> = random_array(&mut r, h, w);
        for k in &kernels::<T>(seed + si as u64) {
            for &m in &MODES {
                for &o in orientations {
                    for g in &geometries() {
                        if let Some(e) = check(&input, k, &Boundaries::uniform(m), o, g, method) {
                            assert!(
                                e <= tol,
                                "{} {method:?} shape ({h},{w}) kernel {:?} anchor {:?} {m:?} {o:?} {g:?}: rel err {e:e}",
                                T::NAME,
                                k.shape(),
                                k.anchor()
                            );
                            worst = worst.max(e);
                            n += 1;
                        }
                    }
                }
            }
        }
    }
    (worst, n)
}

#[test]
fn fft_matches_reference_f64_every_mode() {
    let (worst, n) = sweep::<f64>(101, TOL_F64, Method::Fft, &ORIENTATIONS);
    assert!(n > 3000, "only {n} cases ran");
    assert!(worst <= TOL_F64, "worst {worst:e}");
}

#[test]
fn fft_matches_reference_f32_every_mode() {
    let (worst, n) = sweep::<f32>(102, TOL_F32, Method::Fft, &[Orientation::Convolve]);
    assert!(n > 1500, "only {n} cases ran");
    assert!(worst <= TOL_F32, "worst {worst:e}");
}

#[test]
fn fft_matches_reference_complex64() {
    let (worst, _) = sweep::<Complex64>(103, TOL_F64, Method::Fft, &[Orientation::Correlate]);
    assert!(worst <= TOL_F64, "worst {worst:e}");
}

#[test]
fn fft_matches_reference_complex32() {
    let (worst, _) = sweep::<Complex32>(104, TOL_F32, Method::Fft, &[Orientation::Convolve]);
    assert!(worst <= TOL_F32, "worst {worst:e}");
}

#[test]
fn auto_matches_reference_f64() {
    // Auto picks direct or FFT; either way it must agree with the definition.
    let (worst, _) = sweep::<f64>(105, TOL_F64, Method::Auto, &[Orientation::Correlate]);
    assert!(worst <= TOL_F64, "worst {worst:e}");
}

#[test]
fn fft_large_kernels_on_larger_images() {
    // Where Auto actually picks the FFT: 33x33 and 21x11 kernels on a 48x40 image, every mode.
    // The f64 reference is computed once per case; the f32 plans are compared with it too (their
    // error against the exact answer is what matters).
    let mut r = rng(106);
    let input: Array2<f64> = random_array(&mut r, 48, 40);
    let input32 = input.mapv(|v| v as f32);
    for (kh, kw) in [(33, 33), (21, 11)] {
        let taps: Array2<f64> = random_array(&mut r, kh, kw);
        let k: Kernel<f64> = Kernel2::new(taps.clone()).unwrap().into();
        let k32: Kernel<f32> = Kernel2::new(taps.mapv(|v| v as f32)).unwrap().into();
        for &m in &MODES {
            let b = Boundaries::uniform(m);
            let o = Orientation::Convolve;
            let g = Geometry::same();
            let expect = reference::conv2d(input.view(), &k, &b, o, &g).unwrap();
            for method in [Method::Fft, Method::Auto] {
                let mut plan = ConvPlan::builder([48, 40], k.clone())
                    .boundaries(b)
                    .orientation(o)
                    .method(method)
                    .build()
                    .unwrap();
                let mut out = Array2::zeros(plan.output_shape());
                plan.apply(input.view(), out.view_mut());
                let e = rel_err(&out, &expect);
                assert!(
                    e <= TOL_F64,
                    "f64 {kh}x{kw} {m:?} {method:?} ({}): {e:e}",
                    plan.recipe()
                );
            }
            let mut plan = ConvPlan::builder([48, 40], k32.clone())
                .boundaries(b)
                .orientation(o)
                .method(Method::Fft)
                .build()
                .unwrap();
            let mut out = Array2::<f32>::zeros(plan.output_shape());
            plan.apply(input32.view(), out.view_mut());
            let e = rel_err(&out.mapv(f64::from), &expect);
            assert!(e <= TOL_F32, "f32 {kh}x{kw} {m:?}: {e:e}");
        }
    }
}

#[test]
fn fft_mixed_sides_and_separable() {
    let mut r = rng(107);
    let input: Array2<f64> = random_array(&mut r, 9, 10);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 4, 3)).unwrap().into();
    for &a in &MODES {
        for &b in &MODES {
            for side in 0..4 {
                let mut four = [b; 4];
                four[side] = a;
                for g in [
                    Geometry::uniform(Padding::Full),
                    Geometry::uniform(Padding::Explicit { lo: 12, hi: 3 }),
                ] {
                    let e = check(
                        &input,
                        &k,
                        &sides4(four),
                        Orientation::Convolve,
                        &g,
                        Method::Fft,
                    )
                    .unwrap();
                    assert!(e <= TOL_F64, "{four:?} {g:?}: {e:e}");
                }
            }
        }
    }
    let sep: Kernel<f64> =
        SeparableKernel::new(vec![0.5, -1.0, 2.0, 0.25, 1.0], vec![1.0, 3.0, -2.0])
            .unwrap()
            .into();
    for &m in &MODES {
        let e = check(
            &input,
            &sep,
            &Boundaries::uniform(m),
            Orientation::Correlate,
            &Geometry::same(),
            Method::Fft,
        )
        .unwrap();
        assert!(e <= TOL_F64, "separable {m:?}: {e:e}");
    }
}

proptest! {
    // Seeded and bounded (see `common::seeded`).
    #![proptest_config(common::seeded(200, 0xFF7_0001))]

    #[test]
    fn prop_fft_matches_reference(c in common::cases(24, 10, 30)) {
        let Case { input, kernel, b, o, g } = c;
        if let Some(e) = check(&input, &kernel, &b, o, &g, Method::Fft) {
            prop_assert!(e <= TOL_F64, "rel err {:e}", e);
        }
    }
}
