//! Reading run files back ([`RunFile`]) and model inputs ([`read_input_2d`]).

mod statics;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use convsim_core::{Grid, Quantity};
use hdf5::{Dataset, Group};

use crate::lock::{Access, H5File};
use ndarray::{Array2, Array3, s};
use serde::Serialize;

use crate::attrs::get_str;
use crate::error::{Ctx, IoError, Result};
use crate::meta::RunMeta;
use crate::writer::{RESERVED_ROOT_ATTRS, grid_from_coords, member_order, signed_attr};

/// A field or diagnostic as stored: its [`Quantity`] and the dataset's shape and type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasetInfo {
    /// Name, units, long name and sign convention.
    pub quantity: Quantity,
    /// Full path in the file (`/fields/u`).
    pub path: String,
    /// Stored shape (`(t, ny, nx)` or `(t,)`; `t` may exceed [`RunFile::frames`] by one after
    /// a kill in the middle of an append).
    pub shape: Vec<usize>,
    /// Stored element type (`"f64"`, `"f32"`).
    pub dtype: String,
}

/// Receiver data of one shot.
#[derive(Clone, Debug, PartialEq)]
pub struct Receivers {
    /// Receiver coordinates, shape `(r, 2)`, columns `(y, x)`.
    pub coords: Array2<f64>,
    /// Traces, shape `(r, nt)`, sample `k` at `t = k dt`; samples not yet recorded (a run
    /// stopped early) are NaN.
    pub traces: Array2<f64>,
    /// Samples recorded (`nt` for a complete gather).
    pub recorded: usize,
    /// Source positions `(y, x)` of the shot (empty if the file does not say).
    pub sources: Vec<[f64; 2]>,
    /// Sample interval of the traces, in the run's time unit.
    pub dt: f64,
    /// What the traces record (name, units, long name).
    pub quantity: Quantity,
}

/// Summary of a diagnostic over the frames of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiagnosticSummary {
    /// Name.
    pub name: String,
    /// Units.
    pub units: String,
    /// Smallest value (NaN if there are no frames; NaN values are skipped).
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Value at the last frame.
    pub last: f64,
}

/// What `convsim inspect` shows: serialisable to JSON with `serde_json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// The file.
    pub path: PathBuf,
    /// Every string attribute of `/`.
    pub attributes: BTreeMap<String, String>,
    /// The grid from `/scales/y` and `/scales/x`.
    pub grid: Grid,
    /// Complete frames in the file.
    pub frames: usize,
    /// Step and time of the first and last frame, if any.
    pub first: Option<(u64, f64)>,
    /// Step and time of the last frame.
    pub last: Option<(u64, f64)>,
    /// Unit of time.
    pub time_units: String,
    /// Field datasets.
    pub fields: Vec<DatasetInfo>,
    /// Static fields (`/static/<name>`, written once).
    pub static_fields: Vec<DatasetInfo>,
    /// Diagnostic datasets.
    pub diagnostics: Vec<DatasetInfo>,
    /// min / max / last of each diagnostic.
    pub diagnostic_summaries: Vec<DiagnosticSummary>,
    /// Shot names under `/receivers`.
    pub receivers: Vec<String>,
}

/// A run file opened for reading.
///
/// The number of frames is the length of `/scales/time` (written last by each append), capped
/// by every field and diagnostic length, so a file cut by a kill in the middle of an append
/// shows only complete frames.
pub struct RunFile {
    path: PathBuf,
    file: H5File,
    frames: usize,
    fields: Vec<String>,
    diagnostics: Vec<String>,
}

impl std::fmt::Debug for RunFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunFile")
            .field("path", &self.path)
            .field("frames", &self.frames)
            .field("fields", &self.fields)
            .field("diagnostics", &self.diagnostics)
            .finish_non_exhaustive()
    }
}

/// Opens an HDF5 file read-only with typed errors for a missing or non-HDF5 file.
pub(crate) fn open_file(p: &Path) -> Result<H5File> {
    let Ok(meta) = p.metadata() else {
        return Err(IoError::NotFound {
            path: p.to_path_buf(),
        });
    };
    // A FIFO would block the open forever, a device would be read as if it were a file.
    if !meta.is_file() {
        return Err(IoError::Invalid {
            path: p.to_path_buf(),
            message: "not a regular file (a directory, a device or a pipe); allowed: an HDF5 file"
                .into(),
        });
    }
    crate::lock::open(p, Access::Read)
}

fn not_run_file(p: &Path, what: &str) -> IoError {
    IoError::Invalid {
        path: p.to_path_buf(),
        message: format!("not a convsim run file: {what} missing"),
    }
}

impl RunFile {
    /// Opens a run file.
    ///
    /// # Errors
    /// [`IoError::NotFound`], [`IoError::Open`] (not HDF5), [`IoError::Locked`] (another
    /// process is writing it), [`IoError::Invalid`] if `/scales` or `/fields` is missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let p = path.as_ref();
        let file = open_file(p)?;
        let time = file
            .dataset("scales/time")
            .map_err(|_| not_run_file(p, "/scales/time"))?;
        let step = file
            .dataset("scales/step")
            .map_err(|_| not_run_file(p, "/scales/step"))?;
        let fields_g = file
            .group("fields")
            .map_err(|_| not_run_file(p, "/fields"))?;
        let diags_g = file
            .group("diagnostics")
            .map_err(|_| not_run_file(p, "/diagnostics"))?;
        let fields = member_order(p, &fields_g)?;
        let diagnostics = member_order(p, &diags_g)?;
        let mut frames = time.shape()[0].min(step.shape()[0]);
        for f in &fields {
            frames = frames.min(
                fields_g
                    .dataset(f)
                    .ctx(p, || format!("opening /fields/{f}"))?
                    .shape()[0],
            );
        }
        for d in &diagnostics {
            frames = frames.min(
                diags_g
                    .dataset(d)
                    .ctx(p, || format!("opening /diagnostics/{d}"))?
                    .shape()[0],
            );
        }
        Ok(RunFile {
            path: p.to_path_buf(),
            file,
            frames,
            fields,
            diagnostics,
        })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Complete frames in the file.
    #[must_use]
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Every string attribute of `/` (name -> value).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn attributes(&self) -> Result<BTreeMap<String, String>> {
        let p = self.path.as_path();
        let mut out = BTreeMap::new();
        for name in self
            .file
            .attr_names()
            .ctx(p, || "listing root attributes".into())?
        {
            if let Some(v) = get_str(p, &self.file, &name)? {
                out.insert(name, v);
            }
        }
        Ok(out)
    }

    /// The run's metadata (missing fixed attributes read as empty strings).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn meta(&self) -> Result<RunMeta> {
        Ok(meta_from_attrs(self.attributes()?))
    }

    /// The grid, from `/scales/y` and `/scales/x`.
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn grid(&self) -> Result<Grid> {
        Ok(grid_from_coords(&self.ys()?, &self.xs()?))
    }

    /// Coordinates of the rows (`/scales/y`).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn ys(&self) -> Result<Vec<f64>> {
        self.read_1d("scales/y")
    }

    /// Coordinates of the columns (`/scales/x`).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn xs(&self) -> Result<Vec<f64>> {
        self.read_1d("scales/x")
    }

    /// Simulation time of each frame.
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn times(&self) -> Result<Vec<f64>> {
        let mut t = self.read_1d("scales/time")?;
        t.truncate(self.frames);
        Ok(t)
    }

    /// Step count of each frame.
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn steps(&self) -> Result<Vec<u64>> {
        let p = self.path.as_path();
        let ds = self
            .file
            .dataset("scales/step")
            .ctx(p, || "opening /scales/step".into())?;
        let v: Vec<i64> = ds.read_raw().ctx(p, || "reading /scales/step".into())?;
        Ok(v.into_iter()
            .take(self.frames)
            .map(|s| s.max(0) as u64)
            .collect())
    }

    /// Unit of simulation time (the `units` attribute of `/scales/time`).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn time_units(&self) -> Result<String> {
        let p = self.path.as_path();
        let ds = self
            .file
            .dataset("scales/time")
            .ctx(p, || "opening /scales/time".into())?;
        Ok(get_str(p, &ds, "units")?.unwrap_or_default())
    }

    fn info(&self, group: &str, name: &str) -> Result<DatasetInfo> {
        let ds = self.dataset(group, name)?;
        let p = self.path.as_path();
        let dtype = match ds.dtype().map(|t| t.size()) {
            Ok(4) => "f32",
            _ => "f64",
        };
        Ok(DatasetInfo {
            quantity: Quantity {
                name: name.into(),
                units: get_str(p, &ds, "units")?.unwrap_or_default(),
                long_name: get_str(p, &ds, "long_name")?.unwrap_or_default(),
                signed: signed_attr(&ds),
            },
            path: format!("/{group}/{name}"),
            shape: ds.shape(),
            dtype: dtype.into(),
        })
    }

    /// The fields, in the order they were added.
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn fields(&self) -> Result<Vec<DatasetInfo>> {
        self.fields.iter().map(|n| self.info("fields", n)).collect()
    }

    /// The diagnostics, in the order they were added.
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn diagnostics(&self) -> Result<Vec<DatasetInfo>> {
        self.diagnostics
            .iter()
            .map(|n| self.info("diagnostics", n))
            .collect()
    }

    fn dataset(&self, group: &str, name: &str) -> Result<Dataset> {
        let statics;
        let known = match group {
            "fields" => &self.fields,
            "diagnostics" => &self.diagnostics,
            _ => {
                statics = self.static_names()?;
                &statics
            }
        };
        if !known.iter().any(|n| n == name) {
            return Err(IoError::MissingDataset {
                path: self.path.clone(),
                dataset: format!("/{group}/{name}"),
                available: known.iter().map(|n| format!("/{group}/{n}")).collect(),
            });
        }
        self.file
            .dataset(&format!("{group}/{name}"))
            .ctx(&self.path, || format!("opening /{group}/{name}"))
    }

    /// Frame `k` of field `name`, shape `(ny, nx)` (f32 fields are widened to f64); for a
    /// static field, its one value at every frame.
    ///
    /// # Errors
    /// [`IoError::MissingDataset`] (listing the fields), [`IoError::Frame`] for `k >= frames`.
    pub fn read_frame(&self, name: &str, k: usize) -> Result<Array2<f64>> {
        let is_static = self.is_static(name);
        if k >= self.frames {
            return Err(IoError::Frame {
                path: self.path.clone(),
                dataset: format!("/fields/{name}"),
                frame: k,
                frames: self.frames,
            });
        }
        if is_static {
            return self.read_static(name);
        }
        let ds = self.dataset("fields", name)?;
        ds.read_slice_2d::<f64, _>(s![k, .., ..])
            .ctx(&self.path, || {
                format!("reading frame {k} of /fields/{name}")
            })
    }

    /// Every complete frame of field `name`, shape `(frames, ny, nx)` (a static field
    /// repeated).
    ///
    /// # Errors
    /// [`IoError::MissingDataset`], [`IoError::Hdf5`].
    pub fn read_field(&self, name: &str) -> Result<Array3<f64>> {
        if self.is_static(name) {
            let a = self.read_static(name)?;
            let (ny, nx) = a.dim();
            return Ok(a
                .broadcast((self.frames, ny, nx))
                .map_or_else(|| Array3::zeros((0, ny, nx)), |b| b.to_owned()));
        }
        let ds = self.dataset("fields", name)?;
        ds.read_slice::<f64, _, ndarray::Ix3>(s![..self.frames, .., ..])
            .ctx(&self.path, || format!("reading /fields/{name}"))
    }

    /// Values of diagnostic `name` at every complete frame.
    ///
    /// # Errors
    /// [`IoError::MissingDataset`] (listing the diagnostics), [`IoError::Hdf5`].
    pub fn read_diagnostic(&self, name: &str) -> Result<Vec<f64>> {
        let ds = self.dataset("diagnostics", name)?;
        let mut v: Vec<f64> = ds
            .read_raw()
            .ctx(&self.path, || format!("reading /diagnostics/{name}"))?;
        v.truncate(self.frames);
        Ok(v)
    }

    /// Shot names under `/receivers` (empty if there are none).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn receivers(&self) -> Result<Vec<String>> {
        match self.file.group("receivers") {
            Ok(g) => g
                .member_names()
                .ctx(&self.path, || "listing /receivers".into()),
            Err(_) => Ok(Vec::new()),
        }
    }

    /// The gather of one shot.
    ///
    /// # Errors
    /// [`IoError::MissingDataset`] (listing the shots), [`IoError::Hdf5`].
    pub fn read_receivers(&self, shot: &str) -> Result<Receivers> {
        let p = self.path.as_path();
        let shots = self.receivers()?;
        if !shots.iter().any(|s| s == shot) {
            return Err(IoError::MissingDataset {
                path: self.path.clone(),
                dataset: format!("/receivers/{shot}"),
                available: shots.iter().map(|s| format!("/receivers/{s}")).collect(),
            });
        }
        let g: Group = self
            .file
            .group(&format!("receivers/{shot}"))
            .ctx(p, || format!("opening /receivers/{shot}"))?;
        let open = |n: &str| {
            g.dataset(n)
                .ctx(p, || format!("opening /receivers/{shot}/{n}"))
        };
        // `traces` is the name before gathers were written frame by frame.
        let traces_ds = open("gather").or_else(|e| open("traces").map_err(|_| e))?;
        let traces = traces_ds
            .read_2d::<f64>()
            .ctx(p, || format!("reading /receivers/{shot}/gather"))?;
        let recorded = crate::attrs::get_num::<i64>(&traces_ds, "samples_recorded")
            .and_then(|v| usize::try_from(v).ok())
            .unwrap_or(traces.ncols());
        let attr_vec = |name: &str| -> Vec<f64> {
            g.attr(name)
                .and_then(|a| a.read_raw::<f64>())
                .unwrap_or_default()
        };
        let sources = attr_vec("source_y")
            .into_iter()
            .zip(attr_vec("source_x"))
            .map(|(y, x)| [y, x])
            .collect();
        let ys: Vec<f64> = open("y")?
            .read_raw()
            .ctx(p, || "reading receiver y".into())?;
        let xs: Vec<f64> = open("x")?
            .read_raw()
            .ctx(p, || "reading receiver x".into())?;
        let mut coords = Array2::zeros((ys.len(), 2));
        for (i, (y, x)) in ys.iter().zip(&xs).enumerate() {
            coords[[i, 0]] = *y;
            coords[[i, 1]] = *x;
        }
        let dt = crate::attrs::get_num::<f64>(&*open("time")?, "dt").unwrap_or(f64::NAN);
        let quantity = Quantity {
            name: shot.into(),
            units: get_str(p, &traces_ds, "units")?.unwrap_or_default(),
            long_name: get_str(p, &traces_ds, "long_name")?.unwrap_or_default(),
            signed: signed_attr(&traces_ds),
        };
        Ok(Receivers {
            coords,
            traces,
            recorded,
            sources,
            dt,
            quantity,
        })
    }

    /// Everything `convsim inspect` prints; `serde_json::to_string_pretty(&summary)` for `--json`.
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn summary(&self) -> Result<RunSummary> {
        let steps = self.steps()?;
        let times = self.times()?;
        let pair = |k: usize| steps.get(k).copied().zip(times.get(k).copied());
        let mut diagnostic_summaries = Vec::new();
        for d in self.diagnostics()? {
            let v = self.read_diagnostic(&d.quantity.name)?;
            let finite = v.iter().copied().filter(|x| !x.is_nan());
            diagnostic_summaries.push(DiagnosticSummary {
                name: d.quantity.name.clone(),
                units: d.quantity.units.clone(),
                min: finite.clone().reduce(f64::min).unwrap_or(f64::NAN),
                max: finite.reduce(f64::max).unwrap_or(f64::NAN),
                last: v.last().copied().unwrap_or(f64::NAN),
            });
        }
        Ok(RunSummary {
            path: self.path.clone(),
            attributes: self.attributes()?,
            grid: self.grid()?,
            frames: self.frames,
            first: pair(0),
            last: self.frames.checked_sub(1).and_then(pair),
            time_units: self.time_units()?,
            fields: self.fields()?,
            static_fields: self.static_fields()?,
            diagnostics: self.diagnostics()?,
            diagnostic_summaries,
            receivers: self.receivers()?,
        })
    }

    fn read_1d(&self, name: &str) -> Result<Vec<f64>> {
        let p = self.path.as_path();
        self.file
            .dataset(name)
            .and_then(|d| d.read_raw::<f64>())
            .ctx(p, || format!("reading /{name}"))
    }
}

/// Builds a [`RunMeta`] from root attributes (fixed names to fields, the rest to `attributes`).
pub(crate) fn meta_from_attrs(mut attrs: BTreeMap<String, String>) -> RunMeta {
    let mut take = |k: &str| attrs.remove(k).unwrap_or_default();
    let m = RunMeta {
        convsim_version: take("convsim_version"),
        solver: take("solver"),
        scenario: take("scenario"),
        created: take("created"),
        recipe: take("recipe"),
        time_units: take("time_units"),
        length_units: take("length_units"),
        attributes: BTreeMap::new(),
    };
    for k in RESERVED_ROOT_ATTRS {
        attrs.remove(k);
    }
    RunMeta {
        attributes: attrs,
        ..m
    }
}

/// Reads a 2D model input (velocity, diffusivity, potential) from `dataset` of an HDF5 file,
/// as f64 (integer and f32 data are converted), axis order `(y, x)`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("model.h5");
/// let f = hdf5::File::create(&path).unwrap();
/// f.new_dataset_builder().with_data(&ndarray::array![[1.0, 2.0], [3.0, 4.0]]).create("vp").unwrap();
/// drop(f);
/// let v = convsim_io::read_input_2d(&path, "vp").unwrap();
/// assert_eq!(v[[1, 0]], 3.0);
/// let e = convsim_io::read_input_2d(&path, "vs").unwrap_err().to_string();
/// assert!(e.contains("no dataset 'vs'") && e.contains("/vp"), "{e}");
/// ```
///
/// # Errors
/// [`IoError::NotFound`]; [`IoError::Open`] for a non-HDF5 file; [`IoError::MissingDataset`]
/// listing every dataset of the file; [`IoError::Shape`] if the rank is not 2 or a side is 0;
/// [`IoError::NonFinite`] with the count and the first index of NaN/inf values.
pub fn read_input_2d(path: impl AsRef<Path>, dataset: &str) -> Result<Array2<f64>> {
    read_input(path.as_ref(), dataset, None)
}

/// [`read_input_2d`] for a dataset that must have shape `(ny, nx)`: the shape is checked from
/// the file's metadata before anything is read, so a small file declaring a huge dataset is
/// refused without allocating it.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("model.h5");
/// let f = hdf5::File::create(&path).unwrap();
/// f.new_dataset::<f64>().shape((100_000, 100_000)).create("huge").unwrap();
/// drop(f);
/// let e = convsim_io::read_input_2d_shaped(&path, "huge", (3, 4)).unwrap_err();
/// assert!(matches!(e, convsim_io::IoError::Shape { .. }), "{e}");
/// ```
///
/// # Errors
/// As [`read_input_2d`]; [`IoError::Shape`] for any other shape.
pub fn read_input_2d_shaped(
    path: impl AsRef<Path>,
    dataset: &str,
    shape: (usize, usize),
) -> Result<Array2<f64>> {
    read_input(path.as_ref(), dataset, Some(shape))
}

fn read_input(p: &Path, dataset: &str, want: Option<(usize, usize)>) -> Result<Array2<f64>> {
    let file = open_file(p)?;
    let name = dataset.trim_start_matches('/');
    let ds = if name.is_empty() {
        None
    } else {
        file.dataset(name).ok()
    };
    let Some(ds) = ds else {
        let mut available = Vec::new();
        list_datasets(&file, "", &mut available);
        return Err(IoError::MissingDataset {
            path: p.to_path_buf(),
            dataset: dataset.into(),
            available,
        });
    };
    let shape = ds.shape();
    if shape.len() != 2 || shape.contains(&0) {
        return Err(IoError::Shape {
            path: p.to_path_buf(),
            dataset: dataset.into(),
            shape,
            expected: "rank 2 (ny, nx) with both sides at least 1".into(),
        });
    }
    if let Some((ny, nx)) = want
        && shape != [ny, nx]
    {
        return Err(IoError::Shape {
            path: p.to_path_buf(),
            dataset: dataset.into(),
            shape,
            expected: format!("(ny, nx) = ({ny}, {nx})"),
        });
    }
    let a = ds
        .read_2d::<f64>()
        .ctx(p, || format!("reading '{dataset}' as f64"))?;
    let mut bad = a.indexed_iter().filter(|(_, v)| !v.is_finite());
    if let Some(((i, j), _)) = bad.next() {
        return Err(IoError::NonFinite {
            path: p.to_path_buf(),
            dataset: dataset.into(),
            count: 1 + bad.count(),
            index: vec![i, j],
        });
    }
    Ok(a)
}

fn list_datasets(g: &Group, prefix: &str, out: &mut Vec<String>) {
    for name in g.member_names().unwrap_or_default() {
        let full = format!("{prefix}/{name}");
        if let Ok(sub) = g.group(&name) {
            list_datasets(&sub, &full, out);
        } else {
            out.push(full);
        }
    }
}
