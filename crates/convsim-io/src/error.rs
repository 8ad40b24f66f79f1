//! Typed errors: every message names the file, the dataset (or attribute) and what is wrong.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing convsim HDF5 files.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The file does not exist.
    #[error("{path}: file not found", path = .path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but is not a readable HDF5 file.
    #[error("{path}: cannot open as HDF5: {source}", path = .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The library's error.
        source: hdf5::Error,
    },
    /// A dataset (or group) asked for is not in the file.
    #[error("{path}: no dataset '{dataset}'; available: {}", list_or_none(.available), path = .path.display())]
    MissingDataset {
        /// The file.
        path: PathBuf,
        /// The dataset asked for.
        dataset: String,
        /// Datasets that exist at that level, for the message.
        available: Vec<String>,
    },
    /// A dataset has the wrong rank or shape.
    #[error("{path}: dataset '{dataset}' has shape {shape:?}; expected {expected}", path = .path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// The dataset.
        dataset: String,
        /// Its actual shape.
        shape: Vec<usize>,
        /// What was expected, in words (e.g. "rank 2 (ny, nx)").
        expected: String,
    },
    /// A dataset holds NaN or infinite values where finite values are required.
    #[error("{path}: dataset '{dataset}' holds {count} non-finite value(s), the first at index {index:?}", path = .path.display())]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The dataset.
        dataset: String,
        /// Number of NaN/inf values.
        count: usize,
        /// Index of the first one.
        index: Vec<usize>,
    },
    /// A frame index past the end of the run.
    #[error("{path}: frame {frame} of '{dataset}' requested but the file holds {frames} frame(s)", path = .path.display())]
    Frame {
        /// The file.
        path: PathBuf,
        /// The dataset.
        dataset: String,
        /// Requested frame.
        frame: usize,
        /// Frames in the file.
        frames: usize,
    },
    /// The caller's data does not fit the file's layout (wrong names, counts or shapes).
    #[error("{path}: {message}", path = .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An HDF5 library call failed.
    #[error("{path}: {context}: {source}", path = .path.display())]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// What we were doing (names the dataset or attribute).
        context: String,
        /// The library's error.
        source: hdf5::Error,
    },
    /// Another process has the file open (a writer blocks everyone; readers block writers).
    #[error("{path}: the file is open in another process (h5py, a viewer or another convsim run); close it there and retry", path = .path.display())]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// Data fails its checksum: the file was damaged after it was written.
    #[error("{path}: {what} fails its checksum: the file is damaged (a flipped bit on disk or in a copy); it cannot be used", path = .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What failed the check.
        what: String,
    },
    /// A low-level HDF5 call (a dimension scale, a fixed-length string attribute) failed.
    #[error("{path}: {context}: {source}", path = .path.display())]
    Ffi {
        /// The file.
        path: PathBuf,
        /// What we were doing (names the dataset or attribute).
        context: String,
        /// The call that failed.
        source: FfiError,
    },
    /// A file-system operation failed (create, rename, remove).
    #[error("{path}: {context}: {source}", path = .path.display())]
    Fs {
        /// The file.
        path: PathBuf,
        /// What we were doing.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What failed in one of convsim's own calls into the HDF5 C library (those the `hdf5` crate
/// does not wrap); [`IoError::Ffi`] adds the file and what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum FfiError {
    /// A name or text passed to the C library contains a NUL byte.
    #[error("name or text {text:?} contains a NUL byte")]
    Nul {
        /// The text.
        text: String,
    },
    /// The value of a string attribute contains a NUL byte.
    #[error("attribute {name}: value contains a NUL byte")]
    NulValue {
        /// The attribute.
        name: String,
    },
    /// A dimension index does not fit the C library's type.
    #[error("dimension index {index} too large")]
    Index {
        /// The index.
        index: usize,
    },
    /// A library call returned a negative status.
    #[error("HDF5 call {call} failed (status {code})")]
    Call {
        /// The C function.
        call: &'static str,
        /// Its return value.
        code: i64,
    },
    /// An attribute could not be opened, created or read.
    #[error("cannot {action} attribute {name} ({call} returned {code})")]
    Attribute {
        /// `open`, `create` or `read`.
        action: &'static str,
        /// The attribute.
        name: String,
        /// The C function.
        call: &'static str,
        /// Its return value.
        code: i64,
    },
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

/// Result alias of this crate.
pub type Result<T, E = IoError> = std::result::Result<T, E>;

/// Adds the file path and a context to `hdf5` results.
pub(crate) trait Ctx<T> {
    fn ctx(self, path: &std::path::Path, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Ctx<T> for hdf5::Result<T> {
    fn ctx(self, path: &std::path::Path, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| IoError::Hdf5 {
            path: path.to_path_buf(),
            context: context(),
            source,
        })
    }
}

impl<T> Ctx<T> for std::result::Result<T, FfiError> {
    fn ctx(self, path: &std::path::Path, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| IoError::Ffi {
            path: path.to_path_buf(),
            context: context(),
            source,
        })
    }
}
