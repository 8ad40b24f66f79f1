//! The solver-kind registry: a [`Kinds`] value that `run.solver` is looked up in.
//!
//! A kind turns its scenario table (`[diffusion]`, `[seismic]`, ...) into a typed, validated
//! [`KindConfig`] at resolution time, and that config builds the solver (`Box<dyn Simulation>`)
//! for the driver. Everything else (grid, time, boundaries, initial fields, outputs, formulas,
//! input datasets, `--set`, the run file, plots, checkpoints) is shared and comes for free.
//!
//! [`Kinds::builtin`] holds the kinds of this crate (diffusion, seismic, quantum); it is what
//! [`Scenario::load`] and the CLI use. A kind written anywhere else (your own crate, a test
//! file) is added with [`Kinds::with`] and used through the `*_with` constructors
//! ([`Scenario::from_str_with`], [`Scenario::load_with`],
//! [`crate::train::TrainScenario::load_with`]); the resolved [`Scenario`] then runs through
//! [`crate::driver::run`] like any other. Every message that lists the allowed solvers lists
//! the registry in use.
//!
//! Adding a kind (see "Adding a solver kind" in `docs/guide.md`, and
//! `tests/fourth_kind.rs` for a complete one in one file):
//! 1. a unit struct implementing [`SolverKind`] and a config type implementing [`KindConfig`]
//!    whose `build` returns a [`convsim_core::Simulation`] (copy `diffusion.rs`);
//! 2. register it: `Kinds::builtin().with(&MyKind)?` in your code, or, for a kind that ships
//!    with this crate, `mod <name>;` below and `&<name>::Kind` in the built-in list.
//!
//! A kind checks only what its solver cannot know (file paths, formulas, unknown keys, types):
//! the solver's params type is the schema of the kind's table, validated once in the solver
//! crate, and [`solver_error`] reports any solver error under the key its typed path
//! ([`convsim_core::ParamPath`]) names, so no kind maps parameter names.
//!
//! A kind also states the memory its solver holds ([`KindConfig::footprint`], formulas in
//! [`footprint`]) so a run that cannot fit is refused before anything is allocated.

use std::fmt::Debug;

use convsim_core::tile::{Tile, TileLinks};
use convsim_core::{ParamError, Simulation};
use serde::de::DeserializeOwned;

use crate::config::{COMMON_TABLES, Ctx, FieldInput, OutputConfig, Scenario, Side};
use crate::error::{Result, ScenarioError};
use crate::limits::SolverFootprint;

pub mod diffusion;
pub mod footprint;
pub mod quantum;
pub mod seismic;

/// The kinds this crate ships, in the order error messages list them: the one registry line.
static BUILTIN: &[&dyn SolverKind] = &[&diffusion::Kind, &seismic::Kind, &quantum::Kind];

/// Why [`Kinds::with`] refused a kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindsError {
    /// A kind of this name is already registered.
    #[error("solver kind {name:?} is already registered; allowed: a name not among {registered}")]
    Duplicate {
        /// The name.
        name: String,
        /// The names registered so far, comma separated.
        registered: String,
    },
    /// The name cannot name a solver table: it is empty or one of the common sections.
    #[error(
        "solver kind {name:?} cannot be registered: its table would clash; allowed: a non-empty name other than {reserved}"
    )]
    Reserved {
        /// The name.
        name: String,
        /// The reserved names, comma separated.
        reserved: String,
    },
}

/// A registry of solver kinds: what `run.solver` may name.
///
/// Cheap to clone (a list of `&'static` references). Kinds are `&'static` so a resolved
/// [`Scenario`] can keep its kind without a lifetime: a unit struct's `&MyKind` is one.
///
/// ```
/// use convsim_scenario::kinds::Kinds;
/// let k = Kinds::builtin();
/// assert_eq!(k.names(), "diffusion, seismic, quantum");
/// assert!(k.find("seismic").is_some());
/// // A name already taken is refused, not shadowed.
/// let seismic = k.find("seismic").unwrap();
/// assert!(k.with(seismic).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Kinds {
    kinds: Vec<&'static dyn SolverKind>,
}

impl Default for Kinds {
    fn default() -> Self {
        Kinds::builtin()
    }
}

impl Kinds {
    /// The kinds of this crate: diffusion, seismic, quantum (what the CLI knows).
    #[must_use]
    pub fn builtin() -> Kinds {
        Kinds {
            kinds: BUILTIN.to_vec(),
        }
    }

    /// This registry with `kind` added after the others (messages list it last).
    ///
    /// # Errors
    /// [`KindsError::Duplicate`] if a kind of the same name is registered;
    /// [`KindsError::Reserved`] if the name is empty or a common section (`run`, `grid`, ...).
    pub fn with(mut self, kind: &'static dyn SolverKind) -> std::result::Result<Kinds, KindsError> {
        self.register(kind)?;
        Ok(self)
    }

    /// Adds `kind` in place; as [`Kinds::with`].
    ///
    /// # Errors
    /// As [`Kinds::with`]; the registry is unchanged on error.
    pub fn register(
        &mut self,
        kind: &'static dyn SolverKind,
    ) -> std::result::Result<(), KindsError> {
        let name = kind.name();
        if name.is_empty() || COMMON_TABLES.contains(&name) {
            return Err(KindsError::Reserved {
                name: name.into(),
                reserved: COMMON_TABLES.join(", "),
            });
        }
        if self.find(name).is_some() {
            return Err(KindsError::Duplicate {
                name: name.into(),
                registered: self.names(),
            });
        }
        self.kinds.push(kind);
        Ok(())
    }

    /// Looks a kind up by its name (`run.solver`).
    #[must_use]
    pub fn find(&self, name: &str) -> Option<&'static dyn SolverKind> {
        self.kinds.iter().copied().find(|k| k.name() == name)
    }

    /// The registered kinds, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &'static dyn SolverKind> + '_ {
        self.kinds.iter().copied()
    }

    /// The names of all kinds, comma separated (for messages).
    #[must_use]
    pub fn names(&self) -> String {
        self.iter()
            .map(SolverKind::name)
            .collect::<Vec<_>>()
            .join(", ")
    }
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

/// Deserializes the kind's table `[kind]`, or refuses a scenario without one; `needs` says
/// what the table must hold at least (`at least velocity = <m/s>`).
///
/// # Errors
/// A [`ScenarioError::Invalid`] for the missing table, or [`Ctx::deserialize`]'s (unknown
/// keys, wrong types).
pub fn required_table<T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    kind: &str,
    table: Option<toml::Value>,
    needs: &str,
) -> Result<T> {
    match table {
        Some(t) => ctx.deserialize(kind, t),
        None => Err(ctx.invalid(
            kind,
            "(missing)",
            format!("a [{kind}] table is required ({needs})"),
        )),
    }
}

/// Any solver error as `file: key: value: reason`: the key is the error's typed path, its
/// `Table` paths under the kind's table `kind` (the table itself for an error tied to no key).
/// One function for every kind: renaming a parameter renames its path in the solver crate.
#[must_use]
pub fn solver_error(ctx: &Ctx<'_>, kind: &str, e: &dyn ParamError) -> ScenarioError {
    let key = e.param().map_or_else(|| kind.to_string(), |p| p.key(kind));
    ctx.invalid(&key, e.value(), e.reason())
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

#[cfg(test)]
mod tests {
    use super::{Ctx, FieldInput, KindConfig, Kinds, KindsError, Result, SolverKind};

    /// A kind that only has a name: registration looks at nothing else.
    #[derive(Debug)]
    struct Named(&'static str);

    impl SolverKind for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn boundary(&self, _: &str) -> Option<(&'static str, bool)> {
            None
        }
        fn boundary_names(&self) -> &'static str {
            ""
        }
        fn initial_fields(&self) -> &'static [&'static str] {
            &[]
        }
        fn output_fields(&self) -> &'static [&'static str] {
            &[]
        }
        fn resolve(
            &self,
            ctx: &Ctx<'_>,
            _: &[(String, FieldInput)],
            _: Option<toml::Value>,
        ) -> Result<Box<dyn KindConfig>> {
            Err(ctx.invalid(self.0, "(any)", "a kind of the registry tests only"))
        }
    }

    static GRID: Named = Named("grid");
    static EMPTY: Named = Named("");
    static DIFFUSION: Named = Named("diffusion");
    static WAVES: Named = Named("waves");

    #[test]
    fn refuses_reserved_and_duplicate_names_and_stays_unchanged() {
        let mut k = Kinds::builtin();
        for bad in [&GRID, &EMPTY] {
            assert!(
                matches!(k.register(bad), Err(KindsError::Reserved { .. })),
                "{:?}",
                bad.0
            );
        }
        let e = k.register(&DIFFUSION).unwrap_err();
        assert_eq!(
            e,
            KindsError::Duplicate {
                name: "diffusion".into(),
                registered: "diffusion, seismic, quantum".into(),
            }
        );
        assert_eq!(k.names(), "diffusion, seismic, quantum");
        // The built-in diffusion is still the one found (the impostor knows no boundary).
        assert!(k.find("diffusion").unwrap().boundary("periodic").is_some());
        let k = k.with(&WAVES).unwrap();
        assert_eq!(k.names(), "diffusion, seismic, quantum, waves");
        assert_eq!(k.find("waves").unwrap().name(), "waves");
        assert!(Kinds::builtin().find("waves").is_none());
    }
}
