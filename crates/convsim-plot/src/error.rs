//! Errors of the plotting functions.

use std::path::PathBuf;

/// A picture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The inputs are inconsistent (shapes, ranges, empty data); nothing was written.
    #[error("{path}: {message}", path = .path.display())]
    Invalid {
        /// The output file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Drawing or encoding failed (unwritable path, unknown image extension, font error).
    #[error("{path}: drawing failed: {message}", path = .path.display())]
    Draw {
        /// The output file.
        path: PathBuf,
        /// The backend's message.
        message: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = PlotError> = std::result::Result<T, E>;

pub(crate) fn draw_err(path: &std::path::Path) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    }
}

pub(crate) fn invalid(path: &std::path::Path, message: String) -> PlotError {
    PlotError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}
