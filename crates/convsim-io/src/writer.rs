//! Writing run files: [`RunWriter`].

mod gather;
mod layout;
mod statics;
mod tiles;

use gather::GatherSlot;
use layout::coord_scale;
pub(crate) use layout::{grid_from_coords, member_order, signed_attr};
pub(crate) use statics::STATIC_GROUP;
pub use tiles::{TILES_DIR, TileSource, TileWriter, tile_file_name};

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use convsim_core::{Grid, Quantity};
use hdf5::plist::dataset_create::{AllocTime, FillTime};
use hdf5::{Dataset, File, Group};

use crate::lock::{Access, H5File};
use ndarray::{Array1, Array2, ArrayView2, s};

use crate::attrs::{set_num, set_str, set_str_sized};
use crate::error::{Ctx, IoError, Result};
use crate::ffi;
use crate::meta::RunMeta;

/// zlib level of compressed `/fields/*` ([`RunWriter::compress_fields`]) and of `/static/*`:
/// level 4 compresses shuffled floats almost as well as 9 at a fraction of the time.
pub const DEFLATE_LEVEL: u8 = 4;

/// Storage type of a field dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precision {
    /// 64-bit floats (default; exact copies of the solver state).
    #[default]
    F64,
    /// 32-bit floats (half the size; for large visual-only outputs).
    F32,
}

struct FieldSlot {
    name: String,
    ds: Dataset,
    precision: Precision,
    /// A virtual dataset over the ranks' tile files (`add_tiled_field`): written by them.
    tiled: bool,
}

/// Writes one run file, frame by frame. See the crate docs for the layout.
///
/// Every [`RunWriter::append`] extends all datasets by one frame and flushes the file, so a
/// process killed at any moment (even by SIGKILL) leaves a file holding every frame appended
/// before; with a plan ([`RunWriter::create_planned`]) every dataset of that file also reads
/// whole.
///
/// ```
/// use convsim_core::{Grid, Quantity};
/// use convsim_io::{RunFile, RunMeta, RunWriter};
/// use ndarray::Array2;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("run.h5");
/// let grid = Grid { ny: 3, nx: 4, dy: 0.5, dx: 0.5, y0: 0.0, x0: 0.0 };
/// let mut w = RunWriter::create(&path, &RunMeta::new("diffusion", "a = 1"), &grid).unwrap();
/// w.add_field(&Quantity::new("u", "K", "temperature", false)).unwrap();
/// w.add_diagnostic(&Quantity::new("mass", "K m2", "total heat", false)).unwrap();
/// let u = Array2::<f64>::ones((3, 4));
/// w.append(0, 0.0, &[("u", u.view())], &[6.0]).unwrap();
/// w.append(10, 0.1, &[("u", (&u * 2.0).view())], &[12.0]).unwrap();
/// drop(w);
/// let r = RunFile::open(&path).unwrap();
/// assert_eq!(r.frames(), 2);
/// assert_eq!(r.steps().unwrap(), vec![0, 10]);
/// assert_eq!(r.read_frame("u", 1).unwrap()[[2, 3]], 2.0);
/// assert_eq!(r.read_diagnostic("mass").unwrap(), vec![6.0, 12.0]);
/// ```
pub struct RunWriter {
    path: PathBuf,
    grid: Grid,
    time: Dataset,
    step: Dataset,
    y: Dataset,
    x: Dataset,
    fields_group: Group,
    diags_group: Group,
    fields: Vec<FieldSlot>,
    diagnostics: Vec<(String, Dataset)>,
    frames: usize,
    /// Frames the run plans to write (0: unknown): the fields' chunks are allocated for
    /// them when created, so appending never grows the file (see [`RunWriter::create_planned`]).
    planned: usize,
    f32_buf: Array2<f32>,
    compress: bool,
    gathers: Vec<GatherSlot>,
    /// Last: the datasets above close before the file and its lock.
    file: H5File,
}

impl std::fmt::Debug for RunWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunWriter")
            .field("path", &self.path)
            .field("grid", &self.grid)
            .field(
                "fields",
                &self.fields.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field(
                "diagnostics",
                &self.diagnostics.iter().map(|d| &d.0).collect::<Vec<_>>(),
            )
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// Datasets with these names in `/fields` and `/diagnostics` are links to the scales.
pub(crate) const SCALE_NAMES: [&str; 4] = ["time", "step", "y", "x"];
/// Attribute of `/fields` and `/diagnostics` listing member names in creation order.
pub(crate) const ORDER_ATTR: &str = "convsim_order";

impl RunWriter {
    /// Creates (truncating) a run file with root attributes from `meta` and the scales of `grid`.
    ///
    /// # Errors
    /// [`IoError::Fs`] if the file cannot be created (e.g. the directory does not exist or is
    /// not writable), [`IoError::Locked`] if another process has it open (it is left intact),
    /// [`IoError::Hdf5`] if it cannot be written.
    pub fn create(path: impl AsRef<Path>, meta: &RunMeta, grid: &Grid) -> Result<Self> {
        Self::create_planned(path, meta, grid, 0)
    }

    /// [`RunWriter::create`] for a run that plans to write `frames` frames (0: unknown).
    ///
    /// Crash safety: HDF5 writes a new chunk's index entry before the superblock that records
    /// the file's new end, so a process killed inside a flush that allocated space can leave
    /// an index entry past the stored end of the file, and that dataset can no longer be read
    /// whole ("addr overflow"). With a plan, no append allocates: the uncompressed fields'
    /// chunks for every planned frame are allocated when each field is added (sparse on disk,
    /// never filled), and `/scales/*` and `/diagnostics/*` hold one chunk of `frames` values,
    /// allocated by the first append (both up to [`PLANNED_FRAMES_MAX`]). From the first append on,
    /// the file's end stays where it is until [`RunWriter::close`] trims the fields to the
    /// frames written. Until then the fields' first dimension may exceed `/scales/time`,
    /// which counts the frames ([`crate::RunFile`] reads only those). Compressed fields
    /// ([`RunWriter::compress_fields`]) cannot be allocated ahead (a compressed chunk's size
    /// is known only once written) and keep growing frame by frame.
    ///
    /// # Errors
    /// As [`RunWriter::create`].
    pub fn create_planned(
        path: impl AsRef<Path>,
        meta: &RunMeta,
        grid: &Grid,
        frames: usize,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let p = path.as_path();
        let file = create_file(p)?;
        write_meta(p, &file, meta, "run")?;

        let scales = file
            .create_group("scales")
            .ctx(p, || "creating group /scales".into())?;
        let y = coord_scale(p, &scales, "y", &grid.ys(), &meta.length_units, "Y")?;
        let x = coord_scale(p, &scales, "x", &grid.xs(), &meta.length_units, "X")?;
        let time = scales
            .new_dataset::<f64>()
            .chunk(scale_chunk(frames))
            .shape(0..)
            .create("time")
            .ctx(p, || "creating /scales/time".into())?;
        ffi::set_scale(time.id(), "time")
            .ctx(p, || "making /scales/time a dimension scale".into())?;
        // CF: `units` without "since <epoch>" keeps simulation time a plain number in xarray
        // (no datetime decoding) while `standard_name`/`axis` mark it as the time axis.
        set_str(p, &time, "units", &meta.time_units)?;
        set_str(p, &time, "standard_name", "time")?;
        set_str(p, &time, "long_name", "simulation time")?;
        set_str(p, &time, "axis", "T")?;
        let step = scales
            .new_dataset::<i64>()
            .chunk(scale_chunk(frames))
            .shape(0..)
            .create("step")
            .ctx(p, || "creating /scales/step".into())?;
        set_str(p, &step, "units", "1")?;
        set_str(p, &step, "long_name", "solver step count")?;
        ffi::attach_scale(step.id(), time.id(), 0, "time")
            .ctx(p, || "attaching time to /scales/step".into())?;

        let fields_group = file
            .create_group("fields")
            .ctx(p, || "creating group /fields".into())?;
        let diags_group = file
            .create_group("diagnostics")
            .ctx(p, || "creating group /diagnostics".into())?;
        // Hard links (not copies) so xarray opening group "fields" or "diagnostics" finds the
        // coordinate variables next to the data: one stored scale, several names.
        for name in ["time", "y", "x"] {
            fields_group
                .link_hard(&format!("/scales/{name}"), name)
                .ctx(p, || format!("linking /fields/{name}"))?;
        }
        for name in ["time", "step"] {
            diags_group
                .link_hard(&format!("/scales/{name}"), name)
                .ctx(p, || format!("linking /diagnostics/{name}"))?;
        }
        set_str(p, &fields_group, ORDER_ATTR, "")?;
        set_str(p, &diags_group, ORDER_ATTR, "")?;
        file.flush().ctx(p, || "flushing".into())?;
        Ok(RunWriter {
            path,
            file,
            grid: *grid,
            time,
            step,
            y,
            x,
            fields_group,
            diags_group,
            fields: Vec::new(),
            diagnostics: Vec::new(),
            frames: 0,
            planned: frames,
            f32_buf: Array2::zeros((grid.ny, grid.nx)),
            compress: false,
            gathers: Vec::new(),
        })
    }

    /// Reopens an existing run file to continue it after a restart from a checkpoint taken at
    /// step `last_step`: frames with a step above `last_step` (written after that checkpoint,
    /// before the interruption) are dropped, so the continued file equals an uninterrupted run.
    ///
    /// # Errors
    /// [`IoError::NotFound`], [`IoError::Open`], [`IoError::Locked`] if another process has it
    /// open, or [`IoError::Invalid`] if the file is not a convsim run file.
    pub fn resume(path: impl AsRef<Path>, last_step: u64) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let p = path.as_path();
        if !p.exists() {
            return Err(IoError::NotFound { path });
        }
        let file = crate::lock::open(p, Access::Write)?;
        let open = |name: &str| {
            file.dataset(name).map_err(|_| IoError::Invalid {
                path: path.clone(),
                message: format!("not a convsim run file: no dataset '{name}'"),
            })
        };
        let time = open("scales/time")?;
        let step = open("scales/step")?;
        let y = open("scales/y")?;
        let x = open("scales/x")?;
        let ys: Vec<f64> = y.read_raw().ctx(p, || "reading /scales/y".into())?;
        let xs: Vec<f64> = x.read_raw().ctx(p, || "reading /scales/x".into())?;
        let grid = grid_from_coords(&ys, &xs);
        let fields_group = file.group("fields").ctx(p, || "opening /fields".into())?;
        let diags_group = file
            .group("diagnostics")
            .ctx(p, || "opening /diagnostics".into())?;
        let steps: Vec<i64> = step.read_raw().ctx(p, || "reading /scales/step".into())?;
        let n_time = time.shape()[0];
        let mut frames = steps
            .iter()
            .take(n_time)
            .take_while(|&&s| u64::try_from(s).is_ok_and(|s| s <= last_step))
            .count();
        let mut fields = Vec::new();
        for name in member_order(p, &fields_group)? {
            let ds = fields_group
                .dataset(&name)
                .ctx(p, || format!("opening /fields/{name}"))?;
            let precision = if ds.dtype().is_ok_and(|t| t.size() == 4) {
                Precision::F32
            } else {
                Precision::F64
            };
            let tiled = ds.layout() == hdf5::plist::dataset_create::Layout::Virtual;
            // A virtual field's length is its tiles' (opened by HDF5 to read it, which would
            // keep them from the ranks reopening them): `TileWriter::rewind` checks them.
            if !tiled {
                frames = frames.min(ds.shape()[0]);
            }
            fields.push(FieldSlot {
                name,
                ds,
                precision,
                tiled,
            });
        }
        let mut diagnostics = Vec::new();
        for name in member_order(p, &diags_group)? {
            let ds = diags_group
                .dataset(&name)
                .ctx(p, || format!("opening /diagnostics/{name}"))?;
            frames = frames.min(ds.shape()[0]);
            diagnostics.push((name, ds));
        }
        let mut w = RunWriter {
            path,
            file,
            grid,
            time,
            step,
            y,
            x,
            fields_group,
            diags_group,
            fields,
            diagnostics,
            frames,
            planned: 0,
            f32_buf: Array2::zeros((grid.ny, grid.nx)),
            compress: false,
            gathers: Vec::new(),
        };
        w.truncate_scales(frames)?;
        w.flush()?;
        Ok(w)
    }

    /// Adds `/fields/<name>` (f64), shape `(t, ny, nx)` with dims `time, y, x`. Call before the
    /// first [`RunWriter::append`].
    ///
    /// # Errors
    /// [`IoError::Invalid`] for a duplicate name or after frames were appended;
    /// [`IoError::Hdf5`] if the dataset cannot be created.
    pub fn add_field(&mut self, q: &Quantity) -> Result<()> {
        self.add_field_as(q, Precision::F64)
    }

    /// Stores the fields added from now on with shuffle + deflate ([`DEFLATE_LEVEL`]) instead
    /// of uncompressed (the default). Deflate saves about a quarter of the bytes of a smooth
    /// f64 field (0.77 of the size for a diffusing Gaussian) but compresses at about 50 MB/s on
    /// one core: 0.7 s for a 2048^2 frame, three times the 50 steps between two default frames.
    pub fn compress_fields(&mut self, on: bool) {
        self.compress = on;
    }

    /// Adds a field stored with the given precision (see [`RunWriter::add_field`]).
    ///
    /// # Errors
    /// As [`RunWriter::add_field`].
    pub fn add_field_as(&mut self, q: &Quantity, precision: Precision) -> Result<()> {
        self.check_new_name(
            &q.name,
            "field",
            self.fields.iter().map(|f| f.name.as_str()),
        )?;
        let p = self.path.as_path();
        let (ny, nx) = self.grid.shape();
        let builder = match precision {
            Precision::F64 => self.fields_group.new_dataset::<f64>(),
            Precision::F32 => self.fields_group.new_dataset::<f32>(),
        };
        // One frame per chunk: appending touches one chunk, reading a frame decodes one chunk.
        let builder = builder.chunk((1, ny.max(1), nx.max(1)));
        let (builder, reserved) = if self.compress {
            (builder.shuffle().deflate(DEFLATE_LEVEL), 0)
        } else {
            // Every planned frame's chunk allocated now, never filled (see `create_planned`).
            let b = builder
                .alloc_time(Some(AllocTime::Early))
                .fill_time(FillTime::Never);
            (b, self.planned.min(PLANNED_FRAMES_MAX))
        };
        let ds = builder
            .shape((reserved.., ny, nx))
            .create(q.name.as_str())
            .ctx(p, || format!("creating /fields/{}", q.name))?;
        self.add_slot(q, ds, precision, false)
    }

    /// Adds `/diagnostics/<name>`, shape `(t,)` with dim `time`. Call before the first append;
    /// values are then given to [`RunWriter::append`] in the order diagnostics were added.
    ///
    /// # Errors
    /// As [`RunWriter::add_field`].
    pub fn add_diagnostic(&mut self, q: &Quantity) -> Result<()> {
        self.check_new_name(
            &q.name,
            "diagnostic",
            self.diagnostics.iter().map(|d| d.0.as_str()),
        )?;
        let p = self.path.as_path();
        let ds = self
            .diags_group
            .new_dataset::<f64>()
            .chunk(scale_chunk(self.planned))
            .shape(0..)
            .create(q.name.as_str())
            .ctx(p, || format!("creating /diagnostics/{}", q.name))?;
        write_quantity_attrs(p, &ds, q)?;
        ffi::attach_scale(ds.id(), self.time.id(), 0, "time").ctx(p, || {
            format!("attaching scale time to /diagnostics/{}", q.name)
        })?;
        self.diagnostics.push((q.name.clone(), ds));
        let order = self
            .diagnostics
            .iter()
            .map(|d| d.0.as_str())
            .collect::<Vec<_>>()
            .join(",");
        set_str(p, &self.diags_group, ORDER_ATTR, &order)?;
        self.flush()
    }

    fn check_new_name<'a>(
        &self,
        name: &str,
        what: &str,
        mut existing: impl Iterator<Item = &'a str>,
    ) -> Result<()> {
        let bad = if self.frames > 0 {
            Some(format!(
                "cannot add {what} '{name}' after {} frame(s) were appended",
                self.frames
            ))
        } else if name.is_empty()
            || name.contains('/')
            || name.contains(',')
            || SCALE_NAMES.contains(&name)
        {
            Some(format!(
                "invalid {what} name '{name}': must be non-empty, without '/' or ',', and not one of {SCALE_NAMES:?}"
            ))
        } else if existing.any(|n| n == name) {
            Some(format!("{what} '{name}' added twice"))
        } else {
            None
        };
        bad.map_or(Ok(()), |message| {
            Err(IoError::Invalid {
                path: self.path.clone(),
                message,
            })
        })
    }

    /// Appends one frame: every field added (by name, any order; each exactly once, shape
    /// `(ny, nx)`; tiled fields, [`RunWriter::add_tiled_field`], are not given), the diagnostics in the order added, then `step` and `time`; then flushes the
    /// file to disk (`H5Fflush`).
    ///
    /// The scales are written last, so a reader that counts frames by `/scales/time` (as
    /// [`crate::RunFile`] does) never sees a frame whose data is incomplete.
    ///
    /// # Errors
    /// [`IoError::Invalid`] naming the field that is missing, unknown, repeated or of the wrong
    /// shape, or a wrong number of diagnostics (nothing is written then);
    /// [`IoError::Hdf5`] if writing fails.
    pub fn append(
        &mut self,
        step: u64,
        time: f64,
        fields: &[(&str, ArrayView2<'_, f64>)],
        diagnostics: &[f64],
    ) -> Result<()> {
        self.check_frame(fields, diagnostics)?;
        let p = self.path.clone();
        let p = p.as_path();
        let k = self.frames;
        let (ny, nx) = self.grid.shape();
        for slot in self.fields.iter().filter(|f| !f.tiled) {
            // `check_frame` made sure every field is given exactly once.
            let Some((name, view)) = fields.iter().find(|f| f.0 == slot.name) else {
                continue;
            };
            // Frames beyond the plan (or every frame without one) extend the dataset.
            if slot.ds.shape().first().is_none_or(|&n| n <= k) {
                slot.ds
                    .resize((k + 1, ny, nx))
                    .ctx(p, || format!("extending /fields/{name}"))?;
            }
            let res = match slot.precision {
                Precision::F64 => slot
                    .ds
                    .write_slice(&view.as_standard_layout(), s![k, .., ..]),
                Precision::F32 => {
                    self.f32_buf.zip_mut_with(view, |o, &v| *o = v as f32);
                    slot.ds.write_slice(&self.f32_buf, s![k, .., ..])
                }
            };
            res.ctx(p, || format!("writing frame {k} of /fields/{name}"))?;
        }
        for ((name, ds), &v) in self.diagnostics.iter().zip(diagnostics) {
            ds.resize(k + 1)
                .ctx(p, || format!("extending /diagnostics/{name}"))?;
            ds.write_slice(&Array1::from_elem(1, v), s![k..=k])
                .ctx(p, || format!("writing frame {k} of /diagnostics/{name}"))?;
        }
        let step_i = i64::try_from(step).map_err(|_| IoError::Invalid {
            path: p.to_path_buf(),
            message: format!("step {step} does not fit the i64 /scales/step"),
        })?;
        self.step
            .resize(k + 1)
            .ctx(p, || "extending /scales/step".into())?;
        self.step
            .write_slice(&Array1::from_elem(1, step_i), s![k..=k])
            .ctx(p, || "writing /scales/step".into())?;
        // The data and its chunk index reach the file before the time scale grows: a reader
        // counts a frame only once its time is there (`RunFile::frames`), so a kill between
        // the two flushes leaves a frame invisible, never visible with unwritten (fill) data.
        self.flush()?;
        self.time
            .resize(k + 1)
            .ctx(p, || "extending /scales/time".into())?;
        self.time
            .write_slice(&Array1::from_elem(1, time), s![k..=k])
            .ctx(p, || "writing /scales/time".into())?;
        self.frames = k + 1;
        self.flush()
    }

    fn check_frame(
        &self,
        fields: &[(&str, ArrayView2<'_, f64>)],
        diagnostics: &[f64],
    ) -> Result<()> {
        let err = |message: String| {
            Err(IoError::Invalid {
                path: self.path.clone(),
                message,
            })
        };
        let mut seen = HashSet::new();
        let own = || self.fields.iter().filter(|f| !f.tiled);
        for (name, view) in fields {
            if !own().any(|f| f.name == *name) {
                let known: Vec<&str> = own().map(|f| f.name.as_str()).collect();
                return err(format!(
                    "append: unknown field '{name}'; fields of this run: {known:?}"
                ));
            }
            if !seen.insert(*name) {
                return err(format!("append: field '{name}' given twice"));
            }
            if view.dim() != self.grid.shape() {
                return err(format!(
                    "append: field '{name}' has shape {:?}, the grid is {:?}",
                    view.dim(),
                    self.grid.shape()
                ));
            }
        }
        if let Some(f) = own().find(|f| !seen.contains(f.name.as_str())) {
            return err(format!("append: field '{}' missing from the frame", f.name));
        }
        if diagnostics.len() != self.diagnostics.len() {
            return err(format!(
                "append: {} diagnostic value(s) given, the run has {} ({:?})",
                diagnostics.len(),
                self.diagnostics.len(),
                self.diagnostics
                    .iter()
                    .map(|d| d.0.as_str())
                    .collect::<Vec<_>>()
            ));
        }
        Ok(())
    }

    /// Sets (or replaces) a free string attribute on `/`, e.g. `status = "completed"`.
    ///
    /// The attribute is stored with room for [`ATTRIBUTE_ROOM`] bytes, so a later value that
    /// fits (`running`, `completed`, `interrupted`) is rewritten in place and the file does
    /// not grow (see [`RunWriter::create_planned`]).
    ///
    /// # Errors
    /// [`IoError::Invalid`] if the name or value holds a NUL byte.
    pub fn set_attribute(&mut self, name: &str, value: &str) -> Result<()> {
        set_str_sized(&self.path, &self.file, name, value, ATTRIBUTE_ROOM)?;
        self.flush()
    }

    /// Flushes every buffer of the file to the operating system (`H5Fflush`, global scope).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn flush(&self) -> Result<()> {
        self.file.flush().ctx(&self.path, || "flushing".into())
    }

    /// Tells the writer its file was renamed while open (the caller renamed it, e.g. a run
    /// written beside an old one and moved into its place): messages then name `path`. The
    /// lock follows the file, since it is held on the open file, not on its name.
    pub fn renamed(&mut self, path: impl AsRef<Path>) {
        self.path = path.as_ref().to_path_buf();
    }

    /// Frames written so far.
    #[must_use]
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The grid the file was created with.
    #[must_use]
    pub fn grid(&self) -> Grid {
        self.grid
    }

    /// Names of the fields, in the order added.
    #[must_use]
    pub fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.name.clone()).collect()
    }

    /// Names of the diagnostics, in the order added (= the order of `append`'s values).
    #[must_use]
    pub fn diagnostic_names(&self) -> Vec<String> {
        self.diagnostics.iter().map(|d| d.0.clone()).collect()
    }

    /// Grows every uncompressed field to hold `frames` frames, its chunks allocated now when
    /// the field was created with a plan ([`RunWriter::create_planned`]): a resumed run calls
    /// this with its plan so that its appends do not grow the file either. Fields already as
    /// long are left alone.
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn reserve_frames(&mut self, frames: usize) -> Result<()> {
        let p = self.path.clone();
        let (ny, nx) = self.grid.shape();
        self.planned = self.planned.max(frames);
        let frames = frames.min(PLANNED_FRAMES_MAX);
        for f in self.fields.iter().filter(|f| !f.tiled) {
            if f.ds.shape().first().is_some_and(|&n| n < frames) {
                f.ds.resize((frames, ny, nx))
                    .ctx(&p, || format!("extending /fields/{}", f.name))?;
            }
        }
        self.flush()
    }

    /// Shrinks the fields to the frames written (they may hold planned frames not written).
    fn trim_fields(&self) -> Result<()> {
        let (ny, nx) = self.grid.shape();
        for f in self.fields.iter().filter(|f| !f.tiled) {
            if f.ds.shape().first().is_some_and(|&n| n > self.frames) {
                f.ds.resize((self.frames, ny, nx))
                    .ctx(&self.path, || format!("trimming /fields/{}", f.name))?;
            }
        }
        Ok(())
    }

    /// Truncates the scales and diagnostics to `frames` (a resume drops the frames after its
    /// checkpoint). The fields keep their length: their chunks stay allocated for the frames
    /// rewritten next, and [`RunWriter::close`] trims them.
    fn truncate_scales(&mut self, frames: usize) -> Result<()> {
        let p = self.path.clone();
        for (name, ds) in &self.diagnostics {
            ds.resize(frames)
                .ctx(&p, || format!("truncating /diagnostics/{name}"))?;
        }
        self.step
            .resize(frames)
            .ctx(&p, || "truncating /scales/step".into())?;
        self.time
            .resize(frames)
            .ctx(&p, || "truncating /scales/time".into())?;
        self.frames = frames;
        Ok(())
    }

    /// Trims the fields to the frames written, flushes and closes the file (dropping the
    /// writer does the same but ignores errors).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn close(self) -> Result<()> {
        self.trim_fields()?;
        self.flush()
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        // A run that stops early (an error, an interrupt) leaves no planned frame unwritten in
        // its fields. Errors are ignored as in any drop; `close` reports them.
        let _ = self.trim_fields();
    }
}

/// Bytes reserved for a free string attribute set by [`RunWriter::set_attribute`].
pub const ATTRIBUTE_ROOM: usize = 16;

/// Most frames allocated ahead by a plan ([`RunWriter::create_planned`]): the chunk length of
/// `/scales/*` and `/diagnostics/*` (512 KiB of f64) and the fields' reserved frames. A run
/// planning more allocates again every `PLANNED_FRAMES_MAX` frames (1-D datasets) and at
/// every frame beyond them (fields); the cap keeps the chunk index of a reserved field small.
pub const PLANNED_FRAMES_MAX: usize = 1 << 16;

/// Chunk length of the per-frame 1-D datasets of a run planning `frames` frames (1024
/// without a plan).
fn scale_chunk(frames: usize) -> usize {
    if frames == 0 {
        1024
    } else {
        frames.min(PLANNED_FRAMES_MAX)
    }
}

/// Creates (truncating) a file with the v1.8 format, under convsim's lock ([`crate::lock`]).
pub(crate) fn create_file(p: &Path) -> Result<H5File> {
    crate::lock::create(p)
}

pub(crate) fn write_meta(p: &Path, file: &File, meta: &RunMeta, kind: &str) -> Result<()> {
    for (name, value) in RunMeta::FIXED_NAMES.iter().zip(meta.fixed_values()) {
        set_str(p, file, name, value)?;
    }
    for (name, value) in &meta.attributes {
        if RESERVED_ROOT_ATTRS.contains(&name.as_str())
            || RunMeta::FIXED_NAMES.contains(&name.as_str())
        {
            return Err(IoError::Invalid {
                path: p.to_path_buf(),
                message: format!("free attribute '{name}' collides with a reserved root attribute"),
            });
        }
        set_str(p, file, name, value)?;
    }
    set_str(p, file, "Conventions", "CF-1.8")?;
    set_str(p, file, "convsim_file", kind)
}

/// Root attributes written by this crate besides [`RunMeta::FIXED_NAMES`].
pub(crate) const RESERVED_ROOT_ATTRS: [&str; 4] = ["Conventions", "convsim_file", "step", "time"];

pub(crate) fn write_quantity_attrs(p: &Path, ds: &Dataset, q: &Quantity) -> Result<()> {
    set_str(p, ds, "units", &q.units)?;
    set_str(p, ds, "long_name", &q.long_name)?;
    set_num(p, ds, "convsim_signed", i8::from(q.signed))
}
