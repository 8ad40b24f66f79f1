//! Parameters of a quantum run (serde, natural units).
//!
//! # Units
//!
//! Natural units with `hbar = 1`. Choose a length unit `L` (the grid spacing and every
//! coordinate are in `L`) and a mass unit `M` (the `mass` field is in `M`); then energies
//! (potentials, `V0`, absorber strength) are in `hbar^2 / (M L^2)`, times (`dt`, time profiles)
//! in `M L^2 / hbar`, wavenumbers in `1 / L`. With `mass = 1` a plane wave `exp(i k x)` has
//! energy `k^2 / 2` and speed `k`.
//!
//! The wavefunction is normalised to `sum |psi|^2 dA = 1` when the solver is built (`dA = dx dy`
//! in 2D, `dx` in 1D), so `g` is the interaction strength of the whole cloud (`g = N g_1` for
//! `N` particles of pairwise strength `g_1`), in energy times area (2D) or energy times length
//! (1D).

use convsim_core::ParamPath;
use convsim_core::{Boundaries, Boundary, Grid};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{QuantumError, Result, finite, invalid, positive};

fn one() -> f64 {
    1.0
}

fn default_power() -> u32 {
    2
}

fn default_tolerance() -> f64 {
    1e-10
}

fn default_order() -> usize {
    4
}

fn periodic() -> Boundaries {
    Boundaries::uniform(Boundary::Periodic)
}

/// Everything that defines a quantum run except the initial state.
///
/// The schema of a scenario's `[quantum]` table (with `grid`, `time.dt` and `boundary`),
/// validated here once. Errors name each field by its scenario key
/// ([`convsim_core::ParamPath`]): the finite-difference order is `order`, the imaginary-time
/// tolerance `tolerance`, a packet's fields `packet.*`, a potential term's
/// `potential[i].*`, the initial state `initial.psi_re`; the others keep their names.
///
/// ```
/// use convsim_quantum::QuantumParams;
/// let p: QuantumParams = serde_json::from_str(r#"{
///     "grid": {"ny": 64, "nx": 64, "dy": 0.25, "dx": 0.25, "y0": -8.0, "x0": -8.0},
///     "dt": 0.01,
///     "potential": [{"kind": "harmonic", "omega": 1.0}]
/// }"#).unwrap();
/// assert_eq!(p.mass, 1.0);
/// assert_eq!(p.method, convsim_quantum::Method::Strang);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantumParams {
    /// The grid, axis order `(y, x)`, spacings and origins in `L`. `ny = 1` is a 1D problem
    /// along `x` (then `dy` and `y0` are ignored).
    pub grid: Grid,
    /// Time step in `M L^2 / hbar` (the imaginary-time step in imaginary-time evolution).
    pub dt: f64,
    /// Particle mass in `M` (default 1).
    #[serde(default = "one")]
    pub mass: f64,
    /// Gross-Pitaevskii coefficient of `g |psi|^2 psi` (energy x area in 2D, energy x length in
    /// 1D), for `psi` normalised to 1; 0 (default) is the linear Schroedinger equation.
    #[serde(default)]
    pub g: f64,
    /// Time integrator.
    #[serde(default)]
    pub method: Method,
    /// Real-time evolution, or imaginary-time relaxation to the ground state.
    #[serde(default)]
    pub evolution: Evolution,
    /// Static potential: the sum of these terms (energy unit).
    #[serde(default)]
    pub potential: Vec<PotentialTerm>,
    /// Optional time-dependent potential `profile(t) * shape(x, y)`.
    #[serde(default)]
    pub drive: Option<Drive>,
    /// Optional complex absorbing potential near chosen edges.
    #[serde(default)]
    pub absorber: Option<Absorber>,
    /// Optional line through which the probability flux is measured and accumulated.
    #[serde(default)]
    pub flux_line: Option<FluxLine>,
}

impl QuantumParams {
    /// Checks the parameters that need no sampling: grid, `dt`, `mass`, `g`, the
    /// imaginary-time tolerance and what imaginary time cannot combine with, and the drive's
    /// time profile. [`QuantumSolver::new`](crate::QuantumSolver::new) calls it first; the
    /// potentials, the absorber and the flux line are checked as they are sampled.
    ///
    /// # Errors
    /// The first problem found: [`QuantumError::InvalidValue`] naming the parameter, or
    /// [`QuantumError::Unsupported`] for imaginary time with Yoshida4, a drive or an absorber.
    pub fn validate(&self) -> Result<()> {
        check_grid(&self.grid)?;
        positive(ParamPath::Time("dt"), self.dt)?;
        positive(ParamPath::table("mass"), self.mass)?;
        finite(ParamPath::table("g"), self.g)?;
        if let Evolution::Imaginary { tolerance } = self.evolution {
            positive(ParamPath::table("tolerance"), tolerance)?;
            let why = |what: &str, why: &str| QuantumError::Unsupported {
                what: format!("imaginary-time evolution with {what}"),
                why: why.into(),
            };
            if self.method == Method::Yoshida4 {
                return Err(why(
                    "method yoshida4",
                    "its negative sub-step makes the kinetic factor exp(+k^2 |w| dt / 2m) grow \
                     without bound; use strang (or finite_difference)",
                ));
            }
            if self.drive.is_some() {
                return Err(why("a drive", "a ground state needs a static potential"));
            }
            if self.absorber.is_some() {
                return Err(why(
                    "an absorber",
                    "a ground state needs a Hermitian Hamiltonian",
                ));
            }
        }
        if let Some(d) = &self.drive {
            d.profile.validate("drive.profile")?;
        }
        Ok(())
    }
}

/// Checks the grid.
fn check_grid(g: &Grid) -> Result<()> {
    if g.nx < 2 {
        return Err(invalid(ParamPath::Grid("nx"), g.nx, "at least 2 samples"));
    }
    if g.ny == 0 {
        return Err(invalid(
            ParamPath::Grid("ny"),
            g.ny,
            "at least 1 (1 = a 1D problem)",
        ));
    }
    positive(ParamPath::Grid("dx"), g.dx)?;
    finite(ParamPath::Grid("x0"), g.x0)?;
    if g.ny > 1 {
        positive(ParamPath::Grid("dy"), g.dy)?;
        finite(ParamPath::Grid("y0"), g.y0)?;
    }
    Ok(())
}

/// Time integrator.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Method {
    /// Split-step Fourier, Strang splitting `V/2 K V/2` (second order in `dt`, periodic domain).
    #[default]
    Strang,
    /// Split-step Fourier, Yoshida's fourth-order triple-jump composition of Strang steps
    /// (`w1 = 1 / (2 - 2^(1/3))`, `w0 = 1 - 2 w1`; three kinetic FFT pairs per step).
    Yoshida4,
    /// Finite differences: the core's Laplacian stencil of accuracy `order` (2..=16, even) with
    /// any padding, integrated by classical RK4 under an enforced stability limit.
    FiniteDifference {
        /// Accuracy order of the Laplacian (2, 4, ..., 16; default 4).
        #[serde(default = "default_order")]
        order: usize,
        /// Padding per side (default periodic). `antisymmetric` puts a hard wall on the edge
        /// samples (psi = 0 there), `zero` one sample beyond them.
        #[serde(default = "periodic")]
        boundaries: Boundaries,
    },
}

impl Method {
    /// Lowercase name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Method::Strang => "strang",
            Method::Yoshida4 => "yoshida4",
            Method::FiniteDifference { .. } => "finite_difference",
        }
    }
}

/// Real-time evolution or imaginary-time relaxation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Evolution {
    /// `i psi_t = H psi`.
    #[default]
    Real,
    /// `psi_tau = -H psi` with renormalisation to 1 after each step: converges to the ground
    /// state. Relaxation is considered converged when the energy changes at a rate below
    /// `tolerance` per unit of imaginary time (`|E_n - E_(n-1)| / dt`, energy / time), a
    /// criterion independent of the step.
    Imaginary {
        /// Rate of energy change `|dE / dtau|` below which the state counts as converged
        /// (default 1e-10).
        #[serde(default = "default_tolerance")]
        tolerance: f64,
    },
}

/// One term of the potential (energy unit). Terms are summed.
///
/// In 1D (`ny = 1`) every term depends on `x` only: the `y` factors are dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PotentialTerm {
    /// `V = m/2 (omega_x^2 (x - cx)^2 + omega_y^2 (y - cy)^2)`, `omega_y = omega` unless given.
    Harmonic {
        /// Angular frequency along `x` (and `y`), `1 / time`.
        omega: f64,
        /// Angular frequency along `y` if different.
        #[serde(default)]
        omega_y: Option<f64>,
        /// Centre `x`.
        #[serde(default)]
        center_x: f64,
        /// Centre `y`.
        #[serde(default)]
        center_y: f64,
    },
    /// A rectangular barrier (or well, with `height < 0`) of `height` on
    /// `[x_min, x_max] x [y_min, y_max]` (the `y` range defaults to all `y`). With `edge = 0`
    /// each grid cell gets the exact average of the sharp rectangle over the cell (so the
    /// sampled barrier has the right area to second order in the spacing); with `edge > 0` the
    /// sides are `tanh` ramps of that width.
    Barrier {
        /// Height (energy).
        height: f64,
        /// Left side.
        x_min: f64,
        /// Right side.
        x_max: f64,
        /// Bottom side (default: unbounded).
        #[serde(default)]
        y_min: Option<f64>,
        /// Top side (default: unbounded).
        #[serde(default)]
        y_max: Option<f64>,
        /// Edge width (0 = sharp).
        #[serde(default)]
        edge: f64,
    },
    /// A wall of `height` and `thickness` across the whole domain at `x = x_center`, with two
    /// openings of `slit_width` whose centres are `slit_separation` apart, symmetric about
    /// `y = y_center` (2D only).
    DoubleSlit {
        /// Wall height (energy).
        height: f64,
        /// Wall centre `x`.
        x_center: f64,
        /// Wall thickness along `x`.
        thickness: f64,
        /// Width of each opening along `y`.
        slit_width: f64,
        /// Centre-to-centre distance of the openings.
        slit_separation: f64,
        /// Centre of the pair of openings.
        #[serde(default)]
        y_center: f64,
        /// Edge width (0 = sharp, cell-averaged).
        #[serde(default)]
        edge: f64,
    },
    /// A periodic lattice `depth (sin^2(pi (x - ox) / period_x) + sin^2(pi (y - oy) / period_y))`;
    /// an axis without a period has no modulation.
    Lattice {
        /// Depth (energy).
        depth: f64,
        /// Period along `x`.
        #[serde(default)]
        period_x: Option<f64>,
        /// Period along `y`.
        #[serde(default)]
        period_y: Option<f64>,
        /// Offset along `x`.
        #[serde(default)]
        offset_x: f64,
        /// Offset along `y`.
        #[serde(default)]
        offset_y: f64,
    },
    /// A uniform force field: `V = gradient_x x + gradient_y y` (energy / length).
    Linear {
        /// `dV/dx`.
        #[serde(default)]
        gradient_x: f64,
        /// `dV/dy`.
        #[serde(default)]
        gradient_y: f64,
    },
    /// A Gaussian bump (or well) `amplitude exp(-((x - cx)^2 + (y - cy)^2) / (2 sigma^2))`.
    Gaussian {
        /// Peak value (energy).
        amplitude: f64,
        /// Centre `x`.
        #[serde(default)]
        center_x: f64,
        /// Centre `y`.
        #[serde(default)]
        center_y: f64,
        /// Width (length).
        sigma: f64,
    },
    /// Values on the grid, shape `(ny, nx)` (the scenario layer reads them from HDF5), times
    /// `scale`.
    Array {
        /// The values (energy).
        values: Array2<f64>,
        /// Factor applied to the values (default 1).
        #[serde(default = "one")]
        scale: f64,
    },
}

impl PotentialTerm {
    /// Lowercase name of the kind.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            PotentialTerm::Harmonic { .. } => "harmonic",
            PotentialTerm::Barrier { .. } => "barrier",
            PotentialTerm::DoubleSlit { .. } => "double_slit",
            PotentialTerm::Lattice { .. } => "lattice",
            PotentialTerm::Linear { .. } => "linear",
            PotentialTerm::Gaussian { .. } => "gaussian",
            PotentialTerm::Array { .. } => "array",
        }
    }
}

/// A time-dependent potential `profile(t) * sum(shape)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drive {
    /// Spatial shape: a sum of terms, as the static potential.
    pub shape: Vec<PotentialTerm>,
    /// Dimensionless factor as a function of time.
    pub profile: TimeProfile,
}

/// A dimensionless function of time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TimeProfile {
    /// `value`.
    Constant {
        /// The value.
        value: f64,
    },
    /// `amplitude sin(omega t + phase)`.
    Sine {
        /// Amplitude.
        amplitude: f64,
        /// Angular frequency (`1 / time`).
        omega: f64,
        /// Phase (radians).
        #[serde(default)]
        phase: f64,
    },
    /// `amplitude exp(-(t - center)^2 / (2 duration^2)) cos(omega (t - center) + phase)`.
    Pulse {
        /// Peak amplitude.
        amplitude: f64,
        /// Time of the peak.
        center: f64,
        /// Standard deviation of the envelope (time).
        duration: f64,
        /// Carrier angular frequency (0 = no carrier).
        #[serde(default)]
        omega: f64,
        /// Carrier phase (radians).
        #[serde(default)]
        phase: f64,
    },
    /// Linear ramp from `from` at `t_start` to `to` at `t_end`, constant outside.
    Ramp {
        /// Start of the ramp.
        t_start: f64,
        /// End of the ramp.
        t_end: f64,
        /// Value before `t_start`.
        #[serde(default)]
        from: f64,
        /// Value after `t_end`.
        to: f64,
    },
    /// Piecewise-linear through `(times[i], values[i])`, constant beyond the ends.
    Table {
        /// Increasing times.
        times: Vec<f64>,
        /// Values at those times.
        values: Vec<f64>,
    },
}

/// A grid edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edge {
    /// Column 0.
    XMin,
    /// The last column.
    XMax,
    /// Row 0.
    YMin,
    /// The last row.
    YMax,
}

/// Complex absorbing potential `-i W(d)` near chosen edges, `W = strength ((width - d) /
/// width)^power` for a point at distance `d < width` from an absorbing edge (the maximum over
/// edges at corners), 0 elsewhere.
///
/// Expected behaviour (WKB): a wave of speed `v = k / m` that crosses the layer, meets the
/// periodic (or hard) edge and comes back keeps the fraction `exp(-4 strength width /
/// ((power + 1) v))` of its probability; the ramp itself reflects little when it rises slowly
/// on the scale of a wavelength (`k width >> 1`, `strength` small against `k^2 / 2m`). Pick
/// `strength` a few times `(power + 1) v ln(1 / R) / (4 width)` for a returned fraction `R`.
/// `docs/quantum.md` gives measured numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Absorber {
    /// Thickness of the layer (length).
    pub width: f64,
    /// Peak absorption rate `W` at the edge (energy).
    pub strength: f64,
    /// Exponent of the ramp (default 2).
    #[serde(default = "default_power")]
    pub power: u32,
    /// Absorbing edges (default: all edges of the problem's dimension).
    #[serde(default)]
    pub edges: Vec<Edge>,
}

/// A straight line across the domain: `x = position` (flux along `+x`, integrated over `y`) or
/// `y = position` (flux along `+y`, integrated over `x`). The line is moved to the nearest grid
/// column (row).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluxLine {
    /// The vertical line `x = value`.
    #[serde(default)]
    pub x: Option<f64>,
    /// The horizontal line `y = value`.
    #[serde(default)]
    pub y: Option<f64>,
}

/// A Gaussian wave packet `exp(-(x - cx)^2 / (4 sx^2) - (y - cy)^2 / (4 sy^2) + i (kx x + ky y))`,
/// i.e. a density of standard deviations `(sigma_x, sigma_y)` moving with mean momentum
/// `(k_x, k_y)` (the solver normalises it).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wavepacket {
    /// Centre `x`.
    #[serde(default)]
    pub center_x: f64,
    /// Centre `y`.
    #[serde(default)]
    pub center_y: f64,
    /// Standard deviation of the density along `x`.
    pub sigma_x: f64,
    /// Standard deviation of the density along `y` (default `sigma_x`).
    #[serde(default)]
    pub sigma_y: Option<f64>,
    /// Mean wavenumber along `x` (momentum, with `hbar = 1`).
    #[serde(default)]
    pub k_x: f64,
    /// Mean wavenumber along `y`.
    #[serde(default)]
    pub k_y: f64,
}
