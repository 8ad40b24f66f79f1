//! Parameters of a seismic run: grid, time step, model, sources, receivers, boundaries.
//!
//! Units are SI throughout: metres, seconds, m/s, kg/m^3, Hz. Axis order is `(y, x)` with `y`
//! the depth (positive down) and `x` the horizontal distance; coordinates are absolute, so a
//! grid with `y0 = 0, x0 = 0, dy = dx = 10` has its sample `(i, j)` at `(10 i, 10 j)` m.
//!
//! ```
//! use convsim_seismic::{Model, PointSource, Receivers, SeismicParams, Wavelet};
//! let mut p = SeismicParams::homogeneous(101, 101, 10.0, 2000.0);
//! p.dt = 1e-3;
//! p.duration = 0.3;
//! p.sources = vec![PointSource { y: 500.0, x: 500.0, wavelet: Wavelet::ricker(10.0) }];
//! p.receivers = vec![Receivers::Line { start: [0.0, 0.0], end: [0.0, 1000.0], count: 11 }];
//! assert!(matches!(p.velocity, Model::Constant { value } if value == 2000.0));
//! ```

use convsim_core::Grid;
use convsim_core::ParamPath;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::{Result, SeismicError, stability};

/// Everything that defines a seismic run: the schema of a scenario's `[seismic]` table (with
/// `grid`, `time` and `boundary`), validated here once. Errors name each field by its scenario
/// key ([`convsim_core::ParamPath`]): `space_order` is `order`, `dt` and `duration` are
/// `time.dt` and `time.t_end`, a side's CPML or sponge numbers are `cpml.*` or `sponge.*`,
/// the models are `velocity` and `density` (layer tops: `layers`), the points `sources` and
/// `receivers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeismicParams {
    /// The physical grid: `dy`, `dx`, `y0`, `x0` in metres. Absorbing layers are added outside
    /// it, so sources, receivers and outputs refer to this grid only.
    pub grid: Grid,
    /// Time step, s. Must not exceed [`crate::stability::dt_max`].
    pub dt: f64,
    /// Recorded duration, s: traces hold `round(duration / dt) + 1` samples at `t = k dt`.
    pub duration: f64,
    /// Accuracy order of the Laplacian in space: 2, 4, ..., 16 (default 8).
    #[serde(default = "default_order")]
    pub space_order: usize,
    /// Velocity model, m/s.
    pub velocity: Model,
    /// Density model, kg/m^3; `None` for constant density (the `p_tt = v^2 Lap p` form).
    #[serde(default)]
    pub density: Option<Model>,
    /// Point sources (all fire together: one shot).
    #[serde(default)]
    pub sources: Vec<PointSource>,
    /// Receivers, in order; the gather rows follow this order.
    #[serde(default)]
    pub receivers: Vec<Receivers>,
    /// Boundary per side.
    #[serde(default)]
    pub boundaries: SeismicBoundaries,
    /// Points per wavelength below which a warning is issued; `None` for the order's default
    /// (see [`crate::stability::ppw_threshold`]).
    #[serde(default)]
    pub ppw_threshold: Option<f64>,
}

fn default_order() -> usize {
    8
}

impl SeismicParams {
    /// A constant-velocity model on an `ny x nx` grid of spacing `h` (m), origin 0, velocity `v`
    /// (m/s); dt is set to half the stability limit, duration 0, no sources or receivers, CPML on
    /// every side.
    #[must_use]
    pub fn homogeneous(ny: usize, nx: usize, h: f64, v: f64) -> Self {
        let order = default_order();
        let dt = 0.5 * crate::stability::dt_max(order, h, h, v).unwrap_or(0.0);
        SeismicParams {
            grid: Grid {
                ny,
                nx,
                dy: h,
                dx: h,
                y0: 0.0,
                x0: 0.0,
            },
            dt,
            duration: 0.0,
            space_order: order,
            velocity: Model::Constant { value: v },
            density: None,
            sources: Vec::new(),
            receivers: Vec::new(),
            boundaries: SeismicBoundaries::default(),
            ppw_threshold: None,
        }
    }

    /// Number of recorded time steps `round(duration / dt)`.
    #[must_use]
    pub fn nt(&self) -> usize {
        if self.dt > 0.0 && self.duration > 0.0 {
            (self.duration / self.dt).round() as usize
        } else {
            0
        }
    }
}

/// A scalar model (velocity in m/s or density in kg/m^3) on the grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Model {
    /// The same value everywhere.
    Constant {
        /// The value.
        value: f64,
    },
    /// Horizontal layers: `values[0]` above `tops[0]`, `values[i]` from `tops[i - 1]` down to
    /// `tops[i]`, the last value below the last top. `tops` are depths in m, increasing.
    Layered {
        /// Depths of the layer interfaces, m, increasing.
        tops: Vec<f64>,
        /// One value per layer (`tops.len() + 1`).
        values: Vec<f64>,
    },
    /// A linear function of depth: `value0 + gradient * y` (`gradient` per m).
    Gradient {
        /// Value at `y = 0`.
        value0: f64,
        /// Increase per metre of depth.
        gradient: f64,
    },
    /// Values given sample by sample, shape `(ny, nx)` (the scenario layer reads them from HDF5).
    Array {
        /// The samples.
        values: Array2<f64>,
    },
    /// The Marmousi-like synthetic velocity model (faulted layers, a high-velocity body, a water
    /// layer on top) scaled to the grid's extent; see [`crate::model::marmousi_like`].
    MarmousiLike {
        /// Seed of the layer velocity perturbations.
        #[serde(default)]
        seed: u64,
    },
    /// Density only: Gardner's relation `rho = 310 v^0.25` (kg/m^3, v in m/s) from the velocity.
    Gardner,
}

/// A point source at an arbitrary position (off the grid is fine).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointSource {
    /// Depth, m.
    pub y: f64,
    /// Horizontal position, m.
    pub x: f64,
    /// Source time function.
    pub wavelet: Wavelet,
}

/// A source time function `s(t)`; the solver adds `dt^2 v^2 s(t_n) delta_h(x - x_s)` per step,
/// with `delta_h` the Kaiser-windowed sinc of Hicks (2002) divided by the cell area.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Wavelet {
    /// Ricker wavelet `a (1 - 2 pi^2 f0^2 tau^2) exp(-pi^2 f0^2 tau^2)`, `tau = t - t0`.
    Ricker {
        /// Peak frequency, Hz.
        f0: f64,
        /// Delay of the peak, s (default `1.5 / f0`, as Devito).
        #[serde(default)]
        t0: Option<f64>,
        /// Amplitude (default 1).
        #[serde(default = "one")]
        amplitude: f64,
    },
    /// Samples at `t = k dt` (e.g. read from a file), linearly interpolated onto the solver's
    /// time steps, zero after the last sample.
    Samples {
        /// Sampling interval of `values`, s.
        dt: f64,
        /// The samples.
        values: Vec<f64>,
    },
}

fn one() -> f64 {
    1.0
}

impl Wavelet {
    /// A unit Ricker wavelet of peak frequency `f0` (Hz) and the default delay `1.5 / f0`.
    #[must_use]
    pub fn ricker(f0: f64) -> Self {
        Wavelet::Ricker {
            f0,
            t0: None,
            amplitude: 1.0,
        }
    }
}

/// A set of receivers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Receivers {
    /// Receivers at the listed `[y, x]` positions, m.
    Points {
        /// The positions `[y, x]`.
        coords: Vec<[f64; 2]>,
    },
    /// `count` receivers evenly spaced from `start` to `end` (both `[y, x]`, m, included).
    Line {
        /// First receiver `[y, x]`.
        start: [f64; 2],
        /// Last receiver `[y, x]`.
        end: [f64; 2],
        /// Number of receivers (at least 1; a single receiver sits at `start`).
        count: usize,
    },
}

impl Receivers {
    /// The `[y, x]` positions of these receivers.
    #[must_use]
    pub fn positions(&self) -> Vec<[f64; 2]> {
        match self {
            Receivers::Points { coords } => coords.clone(),
            Receivers::Line { start, end, count } => {
                let n = *count;
                (0..n)
                    .map(|i| {
                        let f = if n > 1 {
                            i as f64 / (n - 1) as f64
                        } else {
                            0.0
                        };
                        [
                            start[0] + f * (end[0] - start[0]),
                            start[1] + f * (end[1] - start[1]),
                        ]
                    })
                    .collect()
            }
        }
    }
}

/// The boundary of each side of the model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeismicBoundaries {
    /// The `y = y0` side (the surface).
    #[serde(default)]
    pub top: SideBoundary,
    /// The deepest side.
    #[serde(default)]
    pub bottom: SideBoundary,
    /// The `x = x0` side.
    #[serde(default)]
    pub left: SideBoundary,
    /// The far `x` side.
    #[serde(default)]
    pub right: SideBoundary,
}

impl Default for SeismicBoundaries {
    fn default() -> Self {
        Self::uniform(SideBoundary::default())
    }
}

impl SeismicBoundaries {
    /// The same boundary on all four sides.
    #[must_use]
    pub fn uniform(b: SideBoundary) -> Self {
        SeismicBoundaries {
            top: b,
            bottom: b,
            left: b,
            right: b,
        }
    }
    /// Sides in the order `[top, bottom, left, right]`.
    #[must_use]
    pub fn sides(&self) -> [SideBoundary; 4] {
        [self.top, self.bottom, self.left, self.right]
    }
}

/// What happens at one side of the model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SideBoundary {
    /// Convolutional PML (Komatitsch & Martin 2007 with kappa = 1) of `width` cells outside the
    /// model: damping `d(s) = d0 (s / L)^2` with `d0 = -3 v_max ln(R) / (2 L)` and frequency
    /// shift `alpha(s) = pi f (1 - s / L)` at depth `s` into a layer of thickness `L`.
    Cpml {
        /// Thickness in cells (default 20).
        #[serde(default = "default_cpml_width")]
        width: usize,
        /// Theoretical normal-incidence reflection coefficient `R` (default 1e-4).
        #[serde(default = "default_reflection")]
        reflection: f64,
        /// Frequency of the `alpha` shift, Hz (default: the first Ricker source's `f0`, else 0).
        #[serde(default)]
        frequency: Option<f64>,
    },
    /// Cerjan et al. (1985) damping sponge of `width` cells outside the model: both time levels
    /// are multiplied by `exp(-(strength (width - i) / width)^2)` in the sponge every step.
    Sponge {
        /// Thickness in cells (default 40).
        #[serde(default = "default_sponge_width")]
        width: usize,
        /// Exponent scale (default 0.3, Cerjan's 0.015 x 20 cells).
        #[serde(default = "default_sponge_strength")]
        strength: f64,
    },
    /// Free surface `p = 0` on the edge row, odd mirror (`Antisymmetric`) beyond it.
    FreeSurface,
    /// Rigid wall, zero normal derivative (`Symmetric`: edge sample repeated).
    Rigid,
    /// Zero pressure beyond the edge (`Zero` padding), as Devito without an absorbing layer.
    Zero,
}

impl Default for SideBoundary {
    fn default() -> Self {
        SideBoundary::cpml(20)
    }
}

impl SideBoundary {
    /// A CPML of `width` cells with the default reflection target and frequency.
    #[must_use]
    pub fn cpml(width: usize) -> Self {
        SideBoundary::Cpml {
            width,
            reflection: default_reflection(),
            frequency: None,
        }
    }
    /// A Cerjan sponge of `width` cells with the default strength.
    #[must_use]
    pub fn sponge(width: usize) -> Self {
        SideBoundary::Sponge {
            width,
            strength: default_sponge_strength(),
        }
    }
    /// Cells added outside the model on this side.
    #[must_use]
    pub fn width(&self) -> usize {
        match *self {
            SideBoundary::Cpml { width, .. } | SideBoundary::Sponge { width, .. } => width,
            _ => 0,
        }
    }
    /// Scenario name of the kind.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            SideBoundary::Cpml { .. } => "cpml",
            SideBoundary::Sponge { .. } => "sponge",
            SideBoundary::FreeSurface => "free_surface",
            SideBoundary::Rigid => "rigid",
            SideBoundary::Zero => "zero",
        }
    }
}

fn default_cpml_width() -> usize {
    20
}
fn default_reflection() -> f64 {
    1e-4
}
fn default_sponge_width() -> usize {
    40
}
fn default_sponge_strength() -> f64 {
    0.3
}

impl SeismicParams {
    /// Checks the parameters that need no model evaluation: space order, grid, `dt`,
    /// `duration` and the numbers of every side's absorbing layer. [`Seismic::new`] calls it
    /// first; the models, the stability limit, sources and receivers are checked as the
    /// solver is built.
    ///
    /// # Errors
    /// The first problem found, as [`SeismicError::InvalidParameter`] naming the parameter.
    ///
    /// [`Seismic::new`]: crate::Seismic::new
    pub fn validate(&self) -> Result<()> {
        let g = self.grid;
        stability::check_order(self.space_order)?;
        let r = self.space_order / 2;
        for (name, v) in [(ParamPath::Grid("dy"), g.dy), (ParamPath::Grid("dx"), g.dx)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(SeismicError::invalid(
                    name,
                    v,
                    "grid spacing must be positive and finite (m)",
                ));
            }
        }
        for (name, n) in [(ParamPath::Grid("ny"), g.ny), (ParamPath::Grid("nx"), g.nx)] {
            if n < r + 1 {
                return Err(SeismicError::invalid(
                    name,
                    n,
                    format!(
                        "need at least {} samples for space order {}",
                        r + 1,
                        self.space_order
                    ),
                ));
            }
        }
        if !(self.dt.is_finite() && self.dt > 0.0) {
            return Err(SeismicError::invalid(
                ParamPath::Time("dt"),
                self.dt,
                "time step must be positive and finite (s)",
            ));
        }
        if !(self.duration.is_finite() && self.duration >= 0.0) {
            return Err(SeismicError::invalid(
                ParamPath::Time("t_end"),
                self.duration,
                "must be finite and >= 0 (s)",
            ));
        }
        for side in &self.boundaries.sides() {
            check_side(side)?;
        }
        Ok(())
    }
}

/// Checks the numbers of one side's absorbing layer (named by the scenario's shared `cpml` or
/// `sponge` table).
fn check_side(side: &SideBoundary) -> Result<()> {
    match *side {
        SideBoundary::Cpml {
            width,
            reflection,
            frequency,
        } => {
            if width == 0 || width > 1000 {
                return Err(SeismicError::invalid(
                    ParamPath::table("cpml.width"),
                    width,
                    "CPML width must be 1 to 1000 cells",
                ));
            }
            if !(reflection > 0.0 && reflection < 1.0) {
                return Err(SeismicError::invalid(
                    ParamPath::table("cpml.reflection"),
                    reflection,
                    "the reflection target must be between 0 and 1 (exclusive), e.g. 1e-4",
                ));
            }
            if let Some(f) = frequency
                && !(f.is_finite() && f >= 0.0)
            {
                return Err(SeismicError::invalid(
                    ParamPath::table("cpml.frequency"),
                    f,
                    "must be finite and >= 0 (Hz)",
                ));
            }
        }
        SideBoundary::Sponge { width, strength } => {
            if width == 0 || width > 1000 {
                return Err(SeismicError::invalid(
                    ParamPath::table("sponge.width"),
                    width,
                    "sponge width must be 1 to 1000 cells",
                ));
            }
            if !(strength.is_finite() && strength > 0.0) {
                return Err(SeismicError::invalid(
                    ParamPath::table("sponge.strength"),
                    strength,
                    "must be positive and finite",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}
