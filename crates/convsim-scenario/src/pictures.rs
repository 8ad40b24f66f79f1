//! Pictures of a run file: heatmap PNGs of fields, a line plot of the diagnostics, GIFs.
//!
//! Used by the driver at the end of a run and by `convsim plot`. Pictures are drawn from the
//! run file (not from solver memory), so they show exactly what was saved. Row 0 (`y = y0`, the
//! `top` boundary of the scenario) is drawn at the top.
//!
//! File names in the output folder: `<field>_first.png`, `<field>_last.png`,
//! `<field>_frame<K>.png` (K zero-padded to 4 digits), `<field>.gif`, `diagnostics_<name>.png`,
//! `gather_<shot>.png` (a seismic shot gather: time down, receivers across, grey, clipped at
//! the 98th percentile of |amplitude|; only the samples recorded).
//!
//! Each picture is recorded in the folder's manifest before it is written, and a file of the
//! same name that convsim did not write is never overwritten ([`crate::outputs`]).

use std::path::{Path, PathBuf};

use convsim_io::RunFile;
use convsim_plot::{Axes, GatherStyle, HeatmapStyle, LineStyle, YDirection};

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

/// Milliseconds per GIF frame.
const GIF_DELAY_MS: u32 = 100;
/// Most frames a GIF holds; longer runs are subsampled evenly (first and last kept).
const GIF_MAX_FRAMES: usize = 100;

fn plot_err(e: convsim_plot::PlotError) -> ScenarioError {
    let (file, reason) = match &e {
        convsim_plot::PlotError::Invalid { path, message }
        | convsim_plot::PlotError::Draw { path, message } => {
            (path.display().to_string(), message.clone())
        }
        #[allow(unreachable_patterns)]
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

/// The names [`draw_run`] writes at the end of a run (`PlotRequest::end_of_run`), so the run
/// can refuse before it computes when one of them is a file convsim did not write.
#[must_use]
pub fn end_of_run_names(
    fields: &[String],
    diagnostics: &[String],
    shots: &[String],
    gif: bool,
) -> Vec<String> {
    let mut v = Vec::new();
    for f in fields {
        v.push(format!("{f}_first.png"));
        v.push(format!("{f}_last.png"));
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
    let infos = f.fields().map_err(io)?;
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
    let axes = Axes::from_grid(&grid, &meta.length_units).with_y_direction(YDirection::Down);
    let tu = &meta.time_units;
    for info in &chosen {
        let q = &info.quantity;
        let base = HeatmapStyle::for_quantity(q);
        for (k, tag) in &frames {
            let data = f.read_frame(&q.name, *k).map_err(io)?;
            let path = out.claim(&format!("{}_{tag}.png", q.name))?;
            let style = HeatmapStyle {
                title: format!("{} at t = {} {tu} (frame {k})", q.name, fmt_time(times[*k])),
                ..base.clone()
            };
            convsim_plot::heatmap_png(&path, data.view(), &axes, &style).map_err(plot_err)?;
            pics.push(path);
        }
        if req.gif {
            // Only the frames the GIF shows are read (at most GIF_MAX_FRAMES of them).
            let ks = subsample(n, GIF_MAX_FRAMES);
            let shown = ks
                .iter()
                .map(|&k| f.read_frame(&q.name, k).map_err(io))
                .collect::<Result<Vec<_>>>()?;
            let path = out.claim(&format!("{}.gif", q.name))?;
            let frames = ks.iter().zip(&shown).map(|(&k, a)| {
                (
                    format!("{} at t = {:.4e} {tu}", q.long_name, times[k]),
                    a.view(),
                )
            });
            convsim_plot::gif_titled(&path, frames, &axes, &base, GIF_DELAY_MS)
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
            time_label: format!("t [{tu}]"),
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
