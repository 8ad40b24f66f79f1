//! The strips a halo exchange sends and receives, and an exchange between threads.
//!
//! Phase x (axis 1) moves `ghost` columns of the owned rows; phase y (axis 0) moves `ghost`
//! whole ghosted rows (corners included). The strip sent to the lo neighbour is the first
//! `ghost` owned lines; it becomes that neighbour's hi ghost lines.

use std::sync::mpsc::{Receiver, Sender, channel};

use ndarray::{Array2, ArrayView2, s};

use super::{HaloExchange, Tile, TileSide};

/// Samples in one strip of `axis`.
#[must_use]
pub fn strip_len(tile: &Tile, axis: usize) -> usize {
    let (ny, nx) = tile.ghosted_shape();
    if axis == 0 {
        tile.ghost * nx
    } else {
        tile.ghost * (ny - 2 * tile.ghost)
    }
}

/// Ghosted-array ranges `(rows, cols)` of the owned lines sent to `side`'s neighbour
/// (`recv = false`) or of the ghost lines filled from it (`recv = true`).
fn strip(
    tile: &Tile,
    axis: usize,
    side: usize,
    recv: bool,
) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let g = tile.ghost;
    let (ny, nx) = tile.ghosted_shape();
    let n = tile.shape[axis];
    let lines = match (side, recv) {
        (0, false) => g..2 * g,
        (0, true) => 0..g,
        (_, false) => n..n + g,
        (_, true) => n + g..n + 2 * g,
    };
    if axis == 0 {
        (lines, 0..nx)
    } else {
        (g..ny - g, lines)
    }
}

/// Copies the strip of `a` sent to `side`'s neighbour along `axis` into `buf` (row-major).
///
/// # Panics
/// If `buf` is not [`strip_len`] long.
pub fn pack(tile: &Tile, axis: usize, side: usize, a: ArrayView2<'_, f64>, buf: &mut [f64]) {
    let (r, c) = strip(tile, axis, side, false);
    assert_eq!(buf.len(), strip_len(tile, axis), "pack: buffer length");
    for (b, v) in buf.iter_mut().zip(a.slice(s![r, c]).iter()) {
        *b = *v;
    }
}

/// Writes a strip received from `side`'s neighbour along `axis` into the ghost cells of `a`.
///
/// # Panics
/// If `buf` is not [`strip_len`] long.
pub fn unpack(tile: &Tile, axis: usize, side: usize, buf: &[f64], a: &mut Array2<f64>) {
    let (r, c) = strip(tile, axis, side, true);
    assert_eq!(buf.len(), strip_len(tile, axis), "unpack: buffer length");
    for (v, b) in a.slice_mut(s![r, c]).iter_mut().zip(buf) {
        *v = *b;
    }
}

/// `[axis][side]`: one end of the channel to or from the neighbour on that side.
type Ends<T> = [[Option<T>; 2]; 2];

/// A halo exchange between tiles stepped by threads of one process, over channels: for tests
/// of tiled solvers without MPI (it allocates a message per strip; MPI runs use convsim-mpi).
#[derive(Debug)]
pub struct ChannelExchange {
    tile: Tile,
    /// `[axis][side]`: to and from the neighbour on that side.
    to: Ends<Sender<Vec<f64>>>,
    from: Ends<Receiver<Vec<f64>>>,
}

/// The exchanges of the tiles of a `dims` process grid (row-major: tile `py * dims[1] + px`),
/// built with [`Tile::of_grid`]; an exchanged side wraps around to the other edge.
#[must_use]
pub fn channel_exchanges(tiles: &[Tile], dims: [usize; 2]) -> Vec<ChannelExchange> {
    let n = tiles.len();
    let mut to: Vec<Ends<Sender<Vec<f64>>>> = (0..n).map(|_| Default::default()).collect();
    let mut from: Vec<Ends<Receiver<Vec<f64>>>> = (0..n).map(|_| Default::default()).collect();
    for r in 0..n {
        let c = [r / dims[1], r % dims[1]];
        for axis in 0..2 {
            for side in 0..2 {
                if tiles[r].sides[axis][side] != TileSide::Exchange {
                    continue;
                }
                let mut nc = c;
                nc[axis] = if side == 0 {
                    (c[axis] + dims[axis] - 1) % dims[axis]
                } else {
                    (c[axis] + 1) % dims[axis]
                };
                let nr = nc[0] * dims[1] + nc[1];
                // My strip towards `side` arrives at the neighbour's opposite side.
                let (tx, rx) = channel();
                to[r][axis][side] = Some(tx);
                from[nr][axis][1 - side] = Some(rx);
            }
        }
    }
    tiles
        .iter()
        .zip(to.into_iter().zip(from))
        .map(|(t, (to, from))| ChannelExchange {
            tile: t.clone(),
            to,
            from,
        })
        .collect()
}

impl HaloExchange for ChannelExchange {
    fn exchange(
        &mut self,
        axis: usize,
        a: &mut Array2<f64>,
        overlap: &mut dyn FnMut(ArrayView2<'_, f64>),
    ) {
        let len = strip_len(&self.tile, axis);
        for side in 0..2 {
            if let Some(tx) = &self.to[axis][side] {
                let mut buf = vec![0.0; len];
                pack(&self.tile, axis, side, a.view(), &mut buf);
                tx.send(buf).expect("ChannelExchange: neighbour gone");
            }
        }
        overlap(a.view());
        for side in 0..2 {
            if let Some(rx) = &self.from[axis][side] {
                let buf = rx.recv().expect("ChannelExchange: neighbour gone");
                unpack(&self.tile, axis, side, &buf, a);
            }
        }
    }
}
