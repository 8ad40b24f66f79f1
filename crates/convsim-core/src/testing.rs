//! Seeded test data and error norms shared by convsim's tests (feature `testing`; always on in
//! this crate's own unit tests).
//!
//! Every random value comes from a seeded [`ChaCha8Rng`] (reproducible across platforms), and
//! every tolerance in the tests is relative to [`rel_err`]'s scale: the largest reference value,
//! not element by element (see its docs for why).

// Test support: an assertion failing here is a failing test, not a user error.
#![allow(
    clippy::missing_panics_doc,
    reason = "test support: panics are failed checks"
)]

use ndarray::{Array2, ArrayBase, Data, Dimension};
use rand::{RngExt, SeedableRng};
pub use rand_chacha::ChaCha8Rng;

use crate::{AxisGeometry, Boundaries, Boundary, Complex, Element, Geometry, Padding, Sides};

/// Every boundary mode, with a non-trivial constant.
pub const MODES: [Boundary; 7] = [
    Boundary::Zero,
    Boundary::Constant(0.625),
    Boundary::Replicate,
    Boundary::Mirror,
    Boundary::Symmetric,
    Boundary::Periodic,
    Boundary::Antisymmetric,
];

/// A seeded generator (`ChaCha8`: reproducible across platforms).
#[must_use]
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Element types the tests draw random values of.
pub trait Random: Element {
    /// A value with real (and imaginary) parts uniform in [-1, 1).
    fn random(r: &mut ChaCha8Rng) -> Self;
}

impl Random for f64 {
    fn random(r: &mut ChaCha8Rng) -> Self {
        r.random_range(-1.0..1.0)
    }
}
impl Random for f32 {
    fn random(r: &mut ChaCha8Rng) -> Self {
        r.random_range(-1.0_f32..1.0)
    }
}
impl Random for Complex<f64> {
    fn random(r: &mut ChaCha8Rng) -> Self {
        Complex::new(r.random_range(-1.0..1.0), r.random_range(-1.0..1.0))
    }
}
impl Random for Complex<f32> {
    fn random(r: &mut ChaCha8Rng) -> Self {
        Complex::new(r.random_range(-1.0_f32..1.0), r.random_range(-1.0_f32..1.0))
    }
}

/// A `(h, w)` array of seeded random values.
#[must_use]
pub fn random_array<T: Random>(r: &mut ChaCha8Rng, h: usize, w: usize) -> Array2<T> {
    random_nd(r, (h, w))
}

/// An array of any shape (e.g. `(n, c, h, w)` for the channel plans) of seeded random values.
#[must_use]
pub fn random_nd<T: Random, Sh: ndarray::ShapeBuilder>(
    r: &mut ChaCha8Rng,
    shape: Sh,
) -> ndarray::Array<T, Sh::Dim> {
    ndarray::Array::from_shape_simple_fn(shape, || T::random(r))
}

/// Relative error `max|a - b| / max|b|`.
///
/// Normalising by the largest reference value (not element-wise) is deliberate: a convolution
/// output has near-cancelling samples whose element-wise relative error is meaningless, while
/// the rounding error of every sample is bounded by (number of taps) x eps x (largest partial
/// sum), which is of the order of `max|b|`. A zero reference falls back to the absolute error.
///
/// # Panics
/// If the shapes differ.
#[must_use]
pub fn rel_err<T, S1, S2, D>(a: &ArrayBase<S1, D>, b: &ArrayBase<S2, D>) -> f64
where
    T: Element,
    S1: Data<Elem = T>,
    S2: Data<Elem = T>,
    D: Dimension,
{
    let num = max_diff(a, b);
    let den = b.iter().map(|y| y.to_c64().norm()).fold(0.0, f64::max);
    if den == 0.0 { num } else { num / den }
}

/// Boundaries from four sides `[top, bottom, left, right]`.
#[must_use]
pub fn sides4(b: [Boundary; 4]) -> Boundaries {
    Boundaries {
        y: Sides { lo: b[0], hi: b[1] },
        x: Sides { lo: b[2], hi: b[3] },
    }
}

/// Parses the boundary names written by `scripts/core_reference_vectors.py`.
///
/// # Panics
/// On an unknown name (a broken reference file).
#[must_use]
pub fn parse_mode(name: &str) -> Boundary {
    Boundary::parse(name).unwrap_or_else(|| panic!("unknown boundary name {name:?}"))
}

/// Largest possible `sum_j |w_j| |x_j|` of one output sample: `sum |w| x max(max |x|, |c|)`,
/// where `c` is the largest boundary constant in [`MODES`].
///
/// A sum of `k` products computed in any order (or with FMA) differs from the exact sum by at
/// most `k eps sum |terms|`, so this, not the output itself, is the scale rounding is relative
/// to. It matters when the output cancels (e.g. a 1x1 image under `Antisymmetric` padding,
/// where every output is `x` times a signed sum of the taps).
#[must_use]
pub fn term_scale<T: Element>(x: &Array2<T>, k: &crate::Kernel<T>) -> f64 {
    let xmax = x
        .iter()
        .map(|v| v.to_c64().norm())
        .fold(0.625_f64, f64::max);
    let wsum: f64 = k.to_dense().taps().iter().map(|v| v.to_c64().norm()).sum();
    xmax * wsum
}

/// `max |a - b|`.
///
/// # Panics
/// If the shapes differ.
#[must_use]
pub fn max_diff<T, S1, S2, D>(a: &ArrayBase<S1, D>, b: &ArrayBase<S2, D>) -> f64
where
    T: Element,
    S1: Data<Elem = T>,
    S2: Data<Elem = T>,
    D: Dimension,
{
    assert_eq!(a.shape(), b.shape(), "max_diff: shapes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.to_c64() - y.to_c64()).norm())
        .fold(0.0, f64::max)
}

/// The output geometry a property test draws: per axis a padding index (`0..4`: full, same,
/// valid, explicit), with explicit sides `lo`/`hi` on `y` and mirrored (`hi`/`lo`) on `x`, a
/// stride and a dilation (`[y, x]`).
#[must_use]
pub fn drawn_geometry(
    pad: [usize; 2],
    lo: usize,
    hi: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Geometry {
    let padding = |i: usize, lo, hi| match i {
        0 => Padding::Full,
        1 => Padding::Same,
        2 => Padding::Valid,
        _ => Padding::Explicit { lo, hi },
    };
    Geometry {
        y: AxisGeometry::new(padding(pad[0], lo, hi))
            .stride(stride[0])
            .dilation(dilation[0]),
        x: AxisGeometry::new(padding(pad[1], hi, lo))
            .stride(stride[1])
            .dilation(dilation[1]),
    }
}
