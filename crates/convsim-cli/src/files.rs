//! Run and training files from the command line: the output folder check, the scenario
//! stored in a run file (`convsim rerun`), and `convsim inspect` of a training file.

use std::path::Path;

use anyhow::{Context, Result, bail};
use convsim_scenario::Scenario;

use crate::output::{errln, outln};

/// Refuses an output folder whose parent folder is missing (a typo in `-o` should not create
/// a tree of folders), unless `parents`.
///
/// # Errors
/// One line naming the folder and the missing parent.
pub(crate) fn check_out_dir(out: &Path, parents: bool) -> Result<()> {
    if parents || out.exists() {
        return Ok(());
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        bail!(
            "{}: -o: the parent folder {} does not exist; allowed: an existing parent folder, or --parents to create it",
            out.display(),
            parent.display()
        );
    }
    Ok(())
}

/// The scenario stored in a run file, resolved again with `overrides` (for `convsim rerun`).
/// Warns on stderr when an input file changed since the run (its SHA-256 differs).
///
/// # Errors
/// If the file is not a run file with a stored scenario, or the scenario does not resolve.
pub(crate) fn stored_scenario(run: &Path, overrides: &[String]) -> Result<Scenario> {
    let f = convsim_io::RunFile::open(run)?;
    let attrs = f.attributes()?;
    let Some(text) = attrs.get("scenario") else {
        bail!(
            "{}: scenario: (missing): not a run file with a stored scenario",
            run.display()
        );
    };
    let file = attrs
        .get("scenario_file")
        .map_or_else(|| run.with_file_name("scenario.toml"), Into::into);
    for line in attrs
        .get("inputs_sha256")
        .map_or("", String::as_str)
        .lines()
    {
        if let Some((hash, path)) = line.split_once("  ") {
            let now = convsim_scenario::provenance::sha256_file(Path::new(path));
            if now.as_deref() != Some(hash) {
                errln!(
                    "warning: {path} changed since the run (SHA-256 differs or the file is gone)"
                );
            }
        }
    }
    Ok(Scenario::from_str(text, &file, overrides)?)
}

/// `true` for a file written by `convsim train` (`convsim_file = "train"`).
pub(crate) fn is_train_file(path: &Path) -> bool {
    convsim_io::file_kind(path).is_ok_and(|k| k.as_deref() == Some("train"))
}

/// `convsim inspect train.h5`: attributes (numbers as numbers) and every dataset with its
/// shape, units, and min / max / last value.
///
/// # Errors
/// If the file cannot be read.
pub(crate) fn inspect_train(path: &Path, json: bool) -> Result<()> {
    let s = convsim_io::summarize_arrays(path)?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&s).context("encoding the summary as JSON")?
        );
        return Ok(());
    }
    outln!("{} (a training file)", s.path.display());
    for (k, v) in &s.attributes {
        match v.as_str() {
            Some(t) if t.lines().count() > 1 => {
                outln!("  @{k}: ({} lines; --json shows it)", t.lines().count());
            }
            Some(t) => outln!("  @{k}: {t}"),
            None => outln!("  @{k}: {v}"),
        }
    }
    for d in &s.datasets {
        outln!(
            "  {} {:?} [{}]: min {:.6e}, max {:.6e}, last {:.6e}",
            d.path,
            d.shape,
            d.units,
            d.min,
            d.max,
            d.last
        );
    }
    Ok(())
}
