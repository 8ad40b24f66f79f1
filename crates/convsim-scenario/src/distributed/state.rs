//! Checkpoints of a distributed run: the tiles' state arrays gathered into whole-grid arrays
//! (or one row per rank for a rank's own arrays) on rank 0, and scattered back on restore.

use convsim_core::{RestoreError, StateArray};
use ndarray::{Array2, ArrayD, ArrayViewD, IxDyn, Slice, s};

use super::DistSim;

/// Whether a state array of this shape is a field of a tile of `block` (split over the
/// ranks like the grid) rather than a rank's own array.
fn is_tiled(shape: &[usize], block: [usize; 2]) -> bool {
    shape.len() >= 2 && shape[..2] == block
}

impl DistSim {
    /// Samples per rank of a state array whose first two axes are the tile's (`rest`: the
    /// product of the others, e.g. 2 for the real and imaginary parts of `psi`).
    fn counts_of(&self, rest: usize) -> Vec<usize> {
        self.counts.iter().map(|c| c * rest).collect()
    }

    /// The whole grid's state on rank 0 (every state array's first two axes are the tile's).
    pub(super) fn state_all(&self) -> Vec<StateArray> {
        let local = self.tile.state();
        let [ny, nx] = self.blocks[self.ctl.rank()].1;
        let mut out = Vec::new();
        for a in local {
            let shape = a.data.shape().to_vec();
            if !is_tiled(&shape, [ny, nx]) {
                out.extend(self.per_rank_state(&a));
                continue;
            }
            let rest: usize = shape[2..].iter().product();
            let mine = a.data.as_standard_layout();
            let counts = self.counts_of(rest);
            let mut all = if self.root {
                vec![0.0; counts.iter().sum()]
            } else {
                Vec::new()
            };
            let root = self.root;
            self.ctl.gather(
                mine.as_slice().expect("standard layout"),
                &counts,
                root.then_some(&mut all[..]),
            );
            if root {
                let mut full = shape.clone();
                full[0] = self.grid.ny;
                full[1] = self.grid.nx;
                let mut g = ArrayD::zeros(IxDyn(&full));
                let mut k = 0;
                for ([y0, x0], [by, bx]) in &self.blocks {
                    let mut bs = shape.clone();
                    bs[0] = *by;
                    bs[1] = *bx;
                    let len = by * bx * rest;
                    let src =
                        ArrayViewD::from_shape(IxDyn(&bs), &all[k..k + len]).expect("block size");
                    g.slice_each_axis_mut(|ax| match ax.axis.index() {
                        0 => Slice::from(*y0..y0 + by),
                        1 => Slice::from(*x0..x0 + bx),
                        _ => Slice::from(..),
                    })
                    .assign(&src);
                    k += len;
                }
                out.push(StateArray {
                    name: a.name,
                    data: g,
                });
            }
        }
        out
    }

    /// Every rank's length `n` (rank 0; empty elsewhere).
    fn lengths(&self, n: usize) -> Vec<usize> {
        let size = self.ctl.size();
        let mut all = if self.root {
            vec![0.0; size]
        } else {
            Vec::new()
        };
        let root = self.root;
        self.ctl
            .gather(&[n as f64], &vec![1; size], root.then_some(&mut all[..]));
        all.iter().map(|&v| v as usize).collect()
    }

    /// A state array of this rank's own (not a field of the tile, e.g. a seismic tile's
    /// padded arrays and CPML memory): every rank's copy, flattened, as row `rank` of an
    /// array `(ranks, longest)` on rank 0 (zero padded). Restored with the same rank count.
    fn per_rank_state(&self, a: &StateArray) -> Option<StateArray> {
        let mine = a.data.as_standard_layout();
        let mine = mine.as_slice().expect("standard layout");
        let lens = self.lengths(mine.len());
        let root = self.root;
        let mut all = vec![0.0; lens.iter().sum()];
        self.ctl.gather(mine, &lens, root.then_some(&mut all[..]));
        if !root {
            return None;
        }
        let longest = lens.iter().copied().max().unwrap_or(0);
        let mut g = Array2::zeros((lens.len(), longest));
        let mut k = 0;
        for (r, &n) in lens.iter().enumerate() {
            g.row_mut(r)
                .slice_mut(s![..n])
                .assign(&ndarray::ArrayView1::from(&all[k..k + n]));
            k += n;
        }
        Some(StateArray {
            name: a.name.clone(),
            data: g.into_dyn(),
        })
    }

    /// Scatters the whole grid's state (rank 0: `Some`) and restores every tile.
    pub(super) fn restore_all(
        &mut self,
        step: u64,
        time: f64,
        state: Option<&[StateArray]>,
    ) -> std::result::Result<(), RestoreError> {
        let solver = self.tile.kind();
        let mut local = self.tile.state();
        let (gy, gx) = self.grid.shape();
        let block = self.blocks[self.ctl.rank()].1;
        let mut err = None;
        // Every rank's length of each per-rank array (rank 0).
        let lens: Vec<Option<Vec<usize>>> = local
            .iter()
            .map(|a| (!is_tiled(a.data.shape(), block)).then(|| self.lengths(a.data.len())))
            .collect();
        if let Some(state) = state {
            for (a, lens) in local.iter().zip(&lens) {
                let checked = if let Some(lens) = lens {
                    let longest = lens.iter().copied().max().unwrap_or(0);
                    StateArray::find(state, solver, &a.name).and_then(|g| {
                        if g.ndim() == 2 && g.shape()[0] == lens.len() && g.shape()[1] >= longest {
                            Ok(())
                        } else {
                            Err(RestoreError::Ranks {
                                solver,
                                name: a.name.clone(),
                                ranks: lens.len(),
                                found: g.shape().to_vec(),
                            })
                        }
                    })
                } else {
                    let mut want = a.data.shape().to_vec();
                    want[0] = gy;
                    want[1] = gx;
                    StateArray::find_shaped(state, solver, &a.name, &want).map(|_| ())
                };
                if let Err(e) = checked {
                    err = Some(e);
                }
            }
        }
        if !self.ctl.all(err.is_none()) {
            return Err(err.unwrap_or(RestoreError::OtherRank));
        }
        for (a, lens) in local.iter_mut().zip(&lens) {
            if let Some(lens) = lens {
                let mut all = Vec::new();
                if let Some(state) = state {
                    let g = StateArray::find(state, solver, &a.name).expect("checked above");
                    for (r, &n) in lens.iter().enumerate() {
                        all.extend(g.index_axis(ndarray::Axis(0), r).iter().take(n).copied());
                    }
                }
                let mut mine = vec![0.0; a.data.len()];
                let counts = if state.is_some() {
                    lens.clone()
                } else {
                    Vec::new()
                };
                self.ctl
                    .scatter(state.map(|_| &all[..]), &counts, &mut mine);
                a.data = ArrayD::from_shape_vec(IxDyn(a.data.shape()), mine).expect("tile shape");
                continue;
            }
            let rest: usize = a.data.shape()[2..].iter().product();
            let mut all = Vec::new();
            if let Some(state) = state {
                let g = StateArray::find(state, solver, &a.name).expect("checked above");
                for ([y0, x0], [by, bx]) in &self.blocks {
                    let block = g.slice_each_axis(|ax| match ax.axis.index() {
                        0 => Slice::from(*y0..y0 + by),
                        1 => Slice::from(*x0..x0 + bx),
                        _ => Slice::from(..),
                    });
                    all.extend(block.iter().copied());
                }
            }
            let mut mine = vec![0.0; a.data.len()];
            self.ctl
                .scatter(state.map(|_| &all[..]), &self.counts_of(rest), &mut mine);
            a.data = ArrayD::from_shape_vec(IxDyn(a.data.shape()), mine).expect("tile shape");
        }
        let r = self.tile.restore(step, time, &local);
        if self.ctl.all(r.is_ok()) {
            // The gathers are rebuilt from the restored shares.
            self.synced = 0;
            self.sync_gathers();
            Ok(())
        } else {
            Err(r.err().unwrap_or(RestoreError::OtherRank))
        }
    }
}
