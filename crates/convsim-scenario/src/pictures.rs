//! Pictures of a run file: heatmap PNGs of fields, a line plot of the diagnostics, GIFs.
//!
//! Used by the driver at the end of a run and by `convsim plot`. Pictures are drawn from the
//! run file (not from solver memory), so they show exactly what was saved.
//!
//! - Orientation: `y` grows upward (the mathematical convention) for diffusion and quantum
//!   runs; for seismic runs `y` is depth and grows downward. The axis label says which.
//! - Aspect: one metre is as long along `x` as along `y` (a round Gaussian is round).
//! - Colour maps: viridis for fields without negative values, the diverging map symmetric
//!   about 0 for fields that take both signs, the cyclic map for a phase (units `rad`), with
//!   the phase masked (grey) where the density is below [`PHASE_MASK`] of its maximum.
//! - 1D runs (one row) are drawn as line plots of the field against `x`, plus
//!   `<field>_spacetime.png`, the field over `(x, t)` (no GIF).
//! - Static fields (a velocity model, a time-independent potential; `/static` in the run file)
//!   are drawn once, `<field>.png`.
//!
//! File names in the output folder: `<field>_first.png`, `<field>_last.png`,
//! `<field>_frame<K>.png` (K zero-padded to 4 digits), `<field>.png` (static),
//! `<field>_spacetime.png` (1D), `<field>.gif`, `diagnostics_<name>.png`, `gather_<shot>.png`
//! (a seismic shot gather: time down, receivers across, grey, clipped at the 98th percentile of
//! |amplitude|; only the samples recorded).
//!
//! Each picture is recorded in the folder's manifest before it is written, and a file of the
//! same name that convsim did not write is never overwritten ([`crate::outputs`]).

use std::path::{Path, PathBuf};

use convsim_io::RunFile;
use convsim_plot::{Aspect, Axes, Colormap, GatherStyle, HeatmapStyle, LineStyle, YDirection};
use ndarray::{Array2, ArrayView2};

use crate::error::{Result, ScenarioError};
use crate::outputs::OutputDir;

/// Which frames to draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frames {
    /// The first and the last frame.
    FirstLast,
    /// One frame by index (negative counts from the end: -1 is the last).
    One(i64),
    /// Every frame.
    All,
}

/// What to draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotRequest {
    /// Fields to draw (`None`: every field of the file).
    pub fields: Option<Vec<String>>,
    /// Frames of each field as PNGs.
    pub frames: Frames,
    /// Also an animated GIF of each field.
    pub gif: bool,
    /// Also the line plot of the diagnostics.
    pub diagnostics: bool,
    /// Also the shot gathers under `/receivers` (if any).
    pub gathers: bool,
}

impl PlotRequest {
    /// What a run draws at its end: first and last frame of every field, the diagnostics,
    /// and the GIFs if `gif`.
    #[must_use]
    pub fn end_of_run(gif: bool) -> Self {
        PlotRequest {
            fields: None,
            frames: Frames::FirstLast,
            gif,
            diagnostics: true,
            gathers: true,
        }
    }
}

/// The phase is masked where the density is below this fraction of its largest value.
pub const PHASE_MASK: f64 = 1e-3;

/// Milliseconds per GIF frame.
const GIF_DELAY_MS: u32 = 100;
/// Most frames a GIF holds; longer runs are subsampled evenly (first and last kept).
const GIF_MAX_FRAMES: usize = 100;

fn plot_err(e: convsim_plot::PlotError) -> ScenarioError {
    let (file, reason) = match &e {
        convsim_plot::PlotError::Invalid { path, message } => {
            (path.display().to_string(), message.clone())
        }
        convsim_plot::PlotError::Draw { path, source } => {
            (path.display().to_string(), source.to_string())
        }
        #[allow(unreachable_patterns, reason = "`PlotError` is non-exhaustive")]
        _ => (String::new(), e.to_string()),
    };
    ScenarioError::Plot { file, reason }
}

/// Evenly spaced indices `0..n` keeping the first and the last, at most `max`.
fn subsample(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let mut v: Vec<usize> = (0..max)
        .map(|i| (i * (n - 1) + (max - 1) / 2) / (max - 1))
        .collect();
    v.dedup();
    v
}

/// The names [`draw_run`] may write at the end of a run (`PlotRequest::end_of_run`), so the run
/// can refuse before it computes when one of them is a file convsim did not write. A superset:
/// each field's frame, static, space-time and GIF names.
#[must_use]
pub fn end_of_run_names(
    fields: &[String],
    diagnostics: &[String],
    shots: &[String],
    gif: bool,
) -> Vec<String> {
    let mut v = Vec::new();
    for f in fields {
        for suffix in ["_first.png", "_last.png", ".png", "_spacetime.png"] {
            v.push(format!("{f}{suffix}"));
        }
        if gif {
            v.push(format!("{f}.gif"));
        }
    }
    v.extend(diagnostics.iter().map(|d| format!("diagnostics_{d}.png")));
    v.extend(shots.iter().map(|s| format!("gather_{s}.png")));
    v
}

/// `true` for the names of pictures convsim draws (`--force` removes the old ones it drew).
#[must_use]
pub fn is_picture(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|x| x == "png" || x == "gif")
}

/// Draws the pictures of `run` into the folder `out` and returns their paths.
///
/// # Errors
/// [`ScenarioError::Io`] if the file cannot be read, [`ScenarioError::Invalid`] for an unknown
/// field name or frame index, [`ScenarioError::OutputForeign`] for a picture name taken by a
/// file convsim did not write, [`ScenarioError::Plot`] if drawing fails.
pub fn draw_run(run: &Path, out: &mut OutputDir, req: &PlotRequest) -> Result<Vec<PathBuf>> {
    let io = |e: convsim_io::IoError| ScenarioError::io(run, e);
    let f = RunFile::open(run).map_err(io)?;
    let meta = f.meta().map_err(io)?;
    let grid = f.grid().map_err(io)?;
    let times = f.times().map_err(io)?;
    let n = f.frames();
    let statics = f.static_fields().map_err(io)?;
    let infos: Vec<convsim_io::DatasetInfo> = f
        .fields()
        .map_err(io)?
        .into_iter()
        .chain(statics.iter().cloned())
        .collect();
    let names: Vec<String> = infos.iter().map(|d| d.quantity.name.clone()).collect();
    let chosen: Vec<&convsim_io::DatasetInfo> = match &req.fields {
        None => infos.iter().collect(),
        Some(list) => {
            let mut v = Vec::new();
            for name in list {
                let Some(d) = infos.iter().find(|d| &d.quantity.name == name) else {
                    return Err(ScenarioError::invalid(
                        run.display().to_string(),
                        "--field",
                        name.clone(),
                        format!("no such field; allowed: {}", names.join(", ")),
                    ));
                };
                v.push(d);
            }
            v
        }
    };
    let mut pics = Vec::new();
    if req.gathers {
        pics.extend(draw_gathers(&f, out, &meta.length_units, &meta.time_units)?);
    }
    if n == 0 {
        return Ok(pics);
    }
    let frames: Vec<(usize, String)> = match &req.frames {
        Frames::FirstLast => {
            if n == 1 {
                vec![(0, "first".into())]
            } else {
                vec![(0, "first".into()), (n - 1, "last".into())]
            }
        }
        Frames::One(k) => {
            let idx = if *k < 0 { n as i64 + k } else { *k };
            if idx < 0 || idx >= n as i64 {
                return Err(ScenarioError::invalid(
                    run.display().to_string(),
                    "--frame",
                    k.to_string(),
                    format!(
                        "the file holds {n} frame(s); allowed: 0..{} or -1 for the last",
                        n - 1
                    ),
                ));
            }
            vec![(idx as usize, format!("frame{idx:04}"))]
        }
        Frames::All => (0..n).map(|k| (k, format!("frame{k:04}"))).collect(),
    };
    let lu = &meta.length_units;
    let axes = field_axes(&grid, lu, &meta.solver);
    let tu = &meta.time_units;
    let one_d = grid.ny == 1;
    for info in &chosen {
        let q = &info.quantity;
        let base = HeatmapStyle::for_quantity(q);
        if statics.iter().any(|d| d.quantity.name == q.name) {
            let data = f.read_static(&q.name).map_err(io)?;
            let path = out.claim(&format!("{}.png", q.name))?;
            let title = format!("{} (static: the same at every frame)", q.long_name);
            if one_d {
                profile_png(&path, &axes, data.view(), &title, q)?;
            } else {
                let style = styled(&base, &title, std::iter::once(data.view()));
                convsim_plot::heatmap_png(&path, data.view(), &axes, &style).map_err(plot_err)?;
            }
            pics.push(path);
            continue;
        }
        for (k, tag) in &frames {
            let data = f.read_frame(&q.name, *k).map_err(io)?;
            let path = out.claim(&format!("{}_{tag}.png", q.name))?;
            let title = format!("{} at t = {} {tu} (frame {k})", q.name, fmt_time(times[*k]));
            if one_d {
                profile_png(&path, &axes, data.view(), &title, q)?;
            } else if base.colormap == Colormap::Cyclic {
                let mask = phase_mask(&f, *k, grid.shape())?;
                let title = if mask.is_some() {
                    format!(
                        "{title}\ngrey: density below {PHASE_MASK:e} of its maximum (phase undefined)"
                    )
                } else {
                    title
                };
                let style = HeatmapStyle {
                    title,
                    ..base.clone()
                };
                convsim_plot::heatmap_masked_png(
                    &path,
                    data.view(),
                    mask.as_ref().map(|m| m.view()),
                    &axes,
                    &style,
                )
                .map_err(plot_err)?;
            } else {
                let style = styled(&base, &title, std::iter::once(data.view()));
                convsim_plot::heatmap_png(&path, data.view(), &axes, &style).map_err(plot_err)?;
            }
            pics.push(path);
        }
        if one_d && n > 1 {
            // A 1D time series as one picture: the field over (x, t), time upward.
            let all = f.read_field(&q.name).map_err(io)?;
            let st = all.index_axis(ndarray::Axis(1), 0).to_owned();
            let st_axes = Axes {
                x: axes.x.clone(),
                y: times.clone(),
                x_label: axes.x_label.clone(),
                y_label: format!("t [{tu}]"),
                y_direction: YDirection::Up,
            };
            let path = out.claim(&format!("{}_spacetime.png", q.name))?;
            let title = format!("{}: space-time ({n} frames)", q.long_name);
            let style = HeatmapStyle {
                aspect: Aspect::Free,
                ..styled(&base, &title, std::iter::once(st.view()))
            };
            convsim_plot::heatmap_png(&path, st.view(), &st_axes, &style).map_err(plot_err)?;
            pics.push(path);
        }
        if req.gif && !one_d {
            // Only the frames the GIF shows are read (at most GIF_MAX_FRAMES of them), and its
            // colour range is theirs: memory stays bounded however long the run.
            let ks = subsample(n, GIF_MAX_FRAMES);
            let shown = ks
                .iter()
                .map(|&k| f.read_frame(&q.name, k).map_err(io))
                .collect::<Result<Vec<_>>>()?;
            let path = out.claim(&format!("{}.gif", q.name))?;
            let style = styled(&base, &base.title, shown.iter().map(|a| a.view()));
            let frames = ks.iter().zip(&shown).map(|(&k, a)| {
                (
                    format!("{} at t = {:.4e} {tu}", q.long_name, times[k]),
                    a.view(),
                )
            });
            convsim_plot::gif_titled(&path, frames, &axes, &style, GIF_DELAY_MS)
                .map_err(plot_err)?;
            pics.push(path);
        }
    }
    if req.diagnostics {
        // One picture per diagnostic: their units differ (mass, extrema, norms).
        for d in f.diagnostics().map_err(io)? {
            let q = &d.quantity;
            let values = f.read_diagnostic(&q.name).map_err(io)?;
            let name = format!("diagnostics_{}.png", q.name);
            let style = LineStyle {
                title: format!("{}: {}", q.name, q.long_name),
                x_label: format!("t [{tu}]"),
                y_label: format!("{} [{}]", q.name, q.units),
                ..LineStyle::default()
            };
            if values.iter().any(|v| v.is_finite()) {
                let path = out.claim(&name)?;
                convsim_plot::line_plot_png(
                    &path,
                    &style,
                    &[(q.name.as_str(), &times[..n], &values[..n.min(values.len())])],
                )
                .map_err(plot_err)?;
                pics.push(path);
            }
        }
    }
    Ok(pics)
}

/// `gather_<shot>.png` for every shot of the file (its recorded samples; none if fewer than 2).
fn draw_gathers(f: &RunFile, out: &mut OutputDir, lu: &str, tu: &str) -> Result<Vec<PathBuf>> {
    let run = f.path();
    let io = |e: convsim_io::IoError| ScenarioError::io(run, e);
    let mut pics = Vec::new();
    for shot in f.receivers().map_err(io)? {
        let g = f.read_receivers(&shot).map_err(io)?;
        let recorded = g.recorded.min(g.traces.ncols());
        if recorded < 2 || g.traces.nrows() == 0 {
            continue;
        }
        // Receivers across by x for a line along x, by y for a vertical line (a well), by
        // index otherwise (the picture needs a monotone axis).
        let monotone =
            |v: &[f64]| v.windows(2).all(|w| w[0] < w[1]) || v.windows(2).all(|w| w[0] > w[1]);
        let (xs, label) = [(1, "x"), (0, "y")]
            .iter()
            .map(|&(c, name)| {
                (
                    g.coords.column(c).to_vec(),
                    format!("receiver {name} [{lu}]"),
                )
            })
            .find(|(v, _)| v.len() < 2 || monotone(v))
            .unwrap_or_else(|| {
                (
                    (0..g.traces.nrows()).map(|i| i as f64).collect(),
                    "receiver index".into(),
                )
            });
        let sources = g
            .sources
            .iter()
            .map(|s| format!("({}, {})", s[0], s[1]))
            .collect::<Vec<_>>()
            .join(", ");
        let title = if sources.is_empty() {
            format!("{shot}: {}", g.quantity.long_name)
        } else {
            format!("{shot}: source at (y, x) = {sources} {lu}")
        };
        let style = GatherStyle {
            title,
            x_label: label,
            time_label: format!("t [{tu}], downward"),
            colorbar_label: format!("amplitude [{}]", g.quantity.units),
            ..GatherStyle::default()
        };
        let path = out.claim(&format!("gather_{shot}.png"))?;
        let traces = g.traces.slice(ndarray::s![.., ..recorded]);
        convsim_plot::gather_png(&path, traces, &xs, g.dt, &style).map_err(plot_err)?;
        pics.push(path);
    }
    Ok(pics)
}

/// Axes of the fields of a run by `solver`: `y` up, except depth down for seismic runs; the
/// labels say which way `y` grows.
fn field_axes(grid: &convsim_core::Grid, lu: &str, solver: &str) -> Axes {
    let mut a = Axes::from_grid(grid, lu);
    if solver == "seismic" {
        a.y_label = format!("depth y [{lu}], downward");
        a.with_y_direction(YDirection::Down)
    } else {
        a.y_label = format!("y [{lu}], upward");
        a
    }
}

/// `base` with `title`, and the sequential map instead of the diverging one when the data
/// (every view of `data`) has no negative value: a signed quantity that happens to be
/// non-negative (a potential) is a magnitude.
fn styled<'a>(
    base: &HeatmapStyle,
    title: &str,
    data: impl IntoIterator<Item = ArrayView2<'a, f64>>,
) -> HeatmapStyle {
    let mut s = HeatmapStyle {
        title: title.to_string(),
        ..base.clone()
    };
    if s.colormap == Colormap::Diverging
        && data
            .into_iter()
            .all(|v| v.iter().all(|x| x.is_nan() || *x >= 0.0))
    {
        s.colormap = Colormap::Viridis;
    }
    s
}

/// Where the density of frame `k` is negligible (below [`PHASE_MASK`] of its maximum), from
/// the run's `density` field or from `re` and `im`; `None` when the run has neither.
fn phase_mask(f: &RunFile, k: usize, shape: (usize, usize)) -> Result<Option<Array2<bool>>> {
    let io = |e: convsim_io::IoError| ScenarioError::io(f.path(), e);
    let names: Vec<String> = f
        .fields()
        .map_err(io)?
        .into_iter()
        .map(|d| d.quantity.name)
        .collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    let density = if has("density") {
        f.read_frame("density", k).map_err(io)?
    } else if has("re") && has("im") {
        let (re, im) = (
            f.read_frame("re", k).map_err(io)?,
            f.read_frame("im", k).map_err(io)?,
        );
        ndarray::Zip::from(&re)
            .and(&im)
            .map_collect(|a, b| a * a + b * b)
    } else {
        return Ok(None);
    };
    if density.dim() != shape {
        return Ok(None);
    }
    let max = density
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // NaN density counts as negligible too.
    Ok(Some(density.mapv(|d| d.is_nan() || d < PHASE_MASK * max)))
}

/// A 1D field (one row) as a line plot against `x`.
fn profile_png(
    path: &Path,
    axes: &Axes,
    data: ArrayView2<'_, f64>,
    title: &str,
    q: &convsim_core::Quantity,
) -> Result<()> {
    let row: Vec<f64> = data.row(0).to_vec();
    let style = LineStyle {
        title: title.to_string(),
        x_label: axes.x_label.clone(),
        y_label: format!("{} [{}]", q.name, q.units),
        ..LineStyle::default()
    };
    if row.iter().any(|v| v.is_finite()) {
        convsim_plot::line_plot_png(path, &style, &[(q.name.as_str(), &axes.x, &row)])
            .map_err(plot_err)?;
    }
    Ok(())
}

/// A time for a picture title: plain decimals in the usual range, scientific notation outside.
fn fmt_time(t: f64) -> String {
    if t == 0.0 || (1e-3..1e4).contains(&t.abs()) {
        format!("{t:.4}")
    } else {
        format!("{t:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::subsample;

    #[test]
    fn subsample_keeps_ends_and_bounds() {
        assert_eq!(subsample(5, 10), vec![0, 1, 2, 3, 4]);
        let v = subsample(1001, 100);
        assert_eq!((v[0], *v.last().unwrap(), v.len()), (0, 1000, 100));
        assert!(v.windows(2).all(|w| w[0] < w[1]));
    }
}
