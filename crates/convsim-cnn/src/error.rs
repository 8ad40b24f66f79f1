//! Errors of the CNN crate.

use convsim_core::CoreError;
use thiserror::Error;

/// Everything a user can get wrong when building layers, models, data sets and training runs.
///
/// Buffer-shape mismatches between a layer's `forward` and `backward` calls are caller bugs and
/// panic instead (documented under `# Panics`).
#[derive(Debug, Error)]
pub enum CnnError {
    /// An error of the convolution core (bad geometry, empty kernel, ...).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The (dilated) kernel does not fit in the grid.
    #[error(
        "kernel {kernel:?} (dilated extent {extent:?}) is larger than the grid {grid:?} in {layer}; \
         use a kernel of at most the grid size"
    )]
    KernelLargerThanGrid {
        /// The layer that was given the input.
        layer: String,
        /// Kernel taps `(kh, kw)`.
        kernel: [usize; 2],
        /// Dilated extent `((kh - 1) dy + 1, (kw - 1) dx + 1)`.
        extent: [usize; 2],
        /// Grid `(h, w)`.
        grid: [usize; 2],
    },
    /// Channel counts that do not fit together.
    #[error("incompatible channel counts in {layer}: {detail}")]
    Channels {
        /// The layer (or model) concerned.
        layer: String,
        /// What does not fit, with the numbers.
        detail: String,
    },
    /// A parameter value outside its allowed range.
    #[error("invalid value for `{name}`: {value}; {allowed}")]
    InvalidParameter {
        /// The parameter name as it appears in the API and in scenario files.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// An array with the wrong shape (data set, targets, moment matrix).
    #[error("{what} has shape {actual:?}; expected {expected}")]
    Shape {
        /// What the array is.
        what: &'static str,
        /// The shape given.
        actual: Vec<usize>,
        /// What was expected, in words.
        expected: String,
    },
    /// Too little data for the requested operation.
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    /// A least-squares problem whose design matrix is (numerically) rank deficient.
    #[error(
        "least-squares fit is rank deficient: column {column} of {columns} has no independent \
         component (relative pivot {pivot:e}); the data do not determine every tap"
    )]
    RankDeficient {
        /// Index of the offending unknown.
        column: usize,
        /// Number of unknowns.
        columns: usize,
        /// Relative size of the pivot.
        pivot: f64,
    },
    /// The loss became NaN or infinite.
    #[error("loss is not finite ({value}) at epoch {epoch}, step {step}; lower the learning rate")]
    NonFinite {
        /// Epoch index (0-based).
        epoch: usize,
        /// Optimiser step within the run.
        step: usize,
        /// The loss value.
        value: f64,
    },
    /// A stencil file that cannot be read or written.
    #[error("stencil file {path}: {reason}")]
    StencilFile {
        /// Path of the file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Result alias of the CNN crate.
pub type Result<T, E = CnnError> = std::result::Result<T, E>;

/// `Err(InvalidParameter)` unless `lr` is finite and positive.
pub(crate) fn check_lr(lr: f64) -> Result<()> {
    if lr.is_finite() && lr > 0.0 {
        Ok(())
    } else {
        Err(CnnError::InvalidParameter {
            name: "learning_rate",
            value: format!("{lr}"),
            allowed: "it must be a positive finite number",
        })
    }
}
