//! Tiles of a domain decomposition: a solver stepping one tile of the global grid.
//!
//! A tile owns the block `start .. start + shape` of the global grid and stores it with `ghost`
//! cells on every side (the *ghosted* array, shape `shape + 2 ghost`). Each side's ghost cells
//! are filled either by a [`HaloExchange`] (an inner side, or a periodic side whose neighbour
//! is another tile: the samples of the neighbouring tile) or from the tile itself by the
//! global grid's padding ([`TileSide::Physical`], the same index map as [`crate::pad`]). The
//! convolution then runs on [`Boundary::Halo`] sides only, so every output sample reads the
//! same input samples as in the whole-grid plan, in the same order: a tiled run equals the
//! single-process run bit for bit (tested in `tests/tile.rs`).
//!
//! Ghost cells are filled in two phases, x then y: phase x fills the ghost columns beside the
//! owned rows; phase y fills whole ghosted rows, so the corner cells come with them (from the
//! x ghosts of the row neighbour, or by padding them). [`TiledConv::step`] overlaps each
//! phase's messages with the work that does not need them: the tile interior while phase x
//! travels, the left and right strips while phase y travels, then the top and bottom strips.
//!
//! This module knows nothing of MPI: an exchange is a trait the caller implements (convsim-mpi
//! with nonblocking sends and receives), and a single tile needs none ([`NoExchange`]).

use std::ops::Range;

use ndarray::{Array2, ArrayView2, ArrayViewMut2, s};

use crate::{Boundaries, Boundary, ConvPlan, CoreError, Kernel2, Method, Sides, Source};

/// How the ghost cells of one side of a tile are filled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TileSide {
    /// By the halo exchange, from the neighbouring tile (inner sides, and periodic sides with
    /// more than one tile along the axis).
    Exchange,
    /// From the tile itself, by the global grid's padding mode on this side (an outer side of
    /// the grid; a periodic axis held whole by the tile).
    Physical(Boundary),
}

/// Range `p` of `0..n` split into `parts` nearly equal ranges: `p n / parts .. (p + 1) n / parts`
/// (lengths differ by at most one).
#[must_use]
pub fn split(n: usize, parts: usize, p: usize) -> Range<usize> {
    p * n / parts..(p + 1) * n / parts
}

/// One tile of a global grid (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq)]
pub struct Tile {
    /// Shape of the global grid `(ny, nx)`.
    pub global: [usize; 2],
    /// Global index of the first owned sample `(y, x)`.
    pub start: [usize; 2],
    /// Owned samples `(ny, nx)`.
    pub shape: [usize; 2],
    /// Ghost cells on every side.
    pub ghost: usize,
    /// `[axis][side]`: `axis` 0 is y, 1 is x; `side` 0 is lo (top, left), 1 is hi.
    pub sides: [[TileSide; 2]; 2],
}

impl Tile {
    /// The tile `(py, px)` of a `dims = [Py, Px]` process grid over a grid with the given
    /// padding on its outer sides. Periodic axes split over more than one tile exchange their
    /// outer sides too (the neighbour wraps around).
    #[must_use]
    pub fn of_grid(
        global: [usize; 2],
        dims: [usize; 2],
        coords: [usize; 2],
        ghost: usize,
        outer: Boundaries,
    ) -> Tile {
        let mut start = [0; 2];
        let mut shape = [0; 2];
        let mut sides = [[TileSide::Exchange; 2]; 2];
        for (a, axis) in [outer.y, outer.x].into_iter().enumerate() {
            let r = split(global[a], dims[a], coords[a]);
            start[a] = r.start;
            shape[a] = r.len();
            let periodic = axis.is_periodic();
            for (k, (edge, b)) in [
                (coords[a] == 0, axis.lo),
                (coords[a] + 1 == dims[a], axis.hi),
            ]
            .into_iter()
            .enumerate()
            {
                sides[a][k] = if (periodic && dims[a] > 1) || !edge {
                    TileSide::Exchange
                } else {
                    TileSide::Physical(b)
                };
            }
        }
        Tile {
            global,
            start,
            shape,
            ghost,
            sides,
        }
    }

    /// The whole grid as one tile.
    #[must_use]
    pub fn whole(global: [usize; 2], ghost: usize, outer: Boundaries) -> Tile {
        Tile::of_grid(global, [1, 1], [0, 0], ghost, outer)
    }

    /// Shape of the ghosted array `(ny + 2 g, nx + 2 g)`.
    #[must_use]
    pub fn ghosted_shape(&self) -> (usize, usize) {
        (
            self.shape[0] + 2 * self.ghost,
            self.shape[1] + 2 * self.ghost,
        )
    }

    /// The owned block of a ghosted array.
    #[must_use]
    pub fn owned<'a, T>(&self, a: ArrayView2<'a, T>) -> ArrayView2<'a, T> {
        let g = self.ghost;
        a.slice_move(s![g..g + self.shape[0], g..g + self.shape[1]])
    }

    /// The owned block of a ghosted array, writable.
    #[must_use]
    pub fn owned_mut<'a, T>(&self, a: ArrayViewMut2<'a, T>) -> ArrayViewMut2<'a, T> {
        let g = self.ghost;
        a.slice_move(s![g..g + self.shape[0], g..g + self.shape[1]])
    }

    /// Global ranges `(rows, cols)` of the owned block.
    #[must_use]
    pub fn ranges(&self) -> (Range<usize>, Range<usize>) {
        (
            self.start[0]..self.start[0] + self.shape[0],
            self.start[1]..self.start[1] + self.shape[1],
        )
    }

    /// A copy of the owned block of a global array.
    ///
    /// # Panics
    /// If `global` does not have the global shape.
    #[must_use]
    pub fn restrict<T: Clone>(&self, global: ArrayView2<'_, T>) -> Array2<T> {
        assert_eq!(
            global.dim(),
            (self.global[0], self.global[1]),
            "Tile::restrict: global shape (actual, expected)"
        );
        let (r, c) = self.ranges();
        global.slice(s![r, c]).to_owned()
    }

    /// The ghosted block of a global array: ghost cells hold the global samples there (wrapped
    /// around on periodic axes), or `fill` beyond a non-periodic edge.
    ///
    /// # Panics
    /// If `global` does not have the global shape.
    #[must_use]
    pub fn restrict_ghosted<T: Clone>(
        &self,
        global: ArrayView2<'_, T>,
        periodic: [bool; 2],
        fill: T,
    ) -> Array2<T> {
        assert_eq!(
            global.dim(),
            (self.global[0], self.global[1]),
            "Tile::restrict_ghosted: global shape (actual, expected)"
        );
        let g = self.ghost as isize;
        let at = |a: usize, i: usize| -> Option<usize> {
            let p = self.start[a] as isize + i as isize - g;
            let n = self.global[a] as isize;
            if (0..n).contains(&p) {
                Some(p as usize)
            } else if periodic[a] {
                Some(p.rem_euclid(n) as usize)
            } else {
                None
            }
        };
        Array2::from_shape_fn(self.ghosted_shape(), |(i, j)| match (at(0, i), at(1, j)) {
            (Some(y), Some(x)) => global[[y, x]].clone(),
            _ => fill.clone(),
        })
    }

    /// Checks that the padding of every physical side reads owned samples only and that every
    /// exchanged side gets `ghost` samples from its neighbour: each split axis needs tiles of
    /// at least `ghost + 1` samples.
    ///
    /// # Errors
    /// [`CoreError::InvalidValue`] naming the axis, the tile size and the ghost width.
    pub fn check(&self) -> Result<(), CoreError> {
        for a in 0..2 {
            let whole = self.shape[a] == self.global[a];
            if !whole && self.shape[a] < self.ghost + 1 {
                return Err(CoreError::TileTooSmall {
                    axis: ["y", "x"][a],
                    tile: self.shape[a],
                    global: self.global[a],
                    ghost: self.ghost,
                    need: self.ghost + 1,
                });
            }
        }
        Ok(())
    }

    /// Fills the ghost cells of the physical sides of `axis` (1: the ghost columns beside the
    /// owned rows; 0: whole ghosted rows) from the tile's own samples.
    ///
    /// # Panics
    /// If `a` does not have the ghosted shape, or if the tile fails [`Tile::check`].
    pub fn fill_physical(&self, axis: usize, a: &mut Array2<f64>) {
        assert_eq!(
            a.dim(),
            self.ghosted_shape(),
            "fill_physical: shape (actual, expected)"
        );
        let g = self.ghost;
        let n = self.global[axis] as isize;
        let (lo, hi) = (
            self.start[axis] as isize,
            (self.start[axis] + self.shape[axis]) as isize,
        );
        for (k, side) in self.sides[axis].into_iter().enumerate() {
            let TileSide::Physical(b) = side else {
                continue;
            };
            for d in 1..=g {
                // Global position of the ghost line and its index in the ghosted array.
                let (p, dst) = if k == 0 {
                    (lo - d as isize, g - d)
                } else {
                    (hi - 1 + d as isize, g + self.shape[axis] - 1 + d)
                };
                let local = |m: usize| m + g - self.start[axis];
                let src = crate::boundary::source_index(p, n as usize, b);
                self.copy_line(axis, a, dst, src, &local);
            }
        }
    }

    fn copy_line(
        &self,
        axis: usize,
        a: &mut Array2<f64>,
        dst: usize,
        src: Source,
        local: &dyn Fn(usize) -> usize,
    ) {
        let g = self.ghost;
        let (ny, nx) = a.dim();
        let read = |a: &Array2<f64>, idx: usize, other: usize| {
            if axis == 0 {
                a[[idx, other]]
            } else {
                a[[other, idx]]
            }
        };
        // Phase x touches the owned rows only; phase y the whole ghosted width.
        let others = if axis == 0 { 0..nx } else { g..ny - g };
        for o in others {
            let v = match src {
                Source::Index(m) => read(a, local(m), o),
                Source::Negated(m) => -read(a, local(m), o),
                Source::Constant(c) => c,
            };
            if axis == 0 {
                a[[dst, o]] = v;
            } else {
                a[[o, dst]] = v;
            }
        }
    }
}

/// Fills the ghost cells of the exchanged sides of a tile (see the [module docs](self)).
pub trait HaloExchange: Send {
    /// Exchanges the ghost cells of `axis` (1: the ghost columns beside the owned rows; 0:
    /// whole ghosted rows, after axis 1) of the ghosted array `a`: sends the owned strips its
    /// neighbours need, runs `overlap` on `a` while the messages travel, then writes the
    /// received strips into the ghost cells of the [`TileSide::Exchange`] sides. Physical
    /// sides are left alone.
    fn exchange(
        &mut self,
        axis: usize,
        a: &mut Array2<f64>,
        overlap: &mut dyn FnMut(ArrayView2<'_, f64>),
    );
}

/// The exchange of a tile without exchanged sides (the whole grid as one tile): runs the
/// overlapped work and nothing else.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExchange;

impl HaloExchange for NoExchange {
    fn exchange(
        &mut self,
        _axis: usize,
        a: &mut Array2<f64>,
        overlap: &mut dyn FnMut(ArrayView2<'_, f64>),
    ) {
        overlap(a.view());
    }
}

/// A convolution over a rectangle of a tile: output rows `rows` and columns `cols` (owned
/// coordinates; negative indices lie in the ghost cells), reading the ghosted array around it.
#[derive(Clone, Debug)]
pub struct RegionPlan {
    rows: Range<isize>,
    cols: Range<isize>,
    /// Ghosted-array ranges the plan reads.
    input: [Range<usize>; 2],
    plan: ConvPlan<f64>,
    ghost: usize,
}

impl RegionPlan {
    /// Plans `kernel` (correlation, direct) over the region; `None` if the region is empty.
    ///
    /// # Errors
    /// [`CoreError`] if the kernel reaches beyond the ghost cells.
    pub fn new(
        kernel: &Kernel2<f64>,
        ghost: usize,
        rows: Range<isize>,
        cols: Range<isize>,
    ) -> Result<Option<Self>, CoreError> {
        if rows.is_empty() || cols.is_empty() {
            return Ok(None);
        }
        let (kh, kw) = kernel.taps().dim();
        let [ay, ax] = kernel.anchor();
        let reach = [[ay, kh - 1 - ay], [ax, kw - 1 - ax]];
        let g = ghost as isize;
        let range = |r: &Range<isize>, [lo, hi]: [usize; 2]| -> Result<Range<usize>, CoreError> {
            let a = r.start + g - lo as isize;
            let b = r.end + g + hi as isize;
            if a < 0 {
                return Err(CoreError::Stencil(format!(
                    "region {r:?} with a reach of {lo} goes beyond {ghost} ghost cells"
                )));
            }
            Ok(a as usize..b as usize)
        };
        let input = [range(&rows, reach[0])?, range(&cols, reach[1])?];
        let sides = |[lo, hi]: [usize; 2]| Sides {
            lo: Boundary::Halo(lo),
            hi: Boundary::Halo(hi),
        };
        let plan = ConvPlan::builder([input[0].len(), input[1].len()], kernel.clone())
            .boundaries(Boundaries {
                y: sides(reach[0]),
                x: sides(reach[1]),
            })
            .method(Method::Direct)
            .build()?;
        Ok(Some(RegionPlan {
            rows,
            cols,
            input,
            plan,
            ghost,
        }))
    }

    /// Convolves the region of the ghosted array `u` and hands each output row to
    /// `epilogue(row, col0, conv_row, u_row, out_row)`: owned coordinates of the row and of
    /// its first column, the convolution, the samples of `u` at the same positions, and the
    /// region's row of the ghosted array `out`.
    ///
    /// # Panics
    /// If `u` is not in standard layout.
    pub fn apply_with<F>(&mut self, u: ArrayView2<'_, f64>, out: &mut Array2<f64>, epilogue: F)
    where
        F: Fn(isize, isize, &[f64], &[f64], &mut [f64]) + Sync,
    {
        let g = self.ghost as isize;
        let input = u.slice(s![self.input[0].clone(), self.input[1].clone()]);
        let (r0, c0) = (self.rows.start, self.cols.start);
        let width = self.cols.len();
        let flat = u.as_slice().expect("RegionPlan: u in standard layout");
        let stride = u.ncols();
        let out = out.slice_mut(s![
            (r0 + g) as usize..(self.rows.end + g) as usize,
            (c0 + g) as usize..(self.cols.end + g) as usize
        ]);
        self.plan.apply_with(input, out, |i, conv, o| {
            let r = (r0 + i as isize + g) as usize;
            let c = (c0 + g) as usize;
            epilogue(
                r0 + i as isize,
                c0,
                conv,
                &flat[r * stride + c..][..width],
                o,
            );
        });
    }
}

/// One stencil over the owned block of a tile, as five regions (interior, left, right, top,
/// bottom) so that the halo exchange overlaps the work: see [`TiledConv::step`].
#[derive(Clone, Debug)]
pub struct TiledConv {
    tile: Tile,
    interior: Option<RegionPlan>,
    sides_x: [Option<RegionPlan>; 2],
    sides_y: [Option<RegionPlan>; 2],
}

impl TiledConv {
    /// Plans `kernel` (correlation, reach at most `tile.ghost`) over the tile.
    ///
    /// # Errors
    /// [`CoreError`] if the kernel reaches further than the ghost cells.
    pub fn new(tile: &Tile, kernel: &Kernel2<f64>) -> Result<Self, CoreError> {
        let g = tile.ghost;
        let cut = |n: usize| {
            let a = g.min(n);
            let b = n.saturating_sub(g).max(a);
            (a as isize, b as isize, n as isize)
        };
        let (ra, rb, rn) = cut(tile.shape[0]);
        let (ca, cb, cn) = cut(tile.shape[1]);
        let plan = |rows, cols| RegionPlan::new(kernel, g, rows, cols);
        Ok(TiledConv {
            tile: tile.clone(),
            interior: plan(ra..rb, ca..cb)?,
            sides_x: [plan(ra..rb, 0..ca)?, plan(ra..rb, cb..cn)?],
            sides_y: [plan(0..ra, 0..cn)?, plan(rb..rn, 0..cn)?],
        })
    }

    /// The tile.
    #[must_use]
    pub fn tile(&self) -> &Tile {
        &self.tile
    }

    /// One pass over the owned block: fills the ghost cells of `u` (exchange and physical
    /// padding) and writes `epilogue(row, col0, conv_row, u_row, out_row)` (as
    /// [`RegionPlan::apply_with`]) for every owned row piece
    /// into `out` (both ghosted). The interior is computed while phase x travels, the left and
    /// right strips while phase y travels, the top and bottom strips last.
    ///
    /// # Panics
    /// If `u` or `out` do not have the ghosted shape.
    pub fn step<F>(
        &mut self,
        u: &mut Array2<f64>,
        out: &mut Array2<f64>,
        halo: &mut dyn HaloExchange,
        epilogue: F,
    ) where
        F: Fn(isize, isize, &[f64], &[f64], &mut [f64]) + Sync,
    {
        assert_eq!(
            u.dim(),
            self.tile.ghosted_shape(),
            "TiledConv::step: u shape"
        );
        assert_eq!(
            out.dim(),
            self.tile.ghosted_shape(),
            "TiledConv::step: out shape"
        );
        let f = &epilogue;
        let interior = &mut self.interior;
        halo.exchange(1, u, &mut |uv| {
            if let Some(p) = interior.as_mut() {
                p.apply_with(uv, out, f);
            }
        });
        self.tile.fill_physical(1, u);
        let sides_x = &mut self.sides_x;
        halo.exchange(0, u, &mut |uv| {
            for p in sides_x.iter_mut().flatten() {
                p.apply_with(uv, out, f);
            }
        });
        self.tile.fill_physical(0, u);
        for p in self.sides_y.iter_mut().flatten() {
            p.apply_with(u.view(), out, f);
        }
    }
}

/// Fills every ghost cell of `u` (both phases, nothing overlapped): for passes that need the
/// ghosts before any work (a flux form computing face values one cell into the halo).
pub fn fill_ghosts(tile: &Tile, u: &mut Array2<f64>, halo: &mut dyn HaloExchange) {
    for axis in [1, 0] {
        halo.exchange(axis, u, &mut |_| {});
        tile.fill_physical(axis, u);
    }
}

/// What a tile needs from the other ranks: its halo exchange (stencil schemes) or the
/// all-to-all of the distributed FFT (spectral scheme), and the blocks of every rank.
pub struct TileLinks {
    /// Fills the ghost cells of the tile's exchanged sides.
    pub halo: Box<dyn HaloExchange>,
    /// The all-to-all over every rank of the run.
    pub all_to_all: Box<dyn AllToAll>,
    /// Owned block `(start, shape)` of every rank, in rank order.
    pub blocks: Vec<([usize; 2], [usize; 2])>,
    /// This rank.
    pub rank: usize,
}

impl std::fmt::Debug for TileLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileLinks")
            .field("rank", &self.rank)
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

mod channel;
mod fft;
mod strips;

pub use channel::{ChannelAllToAll, channel_all_to_alls, channel_all_to_alls_shared};
pub use fft::{AllToAll, DistFft, SelfAllToAll, SharedBlock};

pub use strips::{ChannelExchange, channel_exchanges, pack, strip_len, unpack};
