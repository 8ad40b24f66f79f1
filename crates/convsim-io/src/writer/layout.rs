//! Reading back the layout: coordinate scales, member order of a group, signedness.

use std::path::Path;

use convsim_core::Grid;
use hdf5::{Dataset, Group};

use crate::attrs::{get_num, get_str, set_str};
use crate::error::{Ctx, Result};
use crate::ffi;

use super::{ORDER_ATTR, SCALE_NAMES};

pub(super) fn coord_scale(
    p: &Path,
    g: &Group,
    name: &str,
    values: &[f64],
    units: &str,
    axis: &str,
) -> Result<Dataset> {
    let ds = g
        .new_dataset_builder()
        .with_data(values)
        .create(name)
        .ctx(p, || format!("creating /scales/{name}"))?;
    ffi::set_scale(ds.id(), name).ctx(p, || format!("making /scales/{name} a dimension scale"))?;
    set_str(p, &ds, "units", units)?;
    set_str(p, &ds, "long_name", &format!("{name} coordinate"))?;
    set_str(p, &ds, "axis", axis)?;
    Ok(ds)
}

/// Grid from stored coordinates; a single sample gets spacing 1.
pub(crate) fn grid_from_coords(ys: &[f64], xs: &[f64]) -> Grid {
    let spacing = |v: &[f64]| if v.len() > 1 { v[1] - v[0] } else { 1.0 };
    Grid {
        ny: ys.len(),
        nx: xs.len(),
        dy: spacing(ys),
        dx: spacing(xs),
        y0: ys.first().copied().unwrap_or(0.0),
        x0: xs.first().copied().unwrap_or(0.0),
    }
}

/// Member datasets of `/fields` or `/diagnostics` in creation order (from [`ORDER_ATTR`],
/// falling back to alphabetical order minus the scale links).
pub(crate) fn member_order(p: &Path, g: &Group) -> Result<Vec<String>> {
    if let Some(order) = get_str(p, g, ORDER_ATTR)? {
        return Ok(order
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect());
    }
    let names = g
        .member_names()
        .ctx(p, || format!("listing {}", g.name()))?;
    Ok(names
        .into_iter()
        .filter(|n| !SCALE_NAMES.contains(&n.as_str()))
        .collect())
}

pub(crate) fn signed_attr(ds: &Dataset) -> bool {
    get_num::<i8>(ds, "convsim_signed").is_some_and(|v| v != 0)
}
