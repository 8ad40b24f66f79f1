//! Distributed runs on MPI (the `mpi` feature): `mpirun -n N convsim run SCENARIO`.
//!
//! Every rank steps one tile of a 2D Cartesian process grid (`[parallel] ranks = [ry, rx]`,
//! or [`convsim_mpi::process_grid`]); halos are exchanged with nonblocking messages inside the
//! solver's step (`convsim_core::tile`). Rank 0 runs the ordinary [`crate::driver::run_with`]
//! (output folder checks, run file, checkpoints, resume, interrupts, pictures) on a
//! [`DistSim`]: a [`Simulation`] that presents the whole grid and, for every call that needs
//! the other ranks (advance, a field, the diagnostics, the finiteness check, the state),
//! broadcasts a command first. The other ranks [`follow`] those commands. The driver is thus
//! the same code for one process and for many, and the run file has the same layout.
//!
//! Output (`parallel.output`): by default every rank writes its own tile of the fields to
//! `tiles/rank<k>.h5` and the run file's fields are virtual datasets over those files
//! ([`tiles`](self::tiles)); rank 0 then never holds a whole field. With `"gather"`, the
//! fallback, every frame is gathered to rank 0, which writes plain datasets (one whole-grid
//! buffer on rank 0). Static fields (written once) are gathered either way. Diagnostics
//! combine the tiles' exact sums, so they equal a single-process run bit for bit.
//!
//! Gathers (seismic receivers): after every advance the tiles' shares of the new samples
//! ([`Simulation::gather_share`]) are summed on rank 0, exactly, and completed there by its
//! tile. Checkpoints: state arrays that are fields of the tile are gathered into whole-grid
//! arrays; any other array (a seismic tile's padded fields and CPML memory) is a rank's own
//! and is stored as one row per rank, which resumes with the same rank count.
//!
//! Multi-shot seismic surveys run shots x domains: the world is split into shot groups of
//! equal process grids ([`shot_groups`]), each stepping its shots one after another; the
//! groups' first ranks send their shots' samples to world rank 0, which writes every gather.
//! Checkpoints of such a run hold no state, and `--resume` is refused with one error line.
//!
//! Errors: every rank agrees on the lowest failing rank before acting on an error, that
//! rank's message is printed once (by rank 0), and every rank exits with code 2.

mod gathers;
mod state;
mod tiles;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use convsim_core::tile::{Tile, TileLinks, split};
use convsim_core::{Grid, Quantity, RestoreError, Simulation, StateArray};
use convsim_mpi::{CartGrid, Control, Mpi, process_grid};
use ndarray::{Array2, ArrayViewMut2, s};

use crate::config::{ParallelOutput, Scenario};
use crate::error::{Result, ScenarioError};

const BUILD: u64 = 1;
const ADVANCE: u64 = 2;
const FIELD: u64 = 3;
const DIAGNOSTICS: u64 = 4;
const FINITE: u64 = 5;
const STATE: u64 = 6;
const RESTORE: u64 = 7;
const DONE: u64 = 8;
const ABORT: u64 = 9;

/// Nanoseconds this rank has waited for the others inside `advance` (halo receives pending
/// after the tile interior, all-to-alls), as counted by [`convsim_mpi::comm_wait_seconds`].
static STEP_WAIT_NS: AtomicU64 = AtomicU64::new(0);

/// `tile.advance(n)`, adding the time it waited for other ranks to [`step_wait_seconds`].
fn advance_timed(tile: &mut dyn Simulation, n: u64) {
    let before = convsim_mpi::comm_wait_seconds();
    tile.advance(n);
    let waited = (convsim_mpi::comm_wait_seconds() - before).max(0.0);
    STEP_WAIT_NS.fetch_add((waited * 1e9) as u64, Ordering::Relaxed);
}

/// Seconds this rank has waited for the others inside its time steps so far (not in frames,
/// diagnostics or checkpoints): what `convsim run --profile` reports per rank.
#[must_use]
pub fn step_wait_seconds() -> f64 {
    STEP_WAIT_NS.load(Ordering::Relaxed) as f64 * 1e-9
}

/// The process grid of a run on `ranks` processes: `parallel.ranks` if the scenario gives
/// it, else the automatic one.
///
/// # Errors
/// [`ScenarioError::Invalid`] on `parallel.ranks` if its product is not `ranks`.
pub fn process_grid_of(s: &Scenario, ranks: usize) -> Result<[usize; 2]> {
    match s.parallel {
        Some([ry, rx]) if ry * rx == ranks => Ok([ry, rx]),
        Some([ry, rx]) => Err(ScenarioError::invalid(
            s.file.display().to_string(),
            "parallel.ranks",
            format!("[{ry}, {rx}]"),
            format!(
                "allowed: a process grid of the {ranks} MPI ranks of this run (ry * rx = \
                 {ranks}), or no [parallel] table for the automatic grid"
            ),
        )),
        None => Ok(process_grid(ranks, [s.grid.ny, s.grid.nx])),
    }
}

/// The lowest failing rank's error on every rank, or `Ok` when none failed (collective).
fn agree<T>(ctl: &Control, r: Result<T>) -> Result<T> {
    let failed = ctl.first_failed(r.is_ok());
    match failed {
        None => r,
        Some(f) => {
            let mine = r
                .as_ref()
                .err()
                .map(ToString::to_string)
                .unwrap_or_default();
            let message = ctl.broadcast_text(f, &mine);
            Err(ScenarioError::OtherRank { message })
        }
    }
}

/// The number of shot groups of a run of `shots` independent shots on `ranks` processes:
/// the largest divisor of `ranks` that is at most `shots`, so that every group has the same
/// process grid (and as many groups as shots can use).
///
/// ```
/// use convsim_scenario::distributed::shot_groups;
/// assert_eq!(shot_groups(4, 4), 4);
/// assert_eq!(shot_groups(4, 3), 2);
/// assert_eq!(shot_groups(3, 2), 1);
/// assert_eq!(shot_groups(6, 4), 3);
/// assert_eq!(shot_groups(4, 1), 1);
/// ```
#[must_use]
pub fn shot_groups(ranks: usize, shots: usize) -> usize {
    (1..=ranks.min(shots).max(1))
        .rev()
        .find(|g| ranks.is_multiple_of(*g))
        .unwrap_or(1)
}

/// The shot groups and the process grid of each: with `parallel.ranks = [ry, rx]`, as many
/// groups as that grid fits in the ranks; else [`shot_groups`] and the automatic grid.
fn layout_of(s: &Scenario, ranks: usize, shots: usize) -> Result<(usize, [usize; 2])> {
    if let Some([ry, rx]) = s.parallel {
        let per = ry * rx;
        if per > 0 && ranks.is_multiple_of(per) && ranks / per <= shots {
            return Ok((ranks / per, [ry, rx]));
        }
    }
    let groups = if s.parallel.is_some() {
        1
    } else {
        shot_groups(ranks, shots)
    };
    Ok((groups, process_grid_of(s, ranks / groups)?))
}

/// Builds this rank's tile solvers (collective over every rank).
fn build(mpi: &Mpi, s: &Scenario) -> Result<DistSim> {
    let world = Control::new(mpi);
    let shots = s.solver.shot_count();
    let (groups, dims) = agree(&world, layout_of(s, world.size(), shots))?;
    let per = world.size() / groups;
    let group = world.rank() / per;
    // Ranks `group * per ..` step the shots `group, group + groups, ..` together: group 0
    // holds world rank 0 and shot 0, whose wavefield and diagnostics the run writes.
    let ctl = world.split(group);
    let (size, rank) = (ctl.size(), ctl.rank());
    let global = [s.grid.ny, s.grid.nx];
    let periodic = |side: &crate::config::Side| side.name == "periodic";
    let cart = CartGrid::on(
        &ctl,
        dims,
        [periodic(&s.boundary.top), periodic(&s.boundary.left)],
    );
    let coords = cart.coords();
    let blocks: Vec<([usize; 2], [usize; 2])> = (0..size)
        .map(|r| {
            let (ry, rx) = (
                split(global[0], dims[0], r / dims[1]),
                split(global[1], dims[1], r % dims[1]),
            );
            ([ry.start, rx.start], [ry.len(), rx.len()])
        })
        .collect();
    let mut links = |tile: &Tile| TileLinks {
        halo: Box::new(cart.halo(tile)),
        all_to_all: Box::new(cart.all_to_all()),
        blocks: blocks.clone(),
        rank,
    };
    // Every shot of the group is built (links are collective over the group) before the
    // first error is acted on.
    let mut built = Vec::new();
    let mut first_err = None;
    for shot in (group..shots.max(1)).step_by(groups) {
        let tile = s
            .solver
            .build_tile(s, shot, dims, coords, &mut links)
            .unwrap_or_else(|| {
                Err(ScenarioError::invalid(
                    s.file.display().to_string(),
                    "run.solver",
                    format!("{:?}", s.kind.name()),
                    "allowed on more than one MPI rank: a solver that builds tiles (of the \
                     built-ins: diffusion, seismic, quantum); this one runs on one process, so \
                     run it without mpirun",
                ))
            });
        match tile {
            Ok(t) => built.push((shot, t)),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    agree(&world, first_err.map_or(Ok(()), Err))?;
    let tile = built.remove(0).1;
    let counts = blocks.iter().map(|(_, [ny, nx])| ny * nx).collect();
    let root = rank == 0;
    let shape = (blocks[rank].1[0], blocks[rank].1[1]);
    let tiles = s.parallel_output == ParallelOutput::Tiles;
    let mut d = DistSim {
        fields: tile.fields().into_iter().map(|q| q.name).collect(),
        tile,
        others: built,
        world,
        group,
        groups,
        shots,
        remote: Vec::new(),
        ctl,
        grid: s.grid,
        blocks,
        counts,
        root,
        synced: 0,
        tiles,
        tile_out: RefCell::new(None),
        bufs: RefCell::new(Buffers {
            tile: Array2::zeros(shape),
            // Frames are gathered into it only without tiles (static fields use a temporary).
            all: if root && group == 0 && !tiles {
                vec![0.0; global[0] * global[1]]
            } else {
                Vec::new()
            },
        }),
    };
    d.remote_sources();
    d.sync_gathers();
    Ok(d)
}

/// The gather of a shot another shot group steps, on world rank 0.
struct Remote {
    shot: usize,
    sources: Vec<[f64; 2]>,
    /// `(receiver, time sample)`, filled up to `DistSim::synced`.
    traces: Array2<f64>,
}

struct Buffers {
    /// One field of this rank's tile.
    tile: Array2<f64>,
    /// Every tile's samples in rank order (rank 0 only, `parallel.output = "gather"`).
    all: Vec<f64>,
}

/// One rank's tile solver in a distributed run (see the [module docs](self)); on rank 0 it
/// is the whole grid's [`Simulation`] for the driver.
pub struct DistSim {
    /// The group's first shot (shot 0 in group 0).
    tile: Box<dyn Simulation>,
    /// The group's other shots `(shot, solver)`, stepped after `tile`.
    others: Vec<(usize, Box<dyn Simulation>)>,
    /// Every rank of the run.
    world: Control,
    /// This rank's shot group and the number of groups (see [`shot_groups`]).
    group: usize,
    groups: usize,
    /// Shots of the run.
    shots: usize,
    /// The gathers of the other groups' shots (world rank 0).
    remote: Vec<Remote>,
    /// The ranks of this rank's shot group (every rank unless the run has several shots).
    ctl: Control,
    grid: Grid,
    fields: Vec<String>,
    /// Owned block `(start, shape)` of every rank.
    blocks: Vec<([usize; 2], [usize; 2])>,
    counts: Vec<usize>,
    root: bool,
    /// Gather samples rank 0's tile holds combined.
    synced: usize,
    /// Whether the ranks write their own tiles of the fields (`parallel.output`).
    tiles: bool,
    /// This rank's tile file, once the driver opened it.
    tile_out: RefCell<Option<tiles::TileOut>>,
    bufs: RefCell<Buffers>,
}

impl std::fmt::Debug for DistSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistSim")
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

fn command(c: u64, a: u64, b: u64) {
    Control::command(&mut [c, a, b]);
}

impl DistSim {
    /// Advances every tile and brings rank 0's gathers up to date (collective).
    fn advance_tiles(&mut self, n: u64) {
        advance_timed(self.tile.as_mut(), n);
        // One shot after the other: MPI is called by one thread at a time.
        for (_, t) in &mut self.others {
            advance_timed(t.as_mut(), n);
        }
        self.sync_gathers();
    }

    /// Gathers the tiles' `name` field into `out` (rank 0).
    fn field(&self, idx: usize, out: Option<ArrayViewMut2<'_, f64>>) {
        // Shot 0's wavefield, as on one process (`MultiShot`): group 0's.
        if self.group != 0 {
            return;
        }
        let mut b = self.bufs.borrow_mut();
        let Buffers { tile, all } = &mut *b;
        self.tile.write_field(&self.fields[idx], tile.view_mut());
        let mine = tile.as_slice().expect("standard layout");
        // Without a frame buffer (tiles: only static fields, once, come here), a temporary.
        let mut once = Vec::new();
        if out.is_some() && all.is_empty() {
            once = vec![0.0; self.counts.iter().sum()];
        }
        let all = if once.is_empty() { all } else { &mut once };
        self.ctl
            .gather(mine, &self.counts, out.is_some().then_some(&mut all[..]));
        if let Some(mut out) = out {
            let mut k = 0;
            for ([y0, x0], [ny, nx]) in &self.blocks {
                let src = ndarray::ArrayView2::from_shape((*ny, *nx), &all[k..k + ny * nx])
                    .expect("block size");
                out.slice_mut(s![*y0..y0 + ny, *x0..x0 + nx]).assign(&src);
                k += ny * nx;
            }
        }
    }

    fn diagnostics(&self, out: Option<&mut [f64]>) {
        // Shot 0's, as on one process (`MultiShot`): group 0's.
        if self.group != 0 {
            return;
        }
        let parts = self
            .tile
            .diagnostic_partials()
            .expect("a tile solver reports diagnostic shares");
        let reduced = self.ctl.combine(&parts);
        if let Some(out) = out {
            self.tile.diagnostics_from(&reduced, out);
        }
    }

    fn finite(&self) -> bool {
        self.world.all(self.tiles().all(|(_, t)| t.is_finite()))
    }
}

impl Simulation for DistSim {
    fn kind(&self) -> &'static str {
        self.tile.kind()
    }
    fn dt(&self) -> f64 {
        self.tile.dt()
    }
    fn grid(&self) -> Grid {
        self.grid
    }
    fn time_units(&self) -> &'static str {
        self.tile.time_units()
    }
    fn length_units(&self) -> &'static str {
        self.tile.length_units()
    }
    fn step_count(&self) -> u64 {
        self.tile.step_count()
    }
    fn time(&self) -> f64 {
        self.tile.time()
    }
    fn step(&mut self) {
        self.advance(1);
    }
    fn advance(&mut self, n: u64) {
        command(ADVANCE, n, 0);
        self.advance_tiles(n);
    }
    fn gathers(&self) -> Vec<convsim_core::sim::Gather<'_>> {
        // Rank 0's tiles hold the gathers of group 0's shots combined over every tile
        // (`sync_gathers`), `remote` those of the other groups; named `shot<k>` and in shot
        // order, as on one process.
        let mut out: Vec<(usize, convsim_core::sim::Gather<'_>)> = Vec::new();
        for (k, t) in self.tiles() {
            for mut g in t.gathers() {
                g.name = format!("shot{k}");
                out.push((k, g));
            }
        }
        if let Some((_, first)) = out.first() {
            let (coords, dt, quantity) = (first.coords, first.dt, first.quantity.clone());
            for r in &self.remote {
                let g = convsim_core::sim::Gather {
                    name: format!("shot{}", r.shot),
                    coords,
                    traces: r.traces.view(),
                    recorded: self.synced,
                    dt,
                    sources: r.sources.clone(),
                    quantity: quantity.clone(),
                };
                out.push((r.shot, g));
            }
        }
        out.sort_by_key(|(k, _)| *k);
        out.into_iter().map(|(_, g)| g).collect()
    }
    fn fields(&self) -> Vec<Quantity> {
        self.tile.fields()
    }
    fn is_static(&self, name: &str) -> bool {
        self.tile.is_static(name)
    }
    fn converged(&self) -> Option<bool> {
        self.tile.converged()
    }
    fn write_field(&self, name: &str, out: ArrayViewMut2<'_, f64>) -> bool {
        let Some(idx) = self.fields.iter().position(|f| f == name) else {
            return false;
        };
        command(FIELD, idx as u64, 0);
        self.field(idx, Some(out));
        true
    }
    fn diagnostics(&self) -> Vec<Quantity> {
        self.tile.diagnostics()
    }
    fn diagnostic_values(&self, out: &mut [f64]) {
        command(DIAGNOSTICS, 0, 0);
        DistSim::diagnostics(self, Some(out));
    }
    fn is_finite(&self) -> bool {
        command(FINITE, 0, 0);
        self.finite()
    }
    fn resumable(&self) -> bool {
        self.shots <= 1
    }
    fn state(&self) -> Vec<StateArray> {
        // A multi-shot run does not resume on several ranks (`restore`): its checkpoints
        // hold no state.
        if self.shots > 1 {
            return Vec::new();
        }
        command(STATE, 0, 0);
        self.state_all()
    }
    fn restore(
        &mut self,
        step: u64,
        time: f64,
        state: &[StateArray],
    ) -> std::result::Result<(), RestoreError> {
        if self.shots > 1 {
            // Refused on rank 0 alone, before any command: the others wait for `finish`.
            return Err(RestoreError::ShotsOnRanks {
                solver: self.kind(),
                shots: self.shots,
            });
        }
        command(RESTORE, step, time.to_bits());
        self.restore_all(step, time, Some(state))
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Rank 0's side of a distributed run: builds the [`DistSim`] when the driver asks for the
/// solver, and tells the other ranks how the run ended.
#[derive(Debug)]
pub struct Root<'a> {
    mpi: &'a Mpi,
}

impl<'a> Root<'a> {
    /// Rank 0 of `mpi`.
    #[must_use]
    pub fn new(mpi: &'a Mpi) -> Self {
        Root { mpi }
    }

    /// The solver for [`crate::driver::run_with`] (collective with the other ranks).
    ///
    /// # Errors
    /// The lowest failing rank's error (a process grid that does not fit, a tile narrower
    /// than the halo, a solver that does not run distributed).
    pub fn build(&self, s: &Scenario) -> Result<Box<dyn Simulation>> {
        command(BUILD, 0, 0);
        Ok(Box::new(build(self.mpi, s)?))
    }

    /// Releases the other ranks: they exit with success if `ok`, with code 2 otherwise.
    pub fn finish(&self, ok: bool) {
        command(if ok { DONE } else { ABORT }, 0, 0);
    }
}

/// The loop of a rank other than 0: runs rank 0's commands until it finishes the run.
/// Returns `true` if the run succeeded (`false`: rank 0 reports the error).
///
/// # Panics
/// On a command out of protocol (a bug: rank 0 sends a stepping command only after a build
/// every rank agreed on).
#[must_use]
pub fn follow(mpi: &Mpi, s: &Scenario) -> bool {
    let mut sim: Option<DistSim> = None;
    loop {
        let mut cmd = [0; 3];
        Control::command(&mut cmd);
        let [c, a, b] = cmd;
        if c == BUILD {
            // A failed build was agreed on: rank 0 reports it and ends the run.
            sim = build(mpi, s).ok();
            continue;
        }
        if c == DONE || c == ABORT {
            return c == DONE;
        }
        // Rank 0 sends the other commands only after a build that succeeded on every rank.
        let d = sim
            .as_mut()
            .expect("distributed run: a command before the build");
        match c {
            ADVANCE => d.advance_tiles(a),
            FIELD => d.field(usize::try_from(a).expect("field index"), None),
            DIAGNOSTICS => d.diagnostics(None),
            FINITE => {
                let _ = d.finite();
            }
            STATE => {
                let _ = d.state_all();
            }
            RESTORE => {
                let _ = d.restore_all(a, f64::from_bits(b), None);
            }
            // A failure was agreed on: rank 0 reports it.
            tiles::TILES => {
                let _ = d.tiles_op(a, None);
            }
            _ => unreachable!("distributed run: unknown command {c}"),
        }
    }
}
