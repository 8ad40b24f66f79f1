//! Frames written while the solver steps on.
//!
//! A frame is copied out of the solver (fields, diagnostic values) into one of two buffer sets,
//! and a writer thread appends it to the run file while the main thread computes the next
//! steps (the gathers' new samples, small, are written by the main thread before it). The main thread waits only when the previous frame is still
//! being written at the next one (or when it needs the file itself: checkpoints, the end of the
//! run, an error). Only one thread touches HDF5 at a time: the [`RunWriter`] moves into the
//! writer thread with the frame and comes back when the thread is joined.
//!
//! What is on disk is the same as writing in place, frame for frame and bit for bit; a frame
//! counts as written once it has been joined, so a run that fails keeps every frame before the
//! one in flight, and the in-flight one too unless the failure is its own write.
//!
//! A distributed run with `parallel.output = "tiles"` ([`TiledFields`]) copies no field here:
//! every rank writes its own tile, synchronously, when the frame is submitted, and the run
//! file (virtual fields) gets only the diagnostics and the scales, after every tile is
//! written.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::Instant;

use convsim_core::Simulation;
use convsim_io::{IoError, RunWriter, TileSource};
use ndarray::Array2;

use crate::error::{Result, ScenarioError};

/// A solver whose ranks write their own tiles of the fields (a distributed run with
/// `parallel.output = "tiles"`): the run file's fields are then virtual datasets over the
/// tile files ([`RunWriter::add_tiled_field`]) and no whole field is copied. Every method is
/// collective over the ranks and returns the lowest failing rank's error.
pub(crate) trait TiledFields {
    /// Every rank's tile, in rank order, with its file relative to the output folder.
    fn tile_sources(&self) -> Vec<TileSource>;
    /// Opens every rank's tile file `dir/<file><suffix>` with the fields `names`: created
    /// with chunks for `planned` frames, or (`resume = Some(frames)`) reopened to continue
    /// after `frames` frames.
    ///
    /// # Errors
    /// [`ScenarioError::Io`] or [`ScenarioError::OtherRank`].
    fn open_tiles(
        &self,
        dir: &Path,
        suffix: &str,
        names: &[String],
        planned: usize,
        resume: Option<usize>,
    ) -> Result<()>;
    /// Appends every rank's tile of the current fields to its file and flushes it.
    ///
    /// # Errors
    /// As [`TiledFields::open_tiles`].
    fn write_tiles(&self) -> Result<()>;
    /// Closes the tile files, trimmed to the frames written.
    ///
    /// # Errors
    /// As [`TiledFields::open_tiles`].
    fn close_tiles(&self) -> Result<()>;
}

/// The solver's [`TiledFields`], if its ranks write their own tiles.
pub(crate) fn tiled(sim: &dyn Simulation) -> Option<&dyn TiledFields> {
    #[cfg(feature = "mpi")]
    if let Some(d) = sim
        .as_any()
        .and_then(|a| a.downcast_ref::<crate::distributed::DistSim>())
        && d.writes_tiles()
    {
        return Some(d);
    }
    let _ = sim;
    None
}

/// One frame's worth of buffers.
struct Frame {
    fields: Vec<Array2<f64>>,
    diags: Vec<f64>,
    step: u64,
    time: f64,
}

impl Frame {
    fn new(n_fields: usize, shape: (usize, usize), n_diags: usize) -> Self {
        Frame {
            fields: (0..n_fields).map(|_| Array2::zeros(shape)).collect(),
            diags: vec![0.0; n_diags],
            step: 0,
            time: 0.0,
        }
    }

    fn fill(&mut self, sim: &dyn Simulation, names: &[String]) {
        for (name, b) in names.iter().zip(self.fields.iter_mut()) {
            sim.write_field(name, b.view_mut());
        }
        sim.diagnostic_values(&mut self.diags);
        self.step = sim.step_count();
        self.time = sim.time();
    }

    fn write(&self, w: &mut RunWriter, names: &[String]) -> std::result::Result<(), IoError> {
        let views: Vec<(&str, ndarray::ArrayView2<'_, f64>)> = names
            .iter()
            .zip(&self.fields)
            .map(|(n, b)| (n.as_str(), b.view()))
            .collect();
        w.append(self.step, self.time, &views, &self.diags)
    }
}

type Written = (RunWriter, Frame, std::result::Result<(), IoError>, f64);

/// The run file and the frames on their way into it.
pub(crate) struct FrameWriter {
    names: std::sync::Arc<[String]>,
    idle: Option<RunWriter>,
    busy: Option<JoinHandle<Written>>,
    /// The buffers the next frame is copied into (never the ones being written).
    next: Option<Frame>,
    spare: Option<Frame>,
    /// Seconds the writer thread spent writing (overlapped with stepping).
    pub background: f64,
}

impl FrameWriter {
    /// Frames of the fields `names` on a grid of `shape` with `n_diags` diagnostics.
    pub(crate) fn new(
        writer: RunWriter,
        names: Vec<String>,
        shape: (usize, usize),
        n_diags: usize,
    ) -> Self {
        let n = names.len();
        FrameWriter {
            names: names.into(),
            idle: Some(writer),
            busy: None,
            next: Some(Frame::new(n, shape, n_diags)),
            spare: Some(Frame::new(n, shape, n_diags)),
            background: 0.0,
        }
    }

    /// Copies the solver's current frame and hands it to the writer thread, after the previous
    /// frame's write has finished (its error, if any, is returned here).
    ///
    /// # Errors
    /// [`ScenarioError::Io`] from the previous frame's write.
    pub(crate) fn submit(&mut self, sim: &dyn Simulation) -> Result<()> {
        // Before the run file's scales can grow (on the thread below): every tile is in its
        // file first, so a kill leaves every frame the time scale counts whole.
        if let Some(t) = tiled(sim) {
            t.write_tiles()?;
        }
        let mut frame = self.next.take().expect("a free frame buffer");
        frame.fill(sim, &self.names);
        self.next = Some(frame);
        // The gathers' new samples (receivers x the steps since the last frame, small) are
        // written here, before the frame: `append` writes the scales last and flushes, so a
        // reader never sees a frame whose gathers lag behind it. Writing them here, not on the
        // thread, spares a copy of whole gathers (which can be most of a shot's memory).
        let w = self.writer()?;
        let path = w.path().to_path_buf();
        for g in sim.gathers() {
            w.write_gather(&g)
                .map_err(|e| ScenarioError::io(&path, e))?;
        }
        let frame = self.next.take().expect("a free frame buffer");
        let mut w = self.idle.take().expect("joined");
        self.next = self.spare.take();
        let names = self.names.clone();
        self.busy = Some(std::thread::spawn(move || {
            let t = Instant::now();
            let r = frame.write(&mut w, &names);
            (w, frame, r, t.elapsed().as_secs_f64())
        }));
        Ok(())
    }

    /// The run file, once the frame in flight (if any) is written.
    ///
    /// # Errors
    /// [`ScenarioError::Io`] from that frame's write.
    pub(crate) fn writer(&mut self) -> Result<&mut RunWriter> {
        self.join()?;
        Ok(self.idle.as_mut().expect("the writer is idle once joined"))
    }

    /// Waits for the frame in flight, if any.
    fn join(&mut self) -> Result<()> {
        if let Some(h) = self.busy.take() {
            let (w, frame, r, secs) = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            self.background += secs;
            let path = w.path().to_path_buf();
            self.idle = Some(w);
            // `next` always holds the free set while a frame is in flight.
            self.spare = Some(frame);
            r.map_err(|e| ScenarioError::io(&path, e))?;
        }
        Ok(())
    }
}

impl FrameWriter {
    /// The run file back once every frame is written, and the seconds spent writing them.
    ///
    /// # Errors
    /// [`ScenarioError::Io`] from the last frame's write.
    pub(crate) fn finish(mut self) -> Result<(RunWriter, f64)> {
        self.writer()?;
        let w = self.idle.take().expect("the writer is idle once joined");
        Ok((w, self.background))
    }
}

impl Drop for FrameWriter {
    /// A frame in flight is finished (never left half-written by an early return).
    fn drop(&mut self) {
        let _ = self.join();
    }
}
