//! Input datasets named by scenarios (`{ file = "...", dataset = "..." }`), read through
//! convsim-io and sorted into the three things a scenario message needs to say.

use std::path::Path;

use convsim_io::IoError;
use ndarray::Array2;

/// Why an input could not be read.
#[derive(Debug)]
pub(crate) enum InputError {
    /// The file is missing or not HDF5 (the reason).
    NoFile(String),
    /// The dataset is missing (the datasets that exist, comma separated).
    NoDataset(String),
    /// The dataset exists but is not usable (wrong rank, non-finite values, ...).
    Bad(String),
}

/// Reads a 2D float dataset.
pub(crate) fn read_2d(path: &Path, dataset: &str) -> Result<Array2<f64>, InputError> {
    convsim_io::read_input_2d(path, dataset).map_err(|e| match e {
        IoError::NotFound { .. } => InputError::NoFile("file not found".into()),
        IoError::Open { source, .. } => {
            InputError::NoFile(format!("not a readable HDF5 file: {source}"))
        }
        IoError::MissingDataset { available, .. } => {
            InputError::NoDataset(if available.is_empty() {
                "(the file has no datasets)".into()
            } else {
                available.join(", ")
            })
        }
        IoError::Shape { shape, .. } => InputError::Bad(format!("shape {shape:?} is not 2D")),
        IoError::NonFinite { count, index, .. } => InputError::Bad(format!(
            "{count} NaN or infinite value(s), the first at {index:?}"
        )),
        other => InputError::Bad(other.to_string()),
    })
}
