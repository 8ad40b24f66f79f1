//! The one error type of scenario resolution and runs.
//!
//! Every variant a user can cause formats as one line naming the file, the key, the value and
//! what is allowed (`<file>: <key>: <value>: <what is allowed>`), so the CLI can print it as is.

use std::fmt::Write as _;
use std::path::Path;

/// Why an interrupted run whose [`convsim_core::Simulation::resumable`] is `false` cannot be
/// continued (the one wording, for the error and the CLI's line).
pub const NOT_RESUMABLE: &str = "its checkpoints hold no solver state (a multi-shot survey on \
     several MPI ranks), so it cannot be resumed: run it again (on one rank it can be resumed)";

/// Everything that can go wrong between a scenario file and a finished run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A key holds a value that is not allowed (wrong type, out of range, unknown name, ...).
    #[error("{file}: {key}: {value}: {allowed}")]
    Invalid {
        /// The scenario file (or `--set` when the value came from the command line).
        file: String,
        /// Dotted key path, e.g. `time.dt`.
        key: String,
        /// The offending value as written (or a short description of it).
        value: String,
        /// What would be accepted.
        allowed: String,
    },
    /// The error of another rank of a distributed run, as that rank formatted it.
    #[error("{message}")]
    OtherRank {
        /// The message.
        message: String,
    },
    /// The scenario file (or an input file) cannot be read or is not valid TOML.
    #[error("{file}: {reason}")]
    File {
        /// The file.
        file: String,
        /// What went wrong (with line and column for TOML syntax errors).
        reason: String,
    },
    /// The output folder already holds a run and neither `--force` nor `--resume` was given.
    #[error(
        "{dir}: output exists ({what}): pass --force to overwrite it, --resume to continue it, or -o DIR to write elsewhere"
    )]
    OutputExists {
        /// The output folder.
        dir: String,
        /// The existing file.
        what: String,
    },
    /// Another process is writing into the output folder (it holds the folder's lock).
    #[error(
        "{dir}: another convsim process is writing into this folder (it holds {dir}/.convsim-outputs locked); wait for it to finish, or choose another folder with -o DIR"
    )]
    OutputBusy {
        /// The output folder.
        dir: String,
    },
    /// A file convsim would write or remove was not written by convsim.
    #[error(
        "{file}: this file was not written by convsim (it is not listed in the folder's .convsim-outputs), so convsim will not overwrite or delete it; move it away, or choose another folder with -o DIR"
    )]
    OutputForeign {
        /// The file.
        file: String,
    },
    /// The output folder cannot be created or written.
    #[error(
        "{dir}: output directory is not writable: {reason}: choose a writable folder with -o DIR"
    )]
    OutputNotWritable {
        /// The output folder.
        dir: String,
        /// The operating system's reason.
        reason: String,
    },
    /// `--resume` was asked but there is nothing to resume from, or the checkpoint does not fit.
    #[error("{dir}: cannot resume: {reason}")]
    Resume {
        /// The output folder.
        dir: String,
        /// Why.
        reason: String,
    },
    /// The solver state became NaN or infinite; every frame written before is kept.
    #[error(
        "{file}: time.dt: {dt}: the state became non-finite (NaN or infinity) at step {step}, t = {time}; frames up to step {last_written} are kept in {run_file}; allowed: a smaller time.dt or gentler inputs",
        dt = show_f64(*.dt),
        time = show_f64(*.time)
    )]
    NonFinite {
        /// The scenario file.
        file: String,
        /// The time step of the run.
        dt: f64,
        /// First step at which a non-finite value was seen.
        step: u64,
        /// Simulation time at that step.
        time: f64,
        /// Step of the last frame written.
        last_written: u64,
        /// The run file.
        run_file: String,
    },
    /// The run was stopped by a signal (SIGINT, SIGTERM) at a step boundary: the file holds
    /// every frame so far, `status = "interrupted"`, and a checkpoint of that step.
    #[error(
        "{run_file}: interrupted by signal {signal} at step {step}, t = {time}: {frames} frame(s) {kept}",
        time = show_f64(*.time),
        kept = if *.resumable {
            "and a checkpoint of this step are kept; continue the run with --resume".to_string()
        } else {
            format!("are kept; {NOT_RESUMABLE}")
        }
    )]
    Interrupted {
        /// The signal number.
        signal: i32,
        /// The step the run stopped at.
        step: u64,
        /// Simulation time there.
        time: f64,
        /// Frames in the run file.
        frames: usize,
        /// The run file.
        run_file: String,
        /// Whether `--resume` can continue it ([`convsim_core::Simulation::resumable`]).
        resumable: bool,
    },
    /// The run was stopped by a signal before its first frame replaced anything.
    #[error(
        "{dir}: interrupted by signal {signal} before the run's first frame; nothing in the folder was changed"
    )]
    InterruptedBeforeStart {
        /// The signal number.
        signal: i32,
        /// The output folder.
        dir: String,
    },
    /// Reading or writing an HDF5 file failed.
    #[error("{file}: {reason}")]
    Io {
        /// The file.
        file: String,
        /// The HDF5 layer's message.
        reason: String,
    },
    /// Drawing a picture failed.
    #[error("{file}: cannot draw: {reason}")]
    Plot {
        /// The picture file.
        file: String,
        /// Why.
        reason: String,
    },
}

/// Shorthand for `Result<T, ScenarioError>`.
pub type Result<T, E = ScenarioError> = std::result::Result<T, E>;

impl ScenarioError {
    /// A [`ScenarioError::Invalid`].
    pub fn invalid(
        file: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<String>,
        allowed: impl Into<String>,
    ) -> Self {
        ScenarioError::Invalid {
            file: file.into(),
            key: key.into(),
            value: value.into(),
            allowed: allowed.into(),
        }
    }

    /// An [`ScenarioError::Io`] for `path`.
    pub fn io(path: &Path, reason: impl std::fmt::Display) -> Self {
        ScenarioError::Io {
            file: path.display().to_string(),
            reason: reason.to_string(),
        }
    }
}

/// A number in a message: shortest round trip, with an exponent for large and small
/// magnitudes (`1e308`, not 309 digits; `2.5e-7`; `0.01`).
#[must_use]
pub fn show_f64(x: f64) -> String {
    if needs_exponent(x) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Whether plain decimal notation would spell out more digits than the value has.
fn needs_exponent(x: f64) -> bool {
    let a = x.abs();
    a.is_finite() && (a >= 1e16 || (a > 0.0 && a < 1e-5))
}

/// Renders a TOML value the way the user wrote it (strings quoted, tables inline).
#[must_use]
pub fn show_value(v: &toml::Value) -> String {
    let mut s = String::new();
    match v {
        toml::Value::String(x) => {
            let _ = write!(s, "{x:?}");
        }
        toml::Value::Table(t) => {
            s.push('{');
            for (i, (k, x)) in t.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                let _ = write!(s, "{k} = {}", show_value(x));
            }
            s.push('}');
        }
        // TOML's own form ("1.0") unless that would spell out hundreds of digits.
        toml::Value::Float(x) if needs_exponent(*x) => s.push_str(&show_f64(*x)),
        other => {
            let _ = write!(s, "{other}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{show_f64, show_value};

    #[test]
    fn numbers_in_messages_are_short() {
        for (x, want) in [
            (1e308, "1e308"),
            (-2.5e-7, "-2.5e-7"),
            (0.01, "0.01"),
            (6.5, "6.5"),
            (0.0, "0"),
            (1e15, "1000000000000000"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(show_f64(x), want);
        }
        assert_eq!(show_value(&toml::Value::Float(1e308)), "1e308");
    }
}
