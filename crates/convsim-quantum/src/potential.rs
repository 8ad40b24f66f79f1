//! Potentials on the grid: the terms of [`PotentialTerm`], time profiles and the absorber.

use convsim_core::Grid;
use convsim_core::ParamPath;
use ndarray::Array2;

use crate::error::{QuantumError, Result, finite, invalid, non_negative, positive};
use crate::params::{Absorber, Edge, PotentialTerm, TimeProfile};

/// Fraction of the cell `[c - h/2, c + h/2]` inside `[a, b]`: the exact cell average of the
/// indicator of the interval.
fn cell_fraction(c: f64, h: f64, a: f64, b: f64) -> f64 {
    let lo = a.max(c - 0.5 * h);
    let hi = b.min(c + 0.5 * h);
    ((hi - lo) / h).clamp(0.0, 1.0)
}

/// Smoothed or cell-averaged indicator of `[a, b]` at `c`.
fn window(c: f64, h: f64, a: f64, b: f64, edge: f64) -> f64 {
    if edge > 0.0 {
        0.5 * (((c - a) / edge).tanh() - ((c - b) / edge).tanh())
    } else {
        cell_fraction(c, h, a, b)
    }
}

/// Samples the sum of `terms` on `grid` (mass `mass` for the harmonic terms). `name` prefixes
/// the parameter paths in errors (`potential`, `drive.shape`).
///
/// # Errors
/// A term with a non-finite or out-of-range parameter, an array of the wrong shape or holding a
/// non-finite value.
///
/// ```
/// use convsim_core::Grid;
/// use convsim_quantum::{PotentialTerm, potential::sample};
/// let grid = Grid { ny: 1, nx: 5, dy: 1.0, dx: 1.0, y0: 0.0, x0: -2.0 };
/// let v = sample("potential", &[PotentialTerm::Harmonic {
///     omega: 2.0, omega_y: None, center_x: 0.0, center_y: 0.0 }], &grid, 1.0).unwrap();
/// // m omega^2 x^2 / 2 = 2 x^2.
/// assert_eq!(v.row(0).to_vec(), vec![8.0, 2.0, 0.0, 2.0, 8.0]);
/// ```
pub fn sample(name: &str, terms: &[PotentialTerm], grid: &Grid, mass: f64) -> Result<Array2<f64>> {
    let (ny, nx) = grid.shape();
    let one_d = ny == 1;
    let xs = grid.xs();
    let ys = if one_d { vec![0.0] } else { grid.ys() };
    let (dx, dy) = (grid.dx, grid.dy);
    let mut v = Array2::<f64>::zeros((ny, nx));
    for (t, term) in terms.iter().enumerate() {
        let p = |field: &str| ParamPath::table(format!("{name}[{t}].{field}"));
        match term {
            PotentialTerm::Harmonic {
                omega,
                omega_y,
                center_x,
                center_y,
            } => {
                let wx = non_negative(p("omega"), *omega)?;
                let wy = non_negative(p("omega_y"), omega_y.unwrap_or(wx))?;
                let cx = finite(p("center_x"), *center_x)?;
                let cy = finite(p("center_y"), *center_y)?;
                let wy = if one_d { 0.0 } else { wy };
                for ((i, j), out) in v.indexed_iter_mut() {
                    let (x, y) = (xs[j] - cx, ys[i] - cy);
                    *out += 0.5 * mass * (wx * wx * x * x + wy * wy * y * y);
                }
            }
            PotentialTerm::Barrier {
                height,
                x_min,
                x_max,
                y_min,
                y_max,
                edge,
            } => {
                let h = finite(p("height"), *height)?;
                let (a, b) = (finite(p("x_min"), *x_min)?, finite(p("x_max"), *x_max)?);
                if b <= a {
                    return Err(invalid(p("x_max"), b, &format!("a value > x_min = {a}")));
                }
                let c = y_min.map_or(Ok(f64::NEG_INFINITY), |v| finite(p("y_min"), v))?;
                let d = y_max.map_or(Ok(f64::INFINITY), |v| finite(p("y_max"), v))?;
                if d <= c {
                    return Err(invalid(p("y_max"), d, &format!("a value > y_min = {c}")));
                }
                let e = non_negative(p("edge"), *edge)?;
                let fy: Vec<f64> = if one_d {
                    vec![1.0]
                } else {
                    ys.iter().map(|&y| window(y, dy, c, d, e)).collect()
                };
                let fx: Vec<f64> = xs.iter().map(|&x| window(x, dx, a, b, e)).collect();
                for ((i, j), out) in v.indexed_iter_mut() {
                    *out += h * fy[i] * fx[j];
                }
            }
            PotentialTerm::DoubleSlit {
                height,
                x_center,
                thickness,
                slit_width,
                slit_separation,
                y_center,
                edge,
            } => {
                if one_d {
                    return Err(QuantumError::Unsupported {
                        what: format!("{name}[{t}] (double_slit) on a 1D grid (ny = 1)"),
                        why: "a double slit needs a y axis; use a barrier in 1D".into(),
                    });
                }
                let h = finite(p("height"), *height)?;
                let xc = finite(p("x_center"), *x_center)?;
                let th = positive(p("thickness"), *thickness)?;
                let w = positive(p("slit_width"), *slit_width)?;
                let s = positive(p("slit_separation"), *slit_separation)?;
                if s <= w {
                    return Err(invalid(
                        p("slit_separation"),
                        s,
                        &format!("a value > slit_width = {w} (the openings would merge)"),
                    ));
                }
                let yc = finite(p("y_center"), *y_center)?;
                let e = non_negative(p("edge"), *edge)?;
                let fx: Vec<f64> = xs
                    .iter()
                    .map(|&x| window(x, dx, xc - 0.5 * th, xc + 0.5 * th, e))
                    .collect();
                let open: Vec<f64> = ys
                    .iter()
                    .map(|&y| {
                        let o1 = window(y, dy, yc - 0.5 * s - 0.5 * w, yc - 0.5 * s + 0.5 * w, e);
                        let o2 = window(y, dy, yc + 0.5 * s - 0.5 * w, yc + 0.5 * s + 0.5 * w, e);
                        (1.0 - o1 - o2).clamp(0.0, 1.0)
                    })
                    .collect();
                for ((i, j), out) in v.indexed_iter_mut() {
                    *out += h * fx[j] * open[i];
                }
            }
            PotentialTerm::Lattice {
                depth,
                period_x,
                period_y,
                offset_x,
                offset_y,
            } => {
                let d = finite(p("depth"), *depth)?;
                let ax = period_x.map(|v| positive(p("period_x"), v)).transpose()?;
                let ay = period_y.map(|v| positive(p("period_y"), v)).transpose()?;
                if ax.is_none() && ay.is_none() {
                    return Err(invalid(
                        p("period_x"),
                        "none",
                        "a period along x or y (or both)",
                    ));
                }
                let ox = finite(p("offset_x"), *offset_x)?;
                let oy = finite(p("offset_y"), *offset_y)?;
                let ay = if one_d { None } else { ay };
                for ((i, j), out) in v.indexed_iter_mut() {
                    let sx = ax.map_or(0.0, |a| {
                        (std::f64::consts::PI * (xs[j] - ox) / a).sin().powi(2)
                    });
                    let sy = ay.map_or(0.0, |a| {
                        (std::f64::consts::PI * (ys[i] - oy) / a).sin().powi(2)
                    });
                    *out += d * (sx + sy);
                }
            }
            PotentialTerm::Linear {
                gradient_x,
                gradient_y,
            } => {
                let gx = finite(p("gradient_x"), *gradient_x)?;
                let gy = finite(p("gradient_y"), *gradient_y)?;
                let gy = if one_d { 0.0 } else { gy };
                for ((i, j), out) in v.indexed_iter_mut() {
                    *out += gx * xs[j] + gy * ys[i];
                }
            }
            PotentialTerm::Gaussian {
                amplitude,
                center_x,
                center_y,
                sigma,
            } => {
                let a = finite(p("amplitude"), *amplitude)?;
                let cx = finite(p("center_x"), *center_x)?;
                let cy = finite(p("center_y"), *center_y)?;
                let s = positive(p("sigma"), *sigma)?;
                for ((i, j), out) in v.indexed_iter_mut() {
                    let dy2 = if one_d { 0.0 } else { (ys[i] - cy).powi(2) };
                    *out += a * (-((xs[j] - cx).powi(2) + dy2) / (2.0 * s * s)).exp();
                }
            }
            PotentialTerm::Array { values, scale } => {
                let s = finite(p("scale"), *scale)?;
                check_array(p("values"), values, grid)?;
                v.zip_mut_with(values, |o, &a| *o += s * a);
            }
        }
    }
    Ok(v)
}

/// Checks that a real array has the grid's shape and only finite values.
///
/// # Errors
/// [`QuantumError::Shape`] or [`QuantumError::NonFinite`], naming `param`.
pub fn check_array(param: ParamPath, a: &Array2<f64>, grid: &Grid) -> Result<()> {
    let (ny, nx) = grid.shape();
    if a.dim() != (ny, nx) {
        return Err(QuantumError::Shape {
            param,
            expected: [ny, nx],
            actual: [a.nrows(), a.ncols()],
        });
    }
    if let Some(((i, j), &v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(QuantumError::NonFinite {
            param,
            value: v,
            at: [i, j],
        });
    }
    Ok(())
}

impl TimeProfile {
    /// Checks the parameters; `name` is the path used in errors.
    ///
    /// # Errors
    /// Non-finite values, a non-positive duration, an empty or decreasing table.
    pub fn validate(&self, name: &str) -> Result<()> {
        let p = |f: &str| ParamPath::table(format!("{name}.{f}"));
        match self {
            TimeProfile::Constant { value } => {
                finite(p("value"), *value)?;
            }
            TimeProfile::Sine {
                amplitude,
                omega,
                phase,
            } => {
                finite(p("amplitude"), *amplitude)?;
                finite(p("omega"), *omega)?;
                finite(p("phase"), *phase)?;
            }
            TimeProfile::Pulse {
                amplitude,
                center,
                duration,
                omega,
                phase,
            } => {
                finite(p("amplitude"), *amplitude)?;
                finite(p("center"), *center)?;
                positive(p("duration"), *duration)?;
                finite(p("omega"), *omega)?;
                finite(p("phase"), *phase)?;
            }
            TimeProfile::Ramp {
                t_start,
                t_end,
                from,
                to,
            } => {
                let a = finite(p("t_start"), *t_start)?;
                let b = finite(p("t_end"), *t_end)?;
                if b <= a {
                    return Err(invalid(p("t_end"), b, &format!("a time > t_start = {a}")));
                }
                finite(p("from"), *from)?;
                finite(p("to"), *to)?;
            }
            TimeProfile::Table { times, values } => {
                if times.is_empty() || times.len() != values.len() {
                    return Err(invalid(
                        p("values"),
                        format!("{} values for {} times", values.len(), times.len()),
                        "as many values as times, at least one",
                    ));
                }
                for (i, (&t, &v)) in times.iter().zip(values).enumerate() {
                    finite(ParamPath::table(format!("{name}.times[{i}]")), t)?;
                    finite(ParamPath::table(format!("{name}.values[{i}]")), v)?;
                    if i > 0 && t <= times[i - 1] {
                        return Err(invalid(
                            ParamPath::table(format!("{name}.times[{i}]")),
                            t,
                            &format!("strictly increasing times (previous {})", times[i - 1]),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The profile's value at time `t`.
    ///
    /// ```
    /// use convsim_quantum::TimeProfile;
    /// let r = TimeProfile::Ramp { t_start: 1.0, t_end: 3.0, from: 0.0, to: 4.0 };
    /// assert_eq!([r.at(0.0), r.at(2.0), r.at(5.0)], [0.0, 2.0, 4.0]);
    /// ```
    #[must_use]
    pub fn at(&self, t: f64) -> f64 {
        match self {
            TimeProfile::Constant { value } => *value,
            TimeProfile::Sine {
                amplitude,
                omega,
                phase,
            } => amplitude * (omega * t + phase).sin(),
            TimeProfile::Pulse {
                amplitude,
                center,
                duration,
                omega,
                phase,
            } => {
                let s = t - center;
                amplitude * (-s * s / (2.0 * duration * duration)).exp() * (omega * s + phase).cos()
            }
            TimeProfile::Ramp {
                t_start,
                t_end,
                from,
                to,
            } => {
                let f = ((t - t_start) / (t_end - t_start)).clamp(0.0, 1.0);
                from + f * (to - from)
            }
            TimeProfile::Table { times, values } => {
                let n = times.len();
                if t <= times[0] {
                    return values[0];
                }
                if t >= times[n - 1] {
                    return values[n - 1];
                }
                let k = times.partition_point(|&s| s <= t);
                let (t0, t1) = (times[k - 1], times[k]);
                let f = (t - t0) / (t1 - t0);
                values[k - 1] + f * (values[k] - values[k - 1])
            }
        }
    }
}

/// Samples the absorption rate `W >= 0` of `absorber` on `grid` (see [`Absorber`]).
///
/// # Errors
/// A non-positive width or strength, a power of 0, a layer wider than half the domain, or a `y`
/// edge on a 1D grid.
pub fn absorber_rate(absorber: &Absorber, grid: &Grid) -> Result<Array2<f64>> {
    let (ny, nx) = grid.shape();
    let one_d = ny == 1;
    let w = positive(ParamPath::table("absorber.width"), absorber.width)?;
    let s = positive(ParamPath::table("absorber.strength"), absorber.strength)?;
    if absorber.power == 0 {
        return Err(invalid(
            ParamPath::table("absorber.power"),
            0,
            "an integer >= 1",
        ));
    }
    let edges: Vec<Edge> = if absorber.edges.is_empty() {
        if one_d {
            vec![Edge::XMin, Edge::XMax]
        } else {
            vec![Edge::XMin, Edge::XMax, Edge::YMin, Edge::YMax]
        }
    } else {
        absorber.edges.clone()
    };
    let lx = nx as f64 * grid.dx;
    let ly = ny as f64 * grid.dy;
    for e in &edges {
        let (len, axis) = match e {
            Edge::XMin | Edge::XMax => (lx, "x"),
            Edge::YMin | Edge::YMax => {
                if one_d {
                    return Err(invalid(
                        ParamPath::table("absorber.edges"),
                        format!("{e:?}"),
                        "x_min or x_max on a 1D grid (ny = 1)",
                    ));
                }
                (ly, "y")
            }
        };
        if w > 0.5 * len {
            return Err(invalid(
                ParamPath::table("absorber.width"),
                w,
                &format!(
                    "at most half the domain length along {axis} ({})",
                    0.5 * len
                ),
            ));
        }
    }
    let xs = grid.xs();
    let ys = grid.ys();
    let (xa, xb) = (xs[0], xs[nx - 1]);
    let (ya, yb) = (ys[0], ys[ny - 1]);
    let ramp = |d: f64| {
        if d < w {
            s * ((w - d) / w).powi(absorber.power as i32)
        } else {
            0.0
        }
    };
    Ok(Array2::from_shape_fn((ny, nx), |(i, j)| {
        edges
            .iter()
            .map(|e| match e {
                Edge::XMin => ramp(xs[j] - xa),
                Edge::XMax => ramp(xb - xs[j]),
                Edge::YMin => ramp(ys[i] - ya),
                Edge::YMax => ramp(yb - ys[i]),
            })
            .fold(0.0, f64::max)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid1(nx: usize, dx: f64, x0: f64) -> Grid {
        Grid {
            ny: 1,
            nx,
            dy: 1.0,
            dx,
            y0: 0.0,
            x0,
        }
    }

    #[test]
    fn cell_averaged_barrier_has_the_exact_area() {
        // The cell average integrates the sharp rectangle exactly: sum V dx = height * width,
        // whatever the alignment of the edges with the grid (up to rounding).
        for x0 in [-5.0, -5.013, -4.977] {
            let g = grid1(200, 0.05, x0);
            let v = sample(
                "potential",
                &[PotentialTerm::Barrier {
                    height: 1.0,
                    x_min: 0.0,
                    x_max: 1.0,
                    y_min: None,
                    y_max: None,
                    edge: 0.0,
                }],
                &g,
                1.0,
            )
            .unwrap();
            assert!((v.sum() * 0.05 - 1.0).abs() < 1e-12, "{}", v.sum() * 0.05);
        }
    }

    #[test]
    fn double_slit_openings_are_where_asked() {
        let g = Grid {
            ny: 40,
            nx: 40,
            dy: 0.25,
            dx: 0.25,
            y0: -5.0,
            x0: -5.0,
        };
        let v = sample(
            "potential",
            &[PotentialTerm::DoubleSlit {
                height: 10.0,
                x_center: 0.0,
                thickness: 1.0,
                slit_width: 1.0,
                slit_separation: 3.0,
                y_center: 0.0,
                edge: 0.0,
            }],
            &g,
            1.0,
        )
        .unwrap();
        // x = 0 is column 20; y = +-1.5 (slit centres) rows 14 and 26; y = 0 row 20 (wall).
        assert_eq!(v[[14, 20]], 0.0);
        assert_eq!(v[[26, 20]], 0.0);
        assert_eq!(v[[20, 20]], 10.0);
        assert_eq!(v[[20, 10]], 0.0);
    }

    #[test]
    fn bad_terms_name_the_parameter() {
        let g = grid1(16, 0.5, 0.0);
        let e = sample(
            "potential",
            &[
                PotentialTerm::Linear {
                    gradient_x: 1.0,
                    gradient_y: 0.0,
                },
                PotentialTerm::Gaussian {
                    amplitude: 1.0,
                    center_x: 0.0,
                    center_y: 0.0,
                    sigma: -1.0,
                },
            ],
            &g,
            1.0,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "potential[1].sigma = -1 is not allowed: a finite number > 0"
        );
        let mut values = Array2::zeros((1, 16));
        values[[0, 3]] = f64::NAN;
        let e = sample(
            "potential",
            &[PotentialTerm::Array { values, scale: 1.0 }],
            &g,
            1.0,
        )
        .unwrap_err();
        assert!(
            matches!(e, QuantumError::NonFinite { at: [0, 3], .. }),
            "{e}"
        );
        let e = sample(
            "potential",
            &[PotentialTerm::Array {
                values: Array2::zeros((2, 16)),
                scale: 1.0,
            }],
            &g,
            1.0,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "potential[0].values has shape [2, 16] but the grid is (ny, nx) = [1, 16]"
        );
    }

    #[test]
    fn table_profile_interpolates() {
        let t = TimeProfile::Table {
            times: vec![0.0, 1.0, 3.0],
            values: vec![0.0, 2.0, -2.0],
        };
        t.validate("drive.profile").unwrap();
        assert_eq!(
            [t.at(-1.0), t.at(0.5), t.at(2.0), t.at(9.0)],
            [0.0, 1.0, 0.0, -2.0]
        );
        let bad = TimeProfile::Table {
            times: vec![0.0, 0.0],
            values: vec![1.0, 1.0],
        };
        assert!(
            bad.validate("drive.profile")
                .unwrap_err()
                .to_string()
                .contains("times[1]")
        );
    }

    #[test]
    fn absorber_ramp_is_zero_inside_and_peaks_at_the_edge() {
        let g = grid1(101, 0.1, 0.0);
        let w = absorber_rate(
            &Absorber {
                width: 2.0,
                strength: 3.0,
                power: 2,
                edges: vec![],
            },
            &g,
        )
        .unwrap();
        assert_eq!(w[[0, 0]], 3.0);
        assert_eq!(w[[0, 100]], 3.0);
        assert!((w[[0, 10]] - 3.0 * 0.25).abs() < 1e-12);
        assert_eq!(w[[0, 50]], 0.0);
    }
}
