//! The steps of [`Scenario::from_str`](super::Scenario::from_str) that need the grid and the
//! memory budget: initial fields and the process grid.

use convsim_core::Grid;

use crate::error::{Result, show_value};
use crate::kinds::SolverKind;

use super::{Ctx, FieldInput, RawScenario};

/// `[initial]`: the kind's initial fields, sampled on the grid and checked finite.
pub(super) fn resolve_initial(
    ctx: &Ctx<'_>,
    raw: &RawScenario,
    kind: &dyn SolverKind,
) -> Result<Vec<(String, FieldInput)>> {
    let mut initial = Vec::new();
    for (name, v) in &raw.initial {
        let key = format!("initial.{name}");
        if !kind.initial_fields().contains(&name.as_str()) {
            return Err(ctx.invalid(
                &key,
                show_value(v),
                format!(
                    "unknown initial field; allowed: {}",
                    kind.initial_fields().join(", ")
                ),
            ));
        }
        let input = ctx.field(&key, v)?;
        check_finite(ctx, &key, v, &input)?;
        initial.push((name.clone(), input));
    }
    Ok(initial)
}

/// `[parallel]`: the process grid `[ry, rx]`, within the grid's size, and how fields are
/// written.
pub(super) fn resolve_parallel(
    ctx: &Ctx<'_>,
    raw: &RawScenario,
    grid: &Grid,
) -> Result<(Option<[usize; 2]>, ParallelOutput)> {
    let parallel = match raw.parallel.ranks.as_deref() {
        None => None,
        Some(&[ry, rx]) if ry >= 1 && rx >= 1 && ry <= grid.ny && rx <= grid.nx => Some([ry, rx]),
        Some(r) => {
            return Err(ctx.invalid(
                "parallel.ranks",
                format!("{r:?}"),
                format!(
                    "allowed: [ry, rx], rows and columns of tiles, each at least 1 and at \
                     most the grid's ny = {} and nx = {}",
                    grid.ny, grid.nx
                ),
            ));
        }
    };
    let output = match raw.parallel.output.as_deref() {
        None | Some("tiles") => ParallelOutput::Tiles,
        Some("gather") => ParallelOutput::Gather,
        Some(v) => {
            return Err(ctx.invalid(
                "parallel.output",
                format!("{v:?}"),
                format!(
                    "allowed: {:?} (every rank writes its tile, the default) or {:?} (frames \
                     gathered to rank 0, the fallback)",
                    ParallelOutput::NAMES[0],
                    ParallelOutput::NAMES[1]
                ),
            ));
        }
    };
    Ok((parallel, output))
}

/// An initial value must be finite: a constant, or a formula on the whole grid (`sqrt(x)` with
/// `x < 0` is not). Datasets are checked when read.
fn check_finite(ctx: &Ctx<'_>, key: &str, raw: &toml::Value, input: &FieldInput) -> Result<()> {
    if let FieldInput::Constant(v) = input
        && !v.is_finite()
    {
        return Err(ctx.invalid(key, show_value(raw), "allowed: a finite number"));
    }
    let FieldInput::Formula(_) = input else {
        return Ok(());
    };
    let u = input.sample(&ctx.grid, 0.0);
    if let Some(((i, j), v)) = u.indexed_iter().find(|(_, v)| !v.is_finite()) {
        let (x, y) = (
            ctx.grid.x0 + j as f64 * ctx.grid.dx,
            ctx.grid.y0 + i as f64 * ctx.grid.dy,
        );
        return Err(ctx.invalid(
            key,
            show_value(raw),
            format!("{v} at (x, y) = ({x}, {y}); allowed: a formula finite on the whole grid"),
        ));
    }
    Ok(())
}

/// `parallel.output`: how the fields of a distributed run reach the run file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParallelOutput {
    /// `"tiles"` (default): every rank writes its tile to `tiles/rank<k>.h5`, and the run
    /// file's fields are virtual datasets stitching them; no rank holds a whole field.
    #[default]
    Tiles,
    /// `"gather"`: every frame is gathered to rank 0, which writes plain datasets (the
    /// fallback: rank 0 holds one whole frame per field).
    Gather,
}

impl ParallelOutput {
    /// The values `parallel.output` accepts.
    pub const NAMES: [&str; 2] = ["tiles", "gather"];

    /// The TOML value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ParallelOutput::Tiles => "tiles",
            ParallelOutput::Gather => "gather",
        }
    }
}
