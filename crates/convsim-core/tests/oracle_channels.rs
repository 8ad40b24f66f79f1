//! `ChannelConvPlan` (`(N, C_in, H, W) x (C_out, C_in / groups, kh, kw)`) against the naive
//! single-channel definition summed over the channels of each group, and its backward passes
//! against the dot-product (adjoint) identities:
//!
//! - `backward_input`: `<A x, y> = <x, A^H y>` for every boundary mode (the plan folds padded
//!   samples back, so this holds for Mirror/Replicate/... too, unlike the plain convolution pair).
//! - `backward_weights`: the output is linear in `w`, `A(w) x = sum w * x~`, so
//!   `<A(w) x, y> = <w, grad_w(x, y)>`, and `grad_b[co] = sum_{n, oy, ox} y[n, co, ..]`.
//!
//! Inner products are `<a, b> = sum conj(a) b`; tolerances are relative to the largest value
//! (outputs) or to the sum of |terms| (inner products), see `convsim_core::testing::rel_err` for why.

mod common;

use convsim_core::testing::{MODES, Random, drawn_geometry, random_nd, rel_err, rng, sides4};
use convsim_core::{
    Boundaries, Boundary, ChannelConvPlan, Complex32, Complex64, CoreError, Element, Geometry, Isa,
    Kernel, Kernel2, Orientation, Padding, Simd, reference,
};
use ndarray::{Array1, Array2, Array4, s};
use proptest::prelude::*;

/// Per output: sums of `C_in/groups x kh x kw` products, possibly reordered and fused (FMA):
/// rounding only, well below 1e-13 of the output scale in f64 for these sizes; 1e-12 keeps a
/// margin. f32: the same with eps 1.2e-7 -> 1e-5.
const TOL_F64: f64 = 1e-12;
const TOL_F32: f64 = 1e-5;

/// One configuration of the multi-channel plan.
#[derive(Clone, Debug)]
struct Case {
    n: usize,
    groups: usize,
    cin_g: usize,
    cout_g: usize,
    hw: [usize; 2],
    k: [usize; 2],
    anchor: Option<[usize; 2]>,
    b: Boundaries,
    o: Orientation,
    g: Geometry,
    portable: bool,
}

fn dot<T: Element>(
    a: impl IntoIterator<Item = T>,
    b: impl IntoIterator<Item = T>,
) -> (Complex64, f64) {
    a.into_iter()
        .zip(b)
        .fold((Complex64::new(0.0, 0.0), 0.0), |(s, m), (x, y)| {
            (
                s + x.to_c64().conj() * y.to_c64(),
                m + x.to_c64().norm() * y.to_c64().norm(),
            )
        })
}

/// The definition: per output channel, the bias plus the sum over its group's input channels of
/// single-channel reference convolutions.
fn reference_forward<T: Element>(
    c: &Case,
    x: &Array4<T>,
    w: &Array4<T>,
    bias: &Array1<T>,
) -> Result<Array4<T>, CoreError> {
    let c_out = c.groups * c.cout_g;
    let mut out: Option<Array4<T>> = None;
    for ni in 0..c.n {
        for co in 0..c_out {
            let grp = co / c.cout_g;
            let mut acc: Option<Array2<T>> = None;
            for ci in 0..c.cin_g {
                let taps = w.slice(s![co, ci, .., ..]).to_owned();
                let anchor = c.anchor.unwrap_or([c.k[0] / 2, c.k[1] / 2]);
                let k: Kernel<T> = Kernel2::with_anchor(taps, anchor)?.into();
                let y = reference::conv2d(
                    x.slice(s![ni, grp * c.cin_g + ci, .., ..]),
                    &k,
                    &c.b,
                    c.o,
                    &c.g,
                )?;
                acc = Some(match acc {
                    None => y,
                    Some(a) => a + y,
                });
            }
            let plane = acc.unwrap().mapv(|v| v + bias[co]);
            let o = out
                .get_or_insert_with(|| Array4::zeros((c.n, c_out, plane.nrows(), plane.ncols())));
            o.slice_mut(s![ni, co, .., ..]).assign(&plane);
        }
    }
    Ok(out.unwrap())
}

/// Checks forward against the definition and both backward passes against the dot identities.
/// Returns the worst of the three relative errors, or `None` if plan and definition both refuse
/// the geometry (with the same error).
fn check<T: Random>(c: &Case, seed: u64) -> Option<f64> {
    let mut r = rng(seed);
    let c_in = c.groups * c.cin_g;
    let c_out = c.groups * c.cout_g;
    let x: Array4<T> = random_nd(&mut r, (c.n, c_in, c.hw[0], c.hw[1]));
    let w: Array4<T> = random_nd(&mut r, (c_out, c.cin_g, c.k[0], c.k[1]));
    let bias: Array1<T> = Array1::from_shape_simple_fn(c_out, || T::random(&mut r));
    let mut builder = ChannelConvPlan::<T>::builder([c.n, c_in, c.hw[0], c.hw[1]], c_out, c.k)
        .groups(c.groups)
        .boundaries(c.b)
        .orientation(c.o)
        .geometry(c.g)
        .simd(if c.portable {
            Simd::Portable
        } else {
            Simd::Best
        });
    if let Some(a) = c.anchor {
        builder = builder.anchor(a);
    }
    let built = builder.build();
    let expect = match reference_forward(c, &x, &w, &bias) {
        Ok(e) => e,
        Err(e) => {
            assert_eq!(
                built.err(),
                Some(e),
                "{c:?}: plan and reference disagree on the error"
            );
            return None;
        }
    };
    let mut plan = built.unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert_eq!(plan.output_shape(), expect.dim(), "{c:?}");
    let mut y_out = Array4::from_elem(plan.output_shape(), T::from_f64(1e3));
    plan.forward(x.view(), w.view(), Some(bias.view()), y_out.view_mut());
    let mut worst = rel_err(&y_out, &expect);

    // backward_input: <A x, y> = <x, A^H y> with A the linear part of forward: without bias,
    // and minus the response to a zero input (a non-zero `Constant` boundary is affine in x).
    let mut ax = Array4::zeros(plan.output_shape());
    plan.forward(x.view(), w.view(), None, ax.view_mut());
    let mut a0 = Array4::zeros(plan.output_shape());
    plan.forward(Array4::zeros(x.dim()).view(), w.view(), None, a0.view_mut());
    let ax_lin = &ax - &a0;
    let y: Array4<T> = random_nd(&mut r, plan.output_shape());
    let mut aty = Array4::from_elem(plan.input_shape(), T::from_f64(1e3));
    plan.backward_input(y.view(), w.view(), aty.view_mut());
    let (l, s1) = dot(ax_lin.iter().copied(), y.iter().copied());
    let (rr, s2) = dot(x.iter().copied(), aty.iter().copied());
    worst = worst.max((l - rr).norm() / s1.max(s2));

    // backward_weights: <A(w) x, y> = <w, grad_w> (linear in w, constants included: they are
    // part of x~), grad_b = sums of y per channel.
    let (l, s1) = dot(ax.iter().copied(), y.iter().copied());
    let mut gw = Array4::from_elem(plan.weight_shape(), T::from_f64(1e3));
    let mut gb = Array1::from_elem(c_out, T::from_f64(1e3));
    plan.backward_weights(x.view(), y.view(), gw.view_mut(), Some(gb.view_mut()));
    let (rw, s3) = dot(w.iter().copied(), gw.iter().copied());
    worst = worst.max((l - rw).norm() / s1.max(s3));
    for co in 0..c_out {
        let sum: T = y.slice(s![.., co, .., ..]).iter().copied().sum();
        let scale: f64 = y
            .slice(s![.., co, .., ..])
            .iter()
            .map(|v| v.to_c64().norm())
            .sum();
        worst = worst.max((gb[co] - sum).to_c64().norm() / scale.max(f64::MIN_POSITIVE));
    }
    Some(worst)
}

fn base() -> Case {
    Case {
        n: 2,
        groups: 1,
        cin_g: 3,
        cout_g: 4,
        hw: [7, 6],
        k: [3, 3],
        anchor: None,
        b: Boundaries::default(),
        o: Orientation::Correlate,
        g: Geometry::same(),
        portable: false,
    }
}

#[test]
fn every_mode_orientation_and_geometry_f64() {
    let geoms = [
        Geometry::same(),
        Geometry::uniform(Padding::Full),
        Geometry::uniform(Padding::Valid),
        Geometry::uniform(Padding::Explicit { lo: 8, hi: 2 }),
        Geometry::same().with_stride(2, 3),
        Geometry::uniform(Padding::Full)
            .with_dilation(2, 3)
            .with_stride(2, 1),
    ];
    let mut n = 0;
    for &m in &MODES {
        for o in [Orientation::Correlate, Orientation::Convolve] {
            for g in geoms {
                for (groups, cin_g, cout_g, k) in
                    [(1, 3, 4, [3, 3]), (2, 2, 3, [4, 2]), (3, 1, 1, [1, 1])]
                {
                    let c = Case {
                        groups,
                        cin_g,
                        cout_g,
                        k,
                        b: Boundaries::uniform(m),
                        o,
                        g,
                        ..base()
                    };
                    if let Some(e) = check::<f64>(&c, n) {
                        assert!(e <= TOL_F64, "{c:?}: {e:e}");
                    }
                    n += 1;
                }
            }
        }
    }
}

/// `simd` caps the instruction set the recipe records; the deprecated `portable(bool)` is the
/// same switch.
#[test]
fn simd_switch_sets_the_instruction_set() {
    let isa = |f: &dyn Fn(
        convsim_core::ChannelConvPlanBuilder<f32>,
    ) -> convsim_core::ChannelConvPlanBuilder<f32>| {
        f(ChannelConvPlan::<f32>::builder([1, 2, 6, 6], 3, [3, 3]))
            .build()
            .unwrap()
            .recipe()
            .isa
            .clone()
    };
    assert_eq!(isa(&|b| b.simd(Simd::Portable)), "portable");
    assert_eq!(isa(&|b| b), Isa::detect().name());
    assert_eq!(isa(&|b| b.simd(Simd::Avx2Fma)), Isa::detect().name());
    #[expect(deprecated, reason = "the alias must keep working")]
    {
        assert_eq!(isa(&|b| b.portable(true)), "portable");
        assert_eq!(isa(&|b| b.portable(false)), Isa::detect().name());
    }
}

#[test]
fn portable_and_simd_paths_agree_with_the_definition() {
    for portable in [false, true] {
        for &m in &[
            Boundary::Mirror,
            Boundary::Periodic,
            Boundary::Antisymmetric,
        ] {
            // Wide rows so the 8/16-column register blocks and their remainders are exercised.
            let c = Case {
                hw: [5, 37],
                b: Boundaries::uniform(m),
                portable,
                cout_g: 9,
                ..base()
            };
            let e = check::<f64>(&c, 7).unwrap();
            assert!(e <= TOL_F64, "{c:?}: {e:e}");
            let e = check::<f32>(&c, 8).unwrap();
            assert!(e <= TOL_F32, "{c:?}: {e:e}");
        }
    }
}

#[test]
fn element_types_and_anchors() {
    let c = Case {
        anchor: Some([0, 2]),
        k: [2, 3],
        b: sides4([
            Boundary::Replicate,
            Boundary::Zero,
            Boundary::Symmetric,
            Boundary::Constant(0.0),
        ]),
        o: Orientation::Convolve,
        ..base()
    };
    assert!(check::<f64>(&c, 11).unwrap() <= TOL_F64);
    assert!(check::<f32>(&c, 12).unwrap() <= TOL_F32);
    assert!(check::<Complex64>(&c, 13).unwrap() <= TOL_F64);
    assert!(check::<Complex32>(&c, 14).unwrap() <= TOL_F32);
}

#[test]
fn awkward_sizes() {
    for (hw, k) in [
        ([1, 1], [3, 3]),
        ([2, 2], [5, 4]),
        ([1, 9], [1, 7]),
        ([3, 2], [6, 7]),
        ([13, 11], [2, 2]),
    ] {
        for &m in &MODES {
            let c = Case {
                hw,
                k,
                b: Boundaries::uniform(m),
                g: Geometry::uniform(Padding::Full),
                n: 1,
                ..base()
            };
            let e = check::<f64>(&c, 21).unwrap();
            assert!(e <= TOL_F64, "{c:?}: {e:e}");
        }
    }
}

#[test]
fn channel_errors_are_typed() {
    let e = ChannelConvPlan::<f64>::builder([1, 3, 4, 4], 4, [3, 3])
        .groups(2)
        .build()
        .unwrap_err();
    assert!(matches!(e, CoreError::Channels(_)), "{e}");
    let e = ChannelConvPlan::<f64>::builder([1, 2, 4, 4], 2, [3, 3])
        .anchor([3, 0])
        .build()
        .unwrap_err();
    assert!(matches!(e, CoreError::AnchorOutside { .. }), "{e}");
    let e = ChannelConvPlan::<f64>::builder([1, 2, 4, 4], 2, [3, 3])
        .geometry(Geometry::same().with_stride(1, 0))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            CoreError::ZeroStep {
                what: "stride",
                axis: "x",
                ..
            }
        ),
        "{e}"
    );
    // Halo tiles are a ConvPlan feature: refused here with a typed error, not a panic later.
    let mut b = Boundaries::uniform(Boundary::Mirror);
    b.x.lo = Boundary::Halo(1);
    let e = ChannelConvPlan::<f64>::builder([1, 2, 6, 6], 2, [3, 3])
        .boundaries(b)
        .build()
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
    // Seeded and bounded (see `common::seeded`).
    #![proptest_config(common::seeded(120, 0xC4A_77E1))]

    #[test]
    fn prop_channels_match_definition(
        n in 1usize..3, groups in 1usize..4, cin_g in 1usize..3, cout_g in 1usize..4,
        h in 1usize..9, w in 1usize..12, kh in 1usize..5, kw in 1usize..5,
        ay in 0usize..5, ax in 0usize..5, use_anchor in any::<bool>(),
        sides in proptest::array::uniform4(0usize..7),
        conv in any::<bool>(), py in 0usize..4, px in 0usize..4,
        lo in 0usize..10, hi in 0usize..10,
        sy in 1usize..4, sx in 1usize..4, dy in 1usize..3, dx in 1usize..3,
        portable in any::<bool>(), seed in any::<u64>(),
    ) {
        let c = Case {
            n, groups, cin_g, cout_g, hw: [h, w], k: [kh, kw],
            anchor: use_anchor.then_some([ay % kh, ax % kw]),
            b: sides4(sides.map(|i| MODES[i])),
            o: if conv { Orientation::Convolve } else { Orientation::Correlate },
            g: drawn_geometry([py, px], lo, hi, [sy, sx], [dy, dx]),
            portable,
        };
        if let Some(e) = check::<f64>(&c, seed) {
            prop_assert!(e <= TOL_F64, "{:?}: {:e}", c, e);
        }
    }
}
