//! The MPI side: environment, Cartesian grid, halo exchange, all-to-all, reductions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use convsim_core::sum::ExactSum;
use convsim_core::tile::{
    AllToAll, HaloExchange, SharedBlock, Tile, TileSide, pack, strip_len, unpack,
};
use convsim_core::{Complex64, Partial};
use mpi::collective::SystemOperation;
use mpi::datatype::{Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::{CartesianCommunicator, Rank, SimpleCommunicator};
use mpi::traits::{Communicator, CommunicatorCollectives, Destination, Source};
use ndarray::{Array2, ArrayView2};

/// The MPI environment of a run (initialised once, finalised when dropped) and its world.
pub struct Mpi {
    world: SimpleCommunicator,
    /// Last: finalises MPI after the communicators are freed.
    _universe: Universe,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpi")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .finish()
    }
}

impl Mpi {
    /// Initialises MPI with `MPI_THREAD_SERIALIZED`: rayon threads compute, and the driver's
    /// one thread makes every MPI call, one at a time (see the `Send` impls below).
    /// `None` if MPI was initialised before.
    #[must_use]
    pub fn init() -> Option<Mpi> {
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Serialized)?;
        Some(Mpi {
            world: universe.world(),
            _universe: universe,
        })
    }

    /// This process's rank in the world.
    #[must_use]
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// Number of processes.
    #[must_use]
    pub fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// The world communicator.
    #[must_use]
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// Lowest rank that is not `ok`, or `None` when every rank is: the agreement before any
    /// rank acts on an error, so that all ranks stop together instead of deadlocking.
    #[must_use]
    pub fn first_failed(&self, ok: bool) -> Option<usize> {
        first_failed(&self.world, ok)
    }

    /// `true` when `b` holds on every rank.
    #[must_use]
    pub fn all(&self, b: bool) -> bool {
        self.first_failed(b).is_none()
    }

    /// Waits for every rank.
    pub fn barrier(&self) {
        self.world.barrier();
    }

    /// Combines every rank's shares of the diagnostics (the same number of shares, of the
    /// same kinds, on every rank): exact sums merged in rank order, extrema reduced. The
    /// result is the same on every rank and does not depend on the split.
    ///
    /// # Panics
    /// If the ranks disagree on the shares.
    #[must_use]
    pub fn combine(&self, parts: &[Partial]) -> Vec<f64> {
        combine(&self.world, parts)
    }
}

/// [`Mpi::first_failed`] over `comm`.
pub(crate) fn first_failed(comm: &SimpleCommunicator, ok: bool) -> Option<usize> {
    let me = if ok { comm.size() } else { comm.rank() };
    let mut min: Rank = 0;
    comm.all_reduce_into(&me, &mut min, SystemOperation::min());
    (min < comm.size()).then_some(min as usize)
}

/// [`Mpi::combine`] over `comm`.
pub(crate) fn combine(comm: &SimpleCommunicator, parts: &[Partial]) -> Vec<f64> {
    let n = parts.len();
    // Extrema: one reduction each way (unused slots hold the neutral element).
    let mins: Vec<f64> = parts
        .iter()
        .map(|p| {
            if let Partial::Min(v) = p {
                *v
            } else {
                f64::INFINITY
            }
        })
        .collect();
    let maxs: Vec<f64> = parts
        .iter()
        .map(|p| {
            if let Partial::Max(v) = p {
                *v
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    let mut min = vec![0.0; n];
    let mut max = vec![0.0; n];
    comm.all_reduce_into(&mins[..], &mut min[..], SystemOperation::min());
    comm.all_reduce_into(&maxs[..], &mut max[..], SystemOperation::max());
    // Sums: every rank's partials, `[len, special, partials...]` per sum share.
    let mut mine = Vec::new();
    for p in parts {
        if let Partial::Sum(s) = p {
            let partials = s.partials();
            mine.push(partials.len() as f64);
            mine.push(s.special());
            mine.extend_from_slice(&partials);
        }
    }
    let size = comm.size() as usize;
    let my_len = mine.len() as Rank;
    let mut lens: Vec<Rank> = vec![0; size];
    comm.all_gather_into(&my_len, &mut lens[..]);
    let displs: Vec<Rank> = lens
        .iter()
        .scan(0, |acc, &l| {
            let d = *acc;
            *acc += l;
            Some(d)
        })
        .collect();
    let total: Rank = lens.iter().sum();
    let mut all = vec![0.0; total as usize];
    {
        let mut part = PartitionMut::new(&mut all[..], &lens[..], &displs[..]);
        comm.all_gather_varcount_into(&mine[..], &mut part);
    }
    let mut sums: Vec<ExactSum> = vec![ExactSum::default(); n];
    for r in 0..size {
        let block = &all[displs[r] as usize..(displs[r] + lens[r]) as usize];
        let mut k = 0;
        for (i, p) in parts.iter().enumerate() {
            if let Partial::Sum(_) = p {
                let len = block[k] as usize;
                sums[i].add(block[k + 1]);
                sums[i].merge(&block[k + 2..k + 2 + len]);
                k += 2 + len;
            }
        }
        assert_eq!(k, block.len(), "combine: ranks disagree on the diagnostics");
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            Partial::Sum(_) => sums[i].value(),
            Partial::Min(_) => min[i],
            Partial::Max(_) => max[i],
        })
        .collect()
}

/// A Cartesian process grid `[py, px]` over the world (rank `r` at `(r / px, r % px)`),
/// periodic along the axes the scenario makes periodic.
pub struct CartGrid {
    comm: CartesianCommunicator,
    dims: [usize; 2],
    coords: [usize; 2],
    /// `[axis][side]`: the neighbouring rank, if any.
    neighbours: [[Option<Rank>; 2]; 2],
}

impl std::fmt::Debug for CartGrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CartGrid")
            .field("dims", &self.dims)
            .field("coords", &self.coords)
            .field("neighbours", &self.neighbours)
            .finish_non_exhaustive()
    }
}

impl CartGrid {
    /// Creates the grid (collective over the world).
    ///
    /// # Panics
    /// If `dims[0] * dims[1]` is not the world size (checked before by the caller).
    #[must_use]
    pub fn new(mpi: &Mpi, dims: [usize; 2], periodic: [bool; 2]) -> CartGrid {
        CartGrid::over(&mpi.world, dims, periodic)
    }

    /// Creates the grid over the ranks of `ctl` (collective over them): a shot group's
    /// domain decomposition in a multi-shot run.
    ///
    /// # Panics
    /// If `dims[0] * dims[1]` is not `ctl`'s size (checked before by the caller).
    #[must_use]
    pub fn on(ctl: &crate::Control, dims: [usize; 2], periodic: [bool; 2]) -> CartGrid {
        CartGrid::over(ctl.communicator(), dims, periodic)
    }

    fn over(base: &SimpleCommunicator, dims: [usize; 2], periodic: [bool; 2]) -> CartGrid {
        assert_eq!(
            dims[0] * dims[1],
            base.size() as usize,
            "CartGrid: dims vs ranks"
        );
        let comm = base
            .create_cartesian_communicator(&[dims[0] as i32, dims[1] as i32], &periodic, false)
            .expect("every rank is in the grid");
        let c = comm.rank_to_coordinates(comm.rank());
        let mut neighbours = [[None; 2]; 2];
        for (axis, nb) in neighbours.iter_mut().enumerate() {
            let (lo, hi) = comm.shift(axis as i32, 1);
            *nb = [lo, hi];
        }
        CartGrid {
            comm,
            dims,
            coords: [c[0] as usize, c[1] as usize],
            neighbours,
        }
    }

    /// `[py, px]`.
    #[must_use]
    pub fn dims(&self) -> [usize; 2] {
        self.dims
    }

    /// This rank's `(y, x)` position in the grid.
    #[must_use]
    pub fn coords(&self) -> [usize; 2] {
        self.coords
    }

    /// The halo exchange of this rank's `tile` (built from this grid's dims and coords).
    #[must_use]
    pub fn halo(&self, tile: &Tile) -> MpiHalo {
        // Only the exchanged sides talk to their neighbour (a periodic axis held whole by
        // the tile pads itself).
        let neighbours: [[Option<Rank>; 2]; 2] = std::array::from_fn(|axis| {
            std::array::from_fn(|side| {
                (tile.sides[axis][side] == TileSide::Exchange)
                    .then_some(self.neighbours[axis][side])
                    .flatten()
            })
        });
        let buf = |axis| vec![0.0; strip_len(tile, axis)];
        MpiHalo {
            comm: self.comm.duplicate(),
            tile: tile.clone(),
            neighbours,
            send: [[buf(0), buf(0)], [buf(1), buf(1)]],
            recv: [[buf(0), buf(0)], [buf(1), buf(1)]],
        }
    }

    /// The all-to-all over every rank of the grid (collective). Where every rank runs on one
    /// node it also offers shared memory ([`AllToAll::shared`]), unless the environment sets
    /// `CONVSIM_SHARED_MEMORY=off`.
    #[must_use]
    pub fn all_to_all(&self) -> MpiAllToAll {
        let p = self.dims[0] * self.dims[1];
        let comm = self.comm.duplicate();
        let node = comm.split_shared(comm.rank());
        // Every rank reads the same environment (mpirun passes it on), so all agree.
        let off = std::env::var("CONVSIM_SHARED_MEMORY").is_ok_and(|v| v == "off");
        let node = (!off && node.size() == comm.size()).then(|| NodeMemory {
            comm: node,
            window: None,
            blocks: Vec::with_capacity(p),
        });
        MpiAllToAll {
            comm,
            counts: [vec![0; p], vec![0; p], vec![0; p], vec![0; p]],
            node,
        }
    }
}

/// The halo exchange of one tile over MPI: `MPI_Irecv`/`MPI_Isend` of the strips, the
/// overlapped work, `MPI_Wait`; buffers are allocated once.
pub struct MpiHalo {
    comm: SimpleCommunicator,
    tile: Tile,
    neighbours: [[Option<Rank>; 2]; 2],
    send: [[Vec<f64>; 2]; 2],
    recv: [[Vec<f64>; 2]; 2],
}

impl std::fmt::Debug for MpiHalo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiHalo")
            .field("neighbours", &self.neighbours)
            .finish_non_exhaustive()
    }
}

/// Tag of a strip sent towards `side` along `axis`.
fn tag(axis: usize, side: usize) -> i32 {
    (2 * axis + side) as i32
}

impl HaloExchange for MpiHalo {
    fn exchange(
        &mut self,
        axis: usize,
        a: &mut Array2<f64>,
        overlap: &mut dyn FnMut(ArrayView2<'_, f64>),
    ) {
        let nb = self.neighbours[axis];
        for (side, n) in nb.iter().enumerate() {
            if n.is_some() {
                pack(&self.tile, axis, side, a.view(), &mut self.send[axis][side]);
            }
        }
        let comm = &self.comm;
        let [recv_lo, recv_hi] = &mut self.recv[axis];
        let [send_lo, send_hi] = &self.send[axis];
        mpi::request::scope(|sc| {
            // What my lo neighbour sent towards its hi side lands in my lo ghosts.
            let r_lo = nb[0].map(|n| {
                comm.process_at_rank(n).immediate_receive_into_with_tag(
                    sc,
                    &mut recv_lo[..],
                    tag(axis, 1),
                )
            });
            let r_hi = nb[1].map(|n| {
                comm.process_at_rank(n).immediate_receive_into_with_tag(
                    sc,
                    &mut recv_hi[..],
                    tag(axis, 0),
                )
            });
            let s_lo = nb[0].map(|n| {
                comm.process_at_rank(n)
                    .immediate_send_with_tag(sc, &send_lo[..], tag(axis, 0))
            });
            let s_hi = nb[1].map(|n| {
                comm.process_at_rank(n)
                    .immediate_send_with_tag(sc, &send_hi[..], tag(axis, 1))
            });
            overlap(a.view());
            waited(|| {
                for r in [r_lo, r_hi, s_lo, s_hi].into_iter().flatten() {
                    r.wait();
                }
            });
        });
        for (side, n) in nb.iter().enumerate() {
            if n.is_some() {
                unpack(&self.tile, axis, side, &self.recv[axis][side], a);
            }
        }
    }
}

// SAFETY: MPI runs with `MPI_THREAD_SERIALIZED` (`Mpi::init`), which allows MPI calls from any
// thread as long as no two run at once. A halo is used through `&mut self` only, by the one
// thread that steps the solver owning it, so moving it to another thread is sound.
unsafe impl Send for MpiHalo {}

/// `MPI_Alltoallv` of complex samples (as pairs of doubles), and, where every rank runs on one
/// node, an MPI-3 shared-memory window through which [`convsim_core::tile::DistFft`]
/// transposes without all-to-alls.
pub struct MpiAllToAll {
    comm: SimpleCommunicator,
    /// Send counts, send displacements, receive counts, receive displacements (in doubles).
    counts: [Vec<Rank>; 4],
    node: Option<NodeMemory>,
}

/// The shared memory of the ranks of one node: a window of `MPI_Win_allocate_shared`, opened
/// for passive access by every rank at once (`MPI_Win_lock_all`), so that `MPI_Win_sync` and a
/// barrier make every rank's stores visible to the others.
struct NodeMemory {
    /// The ranks of the node: every rank of the all-to-all, in the same order.
    comm: SimpleCommunicator,
    /// The window and this rank's length in it, once allocated. Never freed: freeing is
    /// collective, and a rank dropping its solver must not wait for the others to drop
    /// theirs; `MPI_Finalize` releases it.
    window: Option<(mpi::ffi::MPI_Win, usize)>,
    blocks: Vec<SharedBlock>,
}

impl NodeMemory {
    /// Allocates `mine` complex values for this rank (collective over the node) and finds
    /// every rank's block.
    fn allocate(&mut self, mine: usize) {
        use mpi::raw::AsRaw;
        use std::os::raw::c_void;
        const Z: usize = std::mem::size_of::<Complex64>();
        let mut base: *mut c_void = std::ptr::null_mut();
        // SAFETY: an out-parameter, written by the call below before it is read.
        let mut win: mpi::ffi::MPI_Win = unsafe { mpi::ffi::RSMPI_WIN_NULL };
        // SAFETY: every rank of `comm` makes this call (it is reached by every rank's
        // `DistFft::apply_steps` at the same point); `base` and `win` are valid out-pointers
        // (MPI's `baseptr` argument is a `void **` typed `void *`).
        unsafe {
            mpi::ffi::MPI_Win_allocate_shared(
                (mine * Z) as mpi::ffi::MPI_Aint,
                Z as i32,
                mpi::ffi::RSMPI_INFO_NULL,
                self.comm.as_raw(),
                (&raw mut base).cast(),
                &raw mut win,
            );
            mpi::ffi::MPI_Win_lock_all(0, win);
        }
        self.blocks.clear();
        for r in 0..self.comm.size() {
            let (mut size, mut unit, mut ptr): (mpi::ffi::MPI_Aint, i32, *mut c_void) =
                (0, 0, std::ptr::null_mut());
            // SAFETY: `win` is the window just allocated over `comm`, `r` one of its ranks,
            // and the three out-pointers valid.
            unsafe {
                mpi::ffi::MPI_Win_shared_query(
                    win,
                    r,
                    &raw mut size,
                    &raw mut unit,
                    (&raw mut ptr).cast(),
                );
            }
            self.blocks.push(SharedBlock {
                ptr: ptr.cast(),
                len: usize::try_from(size).unwrap_or(0) / Z,
            });
        }
        self.window = Some((win, mine));
    }
}

impl std::fmt::Debug for MpiAllToAll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiAllToAll").finish_non_exhaustive()
    }
}

// SAFETY: as for `MpiHalo`.
unsafe impl Send for MpiAllToAll {}

fn as_doubles(z: &[Complex64]) -> &[f64] {
    // SAFETY: `Complex<f64>` is `#[repr(C)]` with two `f64` fields and no padding, so a
    // slice of n of them is a valid slice of 2n doubles with the same lifetime.
    unsafe { std::slice::from_raw_parts(z.as_ptr().cast::<f64>(), 2 * z.len()) }
}

fn as_doubles_mut(z: &mut [Complex64]) -> &mut [f64] {
    // SAFETY: as in `as_doubles`; the exclusive borrow is carried over.
    unsafe { std::slice::from_raw_parts_mut(z.as_mut_ptr().cast::<f64>(), 2 * z.len()) }
}

impl AllToAll for MpiAllToAll {
    fn size(&self) -> usize {
        self.comm.size() as usize
    }

    fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    fn all_to_all(
        &mut self,
        send: &[Complex64],
        send_counts: &[usize],
        recv: &mut [Complex64],
        recv_counts: &[usize],
    ) {
        let [sc, sd, rc, rd] = &mut self.counts;
        for (counts, displs, given) in [(&mut *sc, &mut *sd, send_counts), (rc, rd, recv_counts)] {
            let mut acc = 0;
            for ((c, d), &g) in counts.iter_mut().zip(displs.iter_mut()).zip(given) {
                *c = (2 * g) as Rank;
                *d = acc;
                acc += *c;
            }
        }
        let [sc, sd, rc, rd] = &self.counts;
        let s = Partition::new(as_doubles(send), &sc[..], &sd[..]);
        let mut r = PartitionMut::new(as_doubles_mut(recv), &rc[..], &rd[..]);
        waited(|| self.comm.all_to_all_varcount_into(&s, &mut r));
    }

    fn shared(&mut self, mine: usize) -> Option<&[SharedBlock]> {
        let node = self.node.as_mut()?;
        // Every rank asks with the same plan, so they all (re)allocate together. A window of
        // an earlier length is left to `MPI_Finalize` (see `NodeMemory::window`).
        if node.window.is_none_or(|(_, len)| len != mine) {
            node.allocate(mine);
        }
        Some(&node.blocks)
    }

    fn shared_sync(&mut self) {
        if let Some(node) = &self.node
            && let Some((win, _)) = node.window
        {
            waited(|| {
                // SAFETY: `win` is open for passive access by every rank (`MPI_Win_lock_all`),
                // which `MPI_Win_sync` requires.
                unsafe { mpi::ffi::MPI_Win_sync(win) };
                node.comm.barrier();
                // SAFETY: as above.
                unsafe { mpi::ffi::MPI_Win_sync(win) };
            });
        }
    }
}

/// Nanoseconds this process has spent waiting for other ranks inside a step: the halo
/// messages not yet arrived once the tile interior is done, and the all-to-alls.
static WAITED_NS: AtomicU64 = AtomicU64::new(0);

/// Runs `f`, counting its wall time as waiting for other ranks.
fn waited<R>(f: impl FnOnce() -> R) -> R {
    let t = Instant::now();
    let r = f();
    let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
    WAITED_NS.fetch_add(ns, Ordering::Relaxed);
    r
}

/// Seconds this process has spent waiting for other ranks inside its steps so far: halo
/// receives still pending after the tile interior was computed, and all-to-alls (whose time
/// includes copying this rank's blocks). What `convsim run --profile` reports per rank.
#[must_use]
pub fn comm_wait_seconds() -> f64 {
    WAITED_NS.load(Ordering::Relaxed) as f64 * 1e-9
}
