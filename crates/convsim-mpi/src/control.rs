//! The root's control of a distributed run: commands broadcast from rank 0, and the
//! collectives a command runs (gathers to the root, scatters from it, reductions).

use mpi::collective::SystemOperation;
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::{Rank, SimpleCommunicator};
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

use crate::Mpi;

/// A communicator over every rank for the driver's commands and collectives (a duplicate
/// of the world, so its messages never mix with the halo exchange).
pub struct Control {
    comm: SimpleCommunicator,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("rank", &self.rank())
            .finish_non_exhaustive()
    }
}

// SAFETY: as for `MpiHalo`: MPI runs with `MPI_THREAD_SERIALIZED` and a `Control` is used by
// the one thread that drives the run.
unsafe impl Send for Control {}

impl Control {
    /// Duplicates the world (collective).
    #[must_use]
    pub fn new(mpi: &Mpi) -> Control {
        Control {
            comm: mpi.world().duplicate(),
        }
    }

    /// The ranks of this control with the same `color` (collective): a shot group of a
    /// multi-shot run. Ranks keep their order.
    ///
    /// # Panics
    /// If `color` exceeds `i32::MAX` (colors are group indices, at most the rank count).
    #[must_use]
    pub fn split(&self, color: usize) -> Control {
        let color = mpi::topology::Color::with_value(i32::try_from(color).expect("small color"));
        Control {
            comm: self
                .comm
                .split_by_color(color)
                .expect("every rank has a color"),
        }
    }

    pub(crate) fn communicator(&self) -> &SimpleCommunicator {
        &self.comm
    }

    /// This rank.
    #[must_use]
    pub fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    /// Number of ranks.
    #[must_use]
    pub fn size(&self) -> usize {
        self.comm.size() as usize
    }

    /// Broadcasts a command from rank 0 over the world (every rank calls it; the others
    /// receive into `cmd`). Commands travel on the world, the collectives they run on the
    /// control's own communicator: both in the same order on every rank.
    pub fn command(cmd: &mut [u64; 3]) {
        SimpleCommunicator::world()
            .process_at_rank(0)
            .broadcast_into(&mut cmd[..]);
    }

    /// Lowest rank that is not `ok` (see [`Mpi::first_failed`]).
    #[must_use]
    pub fn first_failed(&self, ok: bool) -> Option<usize> {
        crate::comm::first_failed(&self.comm, ok)
    }

    /// The text `msg` of rank `from`, on every rank (the others pass anything).
    #[must_use]
    pub fn broadcast_text(&self, from: usize, msg: &str) -> String {
        let root = self.comm.process_at_rank(from as Rank);
        let mut bytes = msg.as_bytes().to_vec();
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        root.broadcast_into(&mut bytes[..]);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Gathers every rank's `mine` to rank 0, in rank order, into `all` (rank 0 only; its
    /// length is the sum of `counts`, one per rank).
    pub fn gather(&self, mine: &[f64], counts: &[usize], all: Option<&mut [f64]>) {
        let root = self.comm.process_at_rank(0);
        match all {
            Some(all) => {
                let (c, d) = counts_displs(counts);
                let mut p = PartitionMut::new(all, &c[..], &d[..]);
                root.gather_varcount_into_root(mine, &mut p);
            }
            None => root.gather_varcount_into(mine),
        }
    }

    /// Scatters `all` (rank 0 only, blocks in rank order of lengths `counts`) into every
    /// rank's `mine`.
    pub fn scatter(&self, all: Option<&[f64]>, counts: &[usize], mine: &mut [f64]) {
        let root = self.comm.process_at_rank(0);
        match all {
            Some(all) => {
                let (c, d) = counts_displs(counts);
                let p = Partition::new(all, &c[..], &d[..]);
                root.scatter_varcount_into_root(&p, mine);
            }
            None => root.scatter_varcount_into(mine),
        }
    }

    /// `true` on every rank when `b` holds on every rank.
    #[must_use]
    pub fn all(&self, b: bool) -> bool {
        let mut r = 0_i32;
        self.comm
            .all_reduce_into(&i32::from(b), &mut r, SystemOperation::min());
        r == 1
    }

    /// Combines every rank's diagnostic shares (see [`Mpi::combine`]).
    #[must_use]
    pub fn combine(&self, parts: &[convsim_core::Partial]) -> Vec<f64> {
        crate::comm::combine(&self.comm, parts)
    }
}

fn counts_displs(counts: &[usize]) -> (Vec<Rank>, Vec<Rank>) {
    let c: Vec<Rank> = counts.iter().map(|&n| n as Rank).collect();
    let d: Vec<Rank> = c
        .iter()
        .scan(0, |acc, &n| {
            let d = *acc;
            *acc += n;
            Some(d)
        })
        .collect();
    (c, d)
}
