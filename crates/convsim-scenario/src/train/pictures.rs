//! Pictures of a training file, drawn from `train.h5` itself (by `convsim train` and by
//! `convsim plot train.h5`), so they show what was saved: `loss.png`, `rollout.png`,
//! `stencil_learned*.png`, `stencil_true.png`, `stencil_diff.png`.

use std::path::{Path, PathBuf};

use convsim_plot::{Aspect, Axes, ColorRange, Colormap, HeatmapStyle, LineStyle, YDirection};
use ndarray::{Array2, Axis, Ix2, Ix3};

use crate::error::{Result, ScenarioError};
use crate::outputs::OutputDir;

fn plot_err(path: &Path, e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Plot {
        file: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn stencil_png(path: &Path, taps: &Array2<f64>, title: &str) -> Result<()> {
    let (kh, kw) = taps.dim();
    // Offsets from the anchor; row 0 (offset -kh/2) at the top, as the taps are written.
    let axes = Axes {
        x: (0..kw).map(|j| j as f64 - (kw / 2) as f64).collect(),
        y: (0..kh).map(|i| i as f64 - (kh / 2) as f64).collect(),
        x_label: "column offset q".into(),
        y_label: "row offset p, downward".into(),
        y_direction: YDirection::Down,
    };
    let style = HeatmapStyle {
        title: title.into(),
        colormap: Colormap::Diverging,
        range: ColorRange::Auto,
        colorbar_label: "tap".into(),
        width: 700,
        height: 640,
        aspect: Aspect::Equal,
    };
    convsim_plot::heatmap_png(path, taps.view(), &axes, &style).map_err(|e| plot_err(path, e))?;
    Ok(())
}

/// A line plot on a log axis when every value is positive, linear otherwise (a loss of
/// exactly 0 has no logarithm).
fn curve_png(path: &Path, style: LineStyle, series: &[(&str, &[f64], &[f64])]) -> Result<()> {
    let positive = series
        .iter()
        .flat_map(|s| s.2.iter())
        .all(|v| v.is_nan() || *v > 0.0);
    let style = LineStyle {
        log_y: style.log_y && positive,
        ..style
    };
    convsim_plot::line_plot_png(path, &style, series).map_err(|e| plot_err(path, e))
}

/// Draws the pictures of the training file `train` into the folder `out` (each recorded in its
/// manifest first; a file of the same name that convsim did not write is refused).
///
/// # Errors
/// [`ScenarioError::Io`] if the file cannot be read, [`ScenarioError::OutputForeign`],
/// [`ScenarioError::Plot`].
pub fn draw_train_file(train: &Path, out: &mut OutputDir) -> Result<Vec<PathBuf>> {
    let io = |e: convsim_io::IoError| ScenarioError::io(train, e);
    let summary = convsim_io::summarize_arrays(train).map_err(io)?;
    let has = |n: &str| summary.datasets.iter().any(|d| d.path == format!("/{n}"));
    let read1 = |n: &str| -> Result<Vec<f64>> {
        Ok(convsim_io::read_array(train, n)
            .map_err(io)?
            .iter()
            .copied()
            .collect())
    };
    let name = summary
        .attributes
        .get("run_name")
        .and_then(|v| v.as_str())
        .unwrap_or("train")
        .to_string();
    let mut pictures = Vec::new();
    let train_loss = read1("loss/train")?;
    let epochs: Vec<f64> = (0..train_loss.len()).map(|i| i as f64).collect();
    let val = if has("loss/val") {
        read1("loss/val")?
    } else {
        Vec::new()
    };
    let mut series: Vec<(&str, &[f64], &[f64])> = vec![("train", &epochs, &train_loss)];
    if val.len() == train_loss.len() {
        series.push(("validation", &epochs, &val));
    }
    let p = out.claim("loss.png")?;
    curve_png(
        &p,
        LineStyle {
            title: format!("{name}: loss per epoch"),
            x_label: "epoch".into(),
            y_label: "mean squared error".into(),
            log_y: true,
            ..LineStyle::default()
        },
        &series,
    )?;
    pictures.push(p);
    if has("model/kernel") {
        let kern = convsim_io::read_array(train, "model/kernel")
            .map_err(io)?
            .into_dimensionality::<Ix3>()
            .map_err(|e| ScenarioError::io(train, e))?;
        let c_in = kern.dim().0;
        for (c, plane) in kern.outer_iter().enumerate() {
            let file = if c_in == 1 {
                "stencil_learned.png".to_string()
            } else {
                format!("stencil_learned_c{c}.png")
            };
            let p = out.claim(&file)?;
            stencil_png(
                &p,
                &plane.to_owned(),
                &format!("learned stencil, input level {c}"),
            )?;
            pictures.push(p);
        }
        if has("truth/kernel") {
            let t = convsim_io::read_array(train, "truth/kernel")
                .map_err(io)?
                .into_dimensionality::<Ix2>()
                .map_err(|e| ScenarioError::io(train, e))?;
            let l = kern.index_axis(Axis(0), c_in - 1).to_owned();
            let p = out.claim("stencil_true.png")?;
            stencil_png(&p, &t, "true step stencil")?;
            pictures.push(p);
            let p = out.claim("stencil_diff.png")?;
            stencil_png(&p, &(&l - &t), "learned minus true")?;
            pictures.push(p);
        }
    }
    if has("rollout/rel_error") {
        let err = read1("rollout/rel_error")?;
        let steps: Vec<f64> = (1..=err.len()).map(|r| r as f64).collect();
        let p = out.claim("rollout.png")?;
        curve_png(
            &p,
            LineStyle {
                title: format!("{name}: model rollout vs solver"),
                x_label: "model step".into(),
                y_label: "relative L2 error".into(),
                log_y: true,
                ..LineStyle::default()
            },
            &[("model vs solver", &steps, &err)],
        )?;
        pictures.push(p);
    }
    Ok(pictures)
}
