//! Complex fields: phase as hue, amplitude as brightness.

use std::path::Path;

use ndarray::ArrayView2;

use crate::error::{Result, invalid};
use crate::frame::{Bar, Picture};
use crate::heatmap::{Axes, HeatmapStyle, check_shape, render};

/// HSV (hue in turns, saturation 1) to RGB.
pub(crate) fn hue_value_rgb(hue: f64, value: f64) -> [u8; 3] {
    let h = hue.rem_euclid(1.0) * 6.0;
    let v = value.clamp(0.0, 1.0);
    let x = 1.0 - (h % 2.0 - 1.0).abs();
    let (r, g, b) = match h as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    let q = |c: f64| (255.0 * c * v).round() as u8;
    [q(r), q(g), q(b)]
}

/// Colour of a complex value `z` in [`complex_png`]: hue = phase (`arg z = 0` red, `2pi/3`
/// green, `-2pi/3` blue), brightness = `|z| / amax` (black where `z = 0`); NaN gives
/// [`crate::NAN_RGB`].
///
/// ```
/// use convsim_plot::complex_rgb;
/// assert_eq!(complex_rgb(1.0, 0.0, 1.0), [255, 0, 0]);
/// assert_eq!(complex_rgb(0.0, 0.0, 1.0), [0, 0, 0]);
/// ```
#[must_use]
pub fn complex_rgb(re: f64, im: f64, amax: f64) -> [u8; 3] {
    if !(re.is_finite() && im.is_finite()) {
        return crate::NAN_RGB;
    }
    let phase = im.atan2(re);
    hue_value_rgb(phase / std::f64::consts::TAU, re.hypot(im) / amax)
}

/// Draws a complex field (a wavefunction given as its real and imaginary parts) with phase as
/// hue and amplitude as brightness (see [`complex_rgb`]); amplitudes are normalised by the
/// largest `|z|`. The colour bar shows the phase from `-pi` to `pi`. `style.colormap` and
/// `style.range` are not used; an empty `style.colorbar_label` becomes `"phase [rad]"`.
///
/// # Errors
/// As [`heatmap_png`], and [`crate::PlotError::Invalid`] if `re` and `im` differ in shape.
pub fn complex_png(
    path: impl AsRef<Path>,
    re: ArrayView2<'_, f64>,
    im: ArrayView2<'_, f64>,
    axes: &Axes,
    style: &HeatmapStyle,
) -> Result<()> {
    let path = path.as_ref();
    if re.dim() != im.dim() {
        return Err(invalid(
            path,
            format!(
                "complex: re {:?} and im {:?} differ in shape",
                re.dim(),
                im.dim()
            ),
        ));
    }
    check_shape(path, re.dim(), axes)?;
    let amax = re
        .iter()
        .zip(im.iter())
        .map(|(a, b)| a.hypot(*b))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let amax = if amax > 0.0 { amax } else { 1.0 };
    let colour = |i: usize, j: usize| complex_rgb(re[[i, j]], im[[i, j]], amax);
    let bar_colour = |t: f64| hue_value_rgb(t - 0.5, 1.0);
    let label = if style.colorbar_label.is_empty() {
        "phase [rad]"
    } else {
        style.colorbar_label.as_str()
    };
    let pi = std::f64::consts::PI;
    let axes = axes.finite_or_indices();
    let pic = Picture {
        dims: re.dim(),
        axes: &axes,
        title: &style.title,
        colour: &colour,
        bar: Bar {
            lo: -pi,
            hi: pi,
            label,
            colour: &bar_colour,
        },
    };
    render(path, style, &pic)
}
