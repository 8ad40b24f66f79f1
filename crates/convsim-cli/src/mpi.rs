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

use convsim_scenario::driver::Timing;

use crate::output::{errln, outln};
use crate::progress::sig3;
use crate::{RunArgs, Silent, report_interrupted, resume_command, run_scenario, signals};

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
        return run_scenario(&s, &a.common, a.resume, &hint, &mut |s| s.solver.build(s)).map(drop);
    }
    if rank == 0 {
        let root = Root::new(&mpi);
        let hint = |out_dir: &Path| resume_command(&a.scenario, &a.common.set, out_dir);
        let r = run_scenario(&s, &a.common, a.resume, &hint, &mut |s| root.build(s));
        let r = report_interrupted(r);
        root.finish(r.is_ok());
        let waits = waits(&ctl, a.common.profile);
        if let (Ok(Some(t)), Some(w)) = (&r, waits) {
            print_profile(t, &w, a.common.json);
        }
        r.map(drop)
    } else {
        // Signals go to rank 0's driver (mpirun forwards them to every rank): it stops the
        // run at a step boundary with a checkpoint, with the help of the others.
        let _ = signals::install();
        let ok = follow(&mpi, &s);
        waits(&ctl, a.common.profile);
        if ok { Ok(()) } else { Err(Silent.into()) }
    }
}

/// With `--profile`, every rank's seconds of waiting for the others, on rank 0 (collective:
/// every rank calls it, after the run).
fn waits(ctl: &Control, profile: bool) -> Option<Vec<f64>> {
    if !profile {
        return None;
    }
    let counts = vec![1; ctl.size()];
    let mine = [convsim_scenario::distributed::step_wait_seconds()];
    if ctl.rank() == 0 {
        let mut all = vec![0.0; ctl.size()];
        ctl.gather(&mine, &counts, Some(&mut all));
        Some(all)
    } else {
        ctl.gather(&mine, &counts, None);
        None
    }
}

/// The `--profile` line: per rank, compute (its stepping without the waits) and waiting.
fn print_profile(t: &Timing, waits: &[f64], json: bool) {
    let output = t.frames + t.checkpoints + t.checks;
    if json {
        let v = serde_json::json!({
            "profile": {
                "stepping": t.stepping,
                "waiting_per_rank": waits,
                "compute_per_rank": waits.iter().map(|w| t.stepping - w).collect::<Vec<_>>(),
                "output": output,
            }
        });
        errln!("{v}");
        return;
    }
    let per_rank: Vec<String> = waits
        .iter()
        .enumerate()
        .map(|(r, w)| {
            format!(
                "rank {r} {} s compute + {} s waiting",
                sig3(t.stepping - w),
                sig3(*w)
            )
        })
        .collect();
    outln!(
        "  profile ({} ranks): stepping {} s = {}; output (frames gathered to rank 0 and written, checkpoints, checks) {} s",
        waits.len(),
        sig3(t.stepping),
        per_rank.join(", "),
        sig3(output)
    );
}
