//! Kernels checked once whatever built them, and how NaN and infinity propagate per method
//! (the contract stated in `docs/conventions.md`, "Non-finite values"):
//!
//! - a NaN or infinite **tap** reaches every output sample with every method (each output reads
//!   every tap), so such a kernel is never treated as separable;
//! - a non-finite **input** sample is local with the direct method (exactly the outputs whose
//!   window covers it, as in the definition), reaches every output with the whole-image FFT, and
//!   the outputs of every block whose input window covers it with overlap-save.
//!
//! Also the f32 FFT accuracy caveat: the error of an output is bounded relative to
//! `sum |w| |x|` over its window, not to `max |reference|`, so outputs that cancel have a large
//! error relative to themselves.

use convsim_core::testing::{random_array, rng};
use convsim_core::{
    Boundaries, Boundary, ConvPlan, CoreError, Geometry, Kernel, Kernel2, Method, Orientation,
    SeparableKernel, reference,
};
use ndarray::Array2;

const METHODS: [Method; 4] = [
    Method::Direct,
    Method::Auto,
    Method::Fft,
    Method::OverlapSave,
];

fn apply(input: &Array2<f64>, k: &Kernel<f64>, b: Boundaries, m: Method) -> Array2<f64> {
    let mut builder = ConvPlan::builder([input.nrows(), input.ncols()], k.clone())
        .boundaries(b)
        .method(m);
    if m == Method::OverlapSave {
        builder = builder.block_fft_len([16, 16]);
    }
    let mut plan = builder.build().unwrap();
    let mut out = Array2::zeros(plan.output_shape());
    plan.apply(input.view(), out.view_mut());
    out
}

fn reference(input: &Array2<f64>, k: &Kernel<f64>, b: Boundaries) -> Array2<f64> {
    reference::conv2d(
        input.view(),
        k,
        &b,
        Orientation::Correlate,
        &Geometry::default(),
    )
    .unwrap()
}

/// A 5 x 5 rank-one kernel (every tap non-zero, so plans try to split it).
fn rank_one() -> Array2<f64> {
    let col = [1.0, 2.0, 3.0, 2.0, 1.0];
    let row = [0.5, 1.0, -1.5, 1.0, 0.5];
    Array2::from_shape_fn((5, 5), |(i, j)| col[i] * row[j])
}

#[test]
fn a_non_finite_tap_reaches_every_output_with_every_method() {
    let mut r = rng(14);
    let x: Array2<f64> = random_array(&mut r, 40, 48);
    for bad in [f64::NAN, f64::INFINITY] {
        let mut taps = rank_one();
        taps[[3, 1]] = bad;
        let dense = Kernel2::new(taps).unwrap();
        assert!(dense.try_separate(1e-12).is_none(), "{bad} tap split");
        let k: Kernel<f64> = dense.into();
        let b = Boundaries::uniform(Boundary::Periodic);
        assert!(reference(&x, &k, b).iter().all(|v| !v.is_finite()));
        for m in METHODS {
            let out = apply(&x, &k, b, m);
            assert!(
                out.iter().all(|v| !v.is_finite()),
                "{m:?} with a {bad} tap: {} finite outputs",
                out.iter().filter(|v| v.is_finite()).count()
            );
        }
    }
    // The finite kernel is still split (the separable direct path is kept).
    assert!(
        Kernel2::new(rank_one())
            .unwrap()
            .try_separate(1e-12)
            .is_some()
    );
}

#[test]
fn a_non_finite_input_is_local_direct_global_fft_and_per_block_overlap_save() {
    let mut r = rng(7);
    let mut x: Array2<f64> = random_array(&mut r, 64, 64);
    x[[20, 40]] = f64::NAN;
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 3, 3)).unwrap().into();
    let b = Boundaries::uniform(Boundary::Zero);
    let bad = |a: &Array2<f64>| a.map(|v| !v.is_finite());
    let want = bad(&reference(&x, &k, b));
    // Exactly the 3 x 3 window around the sample.
    assert_eq!(want.iter().filter(|v| **v).count(), 9);
    assert_eq!(
        bad(&apply(&x, &k, b, Method::Direct)),
        want,
        "direct is local"
    );
    assert!(
        apply(&x, &k, b, Method::Fft).iter().all(|v| v.is_nan()),
        "the FFT spreads it everywhere"
    );
    let os = bad(&apply(&x, &k, b, Method::OverlapSave));
    let n = os.iter().filter(|v| **v).count();
    assert!(
        os.iter().zip(&want).all(|(o, w)| *o || !*w),
        "overlap-save covers the window"
    );
    assert!(
        n > 9 && n < 64 * 64 / 4,
        "overlap-save spreads it over its block(s) only: {n} outputs"
    );
    // The NaN outputs of overlap-save form whole rectangles (blocks): their bounding box is
    // entirely NaN.
    let (mut y0, mut y1, mut x0, mut x1) = (usize::MAX, 0, usize::MAX, 0);
    for ((i, j), v) in os.indexed_iter() {
        if *v {
            (y0, y1, x0, x1) = (y0.min(i), y1.max(i), x0.min(j), x1.max(j));
        }
    }
    assert_eq!(n, (y1 - y0 + 1) * (x1 - x0 + 1));
}

#[test]
fn an_anchor_outside_a_struct_literal_kernel_is_refused_by_every_method() {
    let k: Kernel<f64> = SeparableKernel {
        col: vec![1.0, 2.0, 1.0],
        row: vec![1.0, 0.0, -1.0],
        anchor: [5, 1],
    }
    .into();
    let x = Array2::<f64>::ones((16, 16));
    for m in METHODS {
        let e = ConvPlan::builder([16, 16], k.clone())
            .method(m)
            .build()
            .unwrap_err();
        assert!(matches!(e, CoreError::AnchorOutside { .. }), "{m:?}: {e}");
    }
    let e = reference::conv2d(
        x.view(),
        &k,
        &Boundaries::default(),
        Orientation::Correlate,
        &Geometry::default(),
    )
    .unwrap_err();
    assert!(matches!(e, CoreError::AnchorOutside { .. }), "{e}");
    let empty: Kernel<f64> = SeparableKernel {
        col: vec![],
        row: vec![1.0],
        anchor: [0, 0],
    }
    .into();
    assert!(matches!(
        ConvPlan::builder([4, 4], empty).build().unwrap_err(),
        CoreError::EmptyKernel { .. }
    ));
    assert!(SeparableKernel::with_anchor(vec![1.0; 3], vec![1.0; 2], [2, 2]).is_err());
    assert!(SeparableKernel::with_anchor(vec![1.0; 3], vec![1.0; 2], [2, 1]).is_ok());
}

#[test]
fn f32_fft_error_is_bounded_by_the_absolute_window_sum_not_the_output() {
    // A difference kernel on large, smooth data: outputs cancel to ~1 while the window sums
    // are ~2000, so the error relative to max |reference| is large though every sample is
    // within a few eps of sum |w| |x|.
    let (h, w) = (64, 64);
    let x64 = Array2::from_shape_fn((h, w), |(i, j)| {
        1000.0 + (i as f64) * 0.01 + (j as f64) * 0.02
    });
    let taps = ndarray::array![[0.0, 0.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]];
    let b = Boundaries::uniform(Boundary::Periodic);
    let k64: Kernel<f64> = Kernel2::new(taps.clone()).unwrap().into();
    let exact = reference(&x64, &k64, b);
    let abs_k: Kernel<f64> = Kernel2::new(taps.mapv(f64::abs)).unwrap().into();
    let scale = reference(&x64.mapv(f64::abs), &abs_k, b);
    let x32 = x64.mapv(|v| v as f32);
    let k32: Kernel<f32> = Kernel2::new(taps.mapv(|v| v as f32)).unwrap().into();
    let mut plan = ConvPlan::builder([h, w], k32)
        .boundaries(b)
        .method(Method::Fft)
        .build()
        .unwrap();
    let mut out = Array2::<f32>::zeros((h, w));
    plan.apply(x32.view(), out.view_mut());
    let eps = f64::from(f32::EPSILON);
    let mut worst_window = 0.0_f64;
    let (mut err_max, mut ref_max) = (0.0_f64, 0.0_f64);
    for ((o, e), s) in out.iter().zip(&exact).zip(&scale) {
        let err = (f64::from(*o) - e).abs();
        worst_window = worst_window.max(err / (s * eps));
        err_max = err_max.max(err);
        ref_max = ref_max.max(e.abs());
    }
    // Within log2(64 * 64) = 12 eps of sum |w||x| everywhere (measured: under 1 eps) ...
    assert!(worst_window < 12.0, "{worst_window} eps of sum |w||x|");
    // ... while relative to the largest output (1.24, at the periodic seam) the error is far
    // above the 1e-5 of outputs that do not cancel (measured 1.7e-4 against interior outputs
    // of 0.04).
    assert!(err_max / ref_max > 1e-5, "{}", err_max / ref_max);
}
