//! Measurements of the article's symmetry claims: translation equivariance of a convolution and
//! its loss under stride, p4 rotation equivariance, and the shift consistency of (anti-aliased)
//! downsampling. The examples and tests print and assert these numbers.
//!
//! ```
//! use convsim_cnn::equivariance::translation_error;
//! use convsim_cnn::{Conv2d, Conv2dConfig};
//! use convsim_core::Boundary;
//! use ndarray::Array4;
//! let x = Array4::from_shape_fn((1, 1, 8, 8), |(_, _, i, j)| ((i * 5 + j * j) % 7) as f64);
//! let mut conv = Conv2d::<f64>::new(Conv2dConfig::new(1, 2, 3).boundary(Boundary::Periodic), 3).unwrap();
//! assert!(translation_error(&mut conv, x.view(), [1, 2]).unwrap() < 1e-14);
//! let mut strided = Conv2d::<f64>::new(Conv2dConfig::new(1, 2, 3).boundary(Boundary::Periodic).stride(2), 3).unwrap();
//! assert!(translation_error(&mut strided, x.view(), [0, 1]).unwrap() > 0.1);
//! ```

use ndarray::{Array4, ArrayView4};

use crate::p4::{cycle_rotations, rotate_planes};
use crate::{Float, Layer, Result};

/// Periodic shift of every plane: `out[.., i, j] = x[.., i - dy, j - dx]` (indices mod the
/// grid), i.e. the content moves by `(dy, dx)`.
#[must_use]
pub fn roll<T: Float>(x: ArrayView4<'_, T>, shift: [isize; 2]) -> Array4<T> {
    let (n, c, h, w) = x.dim();
    Array4::from_shape_fn((n, c, h, w), |(a, b, i, j)| {
        let si = (i as isize - shift[0]).rem_euclid(h as isize) as usize;
        let sj = (j as isize - shift[1]).rem_euclid(w as isize) as usize;
        x[[a, b, si, sj]]
    })
}

/// `max |a - b| / max |b|`.
fn rel_max<T: Float>(a: ArrayView4<'_, T>, b: ArrayView4<'_, T>) -> f64 {
    let num = a.iter().zip(b.iter()).fold(0.0_f64, |m, (x, y)| {
        m.max((*x - *y).to_f64_lossless().abs())
    });
    let den = b
        .iter()
        .fold(0.0_f64, |m, y| m.max(y.to_f64_lossless().abs()));
    num / den.max(f64::MIN_POSITIVE)
}

/// Translation-equivariance error of `layer` at `x` for an input shift `s = (dy, dx)`:
/// the smallest relative difference `max |f(S_s x) - S_e f(x)| / max |f(x)|` over all periodic
/// output shifts `e`. Zero (to rounding) for a stride-1 convolution with `Periodic` boundaries;
/// of order 1 for stride 2 and an odd shift, whose output is not a shift of the original
/// output.
///
/// # Errors
/// If the layer rejects `x`.
pub fn translation_error<T: Float>(
    layer: &mut dyn Layer<T>,
    x: ArrayView4<'_, T>,
    s: [isize; 2],
) -> Result<f64> {
    layer.forward(x)?;
    let base = layer.output().to_owned();
    layer.forward(roll(x, s).view())?;
    let moved = layer.output().to_owned();
    let (_, _, ho, wo) = base.dim();
    let mut best = f64::INFINITY;
    for ey in 0..ho as isize {
        for ex in 0..wo as isize {
            best = best.min(rel_max(moved.view(), roll(base.view(), [ey, ex]).view()));
        }
    }
    Ok(best)
}

/// p4 equivariance error `max |f(T_in x) - T_out f(x)| / max |f(x)|` with `T` a quarter turn
/// of every plane, followed for p4 feature maps by the cyclic shift of the rotation channels
/// (see [`crate::p4`]). `input_is_p4` says whether `x` carries rotation channels (a
/// [`crate::P4GroupConv`] input) or is a plain image (a [`crate::P4LiftConv`] input); the output
/// is treated as p4 features if `output_is_p4`.
///
/// # Errors
/// If the layer rejects `x`.
pub fn p4_error<T: Float>(
    layer: &mut dyn Layer<T>,
    x: ArrayView4<'_, T>,
    input_is_p4: bool,
    output_is_p4: bool,
) -> Result<f64> {
    let turn = |a: ArrayView4<'_, T>, p4: bool| {
        let r = rotate_planes(a, 1);
        if p4 { cycle_rotations(r.view(), 1) } else { r }
    };
    layer.forward(x)?;
    let expected = turn(layer.output(), output_is_p4);
    layer.forward(turn(x, input_is_p4).view())?;
    Ok(rel_max(layer.output(), expected.view()))
}

/// Shift consistency of a downsampling layer: `|f(S_1 x) - f(x)|_2 / |f(x)|_2` for a one-pixel
/// shift of the input along `x` (periodic). With plain stride-2 sampling of white noise the
/// output changes completely (`sqrt 2`); a binomial blur before the stride makes the output
/// depend smoothly on sub-sample shifts, so the ratio falls with the filter size.
///
/// # Errors
/// If the layer rejects `x`.
pub fn shift_consistency<T: Float>(layer: &mut dyn Layer<T>, x: ArrayView4<'_, T>) -> Result<f64> {
    layer.forward(x)?;
    let base = layer.output().to_owned();
    layer.forward(roll(x, [0, 1]).view())?;
    let (mut num, mut den) = (0.0, 0.0);
    for (a, b) in layer.output().iter().zip(base.iter()) {
        let (a, b) = (a.to_f64_lossless(), b.to_f64_lossless());
        num += (a - b) * (a - b);
        den += b * b;
    }
    Ok((num / den).sqrt())
}
