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
//! Frames are written at step 0, every `output.every` steps, and at the last step, by a writer
//! thread while the solver computes the next steps (`frames.rs`); the run waits for a frame's
//! write only at the next frame, a checkpoint, an interrupt or the end. The state is
//! checked for NaN/infinity at every frame and at least every [`FINITE_CHECK_EVERY`] steps; the
//! run stops at the first non-finite state with [`ScenarioError::NonFinite`], keeping every frame
//! written before. Shot gathers (`Simulation::gathers`) are written to `/receivers/<shot>/` at
//! every frame (only the samples recorded since the previous frame), so a failed run keeps every
//! sample recorded up to its last frame; later samples are NaN and the gather's attribute
//! `samples_recorded` counts the recorded ones. A checkpoint is written (after the frame of the same step) every
//! `output.checkpoint_every` steps; [`RunOptions::resume`] restores the last one (or the
//! initial state when the run stopped before its first checkpoint), drops the frames written
//! after it, and continues to a file identical to an uninterrupted run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Instant;

use convsim_core::Simulation;
use convsim_io::{IoError, RunFile, RunMeta, RunWriter};
use ndarray::Array2;

use crate::config::Scenario;
use crate::error::{Result, ScenarioError};
use crate::frames::{self, FrameWriter};
use crate::outputs::OutputDir;
use crate::pictures;

/// Steps between two finiteness checks when no frame is due.
pub const FINITE_CHECK_EVERY: u64 = 100;
/// Cell updates between two stop checks (SIGINT / SIGTERM): a grid of `c` cells is checked
/// every `clamp(STOP_CHECK_CELLS / c, 1, FINITE_CHECK_EVERY)` steps, a fraction of a second
/// whatever the grid, while the steps in between still run as one merged `advance`.
pub const STOP_CHECK_CELLS: u64 = 1 << 24;
/// Name of the run file in the output folder.
pub const RUN_FILE: &str = "run.h5";
/// Name of the checkpoint file in the output folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.h5";

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Output folder (created if missing).
    pub out_dir: PathBuf,
    /// Replace an existing run in `out_dir` (only files convsim wrote are removed, and only
    /// once the new run has written its first frame).
    pub force: bool,
    /// Continue the run in `out_dir` from its last checkpoint (a fresh run if there is none yet;
    /// nothing to do if it is complete).
    pub resume: bool,
    /// Set to a signal number (2 for SIGINT, 15 for SIGTERM) to stop the run at the next step
    /// boundary: it writes a checkpoint, marks the file `status = "interrupted"` and returns
    /// [`ScenarioError::Interrupted`]. The CLI's signal handler sets it.
    pub stop: Option<&'static AtomicI32>,
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
    /// `true` if `--resume` found the run already complete (nothing was run or written).
    pub already_complete: bool,
    /// Pictures drawn.
    pub pictures: Vec<PathBuf>,
    /// Wall-clock seconds spent stepping and writing (pictures excluded).
    pub seconds: f64,
    /// Where those seconds went.
    pub timing: Timing,
}

/// Wall-clock seconds of a run by what the driver was doing; what the driver adds to the
/// solver's stepping is everything but `stepping`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timing {
    /// `Simulation::advance`: the solver's time steps.
    pub stepping: f64,
    /// Frames as the stepping waits for them: copies out of the solver (fields, diagnostics,
    /// gathers), and waits for the previous frame's write when it is still running.
    pub frames: f64,
    /// Frames' HDF5 writes on the writer thread, overlapped with stepping (in `seconds` only
    /// as far as `frames` waited for them).
    pub writing: f64,
    /// Checkpoints (written and renamed atomically).
    pub checkpoints: f64,
    /// Finite-value checks between frames.
    pub checks: f64,
    /// Pictures drawn from the run file after the run (not part of `RunReport::seconds`).
    pub pictures: f64,
}

/// Adds the wall-clock seconds `f` takes to `acc`.
fn timed<T>(acc: &mut f64, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    *acc += t.elapsed().as_secs_f64();
    r
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

/// Steps between two stop checks on a grid of `cells` cells (see [`STOP_CHECK_CELLS`]).
#[must_use]
pub fn stop_check_every(cells: usize) -> u64 {
    (STOP_CHECK_CELLS / (cells.max(1) as u64)).clamp(1, FINITE_CHECK_EVERY)
}

/// The first step after `k` that is a frame, a checkpoint (`checkpoint_every > 0`), a stop
/// check (a multiple of `check`), a finite check (a multiple of [`FINITE_CHECK_EVERY`]) or the
/// last step.
fn next_event(k: u64, every: u64, checkpoint_every: u64, check: u64, total: u64) -> u64 {
    let next = |m: u64| (k / m + 1) * m;
    let mut e = total
        .min(next(every))
        .min(next(FINITE_CHECK_EVERY))
        .min(next(check));
    if checkpoint_every > 0 {
        e = e.min(next(checkpoint_every));
    }
    e
}

/// A run file smaller than this that does not open is what a kill before the first frame left
/// (the superblock, or less); a larger one is damaged.
const NOT_STARTED_BYTES: u64 = 4096;

/// What the output folder holds before a run.
#[derive(Debug)]
enum Existing {
    /// No run file.
    Absent,
    /// A run file convsim wrote that holds no frame (0 bytes, only a header, or cut before its
    /// first frame by a kill): counts as no run.
    NotStarted,
    /// A run file convsim wrote that cannot be read (damaged): replaced only with `--force`.
    Unreadable(String),
    /// A run with frames.
    Started {
        completed: bool,
        frames: usize,
        last: (u64, f64),
        scenario: String,
    },
}

fn existing_run(out: &OutputDir) -> Result<Existing> {
    let path = out.join(RUN_FILE);
    if path.symlink_metadata().is_err() {
        return Ok(Existing::Absent);
    }
    if !out.is_ours(RUN_FILE) {
        return Err(ScenarioError::OutputForeign {
            file: path.display().to_string(),
        });
    }
    let f = match RunFile::open(&path) {
        Ok(f) => f,
        Err(e @ IoError::Locked { .. }) => return Err(ScenarioError::io(&path, e)),
        // Smaller than an HDF5 file with its groups: a kill before the first frame.
        Err(_) if path.metadata().is_ok_and(|m| m.len() < NOT_STARTED_BYTES) => {
            return Ok(Existing::NotStarted);
        }
        Err(e) => return Ok(Existing::Unreadable(e.to_string())),
    };
    if f.frames() == 0 {
        return Ok(Existing::NotStarted);
    }
    let io = |e| ScenarioError::io(&path, e);
    let attrs = f.attributes().map_err(io)?;
    let last = (
        *f.steps().map_err(io)?.last().unwrap_or(&0),
        *f.times().map_err(io)?.last().unwrap_or(&0.0),
    );
    Ok(Existing::Started {
        completed: attrs.get("status").is_some_and(|s| s == "completed"),
        frames: f.frames(),
        last,
        scenario: attrs.get("scenario").cloned().unwrap_or_default(),
    })
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
/// A fresh run writes `run.h5.new-<pid>` beside an existing run and renames it to `run.h5`
/// once its first frame is written; only then are the old run's checkpoint and pictures (files
/// convsim wrote, see [`crate::outputs`]) removed. A failure before that (a full disk, an
/// interrupt) leaves the old run as it was.
///
/// # Errors
/// [`ScenarioError::OutputExists`] / [`ScenarioError::OutputNotWritable`] /
/// [`ScenarioError::OutputBusy`] / [`ScenarioError::OutputForeign`] before anything is
/// computed; [`ScenarioError::Resume`] if `--resume` does not fit the folder;
/// [`ScenarioError::NonFinite`] if the state blows up (frames written so far are kept);
/// [`ScenarioError::Interrupted`] when [`RunOptions::stop`] is set; [`ScenarioError::Io`] /
/// [`ScenarioError::Plot`] if writing fails.
pub fn run(
    s: &Scenario,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunReport> {
    run_with(s, opts, &mut |s| s.solver.build(s), progress)
}

/// [`run`] with the solver built by `build` (called at most once, after the output folder
/// checks): a distributed run passes a solver that presents the whole grid on rank 0.
///
/// # Errors
/// As [`run`], and those of `build`.
pub fn run_with(
    s: &Scenario,
    opts: &RunOptions,
    build: &mut dyn FnMut(&Scenario) -> Result<Box<dyn Simulation>>,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunReport> {
    let dir = &opts.out_dir;
    let mut out = OutputDir::open(dir)?;
    let run_path = out.join(RUN_FILE);
    let ck_path = out.join(CHECKPOINT_FILE);
    let resume_err = |reason: String| ScenarioError::Resume {
        dir: dir.display().to_string(),
        reason,
    };
    let existing = existing_run(&out)?;
    let resuming = match &existing {
        Existing::Started {
            completed,
            frames,
            last,
            scenario,
        } if opts.resume => {
            if *scenario != s.text {
                return Err(resume_err(
                    "the run in this folder was written by a different scenario (file or --set values changed); run with the same ones, or start over with --force".into(),
                ));
            }
            if *completed {
                return Ok(RunReport {
                    run_file: run_path,
                    frames: *frames,
                    steps: last.0,
                    time: last.1,
                    resumed_from: None,
                    already_complete: true,
                    pictures: Vec::new(),
                    seconds: 0.0,
                    timing: Timing::default(),
                });
            }
            true
        }
        Existing::Started { .. } if !opts.force => {
            return Err(ScenarioError::OutputExists {
                dir: dir.display().to_string(),
                what: run_path.display().to_string(),
            });
        }
        Existing::Unreadable(why) if opts.resume || !opts.force => {
            return Err(ScenarioError::invalid(
                dir.display().to_string(),
                RUN_FILE,
                format!("cannot be read ({why})"),
                "allowed: --force to replace it, or -o DIR to write elsewhere",
            ));
        }
        _ => false,
    };
    out.check_writable(CHECKPOINT_FILE)?;
    out.check_writable(convsim_io::XDMF_FILE)?;

    let mut sim = build(s)?;
    // `validate` refused listed fields the solver cannot produce; the default list is narrowed.
    let (statics, fields): (Vec<_>, Vec<_>) = sim
        .fields()
        .into_iter()
        .filter(|q| s.output.fields.contains(&q.name))
        .partition(|q| sim.is_static(&q.name));
    let diags = sim.diagnostics();
    // A distributed run whose ranks write their own tiles: its fields are virtual datasets.
    let tiled = frames::tiled(sim.as_ref()).is_some();
    let field_names: Vec<String> = fields.iter().map(|q| q.name.clone()).collect();
    if s.output.plots && !resuming {
        // A picture name taken by a file convsim did not write is refused before computing.
        let names =
            |v: &[convsim_core::Quantity]| v.iter().map(|q| q.name.clone()).collect::<Vec<_>>();
        let shots: Vec<String> = sim.gathers().iter().map(|g| g.name.clone()).collect();
        for p in pictures::end_of_run_names(&names(&fields), &names(&diags), &shots, s.output.gif) {
            out.check_writable(&p)?;
        }
    }
    let total = s.time.steps;
    let every = s.output.every;
    let check = stop_check_every(s.grid.ny.saturating_mul(s.grid.nx));
    let stop = || opts.stop.map_or(0, |a| a.load(Ordering::Relaxed));

    // Bounded by the footprint check (`limits`), which counts every frame on disk.
    let planned_frames = usize::try_from(s.output.frames).unwrap_or(usize::MAX);
    // The new run's files are written under temporary names until its first frame is in.
    let tile_suffix = format!(".new-{}", std::process::id());
    let (writer, resumed_from) = if resuming {
        // Without a checkpoint (killed before the first one), the state at step 0 is the
        // scenario's initial state: the run continues from there.
        let from = if ck_path.exists() {
            let ck =
                convsim_io::read_checkpoint(&ck_path).map_err(|e| resume_err(e.to_string()))?;
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
                .map_err(|e| resume_err(e.to_string()))?;
            ck.step
        } else {
            0
        };
        let mut w =
            RunWriter::resume(&run_path, from).map_err(|e| ScenarioError::io(&run_path, e))?;
        w.reserve_frames(planned_frames)
            .and_then(|()| w.set_attribute("status", "running"))
            .map_err(|e| ScenarioError::io(&run_path, e))?;
        if let Some(t) = frames::tiled(sim.as_ref()) {
            let n = t.tile_sources().len();
            if out.join(&convsim_io::tile_file_name(n)).exists() {
                return Err(resume_err(format!(
                    "the run was written by more than the {n} ranks of this one: resume it \
                     with the process grid it was started with"
                )));
            }
            t.open_tiles(
                out.path(),
                "",
                &field_names,
                planned_frames,
                Some(w.frames()),
            )?;
        }
        (w, Some(from))
    } else {
        let tmp_name = format!("{RUN_FILE}{tile_suffix}");
        let tmp = out.claim(&tmp_name)?;
        // Planned: no frame after the first allocates space, so a kill at any moment leaves
        // every dataset readable (see `RunWriter::create_planned`).
        let mut w =
            RunWriter::create_planned(&tmp, &meta_of(s, sim.as_ref()), &sim.grid(), planned_frames)
                .map_err(|e| ScenarioError::io(&tmp, e))?;
        crate::provenance::add_numbers(&mut w).map_err(|e| ScenarioError::io(&tmp, e))?;
        w.compress_fields(s.output.compress);
        if let Some(t) = frames::tiled(sim.as_ref()) {
            // Beside the old run's tiles, which go only once the new run has its first frame.
            let sources = t.tile_sources();
            let tiles_dir = out.join(convsim_io::TILES_DIR);
            std::fs::create_dir_all(&tiles_dir).map_err(|e| ScenarioError::OutputNotWritable {
                dir: dir.display().to_string(),
                reason: format!("cannot create {}: {e}", tiles_dir.display()),
            })?;
            for src in &sources {
                out.check_writable(&src.file)?;
                out.claim(&format!("{}{tile_suffix}", src.file))?;
            }
            t.open_tiles(out.path(), &tile_suffix, &field_names, planned_frames, None)?;
            for q in &fields {
                w.add_tiled_field(q, &sources)
                    .map_err(|e| ScenarioError::io(&tmp, e))?;
            }
        } else {
            for q in &fields {
                w.add_field(q).map_err(|e| ScenarioError::io(&tmp, e))?;
            }
        }
        for q in &diags {
            w.add_diagnostic(q)
                .map_err(|e| ScenarioError::io(&tmp, e))?;
        }
        // Static fields (a velocity model, a time-independent potential): once, not per frame.
        let mut buf = Array2::zeros(sim.grid().shape());
        for q in &statics {
            sim.write_field(&q.name, buf.view_mut());
            w.add_static_field(q, buf.view())
                .map_err(|e| ScenarioError::io(&tmp, e))?;
        }
        w.set_attribute("status", "running")
            .map_err(|e| ScenarioError::io(&tmp, e))?;
        (w, None)
    };

    let start = Instant::now();
    let mut timing = Timing::default();
    let mut frames_submitted = writer.frames();
    let mut writer = FrameWriter::new(
        writer,
        if tiled { Vec::new() } else { field_names },
        sim.grid().shape(),
        diags.len(),
    );
    let mut last_written = resumed_from.unwrap_or(0);
    let non_finite = |sim: &dyn Simulation, last_written: u64| ScenarioError::NonFinite {
        file: s.file.display().to_string(),
        dt: s.time.dt,
        step: sim.step_count(),
        time: sim.time(),
        last_written,
        run_file: run_path.display().to_string(),
    };
    let checkpoint = |sim: &dyn Simulation| -> Result<()> {
        convsim_io::write_checkpoint(
            &ck_path,
            sim.step_count(),
            sim.time(),
            &sim.state(),
            &meta_of(s, sim),
        )
        .map_err(|e| ScenarioError::io(&ck_path, e))
    };

    if resumed_from.is_none() {
        if !sim.is_finite() {
            return Err(non_finite(sim.as_ref(), 0));
        }
        // Written before anything else happens: the old run goes only once it is in the file.
        timed(&mut timing.frames, || {
            writer.submit(sim.as_ref())?;
            writer.writer().map(|_| ())
        })?;
        frames_submitted += 1;
        // The new run has validated and written its first frame: only now does the old run
        // (files convsim wrote) go, and the new file takes its name.
        let tmp_name = writer
            .writer()?
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sig = stop();
        if sig != 0 {
            // Stopped before the new run replaced anything: the folder stays as it was.
            drop(writer);
            out.remove(&tmp_name)?;
            return Err(ScenarioError::InterruptedBeforeStart {
                signal: sig,
                dir: dir.display().to_string(),
            });
        }
        let new_tiles: Vec<String> = frames::tiled(sim.as_ref())
            .map(frames::TiledFields::tile_sources)
            .unwrap_or_default()
            .into_iter()
            .map(|src| src.file)
            .collect();
        let tiles_prefix = format!("{}/", convsim_io::TILES_DIR);
        let new_names: Vec<String> = new_tiles
            .iter()
            .map(|f| format!("{f}{tile_suffix}"))
            .collect();
        out.remove_ours(
            |n| {
                n == CHECKPOINT_FILE
                    || n == convsim_io::XDMF_FILE
                    || pictures::is_picture(n)
                    || (n.starts_with(&tiles_prefix) && !new_names.iter().any(|m| m == n))
            },
            &[],
        )?;
        // The tiles take their final names (the run file's virtual fields name those) while
        // the ranks keep them open.
        for (f, tmp) in new_tiles.iter().zip(&new_names) {
            out.rename(tmp, f, true)?;
        }
        let replace = !matches!(existing, Existing::Absent);
        out.rename(&tmp_name, RUN_FILE, replace)?;
        writer.writer()?.renamed(&run_path);
    }
    // Recorded before the first one is written, so a kill mid-write leaves it listed.
    let ck_tmp = format!("{CHECKPOINT_FILE}.tmp-{}", std::process::id());
    out.record(CHECKPOINT_FILE)?;
    out.record(&ck_tmp)?;
    let time_units = sim.time_units();
    progress(Progress {
        step: sim.step_count(),
        total,
        time: sim.time(),
        frames: frames_submitted,
        time_units,
    });
    let mut last_checkpoint = resumed_from;
    while sim.step_count() < total && sim.converged() != Some(true) {
        let sig = stop();
        if sig != 0 {
            return Err(interrupt(
                sim.as_ref(),
                writer.writer()?,
                last_checkpoint,
                sig,
                &checkpoint,
                &non_finite,
                last_written,
            ));
        }
        // Nothing is observed between events (frames, checkpoints, finite and stop checks), so
        // the steps up to the next one run as one `advance` (merged or fused steps where the
        // solver has them); the events fall on the same steps in a resumed run, which stays
        // bit-identical.
        let k0 = sim.step_count();
        let n = next_event(k0, every, s.output.checkpoint_every, check, total) - k0;
        timed(&mut timing.stepping, || sim.advance(n));
        let k = sim.step_count();
        // A converged solver (imaginary-time ground state) stops here with a last frame.
        let frame = is_frame_step(k, every, total) || sim.converged() == Some(true);
        let ck = s.output.checkpoint_every > 0
            && k.is_multiple_of(s.output.checkpoint_every)
            && k < total;
        if (frame || ck || k.is_multiple_of(FINITE_CHECK_EVERY))
            && !timed(&mut timing.checks, || sim.is_finite())
        {
            return Err(non_finite(sim.as_ref(), last_written));
        }
        if frame {
            // Copied out here, written on the writer thread while the next steps run.
            timed(&mut timing.frames, || writer.submit(sim.as_ref()))?;
            frames_submitted += 1;
            last_written = k;
        }
        if ck {
            // After the frame of the same step (a resume from here keeps that frame), which
            // must be in the file first.
            timed(&mut timing.frames, || writer.writer().map(|_| ()))?;
            timed(&mut timing.checkpoints, || checkpoint(sim.as_ref()))?;
            last_checkpoint = Some(k);
        }
        progress(Progress {
            step: k,
            total,
            time: sim.time(),
            frames: frames_submitted,
            time_units,
        });
    }
    let (mut writer, writing) = timed(&mut timing.frames, || writer.finish())?;
    timing.writing = writing;
    // Before the run file is read back (XDMF, pictures): HDF5 reads a tile only once no
    // writer of this process holds it.
    if let Some(t) = frames::tiled(sim.as_ref()) {
        timed(&mut timing.frames, || t.close_tiles())?;
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
    // Every checkpoint write renamed or removed its temporary: drop it from the manifest.
    out.remove(&ck_tmp)?;
    let seconds = start.elapsed().as_secs_f64();
    // ParaView / VisIt read the run through this XDMF sidecar.
    let xdmf = out.claim(convsim_io::XDMF_FILE)?;
    convsim_io::write_xdmf(&run_path, &xdmf).map_err(|e| ScenarioError::io(&xdmf, e))?;
    let (steps, time) = (sim.step_count(), sim.time());
    // The pictures read the file back: the solver's memory is freed first (see limits).
    drop(sim);

    let pics = if s.output.plots && stop() == 0 {
        timed(&mut timing.pictures, || {
            pictures::draw_run(
                &run_path,
                &mut out,
                &pictures::PlotRequest::end_of_run(s.output.gif),
            )
        })?
    } else {
        Vec::new()
    };
    Ok(RunReport {
        run_file: run_path,
        frames,
        steps,
        time,
        resumed_from,
        already_complete: false,
        pictures: pics,
        seconds,
        timing,
    })
}

/// Stops an interrupted run at its current step: a checkpoint of this step (unless the last
/// one is of this step), `status = "interrupted"`, the file closed.
fn interrupt(
    sim: &dyn Simulation,
    writer: &mut RunWriter,
    last_checkpoint: Option<u64>,
    signal: i32,
    checkpoint: &dyn Fn(&dyn Simulation) -> Result<()>,
    non_finite: &dyn Fn(&dyn Simulation, u64) -> ScenarioError,
    last_written: u64,
) -> ScenarioError {
    let k = sim.step_count();
    let path = writer.path().to_path_buf();
    if !sim.is_finite() {
        return non_finite(sim, last_written);
    }
    if last_checkpoint != Some(k)
        && let Err(e) = checkpoint(sim)
    {
        return e;
    }
    if let Err(e) = writer
        .set_attribute("status", "interrupted")
        .and_then(|()| writer.flush())
    {
        return ScenarioError::io(&path, e);
    }
    ScenarioError::Interrupted {
        signal,
        step: k,
        time: sim.time(),
        frames: writer.frames(),
        run_file: path.display().to_string(),
        resumable: sim.resumable(),
    }
}

#[cfg(test)]
mod tests {
    use super::{FINITE_CHECK_EVERY, is_frame_step, next_event, stop_check_every};

    #[test]
    fn advances_stop_at_every_event() {
        // Walking from 0 by `next_event` visits exactly the frames, the checkpoints, the finite
        // checks and the last step, in order, and nothing else.
        for (every, ck, check, total) in [
            (7, 0, 100, 50),
            (10, 25, 100, 333),
            (1, 0, 100, 5),
            (500, 0, 100, 1234),
            (3, 4, 100, 3),
            (500, 0, 7, 1234),
            (50, 30, 1, 120),
        ] {
            let mut k = 0;
            let mut seen = Vec::new();
            while k < total {
                let e = next_event(k, every, ck, check, total);
                assert!(e > k && e <= total, "every {every} ck {ck}: {k} -> {e}");
                seen.push(e);
                k = e;
            }
            let want: Vec<u64> = (1..=total)
                .filter(|&s| {
                    is_frame_step(s, every, total)
                        || (ck > 0 && s.is_multiple_of(ck))
                        || s.is_multiple_of(FINITE_CHECK_EVERY)
                        || s.is_multiple_of(check)
                })
                .collect();
            assert_eq!(seen, want, "every {every} ck {ck} total {total}");
        }
    }

    #[test]
    fn stop_checks_come_sooner_on_large_grids() {
        assert_eq!(stop_check_every(64 * 64), FINITE_CHECK_EVERY);
        assert_eq!(stop_check_every(1024 * 1024), 16);
        assert_eq!(stop_check_every(8192 * 8192), 1);
        assert_eq!(stop_check_every(0), FINITE_CHECK_EVERY);
    }
}
