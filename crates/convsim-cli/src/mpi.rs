//! `convsim run` under `mpirun` / `srun` (the `mpi` feature): see
//! `convsim_scenario::distributed`. Rank 0 runs the ordinary run command on the distributed
//! solver and prints everything; the other ranks follow its commands and print nothing.
//! Every rank exits with the same status: 0, or 2 after one error line from rank 0.

use std::path::Path;

use anyhow::Result;
use convsim_mpi::{Control, Mpi};
use convsim_scenario::Scenario;
use convsim_scenario::distributed::{Root, follow};
use convsim_scenario::limits::MemoryLimit;

use crate::{RunArgs, Silent, resume_command, run_scenario, signals};

/// `true` when an MPI launcher started this process (Open MPI, MPICH, Slurm: `PMI_SIZE`, `PMIX_RANK`).
pub(crate) fn launched() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// `convsim run` on every rank of the job.
pub(crate) fn run(a: &RunArgs) -> Result<()> {
    let Some(mpi) = Mpi::init() else {
        anyhow::bail!("MPI was initialised twice (a bug in convsim)");
    };
    // Loaded on every rank (each reads the file); they agree before anyone goes on.
    let limit = MemoryLimit::detect(a.common.max_memory);
    let loaded = Scenario::load_limited(&a.scenario, &a.common.set, &limit);
    let ctl = Control::new(&mpi);
    let rank = ctl.rank();
    let s = match (ctl.first_failed(loaded.is_ok()), loaded) {
        (None, Ok(s)) => s,
        (None, Err(_)) => unreachable!("agreed that every rank loaded the scenario"),
        (Some(f), loaded) => {
            let mine = loaded.err().map(|e| e.to_string()).unwrap_or_default();
            let message = ctl.broadcast_text(f, &mine);
            return if rank == 0 {
                Err(anyhow::anyhow!(message))
            } else {
                Err(Silent.into())
            };
        }
    };
    if mpi.size() == 1 {
        let hint = |out_dir: &Path| resume_command(&a.scenario, &a.common.set, out_dir);
        return run_scenario(&s, &a.common, a.resume, &hint, &mut |s| s.solver.build(s));
    }
    if rank == 0 {
        let root = Root::new(&mpi);
        let hint = |out_dir: &Path| resume_command(&a.scenario, &a.common.set, out_dir);
        let r = run_scenario(&s, &a.common, a.resume, &hint, &mut |s| root.build(s));
        root.finish(r.is_ok());
        r
    } else {
        // Signals go to rank 0's driver (mpirun forwards them to every rank): it stops the
        // run at a step boundary with a checkpoint, with the help of the others.
        let _ = signals::install();
        if follow(&mpi, &s) {
            Ok(())
        } else {
            Err(Silent.into())
        }
    }
}
