//! Unit tests of the multi-channel plan against the reference.

use super::*;
use crate::{AxisGeometry, Boundary, Kernel2, Padding, Sides, reference};
use ndarray::{Array1, Array2, Array4, s};
use num_complex::Complex64;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rand4<T: Element>(shape: (usize, usize, usize, usize), seed: u64) -> Array4<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array4::from_shape_fn(shape, |_| {
        let re: f64 = rng.random_range(-1.0..1.0);
        let im: f64 = rng.random_range(-1.0..1.0);
        T::from_complex(num_complex::Complex::new(
            <T::Real as Element>::from_f64(re),
            <T::Real as Element>::from_f64(if T::IS_COMPLEX { im } else { 0.0 }),
        ))
    })
}

/// One configuration of the tests.
#[derive(Clone, Copy, Debug)]
struct Case {
    shape: [usize; 4],
    c_out: usize,
    k: [usize; 2],
    groups: usize,
    b: Boundaries,
    o: Orientation,
    g: Geometry,
}

fn modes() -> Vec<Boundaries> {
    let mut v: Vec<Boundaries> = [
        Boundary::Zero,
        Boundary::Constant(1.5),
        Boundary::Replicate,
        Boundary::Mirror,
        Boundary::Symmetric,
        Boundary::Periodic,
        Boundary::Antisymmetric,
    ]
    .into_iter()
    .map(Boundaries::uniform)
    .collect();
    v.push(Boundaries {
        y: Sides {
            lo: Boundary::Replicate,
            hi: Boundary::Antisymmetric,
        },
        x: Sides {
            lo: Boundary::Symmetric,
            hi: Boundary::Zero,
        },
    });
    v
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for b in modes() {
        let base = Case {
            shape: [3, 10, 7, 9],
            c_out: 10,
            k: [3, 3],
            groups: 1,
            b,
            o: Orientation::Correlate,
            g: Geometry::same(),
        };
        out.push(base);
        out.push(Case {
            groups: 2,
            g: Geometry::same().with_stride(2, 2),
            ..base
        });
        out.push(Case {
            g: Geometry::same().with_dilation(2, 2),
            o: Orientation::Convolve,
            ..base
        });
        out.push(Case {
            shape: [2, 4, 6, 11],
            c_out: 6,
            k: [2, 4],
            groups: 2,
            g: Geometry {
                y: AxisGeometry::new(Padding::Full).stride(2),
                x: AxisGeometry::new(Padding::Explicit { lo: 5, hi: 1 }).stride(3),
            },
            o: Orientation::Convolve,
            ..base
        });
        out.push(Case {
            shape: [2, 3, 5, 6],
            c_out: 5,
            k: [1, 1],
            ..base
        });
    }
    out
}

fn plan<T: Element>(c: &Case) -> ChannelConvPlan<T> {
    ChannelConvPlan::builder(c.shape, c.c_out, c.k)
        .groups(c.groups)
        .boundaries(c.b)
        .orientation(c.o)
        .geometry(c.g)
        .build()
        .unwrap()
}

/// The oracle: a loop over channels of the naive single-channel `reference::conv2d`.
fn reference_forward<T: Element>(
    c: &Case,
    x: &Array4<T>,
    w: &Array4<T>,
    bias: &Array1<T>,
    out_shape: (usize, usize, usize, usize),
) -> Array4<T> {
    let mut y = Array4::<T>::zeros(out_shape);
    let (cin_g, cout_g) = (c.shape[1] / c.groups, c.c_out / c.groups);
    for n in 0..c.shape[0] {
        for co in 0..c.c_out {
            let g = co / cout_g;
            let mut acc = Array2::<T>::from_elem((out_shape.2, out_shape.3), bias[co]);
            for ci in 0..cin_g {
                let k = Kernel2::new(w.slice(s![co, ci, .., ..]).to_owned()).unwrap();
                let r = reference::conv2d(
                    x.slice(s![n, g * cin_g + ci, .., ..]),
                    &k.into(),
                    &c.b,
                    c.o,
                    &c.g,
                )
                .unwrap();
                acc += &r;
            }
            y.slice_mut(s![n, co, .., ..]).assign(&acc);
        }
    }
    y
}

fn max_rel<T: Element>(a: &Array4<T>, b: &Array4<T>) -> f64 {
    let scale = b.iter().map(|v| v.to_c64().norm()).fold(1.0, f64::max);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.to_c64() - y.to_c64()).norm())
        .fold(0.0, f64::max)
        / scale
}

fn forward_matches_reference<T: Element>(tol: f64) {
    for (i, c) in cases().iter().enumerate() {
        let mut p = plan::<T>(c);
        let x = rand4::<T>(p.input_shape(), 1 + i as u64);
        let w = rand4::<T>(p.weight_shape(), 100 + i as u64);
        let b = rand4::<T>((1, 1, 1, c.c_out), 200 + i as u64)
            .into_shape_with_order(c.c_out)
            .unwrap();
        let mut y = Array4::<T>::zeros(p.output_shape());
        p.forward(x.view(), w.view(), Some(b.view()), y.view_mut());
        let r = reference_forward(c, &x, &w, &b, p.output_shape());
        let e = max_rel(&y, &r);
        assert!(e < tol, "{} case {i} {c:?}: forward error {e}", T::NAME);
    }
}

#[test]
fn forward_matches_per_channel_reference() {
    // f64: sums of <= 90 products of O(1) values; 1e-13 leaves room for FMA vs separate
    // rounding. f32: the same with eps 1.2e-7.
    forward_matches_reference::<f64>(1e-13);
    forward_matches_reference::<f32>(2e-5);
    forward_matches_reference::<Complex64>(1e-13);
}

fn dot<T: Element>(a: &Array4<T>, b: &Array4<T>) -> Complex64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.to_c64().conj() * y.to_c64())
        .sum()
}

fn adjoint_identities<T: Element>() {
    for (i, c) in cases().iter().enumerate() {
        let mut p = plan::<T>(c);
        let x = rand4::<T>(p.input_shape(), 300 + i as u64);
        let w = rand4::<T>(p.weight_shape(), 400 + i as u64);
        let yv = rand4::<T>(p.output_shape(), 500 + i as u64);
        let zero_in = Array4::<T>::zeros(p.input_shape());
        let mut ax = Array4::<T>::zeros(p.output_shape());
        let mut a0 = Array4::<T>::zeros(p.output_shape());
        p.forward(x.view(), w.view(), None, ax.view_mut());
        // Constant padding makes x -> A x affine; its linear part is A x - A 0.
        p.forward(zero_in.view(), w.view(), None, a0.view_mut());
        let lin = &ax - &a0;
        let mut aty = Array4::<T>::zeros(p.input_shape());
        p.backward_input(yv.view(), w.view(), aty.view_mut());
        let (l, r) = (dot(&lin, &yv), dot(&x, &aty));
        // Both sides are sums of ~1e3 O(1) terms: 1e-12 relative is ~50 ulps of headroom.
        let scale = l.norm().max(1.0);
        assert!(
            (l - r).norm() < 1e-12 * scale,
            "{} case {i} {c:?}: <Ax,y> = {l} vs <x,A^T y> = {r}",
            T::NAME
        );
        // Weights and bias: out = A(w) x + b is linear in (w, b).
        let mut gw = Array4::<T>::zeros(p.weight_shape());
        let mut gb = Array1::<T>::zeros(c.c_out);
        p.backward_weights(x.view(), yv.view(), gw.view_mut(), Some(gb.view_mut()));
        let r = dot(&w, &gw);
        assert!(
            (dot(&ax, &yv) - r).norm() < 1e-12 * scale.max(r.norm()),
            "{} case {i} {c:?}: <A(w)x,y> = {} vs <w,gw> = {r}",
            T::NAME,
            dot(&ax, &yv)
        );
        let bias = rand4::<T>((1, 1, 1, c.c_out), 600 + i as u64)
            .into_shape_with_order(c.c_out)
            .unwrap();
        let mut ab = Array4::<T>::zeros(p.output_shape());
        p.forward(x.view(), w.view(), Some(bias.view()), ab.view_mut());
        let l = dot(&(&ab - &ax), &yv);
        let r: Complex64 = bias
            .iter()
            .zip(&gb)
            .map(|(b, g)| b.to_c64().conj() * g.to_c64())
            .sum();
        assert!(
            (l - r).norm() < 1e-12 * l.norm().max(1.0),
            "bias adjoint {l} vs {r}"
        );
    }
}

#[test]
fn dot_product_adjoint_tests_every_mode() {
    adjoint_identities::<f64>();
    adjoint_identities::<Complex64>();
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let c = Case {
        shape: [5, 6, 12, 13],
        c_out: 6,
        k: [3, 3],
        groups: 1,
        b: Boundaries::uniform(Boundary::Mirror),
        o: Orientation::Correlate,
        g: Geometry::same(),
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut p = plan::<f32>(&c);
            let x = rand4::<f32>(p.input_shape(), 1);
            let w = rand4::<f32>(p.weight_shape(), 2);
            let mut y = Array4::<f32>::zeros(p.output_shape());
            p.forward(x.view(), w.view(), None, y.view_mut());
            let mut gi = Array4::<f32>::zeros(p.input_shape());
            p.backward_input(y.view(), w.view(), gi.view_mut());
            let mut gw = Array4::<f32>::zeros(p.weight_shape());
            let mut gb = Array1::<f32>::zeros(6);
            p.backward_weights(x.view(), y.view(), gw.view_mut(), Some(gb.view_mut()));
            (p.recipe().tasks, y, gi, gw, gb)
        })
    };
    let a = run(1);
    let b = run(3);
    assert_ne!(a.0, b.0, "the two runs must split the batch differently");
    assert_eq!(a.1, b.1);
    assert_eq!(a.2, b.2);
    assert_eq!(a.3, b.3);
    assert_eq!(a.4, b.4);
}

#[test]
fn portable_and_simd_paths_agree() {
    let c = cases()[6];
    let build = |portable| {
        ChannelConvPlan::<f64>::builder(c.shape, c.c_out, c.k)
            .groups(c.groups)
            .boundaries(c.b)
            .geometry(c.g)
            .portable(portable)
            .build()
            .unwrap()
    };
    let (mut a, mut b) = (build(true), build(false));
    assert_eq!(a.recipe().isa, "portable");
    let x = rand4::<f64>(a.input_shape(), 9);
    let w = rand4::<f64>(a.weight_shape(), 10);
    let mut ya = Array4::<f64>::zeros(a.output_shape());
    let mut yb = ya.clone();
    a.forward(x.view(), w.view(), None, ya.view_mut());
    b.forward(x.view(), w.view(), None, yb.view_mut());
    // Fused vs separate rounding only.
    assert!(max_rel(&ya, &yb) < 1e-14);
}

#[test]
fn bad_channel_counts_are_typed_errors() {
    let e = ChannelConvPlan::<f32>::builder([1, 3, 4, 4], 4, [3, 3])
        .groups(2)
        .build()
        .unwrap_err();
    assert!(matches!(e, CoreError::Channels(_)), "{e}");
    assert!(e.to_string().contains("groups = 2"));
}
