//! Distributed output: each rank writes its tile of the fields ([`TileWriter`]), and the run
//! file's `/fields/<name>` is a virtual dataset stitching the tiles
//! ([`RunWriter::add_tiled_field`]).
//!
//! A tile file `tiles/rank<k>.h5` (relative to the run file's folder, [`tile_file_name`])
//! holds `/fields/<name>` of shape `(frames, ty, tx)`, one frame per chunk, with the chunks of
//! a planned run allocated ahead as in [`RunWriter::create_planned`]. The run file maps every
//! tile with an unlimited time axis, by a relative file name: HDF5 (>= 1.10) looks for a
//! relative source beside the virtual dataset's file first, so a moved run folder still reads.
//! The frame count stays that of `/scales/time`, which the run grows only once every tile of
//! the frame is written and flushed.

use std::path::{Path, PathBuf};

use convsim_core::Quantity;
use hdf5::Dataset;
use hdf5::plist::dataset_create::{AllocTime, FillTime};
use ndarray::{ArrayView2, s};

use super::{FieldSlot, ORDER_ATTR, PLANNED_FRAMES_MAX, Precision, RunWriter};
use super::{create_file, write_quantity_attrs};
use crate::attrs::set_str;
use crate::error::{Ctx, IoError, Result};
use crate::ffi;
use crate::lock::{Access, H5File};

/// Folder of the tile files, inside the run's folder.
pub const TILES_DIR: &str = "tiles";

/// The tile file of `rank`, relative to the run's folder: `tiles/rank<k>.h5`.
#[must_use]
pub fn tile_file_name(rank: usize) -> String {
    format!("{TILES_DIR}/rank{rank}.h5")
}

/// Where one rank's tile lies in the grid: its file (relative to the run file's folder), its
/// first row and column, and its shape `(ty, tx)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileSource {
    /// Path of the tile file relative to the run file's folder ([`tile_file_name`]).
    pub file: String,
    /// First row and column of the tile in the grid.
    pub start: [usize; 2],
    /// Rows and columns of the tile.
    pub shape: [usize; 2],
}

/// One rank's tile file of a distributed run (see the [module docs](self)).
pub struct TileWriter {
    path: PathBuf,
    shape: (usize, usize),
    fields: Vec<(String, Dataset)>,
    frames: usize,
    /// Last: the datasets close before the file and its lock.
    file: H5File,
}

impl std::fmt::Debug for TileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileWriter")
            .field("path", &self.path)
            .field("shape", &self.shape)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl TileWriter {
    /// Creates (truncating) the tile file `path` with the f64 fields `names` of shape
    /// `(ty, tx)`, their chunks allocated for `planned` frames (0: unknown).
    ///
    /// # Errors
    /// As [`RunWriter::create`].
    pub fn create(
        path: impl AsRef<Path>,
        names: &[String],
        shape: (usize, usize),
        planned: usize,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let p = path.as_path();
        let file = create_file(p)?;
        set_str(p, &file, "convsim_file", "tile")?;
        let group = file
            .create_group("fields")
            .ctx(p, || "creating group /fields".into())?;
        let mut fields = Vec::new();
        for name in names {
            let ds = group
                .new_dataset::<f64>()
                .chunk((1, shape.0.max(1), shape.1.max(1)))
                .alloc_time(Some(AllocTime::Early))
                .fill_time(FillTime::Never)
                .shape((planned.min(PLANNED_FRAMES_MAX).., shape.0, shape.1))
                .create(name.as_str())
                .ctx(p, || format!("creating /fields/{name}"))?;
            fields.push((name.clone(), ds));
        }
        set_str(p, &group, ORDER_ATTR, &names.join(","))?;
        file.flush().ctx(p, || "flushing".into())?;
        Ok(TileWriter {
            path,
            shape,
            fields,
            frames: 0,
            file,
        })
    }

    /// Reopens a tile file to continue a resumed run; [`TileWriter::rewind`] then sets the
    /// frame the next append writes. A process must not read the run file's virtual fields
    /// while it holds a tile open here: HDF5 then finds that source unreadable (and a tile
    /// HDF5 holds open to read cannot be reopened here).
    ///
    /// # Errors
    /// [`IoError::NotFound`], [`IoError::Locked`], [`IoError::Invalid`] if the file is not a
    /// tile file.
    pub fn resume(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let p = path.as_path();
        if !p.exists() {
            return Err(IoError::NotFound { path });
        }
        let file = crate::lock::open(p, Access::Write)?;
        let invalid = |message: String| IoError::Invalid {
            path: path.clone(),
            message,
        };
        let group = file
            .group("fields")
            .map_err(|_| invalid("not a convsim tile file: no group /fields".into()))?;
        let mut fields = Vec::new();
        let mut shape = (0, 0);
        let mut frames = usize::MAX;
        for name in super::member_order(p, &group)? {
            let ds = group
                .dataset(&name)
                .ctx(p, || format!("opening /fields/{name}"))?;
            let dims = ds.shape();
            if dims.len() != 3 {
                return Err(invalid(format!("/fields/{name} has shape {dims:?}")));
            }
            shape = (dims[1], dims[2]);
            frames = frames.min(dims[0]);
            fields.push((name, ds));
        }
        Ok(TileWriter {
            path,
            shape,
            fields,
            frames: if frames == usize::MAX { 0 } else { frames },
            file,
        })
    }

    /// Continues after frame `frames - 1` (the frames the resumed run file kept): the next
    /// [`TileWriter::append`] writes frame `frames`.
    ///
    /// # Errors
    /// [`IoError::Invalid`] if the file holds fewer frames.
    pub fn rewind(&mut self, frames: usize) -> Result<()> {
        if frames > self.frames {
            return Err(IoError::Invalid {
                path: self.path.clone(),
                message: format!(
                    "the tile file holds {} frame(s), the run file {frames}",
                    self.frames
                ),
            });
        }
        self.frames = frames;
        Ok(())
    }

    /// Writes the next frame of every field (each given once, by name, shape `(ty, tx)`) and
    /// flushes the file.
    ///
    /// # Errors
    /// [`IoError::Invalid`] for a missing, unknown or misshapen field; [`IoError::Hdf5`].
    pub fn append(&mut self, fields: &[(&str, ArrayView2<'_, f64>)]) -> Result<()> {
        let p = self.path.as_path();
        let k = self.frames;
        let (ty, tx) = self.shape;
        let invalid = |message: String| IoError::Invalid {
            path: p.to_path_buf(),
            message,
        };
        if fields.len() != self.fields.len() {
            return Err(invalid(format!(
                "append: {} field(s) given, the tile file has {}",
                fields.len(),
                self.fields.len()
            )));
        }
        for (name, ds) in &self.fields {
            let Some((_, view)) = fields.iter().find(|f| f.0 == name) else {
                return Err(invalid(format!("append: field '{name}' missing")));
            };
            if view.dim() != self.shape {
                return Err(invalid(format!(
                    "append: field '{name}' has shape {:?}, the tile is {:?}",
                    view.dim(),
                    self.shape
                )));
            }
            if ds.shape().first().is_none_or(|&n| n <= k) {
                ds.resize((k + 1, ty, tx))
                    .ctx(p, || format!("extending /fields/{name}"))?;
            }
            ds.write_slice(&view.as_standard_layout(), s![k, .., ..])
                .ctx(p, || format!("writing frame {k} of /fields/{name}"))?;
        }
        self.frames = k + 1;
        self.file.flush().ctx(p, || "flushing".into())
    }

    /// Grows every field to hold `frames` frames, their chunks allocated now (a resumed run,
    /// as [`RunWriter::reserve_frames`]).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn reserve_frames(&mut self, frames: usize) -> Result<()> {
        let (ty, tx) = self.shape;
        let frames = frames.min(PLANNED_FRAMES_MAX);
        for (name, ds) in &self.fields {
            if ds.shape().first().is_some_and(|&n| n < frames) {
                ds.resize((frames, ty, tx))
                    .ctx(&self.path, || format!("extending /fields/{name}"))?;
            }
        }
        self.file.flush().ctx(&self.path, || "flushing".into())
    }

    /// The shape `(ty, tx)` of the tile.
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        self.shape
    }

    /// Frames written (or kept by [`TileWriter::resume`]).
    #[must_use]
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Trims the fields to the frames written and flushes the file.
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn close(self) -> Result<()> {
        self.trim()?;
        self.file.flush().ctx(&self.path, || "flushing".into())
    }

    fn trim(&self) -> Result<()> {
        let (ty, tx) = self.shape;
        for (name, ds) in &self.fields {
            if ds.shape().first().is_some_and(|&n| n > self.frames) {
                ds.resize((self.frames, ty, tx))
                    .ctx(&self.path, || format!("trimming /fields/{name}"))?;
            }
        }
        Ok(())
    }
}

impl Drop for TileWriter {
    fn drop(&mut self) {
        // As `RunWriter`: no planned frame is left unwritten; `close` reports errors.
        let _ = self.trim();
    }
}

impl RunWriter {
    /// Adds `/fields/<name>` as a virtual dataset of shape `(t, ny, nx)` stitching `tiles`
    /// (f64, their time axis unlimited), with the attributes and scales of
    /// [`RunWriter::add_field`]. [`RunWriter::append`] then takes no data for it: the ranks
    /// write it with [`TileWriter::append`] before the frame is appended.
    ///
    /// # Errors
    /// As [`RunWriter::add_field`], and [`IoError::Invalid`] if the tiles do not cover the
    /// grid once (checked by the cell count and the bounds).
    pub fn add_tiled_field(&mut self, q: &Quantity, tiles: &[TileSource]) -> Result<()> {
        self.check_new_name(
            &q.name,
            "field",
            self.fields.iter().map(|f| f.name.as_str()),
        )?;
        let p = self.path.clone();
        let p = p.as_path();
        let (ny, nx) = self.grid.shape();
        let inside = tiles
            .iter()
            .all(|t| t.start[0] + t.shape[0] <= ny && t.start[1] + t.shape[1] <= nx);
        let cells: usize = tiles.iter().map(|t| t.shape[0] * t.shape[1]).sum();
        if !inside || cells != ny * nx {
            return Err(IoError::Invalid {
                path: p.to_path_buf(),
                message: format!(
                    "tiles of field '{}' do not cover the {ny} x {nx} grid: {tiles:?}",
                    q.name
                ),
            });
        }
        // A virtual layout needs the v1.10 file format (the run file is created v1.8).
        ffi::allow_v110(self.file.id()).ctx(p, || "allowing the v1.10 format".into())?;
        let source = format!("/fields/{}", q.name);
        let maps: Vec<ffi::VirtualTile<'_>> = tiles
            .iter()
            .map(|t| ffi::VirtualTile {
                file: &t.file,
                dataset: &source,
                start: t.start,
                shape: t.shape,
            })
            .collect();
        ffi::create_virtual(self.fields_group.id(), &q.name, [ny, nx], &maps)
            .ctx(p, || format!("creating virtual /fields/{}", q.name))?;
        let ds = self
            .fields_group
            .dataset(&q.name)
            .ctx(p, || format!("opening /fields/{}", q.name))?;
        self.add_slot(q, ds, Precision::F64, true)
    }

    /// Attributes, scales and the member order of a new field dataset.
    pub(super) fn add_slot(
        &mut self,
        q: &Quantity,
        ds: Dataset,
        precision: Precision,
        tiled: bool,
    ) -> Result<()> {
        let p = self.path.clone();
        let p = p.as_path();
        write_quantity_attrs(p, &ds, q)?;
        for (i, (scale, label)) in [(&self.time, "time"), (&self.y, "y"), (&self.x, "x")]
            .into_iter()
            .enumerate()
        {
            ffi::attach_scale(ds.id(), scale.id(), i, label).ctx(p, || {
                format!("attaching scale {label} to /fields/{}", q.name)
            })?;
        }
        self.fields.push(FieldSlot {
            name: q.name.clone(),
            ds,
            precision,
            tiled,
        });
        let order = self
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        set_str(p, &self.fields_group, ORDER_ATTR, &order)?;
        self.flush()
    }
}
