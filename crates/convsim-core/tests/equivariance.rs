//! Translation equivariance: `conv(shift(x)) = shift(conv(x))` holds exactly under `Periodic`
//! boundaries (with the periodic shift), fails near the border under `Zero` padding (measured),
//! and under a stride holds only for shifts that are multiples of the stride.

use convsim_core::testing::{random_array, rng};
use convsim_core::{
    Boundaries, Boundary, ConvPlan, Geometry, Kernel, Kernel2, Method, Orientation,
};
use ndarray::Array2;

fn conv(x: &Array2<f64>, k: &Kernel<f64>, b: Boundary, o: Orientation, g: Geometry) -> Array2<f64> {
    let mut plan = ConvPlan::builder([x.nrows(), x.ncols()], k.clone())
        .boundaries(Boundaries::uniform(b))
        .orientation(o)
        .geometry(g)
        .method(Method::Direct)
        .build()
        .unwrap();
    let mut out = Array2::zeros(plan.output_shape());
    plan.apply(x.view(), out.view_mut());
    out
}

/// Periodic shift: `out[i] = x[(i - s) mod n]`.
fn roll(x: &Array2<f64>, sy: isize, sx: isize) -> Array2<f64> {
    let (h, w) = x.dim();
    Array2::from_shape_fn((h, w), |(i, j)| {
        x[[
            (i as isize - sy).rem_euclid(h as isize) as usize,
            (j as isize - sx).rem_euclid(w as isize) as usize,
        ]]
    })
}

/// Translation with zeros coming in: `out[i] = x[i - s]` inside the range, 0 outside.
fn translate(x: &Array2<f64>, sy: isize, sx: isize) -> Array2<f64> {
    let (h, w) = x.dim();
    Array2::from_shape_fn((h, w), |(i, j)| {
        let (a, b) = (i as isize - sy, j as isize - sx);
        if (0..h as isize).contains(&a) && (0..w as isize).contains(&b) {
            x[[a as usize, b as usize]]
        } else {
            0.0
        }
    })
}

#[test]
fn periodic_convolution_commutes_with_shifts_exactly() {
    let mut r = rng(21);
    let x: Array2<f64> = random_array(&mut r, 11, 13);
    // Odd, even and off-centre kernels, both orientations, every shift of a few periods.
    let kernels: Vec<Kernel<f64>> = vec![
        Kernel2::new(random_array(&mut r, 3, 3)).unwrap().into(),
        Kernel2::new(random_array(&mut r, 4, 6)).unwrap().into(),
        Kernel2::with_anchor(random_array(&mut r, 5, 2), [4, 0])
            .unwrap()
            .into(),
    ];
    for k in &kernels {
        for o in [Orientation::Correlate, Orientation::Convolve] {
            let cx = conv(&x, k, Boundary::Periodic, o, Geometry::same());
            for (sy, sx) in [(1, 0), (0, 1), (3, -2), (-5, 7), (11, 13), (-12, 27)] {
                let lhs = conv(
                    &roll(&x, sy, sx),
                    k,
                    Boundary::Periodic,
                    o,
                    Geometry::same(),
                );
                let rhs = roll(&cx, sy, sx);
                // The direct path sums the very same products in the same order on both sides,
                // so equality is bitwise.
                assert_eq!(lhs, rhs, "shift ({sy},{sx}) {o:?} kernel {:?}", k.shape());
            }
        }
    }
}

#[test]
fn zero_padding_breaks_equivariance_only_near_the_border() {
    let mut r = rng(22);
    let (h, w) = (16, 16);
    let x: Array2<f64> = random_array(&mut r, h, w);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 5, 5)).unwrap().into();
    let radius = 2;
    let (sy, sx) = (2_isize, 3_isize);
    let lhs = conv(
        &translate(&x, sy, sx),
        &k,
        Boundary::Zero,
        Orientation::Correlate,
        Geometry::same(),
    );
    let rhs = translate(
        &conv(
            &x,
            &k,
            Boundary::Zero,
            Orientation::Correlate,
            Geometry::same(),
        ),
        sy,
        sx,
    );
    let scale = rhs.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let (mut interior, mut border) = (0.0_f64, 0.0_f64);
    for ((i, j), a) in lhs.indexed_iter() {
        let b = rhs[[i, j]];
        // Interior: the kernel footprint of output (i, j) sees only translated data, and the data
        // it sees was itself at least `radius` from the old border before the shift.
        let inside = i >= sy as usize + radius
            && j >= sx as usize + radius
            && i + radius < h
            && j + radius < w;
        let d = (a - b).abs();
        if inside {
            interior = interior.max(d);
        } else {
            border = border.max(d);
        }
    }
    // Same products, same order in the interior: exactly equal.
    assert_eq!(interior, 0.0, "interior must be exactly equivariant");
    // Near the border the error is of the order of the signal itself (measured: 0.41 of the
    // output's largest value for this seed): the artificial zeros are not translated.
    assert!(
        border / scale > 0.1,
        "border error {border} vs scale {scale}"
    );
}

#[test]
fn stride_breaks_equivariance_except_for_multiples_of_the_stride() {
    let mut r = rng(23);
    let x: Array2<f64> = random_array(&mut r, 12, 12);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 3, 3)).unwrap().into();
    let g = Geometry::same().with_stride(2, 2);
    let cx = conv(&x, &k, Boundary::Periodic, Orientation::Correlate, g);
    // A shift by the stride shifts the output by one sample.
    let lhs = conv(
        &roll(&x, 2, 4),
        &k,
        Boundary::Periodic,
        Orientation::Correlate,
        g,
    );
    assert_eq!(lhs, roll(&cx, 1, 2));
    // A shift by one sample is not representable on the subsampled grid: no output shift
    // reproduces it (the relative error stays O(1) for every candidate).
    let lhs = conv(
        &roll(&x, 1, 0),
        &k,
        Boundary::Periodic,
        Orientation::Correlate,
        g,
    );
    let scale = cx.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for ty in 0..6 {
        for tx in 0..6 {
            let d = (&lhs - &roll(&cx, ty, tx))
                .iter()
                .fold(0.0_f64, |m, v| m.max(v.abs()));
            assert!(
                d / scale > 0.1,
                "odd shift matched output shift ({ty},{tx})"
            );
        }
    }
}
