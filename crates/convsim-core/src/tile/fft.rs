//! A 2D FFT of a field spread over tiles: slabs and all-to-all transposes.
//!
//! Rank `r` of `P` holds an owned block (its tile) of the global `(ny, nx)` field. A forward
//! transform redistributes the tiles into row slabs (rank `r` gets rows
//! [`split`]`(ny, P, r)`, whole), transforms the rows, transposes into column slabs (columns
//! `split(nx, P, r)`, whole) and transforms the columns: the spectrum ends up in column slabs,
//! where a transfer function is applied sample by sample; the inverse walks back. Every move
//! is one all-to-all over all ranks ([`AllToAll`], MPI in convsim-mpi). With more ranks than
//! rows (or columns) some slabs are empty: those ranks only relay (a 2D grid has no third axis
//! to cut pencils from, so that is what a pencil decomposition reduces to here).
//!
//! The results equal a single-process FFT to rounding (about `1e-15` relative): the sums are
//! the same but the butterflies group them differently than a real-to-complex plan.

use std::sync::Arc;

use ndarray::{ArrayView2, ArrayViewMut2};
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use super::split;

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
}

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
    fft: [Arc<dyn Fft<f64>>; 4],
    scratch: Vec<Complex64>,
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
            counts,
            fft,
            scratch: vec![Complex64::default(); scratch],
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
        let me = self.rank;
        let t = self.tiles[me].clone();
        assert_eq!(u.dim(), (t[0].len(), t[1].len()), "DistFft::forward: shape");
        // Tile -> row slabs.
        let mut k = 0;
        for d in 0..self.tiles.len() {
            let b = intersect(&t, &self.row_slabs[d]);
            for y in b[0].clone() {
                for x in b[1].clone() {
                    self.send[k] = value(u[[y - t[0].start, x - t[1].start]]);
                    k += 1;
                }
            }
        }
        let [s0, r0, s1, r1] = &self.counts;
        let (ns, nr) = (s0.iter().sum(), r0.iter().sum());
        comm.all_to_all(&self.send[..ns], s0, &mut self.recv[..nr], r0);
        let nx = self.global[1];
        let rows = self.row_slabs[me].clone();
        let mut k = 0;
        for s in 0..self.tiles.len() {
            let b = intersect(&self.tiles[s], &rows);
            for y in b[0].clone() {
                for x in b[1].clone() {
                    self.rows[(y - rows[0].start) * nx + x] = self.recv[k];
                    k += 1;
                }
            }
        }
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
        mut out: ArrayViewMut2<'_, T>,
        store: impl Fn(&mut T, Complex64),
        comm: &mut dyn AllToAll,
    ) {
        let me = self.rank;
        let [ny, nx] = self.global;
        let norm = 1.0 / (ny as f64 * nx as f64);
        for col in self.cols.chunks_exact_mut(ny.max(1)) {
            self.fft[3].process_with_scratch(col, &mut self.scratch);
        }
        let [s0, r0, s1, r1] = &self.counts;
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
        // Row slabs -> tiles.
        let mut k = 0;
        for d in 0..self.tiles.len() {
            let b = intersect(&self.tiles[d], &rows);
            for y in b[0].clone() {
                for x in b[1].clone() {
                    self.send[k] = self.rows[(y - rows[0].start) * nx + x];
                    k += 1;
                }
            }
        }
        let (ns, nr) = (r0.iter().sum(), s0.iter().sum());
        comm.all_to_all(&self.send[..ns], r0, &mut self.recv[..nr], s0);
        let t = self.tiles[me].clone();
        assert_eq!(
            out.dim(),
            (t[0].len(), t[1].len()),
            "DistFft::inverse: shape"
        );
        let mut k = 0;
        for s in 0..self.tiles.len() {
            let b = intersect(&t, &self.row_slabs[s]);
            for y in b[0].clone() {
                for x in b[1].clone() {
                    store(
                        &mut out[[y - t[0].start, x - t[1].start]],
                        self.recv[k] * norm,
                    );
                    k += 1;
                }
            }
        }
    }
}
