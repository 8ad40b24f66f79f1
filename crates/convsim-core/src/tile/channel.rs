//! The collectives of a distributed FFT between threads of one process: channels for the
//! all-to-all, and shared blocks for the ranks-of-one-node path, so that tests run the
//! distributed transforms without MPI (convsim-mpi has the MPI ones).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use num_complex::Complex64;

use super::fft::{AllToAll, SharedBlock};

/// An all-to-all between threads of one process, over channels: for tests of distributed
/// transforms without MPI (it allocates a message per block; MPI runs use convsim-mpi).
#[derive(Debug)]
pub struct ChannelAllToAll {
    rank: usize,
    to: Vec<Sender<Vec<Complex64>>>,
    from: Vec<Receiver<Vec<Complex64>>>,
    /// Shared blocks of the threads ([`channel_all_to_alls_shared`]).
    shared: Option<ThreadShared>,
}

/// Shared memory of threads standing in for the ranks of one node.
#[derive(Debug)]
struct ThreadShared {
    /// Every thread's block, owned by all of them together: a thread that is done must not
    /// free the block of a slower one's tile (as an MPI window lives until every rank ends).
    memory: Arc<std::sync::Mutex<Vec<Vec<Complex64>>>>,
    barrier: Arc<std::sync::Barrier>,
    /// Every thread's block, once allocated, and the length of this thread's.
    blocks: Vec<SharedBlock>,
    mine: usize,
}

/// The all-to-alls of `p` ranks, one per rank (give rank `r` the `r`-th).
#[must_use]
pub fn channel_all_to_alls(p: usize) -> Vec<ChannelAllToAll> {
    // `from[d][s]` receives what `to[s][d]` sends.
    let mut to: Vec<Vec<Sender<Vec<Complex64>>>> = (0..p).map(|_| Vec::with_capacity(p)).collect();
    let mut from: Vec<Vec<Option<Receiver<Vec<Complex64>>>>> =
        (0..p).map(|_| (0..p).map(|_| None).collect()).collect();
    for (src, senders) in to.iter_mut().enumerate() {
        for inbox in &mut from {
            let (tx, rx) = channel();
            senders.push(tx);
            inbox[src] = Some(rx);
        }
    }
    to.into_iter()
        .zip(from)
        .enumerate()
        .map(|(rank, (to, from))| ChannelAllToAll {
            rank,
            to,
            from: from.into_iter().flatten().collect(),
            shared: None,
        })
        .collect()
}

/// As [`channel_all_to_alls`], with shared blocks ([`AllToAll::shared`]): the threads stand
/// in for ranks of one node, so that tests reach the shared-memory path without MPI.
#[must_use]
pub fn channel_all_to_alls_shared(p: usize) -> Vec<ChannelAllToAll> {
    let memory = Arc::new(std::sync::Mutex::new(vec![Vec::new(); p]));
    let barrier = Arc::new(std::sync::Barrier::new(p));
    let mut all = channel_all_to_alls(p);
    for c in &mut all {
        c.shared = Some(ThreadShared {
            memory: memory.clone(),
            barrier: barrier.clone(),
            blocks: Vec::new(),
            mine: 0,
        });
    }
    all
}

impl AllToAll for ChannelAllToAll {
    fn size(&self) -> usize {
        self.to.len()
    }
    fn rank(&self) -> usize {
        self.rank
    }
    /// # Panics
    /// If a peer hung up or sent a block of another length than `recv_counts` says.
    fn all_to_all(
        &mut self,
        send: &[Complex64],
        send_counts: &[usize],
        recv: &mut [Complex64],
        recv_counts: &[usize],
    ) {
        let mut k = 0;
        for (to, &n) in self.to.iter().zip(send_counts) {
            to.send(send[k..k + n].to_vec()).expect("peer alive");
            k += n;
        }
        let mut k = 0;
        for (from, &n) in self.from.iter().zip(recv_counts) {
            let v = from.recv().expect("peer alive");
            assert_eq!(v.len(), n, "ChannelAllToAll: block length");
            recv[k..k + n].copy_from_slice(&v);
            k += n;
        }
    }

    fn shared(&mut self, mine: usize) -> Option<&[SharedBlock]> {
        let rank = self.rank;
        let sh = self.shared.as_mut()?;
        if sh.blocks.is_empty() || sh.mine != mine {
            sh.memory.lock().expect("no thread panicked")[rank] = vec![Complex64::default(); mine];
            sh.mine = mine;
            sh.barrier.wait();
            sh.blocks = sh
                .memory
                .lock()
                .expect("no thread panicked")
                .iter_mut()
                .map(|m| SharedBlock {
                    ptr: m.as_mut_ptr(),
                    len: m.len(),
                })
                .collect();
            // Nobody allocates again before everyone has taken the addresses.
            sh.barrier.wait();
        }
        Some(&sh.blocks)
    }

    fn shared_sync(&mut self) {
        if let Some(sh) = &self.shared {
            sh.barrier.wait();
        }
    }
}
