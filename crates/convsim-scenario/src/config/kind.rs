//! Step 1 of [`Scenario::from_str`](super::Scenario::from_str): the solver kind named by
//! `run.solver`, and the top-level tables allowed beside it.

use crate::error::{Result, ScenarioError, show_value};
use crate::kinds::{Kinds, SolverKind};

/// The sections every run scenario may have beside its solver's table; no kind may take one of
/// these names ([`Kinds::with`] refuses it).
pub(crate) const COMMON_TABLES: [&str; 8] = [
    "run",
    "constants",
    "grid",
    "time",
    "boundary",
    "initial",
    "output",
    "parallel",
];

/// The kind named by `run.solver` (looked up in `kinds`) and its table, taken out of `table`.
/// Refuses a training scenario, a missing or unknown kind, and unknown top-level tables.
pub(super) fn resolve_kind(
    table: &mut toml::Table,
    file: String,
    overridden: &[String],
    kinds: &Kinds,
) -> Result<(&'static dyn SolverKind, Option<toml::Value>)> {
    // The solver kind first: its table is taken out before the common sections are checked.
    if table.get("run").and_then(|r| r.get("solver")).is_none()
        && (table.contains_key("data") || table.contains_key("model"))
    {
        return Err(ScenarioError::invalid(
            file,
            "run.solver",
            "(missing)",
            "this is a training scenario ([data], [model]); train it with `convsim train FILE`",
        ));
    }
    let solver_name = match table.get("run").and_then(|r| r.get("solver")) {
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(ScenarioError::invalid(
                file,
                "run.solver",
                show_value(other),
                format!("allowed: {}", kinds.names()),
            ));
        }
        None => {
            return Err(ScenarioError::invalid(
                file,
                "run.solver",
                "(missing)",
                format!("this key is required; allowed: {}", kinds.names()),
            ));
        }
    };
    let Some(kind) = kinds.find(&solver_name) else {
        let f = if overridden.iter().any(|k| k == "run.solver") {
            format!("{file} (--set run.solver)")
        } else {
            file
        };
        return Err(ScenarioError::invalid(
            f,
            "run.solver",
            format!("{solver_name:?}"),
            format!(
                "unknown solver{}; allowed: {}",
                crate::messages::did_you_mean(&solver_name, kinds.iter().map(SolverKind::name)),
                kinds.names()
            ),
        ));
    };
    let solver_table = table.remove(kind.name());
    for k in table.keys() {
        if !COMMON_TABLES.contains(&k.as_str()) {
            let what = if kinds.find(k).is_some() {
                format!(
                    "a [{k}] table, but run.solver is {:?}; allowed tables: {}, {}",
                    kind.name(),
                    COMMON_TABLES.join(", "),
                    kind.name()
                )
            } else {
                let hint = crate::messages::did_you_mean(
                    k,
                    COMMON_TABLES.iter().copied().chain([kind.name()]),
                );
                format!(
                    "unknown key{hint}; allowed keys: {}, {}",
                    COMMON_TABLES.join(", "),
                    kind.name()
                )
            };
            return Err(ScenarioError::invalid(file, k, "(unknown key)", what));
        }
    }
    Ok((kind, solver_table))
}
