//! The direct path of `ConvPlan` against the naive definition (`reference::conv2d`), for every
//! boundary mode (also mixed per side), both orientations, odd and even kernels, non-default
//! anchors, every padding, stride and dilation, awkward sizes and all four element types.

mod common;

use common::{Case, geometries, kernels};
use convsim_core::testing::{
    MODES, Random, max_diff, random_array, rel_err, rng, sides4, term_scale,
};
use convsim_core::{
    Boundaries, Boundary, Complex32, Complex64, ConvPlan, CoreError, Geometry, Kernel, Kernel2,
    Method, Orientation, Padding, SeparableKernel, Sides, Simd, reference,
};
use ndarray::{Array2, s};
use proptest::prelude::*;

/// Direct path vs definition, f64: both sum the same products, possibly in another order or with
/// FMA, so they differ by rounding only: at most (taps) x eps x sum|terms|, i.e. below
/// 72 x 2.2e-16 = 1.6e-14 of `term_scale` for the kernels used here (at most 8 x 9 taps). 1e-13
/// leaves a margin and still catches any wrong tap or boundary sample (an O(1) error).
const TOL_F64: f64 = 1e-13;
/// Same bound with f32's eps 6e-8 (unit roundoff): 72 x 6e-8 = 4.3e-6, so 1e-5.
const TOL_F32: f64 = 1e-5;

const ORIENTATIONS: [Orientation; 2] = [Orientation::Correlate, Orientation::Convolve];

/// Builds a direct plan, applies it and compares with the reference. Returns the relative error.
fn check<T: Random>(
    input: &Array2<T>,
    kernel: &Kernel<T>,
    b: &Boundaries,
    o: Orientation,
    g: &Geometry,
    method: Method,
) -> Result<f64, CoreError> {
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
            // The plan must refuse exactly what the definition refuses.
            assert_eq!(
                built.err().as_ref(),
                Some(&e),
                "plan and reference disagree on the error"
            );
            return Err(e);
        }
    };
    let mut plan = built?;
    assert_eq!(plan.output_shape(), expect.dim(), "output shape");
    // Fill the output with garbage first: apply must overwrite every sample.
    let mut out = Array2::from_elem(plan.output_shape(), T::from_f64(1e3));
    plan.apply(input.view(), out.view_mut());
    // Relative to the larger of the output and the sum of |terms| (see `convsim_core::testing::term_scale`):
    // the direct path may sum in another order or with FMA, and cancelling outputs would make
    // `max|b|` alone an unfair scale.
    let scale = expect
        .iter()
        .map(|v| v.to_c64().norm())
        .fold(term_scale(input, kernel), f64::max);
    let e1 = max_diff(&out, &expect) / scale;
    // Plan once, apply many: a second apply gives the same answer bit for bit.
    let mut again = Array2::from_elem(plan.output_shape(), T::from_f64(-7.0));
    plan.apply(input.view(), again.view_mut());
    assert_eq!(out, again, "second apply differs from the first");
    Ok(e1)
}

/// Image sizes: 1, 2, primes, non-square.
const SHAPES: [[usize; 2]; 6] = [[1, 1], [1, 5], [2, 2], [3, 7], [5, 2], [7, 7]];

/// Runs every (shape, kernel, mode, orientation, geometry) combination for one element type and
/// returns the worst relative error and the number of cases that produced an output.
fn sweep<T: Random>(seed: u64, tol: f64) -> (f64, usize) {
    let mut r = rng(seed);
    let mut worst = 0.0_f64;
    let mut n = 0;
    for (si, &[h, w]) in SHAPES.iter().enumerate() {
        let input: Array2<T> = random_array(&mut r, h, w);
        for k in &kernels::<T>(seed + si as u64) {
            for &m in &MODES {
                for &o in &ORIENTATIONS {
                    for g in &geometries() {
                        match check(&input, k, &Boundaries::uniform(m), o, g, Method::Direct) {
                            Ok(e) => {
                                assert!(
                                    e <= tol,
                                    "{} shape ({h},{w}) kernel {:?} anchor {:?} {m:?} {o:?} {g:?}: rel err {e:e}",
                                    T::NAME,
                                    k.shape(),
                                    k.anchor()
                                );
                                worst = worst.max(e);
                                n += 1;
                            }
                            // Valid with a kernel larger than the image: the reference and the
                            // plan must agree that the output is empty.
                            Err(CoreError::EmptyOutput { .. }) => {}
                            Err(e) => panic!("unexpected error {e}"),
                        }
                    }
                }
            }
        }
    }
    (worst, n)
}

#[test]
fn direct_matches_reference_f64_every_mode() {
    let (worst, n) = sweep::<f64>(1, TOL_F64);
    // Guards against a sweep that silently skips everything.
    assert!(n > 4000, "only {n} cases ran");
    assert!(worst <= TOL_F64, "worst {worst:e}");
}

#[test]
fn direct_matches_reference_f32_every_mode() {
    let (worst, n) = sweep::<f32>(2, TOL_F32);
    assert!(n > 4000, "only {n} cases ran");
    assert!(worst <= TOL_F32, "worst {worst:e}");
}

#[test]
fn direct_matches_reference_complex64() {
    let (worst, _) = sweep::<Complex64>(3, TOL_F64);
    assert!(worst <= TOL_F64);
}

#[test]
fn direct_matches_reference_complex32() {
    let (worst, _) = sweep::<Complex32>(4, TOL_F32);
    assert!(worst <= TOL_F32);
}

#[test]
fn mixed_sides_every_pair() {
    // Every mode on every side, one side at a time against a different mode on the others, so a
    // plan that mixes up top/bottom or left/right (or y/x) is caught.
    let mut r = rng(5);
    let input: Array2<f64> = random_array(&mut r, 5, 6);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 4, 3)).unwrap().into();
    for &a in &MODES {
        for &b in &MODES {
            for side in 0..4 {
                let mut four = [b; 4];
                four[side] = a;
                for &o in &ORIENTATIONS {
                    for g in [
                        Geometry::uniform(Padding::Full),
                        Geometry::uniform(Padding::Explicit { lo: 8, hi: 11 }),
                    ] {
                        let e = check(&input, &k, &sides4(four), o, &g, Method::Direct).unwrap();
                        assert!(e <= TOL_F64, "{four:?} {o:?} {g:?}: {e:e}");
                    }
                }
            }
        }
    }
}

#[test]
fn separable_kernel_equals_its_dense_outer_product() {
    let mut r = rng(6);
    let input: Array2<f64> = random_array(&mut r, 9, 8);
    let col: Vec<f64> = (0..5).map(|_| f64::random(&mut r)).collect();
    let row: Vec<f64> = (0..4).map(|_| f64::random(&mut r)).collect();
    let sep = SeparableKernel::new(col, row).unwrap();
    let dense: Kernel<f64> = sep.to_dense().into();
    let sep: Kernel<f64> = sep.into();
    for &m in &MODES {
        for &o in &ORIENTATIONS {
            for g in geometries() {
                let b = Boundaries::uniform(m);
                let e = check(&input, &sep, &b, o, &g, Method::Direct).unwrap();
                assert!(e <= TOL_F64, "separable {m:?} {o:?} {g:?}: {e:e}");
                // A dense rank-one kernel (5x4 = 20 taps > 2 (5 + 4)) is detected as separable
                // by the plan: same answer.
                let e = check(&input, &dense, &b, o, &g, Method::Direct).unwrap();
                assert!(e <= TOL_F64, "dense rank-one {m:?} {o:?} {g:?}: {e:e}");
                // The reference of the separable kernel is the reference of the dense one.
                let a = reference::conv2d(input.view(), &sep, &b, o, &g).unwrap();
                let d = reference::conv2d(input.view(), &dense, &b, o, &g).unwrap();
                assert_eq!(a, d);
            }
        }
    }
}

/// Rows wide enough for the contiguous row path (interior of at least one register block of
/// 256 bytes, or 512 with AVX-512: 64 or 128 f32, ...), with interior widths one block, one
/// block plus one, and a non-multiple, so the last block overlaps its predecessor. Checked
/// against the definition, and bitwise against the path a non-contiguous view of the same input
/// takes (the extended-row ring; row by row for the separable column pass): the paths promise
/// the same operations in the same order. So does every instruction set with FMA (AVX-512 and
/// AVX2 bitwise equal); the portable path agrees to rounding.
fn wide_rows<T: Random>(seed: u64, tol: f64, rows: usize) {
    let mut r = rng(seed);
    let col: Vec<T> = (0..5).map(|_| T::random(&mut r)).collect();
    let row: Vec<T> = (0..7).map(|_| T::random(&mut r)).collect();
    // Zero taps scattered so that the two-row path's pairs alternate between feeding the
    // upper row, the lower row and both (several runs of each kind, in tap order).
    let mut holes: Array2<T> = random_array(&mut r, 4, 6);
    for (i, j) in [(0, 1), (0, 4), (1, 2), (2, 2), (3, 0), (3, 5)] {
        holes[[i, j]] = T::from_f64(0.0);
    }
    let kernels: [Kernel<T>; 4] = [
        Kernel2::new(random_array(&mut r, 3, 5)).unwrap().into(),
        Kernel2::new(random_array(&mut r, 4, 6)).unwrap().into(),
        Kernel2::new(holes).unwrap().into(),
        SeparableKernel::new(col, row).unwrap().into(),
    ];
    for kernel in kernels {
        let [kh, kw] = kernel.shape();
        let mut widths = vec![600]; // a 512-column strip of the separable column pass + 88
        for bytes in [256, 512] {
            let block = bytes / std::mem::size_of::<T>();
            widths.extend([
                block + kw - 1,
                block + kw,
                2 * block + kw + 2,
                3 * block + 17,
            ]);
        }
        for w in widths {
            // 19 rows on 2 threads: split over up to 8 tasks, tasks of two or three rows, so
            // the two-row path (AVX-512) runs with and without a single row after it.
            let big: Array2<T> = random_array(&mut r, rows, w + 1);
            let input = big.slice(s![.., ..w]).to_owned();
            for &m in &MODES {
                for g in [
                    Geometry::same(),
                    Geometry::uniform(Padding::Full),
                    Geometry::same().with_dilation(1, 2),
                ] {
                    let b = Boundaries::uniform(m);
                    let o = Orientation::Convolve;
                    let what = format!("{} w {w} kernel ({kh},{kw}) {m:?} {g:?}", T::NAME);
                    let e = check(&input, &kernel, &b, o, &g, Method::Direct).unwrap();
                    assert!(e <= tol, "{what}: rel err {e:e}");
                    let mut best = None;
                    for simd in [Simd::Best, Simd::Avx2Fma, Simd::Portable] {
                        let mut plan = ConvPlan::builder([rows, w], kernel.clone())
                            .boundaries(b)
                            .orientation(o)
                            .geometry(g)
                            .method(Method::Direct)
                            .simd(simd)
                            .build()
                            .unwrap();
                        let isa = plan.recipe().isa.clone();
                        let mut row_path = Array2::from_elem(plan.output_shape(), T::from_f64(0.0));
                        let mut ring = row_path.clone();
                        plan.apply(input.view(), row_path.view_mut());
                        plan.apply(big.slice(s![.., ..w]), ring.view_mut());
                        assert!(row_path == ring, "{what} {isa}: row path and ring differ");
                        match &best {
                            None => best = Some(row_path),
                            Some(best) if simd == Simd::Avx2Fma => {
                                assert!(row_path == *best, "{what}: {isa} differs from Best");
                            }
                            Some(best) => {
                                let e = rel_err(&row_path, best);
                                assert!(e <= tol, "{what} {isa}: rel err {e:e}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn wide_rows_match_reference_and_ring_bitwise() {
    wide_rows::<f32>(31, TOL_F32, 19);
    wide_rows::<f64>(32, TOL_F64, 19);
    wide_rows::<Complex64>(33, TOL_F64, 19);
}

#[test]
fn wide_rows_four_at_once_match_reference_and_ring_bitwise() {
    // One worker: tasks of 5 rows (19 rows) or 6 (23), at most 4 per thread, so the four-row
    // path (AVX-512, real elements) runs followed by one row, by two, and alone.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        for rows in [19, 23] {
            wide_rows::<f32>(34, TOL_F32, rows);
            wide_rows::<f64>(35, TOL_F64, rows);
        }
    });
}

#[test]
fn strided_views_in_and_out() {
    // Input and output need not be contiguous: a column-strided input view and an output that is
    // every other column of a larger array (the plan's scatter path for non-contiguous rows).
    let mut r = rng(7);
    let big: Array2<f64> = random_array(&mut r, 7, 12);
    let input = big.slice(s![.., ..;2]);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 3, 4)).unwrap().into();
    let b = Boundaries::uniform(Boundary::Symmetric);
    let g = Geometry::same();
    let expect = reference::conv2d(input, &k, &b, Orientation::Convolve, &g).unwrap();
    let mut plan = ConvPlan::builder([7, 6], k)
        .boundaries(b)
        .orientation(Orientation::Convolve)
        .method(Method::Direct)
        .build()
        .unwrap();
    let mut out_big = Array2::<f64>::from_elem((7, 12), 99.0);
    plan.apply(input, out_big.slice_mut(s![.., ..;2]));
    let got = out_big.slice(s![.., ..;2]).to_owned();
    assert!(rel_err(&got, &expect) <= TOL_F64);
    // The other columns are untouched.
    assert!(out_big.slice(s![.., 1..;2]).iter().all(|&v| v == 99.0));
    // A transposed (column-major) output view as well.
    let mut out_t = Array2::<f64>::zeros((6, 7));
    plan.apply(input, out_t.view_mut().reversed_axes());
    assert!(rel_err(&out_t.t().to_owned(), &expect) <= TOL_F64);
}

#[test]
fn apply_with_fuses_an_epilogue() {
    // out = 2 * prev - conv: the epilogue sees the convolution row and the current output row.
    let mut r = rng(8);
    let input: Array2<f64> = random_array(&mut r, 6, 5);
    let prev: Array2<f64> = random_array(&mut r, 6, 5);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 3, 3)).unwrap().into();
    let b = Boundaries::uniform(Boundary::Periodic);
    let conv = reference::conv2d(
        input.view(),
        &k,
        &b,
        Orientation::Correlate,
        &Geometry::same(),
    )
    .unwrap();
    let mut plan = ConvPlan::builder([6, 5], k)
        .boundaries(b)
        .method(Method::Direct)
        .build()
        .unwrap();
    let mut out = prev.clone();
    plan.apply_with(input.view(), out.view_mut(), |_, c, o| {
        for (o, c) in o.iter_mut().zip(c) {
            *o = 2.0 * *o - c;
        }
    });
    let expect = &prev * 2.0 - &conv;
    assert!(rel_err(&out, &expect) <= TOL_F64);
}

#[test]
fn user_errors_are_typed_and_name_the_parameter() {
    let k = Kernel2::new(Array2::<f64>::ones((3, 3))).unwrap();
    let e = ConvPlan::builder([4, 4], k.clone())
        .geometry(Geometry::same().with_stride(0, 1))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            CoreError::ZeroStep {
                what: "stride",
                axis: "y",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("stride") && e.to_string().contains("at least 1"));
    let e = ConvPlan::builder([2, 9], k.clone())
        .geometry(Geometry::uniform(Padding::Valid))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            CoreError::EmptyOutput {
                axis: "y",
                input: 2,
                kernel: 3,
                ..
            }
        ),
        "{e:?}"
    );
    let e = ConvPlan::builder([0, 4], k).build().unwrap_err();
    assert!(matches!(e, CoreError::EmptyInput { .. }), "{e:?}");
    assert!(matches!(
        Kernel2::with_anchor(Array2::<f64>::ones((2, 2)), [2, 0]),
        Err(CoreError::AnchorOutside { .. })
    ));
    // The oracle has no halo tiles (they are checked against the whole domain): a typed error.
    let halo = Boundaries {
        y: Sides::both(Boundary::Halo(1)),
        x: Sides::both(Boundary::Zero),
    };
    let input = Array2::<f64>::zeros((4, 4));
    let e = reference::conv2d(
        input.view(),
        &Kernel2::new(Array2::<f64>::ones((3, 3))).unwrap().into(),
        &halo,
        Orientation::Correlate,
        &Geometry::same(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            CoreError::InvalidValue {
                name: "boundaries",
                ..
            }
        ),
        "{e}"
    );
}

proptest! {
    // Seeded and bounded (see `common::seeded`): about a second in the test profile.
    #![proptest_config(common::seeded(300, 0xC0_4517))]

    #[test]
    fn prop_direct_matches_reference(c in common::cases(10, 7, 12)) {
        let Case { input, kernel, b, o, g } = c;
        match check(&input, &kernel, &b, o, &g, Method::Direct) {
            Ok(e) => prop_assert!(e <= TOL_F64, "rel err {:e}", e),
            Err(CoreError::EmptyOutput { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }
}
