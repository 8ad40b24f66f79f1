//! Command-line interface of convsim: run, validate, inspect, plot, train, bench.
//!
//! Every user error (bad scenario, missing file, existing output, ...) ends the command with ONE
//! line `error: <file>: <key>: <value>: <what is allowed>` on stderr and exit code 2; a bug
//! (a panic) prints one line and exits with 101, never a backtrace.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory as _, Parser, Subcommand};
use convsim_scenario::driver::{self, RunOptions};
use convsim_scenario::limits::{Bytes, MemoryLimit};
use convsim_scenario::outputs::OutputDir;
use convsim_scenario::pictures::{self, Frames, PlotRequest};
use convsim_scenario::train::TrainScenario;
use convsim_scenario::{Scenario, ScenarioError};

pub mod bench;
mod files;
#[cfg(feature = "mpi")]
mod mpi;
mod output;
mod progress;
pub mod signals;
mod summary;
pub mod train;

use output::{errln, outln};
use progress::{Reporter, Verbosity};

/// convsim: scientific simulation where every spatial operator is a convolution.
#[derive(Debug, Parser)]
#[command(name = "convsim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario: write the HDF5 run file and its pictures into the output folder.
    Run(RunArgs),
    /// Resolve and check a scenario without running it; print the resolved config.
    Validate(ValidateArgs),
    /// Show what a run file holds: attributes, datasets, shapes, diagnostics.
    Inspect(InspectArgs),
    /// Draw pictures of a run file: PNGs of fields, the diagnostics, GIFs.
    Plot(PlotArgs),
    /// Run the scenario stored in a run file again (its inputs are named by absolute paths).
    Rerun(RerunArgs),
    /// Learn a solver's time step from its run data (a training scenario, see scenarios/cnn/).
    Train(train::TrainArgs),
    /// Run the benchmark workloads (docs/benchmarks.md).
    Bench(bench::BenchArgs),
    /// Print a shell completion script (`convsim completions bash > ~/.local/share/bash-completion/completions/convsim`)
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): convsim man > convsim.1; man ./convsim.1
    Man,
}

/// Options shared by `run` and `rerun` (command-line flags, hence the bools).
#[derive(Debug, Args)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each bool is one independent command-line flag"
)]
struct RunCommon {
    /// Output folder (default: runs/<run name>/); its parent must exist (or --parents).
    #[arg(short = 'o', long = "out")]
    out: Option<PathBuf>,
    /// Override a key of the scenario: --set time.steps=100 (value parsed as TOML); --set key=
    /// removes the key. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Replace an existing run in the output folder.
    #[arg(long)]
    force: bool,
    /// Create the output folder's missing parent folders.
    #[arg(long)]
    parents: bool,
    /// No progress output.
    #[arg(short, long)]
    quiet: bool,
    /// A progress line per frame written, too.
    #[arg(short, long, conflicts_with = "quiet")]
    verbose: bool,
    /// Print the closing summary as one JSON line.
    #[arg(long)]
    json: bool,
    /// After the summary, how long each MPI rank waited for the others inside its steps
    /// (halo receives still pending after its tile interior, all-to-alls): the rest of the
    /// stepping is compute; the summary's `time` line has the output's share. On stderr as
    /// one JSON line with --json. Distributed runs only (one process never waits).
    #[arg(long)]
    profile: bool,
    /// Refuse a run that needs more memory than this (e.g. 512M, 8G; default: the memory
    /// available on this machine).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<Bytes>,
}

fn parse_size(s: &str) -> std::result::Result<Bytes, String> {
    convsim_scenario::limits::parse_size(s)
}

#[derive(Debug, Args)]
struct RerunArgs {
    /// The run file (run.h5) whose stored scenario to run.
    run: PathBuf,
    #[command(flatten)]
    common: RunCommon,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The scenario TOML file.
    scenario: PathBuf,
    #[command(flatten)]
    common: RunCommon,
    /// Continue the run in the output folder from its last checkpoint.
    #[arg(long, conflicts_with = "force")]
    resume: bool,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// The scenario TOML file.
    scenario: PathBuf,
    /// Override a key of the scenario (as for `run`). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print JSON (with a `derived` table) instead of a runnable TOML scenario.
    #[arg(long)]
    json: bool,
    /// Check the run against this memory limit instead of the machine's (as for `run`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_memory: Option<Bytes>,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The run file (run.h5) or training file (train.h5).
    run: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct PlotArgs {
    /// The run file (run.h5) or training file (train.h5).
    run: PathBuf,
    /// Field to draw (default: all). Repeatable.
    #[arg(long = "field")]
    field: Vec<String>,
    /// Frame index (negative counts from the end) or `all` (default: first and last).
    #[arg(long, allow_hyphen_values = true)]
    frame: Option<String>,
    /// Also draw an animated GIF of each field.
    #[arg(long)]
    gif: bool,
    /// Output folder (default: the run file's folder).
    #[arg(short = 'o', long = "out")]
    out: Option<PathBuf>,
}

/// Entry point of the `convsim` binary: parses arguments, runs the command, and turns every
/// error into one message on stderr with exit code 2 (101 for a bug).
#[must_use]
pub fn main() -> ExitCode {
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                // A closed stdout (convsim --help | true) is not an error.
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // One line: clap's message up to its usage block (it starts with "error:").
            let text = e.render().to_string();
            let msg: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            let msg = if msg.is_empty() {
                "error: bad arguments".to_string()
            } else {
                msg.join(" ")
            };
            errln!("{msg} (see convsim --help)");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Run(a) => run(&a),
        Command::Rerun(a) => rerun(&a),
        Command::Validate(a) => validate(&a),
        Command::Inspect(a) => inspect(&a),
        Command::Plot(a) => plot(&a),
        Command::Train(a) => train::run(&a),
        Command::Bench(args) => bench::run(&args),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "convsim", &mut buf);
            output::emit(&String::from_utf8_lossy(&buf));
            Ok(())
        }
        Command::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut buf)
                .context("rendering the manual page")
                .map(|()| output::emit(&String::from_utf8_lossy(&buf)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Another rank of a distributed run reported the error.
        Err(e) if e.downcast_ref::<Silent>().is_some() => ExitCode::from(2),
        Err(e) if e.downcast_ref::<Interrupted>().is_some() => ExitCode::from(
            e.downcast_ref::<Interrupted>()
                .map_or(130, Interrupted::report),
        ),
        // Printed already (rank 0 of a distributed run, before the ranks parted).
        Err(e) if e.downcast_ref::<Reported>().is_some() => {
            ExitCode::from(e.downcast_ref::<Reported>().map_or(2, |r| r.0))
        }
        Err(e) => {
            // One line: the messages are single lines; chains are joined with ": ".
            let msg = format!("{e:#}").replace('\n', " ");
            errln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// A panic is a bug: one line naming where it happened, exit code 101, no backtrace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        // A write to a closed pipe that slipped past `output::emit`: quiet, like `emit`.
        if msg.contains("Broken pipe") || msg.contains("failed printing to std") {
            std::process::exit(0);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        errln!(
            "error: internal error (a bug in convsim; please report it): {}{at}",
            msg.replace('\n', " ")
        );
        std::process::exit(101);
    }));
}

/// A run stopped by SIGINT / SIGTERM: its one-line message and exit code (128 + signal).
#[derive(Debug)]
struct Interrupted {
    code: u8,
    message: String,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Interrupted {}

impl Interrupted {
    /// Prints the one line, settles the signals (a later one exits quietly, see
    /// [`signals::settle`]) and returns the exit code.
    fn report(&self) -> u8 {
        errln!("{self}");
        signals::settle();
        self.code
    }
}

/// An interrupted run whose line is printed already: exit with this code, nothing more.
#[derive(Debug)]
struct Reported(u8);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reported (exit code {})", self.0)
    }
}

impl std::error::Error for Reported {}

/// Prints an [`Interrupted`] error now and turns it into [`Reported`]; any other result is
/// returned as it is. Rank 0 of a distributed run calls it before the ranks part: once they
/// have, a rank exiting with an error makes `mpirun` end the others with SIGTERM, which then
/// finds the line printed and the outcome settled.
#[cfg(feature = "mpi")]
fn report_interrupted<T>(r: Result<T>) -> Result<T> {
    match r {
        Err(e) if e.downcast_ref::<Interrupted>().is_some() => Err(Reported(
            e.downcast_ref::<Interrupted>()
                .map_or(130, Interrupted::report),
        )
        .into()),
        r => r,
    }
}

/// A failure another process reports (a rank other than 0 of a distributed run): exit
/// code 2, nothing printed.
#[derive(Debug)]
struct Silent;

impl std::fmt::Display for Silent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reported by rank 0")
    }
}

impl std::error::Error for Silent {}

/// The command that continues a run, for the message of an interrupted one.
fn resume_command(scenario: &Path, sets: &[String], out_dir: &Path) -> String {
    let quote = |s: &str| {
        if s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=+,:".contains(c))
        {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', "'\\''"))
        }
    };
    let mut cmd = format!(
        "convsim run {} -o {}",
        quote(&scenario.display().to_string()),
        quote(&out_dir.display().to_string())
    );
    for s in sets {
        cmd.push_str(" --set ");
        cmd.push_str(&quote(s));
    }
    cmd.push_str(" --resume");
    cmd
}

fn run(a: &RunArgs) -> Result<()> {
    #[cfg(feature = "mpi")]
    if mpi::launched() {
        return mpi::run(a);
    }
    let limit = MemoryLimit::detect(a.common.max_memory);
    let s = Scenario::load_limited(&a.scenario, &a.common.set, &limit)?;
    let hint = |out_dir: &Path| resume_command(&a.scenario, &a.common.set, out_dir);
    run_scenario(&s, &a.common, a.resume, &hint, &mut |s| s.solver.build(s)).map(drop)
}

fn rerun(a: &RerunArgs) -> Result<()> {
    let s = files::stored_scenario(&a.run, &a.common.set)?;
    let hint = |out_dir: &Path| {
        format!(
            "convsim run with the scenario stored in {} (convsim validate prints it), -o {} and --resume",
            a.run.display(),
            out_dir.display()
        )
    };
    run_scenario(&s, &a.common, false, &hint, &mut |s| s.solver.build(s)).map(drop)
}

/// The exit of an interrupted run: one line, exit code 128 + the signal.
fn interrupted(signal: i32, message: String) -> anyhow::Error {
    Interrupted {
        code: u8::try_from(128 + signal).unwrap_or(130),
        message: format!("interrupted: {message}"),
    }
    .into()
}

/// Runs a resolved scenario with the progress display and the closing summary; SIGINT and
/// SIGTERM stop it at a step boundary (`resume_hint` says how to continue); `build` makes the
/// solver (see `driver::run_with`).
fn run_scenario(
    s: &Scenario,
    c: &RunCommon,
    resume: bool,
    resume_hint: &dyn Fn(&Path) -> String,
    build: &mut dyn FnMut(&Scenario) -> convsim_scenario::Result<Box<dyn convsim_core::Simulation>>,
) -> Result<Option<driver::Timing>> {
    if let Some(out) = &c.out {
        files::check_out_dir(out, c.parents)?;
    }
    let out_dir = c.out.clone().unwrap_or_else(|| driver::default_out_dir(s));
    let stop = signals::install();
    let opts = RunOptions {
        out_dir: out_dir.clone(),
        force: c.force,
        resume,
        stop: Some(stop),
    };
    let verbosity = if c.quiet {
        Verbosity::Quiet
    } else if c.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let mut reporter = Reporter::new(&s.name, s.time.steps, verbosity);
    let result = driver::run_with(s, &opts, build, &mut |p| reporter.update(p));
    reporter.finish();
    let r = match result {
        Err(ScenarioError::Interrupted {
            signal,
            step,
            time,
            frames,
            run_file,
            resumable,
        }) => {
            let kept = if resumable {
                format!(
                    "and a checkpoint of this step kept; continue with: {}",
                    resume_hint(&out_dir)
                )
            } else {
                format!("kept; {}", convsim_scenario::error::NOT_RESUMABLE)
            };
            return Err(interrupted(
                signal,
                format!(
                    "{run_file}: stopped by {} at step {step}, t = {time:.6e}: {frames} frame(s) {kept}",
                    signals::name(signal),
                ),
            ));
        }
        Err(ScenarioError::InterruptedBeforeStart { signal, dir }) => {
            return Err(interrupted(
                signal,
                format!(
                    "{dir}: stopped by {} before the run's first frame; nothing in the folder was changed",
                    signals::name(signal)
                ),
            ));
        }
        other => other?,
    };
    if r.already_complete {
        outln!(
            "{}: the run is already complete ({} steps to t = {:.6e}, {} frames); nothing to do",
            r.run_file.display(),
            r.steps,
            r.time,
            r.frames
        );
        return Ok(None);
    }
    let sig = stop.load(std::sync::atomic::Ordering::Relaxed);
    if sig != 0 {
        return Err(interrupted(
            sig,
            format!(
                "{}: the run is complete but its pictures were not drawn ({}); draw them with: convsim plot {}",
                r.run_file.display(),
                signals::name(sig),
                r.run_file.display()
            ),
        ));
    }
    summary::print(&r, c.json)?;
    Ok(Some(r.timing))
}

fn validate(a: &ValidateArgs) -> Result<()> {
    if convsim_scenario::train::is_training_file(&a.scenario) {
        let ts = TrainScenario::load(&a.scenario, &a.set)?;
        if a.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&ts.to_table()).context("encoding JSON")?
            );
        } else {
            outln!(
                "# {}: valid training scenario (it runs as is: convsim train FILE); derived values as comments",
                a.scenario.display()
            );
            output::emit(&ts.to_toml_string());
        }
        return Ok(());
    }
    let limit = MemoryLimit::detect(a.max_memory);
    let s = Scenario::load_limited(&a.scenario, &a.set, &limit)?;
    if a.json {
        outln!("{}", s.to_json_string());
    } else {
        // A runnable scenario: `convsim validate x.toml > resolved.toml` runs as is.
        outln!(
            "# {}: valid. The resolved scenario (every default filled in, input paths absolute);\n# it runs as is: convsim run FILE.",
            a.scenario.display()
        );
        outln!(
            "# It needs {} of memory (limit {}: {}) and up to {} on disk (resources below).",
            s.footprint.memory(),
            limit.bytes,
            limit.source,
            s.footprint.disk()
        );
        output::emit(&s.to_runnable_toml());
    }
    Ok(())
}

fn inspect(a: &InspectArgs) -> Result<()> {
    if files::is_train_file(&a.run) {
        return files::inspect_train(&a.run, a.json);
    }
    let f = convsim_io::RunFile::open(&a.run)?;
    let s = f.summary()?;
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&s).context("encoding the summary as JSON")?
        );
        return Ok(());
    }
    outln!("{}", s.path.display());
    for (k, v) in &s.attributes {
        if k == "scenario" || k == "recipe" {
            outln!("  @{k}: ({} lines; --json shows it)", v.lines().count());
        } else {
            outln!("  @{k}: {v}");
        }
    }
    let g = &s.grid;
    outln!(
        "  grid: ny = {}, nx = {}, dy = {}, dx = {}, y0 = {}, x0 = {}",
        g.ny,
        g.nx,
        g.dy,
        g.dx,
        g.y0,
        g.x0
    );
    let span = |p: Option<(u64, f64)>| {
        p.map_or_else(
            || "-".into(),
            |(k, t)| format!("step {k}, t = {t} {}", s.time_units),
        )
    };
    outln!(
        "  frames: {} (first: {}; last: {})",
        s.frames,
        span(s.first),
        span(s.last)
    );
    for d in s.fields.iter().chain(&s.static_fields) {
        outln!(
            "  {} {:?} {} [{}]: {}",
            d.path,
            d.shape,
            d.dtype,
            d.quantity.units,
            d.quantity.long_name
        );
    }
    for (d, sum) in s.diagnostics.iter().zip(&s.diagnostic_summaries) {
        outln!(
            "  {} {:?} [{}]: min {:.6e}, max {:.6e}, last {:.6e}",
            d.path,
            d.shape,
            d.quantity.units,
            sum.min,
            sum.max,
            sum.last
        );
    }
    for r in &s.receivers {
        let g = f.read_receivers(r)?;
        let (n, nt) = g.traces.dim();
        let sources: Vec<String> = g
            .sources
            .iter()
            .map(|p| format!("({}, {})", p[0], p[1]))
            .collect();
        outln!(
            "  /receivers/{r}/gather [{n}, {nt}] [{}]: {n} receivers, {}/{nt} samples recorded, dt = {} {}, source (y, x) = {}",
            g.quantity.units,
            g.recorded,
            g.dt,
            s.time_units,
            if sources.is_empty() {
                "-".into()
            } else {
                sources.join(", ")
            }
        );
    }
    Ok(())
}

fn plot(a: &PlotArgs) -> Result<()> {
    let frames = match a.frame.as_deref() {
        None => Frames::FirstLast,
        Some("all") => Frames::All,
        Some(k) => Frames::One(k.trim().parse().map_err(|_| {
            convsim_scenario::ScenarioError::invalid(
                a.run.display().to_string(),
                "--frame",
                k,
                "allowed: a frame index (negative counts from the end) or all",
            )
        })?),
    };
    let out = a.out.clone().unwrap_or_else(|| {
        a.run
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    });
    // The pictures are recorded in the folder's manifest, under its lock (`outputs`).
    let mut folder = OutputDir::open(&out)?;
    if files::is_train_file(&a.run) {
        for p in convsim_scenario::train::draw_train_file(&a.run, &mut folder)? {
            outln!("{}", p.display());
        }
        return Ok(());
    }
    let req = PlotRequest {
        fields: if a.field.is_empty() {
            None
        } else {
            Some(a.field.clone())
        },
        frames,
        gif: a.gif,
        diagnostics: a.field.is_empty(),
        gathers: a.field.is_empty(),
    };
    for p in pictures::draw_run(&a.run, &mut folder, &req)? {
        outln!("{}", p.display());
    }
    Ok(())
}
