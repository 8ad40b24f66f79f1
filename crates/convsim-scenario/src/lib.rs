//! # convsim-scenario: scenario files -> validated config -> run driver
//!
//! A scenario is a TOML file (schema in `docs/scenarios.md`): `[run]` (name, solver),
//! `[constants]`, `[grid]`, `[time]`, `[boundary]`, `[initial]`, `[output]` and the solver's own
//! table (`[diffusion]`, ...). [`Scenario::load`] resolves it, with `--set key.path=value`
//! overrides, into a typed and validated [`Scenario`] before any compute: unknown keys, wrong
//! types, bad formulas, missing input files or datasets and unstable time steps are all
//! [`ScenarioError`]s that read `<file>: <key>: <value>: <what is allowed>`.
//!
//! The run driver ([`driver::run`]) builds the solver through the kind registry
//! ([`kinds`]), writes the HDF5 run file through convsim-io as it goes, checkpoints and resumes
//! bit for bit, stops at the first non-finite state, and draws the pictures at the end.
//!
//! Training scenarios (`convsim train`) live in [`train`]: learn a solver's step from its run
//! file, compare the learned model's rollout with the solver, export the stencil.
//!
//! This crate prints nothing: progress is reported through a callback the CLI turns into a
//! progress bar.

pub mod config;
#[cfg(feature = "mpi")]
pub mod distributed;
pub mod driver;
pub mod error;
pub mod expr;
mod frames;
mod inputs;
pub mod kinds;
pub mod limits;
pub mod messages;
pub mod outputs;
pub mod paths;
pub mod pictures;
pub mod provenance;
mod resolved;
pub mod train;

pub use config::{FieldInput, OutputConfig, ParallelOutput, Scenario, Side, Sides4, TimeConfig};
pub use error::{Result, ScenarioError};
pub use expr::{Expr, ExprError, Vars};
