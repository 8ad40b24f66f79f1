//! Scenario files -> a typed, validated [`Scenario`], before any compute.
//!
//! Resolution reads the TOML file, applies `--set key.path=value` overrides (each value parsed as
//! TOML, so it is type-checked exactly like the file), checks every key against the schema
//! (unknown keys are errors naming the allowed ones), parses every formula, opens every input
//! dataset, and lets the solver kind check its own table (including the stability limit).
//!
//! ```
//! use convsim_scenario::config::Scenario;
//! let text = r#"
//! [run]
//! solver = "diffusion"
//! [grid]
//! nx = 16
//! ny = 16
//! lx = 1.0
//! [time]
//! dt = 1e-4
//! steps = 10
//! [boundary]
//! all = "periodic"
//! [initial]
//! u = "exp(-((x-0.5)^2 + (y-0.5)^2) / 0.01)"
//! [diffusion]
//! diffusivity = 0.1
//! "#;
//! let s = Scenario::from_str(text, "example.toml".as_ref(), &["time.steps=20".into()]).unwrap();
//! assert_eq!(s.time.steps, 20);
//! assert_eq!(s.grid.dx, 1.0 / 16.0);
//! let err = Scenario::from_str(&text.replace("nx = 16", "nx = 16\nnz = 3"), "example.toml".as_ref(), &[])
//!     .unwrap_err()
//!     .to_string();
//! assert!(err.starts_with("example.toml: grid.nz: "), "{err}");
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use convsim_core::Grid;
use ndarray::Array2;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, ScenarioError, show_value};
use crate::expr::{Expr, Vars};
use crate::inputs;
use crate::kinds::{self, KindConfig, Kinds, SolverKind};
use crate::limits::{self, Budget, Footprint, MemoryLimit, SolverFootprint};

mod grid;
mod initial;
mod kind;
mod parse;
mod time;

use grid::{resolve_boundary, resolve_constants, resolve_grid};
pub use initial::ParallelOutput;
use initial::{resolve_initial, resolve_parallel};
pub(crate) use kind::COMMON_TABLES;
use kind::resolve_kind;
pub use parse::apply_override;
use parse::deserialize;
pub(crate) use parse::{Parsed, parse_with_overrides};
use time::{resolve_output, resolve_time};

/// The common sections every scenario has; the solver's own table (named after `run.solver`)
/// is taken out before and handed to its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    run: RawRun,
    #[serde(default)]
    constants: BTreeMap<String, f64>,
    grid: RawGrid,
    time: RawTime,
    #[serde(default)]
    boundary: RawBoundary,
    #[serde(default)]
    initial: BTreeMap<String, toml::Value>,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    parallel: RawParallel,
}

/// `[parallel]`: how a distributed run (`mpirun -n N convsim run`, the `mpi` feature) splits
/// the grid. Ignored by a run on one process.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParallel {
    ranks: Option<Vec<usize>>,
    output: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    name: Option<String>,
    // Read from the raw table before (it selects the kind); declared so the schema lists it.
    #[allow(
        dead_code,
        reason = "read from the raw table before (it selects the kind); declared so the schema lists it"
    )]
    solver: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrid {
    nx: usize,
    ny: usize,
    dx: Option<f64>,
    dy: Option<f64>,
    lx: Option<f64>,
    ly: Option<f64>,
    #[serde(default)]
    x0: f64,
    #[serde(default)]
    y0: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTime {
    dt: f64,
    steps: Option<u64>,
    t_end: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoundary {
    all: Option<String>,
    x: Option<String>,
    y: Option<String>,
    left: Option<String>,
    right: Option<String>,
    bottom: Option<String>,
    top: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    every: Option<u64>,
    fields: Option<Vec<String>>,
    #[serde(default = "yes")]
    plots: bool,
    #[serde(default)]
    gif: bool,
    #[serde(default)]
    checkpoint_every: u64,
    #[serde(default)]
    compress: bool,
}

fn yes() -> bool {
    true
}

impl Default for RawOutput {
    fn default() -> Self {
        RawOutput {
            every: None,
            fields: None,
            plots: true,
            gif: false,
            checkpoint_every: 0,
            compress: false,
        }
    }
}

/// A zero `[time]` and nameless sides: what a [`Ctx`] holds before those sections are
/// resolved (messages about `[run]` and the solver's name need neither).
pub(crate) fn unresolved_sections() -> (TimeConfig, Sides4) {
    let side = Side {
        name: String::new(),
        value: 0.0,
    };
    let time = TimeConfig {
        dt: 0.0,
        steps: 0,
        t_end: 0.0,
    };
    let sides = Sides4 {
        left: side.clone(),
        right: side.clone(),
        bottom: side.clone(),
        top: side,
    };
    (time, sides)
}

/// Time stepping.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TimeConfig {
    /// Time step, in the solver's time unit.
    pub dt: f64,
    /// Number of steps.
    pub steps: u64,
    /// Final time, `steps * dt`.
    pub t_end: f64,
}

/// One side of the domain: a boundary name the solver kind accepts, and its value (the fixed
/// value of `dirichlet:<v>`; 0 when the name carries none).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Side {
    /// Canonical name (e.g. `periodic`, `zero_flux`, `dirichlet`).
    pub name: String,
    /// Value attached to the name (`dirichlet:1.5` -> 1.5), else 0.
    pub value: f64,
}

impl Side {
    fn show(&self) -> String {
        if self.value == 0.0 {
            self.name.clone()
        } else {
            format!("{}:{}", self.name, self.value)
        }
    }
}

/// The four sides, in the core's `(y, x)` convention: `top` is before row 0 (`y = y0`),
/// `bottom` after row `ny - 1`, `left` before column 0 (`x = x0`), `right` after column `nx - 1`.
/// Pictures draw row 0 at the top.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Sides4 {
    /// Before column 0 (`x = x0`).
    pub left: Side,
    /// After column `nx - 1`.
    pub right: Side,
    /// After row `ny - 1`.
    pub bottom: Side,
    /// Before row 0 (`y = y0`).
    pub top: Side,
}

/// Output cadence and products.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent switches, each a key of [output]"
)]
pub struct OutputConfig {
    /// Steps between frames (frame 0 is the initial state).
    pub every: u64,
    /// Fields written each frame.
    pub fields: Vec<String>,
    /// `true` when the scenario listed `output.fields` itself: the run then refuses a listed
    /// field its solver does not produce (a seismic `density` without a density model), where
    /// the default list is silently narrowed to what the solver produces.
    pub fields_given: bool,
    /// Draw PNGs at the end.
    pub plots: bool,
    /// Draw a GIF of each field at the end.
    pub gif: bool,
    /// Steps between checkpoints (0 = none).
    pub checkpoint_every: u64,
    /// Fields stored with shuffle + deflate (smaller files, slower frames) instead of raw.
    pub compress: bool,
    /// Number of frames the run writes: step 0, every `every` steps, and the last step.
    pub frames: u64,
}

/// Where a spatial input comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldInput {
    /// The same value everywhere.
    Constant(f64),
    /// A formula of `x, y, r, t` and the scenario constants.
    Formula(Expr),
    /// A 2D dataset of an HDF5 file, shape `(ny, nx)`.
    Dataset {
        /// The file as written in the scenario.
        file: String,
        /// Dataset path inside the file.
        dataset: String,
        /// The values (read and shape-checked at resolution).
        data: Array2<f64>,
    },
}

impl FieldInput {
    /// Values on the grid at time `t`.
    #[must_use]
    pub fn sample(&self, grid: &Grid, t: f64) -> Array2<f64> {
        match self {
            FieldInput::Constant(v) => Array2::from_elem(grid.shape(), *v),
            FieldInput::Formula(e) => {
                let (xs, ys) = (grid.xs(), grid.ys());
                Array2::from_shape_fn(grid.shape(), |(i, j)| {
                    e.eval(&Vars {
                        x: xs[j],
                        y: ys[i],
                        t,
                    })
                })
            }
            FieldInput::Dataset { data, .. } => data.clone(),
        }
    }

    /// As written in a resolved scenario (for `convsim validate`).
    #[must_use]
    pub fn to_toml(&self) -> toml::Value {
        match self {
            FieldInput::Constant(v) => toml::Value::Float(*v),
            FieldInput::Formula(e) => toml::Value::String(e.source().into()),
            FieldInput::Dataset { file, dataset, .. } => {
                let mut t = toml::Table::new();
                t.insert("file".into(), file.clone().into());
                t.insert("dataset".into(), dataset.clone().into());
                toml::Value::Table(t)
            }
        }
    }

    /// Smallest and largest value on the grid at `t = 0` (for range checks such as `D >= 0`).
    #[must_use]
    pub fn range(&self, grid: &Grid) -> (f64, f64) {
        if let FieldInput::Constant(v) = self {
            return (*v, *v);
        }
        self.sample(grid, 0.0)
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    }
}

/// What a solver kind gets to resolve its table: the file for messages, the folder for input
/// paths, the constants for formulas and the already-resolved common sections.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The scenario file, as shown in messages.
    pub file: String,
    /// Folder that relative input paths are resolved against (the scenario's folder).
    pub base: PathBuf,
    /// Named constants usable in formulas.
    pub constants: &'a [(String, f64)],
    /// The grid.
    pub grid: Grid,
    /// Time stepping.
    pub time: &'a TimeConfig,
    /// Boundaries.
    pub boundary: &'a Sides4,
    /// Keys given with `--set` (messages name `--set` for them).
    pub overridden: &'a [String],
    /// The run's shape and memory limit (`None` where no run is resolved, e.g. training).
    pub(crate) budget: Option<&'a Budget>,
}

impl Ctx<'_> {
    /// Refuses a solver whose memory, with what the driver and the pictures add, exceeds the
    /// limit ([`crate::limits`]). Kinds call this before building anything large.
    ///
    /// # Errors
    /// A [`ScenarioError::Invalid`] naming the keys of the largest item and the limit.
    pub fn check_memory(&self, solver: &SolverFootprint) -> Result<()> {
        match self.budget {
            Some(b) => b.check(&self.file, solver).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The file to name for key `key` (`--set` if the user gave it on the command line).
    #[must_use]
    pub fn file_for(&self, key: &str) -> String {
        if self
            .overridden
            .iter()
            .any(|k| k == key || key.starts_with(&format!("{k}.")))
        {
            format!("{} (--set {key})", self.file)
        } else {
            self.file.clone()
        }
    }

    /// A [`ScenarioError::Invalid`] for `key`.
    pub fn invalid(
        &self,
        key: &str,
        value: impl Into<String>,
        allowed: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::invalid(self.file_for(key), key, value, allowed)
    }

    /// Deserializes a solver table with the same messages as the common sections.
    ///
    /// # Errors
    /// Unknown keys, wrong types, missing keys.
    pub fn deserialize<T: DeserializeOwned>(&self, key: &str, value: toml::Value) -> Result<T> {
        deserialize(self, key, value)
    }

    /// Parses a formula for `key`.
    ///
    /// # Errors
    /// A message with the column of the problem.
    pub fn formula(&self, key: &str, src: &str) -> Result<Expr> {
        let consts: Vec<(&str, f64)> = self
            .constants
            .iter()
            .map(|(n, v)| (n.as_str(), *v))
            .collect();
        Expr::parse(src, &consts).map_err(|e| self.invalid(key, format!("{src:?}"), e.to_string()))
    }

    /// A spatial input: a number, a formula string, or `{ file = "...", dataset = "..." }`.
    ///
    /// # Errors
    /// Wrong type, bad formula, missing file or dataset, wrong shape.
    pub fn field(&self, key: &str, value: &toml::Value) -> Result<FieldInput> {
        const ALLOWED: &str = "allowed: a number, a formula string such as \"exp(-r^2)\", or { file = \"data/x.h5\", dataset = \"name\" }";
        match value {
            toml::Value::Float(v) => Ok(FieldInput::Constant(*v)),
            toml::Value::Integer(v) => Ok(FieldInput::Constant(*v as f64)),
            toml::Value::String(s) => Ok(FieldInput::Formula(self.formula(key, s)?)),
            toml::Value::Table(t) => {
                for k in t.keys() {
                    if k != "file" && k != "dataset" {
                        return Err(self.invalid(
                            &format!("{key}.{k}"),
                            show_value(&t[k]),
                            "unknown key; allowed keys: file, dataset",
                        ));
                    }
                }
                let get = |k: &str| -> Result<String> {
                    match t.get(k) {
                        Some(toml::Value::String(s)) => Ok(s.clone()),
                        Some(other) => Err(self.invalid(
                            &format!("{key}.{k}"),
                            show_value(other),
                            "allowed: a string",
                        )),
                        None => Err(self.invalid(
                            key,
                            show_value(value),
                            format!("missing key `{k}`; {ALLOWED}"),
                        )),
                    }
                };
                let file = get("file")?;
                let dataset = get("dataset")?;
                let path = self.base.join(&file);
                let want = self.grid.shape();
                let data = inputs::read_2d(&path, &dataset, want).map_err(|e| match e {
                    inputs::InputError::NoFile(reason) => self.invalid(
                        &format!("{key}.file"),
                        format!("{file:?}"),
                        format!("cannot open {} ({reason}); allowed: an HDF5 file, relative paths start at the scenario's folder", path.display()),
                    ),
                    inputs::InputError::NoDataset(names) => self.invalid(
                        &format!("{key}.dataset"),
                        format!("{dataset:?}"),
                        format!("no such dataset in {}; allowed: {names}", path.display()),
                    ),
                    inputs::InputError::Bad(reason) => self.invalid(
                        &format!("{key}.dataset"),
                        format!("{dataset:?}"),
                        format!("{reason}; allowed: a 2D float dataset of shape (ny, nx)"),
                    ),
                    inputs::InputError::Shape(shape) => self.invalid(
                        &format!("{key}.dataset"),
                        format!("{dataset:?} of shape {:?}", (shape[0], shape[1])),
                        format!("allowed: shape (ny, nx) = {want:?} to match [grid]"),
                    ),
                })?;
                if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
                    return Err(self.invalid(
                        &format!("{key}.dataset"),
                        format!("{dataset:?} holds {bad}"),
                        "allowed: finite values only",
                    ));
                }
                Ok(FieldInput::Dataset {
                    file,
                    dataset,
                    data,
                })
            }
            other => Err(self.invalid(key, show_value(other), ALLOWED)),
        }
    }
}

/// A scenario resolved and validated: everything a run needs, nothing left to check.
#[derive(Debug)]
pub struct Scenario {
    /// The scenario file.
    pub file: PathBuf,
    /// The effective scenario (file plus `--set` overrides) as TOML text, stored in run files.
    pub text: String,
    /// The `--set` overrides, as given.
    pub overrides: Vec<String>,
    /// Run name (default: the file stem).
    pub name: String,
    /// Free-text description.
    pub description: String,
    /// The solver kind.
    pub kind: &'static dyn SolverKind,
    /// Named constants usable in formulas.
    pub constants: Vec<(String, f64)>,
    /// The grid.
    pub grid: Grid,
    /// Time stepping.
    pub time: TimeConfig,
    /// Boundaries.
    pub boundary: Sides4,
    /// Initial fields by name.
    pub initial: Vec<(String, FieldInput)>,
    /// Outputs.
    pub output: OutputConfig,
    /// The solver's own resolved table.
    pub solver: Box<dyn KindConfig>,
    /// The memory and disk the run needs ([`crate::limits`]), checked against the limit.
    pub footprint: Footprint,
    /// `parallel.ranks`: the process grid `[ry, rx]` of a distributed run (rows of tiles,
    /// columns of tiles), or `None` for the automatic one. Ignored on one process.
    pub parallel: Option<[usize; 2]>,
    /// `parallel.output`: how a distributed run writes its fields. Ignored on one process.
    pub parallel_output: ParallelOutput,
}

impl Scenario {
    /// Reads and resolves a scenario file with `--set` overrides, with the built-in kinds.
    ///
    /// # Errors
    /// Any problem with the file, the overrides or the values, as one [`ScenarioError`].
    pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario> {
        Scenario::load_limited(path, overrides, &MemoryLimit::detect(None))
    }

    /// [`Scenario::load`] against a given memory limit (`--max-memory`).
    ///
    /// # Errors
    /// As [`Scenario::load`].
    pub fn load_limited(
        path: &Path,
        overrides: &[String],
        limit: &MemoryLimit,
    ) -> Result<Scenario> {
        Scenario::load_with(path, overrides, limit, &Kinds::builtin())
    }

    /// [`Scenario::load_limited`] with the solver kinds of `kinds` (the built-ins plus your own,
    /// see [`Kinds::with`]); pass `&MemoryLimit::detect(None)` for this machine's limit.
    ///
    /// # Errors
    /// As [`Scenario::load`]; an unknown `run.solver` lists the names in `kinds`.
    pub fn load_with(
        path: &Path,
        overrides: &[String],
        limit: &MemoryLimit,
        kinds: &Kinds,
    ) -> Result<Scenario> {
        let text = inputs::read_text(path).map_err(|reason| ScenarioError::File {
            file: path.display().to_string(),
            reason: format!("cannot read the scenario file: {reason}"),
        })?;
        Scenario::from_str_with(&text, path, overrides, limit, kinds)
    }

    /// Resolves scenario `text` as if read from `path` (used for messages and relative inputs),
    /// with the built-in kinds.
    ///
    /// # Errors
    /// As [`Scenario::load`].
    #[allow(
        clippy::should_implement_trait,
        reason = "it needs the path and overrides, which `FromStr` cannot take"
    )]
    pub fn from_str(text: &str, path: &Path, overrides: &[String]) -> Result<Scenario> {
        Scenario::from_str_limited(text, path, overrides, &MemoryLimit::detect(None))
    }

    /// [`Scenario::from_str`] against a given memory limit.
    ///
    /// # Errors
    /// As [`Scenario::load`].
    pub fn from_str_limited(
        text: &str,
        path: &Path,
        overrides: &[String],
        limit: &MemoryLimit,
    ) -> Result<Scenario> {
        Scenario::from_str_with(text, path, overrides, limit, &Kinds::builtin())
    }

    /// [`Scenario::from_str_limited`] with the solver kinds of `kinds` (the built-ins plus your
    /// own, see [`Kinds::with`]); pass `&MemoryLimit::detect(None)` for this machine's limit.
    /// The result runs through [`crate::driver::run`] like any other scenario.
    ///
    /// # Errors
    /// As [`Scenario::load`]; an unknown `run.solver` lists the names in `kinds`.
    pub fn from_str_with(
        text: &str,
        path: &Path,
        overrides: &[String],
        limit: &MemoryLimit,
        kinds: &Kinds,
    ) -> Result<Scenario> {
        let file = path.display().to_string();
        let Parsed {
            mut table,
            overridden,
            effective,
            base,
        } = parse_with_overrides(text, path, overrides)?;

        let (kind, solver_table) = resolve_kind(&mut table, file.clone(), &overridden, kinds)?;

        let empty_consts: Vec<(String, f64)> = Vec::new();
        let (dummy_time, dummy_sides) = unresolved_sections();
        let grid0 = Grid {
            ny: 1,
            nx: 1,
            dy: 1.0,
            dx: 1.0,
            y0: 0.0,
            x0: 0.0,
        };
        let pre = Ctx {
            file: file.clone(),
            base: base.clone(),
            constants: &empty_consts,
            grid: grid0,
            time: &dummy_time,
            boundary: &dummy_sides,
            overridden: &overridden,
            budget: None,
        };
        let raw: RawScenario = deserialize(&pre, "", toml::Value::Table(table))?;

        let constants = resolve_constants(&pre, &raw)?;
        let boundary = resolve_boundary(&pre, &raw, kind)?;
        let grid = resolve_grid(&pre, &raw, &boundary, kind)?;
        let time = resolve_time(&pre, &raw)?;
        let output = resolve_output(&pre, &raw, time.steps, kind)?;

        let name = crate::outputs::run_name(&pre, raw.run.name.as_deref(), path, "run")?;

        // Memory: the run's shape, checked against the limit before any array is made.
        let budget = Budget::new(&grid, raw.initial.len(), &output, limit);
        let ctx = Ctx {
            file: file.clone(),
            base,
            constants: &constants,
            grid,
            time: &time,
            boundary: &boundary,
            overridden: &overridden,
            budget: Some(&budget),
        };
        // Before anything is sampled on the grid: the least this run needs must fit.
        budget.check(&ctx.file, &limits::minimal_solver(budget.shape.cells))?;

        let initial = resolve_initial(&ctx, &raw, kind)?;
        let (parallel, parallel_output) = resolve_parallel(&ctx, &raw, &grid)?;
        let solver = kind.resolve(&ctx, &initial, solver_table)?;
        let footprint = budget.check(&ctx.file, &solver.footprint())?;
        kinds::check_output_fields(&ctx, kind, solver.as_ref(), &output)?;
        Ok(Scenario {
            file: path.to_path_buf(),
            text: effective,
            overrides: overrides.to_vec(),
            name,
            description: raw.run.description,
            kind,
            constants,
            grid,
            time,
            boundary,
            initial,
            output,
            solver,
            footprint,
            parallel,
            parallel_output,
        })
    }

    /// The resolved scenario as a TOML table, with a `[derived]` table of computed values
    /// (spacings, final time, number of frames, the solver's stability limit, ...) and a
    /// `[resources]` table (peak memory and disk, itemised; see [`crate::limits`]).
    #[must_use]
    pub fn to_table(&self) -> toml::Table {
        let mut t = toml::Table::new();
        let mut run = toml::Table::new();
        run.insert("name".into(), self.name.clone().into());
        run.insert("solver".into(), self.kind.name().into());
        if !self.description.is_empty() {
            run.insert("description".into(), self.description.clone().into());
        }
        t.insert("run".into(), run.into());
        if !self.constants.is_empty() {
            let c: toml::Table = self
                .constants
                .iter()
                .map(|(n, v)| (n.clone(), toml::Value::Float(*v)))
                .collect();
            t.insert("constants".into(), c.into());
        }
        let to = |v: &dyn erased::Ser| v.to_toml();
        t.insert("grid".into(), to(&self.grid));
        t.insert("time".into(), to(&self.time));
        let mut b = toml::Table::new();
        for (k, s) in [
            ("left", &self.boundary.left),
            ("right", &self.boundary.right),
            ("bottom", &self.boundary.bottom),
            ("top", &self.boundary.top),
        ] {
            b.insert(k.into(), s.show().into());
        }
        t.insert("boundary".into(), b.into());
        let init: toml::Table = self
            .initial
            .iter()
            .map(|(n, f)| (n.clone(), f.to_toml()))
            .collect();
        t.insert("initial".into(), init.into());
        t.insert("output".into(), to(&self.output));
        let mut p = toml::Table::new();
        if let Some([ry, rx]) = self.parallel {
            let r = |v: usize| toml::Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));
            p.insert("ranks".into(), toml::Value::Array(vec![r(ry), r(rx)]));
        }
        if self.parallel_output != ParallelOutput::default() {
            p.insert("output".into(), self.parallel_output.name().into());
        }
        if !p.is_empty() {
            t.insert("parallel".into(), p.into());
        }
        t.insert(self.kind.name().into(), self.solver.to_table().into());
        let mut d = self.solver.derived();
        d.insert("t_end".into(), self.time.t_end.into());
        d.insert("frames".into(), (self.output.frames as i64).into());
        d.insert("dx".into(), self.grid.dx.into());
        d.insert("dy".into(), self.grid.dy.into());
        t.insert("derived".into(), d.into());
        t.insert("resources".into(), self.footprint.to_table().into());
        t
    }

    /// [`Scenario::to_table`] as TOML text.
    #[must_use]
    pub fn to_toml_string(&self) -> String {
        toml::to_string(&self.to_table()).unwrap_or_default()
    }

    /// [`Scenario::to_table`] as pretty JSON.
    #[must_use]
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(&self.to_table()).unwrap_or_default()
    }

    /// The initial field `name` on the grid, if the scenario gives one.
    #[must_use]
    pub fn initial_field(&self, name: &str) -> Option<&FieldInput> {
        self.initial.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }
}

mod erased {
    /// Serialize-to-TOML through a trait object (keeps `to_table` short).
    pub(super) trait Ser {
        fn to_toml(&self) -> toml::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_toml(&self) -> toml::Value {
            toml::Value::try_from(self).unwrap_or(toml::Value::Table(toml::Table::new()))
        }
    }
}
