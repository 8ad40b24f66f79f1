//! Errors a user of the quantum solver can make.

use convsim_core::{ParamError, ParamPath};
use thiserror::Error;

/// Everything a user can get wrong when building a [`crate::QuantumSolver`]: each variant names
/// the parameter, the offending value and what is allowed; each variant tied to one parameter
/// carries its scenario path ([`ParamError`]), with the keys of the `[quantum]` table (see
/// [`crate::QuantumParams`]).
///
/// Shape mismatches of buffers handed to library methods by other code (not by a user) are caller
/// bugs and panic instead, as documented under `# Panics`.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum QuantumError {
    /// A parameter outside its allowed range.
    #[error("{param} = {value} is not allowed: {allowed}")]
    InvalidValue {
        /// Where it is in a scenario (`time.dt`, `potential[1].height`, ...).
        param: ParamPath,
        /// The offending value, formatted.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// The initial state cannot be normalised (all zero, or holding NaN/infinity).
    #[error(
        "initial state is not normalisable: its norm sum |psi|^2 dA is {norm}; \
         give a finite, non-zero wavefunction"
    )]
    NotNormalisable {
        /// The norm found.
        norm: f64,
    },
    /// An array of the wrong shape (initial state, potential from a file).
    #[error("{param} has shape {actual:?} but the grid is (ny, nx) = {expected:?}")]
    Shape {
        /// Which array.
        param: ParamPath,
        /// The grid shape `(ny, nx)`.
        expected: [usize; 2],
        /// The array's shape.
        actual: [usize; 2],
    },
    /// An array holding NaN or infinity.
    #[error(
        "{param} holds a non-finite value {value} at (row, column) = {at:?}; every value must be finite"
    )]
    NonFinite {
        /// Which array.
        param: ParamPath,
        /// The first non-finite value found.
        value: f64,
        /// Its `(row, column)` index.
        at: [usize; 2],
    },
    /// A time step above the stability limit of the explicit finite-difference integrator.
    #[error(
        "dt = {dt} is unstable for the finite-difference path ({detail}); it must be at most {max_dt:.6e}"
    )]
    UnstableDt {
        /// The requested time step.
        dt: f64,
        /// The largest stable time step.
        max_dt: f64,
        /// How the limit was computed (stencil symbol, potential range).
        detail: String,
    },
    /// A combination of options the solver cannot run.
    #[error("{what} is not supported: {why}")]
    Unsupported {
        /// The option.
        what: String,
        /// Why, and what to use instead.
        why: String,
    },
    /// An error from the convolution core (plans, stencils).
    #[error(transparent)]
    Core(#[from] convsim_core::CoreError),
}

/// Result alias of this crate.
pub type Result<T, E = QuantumError> = std::result::Result<T, E>;

impl ParamError for QuantumError {
    fn param(&self) -> Option<ParamPath> {
        match self {
            QuantumError::InvalidValue { param, .. }
            | QuantumError::Shape { param, .. }
            | QuantumError::NonFinite { param, .. } => Some(param.clone()),
            QuantumError::UnstableDt { .. } => Some(ParamPath::Time("dt")),
            QuantumError::NotNormalisable { .. } => Some(ParamPath::Initial("psi_re")),
            // A combination of options: the `[quantum]` table as a whole.
            QuantumError::Unsupported { .. } => Some(ParamPath::table("")),
            QuantumError::Core(_) => None,
        }
    }

    fn value(&self) -> String {
        match self {
            QuantumError::InvalidValue { value, .. } => value.clone(),
            QuantumError::UnstableDt { dt, .. } => format!("{dt:e}"),
            QuantumError::NotNormalisable { norm } => format!("norm {norm}"),
            QuantumError::Shape { .. } | QuantumError::NonFinite { .. } => "(array)".into(),
            QuantumError::Unsupported { what, .. } => what.clone(),
            QuantumError::Core(_) => "(setup)".into(),
        }
    }

    fn reason(&self) -> String {
        match self {
            QuantumError::InvalidValue { allowed, .. } => format!("allowed: {allowed}"),
            QuantumError::UnstableDt { max_dt, detail, .. } => format!(
                "above the stability limit of the finite-difference RK4 path ({detail}); \
                 allowed: dt <= {max_dt:.6e}, or method = \"strang\" on a periodic domain"
            ),
            QuantumError::NotNormalisable { .. } => {
                "allowed: a finite, non-zero wavefunction".into()
            }
            QuantumError::Unsupported { why, .. } => format!("not supported: {why}"),
            QuantumError::Shape { .. } | QuantumError::NonFinite { .. } | QuantumError::Core(_) => {
                self.to_string()
            }
        }
    }
}

/// Shorthand for [`QuantumError::InvalidValue`].
pub(crate) fn invalid(param: ParamPath, value: impl ToString, allowed: &str) -> QuantumError {
    QuantumError::InvalidValue {
        param,
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

/// Checks that `v` is finite.
pub(crate) fn finite(param: ParamPath, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(invalid(param, v, "a finite number"))
    }
}

/// Checks that `v` is finite and strictly positive.
pub(crate) fn positive(param: ParamPath, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(invalid(param, v, "a finite number > 0"))
    }
}

/// Checks that `v` is finite and not negative.
pub(crate) fn non_negative(param: ParamPath, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(invalid(param, v, "a finite number >= 0"))
    }
}
