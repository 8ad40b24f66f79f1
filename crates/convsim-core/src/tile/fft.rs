//! A 2D FFT of a field spread over tiles: slabs and all-to-all transposes.
//!
//! Rank `r` of `P` holds an owned block (its tile) of the global `(ny, nx)` field. A forward
//! transform redistributes the tiles into row slabs (rank `r` gets rows
//! [`split`]`(ny, P, r)`, whole), transforms the rows, transposes into column slabs (columns
//! `split(nx, P, r)`, whole) and transforms the columns: the spectrum ends up in column slabs,
//! where a transfer function is applied sample by sample; the inverse walks back. Every move
//! is one all-to-all over all ranks ([`AllToAll`], MPI in convsim-mpi). With more ranks than
//! rows (or columns) some slabs are empty: those ranks only relay (a 2D grid has no third axis
//! to cut pencils from, so that is what a pencil decomposition reduces to here). Ranks that
//! share memory ([`AllToAll::shared`]: the ranks of one node) run the split-step loop
//! [`DistFft::apply_steps`] without all-to-alls, reading each other's slabs directly.
//!
//! The results equal a single-process FFT to rounding (about `1e-15` relative): the sums are
//! the same but the butterflies group them differently than a real-to-complex plan.

use std::sync::Arc;

use ndarray::{ArrayView2, ArrayViewMut2};
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use super::split;

/// Rows (columns) whose samples [`DistFft::apply_steps`] writes to a column-major (row-major)
/// block together: 16 complex values are four whole cache lines, and 16 lines of 1024
/// samples (256 KiB) stay in L2.
const GROUP: usize = 16;

/// The collective a distributed FFT needs.
pub trait AllToAll: Send {
    /// Number of ranks.
    fn size(&self) -> usize;
    /// This rank.
    fn rank(&self) -> usize;
    /// Sends `send[block d]` to rank `d` and receives `recv[block s]` from rank `s`; blocks
    /// are consecutive, of lengths `send_counts` and `recv_counts`.
    fn all_to_all(
        &mut self,
        send: &[Complex64],
        send_counts: &[usize],
        recv: &mut [Complex64],
        recv_counts: &[usize],
    );
    /// Blocks of memory that every rank of the collective reads and writes directly (ranks of
    /// one node), one per rank in rank order, this rank's `mine` values long; `None` (the
    /// default) where the ranks share no memory. Collective on the first call, which
    /// allocates; later calls with the same `mine` return the same blocks. They must stay
    /// valid as long as any rank's collective lives (a rank that is done may not free the
    /// block a slower rank still reads). [`DistFft::apply_steps`] then transposes through them
    /// instead of all-to-alls.
    fn shared(&mut self, mine: usize) -> Option<&[SharedBlock]> {
        let _ = mine;
        None
    }
    /// A barrier over every rank after which each sees every write made to the shared blocks
    /// before it (only called where [`AllToAll::shared`] gave blocks).
    fn shared_sync(&mut self) {}
}

/// One rank's block of shared memory ([`AllToAll::shared`]): its address and length in
/// complex values. Reading or writing through it is `unsafe`: the ranks must touch disjoint
/// parts between two [`AllToAll::shared_sync`], which is the protocol of
/// [`DistFft::apply_steps`].
#[derive(Clone, Copy, Debug)]
pub struct SharedBlock {
    /// First value of the block.
    pub ptr: *mut Complex64,
    /// Values in the block.
    pub len: usize,
}

// SAFETY: a `SharedBlock` is an address; every access through it is an `unsafe` operation
// whose caller follows the synchronisation protocol above, whatever thread it runs on.
unsafe impl Send for SharedBlock {}
// SAFETY: as above.
unsafe impl Sync for SharedBlock {}

/// The trivial collective of one rank.
#[derive(Clone, Copy, Debug, Default)]
pub struct SelfAllToAll;

impl AllToAll for SelfAllToAll {
    fn size(&self) -> usize {
        1
    }
    fn rank(&self) -> usize {
        0
    }
    fn all_to_all(
        &mut self,
        send: &[Complex64],
        _send_counts: &[usize],
        recv: &mut [Complex64],
        _recv_counts: &[usize],
    ) {
        recv.copy_from_slice(send);
    }
}

/// A block `[y0, y1) x [x0, x1)` of the global grid.
type Block = [std::ops::Range<usize>; 2];

fn intersect(a: &Block, b: &Block) -> Block {
    let r = |a: &std::ops::Range<usize>, b: &std::ops::Range<usize>| {
        let s = a.start.max(b.start);
        s..a.end.min(b.end).max(s)
    };
    [r(&a[0], &b[0]), r(&a[1], &b[1])]
}

fn area(b: &Block) -> usize {
    b[0].len() * b[1].len()
}

/// `[0, c0, c0 + c1, ...]`: where consecutive blocks of lengths `counts` start.
fn prefix_sums(counts: &[usize]) -> Vec<usize> {
    std::iter::once(0)
        .chain(counts.iter().scan(0, |acc, &c| {
            *acc += c;
            Some(*acc)
        }))
        .collect()
}

/// A distributed 2D FFT plan (see the [module docs](self)). Planned once; the transforms
/// allocate nothing.
pub struct DistFft {
    global: [usize; 2],
    rank: usize,
    /// Owned blocks of every rank.
    tiles: Vec<Block>,
    /// Row slab and column slab of every rank.
    row_slabs: Vec<Block>,
    col_slabs: Vec<Block>,
    /// My row slab, row-major `(rows, nx)`.
    rows: Vec<Complex64>,
    /// My column slab, column-major `(cols, ny)`: the spectrum.
    cols: Vec<Complex64>,
    send: Vec<Complex64>,
    recv: Vec<Complex64>,
    counts: [Vec<usize>; 4],
    /// Prefix sums of `counts[2]` and `counts[3]` (`p + 1` each): where each rank's block
    /// starts in the buffers of the rows <-> columns moves of [`DistFft::apply_steps`].
    displs: [Vec<usize>; 2],
    fft: [Arc<dyn Fft<f64>>; 4],
    scratch: Vec<Complex64>,
    /// Owner of every global row (the rank whose row slab holds it).
    row_owner: Vec<usize>,
    /// The ranks' shared blocks during a shared-memory [`DistFft::apply_steps`] (capacity
    /// for every rank, reserved at plan time).
    shared: Vec<SharedBlock>,
}

impl std::fmt::Debug for DistFft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistFft")
            .field("global", &self.global)
            .field("rank", &self.rank)
            .field("ranks", &self.tiles.len())
            .finish_non_exhaustive()
    }
}

impl DistFft {
    /// Plans the transform of a `global = (ny, nx)` field whose rank `r` owns the block
    /// `starts[r] .. starts[r] + shapes[r]`; this is rank `rank`.
    ///
    /// # Panics
    /// If the blocks are not one per rank or `rank` is not one of them.
    #[must_use]
    pub fn new(global: [usize; 2], blocks: &[([usize; 2], [usize; 2])], rank: usize) -> Self {
        let p = blocks.len();
        assert!(rank < p, "DistFft: rank {rank} of {p}");
        let [ny, nx] = global;
        let tiles: Vec<Block> = blocks
            .iter()
            .map(|(s, n)| [s[0]..s[0] + n[0], s[1]..s[1] + n[1]])
            .collect();
        let row_slabs: Vec<Block> = (0..p).map(|r| [split(ny, p, r), 0..nx]).collect();
        let col_slabs: Vec<Block> = (0..p).map(|r| [0..ny, split(nx, p, r)]).collect();
        let me = rank;
        let count = |a: &[Block], b: &[Block], mine_first: bool| -> Vec<usize> {
            (0..p)
                .map(|o| {
                    if mine_first {
                        area(&intersect(&a[me], &b[o]))
                    } else {
                        area(&intersect(&a[o], &b[me]))
                    }
                })
                .collect()
        };
        // 0: tile -> rows (send), 1: tile -> rows (recv), 2: rows -> cols (send), 3: recv.
        let counts = [
            count(&tiles, &row_slabs, true),
            count(&tiles, &row_slabs, false),
            count(&row_slabs, &col_slabs, true),
            count(&row_slabs, &col_slabs, false),
        ];
        let buf = counts
            .iter()
            .map(|c| c.iter().sum::<usize>())
            .max()
            .unwrap_or(0);
        let mut planner = FftPlanner::new();
        let fft = [
            planner.plan_fft_forward(nx),
            planner.plan_fft_forward(ny),
            planner.plan_fft_inverse(nx),
            planner.plan_fft_inverse(ny),
        ];
        let scratch = fft
            .iter()
            .map(|f| f.get_inplace_scratch_len())
            .max()
            .unwrap_or(0);
        DistFft {
            global,
            rank,
            rows: vec![Complex64::default(); row_slabs[me][0].len() * nx],
            cols: vec![Complex64::default(); col_slabs[me][1].len() * ny],
            tiles,
            row_slabs,
            col_slabs,
            send: vec![Complex64::default(); buf],
            recv: vec![Complex64::default(); buf],
            displs: [prefix_sums(&counts[2]), prefix_sums(&counts[3])],
            counts,
            fft,
            scratch: vec![Complex64::default(); scratch],
            row_owner: (0..p)
                .flat_map(|r| std::iter::repeat_n(r, split(ny, p, r).len()))
                .collect(),
            shared: Vec::with_capacity(p),
        }
    }

    /// Global columns of this rank's spectrum (its column slab): [`DistFft::spectrum_mut`]
    /// holds them one after the other, each of `ny` wavenumbers in DFT order.
    #[must_use]
    pub fn spectrum_cols(&self) -> std::ops::Range<usize> {
        self.col_slabs[self.rank][1].clone()
    }

    /// The spectrum after [`DistFft::forward`]: column-major `(spectrum_cols, ny)`.
    pub fn spectrum_mut(&mut self) -> &mut [Complex64] {
        &mut self.cols
    }

    /// Forward transform of this rank's owned block `u` (shape of its block, `f(y, x)` read
    /// through `value`): the spectrum lands in [`DistFft::spectrum_mut`].
    ///
    /// # Panics
    /// If `u` does not have the shape of this rank's block.
    pub fn forward<T: Copy>(
        &mut self,
        u: ArrayView2<'_, T>,
        value: impl Fn(T) -> Complex64,
        comm: &mut dyn AllToAll,
    ) {
        self.tile_to_rows(u, value, comm);
        let me = self.rank;
        let nx = self.global[1];
        let rows = self.row_slabs[me].clone();
        let [_, _, s1, r1] = &self.counts;
        for row in self.rows.chunks_exact_mut(nx.max(1)) {
            self.fft[0].process_with_scratch(row, &mut self.scratch);
        }
        // Row slabs -> column slabs.
        let mut k = 0;
        for d in 0..self.tiles.len() {
            let b = intersect(&rows, &self.col_slabs[d]);
            for y in b[0].clone() {
                for x in b[1].clone() {
                    self.send[k] = self.rows[(y - rows[0].start) * nx + x];
                    k += 1;
                }
            }
        }
        let (ns, nr) = (s1.iter().sum(), r1.iter().sum());
        comm.all_to_all(&self.send[..ns], s1, &mut self.recv[..nr], r1);
        let ny = self.global[0];
        let cols = self.col_slabs[me].clone();
        let mut k = 0;
        for s in 0..self.tiles.len() {
            let b = intersect(&self.row_slabs[s], &cols);
            for y in b[0].clone() {
                for x in b[1].clone() {
                    self.cols[(x - cols[1].start) * ny + y] = self.recv[k];
                    k += 1;
                }
            }
        }
        for col in self.cols.chunks_exact_mut(ny.max(1)) {
            self.fft[1].process_with_scratch(col, &mut self.scratch);
        }
    }

    /// Inverse transform of the spectrum back into this rank's owned block, normalised
    /// (`inverse(forward(u)) = u`), each sample written through `store(&mut out, z)`.
    ///
    /// # Panics
    /// If `out` does not have the shape of this rank's block.
    pub fn inverse<T>(
        &mut self,
        out: ArrayViewMut2<'_, T>,
        store: impl Fn(&mut T, Complex64),
        comm: &mut dyn AllToAll,
    ) {
        let me = self.rank;
        let [ny, nx] = self.global;
        let norm = 1.0 / (ny as f64 * nx as f64);
        for col in self.cols.chunks_exact_mut(ny.max(1)) {
            self.fft[3].process_with_scratch(col, &mut self.scratch);
        }
        let [_, _, s1, r1] = &self.counts;
        // Column slabs -> row slabs (the forward's second move, reversed).
        let cols = self.col_slabs[me].clone();
        let mut k = 0;
        for d in 0..self.tiles.len() {
            let b = intersect(&self.row_slabs[d], &cols);
            for y in b[0].clone() {
                for x in b[1].clone() {
                    self.send[k] = self.cols[(x - cols[1].start) * ny + y];
                    k += 1;
                }
            }
        }
        let (ns, nr) = (r1.iter().sum(), s1.iter().sum());
        comm.all_to_all(&self.send[..ns], r1, &mut self.recv[..nr], s1);
        let rows = self.row_slabs[me].clone();
        let mut k = 0;
        for s in 0..self.tiles.len() {
            let b = intersect(&rows, &self.col_slabs[s]);
            for y in b[0].clone() {
                for x in b[1].clone() {
                    self.rows[(y - rows[0].start) * nx + x] = self.recv[k];
                    k += 1;
                }
            }
        }
        for row in self.rows.chunks_exact_mut(nx.max(1)) {
            self.fft[2].process_with_scratch(row, &mut self.scratch);
        }
        self.rows_to_tile(out, |o, z| store(o, z * norm), comm);
    }

    /// Global rows of this rank's row slab: the rows the hooks of
    /// [`DistFft::apply_steps`] see on this rank.
    #[must_use]
    pub fn slab_rows(&self) -> std::ops::Range<usize> {
        self.row_slabs[self.rank][0].clone()
    }

    /// `n` applications of `K = IDFT H DFT` to the field whose tiles the ranks give as `u`,
    /// with row hooks between them, in place (every rank calls it with the same `n`):
    ///
    /// ```text
    /// u <- post(K(mid(K(... mid(K(pre(u))) ...))))      (K n times)
    /// ```
    ///
    /// `transfer` is `H` on this rank's spectrum, laid out as [`DistFft::spectrum_mut`]
    /// (column-major over [`DistFft::spectrum_cols`]). The hooks act on whole global rows:
    /// `pre(y, row)` on row `y` (global index, all `nx` samples) before its first transform,
    /// `mid` between two applications, `post` after the last; on this rank they see the rows
    /// of [`DistFft::slab_rows`]. This is the split-step loop of [`crate::SpectralPlan::
    /// apply_steps`] over ranks, and it moves much less data than `n` pairs of
    /// [`DistFft::forward`] and [`DistFft::inverse`]: the field goes from tiles to row slabs
    /// once and back once, and each application is two all-to-alls (rows to columns and
    /// back) with the column transforms, the transfer and the inverse column transforms in one
    /// pass, and the inverse row transform, `mid` and the next forward row transform in
    /// another. The samples are moved in blocks laid out for the next pass, so every copy
    /// reads or writes contiguous runs.
    ///
    /// # Panics
    /// If `u` does not have the shape of this rank's tile, `transfer` the length of its
    /// spectrum, or `n == 0`.
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors `SpectralPlan::apply_steps` plus the rank's communicator and tile"
    )]
    pub fn apply_steps<Pre, Mid, Post>(
        &mut self,
        mut u: ArrayViewMut2<'_, Complex64>,
        n: usize,
        transfer: &[Complex64],
        pre: Pre,
        mid: Mid,
        post: Post,
        comm: &mut dyn AllToAll,
    ) where
        Pre: Fn(usize, &mut [Complex64]),
        Mid: Fn(usize, &mut [Complex64]),
        Post: Fn(usize, &mut [Complex64]),
    {
        assert!(n > 0, "DistFft::apply_steps: n must be at least 1");
        assert_eq!(transfer.len(), self.cols.len(), "DistFft: transfer length");
        let [ny, nx] = self.global;
        let norm = 1.0 / (ny as f64 * nx as f64);
        let me = self.rank;
        let rows = self.row_slabs[me][0].clone();
        let cols = self.col_slabs[me][1].clone();
        let (my_rows, my_cols) = (rows.len(), cols.len());
        if let Some(blocks) = comm.shared(my_rows * nx) {
            self.shared.clear();
            self.shared.extend_from_slice(blocks);
            self.apply_steps_shared(u, n, transfer, (pre, mid, post), comm);
            return;
        }
        self.tile_to_rows(u.view(), |z| z, comm);
        // Blocks in send/recv: rows -> cols sends my_rows x cols_d to d, column by column
        // (the receiver appends runs to its columns); cols -> rows sends rows_d x my_cols to
        // d, row by row (the receiver reads runs of its rows).
        let [_, _, s1, r1] = &self.counts;
        let [row_blocks, col_blocks] = &self.displs;
        let p = self.tiles.len();
        // my_rows x nx samples leave the row pass, my_cols x ny the column pass.
        let (n_rc, n_cr) = (row_blocks[p], col_blocks[p]);
        for k in 0..=n {
            // Row pass. Its input blocks (from the column pass) are row-major, so a row is
            // gathered by contiguous runs; its output blocks are column-major (the column pass
            // appends runs), written GROUP rows at a time: each column's GROUP samples of a
            // group are next to each other, whole cache lines.
            for r0 in (0..my_rows).step_by(GROUP) {
                let g = GROUP.min(my_rows - r0);
                let group = &mut self.rows[r0 * nx..(r0 + g) * nx];
                for (i, row) in group.chunks_exact_mut(nx.max(1)).enumerate() {
                    let r = r0 + i;
                    let y = rows.start + r;
                    if k > 0 {
                        // recv holds my_rows x cols_s blocks from every rank s, row-major.
                        let mut base = 0;
                        for slab in &self.col_slabs {
                            let c = slab[1].clone();
                            let at = base + r * c.len();
                            for (o, z) in row[c.clone()].iter_mut().zip(&self.recv[at..]) {
                                *o = z * norm;
                            }
                            base += c.len() * my_rows;
                        }
                    }
                    row_step(
                        &self.fft,
                        &mut self.scratch,
                        row,
                        (y, k, n),
                        (&pre, &mid, &post),
                    );
                }
                if k == n {
                    continue;
                }
                for (slab, &base) in self.col_slabs.iter().zip(row_blocks) {
                    for (j, x) in slab[1].clone().enumerate() {
                        let at = base + j * my_rows + r0;
                        for (i, z) in self.send[at..at + g].iter_mut().enumerate() {
                            *z = group[i * nx + x];
                        }
                    }
                }
            }
            if k == n {
                break;
            }
            comm.all_to_all(&self.send[..n_rc], s1, &mut self.recv[..n_cr], r1);
            // Column pass, GROUP columns at a time. Its input blocks (my_rows_s x my_cols
            // from every rank s, column by column) give each column by contiguous runs; its
            // output blocks are row-major (rows_d x my_cols), written GROUP columns at a time
            // while those columns are in cache.
            for c0 in (0..my_cols).step_by(GROUP) {
                let g = GROUP.min(my_cols - c0);
                for c in c0..c0 + g {
                    let col = &mut self.cols[c * ny..(c + 1) * ny];
                    let mut at = 0;
                    for slab in &self.row_slabs {
                        let rs = &slab[0];
                        let run = rs.len();
                        let base = at + c * run;
                        col[rs.clone()].copy_from_slice(&self.recv[base..base + run]);
                        at += run * my_cols;
                    }
                    self.fft[1].process_with_scratch(col, &mut self.scratch);
                    for (z, h) in col.iter_mut().zip(&transfer[c * ny..(c + 1) * ny]) {
                        *z *= h;
                    }
                    self.fft[3].process_with_scratch(col, &mut self.scratch);
                }
                let cols = &self.cols[c0 * ny..(c0 + g) * ny];
                for (slab, &block) in self.row_slabs.iter().zip(col_blocks) {
                    for (i, y) in slab[0].clone().enumerate() {
                        let at = block + i * my_cols + c0;
                        for (j, o) in self.send[at..at + g].iter_mut().enumerate() {
                            *o = cols[j * ny + y];
                        }
                    }
                }
            }
            comm.all_to_all(&self.send[..n_cr], r1, &mut self.recv[..n_rc], s1);
        }
        self.rows_to_tile(u.view_mut(), |o, z| *o = z, comm);
    }

    /// Global row `y` in the shared blocks of a shared-memory [`DistFft::apply_steps`].
    fn shared_row(&self, y: usize) -> *mut Complex64 {
        let owner = self.row_owner[y];
        let at = (y - self.row_slabs[owner][0].start) * self.global[1];
        debug_assert!(at + self.global[1] <= self.shared[owner].len);
        // `wrapping_add` keeps this safe; the offset is inside the owner's block (above).
        self.shared[owner].ptr.wrapping_add(at)
    }

    /// [`DistFft::apply_steps`] through memory the ranks share: the row slabs are the ranks'
    /// shared blocks, so the column pass reads its columns straight from every slab (`GROUP`
    /// at a time, whole cache lines) and writes them back, as threads of one process would:
    /// no send or receive buffers and no all-to-all, a [`AllToAll::shared_sync`] between two
    /// passes instead. Every sample goes through the same operations in the same order as
    /// on the all-to-all path, so the two agree bit for bit.
    ///
    /// Who touches what between two syncs: the tile copies, each rank its own tile's samples;
    /// the row pass, each rank its own rows; the column pass, each rank its own columns of
    /// every row. These are disjoint, which is what makes the accesses below sound.
    fn apply_steps_shared<Pre, Mid, Post>(
        &mut self,
        mut u: ArrayViewMut2<'_, Complex64>,
        n: usize,
        transfer: &[Complex64],
        (pre, mid, post): (Pre, Mid, Post),
        comm: &mut dyn AllToAll,
    ) where
        Pre: Fn(usize, &mut [Complex64]),
        Mid: Fn(usize, &mut [Complex64]),
        Post: Fn(usize, &mut [Complex64]),
    {
        let [ny, nx] = self.global;
        let norm = 1.0 / (ny as f64 * nx as f64);
        let me = self.rank;
        let rows = self.row_slabs[me][0].clone();
        let cols = self.col_slabs[me][1].clone();
        let t = self.tiles[me].clone();
        for (i, y) in t[0].clone().enumerate() {
            // SAFETY: the samples of this rank's tile in row `y` (inside its owner's block);
            // no other rank touches them before the next sync.
            let dst = unsafe {
                std::slice::from_raw_parts_mut(self.shared_row(y).add(t[1].start), t[1].len())
            };
            for (d, s) in dst.iter_mut().zip(u.row(i)) {
                *d = *s;
            }
        }
        comm.shared_sync();
        for k in 0..=n {
            for y in rows.clone() {
                // SAFETY: one of this rank's rows; only it touches them in the row pass.
                let row = unsafe { std::slice::from_raw_parts_mut(self.shared_row(y), nx) };
                if k > 0 {
                    for z in row.iter_mut() {
                        *z *= norm;
                    }
                }
                row_step(
                    &self.fft,
                    &mut self.scratch,
                    row,
                    (y, k, n),
                    (&pre, &mid, &post),
                );
            }
            comm.shared_sync();
            if k == n {
                break;
            }
            for c0 in (0..cols.len()).step_by(GROUP) {
                let g = GROUP.min(cols.len() - c0);
                let x0 = cols.start + c0;
                for y in 0..ny {
                    // SAFETY: this rank's columns of row `y`; only it touches them in the
                    // column pass.
                    let run = unsafe { std::slice::from_raw_parts(self.shared_row(y).add(x0), g) };
                    for (j, z) in run.iter().enumerate() {
                        self.cols[(c0 + j) * ny + y] = *z;
                    }
                }
                for c in c0..c0 + g {
                    let col = &mut self.cols[c * ny..(c + 1) * ny];
                    self.fft[1].process_with_scratch(col, &mut self.scratch);
                    for (z, h) in col.iter_mut().zip(&transfer[c * ny..(c + 1) * ny]) {
                        *z *= h;
                    }
                    self.fft[3].process_with_scratch(col, &mut self.scratch);
                }
                for y in 0..ny {
                    // SAFETY: as above.
                    let run =
                        unsafe { std::slice::from_raw_parts_mut(self.shared_row(y).add(x0), g) };
                    for (j, z) in run.iter_mut().enumerate() {
                        *z = self.cols[(c0 + j) * ny + y];
                    }
                }
            }
            comm.shared_sync();
        }
        for (i, y) in t[0].clone().enumerate() {
            // SAFETY: this rank's tile in row `y`: read only until the next call's first
            // sync, and nobody writes it before that (the next call's tile copies write
            // each rank's own tile).
            let src = unsafe {
                std::slice::from_raw_parts(self.shared_row(y).add(t[1].start), t[1].len())
            };
            for (d, s) in u.row_mut(i).iter_mut().zip(src) {
                *d = *s;
            }
        }
    }

    /// Tile -> row slabs (the first move of a forward transform): `self.rows` gets this
    /// rank's row slab of the field whose tiles the ranks give as `u`.
    fn tile_to_rows<T: Copy>(
        &mut self,
        u: ArrayView2<'_, T>,
        value: impl Fn(T) -> Complex64,
        comm: &mut dyn AllToAll,
    ) {
        let me = self.rank;
        let t = self.tiles[me].clone();
        assert_eq!(u.dim(), (t[0].len(), t[1].len()), "DistFft: tile shape");
        let mut k = 0;
        for d in 0..self.tiles.len() {
            let b = intersect(&t, &self.row_slabs[d]);
            for y in b[0].clone() {
                let row = u.row(y - t[0].start);
                for x in b[1].clone() {
                    self.send[k] = value(row[x - t[1].start]);
                    k += 1;
                }
            }
        }
        let [s0, r0, _, _] = &self.counts;
        let (ns, nr) = (s0.iter().sum(), r0.iter().sum());
        comm.all_to_all(&self.send[..ns], s0, &mut self.recv[..nr], r0);
        let nx = self.global[1];
        let rows = self.row_slabs[me].clone();
        let mut k = 0;
        for s in 0..self.tiles.len() {
            let b = intersect(&self.tiles[s], &rows);
            for y in b[0].clone() {
                let n = b[1].len();
                let at = (y - rows[0].start) * nx + b[1].start;
                self.rows[at..at + n].copy_from_slice(&self.recv[k..k + n]);
                k += n;
            }
        }
    }

    /// Row slabs -> tiles (the last move of an inverse transform): every sample of this
    /// rank's tile is written through `store(&mut out, z)` from the ranks' `self.rows`.
    fn rows_to_tile<T>(
        &mut self,
        mut out: ArrayViewMut2<'_, T>,
        store: impl Fn(&mut T, Complex64),
        comm: &mut dyn AllToAll,
    ) {
        let me = self.rank;
        let nx = self.global[1];
        let rows = self.row_slabs[me].clone();
        let mut k = 0;
        for d in 0..self.tiles.len() {
            let b = intersect(&self.tiles[d], &rows);
            for y in b[0].clone() {
                let n = b[1].len();
                let at = (y - rows[0].start) * nx + b[1].start;
                self.send[k..k + n].copy_from_slice(&self.rows[at..at + n]);
                k += n;
            }
        }
        let [s0, r0, _, _] = &self.counts;
        let (ns, nr) = (r0.iter().sum(), s0.iter().sum());
        comm.all_to_all(&self.send[..ns], r0, &mut self.recv[..nr], s0);
        let t = self.tiles[me].clone();
        assert_eq!(out.dim(), (t[0].len(), t[1].len()), "DistFft: tile shape");
        let mut k = 0;
        for s in 0..self.tiles.len() {
            let b = intersect(&t, &self.row_slabs[s]);
            for y in b[0].clone() {
                let mut row = out.row_mut(y - t[0].start);
                for x in b[1].clone() {
                    store(&mut row[x - t[1].start], self.recv[k]);
                    k += 1;
                }
            }
        }
    }
}

/// The row pass of application `k` of `n` on global row `y` (its input already gathered and
/// normalised for `k > 0`): the inverse row transform and `mid` (or `post` after the last
/// application, which ends the row), or `pre` before the first, then the forward transform.
fn row_step<Pre, Mid, Post>(
    fft: &[Arc<dyn Fft<f64>>; 4],
    scratch: &mut [Complex64],
    row: &mut [Complex64],
    (y, k, n): (usize, usize, usize),
    (pre, mid, post): (&Pre, &Mid, &Post),
) where
    Pre: Fn(usize, &mut [Complex64]),
    Mid: Fn(usize, &mut [Complex64]),
    Post: Fn(usize, &mut [Complex64]),
{
    if k > 0 {
        fft[2].process_with_scratch(row, scratch);
        if k == n {
            post(y, row);
            return;
        }
        mid(y, row);
    } else {
        pre(y, row);
    }
    fft[0].process_with_scratch(row, scratch);
}
