//! Where a solver parameter lives in a scenario: the typed path a solver's errors carry, so a
//! front end (the scenario crate) names the key without knowing the solver's field names.
//!
//! Each solver's params type is the schema of its scenario table `[kind]`; the path is built
//! where the check is made, with the scenario's key names, and a front end prints it with
//! [`ParamPath::key`]. Only [`ParamPath::Table`] depends on the kind (the table's name is
//! supplied by the caller), every other section is shared by all kinds.

use std::borrow::Cow;
use std::fmt;

/// A parameter's place in a scenario.
///
/// ```
/// use convsim_core::ParamPath;
/// assert_eq!(ParamPath::Time("dt").key("diffusion"), "time.dt");
/// assert_eq!(ParamPath::table("packet.sigma_x").key("quantum"), "quantum.packet.sigma_x");
/// // Display is the key without the kind's table name (for the solver's own messages).
/// assert_eq!(ParamPath::table("order").to_string(), "order");
/// assert_eq!(ParamPath::Boundary("top").to_string(), "boundary.top");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParamPath {
    /// A key of `[time]` (`dt`, `t_end`).
    Time(&'static str),
    /// A key of `[grid]` (`nx`, `ny`, `dx`, `dy`, `x0`, `y0`).
    Grid(&'static str),
    /// A side of `[boundary]` (`top`, `bottom`, `left`, `right`).
    Boundary(&'static str),
    /// A field of `[initial]` (`u`, `psi_re`, `p`).
    Initial(&'static str),
    /// A key of `[parallel]` (`ranks`: a tile too small for the stencil).
    Parallel(&'static str),
    /// A key inside the solver's own `[kind]` table, with the table's names: `order`,
    /// `packet.sigma_x`, `potential[2].x_max`, `cpml.width`; empty for the table itself.
    Table(Cow<'static, str>),
}

impl ParamPath {
    /// [`ParamPath::Table`] from a key of the kind's table.
    #[must_use]
    pub fn table(key: impl Into<Cow<'static, str>>) -> ParamPath {
        ParamPath::Table(key.into())
    }

    /// The dotted scenario key; `kind` is the name of the solver's table (`run.solver`).
    #[must_use]
    pub fn key(&self, kind: &str) -> String {
        match self {
            ParamPath::Table(k) if k.is_empty() => kind.to_string(),
            ParamPath::Table(k) => format!("{kind}.{k}"),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for ParamPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamPath::Time(k) => write!(f, "time.{k}"),
            ParamPath::Grid(k) => write!(f, "grid.{k}"),
            ParamPath::Boundary(k) => write!(f, "boundary.{k}"),
            ParamPath::Initial(k) => write!(f, "initial.{k}"),
            ParamPath::Parallel(k) => write!(f, "parallel.{k}"),
            ParamPath::Table(k) => f.write_str(k),
        }
    }
}

/// A solver error that a front end reports as `key: value: reason` without knowing the
/// solver: implemented by each solver's error type.
pub trait ParamError: std::error::Error {
    /// The parameter at fault; `None` for an error not tied to one key (a planning failure).
    fn param(&self) -> Option<ParamPath>;
    /// The offending value as the scenario shows it.
    fn value(&self) -> String;
    /// Why it is refused and what is allowed (`...; allowed: ...`).
    fn reason(&self) -> String;
}
