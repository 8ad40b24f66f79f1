//! Errors and warnings of the seismic solver.

use std::fmt;

use convsim_core::{ParamError, ParamPath};
use thiserror::Error;

/// Everything a user can get wrong when setting up a seismic run. Each message names the
/// parameter, the value and what is allowed; each variant carries (or knows) its scenario path
/// ([`ParamError`]), with the keys of the `[seismic]` table (see [`crate::SeismicParams`]).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SeismicError {
    /// The time step is above the exact leapfrog stability limit.
    #[error(
        "dt = {dt} s is above the stability limit {limit:.6e} s of the leapfrog scheme with space \
         order {order}, v_max = {v_max} m/s and spacing (dy, dx) = ({dy}, {dx}) m; \
         choose dt <= {limit:.6e} s"
    )]
    Unstable {
        /// The requested time step, s.
        dt: f64,
        /// The largest stable time step, s.
        limit: f64,
        /// Space order.
        order: usize,
        /// Largest velocity of the model, m/s.
        v_max: f64,
        /// Spacing along y, m.
        dy: f64,
        /// Spacing along x, m.
        dx: f64,
    },
    /// A source or receiver lies outside the model.
    #[error(
        "{what} at (y, x) = ({y}, {x}) m lies outside the model, which spans y in [{y0}, {y1}] m \
         and x in [{x0}, {x1}] m"
    )]
    OutsideModel {
        /// Which point (e.g. `"receivers[3]"`).
        what: String,
        /// The list it belongs to, as keyed in the `[seismic]` table: `sources` or `receivers`.
        list: &'static str,
        /// Its y coordinate, m.
        y: f64,
        /// Its x coordinate, m.
        x: f64,
        /// First row coordinate, m.
        y0: f64,
        /// Last row coordinate, m.
        y1: f64,
        /// First column coordinate, m.
        x0: f64,
        /// Last column coordinate, m.
        x1: f64,
    },
    /// A model array holds a value that is not allowed (negative, zero, NaN, infinite).
    #[error("{name} has the invalid value {value} at (row {row}, column {col}); {allowed}")]
    BadModelValue {
        /// Model name, its key in the `[seismic]` table (`"velocity"`, `"density"`).
        name: &'static str,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
        /// The value.
        value: f64,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A model array does not have the grid's shape.
    #[error(
        "{name} array has shape {actual:?} but the grid is (ny, nx) = {expected:?}; \
         the array must have exactly the grid's shape"
    )]
    ShapeMismatch {
        /// Model name, its key in the `[seismic]` table.
        name: &'static str,
        /// The grid's `(ny, nx)`.
        expected: [usize; 2],
        /// The array's shape.
        actual: [usize; 2],
    },
    /// Any other parameter out of its allowed range.
    #[error("parameter {param} = {value} is invalid: {allowed}")]
    InvalidParameter {
        /// Where it is in a scenario (`order`, `cpml.width`, `time.dt`).
        param: ParamPath,
        /// The value as given.
        value: String,
        /// What is allowed.
        allowed: String,
    },
}

impl SeismicError {
    pub(crate) fn invalid(
        param: ParamPath,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        SeismicError::InvalidParameter {
            param,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl ParamError for SeismicError {
    fn param(&self) -> Option<ParamPath> {
        Some(match self {
            SeismicError::Unstable { .. } => ParamPath::Time("dt"),
            SeismicError::OutsideModel { list, .. } => ParamPath::table(*list),
            SeismicError::BadModelValue { name, .. } | SeismicError::ShapeMismatch { name, .. } => {
                ParamPath::table(*name)
            }
            SeismicError::InvalidParameter { param, .. } => param.clone(),
        })
    }

    fn value(&self) -> String {
        match self {
            SeismicError::Unstable { dt, .. } => format!("{dt:e}"),
            SeismicError::OutsideModel { what, .. } => what.clone(),
            SeismicError::BadModelValue { .. } | SeismicError::ShapeMismatch { .. } => {
                "(model)".into()
            }
            SeismicError::InvalidParameter { value, .. } => value.clone(),
        }
    }

    fn reason(&self) -> String {
        match self {
            SeismicError::Unstable { limit, .. } => {
                format!("above the stability limit; allowed: dt <= {limit:.6e} s")
            }
            SeismicError::InvalidParameter { allowed, .. } => format!("allowed: {allowed}"),
            _ => self.to_string(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = SeismicError> = std::result::Result<T, E>;

/// Something legal but probably unintended; the solver runs and the driver prints these.
#[derive(Debug, Clone, PartialEq)]
pub enum SeismicWarning {
    /// Too few grid points per wavelength at the source's highest useful frequency.
    LowPointsPerWavelength {
        /// Points per wavelength `v_min / (f_max * h_max)`.
        ppw: f64,
        /// The threshold for this space order.
        threshold: f64,
        /// Space order.
        order: usize,
        /// Highest useful frequency of the sources, Hz.
        f_max: f64,
        /// Smallest velocity of the model, m/s.
        v_min: f64,
        /// Largest grid spacing, m.
        h: f64,
    },
    /// The receivers record fewer samples than the run will take steps.
    Note(String),
}

impl fmt::Display for SeismicWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeismicWarning::LowPointsPerWavelength {
                ppw,
                threshold,
                order,
                f_max,
                v_min,
                h,
            } => write!(
                f,
                "only {ppw:.2} grid points per wavelength at {f_max:.1} Hz (v_min = {v_min} m/s, \
                 h = {h} m); space order {order} needs about {threshold} for small dispersion: \
                 refine the grid, raise the order or lower the frequency"
            ),
            SeismicWarning::Note(s) => f.write_str(s),
        }
    }
}
