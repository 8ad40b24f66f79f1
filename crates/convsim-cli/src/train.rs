//! `convsim train SCENARIO`: run the data scenario, fit the model, compare its rollout with the
//! solver, write `train.h5`, `stencil.toml` and pictures (see `docs/cnn.md`).

use crate::output::outln;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use convsim_scenario::train::{self, TrainOptions, TrainProgress, TrainScenario};

/// Arguments of `convsim train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The training scenario TOML file (see scenarios/cnn/).
    scenario: PathBuf,
    /// Output folder (default: runs/<run name>/).
    #[arg(short = 'o', long = "out")]
    out: Option<PathBuf>,
    /// Override a key of the training scenario: --set train.epochs=50 (value parsed as TOML).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Replace earlier results in the output folder.
    #[arg(long)]
    force: bool,
}

/// Runs `convsim train`.
///
/// # Errors
/// Every user error as one message (the caller prints it and exits with code 2).
pub fn run(a: &TrainArgs) -> Result<()> {
    let ts = TrainScenario::load(&a.scenario, &a.set)?;
    let out_dir = a.out.clone().unwrap_or_else(|| train::default_out_dir(&ts));
    let opts = TrainOptions {
        out_dir,
        force: a.force,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new(1);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb
    });
    let name = ts.name.clone();
    let mut on_progress = |p: TrainProgress| {
        let Some(pb) = &bar else { return };
        match p {
            TrainProgress::Data(d) => {
                pb.set_prefix(format!("{name}: data"));
                pb.set_length(d.total);
                pb.set_position(d.step);
                pb.set_message("steps");
            }
            TrainProgress::Epoch {
                epoch,
                epochs,
                train_loss,
                val_loss,
            } => {
                pb.set_prefix(format!("{name}: train"));
                pb.set_length(epochs as u64);
                pb.set_position(epoch as u64 + 1);
                let val = val_loss
                    .map(|v| format!(", val {v:.3e}"))
                    .unwrap_or_default();
                pb.set_message(format!("epochs, loss {train_loss:.3e}{val}"));
            }
            TrainProgress::Rollout => {
                pb.set_prefix(format!("{name}: rollout"));
                pb.set_message("comparing with the solver");
            }
        }
    };
    let result = train::run_training(&ts, &opts, &mut on_progress);
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let r = result?;
    let val = if r.val_loss.is_nan() {
        String::new()
    } else {
        format!(", validation loss {:.6e}", r.val_loss)
    };
    outln!(
        "{}: training loss {:.6e}{val} (best epoch {}) in {:.2} s",
        r.train_file.display(),
        r.train_loss,
        r.best_epoch,
        r.seconds
    );
    if let Some(e) = r.stencil_error {
        outln!("learned vs true stencil: relative error {e:.3e}");
    }
    if let Some(last) = r.rollout_error.last() {
        outln!(
            "rollout of {} steps: relative L2 error {:.3e} at the last step",
            r.rollout_error.len(),
            last
        );
    }
    outln!("data: {}", r.data_run.display());
    if let Some(p) = &r.stencil_file {
        outln!("{}", p.display());
    }
    for p in &r.pictures {
        outln!("{}", p.display());
    }
    Ok(())
}
