//! Seismic shot gathers: traces `(receiver, time)` with time growing downward.

use std::path::Path;

use ndarray::ArrayView2;

use crate::colormap::{ColorRange, Colormap};
use crate::error::{Result, invalid};
use crate::heatmap::{Aspect, Axes, HeatmapStyle, YDirection, check_shape, heatmap_png};

/// Appearance of a seismic shot gather.
#[derive(Clone, Debug, PartialEq)]
pub struct GatherStyle {
    /// Title.
    pub title: String,
    /// Colour map: [`Colormap::Grey`] (negative black, positive white) or
    /// [`Colormap::Diverging`] (negative blue, positive red).
    pub colormap: Colormap,
    /// Amplitudes are clipped at this percentile of `|trace|` (e.g. 98), so the direct wave
    /// does not hide the reflections; the colour range is `-clip..clip`.
    pub clip_percentile: f64,
    /// Label of the receiver axis, e.g. `"receiver x [m]"`.
    pub x_label: String,
    /// Label of the time axis, e.g. `"t [s]"`.
    pub time_label: String,
    /// Label of the colour bar, e.g. `"p [Pa]"`.
    pub colorbar_label: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Default for GatherStyle {
    fn default() -> Self {
        GatherStyle {
            title: "shot gather".into(),
            colormap: Colormap::Grey,
            clip_percentile: 98.0,
            x_label: "receiver x [m]".into(),
            time_label: "t [s]".into(),
            colorbar_label: "amplitude".into(),
            width: 800,
            height: 800,
        }
    }
}

/// Percentile `p` (in `(0, 100]`, nearest rank) of `|v|` over finite values; 0 if none.
pub(crate) fn abs_percentile<'a>(values: impl Iterator<Item = &'a f64>, p: f64) -> f64 {
    let mut a: Vec<f64> = values.filter(|v| v.is_finite()).map(|v| v.abs()).collect();
    if a.is_empty() {
        return 0.0;
    }
    a.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * a.len() as f64).ceil() as usize;
    a[rank.clamp(1, a.len()) - 1]
}

/// Draws a shot gather: `traces` has shape `(receiver, time sample)`; receivers along x at
/// `receiver_x`, time `k * dt` growing downward. Returns the clip value (the colour range is
/// `-clip..clip`).
///
/// # Errors
/// [`crate::PlotError::Invalid`] for mismatched lengths, `dt <= 0` or a percentile outside
/// `(0, 100]`; [`crate::PlotError::Draw`].
pub fn gather_png(
    path: impl AsRef<Path>,
    traces: ArrayView2<'_, f64>,
    receiver_x: &[f64],
    dt: f64,
    style: &GatherStyle,
) -> Result<f64> {
    let path = path.as_ref();
    let clip_ok = style.clip_percentile > 0.0 && style.clip_percentile <= 100.0;
    if !(dt > 0.0 && dt.is_finite() && clip_ok) {
        return Err(invalid(
            path,
            format!(
                "gather: dt = {dt} must be > 0 and clip_percentile = {} in (0, 100]",
                style.clip_percentile
            ),
        ));
    }
    let (r, nt) = traces.dim();
    let axes = Axes {
        x: receiver_x.to_vec(),
        y: (0..nt).map(|k| k as f64 * dt).collect(),
        x_label: style.x_label.clone(),
        y_label: style.time_label.clone(),
        y_direction: YDirection::Down,
    };
    let field = traces.reversed_axes();
    check_shape(path, (nt, r), &axes)?;
    let clip = abs_percentile(traces.iter(), style.clip_percentile);
    let clip = if clip > 0.0 { clip } else { 1.0 };
    let hs = HeatmapStyle {
        title: style.title.clone(),
        colormap: style.colormap,
        range: ColorRange::Fixed(-clip, clip),
        colorbar_label: style.colorbar_label.clone(),
        width: style.width,
        height: style.height,
        aspect: Aspect::Free,
    };
    heatmap_png(path, field, &axes, &hs)?;
    Ok(clip)
}
