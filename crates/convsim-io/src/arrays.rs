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
