//! The solver-kind registry: one module per kind, one line in [`KINDS`].
//!
//! A kind turns its scenario table (`[diffusion]`, `[seismic]`, ...) into a typed, validated
//! [`KindConfig`] at resolution time, and that config builds the solver (`Box<dyn Simulation>`)
//! for the driver. Everything else (grid, time, boundaries, initial fields, outputs, formulas,
//! input datasets, `--set`, the run file, plots, checkpoints) is shared and comes for free.
//!
//! Adding a kind (see `docs/guide.md`):
//! 1. write `src/kinds/<name>.rs` with a unit struct implementing [`SolverKind`] and a config
//!    type implementing [`KindConfig`] (copy `diffusion.rs`);
//! 2. add `mod <name>;` below and `&<name>::Kind` to [`KINDS`].
//!
//! A kind also states the memory its solver holds ([`KindConfig::footprint`], formulas in
//! [`footprint`]) so a run that cannot fit is refused before anything is allocated.

use std::fmt::Debug;

use convsim_core::Simulation;
use convsim_core::tile::{Tile, TileLinks};

use crate::config::{Ctx, FieldInput, OutputConfig, Scenario, Side};
use crate::error::Result;
use crate::limits::SolverFootprint;

pub mod diffusion;
pub mod footprint;
pub mod quantum;
pub mod seismic;

/// Every solver kind the scenario files can name, in the order error messages list them.
pub static KINDS: &[&dyn SolverKind] = &[&diffusion::Kind, &seismic::Kind, &quantum::Kind];

/// Looks a kind up by its name (`run.solver`).
#[must_use]
pub fn find(name: &str) -> Option<&'static dyn SolverKind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

/// The names of all kinds, comma separated (for messages).
#[must_use]
pub fn names() -> String {
    KINDS
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One solver kind: its name, the vocabulary it accepts, and how it resolves its table.
pub trait SolverKind: Sync + Debug {
    /// The name used in `run.solver` and as the name of its table.
    fn name(&self) -> &'static str;
    /// Canonical name and "takes a value" flag of a boundary name (aliases allowed), or `None`.
    fn boundary(&self, name: &str) -> Option<(&'static str, bool)>;
    /// The boundary names accepted, for messages (e.g. `periodic, zero_flux, fixed:<value>`).
    fn boundary_names(&self) -> &'static str;
    /// `true` if the domain edge of this side lies on the edge sample (a fixed value), `false`
    /// if it lies half a spacing outside it (a zero-flux face); sets the spacing derived from
    /// `grid.lx`/`grid.ly`. Periodic axes always hold `n` spacings.
    fn edge_on_node(&self, side: &Side) -> bool {
        side.name != "periodic"
    }
    /// Names allowed under `[initial]`.
    fn initial_fields(&self) -> &'static [&'static str];
    /// Fields the solver can write (the default of `output.fields`).
    fn output_fields(&self) -> &'static [&'static str];
    /// Checks the kind's table (`None` if the scenario has none) and everything that depends on
    /// the common sections (stability, required initial fields), before any compute.
    ///
    /// # Errors
    /// A [`crate::ScenarioError::Invalid`] naming the key.
    fn resolve(
        &self,
        ctx: &Ctx<'_>,
        initial: &[(String, FieldInput)],
        table: Option<toml::Value>,
    ) -> Result<Box<dyn KindConfig>>;
}

/// A kind's resolved table.
pub trait KindConfig: Debug + Send + Sync {
    /// The resolved table as `convsim validate` shows it.
    fn to_table(&self) -> toml::Table;
    /// Values derived from it (stability limit, scheme description, ...).
    fn derived(&self) -> toml::Table;
    /// The memory the solver will hold, computed from the table without building it (see
    /// [`crate::limits`]). `resolve` checks it with [`Ctx::check_memory`] before it builds
    /// anything large.
    fn footprint(&self) -> SolverFootprint;
    /// `false` for an output field this configuration cannot produce (a seismic `density`
    /// without a density model), so `validate` refuses it in `output.fields`.
    fn produces(&self, _field: &str) -> bool {
        true
    }
    /// The table `convsim validate` prints as part of a runnable scenario: it must resolve to
    /// this same config. `raw` is the table as the scenario gave it (input paths absolute).
    /// Default: [`KindConfig::to_table`].
    fn to_runnable_table(&self, raw: &toml::Table) -> toml::Table {
        let _ = raw;
        self.to_table()
    }
    /// Builds the solver with the scenario's initial state at step 0.
    ///
    /// # Errors
    /// If the solver refuses its parameters (which resolution should already have caught).
    fn build(&self, scenario: &Scenario) -> Result<Box<dyn Simulation>>;
    /// Builds the solver of shot `shot` (`0..shot_count()`) on tile `coords` of a `dims`
    /// process grid for a distributed run, calling `links` exactly once, before anything that
    /// can fail (it is collective over the ranks), with the tile; `None` if this kind does not
    /// run distributed. A multi-shot run builds one per shot of its shot group; the gather is
    /// named `shot0` and the caller renames it. Default: `None`.
    fn build_tile(
        &self,
        scenario: &Scenario,
        shot: usize,
        dims: [usize; 2],
        coords: [usize; 2],
        links: &mut dyn FnMut(&Tile) -> TileLinks,
    ) -> Option<Result<Box<dyn Simulation>>> {
        let _ = (scenario, shot, dims, coords, links);
        None
    }
    /// Number of independent shots (seismic `shots`); 1 for every other configuration.
    fn shot_count(&self) -> usize {
        1
    }
}

/// Refuses a field listed in `output.fields` that this configuration cannot produce (a seismic
/// `density` without a density model), as the run would; a default list is narrowed silently.
///
/// # Errors
/// A [`crate::ScenarioError::Invalid`] for `output.fields` listing what the run produces.
pub(crate) fn check_output_fields(
    ctx: &Ctx<'_>,
    kind: &dyn SolverKind,
    config: &dyn KindConfig,
    output: &OutputConfig,
) -> Result<()> {
    let Some(missing) = output
        .fields
        .iter()
        .find(|f| output.fields_given && !config.produces(f))
    else {
        return Ok(());
    };
    let produced: Vec<&str> = kind
        .output_fields()
        .iter()
        .copied()
        .filter(|f| config.produces(f))
        .collect();
    Err(ctx.invalid(
        "output.fields",
        format!("{missing:?}"),
        format!(
            "fields this run produces: {} (the others need inputs this scenario does not set, such as a seismic density model)",
            produced.join(", ")
        ),
    ))
}
