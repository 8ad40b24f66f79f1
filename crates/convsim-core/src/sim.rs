//! The one interface every solver offers the run driver.
//!
//! A solver is built from its `Params` (in its own crate), owns its plans and buffers, and
//! advances with [`Simulation::step`], which allocates nothing. The driver (convsim-scenario)
//! knows nothing of the physics: at output times it asks for fields and diagnostics by name and
//! writes them; for checkpoints it asks for the state and later restores it.
//!
//! Solvers know nothing of files: no HDF5, no plots, no printing.

use ndarray::{ArrayD, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

/// A uniform 2D grid, axis order `(y, x)`. A 1D problem is a grid with `ny = 1`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Number of rows (samples along `y`).
    pub ny: usize,
    /// Number of columns (samples along `x`).
    pub nx: usize,
    /// Spacing along `y`, in the solver's length unit.
    pub dy: f64,
    /// Spacing along `x`.
    pub dx: f64,
    /// Coordinate of row 0.
    pub y0: f64,
    /// Coordinate of column 0.
    pub x0: f64,
}

impl Grid {
    /// Coordinates of the rows.
    #[must_use]
    pub fn ys(&self) -> Vec<f64> {
        (0..self.ny).map(|i| self.y0 + i as f64 * self.dy).collect()
    }
    /// Coordinates of the columns.
    #[must_use]
    pub fn xs(&self) -> Vec<f64> {
        (0..self.nx).map(|j| self.x0 + j as f64 * self.dx).collect()
    }
    /// `(ny, nx)`.
    #[must_use]
    pub fn shape(&self) -> (usize, usize) {
        (self.ny, self.nx)
    }
}

/// Description of an output quantity (a field or a diagnostic).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    /// Name in the run file (`/fields/<name>` or `/diagnostics/<name>`).
    pub name: String,
    /// Units (UDUNITS-style: `"m"`, `"Pa"`, `"1"` for dimensionless).
    pub units: String,
    /// One-line description.
    pub long_name: String,
    /// `true` if the quantity takes both signs (plots use a diverging colour map).
    pub signed: bool,
}

impl Quantity {
    /// Shorthand constructor.
    #[must_use]
    pub fn new(name: &str, units: &str, long_name: &str, signed: bool) -> Self {
        Quantity {
            name: name.into(),
            units: units.into(),
            long_name: long_name.into(),
            signed,
        }
    }
}

/// One named array of solver state, for checkpoints (complex data as a trailing axis of 2).
#[derive(Clone, Debug, PartialEq)]
pub struct StateArray {
    /// Name, unique within the solver.
    pub name: String,
    /// Values.
    pub data: ArrayD<f64>,
}

impl StateArray {
    /// The array `name` of a checkpoint's `state`, for [`Simulation::restore`] of `solver`.
    ///
    /// # Errors
    /// [`RestoreError::Missing`] if the checkpoint has no such array.
    pub fn find<'a>(
        state: &'a [StateArray],
        solver: &'static str,
        name: &str,
    ) -> Result<&'a ArrayD<f64>, RestoreError> {
        state
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.data)
            .ok_or_else(|| RestoreError::Missing {
                solver,
                name: name.into(),
            })
    }

    /// [`StateArray::find`], refusing an array whose shape is not `shape`.
    ///
    /// # Errors
    /// [`RestoreError::Missing`], or [`RestoreError::Shape`] naming both shapes.
    pub fn find_shaped<'a>(
        state: &'a [StateArray],
        solver: &'static str,
        name: &str,
        shape: &[usize],
    ) -> Result<&'a ArrayD<f64>, RestoreError> {
        let a = Self::find(state, solver, name)?;
        if a.shape() == shape {
            Ok(a)
        } else {
            Err(RestoreError::Shape {
                solver,
                name: name.into(),
                expected: shape.to_vec(),
                found: a.shape().to_vec(),
            })
        }
    }
}

/// One shot gather as a solver exposes it to the driver: plain borrowed data, no copies.
///
/// Sample `k` of every trace is at `t = k dt`; the first `recorded` samples hold data, the
/// rest are not yet recorded (their stored values mean nothing).
#[derive(Clone, Debug, PartialEq)]
pub struct Gather<'a> {
    /// Shot name, unique within the run (`/receivers/<name>/` in the run file), e.g. `shot0`.
    pub name: String,
    /// Receiver coordinates, shape `(receiver, 2)`, columns `(y, x)`, in the length unit.
    pub coords: ArrayView2<'a, f64>,
    /// Traces, shape `(receiver, time sample)`, the whole recording length.
    pub traces: ArrayView2<'a, f64>,
    /// Samples recorded so far (`0..=traces.ncols()`).
    pub recorded: usize,
    /// Sample interval, in the time unit.
    pub dt: f64,
    /// Source positions `(y, x)` of the shot.
    pub sources: Vec<[f64; 2]>,
    /// What the traces record (name, units, long name, signed).
    pub quantity: Quantity,
}

/// One tile's share of a diagnostic in a distributed run, combined over every tile by the
/// driver: sums exactly (so the combined value does not depend on how the grid is split),
/// extrema as they are.
#[derive(Clone, Debug, PartialEq)]
pub enum Partial {
    /// A sum over the tile's samples.
    Sum(crate::sum::ExactSum),
    /// The smallest value on the tile (`+inf` if it has none).
    Min(f64),
    /// The largest value on the tile (`-inf` if it has none).
    Max(f64),
}

impl Partial {
    /// The value of this share alone (one tile holding the whole grid).
    #[must_use]
    pub fn value(&self) -> f64 {
        match self {
            Partial::Sum(s) => s.value(),
            Partial::Min(v) | Partial::Max(v) => *v,
        }
    }
}

/// Calls `f(k)` with counts `k` that sum to `n` (one call on 64-bit targets): for step counts
/// given as `u64` to APIs that take `usize`.
pub fn in_usize_chunks(n: u64, mut f: impl FnMut(usize)) {
    let mut left = n;
    while left > 0 {
        let k = usize::try_from(left).unwrap_or(usize::MAX);
        f(k);
        left -= k as u64;
    }
}

/// A time-stepping solver as the run driver sees it.
pub trait Simulation: Send {
    /// Solver kind (`"diffusion"`, `"seismic"`, `"quantum"`).
    fn kind(&self) -> &'static str;
    /// The grid of the fields.
    fn grid(&self) -> Grid;
    /// Time step, in the solver's time unit.
    fn dt(&self) -> f64;
    /// Unit of time (`"s"`, or `"1"` for dimensionless).
    fn time_units(&self) -> &'static str;
    /// Unit of length of the grid coordinates (`"m"` unless the solver works in other units).
    fn length_units(&self) -> &'static str {
        "m"
    }
    /// Steps taken so far.
    fn step_count(&self) -> u64;
    /// Current simulation time.
    fn time(&self) -> f64;
    /// Advances one step. Allocates nothing.
    fn step(&mut self);
    /// Advances `n` steps with nothing observed in between: the same as `n` calls of
    /// [`step`](Self::step) up to rounding (solvers override it with a faster equivalent, e.g.
    /// merged half steps or temporal blocking; each documents how close). Allocates nothing.
    fn advance(&mut self, n: u64) {
        for _ in 0..n {
            self.step();
        }
    }
    /// Fields this solver can write (in the order the driver should write them).
    fn fields(&self) -> Vec<Quantity>;
    /// `true` if field `name` never changes during the run (a velocity model, a
    /// time-independent potential): the driver writes it once, not at every frame. Default:
    /// no field is static.
    fn is_static(&self, name: &str) -> bool {
        let _ = name;
        false
    }
    /// `Some(true)` once the solver has reached the state it was asked to converge to (an
    /// imaginary-time ground state within its tolerance), `Some(false)` before, `None` for a
    /// solver that has nothing to converge to (the default). At `Some(true)` the driver
    /// writes a last frame and stops; such a solver may stop an [`advance`](Self::advance)
    /// early at that point (the driver reads [`step_count`](Self::step_count) after every
    /// advance).
    fn converged(&self) -> Option<bool> {
        None
    }
    /// Writes field `name` into `out` (shape `(ny, nx)`); returns `false` for an unknown name.
    ///
    /// # Panics
    /// If `out` does not have the grid's shape.
    fn write_field(&self, name: &str, out: ArrayViewMut2<'_, f64>) -> bool;
    /// Shot gathers recorded so far (seismic receivers), asked for at output times only.
    /// Default: none.
    fn gathers(&self) -> Vec<Gather<'_>> {
        Vec::new()
    }
    /// This tile's share of its gathers' samples from sample `from` on, for a distributed
    /// run: `(to, share)`, the samples recorded so far and a vector of the same length on
    /// every tile. Every element is non-zero on at most one tile, so their elementwise sum
    /// over the tiles is exact (adding zeros rounds nothing) and goes to
    /// [`Simulation::gathers_from_shares`] of rank 0's tile. `None` (the default): no gathers.
    fn gather_share(&self, from: usize) -> Option<(usize, Vec<f64>)> {
        let _ = from;
        None
    }
    /// Completes samples `from..to` of the gathers that [`Simulation::gathers`] returns from
    /// `summed`, the elementwise sum over every tile of [`Simulation::gather_share`].
    /// Default: nothing.
    fn gathers_from_shares(&mut self, from: usize, to: usize, summed: &[f64]) {
        let _ = (from, to, summed);
    }
    /// Diagnostics this solver reports (scalars per output time).
    fn diagnostics(&self) -> Vec<Quantity>;
    /// Current values of the diagnostics, in the order of [`Simulation::diagnostics`].
    fn diagnostic_values(&self, out: &mut [f64]);
    /// This tile's shares of the diagnostics' raw values, for a distributed run (see
    /// [`Partial`]); `None` (the default) for a solver that does not run on tiles.
    fn diagnostic_partials(&self) -> Option<Vec<Partial>> {
        None
    }
    /// The diagnostics from the raw values combined over every tile (`reduced[i]` is share
    /// `i` of [`Simulation::diagnostic_partials`] combined), in the order of
    /// [`Simulation::diagnostics`]. Default: the raw values themselves.
    fn diagnostics_from(&self, reduced: &[f64], out: &mut [f64]) {
        out.copy_from_slice(reduced);
    }
    /// `false` as soon as the state holds a NaN or an infinity.
    fn is_finite(&self) -> bool;
    /// Everything needed to resume exactly (bit for bit) from this point.
    fn state(&self) -> Vec<StateArray>;
    /// Whether [`Simulation::state`] holds what [`Simulation::restore`] needs, so that an
    /// interrupted run can be resumed from its checkpoints (default `true`). A run that keeps
    /// no state in its checkpoints (a multi-shot survey on several MPI ranks) says `false`,
    /// and the driver then does not tell the user to resume it.
    fn resumable(&self) -> bool {
        true
    }
    /// Restores a state saved by [`Simulation::state`] at `step` and `time`.
    ///
    /// # Errors
    /// A [`RestoreError`] naming the array that is missing or does not fit this solver.
    fn restore(&mut self, step: u64, time: f64, state: &[StateArray]) -> Result<(), RestoreError>;
    /// The solver as [`std::any::Any`], for a driver that handles some solvers of its own
    /// specially (a distributed one, whose ranks write their own tiles); `None` by default.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// Why [`Simulation::restore`] refused a checkpoint's state. Every variant names the state
/// array and what this solver expected, so the message says how the checkpoint does not fit
/// the run it is resumed into.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// A state array this solver needs is not in the checkpoint.
    #[error("{solver} checkpoint has no state array `{name}`")]
    Missing {
        /// The solver's kind ([`Simulation::kind`]).
        solver: &'static str,
        /// The array's name.
        name: String,
    },
    /// A state array has another shape than this solver's.
    #[error("{solver} checkpoint: state array `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The solver's kind ([`Simulation::kind`]).
        solver: &'static str,
        /// The array's name.
        name: String,
        /// The shape this solver needs.
        expected: Vec<usize>,
        /// The shape in the checkpoint.
        found: Vec<usize>,
    },
    /// A flattened state array of a tile holds another number of values than this tile's.
    #[error(
        "{solver} checkpoint: state array `{name}` of this tile has {found} values, expected \
         {expected}"
    )]
    Length {
        /// The solver's kind ([`Simulation::kind`]).
        solver: &'static str,
        /// The array's name.
        name: String,
        /// The number of values this tile needs.
        expected: usize,
        /// The number of values in the checkpoint.
        found: usize,
    },
    /// A rank's own state array of a distributed run (stored as one row per rank) does not
    /// have a row for each of this run's ranks, or its rows are too short.
    #[error(
        "{solver} checkpoint: state array `{name}` has shape {found:?}, not one row per rank of \
         {ranks} ranks (resume with the same number of ranks)"
    )]
    Ranks {
        /// The solver's kind ([`Simulation::kind`]).
        solver: &'static str,
        /// The array's name.
        name: String,
        /// The number of ranks of this run.
        ranks: usize,
        /// The shape in the checkpoint.
        found: Vec<usize>,
    },
    /// A multi-shot survey run on several MPI ranks, which does not resume (its checkpoints
    /// hold no state).
    #[error(
        "a multi-shot {solver} run ({shots} shots) does not resume on more than one MPI rank; \
         run it again without --resume (or on one process)"
    )]
    ShotsOnRanks {
        /// The solver's kind ([`Simulation::kind`]).
        solver: &'static str,
        /// The number of shots.
        shots: usize,
    },
    /// One shot of a multi-shot survey refused its part of the state.
    #[error("shot {shot}: {error}")]
    Shot {
        /// The shot's index.
        shot: usize,
        /// Why that shot refused it.
        error: Box<RestoreError>,
    },
    /// Another MPI rank of a distributed run refused its part of the state (this rank's part
    /// fitted; the refusing rank's error is the one reported).
    #[error("another rank refused the state")]
    OtherRank,
}
