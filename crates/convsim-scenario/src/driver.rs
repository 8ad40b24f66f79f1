//! The run driver: a resolved [`Scenario`] -> solver -> HDF5 run file (+ checkpoints) -> pictures.
//!
//! Output folder layout (`-o DIR`, default `runs/<run name>/`):
//!
//! ```text
//! run.h5              the run file (layout in convsim-io), frames appended and flushed as they come
//! checkpoint.h5       the last checkpoint (only with output.checkpoint_every > 0), replaced atomically
//! <field>_first.png   each written field at the first frame
//! <field>_last.png    ... and at the last frame
//! diagnostics_<d>.png each diagnostic against time
//! gather_<shot>.png   each shot gather (seismic receivers), time down, receivers across
//! <field>.gif         an animation of each field (only with output.gif = true)
//! ```
//!
//! Frames are written at step 0, every `output.every` steps, and at the last step. The state is
//! checked for NaN/infinity at every frame and at least every [`FINITE_CHECK_EVERY`] steps; the
//! run stops at the first non-finite state with [`ScenarioError::NonFinite`], keeping every frame
//! written before. Shot gathers (`Simulation::gathers`) are written to `/receivers/<shot>/` at
//! every frame (only the samples recorded since the previous frame), so a failed run keeps every
//! sample recorded up to its last frame; later samples are NaN and the gather's attribute
//! `samples_recorded` counts the recorded ones. A checkpoint is written (after the frame of the same step) every
//! `output.checkpoint_every` steps; [`RunOptions::resume`] restores the last one, drops the
//! frames written after it, and continues to a file identical to an uninterrupted run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use convsim_core::Simulation;
use convsim_io::{RunMeta, RunWriter};
use ndarray::Array2;

use crate::config::Scenario;
use crate::error::{Result, ScenarioError};
use crate::pictures;

/// Steps between two finiteness checks when no frame is due.
pub const FINITE_CHECK_EVERY: u64 = 100;
/// Name of the run file in the output folder.
pub const RUN_FILE: &str = "run.h5";
/// Name of the checkpoint file in the output folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.h5";

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Output folder (created if missing).
    pub out_dir: PathBuf,
    /// Replace an existing run in `out_dir`.
    pub force: bool,
    /// Continue the run in `out_dir` from its last checkpoint (a fresh run if there is none yet).
    pub resume: bool,
}

/// Where the run is, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Steps done.
    pub step: u64,
    /// Steps in the whole run.
    pub total: u64,
    /// Simulation time.
    pub time: f64,
    /// Frames written so far.
    pub frames: usize,
    /// Unit of `time` (the solver's).
    pub time_units: &'static str,
}

/// What a finished run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    /// The run file.
    pub run_file: PathBuf,
    /// Frames in it.
    pub frames: usize,
    /// Steps taken in total (including those before a resume).
    pub steps: u64,
    /// Final simulation time.
    pub time: f64,
    /// Step the run resumed from, if it did.
    pub resumed_from: Option<u64>,
    /// Pictures drawn.
    pub pictures: Vec<PathBuf>,
    /// Wall-clock seconds spent stepping and writing (pictures excluded).
    pub seconds: f64,
}

/// The default output folder of a scenario: `runs/<run name>`.
#[must_use]
pub fn default_out_dir(s: &Scenario) -> PathBuf {
    Path::new("runs").join(&s.name)
}

/// Steps at which frames are written: 0, every `every`, and the last step.
#[must_use]
pub fn is_frame_step(step: u64, every: u64, total: u64) -> bool {
    step.is_multiple_of(every) || step == total
}

/// The first step after `k` that is a frame, a checkpoint (`checkpoint_every > 0`), a finite
/// check or the last step.
fn next_event(k: u64, every: u64, checkpoint_every: u64, total: u64) -> u64 {
    let next = |m: u64| (k / m + 1) * m;
    let mut e = total.min(next(every)).min(next(FINITE_CHECK_EVERY));
    if checkpoint_every > 0 {
        e = e.min(next(checkpoint_every));
    }
    e
}

fn prepare_dir(dir: &Path, opts: &RunOptions) -> Result<()> {
    prepare_output_dir(dir, RUN_FILE, opts.force || opts.resume)
}

/// Creates `dir` if needed and checks that it is writable; `main` (the file a run or a training
/// writes) must not exist there unless `overwrite`. Shared with `convsim train`.
pub(crate) fn prepare_output_dir(dir: &Path, main: &str, overwrite: bool) -> Result<()> {
    let not_writable = |e: &dyn std::fmt::Display| ScenarioError::OutputNotWritable {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| not_writable(&e))?;
    let probe = dir.join(".convsim-write-probe");
    std::fs::write(&probe, b"").map_err(|e| not_writable(&e))?;
    let _ = std::fs::remove_file(&probe);
    let main = dir.join(main);
    if main.exists() && !overwrite {
        return Err(ScenarioError::OutputExists {
            dir: dir.display().to_string(),
            what: main.display().to_string(),
        });
    }
    Ok(())
}

/// Removes what a previous run wrote into `dir` (`--force`): the run file, the checkpoint and
/// the pictures. Other files are left alone.
fn clear_outputs(dir: &Path) -> Result<()> {
    remove_outputs(dir, |name| {
        name == RUN_FILE
            || name == CHECKPOINT_FILE
            || name == convsim_io::XDMF_FILE
            || Path::new(name)
                .extension()
                .is_some_and(|x| x == "png" || x == "gif")
    })
}

/// Removes the files of `dir` whose names `ours` selects. Shared with `convsim train`.
pub(crate) fn remove_outputs(dir: &Path, ours: impl Fn(&str) -> bool) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let p = e.path();
        if ours(&e.file_name().to_string_lossy()) && p.is_file() {
            std::fs::remove_file(&p).map_err(|e| ScenarioError::OutputNotWritable {
                dir: dir.display().to_string(),
                reason: format!("cannot remove {}: {e}", p.display()),
            })?;
        }
    }
    Ok(())
}

fn meta_of(s: &Scenario, sim: &dyn Simulation) -> RunMeta {
    let mut meta = RunMeta::new(s.kind.name(), &s.text);
    meta.recipe = s.to_json_string();
    meta.time_units = sim.time_units().into();
    meta.length_units = sim.length_units().into();
    meta.attributes.insert("run_name".into(), s.name.clone());
    if !s.description.is_empty() {
        meta.attributes
            .insert("description".into(), s.description.clone());
    }
    meta.attributes
        .insert("scenario_file".into(), s.file.display().to_string());
    if !s.overrides.is_empty() {
        meta.attributes
            .insert("overrides".into(), s.overrides.join(" "));
    }
    crate::provenance::add_to(&mut meta.attributes, s);
    meta
}

/// Runs a scenario to the end. `progress` is called after every advance (at most
/// [`FINITE_CHECK_EVERY`] steps apart).
///
/// # Errors
/// [`ScenarioError::OutputExists`] / [`ScenarioError::OutputNotWritable`] before anything is
/// computed; [`ScenarioError::Resume`] if `--resume` does not fit the folder;
/// [`ScenarioError::NonFinite`] if the state blows up (frames written so far are kept);
/// [`ScenarioError::Io`] / [`ScenarioError::Plot`] if writing fails.
pub fn run(
    s: &Scenario,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunReport> {
    let dir = &opts.out_dir;
    prepare_dir(dir, opts)?;
    let run_path = dir.join(RUN_FILE);
    let ck_path = dir.join(CHECKPOINT_FILE);
    let resuming = opts.resume && (run_path.exists() || ck_path.exists());
    if !resuming {
        clear_outputs(dir)?;
    }
    let resume_err = |reason: String| ScenarioError::Resume {
        dir: dir.display().to_string(),
        reason,
    };

    let mut sim = s.solver.build(s)?;
    let (statics, fields): (Vec<_>, Vec<_>) = sim
        .fields()
        .into_iter()
        .filter(|q| s.output.fields.contains(&q.name))
        .partition(|q| sim.is_static(&q.name));
    if s.output.fields_given
        && let Some(missing) = s
            .output
            .fields
            .iter()
            .find(|n| !fields.iter().chain(&statics).any(|q| &q.name == *n))
    {
        let produced: Vec<String> = sim.fields().into_iter().map(|q| q.name).collect();
        return Err(ScenarioError::Invalid {
            file: s.file.display().to_string(),
            key: "output.fields".into(),
            value: format!("{missing:?}"),
            allowed: format!(
                "fields this run produces: {} (the others need inputs this scenario does not \
                 set, such as a seismic density model)",
                produced.join(", ")
            ),
        });
    }
    let diags = sim.diagnostics();
    let total = s.time.steps;
    let every = s.output.every;

    let (mut writer, resumed_from) = if resuming {
        if !ck_path.exists() {
            return Err(resume_err(format!(
                "no {CHECKPOINT_FILE} (set output.checkpoint_every to write checkpoints); start over with --force"
            )));
        }
        if !run_path.exists() {
            return Err(resume_err(format!(
                "{CHECKPOINT_FILE} exists but {RUN_FILE} does not; start over with --force"
            )));
        }
        let ck =
            convsim_io::read_checkpoint(&ck_path).map_err(|e| ScenarioError::io(&ck_path, e))?;
        if ck.meta.scenario != s.text {
            return Err(resume_err(
                "the checkpoint was written by a different scenario (file or --set values changed); run with the same ones, or start over with --force".into(),
            ));
        }
        if ck.step > total {
            return Err(resume_err(format!(
                "the checkpoint is at step {} but the scenario has {total} steps",
                ck.step
            )));
        }
        sim.restore(ck.step, ck.time, &ck.state)
            .map_err(resume_err)?;
        let w =
            RunWriter::resume(&run_path, ck.step).map_err(|e| ScenarioError::io(&run_path, e))?;
        (w, Some(ck.step))
    } else {
        let mut w = RunWriter::create(&run_path, &meta_of(s, sim.as_ref()), &sim.grid())
            .map_err(|e| ScenarioError::io(&run_path, e))?;
        crate::provenance::add_numbers(&mut w).map_err(|e| ScenarioError::io(&run_path, e))?;
        for q in &fields {
            w.add_field(q)
                .map_err(|e| ScenarioError::io(&run_path, e))?;
        }
        for q in &diags {
            w.add_diagnostic(q)
                .map_err(|e| ScenarioError::io(&run_path, e))?;
        }
        // Static fields (a velocity model, a time-independent potential): once, not per frame.
        let mut buf = Array2::zeros(sim.grid().shape());
        for q in &statics {
            sim.write_field(&q.name, buf.view_mut());
            w.add_static_field(q, buf.view())
                .map_err(|e| ScenarioError::io(&run_path, e))?;
        }
        (w, None)
    };

    let start = Instant::now();
    let grid = sim.grid();
    let mut bufs: Vec<Array2<f64>> = fields.iter().map(|_| Array2::zeros(grid.shape())).collect();
    let mut dvals = vec![0.0; diags.len()];
    let mut last_written = resumed_from.unwrap_or(0);
    let non_finite = |sim: &dyn Simulation, last_written: u64| ScenarioError::NonFinite {
        file: s.file.display().to_string(),
        dt: s.time.dt,
        step: sim.step_count(),
        time: sim.time(),
        last_written,
        run_file: run_path.display().to_string(),
    };
    let mut write_frame =
        |sim: &dyn Simulation, w: &mut RunWriter, bufs: &mut [Array2<f64>]| -> Result<()> {
            // Gathers before the frame: `append` writes the scales last and flushes, so a
            // reader never sees a frame whose gathers lag behind it.
            for g in sim.gathers() {
                w.write_gather(&g)
                    .map_err(|e| ScenarioError::io(&run_path, e))?;
            }
            for (q, b) in fields.iter().zip(bufs.iter_mut()) {
                sim.write_field(&q.name, b.view_mut());
            }
            sim.diagnostic_values(&mut dvals);
            let views: Vec<(&str, ndarray::ArrayView2<'_, f64>)> = fields
                .iter()
                .zip(bufs.iter())
                .map(|(q, b)| (q.name.as_str(), b.view()))
                .collect();
            w.append(sim.step_count(), sim.time(), &views, &dvals)
                .map_err(|e| ScenarioError::io(&run_path, e))
        };

    if resumed_from.is_none() {
        if !sim.is_finite() {
            return Err(non_finite(sim.as_ref(), 0));
        }
        write_frame(sim.as_ref(), &mut writer, &mut bufs)?;
    }
    let time_units = sim.time_units();
    progress(Progress {
        step: sim.step_count(),
        total,
        time: sim.time(),
        frames: writer.frames(),
        time_units,
    });
    while sim.step_count() < total && sim.converged() != Some(true) {
        // Nothing is observed between events (frames, checkpoints, finite checks), so the steps
        // up to the next one run as one `advance` (merged or fused steps where the solver has
        // them); the events fall on the same steps in a resumed run, which stays bit-identical.
        let k0 = sim.step_count();
        sim.advance(next_event(k0, every, s.output.checkpoint_every, total) - k0);
        let k = sim.step_count();
        // A converged solver (imaginary-time ground state) stops here with a last frame.
        let frame = is_frame_step(k, every, total) || sim.converged() == Some(true);
        let ck = s.output.checkpoint_every > 0
            && k.is_multiple_of(s.output.checkpoint_every)
            && k < total;
        if (frame || ck || k.is_multiple_of(FINITE_CHECK_EVERY)) && !sim.is_finite() {
            return Err(non_finite(sim.as_ref(), last_written));
        }
        if frame {
            write_frame(sim.as_ref(), &mut writer, &mut bufs)?;
            last_written = k;
        }
        if ck {
            // After the frame of the same step: a resume from here keeps that frame.
            convsim_io::write_checkpoint(
                &ck_path,
                k,
                sim.time(),
                &sim.state(),
                &meta_of(s, sim.as_ref()),
            )
            .map_err(|e| ScenarioError::io(&ck_path, e))?;
        }
        progress(Progress {
            step: k,
            total,
            time: sim.time(),
            frames: writer.frames(),
            time_units,
        });
    }
    // The last step is a frame, so the gathers are complete; written again in case the loop
    // did not run (a resume from the last step).
    for g in sim.gathers() {
        writer
            .write_gather(&g)
            .map_err(|e| ScenarioError::io(&run_path, e))?;
    }
    if let Some(c) = sim.converged() {
        crate::provenance::record_convergence(&mut writer, c, sim.step_count())
            .map_err(|e| ScenarioError::io(&run_path, e))?;
    }
    writer
        .set_attribute("status", "completed")
        .map_err(|e| ScenarioError::io(&run_path, e))?;
    let frames = writer.frames();
    writer
        .close()
        .map_err(|e| ScenarioError::io(&run_path, e))?;
    let seconds = start.elapsed().as_secs_f64();
    // ParaView / VisIt read the run through this XDMF sidecar.
    let xdmf = dir.join(convsim_io::XDMF_FILE);
    convsim_io::write_xdmf(&run_path, &xdmf).map_err(|e| ScenarioError::io(&xdmf, e))?;

    let pics = if s.output.plots {
        pictures::draw_run(
            &run_path,
            dir,
            &pictures::PlotRequest::end_of_run(s.output.gif),
        )?
    } else {
        Vec::new()
    };
    Ok(RunReport {
        run_file: run_path,
        frames,
        steps: sim.step_count(),
        time: sim.time(),
        resumed_from,
        pictures: pics,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::{FINITE_CHECK_EVERY, is_frame_step, next_event};

    #[test]
    fn advances_stop_at_every_event() {
        // Walking from 0 by `next_event` visits exactly the frames, the checkpoints, the finite
        // checks and the last step, in order, and nothing else.
        for (every, ck, total) in [
            (7, 0, 50),
            (10, 25, 333),
            (1, 0, 5),
            (500, 0, 1234),
            (3, 4, 3),
        ] {
            let mut k = 0;
            let mut seen = Vec::new();
            while k < total {
                let e = next_event(k, every, ck, total);
                assert!(e > k && e <= total, "every {every} ck {ck}: {k} -> {e}");
                seen.push(e);
                k = e;
            }
            let want: Vec<u64> = (1..=total)
                .filter(|&s| {
                    is_frame_step(s, every, total)
                        || (ck > 0 && s.is_multiple_of(ck))
                        || s.is_multiple_of(FINITE_CHECK_EVERY)
                })
                .collect();
            assert_eq!(seen, want, "every {every} ck {ck} total {total}");
        }
    }
}
