//! The space steps of [`Scenario::from_str`](super::Scenario::from_str): constants,
//! boundaries and the grid.

use convsim_core::Grid;

use crate::error::Result;
use crate::expr::RESERVED;
use crate::kinds::SolverKind;

use super::{Ctx, RawScenario, Side, Sides4};

/// `[constants]`: names that are identifiers (not reserved words) with finite values.
pub(super) fn resolve_constants(pre: &Ctx<'_>, raw: &RawScenario) -> Result<Vec<(String, f64)>> {
    let mut constants = Vec::new();
    for (name, v) in &raw.constants {
        let key = format!("constants.{name}");
        let ident_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident_ok || RESERVED.contains(&name.as_str()) {
            return Err(pre.invalid(&key, format!("{v}"), format!("`{name}` cannot name a constant; allowed: names of letters, digits and _ other than {}", RESERVED.join(" "))));
        }
        if !v.is_finite() {
            return Err(pre.invalid(&key, format!("{v}"), "allowed: a finite number"));
        }
        constants.push((name.clone(), *v));
    }
    Ok(constants)
}

/// `[boundary]`: the four sides (a side's own key, then its axis, then `all`), periodic on
/// both opposite sides or on neither. Needed for the grid: periodic axes have no sample on the
/// far edge.
pub(super) fn resolve_boundary(
    pre: &Ctx<'_>,
    raw: &RawScenario,
    kind: &dyn SolverKind,
) -> Result<Sides4> {
    let side_of =
        |primary: &Option<String>, axis: &Option<String>, pkey: &str, akey: &str| -> Result<Side> {
            let (s, key) = match (primary, axis, &raw.boundary.all) {
                (Some(s), _, _) => (s, pkey.to_string()),
                (None, Some(s), _) => (s, akey.to_string()),
                (None, None, Some(s)) => (s, "boundary.all".to_string()),
                (None, None, None) => {
                    return Err(pre.invalid(
                        pkey,
                        "(missing)",
                        format!(
                            "give boundary.{} or boundary.all; allowed: {}",
                            pkey.trim_start_matches("boundary."),
                            kind.boundary_names()
                        ),
                    ));
                }
            };
            parse_side(pre, &key, s, kind)
        };
    let b = &raw.boundary;
    let boundary = Sides4 {
        left: side_of(&b.left, &b.x, "boundary.left", "boundary.x")?,
        right: side_of(&b.right, &b.x, "boundary.right", "boundary.x")?,
        bottom: side_of(&b.bottom, &b.y, "boundary.bottom", "boundary.y")?,
        top: side_of(&b.top, &b.y, "boundary.top", "boundary.y")?,
    };
    for (a, bb, ka, kb) in [
        (
            &boundary.left,
            &boundary.right,
            "boundary.left",
            "boundary.right",
        ),
        (
            &boundary.bottom,
            &boundary.top,
            "boundary.bottom",
            "boundary.top",
        ),
    ] {
        if (a.name == "periodic") != (bb.name == "periodic") {
            let (k, v) = if a.name == "periodic" {
                (kb, bb)
            } else {
                (ka, a)
            };
            return Err(pre.invalid(k, format!("{:?}", v.show()), format!("the opposite side is periodic; allowed: periodic on both {ka} and {kb}, or on neither")));
        }
    }
    Ok(boundary)
}

fn parse_side(ctx: &Ctx<'_>, key: &str, s: &str, kind: &dyn SolverKind) -> Result<Side> {
    let lower = s.trim().to_ascii_lowercase();
    let (name, value) = match lower.split_once(':') {
        Some((n, v)) => {
            let value: f64 = v.trim().parse().map_err(|_| {
                ctx.invalid(
                    key,
                    format!("{s:?}"),
                    format!(
                        "the value after `:` must be a number; allowed: {}",
                        kind.boundary_names()
                    ),
                )
            })?;
            (n.trim().to_string(), value)
        }
        None => (lower.clone(), 0.0),
    };
    match kind.boundary(&name) {
        Some((canon, takes_value)) => {
            if value != 0.0 && !takes_value {
                return Err(ctx.invalid(
                    key,
                    format!("{s:?}"),
                    format!(
                        "`{canon}` takes no value; allowed: {}",
                        kind.boundary_names()
                    ),
                ));
            }
            Ok(Side {
                name: canon.into(),
                value,
            })
        }
        None => Err(ctx.invalid(
            key,
            format!("{s:?}"),
            format!("unknown boundary; allowed: {}", kind.boundary_names()),
        )),
    }
}

/// `[grid]`: node counts, and spacings given directly or as domain lengths.
pub(super) fn resolve_grid(
    pre: &Ctx<'_>,
    raw: &RawScenario,
    boundary: &Sides4,
    kind: &dyn SolverKind,
) -> Result<Grid> {
    let g = &raw.grid;
    let count = |key: &str, n: usize| -> Result<()> {
        if n < 2 {
            return Err(pre.invalid(key, n.to_string(), "allowed: an integer >= 2"));
        }
        Ok(())
    };
    count("grid.nx", g.nx)?;
    // ny = 1 is a 1D problem along x (the quantum kind); other kinds refuse it in their checks.
    if g.ny < 1 {
        return Err(pre.invalid("grid.ny", g.ny.to_string(), "allowed: an integer >= 1"));
    }
    // Spacings per domain length: n for a periodic axis; otherwise n minus half a spacing
    // for each side whose edge lies on the edge sample (see SolverKind::edge_on_node).
    let intervals = |n: usize, lo: &Side, hi: &Side| -> f64 {
        if lo.name == "periodic" {
            n as f64
        } else {
            n as f64
                - 0.5
                    * (f64::from(u8::from(kind.edge_on_node(lo)))
                        + f64::from(u8::from(kind.edge_on_node(hi))))
        }
    };
    let spacing = |dkey: &str,
                   d: Option<f64>,
                   lkey: &str,
                   l: Option<f64>,
                   intervals: f64,
                   fallback: Option<f64>|
     -> Result<f64> {
        let positive = |key: &str, v: f64| -> Result<f64> {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(pre.invalid(key, v.to_string(), "allowed: a finite number > 0"))
            }
        };
        match (d, l) {
            (Some(_), Some(_)) => Err(pre.invalid(
                lkey,
                l.unwrap_or_default().to_string(),
                format!("give {dkey} or {lkey}, not both"),
            )),
            (Some(d), None) => positive(dkey, d),
            (None, Some(l)) => {
                let l = positive(lkey, l)?;
                Ok(l / intervals)
            }
            (None, None) => fallback.ok_or_else(|| {
                pre.invalid(
                    dkey,
                    "(missing)",
                    format!("give {dkey} (spacing) or {lkey} (domain length)"),
                )
            }),
        }
    };
    let dx = spacing(
        "grid.dx",
        g.dx,
        "grid.lx",
        g.lx,
        intervals(g.nx, &boundary.left, &boundary.right),
        None,
    )?;
    let dy = spacing(
        "grid.dy",
        g.dy,
        "grid.ly",
        g.ly,
        intervals(g.ny, &boundary.top, &boundary.bottom),
        Some(dx),
    )?;
    for (k, v) in [("grid.x0", g.x0), ("grid.y0", g.y0)] {
        if !v.is_finite() {
            return Err(pre.invalid(k, v.to_string(), "allowed: a finite number"));
        }
    }
    let grid = Grid {
        ny: g.ny,
        nx: g.nx,
        dy,
        dx,
        y0: g.y0,
        x0: g.x0,
    };
    Ok(grid)
}
