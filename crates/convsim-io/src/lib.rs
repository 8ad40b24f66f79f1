//! # convsim-io: the HDF5 files of convsim
//!
//! One file per run, appended frame by frame as the run goes; checkpoints in files of the same
//! family; model inputs read from HDF5 datasets. Solver crates never link this crate.
//!
//! ## Layout of a run file
//!
//! ```text
//! /                     attrs: convsim_version, solver, scenario (full TOML text), created
//!                       (RFC 3339 UTC), recipe (JSON), time_units, length_units,
//!                       Conventions = "CF-1.8", convsim_file = "run", free attributes
//! /scales/time  (t,)    f64, dimension scale "time"; units = time unit, standard_name = "time",
//!                       axis = "T", unlimited
//! /scales/step  (t,)    i64 solver step of each frame, dims (time)
//! /scales/y     (ny,)   f64 dimension scale "y", units = length unit, axis = "Y"
//! /scales/x     (nx,)   f64 dimension scale "x", units = length unit, axis = "X"
//! /fields/<name>        (t, ny, nx) f64 (or f32), dims (time, y, x), chunks of one frame,
//!                       uncompressed (or shuffle + deflate: RunWriter::compress_fields),
//!                       unlimited t; attrs units, long_name, convsim_signed. While a run
//!                       writes (and in a killed run's file) t is the planned frame count:
//!                       /scales/time counts the frames written (RunWriter::create_planned)
//! /fields/{time,y,x}    hard links to the scales (see below)
//! /diagnostics/<name>   (t,) f64, dims (time); attrs units, long_name
//! /diagnostics/{time,step} hard links to the scales
//! /receivers/<shot>/    traces (receiver, time), y and x (receiver,), scales receiver, time
//! /static/<name>        (ny, nx) f64, dims (y, x): a field that does not change (a velocity
//!                       model), written once; /static/{y,x} hard links to the scales
//! ```
//!
//! Beside the run file, [`write_xdmf`] writes `run.xdmf`, an XDMF 3 description of the mesh,
//! the frames and the fields that points into `run.h5`: ParaView and VisIt open that.
//!
//! **Named dimensions.** The scales are HDF5 dimension scales (`H5DSset_scale`,
//! `H5DSattach_scale`), so h5py shows `ds.dims`, and netCDF readers (h5netcdf, netCDF-C) see
//! dimensions `time, y, x`. The scales are also hard-linked into `/fields` and `/diagnostics`
//! so that `xarray.open_dataset(path, group="fields", engine="h5netcdf")` finds the
//! coordinate variables `time`, `y`, `x` beside the data (netCDF looks for coordinates in the
//! group of the variable and its parents, not in a sibling group).
//!
//! **Time units.** Simulation time is not a calendar date, so `units` is the plain time unit
//! (`"s"`, or `"1"` when dimensionless), not `"seconds since 1970-01-01"`: with a "since"
//! reference xarray would decode the axis into datetimes and ParaView into dates in 1970. The
//! CF attributes `standard_name = "time"` and `axis = "T"` (and the dimension name `time`, which
//! ParaView's netCDF reader uses as its time dimension) mark the axis as time.
//!
//! **String attributes** are fixed-length UTF-8 (netCDF `NC_CHAR`), the type CF readers expect.
//!
//! **Crash safety.** [`RunWriter::append`] writes the data, then the scales, then calls
//! `H5Fflush`. A process killed at any moment, even with SIGKILL, leaves a file that opens and
//! holds every frame appended before (tested by killing a child process). Datasets that are
//! appended by new chunks (fields, diagnostics, scales) never rewrite a chunk; the shot gathers,
//! whose chunks are rewritten as samples arrive, are stored uncompressed so a rewrite stays in
//! place (a compressed chunk that changes size moves, and its old space can be reused before
//! the chunk index on disk is flushed). The file is written
//! with the HDF5 1.8 format, whose superblock has no "file open for write" flag, so no
//! `h5clear` is needed after a crash. [`RunWriter::resume`] reopens it to continue a run from a
//! checkpoint. While a writer holds the file, other processes cannot open it: convsim fails
//! with [`IoError::Locked`], h5py with "unable to lock file" (set `HDF5_USE_FILE_LOCKING=FALSE`
//! in that process to peek anyway); readers only keep writers out. convsim takes this `flock`
//! itself, on a close-on-exec descriptor, rather than leaving it to libhdf5, whose descriptor a
//! child process started meanwhile would inherit with the lock.
//!
//! ## API at a glance
//!
//! - Writing: [`RunMeta`], [`RunWriter::create`], [`RunWriter::add_field`] /
//!   [`RunWriter::add_field_as`] ([`Precision`]), [`RunWriter::add_diagnostic`],
//!   [`RunWriter::append`], [`RunWriter::add_static_field`], [`RunWriter::write_receivers`],
//!   [`RunWriter::set_attribute`], [`RunWriter::set_number`], [`RunWriter::resume`].
//! - Reading: [`RunFile::open`], [`RunFile::attributes`], [`RunFile::meta`],
//!   [`RunFile::grid`], [`RunFile::fields`], [`RunFile::diagnostics`], [`RunFile::times`],
//!   [`RunFile::steps`], [`RunFile::read_frame`], [`RunFile::read_field`],
//!   [`RunFile::read_diagnostic`], [`RunFile::static_fields`], [`RunFile::read_static`],
//!   [`RunFile::receivers`], [`RunFile::read_receivers`],
//!   [`RunFile::summary`] (for `convsim inspect`, serialisable to JSON).
//! - Inputs: [`read_input_2d`], [`read_input_2d_shaped`] (shape checked before reading).
//! - Checkpoints: [`write_checkpoint`] (atomic: temp file + rename; Fletcher-32 and a stored
//!   checksum), [`read_checkpoint`] (verifies both: [`IoError::Corrupt`]).
//! - Recognising convsim's files: [`file_kind`].
//! - Errors: [`IoError`], whose messages name the file, the dataset and what is wrong
//!   ([`FfiError`]: the raw HDF5 call that failed, with its status).
//!
//! Complex fields are written by the caller as two real fields (e.g. `psi_re`, `psi_im`).

mod arrays;
mod attrs;
mod checkpoint;
mod error;
mod ffi;
mod lock;
mod meta;
mod reader;
mod writer;
mod xdmf;

pub use arrays::{
    ArraySummary, ArraysSummary, annotate_arrays, file_kind, read_array, summarize_arrays,
    write_arrays,
};
pub use checkpoint::{Checkpoint, read_checkpoint, write_checkpoint};
pub use error::{FfiError, IoError, Result};
pub use meta::{RunMeta, now_rfc3339, rfc3339_from_unix};
pub use reader::{
    DatasetInfo, DiagnosticSummary, Receivers, RunFile, RunSummary, read_input_2d,
    read_input_2d_shaped,
};
pub use writer::{
    ATTRIBUTE_ROOM, DEFLATE_LEVEL, PLANNED_FRAMES_MAX, Precision, RunWriter, TILES_DIR, TileSource,
    TileWriter, tile_file_name,
};
pub use xdmf::{XDMF_FILE, write_xdmf};
