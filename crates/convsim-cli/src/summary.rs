//! The closing summary of `convsim run`: what was computed, with units, read back from the run
//! file; `--json` prints it as one JSON line.

use std::path::Path;

use anyhow::{Context, Result};
use convsim_scenario::driver::RunReport;
use serde_json::json;

use crate::output::outln;
use crate::progress::sig3;

/// Prints the summary of a finished run (text, or one JSON line).
///
/// # Errors
/// If the run file cannot be read back.
pub(crate) fn print(r: &RunReport, json: bool) -> Result<()> {
    let f = convsim_io::RunFile::open(&r.run_file)
        .with_context(|| format!("reading back {}", r.run_file.display()))?;
    let attrs = f.attributes()?;
    let meta = f.meta()?;
    let tu = meta.time_units.as_str();
    let mut diags = serde_json::Map::new();
    let mut diag_text = Vec::new();
    for d in f.diagnostics()? {
        let v = f.read_diagnostic(&d.quantity.name)?;
        if let Some(last) = v.last() {
            diags.insert(
                d.quantity.name.clone(),
                json!({ "value": last, "units": d.quantity.units }),
            );
            diag_text.push(format!(
                "{} = {:.6e} {}",
                d.quantity.name, last, d.quantity.units
            ));
        }
    }
    let rate = r.steps.saturating_sub(r.resumed_from.unwrap_or(0)) as f64 / r.seconds.max(1e-9);
    let converged = attrs.get("converged").map(|c| c == "true");
    let xdmf = r.run_file.with_file_name(convsim_io::XDMF_FILE);
    if json {
        let v = json!({
            "run_file": r.run_file,
            "xdmf": xdmf,
            "status": attrs.get("status"),
            "solver": meta.solver,
            "steps": r.steps,
            "time": r.time,
            "time_units": tu,
            "frames": r.frames,
            "seconds": r.seconds,
            "steps_per_second": rate,
            "timing": {
                "stepping": r.timing.stepping,
                "frames": r.timing.frames,
                "checkpoints": r.timing.checkpoints,
                "checks": r.timing.checks,
                "pictures": r.timing.pictures,
            },
            "resumed_from": r.resumed_from,
            "converged": converged,
            "diagnostics": diags,
            "pictures": r.pictures,
        });
        outln!("{v}");
        return Ok(());
    }
    let resumed = r
        .resumed_from
        .map(|k| format!(", resumed from step {k}"))
        .unwrap_or_default();
    outln!(
        "{}: {} steps to t = {:.6e} {tu}, {} frames, {} s wall ({} steps/s){resumed}",
        r.run_file.display(),
        r.steps,
        r.time,
        r.frames,
        sig3(r.seconds),
        sig3(rate)
    );
    match converged {
        Some(true) => outln!(
            "  converged at step {} (quantum.tolerance reached)",
            r.steps
        ),
        Some(false) => outln!(
            "  not converged within {} steps (raise time.steps or quantum.tolerance)",
            r.steps
        ),
        None => {}
    }
    let t = &r.timing;
    outln!(
        "  time: stepping {} s, frames {} s, checkpoints {} s, checks {} s, pictures {} s",
        sig3(t.stepping),
        sig3(t.frames),
        sig3(t.checkpoints),
        sig3(t.checks),
        sig3(t.pictures)
    );
    if !diag_text.is_empty() {
        outln!("  last frame: {}", diag_text.join(", "));
    }
    outln!("  ParaView / VisIt: {}", display(&xdmf));
    for p in &r.pictures {
        outln!("{}", p.display());
    }
    Ok(())
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
