//! The time steps of [`Scenario::from_str`](super::Scenario::from_str): the time step and
//! step count, and the output schedule.

use crate::error::Result;
use crate::kinds::SolverKind;

use super::{Ctx, OutputConfig, RawScenario, TimeConfig};

/// `[time]`: `dt`, and `steps` or `t_end` (rounded to whole steps).
pub(super) fn resolve_time(pre: &Ctx<'_>, raw: &RawScenario) -> Result<TimeConfig> {
    let t = &raw.time;
    if !(t.dt.is_finite() && t.dt > 0.0) {
        return Err(pre.invalid("time.dt", t.dt.to_string(), "allowed: a finite number > 0"));
    }
    let steps = match (t.steps, t.t_end) {
        (Some(_), Some(te)) => {
            return Err(pre.invalid(
                "time.t_end",
                te.to_string(),
                "give time.steps or time.t_end, not both",
            ));
        }
        (None, None) => {
            return Err(pre.invalid(
                "time.steps",
                "(missing)",
                "give time.steps (a count) or time.t_end (a time)",
            ));
        }
        (Some(0), None) => {
            return Err(pre.invalid("time.steps", "0", "allowed: an integer >= 1"));
        }
        (Some(s), None) => s,
        (None, Some(te)) => {
            if !(te.is_finite() && te > 0.0) {
                return Err(pre.invalid(
                    "time.t_end",
                    te.to_string(),
                    "allowed: a finite number > 0",
                ));
            }
            // Round to the nearest whole step when t_end is a multiple of dt up to rounding.
            let n = te / t.dt;
            let s = if (n - n.round()).abs() < 1e-9 * n.max(1.0) {
                n.round()
            } else {
                n.ceil()
            };
            s.max(1.0) as u64
        }
    };
    if i64::try_from(steps).is_err() {
        let (key, value) = match t.t_end {
            Some(te) => ("time.t_end", te.to_string()),
            None => ("time.steps", steps.to_string()),
        };
        return Err(pre.invalid(
            key,
            value,
            format!("{steps} steps; allowed: at most {} steps (the run file stores steps as 64-bit signed integers)", i64::MAX),
        ));
    }
    let time = TimeConfig {
        dt: t.dt,
        steps,
        t_end: steps as f64 * t.dt,
    };
    Ok(time)
}

/// `[output]`: frame interval, fields (checked against the kind's), plots, checkpoints.
pub(super) fn resolve_output(
    pre: &Ctx<'_>,
    raw: &RawScenario,
    steps: u64,
    kind: &dyn SolverKind,
) -> Result<OutputConfig> {
    let o = &raw.output;
    let every = o.every.unwrap_or_else(|| (steps / 20).max(1));
    if every == 0 {
        return Err(pre.invalid(
            "output.every",
            "0",
            "allowed: an integer >= 1 (steps between frames)",
        ));
    }
    let fields = match &o.fields {
        None => kind
            .output_fields()
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        Some(f) => {
            if f.is_empty() {
                return Err(pre.invalid(
                    "output.fields",
                    "[]",
                    format!(
                        "allowed: a non-empty list of {}",
                        kind.output_fields().join(", ")
                    ),
                ));
            }
            for name in f {
                if !kind.output_fields().contains(&name.as_str()) {
                    return Err(pre.invalid(
                        "output.fields",
                        format!("{name:?}"),
                        format!(
                            "unknown field; allowed: {}",
                            kind.output_fields().join(", ")
                        ),
                    ));
                }
            }
            f.clone()
        }
    };
    let output = OutputConfig {
        every,
        fields,
        fields_given: o.fields.is_some(),
        plots: o.plots,
        gif: o.gif,
        checkpoint_every: o.checkpoint_every,
        compress: o.compress,
        frames: 1 + steps / every + u64::from(!steps.is_multiple_of(every)),
    };
    Ok(output)
}
