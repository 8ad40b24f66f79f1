//! `ConvPlan` with `Method::OverlapSave` (block FFTs, overlap-save) against the naive definition
//! (`reference::conv2d`): every boundary mode (also mixed per side), both orientations, every
//! padding, stride and dilation, kernels longer than a block's output count, sizes that do not
//! divide into blocks, tiny images, and all four element types. Block lengths are forced small
//! (`block_fft_len`) so that small images still split into many blocks.
//!
//! Tolerance, with `rel = max|a - b| / max|b|` (`convsim_core::testing::rel_err`): as for the whole-image FFT
//! (see `oracle_fft.rs`), the rounding error of an FFT convolution is ~ eps x log2(N) x
//! ||k||_1 x ||x||_inf, spread over all samples; with blocks N is smaller, so the bound is the
//! same or tighter: 1e-12 in f64 (eps 2.2e-16, log2 N < 12, ||k||_1 ||x||_inf / max|out| below
//! ~100 for these random data) and 1e-5 in f32 (eps 1.2e-7: 1.2e-7 x 12 x ~7 for the larger
//! kernels, ~1e-5).

use convsim_core::testing::{MODES, Random, random_array, rel_err, rng, sides4};
use convsim_core::{
    AxisGeometry, Boundaries, Complex32, Complex64, ConvPlan, Geometry, Kernel, Kernel2, Method,
    Orientation, Padding, reference,
};
use ndarray::Array2;

const TOL_F64: f64 = 1e-12;
const TOL_F32: f64 = 1e-5;

/// Builds an overlap-save plan with block transforms of at least `block` (or the cost model's
/// choice), applies it (and `apply_with`, and a second time) and returns the relative error
/// against the reference, or `None` when both refuse the geometry with the same error.
fn check<T: Random>(
    input: &Array2<T>,
    kernel: &Kernel<T>,
    b: &Boundaries,
    o: Orientation,
    g: &Geometry,
    block: Option<[usize; 2]>,
) -> Option<f64> {
    let (h, w) = input.dim();
    let mut builder = ConvPlan::builder([h, w], kernel.clone())
        .boundaries(*b)
        .orientation(o)
        .geometry(*g)
        .method(Method::OverlapSave);
    if let Some(f) = block {
        builder = builder.block_fft_len(f);
    }
    let built = builder.build();
    let expect = match reference::conv2d(input.view(), kernel, b, o, g) {
        Ok(e) => e,
        Err(e) => {
            assert_eq!(built.err(), Some(e), "plan and reference disagree");
            return None;
        }
    };
    let mut plan = built.unwrap_or_else(|e| panic!("OverlapSave refused {g:?} {b:?}: {e}"));
    let r = plan.recipe();
    assert_eq!(r.method, Method::OverlapSave);
    assert!(r.fft_shape.is_some() && r.block_shape.is_some() && r.blocks.is_some());
    let mut out = Array2::from_elem(plan.output_shape(), T::from_f64(1e3));
    plan.apply(input.view(), out.view_mut());
    // The epilogue path (staged rows) must give the same bits.
    let mut again = Array2::from_elem(plan.output_shape(), T::from_f64(-7.0));
    plan.apply_with(input.view(), again.view_mut(), |_, c, o| {
        o.copy_from_slice(c);
    });
    assert_eq!(
        out,
        again,
        "apply_with differs from apply ({})",
        plan.recipe()
    );
    // A non-contiguous view of the same input (rows read element by element) and a
    // non-contiguous output (samples stored one by one) must give the same bits too.
    let transposed = input.t().to_owned();
    let (oh, ow) = plan.output_shape();
    let mut wide = Array2::from_elem((oh, 2 * ow), T::from_f64(5.0));
    plan.apply(transposed.t(), wide.slice_mut(ndarray::s![.., ..;2]));
    assert_eq!(
        out,
        wide.slice(ndarray::s![.., ..;2]),
        "strided views differ ({})",
        plan.recipe()
    );
    Some(rel_err(&out, &expect))
}

fn geometries() -> Vec<Geometry> {
    vec![
        Geometry::uniform(Padding::Full),
        Geometry::uniform(Padding::Same),
        Geometry::uniform(Padding::Valid),
        Geometry::uniform(Padding::Explicit { lo: 9, hi: 4 }),
        Geometry::same().with_stride(2, 3),
        Geometry::uniform(Padding::Full).with_dilation(2, 3),
        Geometry::uniform(Padding::Explicit { lo: 3, hi: 5 })
            .with_stride(3, 2)
            .with_dilation(3, 2),
    ]
}

/// Every mode x orientation x geometry on `shapes`, with kernels of `kshapes` and blocks forced
/// to `block`; returns the worst error and the number of cases.
fn sweep<T: Random>(
    seed: u64,
    tol: f64,
    shapes: &[[usize; 2]],
    kshapes: &[[usize; 2]],
    block: Option<[usize; 2]>,
    orientations: &[Orientation],
) -> (f64, usize) {
    let mut r = rng(seed);
    let (mut worst, mut n) = (0.0_f64, 0);
    for &[h, w] in shapes {
        let input: Array2<T> = random_array(&mut r, h, w);
        for &[kh, kw] in kshapes {
            let k: Kernel<T> = Kernel2::new(random_array(&mut r, kh, kw)).unwrap().into();
            for &m in &MODES {
                for &o in orientations {
                    for g in &geometries() {
                        let Some(e) = check(&input, &k, &Boundaries::uniform(m), o, g, block)
                        else {
                            continue;
                        };
                        assert!(
                            e <= tol,
                            "{} ({h},{w}) kernel ({kh},{kw}) block {block:?} {m:?} {o:?} {g:?}: rel err {e:e}",
                            T::NAME
                        );
                        worst = worst.max(e);
                        n += 1;
                    }
                }
            }
        }
    }
    (worst, n)
}

const BOTH: [Orientation; 2] = [Orientation::Correlate, Orientation::Convolve];

#[test]
fn overlap_save_many_blocks_f64() {
    // Blocks of 16: a 9-tap kernel leaves 8 outputs per block, a 13-tap one 4, a 16-tap one a
    // single output per block (kernel longer than a block's output count); 37x29 and 23x41 do
    // not divide into blocks.
    let (worst, n) = sweep::<f64>(
        201,
        TOL_F64,
        &[[37, 29], [23, 41]],
        &[[9, 13], [16, 4], [3, 3]],
        Some([16, 16]),
        &BOTH,
    );
    assert!(n > 500, "only {n} cases ran");
    assert!(worst <= TOL_F64, "worst {worst:e}");
}

#[test]
fn overlap_save_tiny_images_and_chosen_blocks_f64() {
    // Tiny images (a single block, kernel larger than the image) with the cost model's blocks.
    let (worst, n) = sweep::<f64>(
        202,
        TOL_F64,
        &[[1, 1], [1, 5], [2, 2], [3, 7], [13, 11]],
        &[[3, 3], [4, 2], [8, 9]],
        None,
        &BOTH,
    );
    assert!(n > 500, "only {n} cases ran");
    assert!(worst <= TOL_F64, "worst {worst:e}");
}

#[test]
fn overlap_save_blocks_wholly_in_padding() {
    // Regression: padding much wider than the image puts whole block windows in the left or
    // right padding, where no column is a data sample (the data run is empty). 16-point blocks
    // with a 3-tap kernel: 14 outputs per block, so lo = hi = 40 gives several such blocks on
    // each side of a 5-column image, along both axes.
    let g = Geometry::uniform(Padding::Explicit { lo: 40, hi: 40 });
    let mut r = rng(208);
    for [h, w] in [[4, 5], [1, 1]] {
        let input: Array2<f64> = random_array(&mut r, h, w);
        let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 3, 3)).unwrap().into();
        for &m in &MODES {
            for o in BOTH {
                for block in [Some([16, 16]), None] {
                    let b = Boundaries::uniform(m);
                    let Some(e) = check(&input, &k, &b, o, &g, block) else {
                        continue;
                    };
                    assert!(e <= TOL_F64, "({h},{w}) {m:?} {o:?} {block:?}: {e:e}");
                }
            }
        }
    }
}

#[test]
fn overlap_save_other_element_types() {
    let shapes = [[29, 22], [3, 5]];
    let ks = [[7, 5], [2, 9]];
    let block = Some([12, 16]);
    let one = [Orientation::Convolve];
    let (w32, _) = sweep::<f32>(203, TOL_F32, &shapes, &ks, block, &one);
    let (wc64, _) = sweep::<Complex64>(204, TOL_F64, &shapes, &ks, block, &one);
    let (wc32, _) = sweep::<Complex32>(205, TOL_F32, &shapes, &ks, block, &one);
    assert!(w32 <= TOL_F32 && wc64 <= TOL_F64 && wc32 <= TOL_F32);
}

#[test]
fn overlap_save_mixed_sides_and_odd_blocks() {
    // Mixed modes per side, rectangular blocks of non-power-of-two fast lengths (21 -> 21,
    // 25 -> 25 for complex, 26 for real x) and anchors off-centre.
    let mut r = rng(206);
    let input: Array2<f64> = random_array(&mut r, 31, 27);
    let k: Kernel<f64> = Kernel2::with_anchor(random_array(&mut r, 6, 5), [4, 1])
        .unwrap()
        .into();
    for &a in &MODES {
        for &b in &MODES {
            for side in 0..4 {
                let mut four = [b; 4];
                four[side] = a;
                for g in [
                    Geometry::uniform(Padding::Full),
                    Geometry {
                        y: AxisGeometry::new(Padding::Explicit { lo: 40, hi: 3 }).stride(2),
                        x: AxisGeometry::new(Padding::Same).dilation(2),
                    },
                ] {
                    let e = check(
                        &input,
                        &k,
                        &sides4(four),
                        Orientation::Convolve,
                        &g,
                        Some([21, 25]),
                    )
                    .unwrap();
                    assert!(e <= TOL_F64, "{four:?} {g:?}: {e:e}");
                }
            }
        }
    }
}

#[test]
fn overlap_save_is_bitwise_independent_of_threads() {
    // Each output block is computed by one task with the same arithmetic: 1, 2 and 3 worker
    // threads give identical bits (plans built inside each pool, so per-thread buffers differ).
    let mut r = rng(207);
    let input: Array2<f64> = random_array(&mut r, 70, 53);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 11, 7)).unwrap().into();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut p = ConvPlan::builder([70, 53], k.clone())
                .boundaries(Boundaries::uniform(convsim_core::Boundary::Mirror))
                .method(Method::OverlapSave)
                .block_fft_len([24, 32])
                .build()
                .unwrap();
            let mut out = Array2::zeros(p.output_shape());
            p.apply(input.view(), out.view_mut());
            out
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

/// The blocks the cost model chooses (no `block_fft_len`) must not depend on the thread count
/// either: different blocks give results that differ by rounding.
#[test]
fn chosen_blocks_and_results_do_not_depend_on_threads() {
    let mut r = rng(208);
    for (h, w) in [(70, 53), (200, 150), (129, 300), (512, 64), (300, 300)] {
        let input: Array2<f64> = random_array(&mut r, h, w);
        for (kh, kw) in [(11, 7), (21, 21), (5, 33), (41, 3)] {
            let k: Kernel<f64> = Kernel2::new(random_array(&mut r, kh, kw)).unwrap().into();
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| {
                    let mut p = ConvPlan::builder([h, w], k.clone())
                        .method(Method::OverlapSave)
                        .build()
                        .unwrap();
                    let mut out = Array2::zeros(p.output_shape());
                    p.apply(input.view(), out.view_mut());
                    (p.recipe().fft_shape, out)
                })
            };
            let one = run(1);
            for t in [2, 3, 4, 5] {
                let other = run(t);
                assert_eq!(
                    one.0, other.0,
                    "({h},{w}) kernel ({kh},{kw}): blocks, {t} threads"
                );
                assert!(
                    one.1 == other.1,
                    "({h},{w}) kernel ({kh},{kw}): values, {t} threads"
                );
            }
        }
    }
}

#[test]
fn recipe_shows_blocks() {
    let k = Kernel2::new(Array2::<f64>::ones((5, 5))).unwrap();
    let p = ConvPlan::builder([100, 90], k)
        .method(Method::OverlapSave)
        .block_fft_len([32, 32])
        .build()
        .unwrap();
    let r = p.recipe();
    // 32-point blocks, 5 taps: 28 outputs per block; 100 rows -> 4 blocks, 90 columns -> 4.
    assert_eq!(r.fft_shape, Some([32, 32]));
    assert_eq!(r.block_shape, Some([28, 28]));
    assert_eq!(r.blocks, Some([4, 4]));
    let text = r.to_string();
    assert!(
        text.contains("overlap_save") && text.contains("blocks [4, 4] of [28, 28]"),
        "{text}"
    );
}

#[test]
#[allow(deprecated, reason = "the old name must keep working")]
fn the_old_name_overlap_add_still_reads_and_compiles() {
    // Serialised as `overlap_save`; both names deserialise.
    assert_eq!(Method::OverlapSave.name(), "overlap_save");
    assert_eq!(
        serde_json::to_string(&Method::OverlapSave).unwrap(),
        "\"overlap_save\""
    );
    for text in ["\"overlap_save\"", "\"overlap_add\""] {
        let m: Method = serde_json::from_str(text).unwrap();
        assert_eq!(m, Method::OverlapSave, "{text}");
    }
    // The deprecated constant works in expressions and in patterns.
    assert_eq!(Method::OverlapAdd, Method::OverlapSave);
    assert!(matches!(Method::OverlapSave, Method::OverlapAdd));
    assert!(!matches!(Method::Fft, Method::OverlapAdd));
}
