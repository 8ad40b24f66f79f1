//! Small HDF5 files of named arrays and string attributes (training results, studies).
//!
//! A name `a/b/c` is the dataset `c` in group `/a/b` (groups are created as needed). Arrays are
//! f64 of any rank, written uncompressed; attributes are root string attributes, plus
//! `convsim_version` and `convsim_file = <kind>`.
//!
//! ```
//! use convsim_io::{read_array, write_arrays};
//! let dir = tempfile::tempdir().unwrap();
//! let p = dir.path().join("t.h5");
//! let loss = ndarray::arr1(&[1.0, 0.5, 0.25]).into_dyn();
//! write_arrays(&p, "train", &[("run_name", "x")], &[("loss/train", loss.view())]).unwrap();
//! assert_eq!(read_array(&p, "loss/train").unwrap(), loss);
//! ```

use std::path::Path;

use ndarray::{ArrayD, ArrayViewD};

use crate::attrs::set_str;
use crate::error::{Ctx, IoError, Result};
use crate::reader::open_file;
use crate::writer::create_file;

/// Creates (or replaces) `path` holding `arrays` and the root string attributes `attrs`.
///
/// # Errors
/// [`IoError::Invalid`] for an empty or repeated name; [`IoError::Hdf5`] if writing fails.
pub fn write_arrays(
    path: impl AsRef<Path>,
    kind: &str,
    attrs: &[(&str, &str)],
    arrays: &[(&str, ArrayViewD<'_, f64>)],
) -> Result<()> {
    let p = path.as_ref();
    for (i, (name, _)) in arrays.iter().enumerate() {
        if name.split('/').any(str::is_empty) || arrays[..i].iter().any(|(n, _)| n == name) {
            return Err(IoError::Invalid {
                path: p.to_path_buf(),
                message: format!("array name '{name}' is empty, has an empty part, or is repeated"),
            });
        }
    }
    let file = create_file(p)?;
    set_str(p, &file, "convsim_version", env!("CARGO_PKG_VERSION"))?;
    set_str(p, &file, "convsim_file", kind)?;
    for (k, v) in attrs {
        set_str(p, &file, k, v)?;
    }
    for (name, a) in arrays {
        let (groups, leaf) = name.rsplit_once('/').unwrap_or(("", name));
        let mut g = file.group("/").ctx(p, || "opening /".into())?;
        for part in groups.split('/').filter(|s| !s.is_empty()) {
            g = match g.group(part) {
                Ok(x) => x,
                Err(_) => g
                    .create_group(part)
                    .ctx(p, || format!("creating group {part} of {name}"))?,
            };
        }
        let data = a.as_standard_layout();
        g.new_dataset_builder()
            .with_data(&data)
            .create(leaf)
            .ctx(p, || format!("writing /{name}"))?;
    }
    file.flush().ctx(p, || "flushing".into())?;
    file.close().ctx(p, || "closing".into())
}

/// Reads the f64 array `name` (`a/b/c`) of a file written by [`write_arrays`].
///
/// # Errors
/// [`IoError::NotFound`], [`IoError::Open`], [`IoError::MissingDataset`], [`IoError::Hdf5`].
pub fn read_array(path: impl AsRef<Path>, name: &str) -> Result<ArrayD<f64>> {
    let p = path.as_ref();
    let file = open_file(p)?;
    let ds = file.dataset(name).map_err(|_| {
        let parent = name.rsplit_once('/').map_or("/", |(g, _)| g);
        IoError::MissingDataset {
            path: p.to_path_buf(),
            dataset: format!("/{name}"),
            available: file
                .group(parent)
                .and_then(|g| g.member_names())
                .unwrap_or_default(),
        }
    })?;
    ds.read_dyn().ctx(p, || format!("reading /{name}"))
}

/// The `convsim_file` root attribute of an HDF5 file (`"run"`, `"checkpoint"`, `"train"`),
/// `None` if it has none.
///
/// # Errors
/// [`IoError::NotFound`], [`IoError::Open`], [`IoError::Locked`].
pub fn file_kind(path: impl AsRef<Path>) -> Result<Option<String>> {
    let p = path.as_ref();
    let file = open_file(p)?;
    crate::attrs::get_str(p, &file, "convsim_file")
}

/// Adds numeric root attributes and `units` attributes of datasets to a file written by
/// [`write_arrays`]: `numbers` as `(name, value)` (integral values stored as integers), `units`
/// as `(dataset name, units)`.
///
/// # Errors
/// [`IoError::MissingDataset`] for a unit of an unknown dataset; [`IoError::Hdf5`].
pub fn annotate_arrays(
    path: impl AsRef<Path>,
    numbers: &[(&str, f64)],
    units: &[(&str, &str)],
) -> Result<()> {
    let p = path.as_ref();
    let file = crate::lock::open(p, crate::lock::Access::Write)?;
    for (name, v) in numbers {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            crate::attrs::set_num(p, &file, name, *v as i64)?;
        } else {
            crate::attrs::set_num(p, &file, name, *v)?;
        }
    }
    for (name, u) in units {
        let ds = file.dataset(name).map_err(|_| IoError::MissingDataset {
            path: p.to_path_buf(),
            dataset: format!("/{name}"),
            available: Vec::new(),
        })?;
        set_str(p, &ds, "units", u)?;
    }
    file.flush().ctx(p, || "flushing".into())
}

/// One dataset of an arrays file as `convsim inspect` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ArraySummary {
    /// Full path (`/loss/train`).
    pub path: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// The `units` attribute (empty if none).
    pub units: String,
    /// Smallest finite value (NaN if none).
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// Last value in storage order.
    pub last: f64,
}

/// What `convsim inspect` shows of a file of named arrays (a `train.h5`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ArraysSummary {
    /// The file.
    pub path: std::path::PathBuf,
    /// Root attributes: strings as strings, numbers as numbers.
    pub attributes: std::collections::BTreeMap<String, serde_json::Value>,
    /// Every dataset, depth first.
    pub datasets: Vec<ArraySummary>,
}

/// Summarises a file written by [`write_arrays`] (or any HDF5 file of numeric datasets).
///
/// # Errors
/// [`IoError::NotFound`], [`IoError::Open`], [`IoError::Hdf5`].
pub fn summarize_arrays(path: impl AsRef<Path>) -> Result<ArraysSummary> {
    let p = path.as_ref();
    let file = open_file(p)?;
    let mut attributes = std::collections::BTreeMap::new();
    for name in file
        .attr_names()
        .ctx(p, || "listing root attributes".into())?
    {
        let v = if let Some(s) = crate::attrs::get_str(p, &file, &name)? {
            serde_json::Value::String(s)
        } else if let Some(i) = crate::attrs::get_num::<i64>(&file, &name) {
            serde_json::Value::from(i)
        } else if let Some(x) = crate::attrs::get_num::<f64>(&file, &name) {
            serde_json::Value::from(x)
        } else {
            continue;
        };
        attributes.insert(name, v);
    }
    let mut datasets = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(g) = stack.pop() {
        let group = file
            .group(if g.is_empty() { "/" } else { &g })
            .ctx(p, || format!("opening {g}"))?;
        let mut names = group.member_names().ctx(p, || format!("listing {g}"))?;
        names.sort();
        for n in names.into_iter().rev() {
            let full = format!("{g}/{n}");
            if let Ok(ds) = group.dataset(&n) {
                let v: Vec<f64> = ds.read_raw::<f64>().ctx(p, || format!("reading {full}"))?;
                let fin = v.iter().copied().filter(|x| x.is_finite());
                datasets.push(ArraySummary {
                    path: full.clone(),
                    shape: ds.shape(),
                    units: crate::attrs::get_str(p, &ds, "units")?.unwrap_or_default(),
                    min: fin.clone().fold(f64::NAN, f64::min),
                    max: fin.fold(f64::NAN, f64::max),
                    last: v.last().copied().unwrap_or(f64::NAN),
                });
            } else {
                stack.push(full);
            }
        }
    }
    datasets.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ArraysSummary {
        path: p.to_path_buf(),
        attributes,
        datasets,
    })
}
