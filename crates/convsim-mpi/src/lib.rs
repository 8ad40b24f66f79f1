//! # convsim-mpi: MPI for distributed runs
//!
//! The pieces of a distributed run that talk to other processes, on MPI through the `mpi`
//! crate (rsmpi): a Cartesian process grid ([`CartGrid`], periodic where the scenario is), the
//! halo exchange of a tile with nonblocking sends and receives ([`MpiHalo`], the
//! [`convsim_core::tile::HaloExchange`] of MPI), the all-to-all of the distributed FFT
//! ([`MpiAllToAll`]) and the reductions of diagnostics and error flags ([`Mpi`]).
//!
//! Everything else (tiles, the stepping on them, the FFT) lives in convsim-core and the
//! solvers, which know nothing of MPI. Without the `mpi` feature (the default) this crate is
//! empty apart from [`process_grid`], so `cargo build --workspace` needs no MPI library.

#[cfg(feature = "mpi")]
mod comm;
#[cfg(feature = "mpi")]
mod control;

#[cfg(feature = "mpi")]
pub use comm::{CartGrid, Mpi, MpiAllToAll, MpiHalo, comm_wait_seconds};
#[cfg(feature = "mpi")]
pub use control::Control;

/// The process grid `[py, px]` a run on `ranks` processes uses by default for a `global =
/// [ny, nx]` grid: of all factorisations `py px = ranks` whose tiles are not empty, the one
/// that sends the fewest halo samples per step (`(py - 1) nx + (px - 1) ny` lines cut), ties
/// broken towards more rows of tiles (row slabs keep each tile's rows contiguous).
///
/// ```
/// use convsim_mpi::process_grid;
/// assert_eq!(process_grid(4, [100, 100]), [2, 2]);
/// assert_eq!(process_grid(4, [1000, 10]), [4, 1]);
/// assert_eq!(process_grid(3, [50, 60]), [1, 3]); // cuts 2 x 50 samples, not 2 x 60
/// assert_eq!(process_grid(3, [60, 50]), [3, 1]);
/// assert_eq!(process_grid(1, [5, 5]), [1, 1]);
/// ```
#[must_use]
pub fn process_grid(ranks: usize, global: [usize; 2]) -> [usize; 2] {
    let ranks = ranks.max(1);
    let mut best: Option<([usize; 2], usize)> = None;
    for py in (1..=ranks).rev() {
        if !ranks.is_multiple_of(py) {
            continue;
        }
        let px = ranks / py;
        if py > global[0].max(1) || px > global[1].max(1) {
            continue;
        }
        let cut = (py - 1) * global[1] + (px - 1) * global[0];
        if best.is_none_or(|(_, c)| cut < c) {
            best = Some(([py, px], cut));
        }
    }
    best.map_or([ranks, 1], |b| b.0)
}
