//! Resource limits: the memory and disk a run needs, computed from the resolved scenario before
//! anything large is allocated, and the memory this machine (or `--max-memory`) allows.
//!
//! A run that cannot fit is refused with the figures, the way SPECFEM and Devito refuse a model
//! before allocating it, instead of dying halfway with "memory allocation failed". Every size is
//! a [`Bytes`]: 128-bit and saturating, so a grid of `2^62 x 2^62` samples is "more than
//! 16 EiB", never a wrapped small number or a capacity-overflow panic.
//!
//! The estimate is an upper bound of what the run allocates at its peak (checked against the
//! allocations measured in `tests/memory_estimate.rs`): the solver's arrays (padded fields,
//! absorbing layers, models, FFT plans, recorded gathers, wavelets), the initial fields sampled
//! at setup, the frame buffers and HDF5's compression of one frame, one copy of the state for a
//! checkpoint, and then, with the solver freed, what the pictures read back. On disk it counts
//! the frames uncompressed (deflate usually shrinks smooth fields several times), the
//! diagnostics, the gathers and the checkpoint.

use std::fmt;

use crate::error::{Result, ScenarioError};

/// A byte count that saturates instead of overflowing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u128);

impl Bytes {
    /// `count` elements of `size` bytes.
    #[must_use]
    pub fn of(count: u128, size: u128) -> Bytes {
        Bytes(count.saturating_mul(size))
    }

    /// `self * n`.
    #[must_use]
    pub fn times(self, n: u128) -> Bytes {
        Bytes(self.0.saturating_mul(n))
    }

    /// `self + other`.
    #[must_use]
    pub fn plus(self, other: Bytes) -> Bytes {
        Bytes(self.0.saturating_add(other.0))
    }

    /// As a `u64`, saturated (for attributes and JSON).
    #[must_use]
    pub fn as_u64(self) -> u64 {
        u64::try_from(self.0).unwrap_or(u64::MAX)
    }
}

impl std::iter::Sum for Bytes {
    fn sum<I: Iterator<Item = Bytes>>(iter: I) -> Bytes {
        iter.fold(Bytes(0), Bytes::plus)
    }
}

impl fmt::Display for Bytes {
    /// Binary units with three significant digits: `512 B`, `1.50 KiB`, `74.5 GiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 > u128::from(u64::MAX) {
            return f.write_str("more than 16 EiB");
        }
        let mut v = self.0 as f64;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < UNITS.len() {
            v /= 1024.0;
            u += 1;
        }
        if u == 0 {
            write!(f, "{} B", self.0)
        } else if v >= 100.0 {
            write!(f, "{v:.0} {}", UNITS[u])
        } else if v >= 10.0 {
            write!(f, "{v:.1} {}", UNITS[u])
        } else {
            write!(f, "{v:.2} {}", UNITS[u])
        }
    }
}

/// Parses a size as given to `--max-memory`: a number of bytes with an optional unit `K`, `M`,
/// `G`, `T` (powers of 1024; `KiB`, `MB`, ... are read the same way), e.g. `512M`, `8G`, `1.5GiB`.
///
/// # Errors
/// A message saying what is allowed.
pub fn parse_size(s: &str) -> std::result::Result<Bytes, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit
        .trim()
        .to_ascii_lowercase()
        .trim_end_matches("ib")
        .trim_end_matches('b')
    {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{s:?}: allowed: a size such as 512M, 8G or 1.5T")),
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * scale < 1.8e19 => Ok(Bytes((v * scale) as u128)),
        _ => Err(format!(
            "{s:?}: allowed: a positive size such as 512M, 8G or 1.5T (below 16 EiB)"
        )),
    }
}

/// One entry of a footprint.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// What it is (`"solver arrays"`, `"gathers"`, ...).
    pub what: String,
    /// The scenario keys it grows with, for the message of a refused run.
    pub keys: String,
    /// Its size.
    pub bytes: Bytes,
}

impl Item {
    /// Shorthand constructor.
    #[must_use]
    pub fn new(what: impl Into<String>, keys: impl Into<String>, bytes: Bytes) -> Item {
        Item {
            what: what.into(),
            keys: keys.into(),
            bytes,
        }
    }
}

/// What a run needs: memory while it steps, memory while it draws its pictures (the solver is
/// freed by then), and disk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Footprint {
    /// Memory held while stepping and writing.
    pub run: Vec<Item>,
    /// Memory held while drawing the pictures at the end.
    pub pictures: Vec<Item>,
    /// Bytes written to the output folder (an upper bound: frames counted uncompressed).
    pub disk: Vec<Item>,
}

fn sum(items: &[Item]) -> Bytes {
    items.iter().map(|i| i.bytes).sum()
}

fn list(items: &[Item]) -> String {
    let mut v: Vec<&Item> = items.iter().filter(|i| i.bytes.0 > 0).collect();
    v.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    v.iter()
        .map(|i| format!("{} {}", i.what, i.bytes))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Footprint {
    /// Peak memory: the larger of the two phases.
    #[must_use]
    pub fn memory(&self) -> Bytes {
        sum(&self.run).max(sum(&self.pictures))
    }

    /// Bytes written to disk.
    #[must_use]
    pub fn disk(&self) -> Bytes {
        sum(&self.disk)
    }

    /// The `resources` table of `convsim validate --json` (comments in its TOML output).
    #[must_use]
    pub fn to_table(&self) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert("memory".into(), self.memory().to_string().into());
        t.insert(
            "memory_bytes".into(),
            i64::try_from(self.memory().0).unwrap_or(i64::MAX).into(),
        );
        t.insert("memory_run".into(), list(&self.run).into());
        if self.pictures.iter().any(|i| i.bytes.0 > 0) {
            t.insert("memory_pictures".into(), list(&self.pictures).into());
        }
        t.insert("disk".into(), self.disk().to_string().into());
        t.insert(
            "disk_bytes".into(),
            i64::try_from(self.disk().0).unwrap_or(i64::MAX).into(),
        );
        t.insert("disk_items".into(), list(&self.disk).into());
        t
    }

    /// Refuses a run that needs more memory than `limit`, naming the keys of the largest item.
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`]: `<file>: <keys>: needs <total> of memory (<items>): <limit>`.
    pub fn check(&self, file: &str, limit: &MemoryLimit) -> Result<()> {
        let need = self.memory();
        if need <= limit.bytes {
            return Ok(());
        }
        let (phase, when) = if sum(&self.run) >= sum(&self.pictures) {
            (&self.run, "while it steps")
        } else {
            (&self.pictures, "while it draws its pictures")
        };
        let keys = phase
            .iter()
            .max_by_key(|i| i.bytes)
            .map_or("grid", |i| i.keys.as_str());
        Err(ScenarioError::invalid(
            file,
            keys,
            format!("the run needs {need} of memory {when} ({})", list(phase)),
            format!(
                "allowed: at most {} ({}); make the largest item smaller, or set the limit with --max-memory",
                limit.bytes, limit.source
            ),
        ))
    }
}

/// The memory a run may use, and where that figure comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The limit.
    pub bytes: Bytes,
    /// Where it comes from, for messages (`"MemAvailable in /proc/meminfo"`, `"--max-memory"`).
    pub source: String,
}

impl MemoryLimit {
    /// No limit (library use without a machine to ask, and tests).
    #[must_use]
    pub fn unlimited() -> MemoryLimit {
        MemoryLimit {
            bytes: Bytes(u128::MAX),
            source: "no limit".into(),
        }
    }

    /// The limit of this process: `max_memory` if given, else the memory this machine can give
    /// a new process without swapping, `MemAvailable` of `/proc/meminfo` (free memory plus the
    /// page cache the kernel can reclaim; `MemTotal` would accept runs that push other
    /// processes into swap or get the run killed by the OOM killer), capped by the cgroup's
    /// `memory.max` (containers, whose `/proc/meminfo` shows the host). In both cases capped by
    /// the address space `ulimit -v` leaves (a hard limit: allocations beyond it fail).
    #[must_use]
    pub fn detect(max_memory: Option<Bytes>) -> MemoryLimit {
        let mut best = match max_memory {
            Some(b) => MemoryLimit {
                bytes: b,
                source: "--max-memory".into(),
            },
            None => machine_limit(),
        };
        if let Some(room) = address_space_room()
            && room < best.bytes
        {
            best = MemoryLimit {
                bytes: room,
                source: "the address space ulimit -v leaves this process".into(),
            };
        }
        best
    }
}

fn machine_limit() -> MemoryLimit {
    let mut best = MemoryLimit {
        bytes: Bytes(u128::MAX),
        source: "no /proc/meminfo on this system: no limit; use --max-memory".into(),
    };
    if let Some(kb) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| kib_field(&t, "MemAvailable:"))
    {
        best = MemoryLimit {
            bytes: Bytes::of(kb, 1024),
            source: "MemAvailable in /proc/meminfo".into(),
        };
    }
    if let Some(max) = cgroup_memory_max()
        && max < best.bytes
    {
        best = MemoryLimit {
            bytes: max,
            source: "memory.max of this process's cgroup".into(),
        };
    }
    best
}

/// `<name> <number> kB` in a `/proc` status-style text.
fn kib_field(text: &str, name: &str) -> Option<u128> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `memory.max` of the cgroup v2 this process is in (`None`: no cgroup v2 or no limit).
fn cgroup_memory_max() -> Option<Bytes> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?;
    let path = format!("/sys/fs/cgroup{}/memory.max", rel.trim_end_matches('/'));
    let v = std::fs::read_to_string(path).ok()?;
    v.trim().parse::<u128>().ok().map(Bytes)
}

/// The soft `RLIMIT_AS` minus the address space already in use and what the worker threads
/// will reserve (a stack and a malloc arena each, about 72 MiB of address space) (`None`:
/// unlimited).
fn address_space_room() -> Option<Bytes> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let soft = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max address space"))?
        .split_whitespace()
        .next()?
        .parse::<u128>()
        .ok()?;
    let used = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| kib_field(&t, "VmSize:"))
        .map_or(0, |kb| kb * 1024);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get) as u128;
    Some(Bytes(
        soft.saturating_sub(used)
            .saturating_sub(threads * (72 << 20)),
    ))
}

/// What the solver of a kind holds, as the kind computes it from its resolved table before
/// building anything (see [`crate::kinds::KindConfig::footprint`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolverFootprint {
    /// The solver's memory while it runs (state, padded buffers, models, plans, gathers, ...).
    pub memory: Vec<Item>,
    /// Bytes of the state a checkpoint copies ([`convsim_core::Simulation::state`]).
    pub state: Bytes,
    /// Bytes of the recorded shot gathers (receivers x samples x shots, f64).
    pub gathers: Bytes,
    /// Number of diagnostics the solver reports.
    pub diagnostics: u128,
}

/// Memory items shared by every kind: what the driver, the run file and the pictures hold.
#[derive(Debug)]
pub(crate) struct RunShape {
    /// `ny * nx` (saturated).
    pub cells: u128,
    /// Initial fields the scenario samples on the grid.
    pub initial: u128,
    /// Fields written per frame.
    pub fields: u128,
    /// Frames written.
    pub frames: u128,
    /// Pictures drawn at the end.
    pub plots: bool,
    /// A GIF per field.
    pub gif: bool,
    /// Checkpoints written (`output.checkpoint_every > 0`).
    pub checkpoints: bool,
}

/// What resolution checks memory against: the run's shape and the limit. A kind calls
/// [`crate::config::Ctx::check_memory`] with its [`SolverFootprint`] before it builds anything
/// large (a probe solver, a model array).
#[derive(Debug)]
pub(crate) struct Budget {
    pub shape: RunShape,
    pub limit: MemoryLimit,
}

impl Budget {
    /// The budget of a run on `grid` sampling `initial` fields, with `output`, under `limit`.
    pub(crate) fn new(
        grid: &convsim_core::Grid,
        initial: usize,
        output: &crate::OutputConfig,
        limit: &MemoryLimit,
    ) -> Budget {
        Budget {
            shape: RunShape {
                cells: (grid.ny as u128).saturating_mul(grid.nx as u128),
                initial: initial as u128,
                fields: output.fields.len() as u128,
                frames: u128::from(output.frames),
                plots: output.plots,
                gif: output.gif,
                checkpoints: output.checkpoint_every > 0,
            },
            limit: limit.clone(),
        }
    }

    /// Refuses `solver` (plus what the driver and pictures need) beyond the limit.
    pub(crate) fn check(&self, file: &str, solver: &SolverFootprint) -> Result<Footprint> {
        let f = footprint(&self.shape, solver);
        f.check(file, &self.limit)?;
        Ok(f)
    }
}

/// The least any solver holds: its state, one f64 per cell (checked before the kind resolves
/// its table, so a grid of 10^10 cells is refused before anything samples it).
pub(crate) fn minimal_solver(cells: u128) -> SolverFootprint {
    SolverFootprint {
        memory: vec![Item::new(
            "solver state (at least)",
            "grid.nx, grid.ny",
            Bytes::of(cells, 8),
        )],
        state: Bytes::of(cells, 8),
        gathers: Bytes(0),
        diagnostics: 0,
    }
}

/// Most frames a GIF holds (`pictures::GIF_MAX_FRAMES`).
const GIF_FRAMES: u128 = 100;
/// The program, its libraries (libhdf5, zlib), thread stacks and allocator arenas: what even a
/// tiny run holds (measured resident size of a 16 x 16 run: about 20 MiB).
const BASELINE: Bytes = Bytes(32 * 1024 * 1024);

/// Bitmaps, fonts and the PNG/GIF encoders of the pictures: their size is the picture's, not
/// the grid's (measured: about 4.5 MiB at most, with a GIF).
const CANVAS: Bytes = Bytes(6 * 1024 * 1024);

/// The whole footprint of a run.
pub(crate) fn footprint(shape: &RunShape, solver: &SolverFootprint) -> Footprint {
    let c = shape.cells;
    let f64s = |n: u128| Bytes::of(c, 8).times(n);
    let grid = "grid.nx, grid.ny";
    let mut run = vec![Item::new(
        "program and libraries",
        "grid.nx, grid.ny",
        BASELINE,
    )];
    run.extend(solver.memory.iter().cloned());
    run.push(Item::new(
        "initial fields sampled at setup",
        "initial",
        f64s(shape.initial),
    ));
    // One f64 buffer per written field, the writer's f32 buffer, and HDF5's shuffle and
    // deflate buffers for one frame chunk.
    run.push(Item::new(
        "frame buffers",
        "output.fields",
        f64s(shape.fields).plus(Bytes::of(c, 4)).plus(f64s(2)),
    ));
    // A checkpoint copies the state; an interrupted run writes one even without
    // output.checkpoint_every, and a resume reads one back.
    run.push(Item::new(
        "checkpoint copy of the state",
        grid,
        solver.state,
    ));
    let mut pictures = Vec::new();
    if shape.plots {
        let frames_read = if shape.gif {
            shape.frames.min(GIF_FRAMES)
        } else {
            1
        };
        pictures.push(Item::new("program and libraries", grid, BASELINE));
        pictures.push(Item::new(
            "picture canvases and encoders",
            "output.plots",
            CANVAS,
        ));
        // Plus one frame's working copy while a picture is drawn (ranges, masks).
        pictures.push(Item::new(
            "frames read back for pictures",
            "output.gif, grid.nx, grid.ny",
            f64s(frames_read + 1),
        ));
        pictures.push(Item::new(
            "diagnostics read back for plots",
            "time.steps, output.every",
            Bytes::of(shape.frames, 8).times(solver.diagnostics + 2),
        ));
        pictures.push(Item::new(
            "gathers read back for plots",
            "seismic.receivers, time.t_end",
            solver.gathers,
        ));
    }
    let disk_frames = Bytes::of(c, 8).times(shape.fields).times(shape.frames);
    let mut disk = vec![
        Item::new(
            "frames (uncompressed)",
            "grid.nx, grid.ny, time.steps, output.every",
            disk_frames,
        ),
        Item::new(
            "diagnostics and scales",
            "time.steps, output.every",
            Bytes::of(shape.frames, 8).times(solver.diagnostics + 2),
        ),
        Item::new("gathers", "seismic.receivers, time.t_end", solver.gathers),
    ];
    // The checkpoint and its temporary successor during a write.
    disk.push(Item::new(
        "checkpoints",
        "output.checkpoint_every",
        if shape.checkpoints {
            solver.state.times(2)
        } else {
            Bytes(0)
        },
    ));
    Footprint {
        run,
        pictures,
        disk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_saturate_and_print_in_binary_units() {
        assert_eq!(Bytes(512).to_string(), "512 B");
        assert_eq!(Bytes(1536).to_string(), "1.50 KiB");
        assert_eq!(Bytes::of(100_000 * 100_000, 8).to_string(), "74.5 GiB");
        let huge = Bytes::of(1 << 62, 1 << 62).times(8);
        assert_eq!(huge.to_string(), "more than 16 EiB");
        assert_eq!(Bytes(u128::MAX).plus(Bytes(1)), Bytes(u128::MAX));
        assert_eq!(huge.as_u64(), u64::MAX);
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512").unwrap(), Bytes(512));
        assert_eq!(parse_size("2K").unwrap(), Bytes(2048));
        assert_eq!(parse_size("1.5GiB").unwrap(), Bytes(3 << 29));
        assert_eq!(parse_size("8g").unwrap(), Bytes(8 << 30));
        assert_eq!(parse_size(" 3MB ").unwrap(), Bytes(3 << 20));
        for bad in ["", "-1G", "0", "1X", "nan", "1e30"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_run_beyond_the_limit_is_refused_with_its_largest_item() {
        let solver = SolverFootprint {
            memory: vec![
                Item::new("solver arrays", "grid.nx, grid.ny", Bytes(100 << 20)),
                Item::new("gathers", "time.t_end", Bytes(3 << 40)),
            ],
            state: Bytes(1 << 20),
            gathers: Bytes(3 << 40),
            diagnostics: 2,
        };
        let shape = RunShape {
            cells: 1 << 16,
            initial: 1,
            fields: 1,
            frames: 11,
            plots: true,
            gif: false,
            checkpoints: false,
        };
        let f = footprint(&shape, &solver);
        assert!(f.memory() > Bytes(3 << 40));
        let limit = MemoryLimit {
            bytes: Bytes(8 << 30),
            source: "test".into(),
        };
        let e = f.check("s.toml", &limit).unwrap_err().to_string();
        assert!(
            e.starts_with("s.toml: time.t_end: the run needs 3.00 TiB of memory while it steps"),
            "{e}"
        );
        assert!(
            e.contains("gathers 3.00 TiB") && e.contains("8.00 GiB (test)"),
            "{e}"
        );
        assert!(f.check("s.toml", &MemoryLimit::unlimited()).is_ok());
    }

    #[test]
    fn the_machine_limit_names_its_source() {
        let l = MemoryLimit::detect(None);
        assert!(l.bytes.0 > 0);
        assert!(!l.source.is_empty());
        let given = MemoryLimit::detect(Some(Bytes(1 << 30)));
        assert!(given.bytes <= Bytes(1 << 30));
    }
}
