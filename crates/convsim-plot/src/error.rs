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
    #[error("{path}: drawing failed: {source}", path = .path.display())]
    Draw {
        /// The output file.
        path: PathBuf,
        /// What failed.
        source: DrawError,
    },
}

/// What failed while drawing a picture ([`PlotError::Draw`] adds the file).
#[derive(Clone, Debug, thiserror::Error)]
pub enum DrawError {
    /// The plotting backend failed to draw an element or to encode or write the image.
    #[error("{message}")]
    Backend {
        /// The backend's message (its error types differ per backend).
        message: String,
    },
    /// The bundled font could not be registered.
    #[error("bundled font DejaVuSans.ttf is invalid")]
    Font,
    /// An axis has coordinates that are not finite.
    #[error("axis coordinates are not finite")]
    Axes,
    /// The colour range is not finite.
    #[error("colour range is not finite")]
    ColourRange,
    /// A bitmap buffer does not match the size it is drawn at.
    #[error("bitmap size mismatch")]
    Bitmap,
}

impl DrawError {
    /// A backend error, kept as its message.
    pub(crate) fn backend<E: std::fmt::Display>(e: E) -> Self {
        DrawError::Backend {
            message: e.to_string(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = PlotError> = std::result::Result<T, E>;

pub(crate) fn draw_err(path: &std::path::Path) -> impl Fn(DrawError) -> PlotError + '_ {
    move |source| PlotError::Draw {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn invalid(path: &std::path::Path, message: String) -> PlotError {
    PlotError::Invalid {
        path: path.to_path_buf(),
        message,
    }
}
