//! Model arrays: evaluate a [`Model`] on the grid and check it.
//!
//! ```
//! use convsim_core::Grid;
//! use convsim_seismic::{model, Model};
//! let g = Grid { ny: 3, nx: 2, dy: 10.0, dx: 10.0, y0: 0.0, x0: 0.0 };
//! let v = model::evaluate(&Model::Layered { tops: vec![15.0], values: vec![1500.0, 2500.0] }, &g, "velocity", None).unwrap();
//! assert_eq!(v.column(0).to_vec(), vec![1500.0, 1500.0, 2500.0]);
//! ```

use convsim_core::Grid;
use convsim_core::ParamPath;
use ndarray::{Array2, ArrayView2};

use crate::{Model, Result, SeismicError};

/// Evaluates `model` at every sample of `grid`. `name` (`"velocity"` or `"density"`) is used in
/// errors; `velocity` is needed by [`Model::Gardner`].
///
/// # Errors
/// A shape mismatch of an array model, layered values and tops that do not fit together,
/// `Gardner` without a velocity, or any value that is not positive and finite.
pub fn evaluate(
    model: &Model,
    grid: &Grid,
    name: &'static str,
    velocity: Option<ArrayView2<'_, f64>>,
) -> Result<Array2<f64>> {
    let (ny, nx) = grid.shape();
    let depth = |i: usize| grid.y0 + i as f64 * grid.dy;
    let a = match model {
        Model::Constant { value } => Array2::from_elem((ny, nx), *value),
        Model::Layered { tops, values } => {
            if values.len() != tops.len() + 1 {
                return Err(SeismicError::invalid(
                    ParamPath::table(format!("{name}.values")),
                    format!("{} values for {} tops", values.len(), tops.len()),
                    "give one value per layer: tops.len() + 1 values",
                ));
            }
            if tops.windows(2).any(|w| w[1] <= w[0]) || tops.iter().any(|t| !t.is_finite()) {
                return Err(SeismicError::invalid(
                    ParamPath::table(format!("{name}.layers")),
                    format!("{tops:?}"),
                    "layer tops must be finite depths in strictly increasing order",
                ));
            }
            Array2::from_shape_fn((ny, nx), |(i, _)| {
                let y = depth(i);
                values[tops.iter().take_while(|&&t| y >= t).count()]
            })
        }
        Model::Gradient { value0, gradient } => {
            Array2::from_shape_fn((ny, nx), |(i, _)| value0 + gradient * depth(i))
        }
        Model::Array { values } => {
            if values.dim() != (ny, nx) {
                return Err(SeismicError::ShapeMismatch {
                    name,
                    expected: [ny, nx],
                    actual: [values.nrows(), values.ncols()],
                });
            }
            values.clone()
        }
        Model::MarmousiLike { seed } => marmousi_like(grid, *seed),
        Model::Gardner => match velocity {
            Some(v) => v.mapv(|v| 310.0 * v.max(0.0).powf(0.25)),
            None => {
                return Err(SeismicError::invalid(
                    ParamPath::table(name),
                    "gardner",
                    "Gardner's relation gives a density from the velocity; use it for density only",
                ));
            }
        },
    };
    check_positive(a.view(), name)?;
    Ok(a)
}

/// Checks that every value is positive and finite.
///
/// # Errors
/// [`SeismicError::BadModelValue`] at the first offending sample.
pub fn check_positive(a: ArrayView2<'_, f64>, name: &'static str) -> Result<()> {
    for ((row, col), &value) in a.indexed_iter() {
        if !(value.is_finite() && value > 0.0) {
            return Err(SeismicError::BadModelValue {
                name,
                row,
                col,
                value,
                allowed: "every value must be positive and finite",
            });
        }
    }
    Ok(())
}

/// `SplitMix64`: a tiny deterministic generator for the model perturbations.
fn splitmix(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// The Marmousi-like synthetic velocity model (m/s) on `grid`, a pure function of the
/// normalised position and `seed`, so any resolution of the same extent shows the same
/// geology:
///
/// - a water layer of 1500 m/s over the top 6 % of the depth;
/// - twelve gently folded, dipping sediment layers from about 1700 to 4000 m/s (each layer's
///   velocity perturbed by up to +-120 m/s from `seed`, plus a mild gradient inside it);
/// - three normal faults dipping to the right that offset the layers (throws of 3-5 % of the
///   depth);
/// - a high-velocity body (4500 m/s, a tilted ellipse) at about 60 % depth.
///
/// ```
/// use convsim_core::Grid;
/// let g = Grid { ny: 60, nx: 120, dy: 25.0, dx: 25.0, y0: 0.0, x0: 0.0 };
/// let v = convsim_seismic::model::marmousi_like(&g, 0);
/// assert_eq!(v[[0, 0]], 1500.0);
/// assert!(v.iter().all(|&x| (1500.0..=4500.0).contains(&x)));
/// ```
#[must_use]
pub fn marmousi_like(grid: &Grid, seed: u64) -> Array2<f64> {
    const LAYERS: usize = 12;
    const WATER: f64 = 0.06;
    let mut state = seed ^ 0x005E_ED0F_4A4D_u64;
    let perturb: Vec<f64> = (0..LAYERS)
        .map(|_| 240.0 * (splitmix(&mut state) - 0.5))
        .collect();
    // Faults: position at the surface (fraction of the width), horizontal drift per unit depth,
    // throw (fraction of the depth; positive = the right block goes down).
    let faults = [(0.28, 0.30, 0.045), (0.50, 0.25, -0.03), (0.74, 0.35, 0.05)];
    let ly = ((grid.ny.max(2) - 1) as f64 * grid.dy).max(f64::MIN_POSITIVE);
    let lx = ((grid.nx.max(2) - 1) as f64 * grid.dx).max(f64::MIN_POSITIVE);
    Array2::from_shape_fn((grid.ny, grid.nx), |(i, j)| {
        let u = i as f64 * grid.dy / ly;
        let s = j as f64 * grid.dx / lx;
        if u < WATER {
            return 1500.0;
        }
        // High-velocity body: a tilted ellipse.
        let (du, ds) = (u - 0.62, s - 0.62);
        let (c, sn) = (0.35_f64.cos(), 0.35_f64.sin());
        let (a, b) = (du * c - ds * sn, du * sn + ds * c);
        if (a / 0.09).powi(2) + (b / 0.18).powi(2) <= 1.0 {
            return 4500.0;
        }
        // Undo the fault throws to find the position in the unfaulted layering.
        let mut uu = u;
        for &(f, drift, throw) in &faults {
            if s > f + drift * u {
                uu -= throw;
            }
        }
        // Folded, dipping interfaces.
        let fold = 0.025 * (std::f64::consts::TAU * (0.8 * s + 0.1)).sin() + 0.06 * (s - 0.5);
        let z = (uu - WATER - fold) / (1.0 - WATER);
        let k = ((z * LAYERS as f64).floor().max(0.0) as usize).min(LAYERS - 1);
        let within = (z * LAYERS as f64 - k as f64).clamp(0.0, 1.0);
        let v = 1700.0 + k as f64 * (2300.0 / (LAYERS - 1) as f64) + perturb[k] + 60.0 * within;
        v.clamp(1500.0, 4500.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(ny: usize, nx: usize) -> Grid {
        Grid {
            ny,
            nx,
            dy: 5.0,
            dx: 5.0,
            y0: 0.0,
            x0: 0.0,
        }
    }

    #[test]
    fn models_evaluate() {
        let g = grid(4, 3);
        let v = evaluate(
            &Model::Gradient {
                value0: 1000.0,
                gradient: 2.0,
            },
            &g,
            "velocity",
            None,
        )
        .unwrap();
        assert_eq!(v[[3, 1]], 1030.0);
        let rho = evaluate(&Model::Gardner, &g, "density", Some(v.view())).unwrap();
        assert!((rho[[0, 0]] - 310.0 * 1000f64.powf(0.25)).abs() < 1e-9);
    }

    #[test]
    fn bad_models_are_named() {
        let g = grid(2, 2);
        let mut a = Array2::from_elem((2, 2), 1500.0);
        a[[1, 0]] = f64::NAN;
        let e = evaluate(&Model::Array { values: a.clone() }, &g, "velocity", None).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("velocity") && msg.contains("NaN") && msg.contains("row 1"),
            "{msg}"
        );
        a[[1, 0]] = -3.0;
        let e = evaluate(&Model::Array { values: a }, &g, "velocity", None).unwrap_err();
        assert!(e.to_string().contains("-3"), "{e}");
        let e = evaluate(
            &Model::Array {
                values: Array2::from_elem((3, 2), 1500.0),
            },
            &g,
            "velocity",
            None,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            SeismicError::ShapeMismatch {
                expected: [2, 2],
                actual: [3, 2],
                ..
            }
        ));
        assert!(e.to_string().contains("(ny, nx) = [2, 2]"), "{e}");
    }

    #[test]
    fn marmousi_is_deterministic_and_structured() {
        let g = grid(80, 160);
        let a = marmousi_like(&g, 7);
        assert_eq!(a, marmousi_like(&g, 7));
        assert_ne!(a, marmousi_like(&g, 8));
        // Water on top, the high-velocity body present, velocity increasing with depth on average.
        assert!(a.row(0).iter().all(|&v| v == 1500.0));
        assert!(a.iter().any(|&v| v == 4500.0));
        let mean = |i: usize| a.row(i).sum() / a.ncols() as f64;
        assert!(mean(70) > mean(20) + 800.0);
        // The faults offset the layering: some row changes value along x within a few columns
        // far from the body.
        let jumps = (1..a.ncols())
            .filter(|&j| (a[[30, j]] - a[[30, j - 1]]).abs() > 100.0)
            .count();
        assert!(jumps >= 2, "{jumps}");
    }
}
