//! The split-step solver on one tile of a distributed run ([`QuantumTile`]).
//!
//! Each rank holds its block of `psi` and of the potential; the kinetic step transforms over
//! all ranks with the distributed FFT of `convsim_core::tile` (slabs and all-to-all
//! transposes). The results equal the single-process [`QuantumSolver`] to rounding (the
//! butterflies and the sums are grouped differently; about `1e-15` relative per step).
//!
//! Supported: real-time Strang splitting with a static potential and `g = 0` (no drive, no
//! absorber, no flux line): [`QuantumTile::supports`] says why anything else is not.

use std::cell::RefCell;

use convsim_core::sum::ExactSum;
use convsim_core::tile::{DistFft, Tile, TileLinks};
use convsim_core::{
    Complex64, Grid, Partial, Quantity, RestoreError, Simulation, StateArray, wavenumbers,
};
use ndarray::{Array2, Array3, ArrayViewMut2, IxDyn, s};

use crate::QuantumSolver;
use crate::params::{Evolution, Method, QuantumParams};
use crate::state::cell_measure;

/// The row hook multiplying row `y` of the row slab starting at `r0` by `f`'s row.
fn times(f: &Array2<Complex64>, r0: usize) -> impl Fn(usize, &mut [Complex64]) + '_ {
    move |y, row| {
        for (z, h) in row.iter_mut().zip(f.row(y - r0)) {
            *z *= h;
        }
    }
}

/// The transform and its links, used by `step` (`&mut self`) and the diagnostics (`&self`).
struct Spectral {
    fft: DistFft,
    links: TileLinks,
}

/// The quantum solver on one tile (see the [module docs](self)).
pub struct QuantumTile {
    tile: Tile,
    grid: Grid,
    dt: f64,
    psi: Array2<Complex64>,
    v: Array2<f64>,
    /// `exp(-i V dt / 2)` and `exp(-i V dt)` on this rank's row slab of the distributed
    /// transform (the rows the split-step hooks see, not the tile).
    half: Array2<Complex64>,
    full: Array2<Complex64>,
    /// Per sample of this rank's spectrum (column-major like it): the kinetic factor
    /// `exp(-i ky^2 dt / 2m) exp(-i kx^2 dt / 2m)`, `k^2 / 2m`, `kx` and `ky`.
    kinetic: Vec<Complex64>,
    energy_k: Vec<f64>,
    kx: Vec<f64>,
    ky: Vec<f64>,
    spectral: RefCell<Spectral>,
    diagnostics: Vec<Quantity>,
    steps: u64,
    time: f64,
}

impl std::fmt::Debug for QuantumTile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantumTile")
            .field("tile", &self.tile)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

impl QuantumTile {
    /// `Err(what)` naming the first setting a distributed run does not support yet.
    ///
    /// # Errors
    /// The setting, as `key: what is allowed`.
    pub fn supports(p: &QuantumParams) -> Result<(), String> {
        let no = |key: &str| Err(format!("{key} is not supported on more than one MPI rank"));
        if p.method != Method::Strang {
            return no("method (only strang)");
        }
        if p.evolution != Evolution::Real {
            return no("imaginary-time evolution");
        }
        if p.g != 0.0 {
            return no("g (only 0)");
        }
        if p.drive.is_some() {
            return no("drive");
        }
        if p.absorber.is_some() {
            return no("absorber");
        }
        if p.flux_line.is_some() {
            return no("flux_line");
        }
        Ok(())
    }

    /// The tile `tile` of the validated whole-grid solver `whole` (its initial state and
    /// potential), stepping with `links` (their all-to-all and the blocks of every rank).
    ///
    /// # Errors
    /// As [`QuantumTile::supports`].
    pub fn new(whole: &QuantumSolver, tile: Tile, links: TileLinks) -> Result<Self, String> {
        let p = whole.params();
        Self::supports(p)?;
        let g = whole.grid();
        let (rows, cols) = tile.ranges();
        let psi = whole.psi().slice(s![rows.clone(), cols.clone()]).to_owned();
        let v = whole.potential().slice(s![rows, cols]).to_owned();
        let dt = p.dt;
        let fft = DistFft::new([g.ny, g.nx], &links.blocks, links.rank);
        let potential = whole.potential();
        let slab = potential.slice(s![fft.slab_rows(), ..]);
        let half = slab.mapv(|v| Complex64::from_polar(1.0, -0.5 * dt * v));
        let full = slab.mapv(|v| Complex64::from_polar(1.0, -dt * v));
        let dy = if g.ny == 1 { 1.0 } else { g.dy };
        let (kys, kxs) = (wavenumbers(g.ny, dy), wavenumbers(g.nx, g.dx));
        let m = p.mass;
        let tau = dt / (2.0 * m);
        let (mut kinetic, mut energy_k, mut kx, mut ky) = (vec![], vec![], vec![], vec![]);
        for c in fft.spectrum_cols() {
            for &k in &kys {
                let h = |k: f64| Complex64::from_polar(1.0, -k * k * tau);
                kinetic.push(h(k) * h(kxs[c]));
                energy_k.push((k * k + kxs[c] * kxs[c]) / (2.0 * m));
                kx.push(kxs[c]);
                ky.push(k);
            }
        }
        Ok(QuantumTile {
            grid: g,
            dt,
            psi,
            v,
            half,
            full,
            kinetic,
            energy_k,
            kx,
            ky,
            spectral: RefCell::new(Spectral { fft, links }),
            diagnostics: whole.diagnostics(),
            tile,
            steps: whole.step_count(),
            time: whole.time(),
        })
    }

    /// Global coordinates of the tile's columns and rows.
    fn coords(&self) -> (Vec<f64>, Vec<f64>) {
        let (rows, cols) = self.tile.ranges();
        let xs = self.grid.xs();
        let ys = if self.grid.ny == 1 {
            vec![0.0]
        } else {
            self.grid.ys()
        };
        (xs[cols].to_vec(), ys[rows].to_vec())
    }
}

impl Simulation for QuantumTile {
    fn kind(&self) -> &'static str {
        "quantum"
    }
    fn grid(&self) -> Grid {
        let (rows, cols) = self.tile.ranges();
        let g = self.grid;
        Grid {
            ny: rows.len(),
            nx: cols.len(),
            y0: g.y0 + rows.start as f64 * g.dy,
            x0: g.x0 + cols.start as f64 * g.dx,
            ..g
        }
    }
    fn dt(&self) -> f64 {
        self.dt
    }
    fn time_units(&self) -> &'static str {
        "M L^2 / hbar"
    }
    fn length_units(&self) -> &'static str {
        "L"
    }
    fn step_count(&self) -> u64 {
        self.steps
    }
    fn time(&self) -> f64 {
        self.time
    }
    /// `V/2 K V/2`, the kinetic step over every rank. Allocates nothing.
    fn step(&mut self) {
        self.advance(1);
    }
    /// `n` Strang steps over every rank with the half potential steps between two kinetic
    /// steps merged into one (`V/2 K V K ... V K V/2`), which is the single-process solver's
    /// loop too: the field leaves its tile layout once per call (see
    /// [`DistFft::apply_steps`]). Allocates nothing.
    fn advance(&mut self, n: u64) {
        let Ok(n) = usize::try_from(n) else {
            return;
        };
        if n == 0 {
            return;
        }
        let sp = self.spectral.get_mut();
        let r0 = sp.fft.slab_rows().start;
        let (half, full) = (&self.half, &self.full);
        sp.fft.apply_steps(
            self.psi.view_mut(),
            n,
            &self.kinetic,
            times(half, r0),
            times(full, r0),
            times(half, r0),
            sp.links.all_to_all.as_mut(),
        );
        self.steps += n as u64;
        self.time = self.steps as f64 * self.dt;
    }
    fn fields(&self) -> Vec<Quantity> {
        vec![
            Quantity::new("density", "1 / L^d", "probability density |psi|^2", false),
            Quantity::new("phase", "rad", "arg psi", true),
            Quantity::new("re", "1 / L^(d/2)", "Re psi", true),
            Quantity::new("im", "1 / L^(d/2)", "Im psi", true),
            Quantity::new(
                "potential",
                "hbar^2 / (M L^2)",
                "potential V(t) (static plus drive)",
                true,
            ),
        ]
    }
    fn is_static(&self, name: &str) -> bool {
        name == "potential"
    }
    fn write_field(&self, name: &str, mut out: ArrayViewMut2<'_, f64>) -> bool {
        let map: fn(&Complex64) -> f64 = match name {
            "density" => Complex64::norm_sqr,
            "phase" => |z| z.arg(),
            "re" => |z| z.re,
            "im" => |z| z.im,
            "potential" => {
                out.assign(&self.v);
                return true;
            }
            _ => return false,
        };
        out.zip_mut_with(&self.psi, |o, z| *o = map(z));
        true
    }
    fn diagnostics(&self) -> Vec<Quantity> {
        self.diagnostics.clone()
    }
    /// One tile alone: the whole grid (a single rank).
    fn diagnostic_values(&self, out: &mut [f64]) {
        let raw: Vec<f64> = self
            .diagnostic_partials()
            .unwrap_or_default()
            .iter()
            .map(Partial::value)
            .collect();
        self.diagnostics_from(&raw, out);
    }
    /// Exact sums of `rho`, `x rho`, `x^2 rho`, `V rho`, `y rho`, `y^2 rho` over the tile and
    /// of `|psi_k|^2 k^2 / 2m`, `|psi_k|^2 kx`, `|psi_k|^2 ky` over its part of the spectrum
    /// (Parseval: the kinetic energy and the mean momenta without an inverse transform).
    /// Transforms over every rank.
    fn diagnostic_partials(&self) -> Option<Vec<Partial>> {
        let (xs, ys) = self.coords();
        let mut sums = vec![ExactSum::default(); 9];
        for ((i, j), z) in self.psi.indexed_iter() {
            let (rho, x, y) = (z.norm_sqr(), xs[j], ys[i]);
            sums[0].add(rho);
            sums[1].add(x * rho);
            sums[2].add(x * x * rho);
            sums[3].add(self.v[[i, j]] * rho);
            sums[4].add(y * rho);
            sums[5].add(y * y * rho);
        }
        let mut sp = self.spectral.borrow_mut();
        let Spectral { fft, links } = &mut *sp;
        fft.forward(self.psi.view(), |z| z, links.all_to_all.as_mut());
        for (k, z) in fft.spectrum_mut().iter().enumerate() {
            let a = z.norm_sqr();
            sums[6].add(a * self.energy_k[k]);
            sums[7].add(a * self.kx[k]);
            sums[8].add(a * self.ky[k]);
        }
        Some(sums.into_iter().map(Partial::Sum).collect())
    }
    fn diagnostics_from(&self, r: &[f64], out: &mut [f64]) {
        let g = &self.grid;
        let da = cell_measure(g);
        let n = (g.ny * g.nx) as f64;
        let inv = if r[0] > 0.0 { 1.0 / r[0] } else { 0.0 };
        let (x_mean, y_mean) = (r[1] * inv, r[4] * inv);
        let width = |m2: f64, m: f64| (m2 * inv - m * m).max(0.0).sqrt();
        let (kinetic, potential) = (r[6] / n * da, r[3] * da);
        let mut v = vec![
            r[0] * da,
            kinetic + potential,
            kinetic,
            potential,
            0.0,
            x_mean,
            r[7] / n * inv,
            width(r[2], x_mean),
        ];
        if g.ny > 1 {
            v.extend([y_mean, r[8] / n * inv, width(r[5], y_mean)]);
        }
        out.copy_from_slice(&v);
    }
    fn is_finite(&self) -> bool {
        self.psi.iter().all(|z| z.is_finite())
    }
    fn state(&self) -> Vec<StateArray> {
        let (ny, nx) = self.psi.dim();
        let psi = Array3::from_shape_fn((ny, nx, 2), |(i, j, c)| {
            let z = self.psi[[i, j]];
            if c == 0 { z.re } else { z.im }
        });
        vec![StateArray {
            name: "psi".into(),
            data: psi.into_dyn(),
        }]
    }
    fn restore(&mut self, step: u64, time: f64, state: &[StateArray]) -> Result<(), RestoreError> {
        let (ny, nx) = self.psi.dim();
        let a = StateArray::find_shaped(state, self.kind(), "psi", &[ny, nx, 2])?;
        for ((i, j), z) in self.psi.indexed_iter_mut() {
            *z = Complex64::new(a[IxDyn(&[i, j, 0])], a[IxDyn(&[i, j, 1])]);
        }
        self.steps = step;
        self.time = time;
        Ok(())
    }
}
