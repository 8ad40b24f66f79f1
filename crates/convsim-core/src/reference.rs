//! The naive direct convolution: the oracle every fast path is tested against.
//!
//! It evaluates the definition sample by sample (see [`crate::kernel`] for the orientation and
//! anchor conventions and [`crate::geometry`] for padding, stride and dilation), with the
//! boundary index maps of [`crate::boundary`]. It is slow on purpose: no buffering, no
//! reordering, nothing to get wrong.

use ndarray::{Array2, ArrayView2};

use crate::boundary::combine;
use crate::{Boundaries, CoreError, Element, Geometry, Kernel, Orientation, Result, resolve_axis};

/// Convolves (or correlates) `input` with `kernel` by the definition.
///
/// # Errors
/// An invalid kernel ([`Kernel::validate`]), invalid geometry (zero stride or dilation, empty
/// output), an empty input, or a
/// [`crate::Boundary::Halo`] side (`CoreError::InvalidValue` naming `boundaries`): a halo tile has
/// no definition of its own, it is checked against the whole domain instead.
pub fn conv2d<T: Element>(
    input: ArrayView2<'_, T>,
    kernel: &Kernel<T>,
    boundaries: &Boundaries,
    orientation: Orientation,
    geometry: &Geometry,
) -> Result<Array2<T>> {
    if boundaries.has_halo() {
        return Err(CoreError::InvalidValue {
            name: "boundaries",
            value: format!("{boundaries:?}"),
            allowed: "a padding mode on every side (the reference has no halo tiles)",
        });
    }
    kernel.validate()?;
    let (h, w) = input.dim();
    let (taps, anchor) = kernel.to_dense().canonical(orientation);
    let (kh, kw) = taps.dim();
    let ry = resolve_axis(h, kh, anchor[0], &geometry.y, "y")?;
    let rx = resolve_axis(w, kw, anchor[1], &geometry.x, "x")?;
    Ok(Array2::from_shape_fn((ry.out, rx.out), |(oy, ox)| {
        let mut acc = T::zero();
        for ky in 0..kh {
            let iy = (oy * ry.stride + ky * ry.dilation) as isize - ry.lo as isize;
            let rs = boundaries.y.source(iy, h);
            for kx in 0..kw {
                let ix = (ox * rx.stride + kx * rx.dilation) as isize - rx.lo as isize;
                let cs = boundaries.x.source(ix, w);
                acc += taps[[ky, kx]] * combine(input, rs, cs);
            }
        }
        acc
    }))
}
