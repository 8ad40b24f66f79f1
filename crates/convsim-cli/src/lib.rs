//! Command-line interface of convsim: run, validate, inspect, plot, bench, train.

use std::process::ExitCode;

/// Entry point of the `convsim` binary.
#[must_use]
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
