//! What the oracles of the direct and FFT paths (`oracle_direct`, `oracle_fft`) share: the fixed
//! kernels and geometries their sweeps try and the random case their property tests draw, so
//! both paths are tested over the same cases; and the seeded configuration of every property
//! oracle (`oracle_channels` too).

#![allow(dead_code, reason = "each oracle uses its part of this module")]

use convsim_core::testing::{MODES, Random, drawn_geometry, random_array, rng, sides4};
use convsim_core::{AxisGeometry, Boundaries, Geometry, Kernel, Kernel2, Orientation, Padding};
use ndarray::Array2;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// A property test's configuration: `cases` cases from a fixed seed (the same cases on every
/// run) and no failure-persistence files written into the source tree.
pub(crate) fn seeded(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// One drawn case: a seeded random input and kernel (anchor anywhere), a boundary per side out
/// of every mode, an orientation and an output geometry (padding, stride, dilation per axis).
#[derive(Debug)]
pub(crate) struct Case {
    pub(crate) input: Array2<f64>,
    pub(crate) kernel: Kernel<f64>,
    pub(crate) b: Boundaries,
    pub(crate) o: Orientation,
    pub(crate) g: Geometry,
}

/// Cases with input sides in `1..side`, kernel sides in `1..taps` and explicit paddings in
/// `0..pad`; strides and dilations in `1..4`.
pub(crate) fn cases(side: usize, taps: usize, pad: usize) -> impl Strategy<Value = Case> {
    let shape = (1..side, 1..side, 1..taps, 1..taps, 0..taps, 0..taps);
    let padding = (0usize..4, 0usize..4, 0..pad, 0..pad);
    let steps = (1usize..4, 1usize..4, 1usize..4, 1usize..4);
    let rest = (
        proptest::array::uniform4(0..MODES.len()),
        any::<bool>(),
        any::<u64>(),
    );
    (shape, padding, steps, rest).prop_map(
        |((h, w, kh, kw, ay, ax), (py, px, lo, hi), (sy, sx, dy, dx), (sides, conv, seed))| {
            let mut r = rng(seed);
            let input = random_array(&mut r, h, w);
            let taps = random_array(&mut r, kh, kw);
            Case {
                input,
                kernel: Kernel2::with_anchor(taps, [ay % kh, ax % kw])
                    .expect("the anchor is reduced into the kernel")
                    .into(),
                b: sides4(sides.map(|i| MODES[i])),
                o: if conv {
                    Orientation::Convolve
                } else {
                    Orientation::Correlate
                },
                g: drawn_geometry([py, px], lo, hi, [sy, sx], [dy, dx]),
            }
        },
    )
}

/// The fixed output geometries the sweeps try: every padding, wider than the data, mixed per
/// axis, strided, dilated and both.
pub(crate) fn geometries() -> Vec<Geometry> {
    vec![
        Geometry::uniform(Padding::Full),
        Geometry::uniform(Padding::Same),
        Geometry::uniform(Padding::Valid),
        // Padding wider than most of the sweeps' images.
        Geometry::uniform(Padding::Explicit { lo: 9, hi: 4 }),
        Geometry {
            y: AxisGeometry::new(Padding::Explicit { lo: 0, hi: 2 }),
            x: AxisGeometry::new(Padding::Full),
        },
        Geometry::same().with_stride(2, 3),
        Geometry::uniform(Padding::Full).with_dilation(2, 3),
        Geometry::uniform(Padding::Explicit { lo: 3, hi: 5 })
            .with_stride(3, 2)
            .with_dilation(3, 2),
    ]
}

/// Seeded kernels: odd, even (anchor `k / 2`), one tap, off-centre anchors, a row, a column
/// and one larger than the sweeps' images.
pub(crate) fn kernels<T: Random>(seed: u64) -> Vec<Kernel<T>> {
    let mut r = rng(seed);
    vec![
        // Odd, centred.
        Kernel2::new(random_array(&mut r, 3, 3)).unwrap().into(),
        // Even in both axes: anchor k/2 (right of centre).
        Kernel2::new(random_array(&mut r, 4, 2)).unwrap().into(),
        // A single tap.
        Kernel2::new(random_array(&mut r, 1, 1)).unwrap().into(),
        // Non-default anchors: a corner and an off-centre tap.
        Kernel2::with_anchor(random_array(&mut r, 3, 5), [0, 4])
            .unwrap()
            .into(),
        Kernel2::with_anchor(random_array(&mut r, 2, 3), [1, 0])
            .unwrap()
            .into(),
        // A row and a column.
        Kernel2::new(random_array(&mut r, 1, 6)).unwrap().into(),
        Kernel2::new(random_array(&mut r, 5, 1)).unwrap().into(),
        // Larger than the images below in both axes.
        Kernel2::new(random_array(&mut r, 8, 9)).unwrap().into(),
    ]
}
