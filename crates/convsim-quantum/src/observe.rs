//! Observables: norm, energies, moments, momentum, probability flux.

use convsim_core::ParamPath;
use convsim_core::stencil::central_weights;
use convsim_core::{
    Boundary, Complex64, ConvPlan, Grid, Kernel2, Method as ConvMethod, Sides, SpectralPlan,
};
use ndarray::{Array2, Axis};
use rayon::prelude::*;

use crate::error::{Result, finite, invalid};
use crate::params::{FluxLine, Method};
use crate::solver::{QuantumSolver, nearest_index, padded};
use crate::state::cell_measure;

/// Observables of the current state.
///
/// Energies are the functionals `<psi|T|psi>`, `<psi|V|psi>`, `(g/2) sum |psi|^4 dA` of the
/// (possibly absorbed, so not unit-norm) wavefunction: their sum is conserved by the exact
/// dynamics without absorber or drive. Moments are normalised by the norm (they describe the
/// probability still on the grid).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observables {
    /// `N = sum |psi|^2 dA`.
    pub norm: f64,
    /// `kinetic + potential + interaction`.
    pub energy: f64,
    /// `<psi| -(1/2m) Lap |psi>`: spectral (exact for the periodic grid function) on the
    /// split-step path, with the solver's own stencil on the finite-difference path.
    pub kinetic: f64,
    /// `sum V(t) |psi|^2 dA` (static potential plus drive; the absorber is not included).
    pub potential: f64,
    /// `(g/2) sum |psi|^4 dA`.
    pub interaction: f64,
    /// `<x>`.
    pub x_mean: f64,
    /// `<y>` (0 in 1D).
    pub y_mean: f64,
    /// `<p_x>` (spectral).
    pub px_mean: f64,
    /// `<p_y>` (spectral; 0 in 1D).
    pub py_mean: f64,
    /// `sqrt(<x^2> - <x>^2)`.
    pub x_width: f64,
    /// `sqrt(<y^2> - <y>^2)` (0 in 1D).
    pub y_width: f64,
    /// Probability flux through the flux line (0 without one).
    pub flux: f64,
    /// Net probability carried across the flux line since the start (in the `+` direction):
    /// `P_beyond(t) - P_beyond(0) + absorbed_beyond(t)`, exact by conservation.
    pub transmitted: f64,
    /// `1 - transmitted`: the reflected probability once the packet has left the scattering
    /// region (until then it includes what has not crossed yet).
    pub reflected: f64,
}

/// Kinetic operator used for energies (one per solver, so the size difference is irrelevant).
#[allow(
    clippy::large_enum_variant,
    reason = "one kinetic operator per solver, so the size difference is irrelevant"
)]
enum KineticOp {
    /// `sum |k|^2 / 2m |psi_k|^2`, from the power spectrum (Parseval): the split-step
    /// solver's own, exact kinetic operator.
    Spectral,
    /// The stencil of the finite-difference method.
    Stencil(ConvPlan<Complex64>),
}

/// Plans and buffers for the observables, built at the first request.
pub(crate) struct Observer {
    kinetic: KineticOp,
    /// The forward transform of the power spectrum, from which `<T>` (split-step), `<p_x>` and
    /// `<p_y>` all come at once (its transfer is not used).
    spectrum: SpectralPlan<Complex64>,
    /// Per column of the spectrum: `sum |k|^2 / 2m |psi_k|^2`, `sum kx |psi_k|^2`,
    /// `sum ky |psi_k|^2`.
    power: Vec<[f64; 4]>,
    buf: Array2<Complex64>,
    rows: Vec<[f64; 6]>,
    dots: Vec<Complex64>,
}

impl Observer {
    fn new(s: &QuantumSolver) -> Result<Self> {
        let g = s.grid;
        let m = s.params.mass;
        let spacing = [if g.ny == 1 { 1.0 } else { g.dy }, g.dx];
        let shape = [g.ny, g.nx];
        let kinetic = match s.params.method {
            Method::FiniteDifference { order, boundaries } => {
                let w = central_weights(2, order)?;
                let c = -1.0 / (2.0 * m);
                let k = if g.ny == 1 {
                    Kernel2::new(Array2::from_shape_fn((1, w.len()), |(_, j)| {
                        Complex64::new(c * w[j] / (g.dx * g.dx), 0.0)
                    }))?
                } else {
                    let lap = convsim_core::stencil::laplacian(order, g.dy, g.dx)?;
                    Kernel2::new(lap.taps().mapv(|t| Complex64::new(c * t, 0.0)))?
                };
                KineticOp::Stencil(
                    ConvPlan::builder(shape, k)
                        .boundaries(boundaries)
                        .method(ConvMethod::Direct)
                        .build()?,
                )
            }
            _ => KineticOp::Spectral,
        };
        Ok(Observer {
            kinetic,
            spectrum: SpectralPlan::new(shape, spacing, |_, _| Complex64::new(1.0, 0.0))?,
            power: vec![[0.0; 4]; g.nx],
            buf: Array2::zeros((g.ny, g.nx)),
            rows: vec![[0.0; 6]; g.ny],
            dots: vec![Complex64::new(0.0, 0.0); g.ny],
        })
    }

    /// `[sum |k|^2 / 2m |psi_k|^2, sum kx |psi_k|^2, sum ky |psi_k|^2] / (ny nx)`: by
    /// Parseval, `<psi|T|psi>`, `<psi|p_x|psi>` and `<psi|p_y|psi>` per sample (ky is 0 in
    /// 1D), from one forward transform. Columns are added in order: the result does not depend
    /// on the thread count.
    fn spectral_moments(&mut self, psi: &Array2<Complex64>, mass: f64) -> [f64; 3] {
        self.buf.assign(psi);
        let two_m = 2.0 * mass;
        self.spectrum.power_by_column(
            self.buf.view_mut(),
            |ky, kx| [(ky * ky + kx * kx) / two_m, kx, ky, 0.0],
            &mut self.power,
        );
        let mut t = [0.0; 3];
        for c in &self.power {
            for (a, v) in t.iter_mut().zip(c) {
                *a += v;
            }
        }
        let n = psi.len() as f64;
        t.map(|v| v / n)
    }
}

/// `sum conj(psi) buf` with a deterministic row-wise reduction (`dots`: one per row).
fn dot(buf: &Array2<Complex64>, dots: &mut [Complex64], psi: &Array2<Complex64>) -> Complex64 {
    buf.axis_iter(Axis(0))
        .into_par_iter()
        .zip(psi.axis_iter(Axis(0)))
        .zip(dots.par_iter_mut())
        .for_each(|((b, p), d)| {
            *d = b.iter().zip(p).map(|(b, p)| p.conj() * b).sum();
        });
    dots.iter().sum()
}

impl QuantumSolver {
    /// Computes every observable of the current state (allocates the observer's plans at the
    /// first call).
    ///
    /// # Panics
    /// If the observer's plans cannot be built (they use the same grid as the solver's own
    /// plans, which were built successfully).
    #[must_use]
    pub fn observables(&self) -> Observables {
        self.compute_observables(true)
    }

    /// Energy `<H>` only (no momenta, no flux): what imaginary-time relaxation needs per step.
    pub(crate) fn energy_only(&self) -> f64 {
        self.compute_observables(false).energy
    }

    fn compute_observables(&self, full: bool) -> Observables {
        let mut guard = self
            .observer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(Observer::new(self).expect("observer plans on a validated grid"));
        }
        let obs = guard.as_mut().expect("just built");
        let g = &self.grid;
        let da = cell_measure(g);
        let xs = g.xs();
        let ys = if g.ny == 1 { vec![0.0] } else { g.ys() };
        let f = self.drive_at(self.time);
        let gg = self.params.g;
        let (v, drive) = (&self.v, self.drive.as_ref());
        // Per row: sum rho, sum x rho, sum x^2 rho, sum V rho, sum rho^2.
        obs.rows
            .par_iter_mut()
            .zip(self.psi.axis_iter(Axis(0)))
            .enumerate()
            .for_each(|(i, (r, row))| {
                let vr = v.row(i);
                let sr = drive.map(|(s, _)| s.row(i));
                let mut acc = [0.0; 6];
                for (j, p) in row.iter().enumerate() {
                    let rho = p.norm_sqr();
                    let x = xs[j];
                    let vv = vr[j] + sr.map_or(0.0, |s| f * s[j]);
                    acc[0] += rho;
                    acc[1] += x * rho;
                    acc[2] += x * x * rho;
                    acc[3] += vv * rho;
                    acc[4] += rho * rho;
                }
                *r = acc;
            });
        let mut tot = [0.0; 5];
        let (mut y1, mut y2) = (0.0, 0.0);
        for (i, r) in obs.rows.iter().enumerate() {
            for k in 0..5 {
                tot[k] += r[k];
            }
            y1 += ys[i] * r[0];
            y2 += ys[i] * ys[i] * r[0];
        }
        let n = tot[0] * da;
        let inv = if tot[0] > 0.0 { 1.0 / tot[0] } else { 0.0 };
        let x_mean = tot[1] * inv;
        let y_mean = y1 * inv;
        let x_width = (tot[2] * inv - x_mean * x_mean).max(0.0).sqrt();
        let y_width = (y2 * inv - y_mean * y_mean).max(0.0).sqrt();
        let potential = tot[3] * da;
        let interaction = 0.5 * gg * tot[4] * da;

        let ny = self.grid.ny;
        let (kinetic, px_mean, py_mean) = match &mut obs.kinetic {
            KineticOp::Spectral => {
                let [t, px, py] = obs.spectral_moments(&self.psi, self.params.mass);
                (t * da, px * inv, py * inv)
            }
            KineticOp::Stencil(plan) => {
                plan.apply(self.psi.view(), obs.buf.view_mut());
                let kinetic = dot(&obs.buf, &mut obs.dots, &self.psi).re * da;
                let (px, py) = if full {
                    let [_, px, py] = obs.spectral_moments(&self.psi, self.params.mass);
                    (px * inv, py * inv)
                } else {
                    (0.0, 0.0)
                };
                (kinetic, px, py)
            }
        };
        let py_mean = if ny > 1 { py_mean } else { 0.0 };
        if !full {
            return Observables {
                norm: n,
                energy: kinetic + potential + interaction,
                kinetic,
                potential,
                interaction,
                ..Observables::default()
            };
        }
        let (flux, transmitted) = self.flux.as_ref().map_or((0.0, 0.0), |f| {
            (f.measure(&self.psi), f.transmitted(&self.psi))
        });
        Observables {
            norm: n,
            energy: kinetic + potential + interaction,
            kinetic,
            potential,
            interaction,
            x_mean,
            y_mean,
            px_mean,
            py_mean,
            x_width,
            y_width,
            flux,
            transmitted,
            reflected: 1.0 - transmitted,
        }
    }
}

/// Flux through a grid line and the probability carried across it.
///
/// The local flux `J = sum Im(conj(psi) d psi / dn) dl / m` uses an 8th-order central
/// derivative. The transmitted probability is not its time integral (sampling `J` once per step
/// aliases the fast-oscillating cross terms of any unresolved high-wavenumber content, e.g. the
/// near field of a sharp barrier, into a bias of several percent), but the exact balance
/// `P_beyond(t) - P_beyond(0) + absorbed_beyond(t)`, where `P_beyond` sums `|psi|^2 dA` beyond
/// the line (half weight on it) and `absorbed_beyond` integrates the absorber's loss rate
/// `2 sum W |psi|^2 dA` beyond the line over time (trapezoidal rule, once per step).
#[derive(Clone, Debug)]
pub(crate) struct Flux {
    /// `true`: the line `x = const` (a column), flux along `+x`.
    along_x: bool,
    /// Column (row) index of the line.
    index: usize,
    /// Central first-derivative weights (accuracy 8) divided by the spacing.
    weights: Vec<f64>,
    /// Padding across the line's normal axis.
    sides: Sides,
    /// `dA / h_normal / m`: the line element over the mass.
    scale: f64,
    /// Cell measure.
    da: f64,
    /// Absorber samples beyond the line: `(row, column, 2 W dA)`.
    sink: Vec<(usize, usize, f64)>,
    /// `P_beyond` at the start.
    pub(crate) p0: f64,
    /// Probability absorbed beyond the line so far.
    pub(crate) absorbed: f64,
    /// Absorption rate beyond the line after the last step.
    pub(crate) rate: f64,
}

impl Flux {
    pub(crate) fn new(
        line: &FluxLine,
        g: &Grid,
        method: &Method,
        mass: f64,
        cap: Option<&Array2<f64>>,
    ) -> Result<Self> {
        let along_x = match (line.x, line.y) {
            (Some(x), None) => {
                finite(ParamPath::table("flux_line.x"), x)?;
                true
            }
            (None, Some(y)) => {
                finite(ParamPath::table("flux_line.y"), y)?;
                if g.ny == 1 {
                    return Err(invalid(
                        ParamPath::table("flux_line.y"),
                        y,
                        "a line x = const on a 1D grid",
                    ));
                }
                false
            }
            _ => {
                return Err(invalid(
                    ParamPath::table("flux_line"),
                    format!("x = {:?}, y = {:?}", line.x, line.y),
                    "exactly one of x (the line x = value) or y (the line y = value)",
                ));
            }
        };
        let (index, h) = if along_x {
            (nearest_index(line.x.unwrap_or(0.0), g.x0, g.dx, g.nx), g.dx)
        } else {
            (nearest_index(line.y.unwrap_or(0.0), g.y0, g.dy, g.ny), g.dy)
        };
        let sides = match method {
            Method::FiniteDifference { boundaries, .. } => {
                if along_x {
                    boundaries.x
                } else {
                    boundaries.y
                }
            }
            _ => Sides::both(Boundary::Periodic),
        };
        let weights = central_weights(1, 8)?.into_iter().map(|w| w / h).collect();
        let da = cell_measure(g);
        let mut f = Flux {
            along_x,
            index,
            weights,
            sides,
            scale: da / h / mass,
            da,
            sink: Vec::new(),
            p0: 0.0,
            absorbed: 0.0,
            rate: 0.0,
        };
        if let Some(w) = cap {
            f.sink = w
                .indexed_iter()
                .filter(|(_, w)| **w > 0.0)
                .map(|((i, j), w)| (i, j, f.beyond_weight(i, j) * 2.0 * w * da))
                .filter(|(_, _, c)| *c > 0.0)
                .collect();
        }
        Ok(f)
    }

    /// 1 beyond the line, 1/2 on it, 0 before it.
    fn beyond_weight(&self, i: usize, j: usize) -> f64 {
        let k = if self.along_x { j } else { i };
        match k.cmp(&self.index) {
            std::cmp::Ordering::Greater => 1.0,
            std::cmp::Ordering::Equal => 0.5,
            std::cmp::Ordering::Less => 0.0,
        }
    }

    /// `P_beyond = sum w |psi|^2 dA` (row by row, in order: deterministic).
    pub(crate) fn p_beyond(&self, psi: &Array2<Complex64>) -> f64 {
        let mut total = 0.0;
        for (i, row) in psi.outer_iter().enumerate() {
            if self.along_x {
                let c = self.index;
                total += 0.5 * row[c].norm_sqr()
                    + row.iter().skip(c + 1).map(Complex64::norm_sqr).sum::<f64>();
            } else {
                total +=
                    self.beyond_weight(i, 0) * row.iter().map(Complex64::norm_sqr).sum::<f64>();
            }
        }
        total * self.da
    }

    /// Current absorption rate beyond the line.
    pub(crate) fn sink_rate(&self, psi: &Array2<Complex64>) -> f64 {
        self.sink
            .iter()
            .map(|&(i, j, c)| c * psi[[i, j]].norm_sqr())
            .sum()
    }

    /// Net probability carried across the line since the start.
    pub(crate) fn transmitted(&self, psi: &Array2<Complex64>) -> f64 {
        self.p_beyond(psi) - self.p0 + self.absorbed
    }

    /// `sum Im(conj(psi) d psi / dn) dl / m` along the line.
    pub(crate) fn measure(&self, psi: &Array2<Complex64>) -> f64 {
        let (ny, nx) = psi.dim();
        let r = (self.weights.len() / 2) as isize;
        let c = self.index as isize;
        let mut sum = 0.0;
        if self.along_x {
            for i in 0..ny {
                let mut d = Complex64::ZERO;
                for (k, w) in self.weights.iter().enumerate() {
                    let j = c + k as isize - r;
                    d += padded(j, nx, self.sides, |j| psi[[i, j]]) * *w;
                }
                sum += (psi[[i, self.index]].conj() * d).im;
            }
        } else {
            for j in 0..nx {
                let mut d = Complex64::ZERO;
                for (k, w) in self.weights.iter().enumerate() {
                    let i = c + k as isize - r;
                    d += padded(i, ny, self.sides, |i| psi[[i, j]]) * *w;
                }
                sum += (psi[[self.index, j]].conj() * d).im;
            }
        }
        sum * self.scale
    }
}
