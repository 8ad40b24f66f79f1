//! Seismic gathers of a distributed run: the tiles' shares of the receiver samples summed on
//! each shot group's first rank, and the other groups' shots forwarded to world rank 0.

use convsim_core::Simulation;
use ndarray::{Array2, s};

use super::{DistSim, Remote};

impl DistSim {
    /// Receivers of a gather (0: the run records none).
    fn receivers(&self) -> usize {
        self.tile.gathers().first().map_or(0, |g| g.coords.nrows())
    }

    /// The world rank of shot group `g`'s first rank and that group's shots.
    fn group_shots(&self, g: usize) -> impl Iterator<Item = usize> {
        (g..self.shots).step_by(self.groups)
    }

    /// Sends every shot's sources to world rank 0, which sets up the gathers of the other
    /// groups' shots (collective over every rank).
    pub(super) fn remote_sources(&mut self) {
        if self.groups == 1 || self.receivers() == 0 {
            return;
        }
        let mine: Vec<f64> = if self.ctl.rank() == 0 && self.group != 0 {
            self.tiles()
                .flat_map(|(_, t)| {
                    let g = t.gathers();
                    let s = g.first().map(|g| g.sources.clone()).unwrap_or_default();
                    assert_eq!(s.len(), 1, "a shot has one source");
                    s[0]
                })
                .collect()
        } else {
            Vec::new()
        };
        let root = self.world.rank() == 0;
        let counts = self.remote_counts(2);
        let mut all = vec![0.0; counts.iter().sum()];
        self.world
            .gather(&mine, &counts, root.then_some(&mut all[..]));
        if root {
            let cols = self.tile.gathers()[0].traces.ncols();
            let nrec = self.receivers();
            let shots: Vec<usize> = (1..self.groups)
                .flat_map(|g| self.group_shots(g).collect::<Vec<_>>())
                .collect();
            self.remote = shots
                .into_iter()
                .zip(all.chunks_exact(2))
                .map(|(shot, yx)| Remote {
                    shot,
                    sources: vec![[yx[0], yx[1]]],
                    traces: Array2::zeros((nrec, cols)),
                })
                .collect();
        }
    }

    /// Samples per world rank of a message of `each` samples per shot from every group's
    /// first rank but group 0's.
    fn remote_counts(&self, each: usize) -> Vec<usize> {
        let per = self.world.size() / self.groups;
        (0..self.world.size())
            .map(|r| {
                let g = r / per;
                if r % per == 0 && g != 0 {
                    self.group_shots(g).count() * each
                } else {
                    0
                }
            })
            .collect()
    }

    /// `(shot, solver)` of every shot of this rank's group.
    pub(super) fn tiles(&self) -> impl Iterator<Item = (usize, &dyn Simulation)> {
        std::iter::once((self.group, self.tile.as_ref()))
            .chain(self.others.iter().map(|(k, t)| (*k, t.as_ref())))
    }

    /// Combines the gather samples recorded since the last call on rank 0's tile
    /// (collective): the tiles' shares are summed elementwise, which is exact since each
    /// element is non-zero on one tile at most ([`Simulation::gather_share`]).
    pub(super) fn sync_gathers(&mut self) {
        let Some((to, _)) = self.tile.gather_share(self.synced) else {
            return;
        };
        // Every tile has taken the same steps: all return here together.
        if to == self.synced {
            return;
        }
        let from = self.synced;
        for j in 0..=self.others.len() {
            self.sync_shot(j, to);
        }
        self.forward_gathers(from, to);
        self.synced = to;
    }

    /// Sends the samples `from..to` of the other groups' gathers, complete on each group's
    /// first rank, to world rank 0 (collective over every rank).
    fn forward_gathers(&mut self, from: usize, to: usize) {
        let nrec = self.receivers();
        if self.groups == 1 || nrec == 0 {
            return;
        }
        let mut mine: Vec<f64> = Vec::new();
        if self.ctl.rank() == 0 && self.group != 0 {
            for (_, t) in self.tiles() {
                let g = t.gathers();
                mine.extend(g[0].traces.slice(s![.., from..to]).iter().copied());
            }
        }
        let root = self.world.rank() == 0;
        let counts = self.remote_counts(nrec * (to - from));
        let mut all = vec![0.0; counts.iter().sum()];
        self.world
            .gather(&mine, &counts, root.then_some(&mut all[..]));
        if root {
            for (r, part) in self
                .remote
                .iter_mut()
                .zip(all.chunks_exact((nrec * (to - from)).max(1)))
            {
                let src = ndarray::ArrayView2::from_shape((nrec, to - from), part)
                    .expect("samples of one shot");
                r.traces.slice_mut(s![.., from..to]).assign(&src);
            }
        }
    }

    /// [`DistSim::sync_gathers`] for the group's shot `j` (0: `tile`), up to sample `to`
    /// (collective over the group); completed on the group's first rank.
    fn sync_shot(&mut self, j: usize, to: usize) {
        let tile = if j == 0 {
            self.tile.as_mut()
        } else {
            self.others[j - 1].1.as_mut()
        };
        let Some((_, share)) = tile.gather_share(self.synced) else {
            return;
        };
        let size = self.ctl.size();
        let counts = vec![share.len(); size];
        let mut all = if self.root {
            vec![0.0; share.len() * size]
        } else {
            Vec::new()
        };
        let root = self.ctl.rank() == 0;
        self.ctl
            .gather(&share, &counts, root.then_some(&mut all[..]));
        if root {
            let mut sum = all[..share.len()].to_vec();
            for part in all.chunks_exact(share.len().max(1)).skip(1) {
                for (s, v) in sum.iter_mut().zip(part) {
                    *s += *v;
                }
            }
            tile.gathers_from_shares(self.synced, to, &sum);
        }
    }
}
