//! Unit tests of the direct path's internals (the separable passes, the epilogue); the
//! oracle sweeps over every mode, geometry and type are in `tests/oracle_direct.rs`.

use crate::testing::{ChaCha8Rng, MODES, Random, random_array, rng};
use crate::{
    Boundaries, Boundary, ConvPlan, Geometry, Kernel, Kernel2, Method, Orientation,
    SeparableKernel, Sides, reference,
};
use ndarray::Array2;
use rand::RngExt;

fn check<T: Random>(
    x: &Array2<T>,
    k: &Kernel<T>,
    b: Boundaries,
    o: Orientation,
    g: Geometry,
    tol: f64,
    expect_variant: Option<&str>,
) {
    let Ok(r) = reference::conv2d(x.view(), k, &b, o, &g) else {
        return; // empty output: the plan must refuse too
    };
    let mut plan = ConvPlan::builder([x.nrows(), x.ncols()], k.clone())
        .boundaries(b)
        .orientation(o)
        .geometry(g)
        .method(Method::Direct)
        .build()
        .unwrap();
    if let Some(v) = expect_variant {
        assert_eq!(plan.recipe().variant, v);
    }
    let mut y = Array2::<T>::zeros(plan.output_shape());
    // A transposed (non-contiguous) input and output exercise the strided paths too.
    let xt = x.t().to_owned();
    let mut yt = Array2::<T>::zeros((y.ncols(), y.nrows()));
    plan.apply(x.view(), y.view_mut());
    plan.apply(xt.t(), yt.view_mut().reversed_axes());
    let scale = r.iter().map(|v| v.to_c64().norm()).fold(1.0, f64::max);
    for (out, what) in [(&y, "standard"), (&yt.t().to_owned(), "strided")] {
        let e = out
            .iter()
            .zip(&r)
            .map(|(a, b)| (a.to_c64() - b.to_c64()).norm())
            .fold(0.0, f64::max)
            / scale;
        assert!(
            e < tol,
            "{} {what} {:?} kernel {:?} {b:?} {o:?} {g:?}: error {e} ({})",
            T::NAME,
            x.dim(),
            k.shape(),
            plan.recipe()
        );
    }
}

#[test]
fn separable_matches_reference_every_mode() {
    let mut rng = rng(5);
    let mixed = Boundaries {
        y: Sides {
            lo: Boundary::Constant(2.0),
            hi: Boundary::Antisymmetric,
        },
        x: Sides {
            lo: Boundary::Antisymmetric,
            hi: Boundary::Constant(-1.0),
        },
    };
    let mut all: Vec<Boundaries> = MODES.iter().map(|m| Boundaries::uniform(*m)).collect();
    all.push(mixed);
    for b in all {
        for (shape, kl) in [((9, 700), 7), ((3, 5), 9), ((20, 33), 4)] {
            let col: Vec<f64> = (0..kl).map(|_| rng.random_range(-1.0..1.0)).collect();
            let row: Vec<f64> = (0..kl + 2).map(|_| rng.random_range(-1.0..1.0)).collect();
            let k: Kernel<f64> = SeparableKernel::new(col, row).unwrap().into();
            for g in [
                Geometry::same(),
                Geometry::same().with_stride(3, 1).with_dilation(2, 2),
            ] {
                for o in [Orientation::Correlate, Orientation::Convolve] {
                    let x = random_array::<f64>(&mut rng, shape.0, shape.1);
                    check(&x, &k, b, o, g, 1e-13, Some("separable"));
                }
            }
        }
    }
    // A dense rank-one kernel is detected and factorised.
    let g: Vec<f64> = (0..9)
        .map(|i| (-(f64::from(i) - 4.0).powi(2) / 4.0).exp())
        .collect();
    let dense = Kernel2::new(Array2::from_shape_fn((9, 9), |(i, j)| g[i] * g[j])).unwrap();
    let x = random_array::<f64>(&mut rng, 30, 40);
    check(
        &x,
        &dense.into(),
        Boundaries::uniform(Boundary::Mirror),
        Orientation::Correlate,
        Geometry::same(),
        1e-13,
        Some("separable"),
    );
}

#[test]
fn separable_blocks_of_rows_equal_the_row_by_row_pass_bitwise() {
    // A standard-layout input takes the column pass that feeds four output rows per load
    // (`column_pass_quad`) wherever a block reads plain rows; a window of a wider array
    // takes the row-by-row pass (`column_pass_rows`). Same operations in the same order:
    // the same bits, for short and long kernels, widths below and above one strip, and
    // every instruction set.
    fn run<T: Random>(rng: &mut ChaCha8Rng, simd: crate::Simd) {
        // Enough rows for blocks of 8 and of 4 rows per task (up to 4 tasks per thread).
        for (shape, kl) in [
            ((130, 700), 31),
            ((96, 20), 5),
            ((70, 1030), 3),
            ((80, 17), 4),
        ] {
            let col: Vec<T> = (0..kl)
                .map(|_| T::from_f64(rng.random_range(-1.0..1.0)))
                .collect();
            let row: Vec<T> = (0..kl)
                .map(|_| T::from_f64(rng.random_range(-1.0..1.0)))
                .collect();
            let k: Kernel<T> = SeparableKernel::new(col, row).unwrap().into();
            let mut plan = ConvPlan::builder([shape.0, shape.1], k)
                .boundaries(Boundaries::uniform(Boundary::Mirror))
                .method(Method::Direct)
                .simd(simd)
                .build()
                .unwrap();
            assert_eq!(plan.recipe().variant, "separable");
            // The same samples as a window of a wider array (rows not contiguous).
            let wide = random_array::<T>(rng, shape.0, shape.1 + 3);
            let window = wide.slice(ndarray::s![.., 1..=shape.1]);
            let x = window.to_owned();
            let mut y = Array2::<T>::zeros(plan.output_shape());
            let mut yt = Array2::<T>::zeros(plan.output_shape());
            plan.apply(x.view(), y.view_mut());
            plan.apply(window, yt.view_mut());
            assert!(
                y.iter().zip(&yt).all(|(a, b)| a.to_c64() == b.to_c64()),
                "{shape:?} taps {kl} {simd:?}"
            );
        }
    }
    let mut rng = rng(31);
    for simd in [
        crate::Simd::Best,
        crate::Simd::Avx2Fma,
        crate::Simd::Portable,
    ] {
        run::<f64>(&mut rng, simd);
        run::<f32>(&mut rng, simd);
    }
}

#[test]
fn epilogue_sees_each_row_once_with_old_output() {
    let lap = Kernel2::new(ndarray::array![
        [0.0, 1.0, 0.0],
        [1.0, -4.0, 1.0],
        [0.0, 1.0, 0.0]
    ])
    .unwrap();
    let mut plan = ConvPlan::builder([37, 29], lap.clone())
        .boundaries(Boundaries::uniform(Boundary::Periodic))
        .build()
        .unwrap();
    let mut rng = rng(1);
    let u = random_array::<f64>(&mut rng, 37, 29);
    let mut out = u.clone();
    plan.apply_with(u.view(), out.view_mut(), |_, conv, o| {
        for (o, c) in o.iter_mut().zip(conv) {
            *o += 0.1 * c;
        }
    });
    let r = reference::conv2d(
        u.view(),
        &lap.into(),
        &Boundaries::uniform(Boundary::Periodic),
        Orientation::Correlate,
        &Geometry::same(),
    )
    .unwrap();
    let expected = &u + &(r * 0.1);
    let e = (&out - &expected)
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    assert!(e < 1e-14, "fused step error {e}");
}
