//! Errors a user can make when setting up a diffusion run.

use convsim_core::{ParamError, ParamPath};
use thiserror::Error;

/// A diffusion setup that cannot run. Every message names the parameter, the value and what is
/// allowed; each variant tied to one parameter carries its scenario path ([`ParamError`]),
/// with the keys of the `[diffusion]` table (see [`crate::DiffusionParams`]).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DiffusionError {
    /// A parameter value outside its allowed range.
    #[error("diffusion parameter `{param}` = {value} is invalid: allowed {allowed}")]
    InvalidParameter {
        /// Where it is in a scenario (e.g. `grid.dx`, `order`).
        param: ParamPath,
        /// The offending value, as written.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// An explicit time step above the stability limit.
    #[error(
        "diffusion parameter `dt` = {dt:e} s is above the stability limit {limit:e} s of the \
         {scheme} scheme; choose dt <= {shown:e} (or the spectral scheme on a periodic domain)",
        shown = round_down(*limit)
    )]
    Unstable {
        /// The requested time step (s).
        dt: f64,
        /// The largest stable time step (s).
        limit: f64,
        /// Scheme description (e.g. `explicit order-2`).
        scheme: String,
    },
    /// A step stencil that amplifies some mode of the grid.
    #[error(
        "the step stencil amplifies the mode (theta_y, theta_x) = ({:.6}, {:.6}) rad by \
         |K_hat| = {amplification:.15}, above the allowed 1 + 1e-12 (it would grow every step); \
         allowed: a stencil with max |K_hat| <= 1, or allow_unstable = true",
        theta[0], theta[1]
    )]
    UnstableStep {
        /// `max |K_hat|` over the grid's wavenumbers.
        amplification: f64,
        /// The wavenumbers `(theta_y, theta_x)` (rad per node) where it is reached.
        theta: [f64; 2],
    },
    /// An array parameter of the wrong shape.
    #[error("diffusion array `{param}` has shape {actual:?}; the grid needs {expected:?}")]
    Shape {
        /// The array (`initial.u`, `source`, `diffusivity`).
        param: ParamPath,
        /// `(ny, nx)` of the grid.
        expected: (usize, usize),
        /// Shape given.
        actual: (usize, usize),
    },
    /// A NaN, an infinity (or, for `D`, a non-positive value) in an input array.
    #[error("diffusion array `{param}` has value {value} at (y, x) = {index:?}; allowed {allowed}")]
    BadValue {
        /// The array.
        param: ParamPath,
        /// Index `(i, j)` of the first offending element.
        index: (usize, usize),
        /// The value.
        value: f64,
        /// What is allowed.
        allowed: &'static str,
    },
    /// An error of the convolution core while planning (should not happen for valid params).
    #[error("planning the diffusion operator: {0}")]
    Core(#[from] convsim_core::CoreError),
}

impl ParamError for DiffusionError {
    fn param(&self) -> Option<ParamPath> {
        match self {
            DiffusionError::InvalidParameter { param, .. }
            | DiffusionError::Shape { param, .. }
            | DiffusionError::BadValue { param, .. } => Some(param.clone()),
            DiffusionError::Unstable { .. } => Some(ParamPath::Time("dt")),
            // The taps come from the stencil file.
            DiffusionError::UnstableStep { .. } => Some(ParamPath::table("stencil")),
            DiffusionError::Core(_) => None,
        }
    }

    fn value(&self) -> String {
        match self {
            DiffusionError::InvalidParameter { value, .. } => value.clone(),
            DiffusionError::Unstable { dt, .. } => format!("{dt:e}"),
            DiffusionError::UnstableStep { .. } => "(file)".into(),
            DiffusionError::Shape { actual, .. } => format!("shape {actual:?}"),
            DiffusionError::BadValue { index, value, .. } => {
                format!("{value} at (y, x) index {index:?}")
            }
            DiffusionError::Core(_) => "(setup)".into(),
        }
    }

    fn reason(&self) -> String {
        match self {
            DiffusionError::InvalidParameter { allowed, .. } => format!("allowed: {allowed}"),
            DiffusionError::BadValue { allowed, .. } => format!("allowed: {allowed}"),
            DiffusionError::Shape { expected, .. } => format!("allowed: shape {expected:?}"),
            DiffusionError::Unstable { limit, scheme, .. } => {
                let shown = round_down(*limit);
                format!(
                    "above the stability limit {shown:e} s of the {scheme} scheme; allowed: \
                     dt <= {shown:e} (or scheme = \"spectral\" on a periodic domain)"
                )
            }
            DiffusionError::UnstableStep { .. } | DiffusionError::Core(_) => self.to_string(),
        }
    }
}

/// `v` rounded down to 6 significant digits, so that a `dt` copied from the message is stable.
fn round_down(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return v;
    }
    let scale = 10f64.powi(5 - v.log10().floor() as i32);
    // A product that rounds up across an integer overshoots by an ulp, inside LIMIT_SLACK.
    (v * scale).floor() / scale
}
