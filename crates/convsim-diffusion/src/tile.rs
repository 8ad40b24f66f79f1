//! The diffusion solver on one tile of a domain decomposition ([`DiffusionTile`]).
//!
//! Every rank of a distributed run steps its own tile; the results equal the single-process
//! [`crate::DiffusionSolver`] bit for bit for the explicit schemes (the same plans read the
//! same samples: `convsim_core::tile`), and to rounding (about `1e-15` relative) for the
//! spectral scheme, which transforms over all tiles with a distributed FFT.

use convsim_core::sum::ExactSum;
use convsim_core::tile::{DistFft, RegionPlan, Tile, TileLinks, TileSide, TiledConv, fill_ghosts};
use convsim_core::{
    Boundary, Complex64, Grid, Kernel2, Partial, Quantity, RestoreError, Simulation, StateArray,
    wavenumbers,
};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::params::radius;
use crate::solver::{
    FaceDiffusivity, FixedNodes, boundaries_of, dirichlet_correction, flux_update, fused_update,
    stencil_kernel,
};
use crate::{
    BoundaryCondition, DiffusionError, DiffusionParams, DiffusionSolver, Diffusivity, Scheme,
    StencilForm,
};

type Result<T, E = DiffusionError> = std::result::Result<T, E>;

enum TileOp {
    Stencil {
        conv: Box<TiledConv>,
        /// Source plus the fixed-value correction, owned block.
        src: Option<Array2<f64>>,
        whole_step: bool,
    },
    Flux(Box<TileFlux>),
    Spectral {
        fft: Box<DistFft>,
        /// `exp(-dt q)` over this rank's spectrum, column-major like it.
        transfer: Vec<f64>,
        src: Option<Array2<f64>>,
    },
}

/// The flux form on a tile: face fluxes one cell into the halo where a neighbour (or the
/// periodic wrap) lies, zero beyond an outer edge, as the whole-grid plans pad them.
struct TileFlux {
    fwd_x: RegionPlan,
    fwd_y: RegionPlan,
    bwd_x: RegionPlan,
    bwd_y: RegionPlan,
    faces_x: Array2<f64>,
    faces_y: Array2<f64>,
    flux_x: Array2<f64>,
    flux_y: Array2<f64>,
    div_y: Array2<f64>,
    src: Option<Array2<f64>>,
}

/// The diffusion solver on one tile (see the [module docs](self)). Its fields, state and
/// [`Simulation::grid`] are the tile's; its diagnostics combine over the tiles through
/// [`Simulation::diagnostic_partials`].
pub struct DiffusionTile {
    tile: Tile,
    grid: Grid,
    dt: f64,
    /// Ghosted.
    u: Array2<f64>,
    next: Array2<f64>,
    op: TileOp,
    fixed: FixedNodes,
    links: TileLinks,
    steps: u64,
    time: f64,
}

impl std::fmt::Debug for DiffusionTile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffusionTile")
            .field("tile", &self.tile)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

/// Halo width of a scheme on tiles (the stencil radius; 1 for the flux form, 0 spectral).
#[must_use]
pub fn halo_width(p: &DiffusionParams) -> usize {
    match (&p.scheme, &p.diffusivity) {
        (Scheme::Spectral, _) => 0,
        (_, Diffusivity::Field { .. }) => 1,
        _ => radius(p),
    }
}

impl DiffusionTile {
    /// Validates the global `params` as [`DiffusionSolver::new`] does (or without the stability
    /// checks with `allow_unstable`), and builds the solver of the tile `(coords)` of a `dims`
    /// process grid, with the global initial field `u0` restricted to it.
    ///
    /// # Errors
    /// As [`DiffusionSolver::new`], plus [`DiffusionError::Core`] for a tile narrower than
    /// the halo.
    ///
    /// # Panics
    /// Never for validated parameters (the arrays it slices are in standard layout).
    pub fn new(
        params: &DiffusionParams,
        u0: ArrayView2<'_, f64>,
        dims: [usize; 2],
        coords: [usize; 2],
        links: TileLinks,
        allow_unstable: bool,
    ) -> Result<Self> {
        if allow_unstable {
            params.stability_limit()?;
        } else {
            params.check_stable()?;
        }
        let g = params.grid;
        crate::params::check_array(convsim_core::ParamPath::Initial("u"), u0, &g, false)?;
        let global = [g.ny, g.nx];
        let ghost = halo_width(params);
        let tile = Tile::of_grid(
            global,
            dims,
            coords,
            ghost,
            boundaries_of(&params.boundaries),
        );
        tile.check()?;
        let (rows, cols) = tile.ranges();
        let grid = Grid {
            ny: tile.shape[0],
            nx: tile.shape[1],
            y0: g.y0 + rows.start as f64 * g.dy,
            x0: g.x0 + cols.start as f64 * g.dx,
            ..g
        };
        let periodic = [
            params.boundaries.top == BoundaryCondition::Periodic,
            params.boundaries.left == BoundaryCondition::Periodic,
        ];
        let op = match (&params.scheme, &params.diffusivity) {
            (Scheme::Spectral, _) => {
                let q = DiffusionSolver::spectral_rate(params)?;
                let fft = DistFft::new(global, &links.blocks, links.rank);
                let ky = wavenumbers(g.ny, g.dy);
                let kx = wavenumbers(g.nx, g.dx);
                let dt = params.dt;
                let transfer = fft
                    .spectrum_cols()
                    .flat_map(|c| {
                        let kxc = kx[c];
                        ky.iter().map(move |&k| (-dt * q(k, kxc)).exp())
                    })
                    .collect();
                let src =
                    DiffusionSolver::spectral_source(params)?.map(|s| tile.restrict(s.view()));
                TileOp::Spectral {
                    fft: Box::new(fft),
                    transfer,
                    src,
                }
            }
            (_, Diffusivity::Field { d, face_average }) => {
                let faces = FaceDiffusivity::new(d.view(), *face_average, &g, &params.boundaries);
                Self::flux(&tile, &faces, periodic, params.source.as_ref())?
            }
            _ => {
                let (k, whole_step) = match (params.scheme, &params.stencil) {
                    (Scheme::Stencil, Some(st)) => (
                        Kernel2::with_anchor(st.taps.clone(), st.anchor)?,
                        st.form == StencilForm::Step,
                    ),
                    _ => (stencil_kernel(params)?, false),
                };
                let corr = dirichlet_correction(&k, &g, &params.boundaries);
                let f = if whole_step {
                    params.source.as_ref().map(|f| f * params.dt)
                } else {
                    params.source.clone()
                };
                let src = match (f, corr) {
                    (Some(f), Some(c)) => Some(f + c),
                    (f, c) => f.or(c),
                };
                TileOp::Stencil {
                    conv: Box::new(TiledConv::new(&tile, &k)?),
                    src: src.map(|s| tile.restrict(s.view())),
                    whole_step,
                }
            }
        };
        let fixed = FixedNodes::new(g.ny, &params.boundaries);
        let mut u = Array2::zeros(tile.ghosted_shape());
        tile.owned_mut(u.view_mut()).assign(&tile.restrict(u0));
        if fixed.any() {
            let j0 = cols.start;
            for (i, mut row) in tile.owned_mut(u.view_mut()).outer_iter_mut().enumerate() {
                let row = row.as_slice_mut().expect("rows of a standard-layout slice");
                fixed.apply_piece(rows.start + i, j0, g.nx, row);
            }
        }
        Ok(DiffusionTile {
            next: Array2::zeros(u.dim()),
            u,
            tile,
            grid,
            dt: params.dt,
            op,
            fixed,
            links,
            steps: 0,
            time: 0.0,
        })
    }

    fn flux(
        tile: &Tile,
        faces: &FaceDiffusivity,
        periodic: [bool; 2],
        source: Option<&Array2<f64>>,
    ) -> Result<TileOp> {
        let (ny, nx) = (tile.shape[0] as isize, tile.shape[1] as isize);
        // Fluxes on the lo face one cell into the halo unless the side is an outer,
        // non-periodic edge (where the whole-grid plans pad the fluxes with zeros).
        let first = |axis: usize| match tile.sides[axis][0] {
            TileSide::Physical(b) if b != Boundary::Periodic => 0,
            _ => -1,
        };
        let k = |taps: Array2<f64>, anchor| Kernel2::with_anchor(taps, anchor);
        let fx = k(ndarray::array![[-1.0, 1.0]], [0, 0])?;
        let fy = k(ndarray::array![[-1.0], [1.0]], [0, 0])?;
        let bx = k(ndarray::array![[-1.0, 1.0]], [0, 1])?;
        let by = k(ndarray::array![[-1.0], [1.0]], [1, 0])?;
        let g = tile.ghost;
        let region = |k: &Kernel2<f64>, rows, cols| {
            RegionPlan::new(k, g, rows, cols).map(|p| p.expect("a tile is never empty"))
        };
        let zeros = || Array2::zeros(tile.ghosted_shape());
        Ok(TileOp::Flux(Box::new(TileFlux {
            fwd_x: region(&fx, 0..ny, first(1)..nx)?,
            fwd_y: region(&fy, first(0)..ny, 0..nx)?,
            bwd_x: region(&bx, 0..ny, 0..nx)?,
            bwd_y: region(&by, 0..ny, 0..nx)?,
            faces_x: tile.restrict_ghosted(faces.fx.view(), periodic, 0.0),
            faces_y: tile.restrict_ghosted(faces.fy.view(), periodic, 0.0),
            flux_x: zeros(),
            flux_y: zeros(),
            div_y: zeros(),
            src: source.map(|f| tile.restrict(f.view())),
        })))
    }

    /// Advances one step (exchanging halos or transposing with the other ranks, which must
    /// step too). Allocates nothing.
    ///
    /// # Panics
    /// Never: the arrays it slices are built in standard layout.
    pub fn step(&mut self) {
        let dt = self.dt;
        let g = self.tile.ghost as isize;
        let (i0, j0) = (self.tile.start[0], self.tile.start[1]);
        let gnx = self.tile.global[1];
        let fixed = self.fixed;
        let has_fixed = fixed.any();
        let Self { u, next, op, .. } = self;
        match op {
            TileOp::Stencil {
                conv,
                src,
                whole_step,
            } => {
                let whole_step = *whole_step;
                let src = src.as_ref();
                conv.step(u, next, self.links.halo.as_mut(), |i, j, c, ur, out| {
                    let sr = src.map(|s| {
                        let k = i as usize * s.ncols() + j as usize;
                        &s.as_slice().expect("standard layout")[k..k + c.len()]
                    });
                    fused_update(whole_step, dt, c, ur, sr, out);
                    if has_fixed {
                        fixed.apply_piece(i0 + i as usize, j0 + j as usize, gnx, out);
                    }
                });
                std::mem::swap(u, next);
            }
            TileOp::Flux(f) => {
                fn row(a: &Array2<f64>, g: isize, i: isize, j: isize, n: usize) -> &[f64] {
                    let (r, c) = ((i + g) as usize, (j + g) as usize);
                    &a.as_slice().expect("standard layout")[r * a.ncols() + c..][..n]
                }
                let f = &mut **f;
                fill_ghosts(&self.tile, u, self.links.halo.as_mut());
                let (fxs, fys) = (&f.faces_x, &f.faces_y);
                f.fwd_x
                    .apply_with(u.view(), &mut f.flux_x, |i, j, d, _, out| {
                        for ((o, &d), &w) in out.iter_mut().zip(d).zip(row(fxs, g, i, j, d.len())) {
                            *o = w * d;
                        }
                    });
                f.fwd_y
                    .apply_with(u.view(), &mut f.flux_y, |i, j, d, _, out| {
                        for ((o, &d), &w) in out.iter_mut().zip(d).zip(row(fys, g, i, j, d.len())) {
                            *o = w * d;
                        }
                    });
                f.bwd_y
                    .apply_with(f.flux_y.view(), &mut f.div_y, |_, _, d, _, out| {
                        out.copy_from_slice(d);
                    });
                let (uu, dy, src) = (&*u, &f.div_y, f.src.as_ref());
                f.bwd_x
                    .apply_with(f.flux_x.view(), next, |i, j, dx, _, out| {
                        let n = dx.len();
                        let sr = src.map(|s| {
                            let k = i as usize * s.ncols() + j as usize;
                            &s.as_slice().expect("standard layout")[k..k + n]
                        });
                        flux_update(dt, dx, row(dy, g, i, j, n), row(uu, g, i, j, n), sr, out);
                        fixed.apply_piece(i0 + i as usize, j0 + j as usize, gnx, out);
                    });
                std::mem::swap(u, next);
            }
            TileOp::Spectral { fft, transfer, src } => {
                let comm = self.links.all_to_all.as_mut();
                fft.forward(self.tile.owned(u.view()), |v| Complex64::new(v, 0.0), comm);
                for (z, &h) in fft.spectrum_mut().iter_mut().zip(transfer.iter()) {
                    *z *= h;
                }
                fft.inverse(self.tile.owned_mut(u.view_mut()), |o, z| *o = z.re, comm);
                if let Some(s) = src {
                    let mut owned = self.tile.owned_mut(u.view_mut());
                    owned += &*s;
                }
            }
        }
        self.steps += 1;
        self.time = self.steps as f64 * dt;
    }

    /// The owned block of `u`.
    #[must_use]
    pub fn u(&self) -> ArrayView2<'_, f64> {
        self.tile.owned(self.u.view())
    }

    /// The tile.
    #[must_use]
    pub fn tile(&self) -> &Tile {
        &self.tile
    }
}

/// Shares of mass, min, max and squared L2 norm of `u` (the diagnostics before the cell
/// factor): see [`crate::simulation::diagnostics_from`]. Rows in parallel: the sums are exact, so
/// the split does not change a bit.
pub(crate) fn partials(u: ArrayView2<'_, f64>) -> Vec<Partial> {
    struct Acc {
        sum: ExactSum,
        sq: ExactSum,
        lo: f64,
        hi: f64,
    }
    let fresh = || Acc {
        sum: ExactSum::default(),
        sq: ExactSum::default(),
        lo: f64::INFINITY,
        hi: f64::NEG_INFINITY,
    };
    let acc = u
        .axis_iter(Axis(0))
        .into_par_iter()
        .with_min_len(16)
        .fold(fresh, |mut a, row| {
            if let Some(r) = row.as_slice() {
                a.sum.add_slice(r);
                a.sq.add_squares(r);
            } else {
                a.sum.extend(row.iter().copied());
                a.sq.extend(row.iter().map(|v| v * v));
            }
            for &v in row {
                a.lo = a.lo.min(v);
                a.hi = a.hi.max(v);
            }
            a
        })
        .reduce(fresh, |mut a, b| {
            a.sum.add_sum(&b.sum);
            a.sq.add_sum(&b.sq);
            a.lo = a.lo.min(b.lo);
            a.hi = a.hi.max(b.hi);
            a
        });
    vec![
        Partial::Sum(acc.sum),
        Partial::Min(acc.lo),
        Partial::Max(acc.hi),
        Partial::Sum(acc.sq),
    ]
}

impl Simulation for DiffusionTile {
    fn kind(&self) -> &'static str {
        "diffusion"
    }
    fn grid(&self) -> Grid {
        self.grid
    }
    fn dt(&self) -> f64 {
        self.dt
    }
    fn time_units(&self) -> &'static str {
        "s"
    }
    fn step_count(&self) -> u64 {
        self.steps
    }
    fn time(&self) -> f64 {
        self.time
    }
    fn step(&mut self) {
        DiffusionTile::step(self);
    }
    fn fields(&self) -> Vec<Quantity> {
        crate::simulation::field_quantities()
    }
    fn write_field(&self, name: &str, mut out: ArrayViewMut2<'_, f64>) -> bool {
        if name != "u" {
            return false;
        }
        out.assign(&self.u());
        true
    }
    fn diagnostics(&self) -> Vec<Quantity> {
        crate::simulation::diagnostic_quantities()
    }
    fn diagnostic_partials(&self) -> Option<Vec<Partial>> {
        Some(partials(self.u()))
    }
    fn diagnostics_from(&self, reduced: &[f64], out: &mut [f64]) {
        crate::simulation::diagnostics_from(&self.grid, reduced, out);
    }
    fn diagnostic_values(&self, out: &mut [f64]) {
        // This tile alone (a single-tile run).
        let raw: Vec<f64> = partials(self.u()).iter().map(Partial::value).collect();
        self.diagnostics_from(&raw, out);
    }
    fn is_finite(&self) -> bool {
        self.u().iter().all(|v| v.is_finite())
    }
    fn state(&self) -> Vec<StateArray> {
        vec![StateArray {
            name: "u".into(),
            data: self.u().to_owned().into_dyn(),
        }]
    }
    fn restore(&mut self, step: u64, time: f64, state: &[StateArray]) -> Result<(), RestoreError> {
        // This tile's owned block (a distributed run cuts the whole grid's `u`).
        let [ny, nx] = self.tile.shape;
        let a = StateArray::find_shaped(state, self.kind(), "u", &[ny, nx])?;
        let mut owned = self.tile.owned_mut(self.u.view_mut());
        for (d, s) in owned.iter_mut().zip(a.iter()) {
            *d = *s;
        }
        self.steps = step;
        self.time = time;
        Ok(())
    }
}
