//! Command-line interface of convsim: run, validate, inspect, plot, bench, train.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod bench;

/// convsim: scientific simulation where every spatial operator is a convolution.
#[derive(Debug, Parser)]
#[command(name = "convsim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the benchmark workloads of shared/bench/WORKLOADS.md.
    Bench(bench::BenchArgs),
}

/// Entry point of the `convsim` binary: parses arguments, runs the command, and turns every
/// error into one message on stderr with exit code 2.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
