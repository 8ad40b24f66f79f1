//! Input files named by scenarios: datasets (`{ file = "...", dataset = "..." }`), read through
//! convsim-io and sorted into the things a scenario message needs to say, and text files
//! (scenarios, stencils), which must be regular files of bounded size.

use std::io::Read as _;
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
    /// The dataset is 2D but not of the shape asked for (its shape, from the metadata).
    Shape(Vec<usize>),
}

/// Reads a 2D float dataset of shape `shape`, checked before reading.
pub(crate) fn read_2d(
    path: &Path,
    dataset: &str,
    shape: (usize, usize),
) -> Result<Array2<f64>, InputError> {
    convsim_io::read_input_2d_shaped(path, dataset, shape).map_err(|e| match e {
        IoError::NotFound { .. } => InputError::NoFile("file not found".into()),
        IoError::Invalid { message, .. } if message.starts_with("not a regular file") => {
            InputError::NoFile("not a regular file".into())
        }
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
        IoError::Shape { shape, .. } if shape.len() == 2 && !shape.contains(&0) => {
            InputError::Shape(shape)
        }
        IoError::Shape { shape, .. } => InputError::Bad(format!("shape {shape:?} is not 2D")),
        IoError::NonFinite { count, index, .. } => InputError::Bad(format!(
            "{count} NaN or infinite value(s), the first at {index:?}"
        )),
        other => InputError::Bad(other.to_string()),
    })
}

/// Largest scenario or stencil file read: real ones are a few KiB.
pub(crate) const MAX_TEXT_FILE: u64 = 1 << 20;

/// Reads a text input (scenario, stencil): a regular file (not a device or a pipe such as
/// `/dev/zero`) of at most [`MAX_TEXT_FILE`] bytes, in UTF-8. The reason is one phrase for the
/// caller's message.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a regular file; allowed: a text file",
            path.display()
        ));
    }
    if meta.len() > MAX_TEXT_FILE {
        return Err(format!(
            "{} holds {} bytes; allowed: at most {MAX_TEXT_FILE} bytes (1 MiB)",
            path.display(),
            meta.len()
        ));
    }
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // Bounded even if the file grows between the check and the read.
    let mut bytes = Vec::new();
    f.take(MAX_TEXT_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_TEXT_FILE {
        return Err(format!(
            "{} grew beyond {MAX_TEXT_FILE} bytes while being read",
            path.display()
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}
