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
use crate::expr::{Expr, RESERVED, Vars};
use crate::inputs;
use crate::kinds::{self, KindConfig, SolverKind};
use crate::limits::{self, Budget, Footprint, MemoryLimit, SolverFootprint};

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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    name: Option<String>,
    // Read from the raw table before (it selects the kind); declared so the schema lists it.
    #[allow(dead_code)]
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
}

fn type_word(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "f64" | "f32" => "allowed: a number".into(),
        "u64" | "usize" | "u32" => "allowed: a non-negative integer".into(),
        "i64" => "allowed: an integer".into(),
        "a boolean" => "allowed: true or false".into(),
        "a string" => "allowed: a string".into(),
        "a sequence" => "allowed: an array".into(),
        "a map" | "struct" => "allowed: a table".into(),
        _ if e.starts_with("struct ") => "allowed: a table".into(),
        _ => format!("allowed: {e}"),
    }
}

/// Turns a serde message into (key suffix, value, allowed).
fn explain(msg: &str) -> (Option<String>, String, String) {
    let ticks = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let names = ticks(rest);
        let key = names.first().cloned();
        let allowed = if names.len() > 1 {
            let hint = crate::messages::did_you_mean(
                key.as_deref().unwrap_or(""),
                names[1..].iter().map(String::as_str),
            );
            format!("unknown key{hint}; allowed keys: {}", names[1..].join(", "))
        } else {
            "unknown key; this table takes no keys".into()
        };
        return (key, "(unknown key)".into(), allowed);
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        let names = ticks(rest);
        return (
            names.first().cloned(),
            "(missing)".into(),
            "this key is required".into(),
        );
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some((value, expected)) = rest.split_once(", expected ")
        {
            return (None, value.replace('`', ""), type_word(expected));
        }
    }
    (None, "(value)".into(), msg.to_string())
}

fn deserialize<T: DeserializeOwned>(ctx: &Ctx<'_>, prefix: &str, value: toml::Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().message().to_string();
        let (suffix, value, allowed) = explain(&msg);
        let mut key = prefix.to_string();
        for part in [path.as_str(), suffix.as_deref().unwrap_or("")] {
            if !part.is_empty() && part != "." {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(part);
            }
        }
        // A missing or unknown key is reported under its own name even when the path already
        // ends in it.
        if let Some(s) = &suffix
            && key.ends_with(&format!(".{s}.{s}"))
        {
            key.truncate(key.len() - s.len() - 1);
        }
        // An out-of-type integer (`nx = -64`) gets the key's real range, as `nx = 0` does.
        let allowed = match crate::messages::integer_range(&key) {
            Some(range) if allowed.contains("integer") => range.to_string(),
            _ => allowed,
        };
        ctx.invalid(&key, value, allowed)
    })
}

/// A scenario file (run or training) parsed, with its `--set` overrides applied.
pub(crate) struct Parsed {
    pub(crate) table: toml::Table,
    /// The keys the overrides set.
    pub(crate) overridden: Vec<String>,
    /// The effective scenario (file plus overrides) as TOML text, stored in output files.
    pub(crate) effective: String,
    /// The folder relative input paths are read from (the file's folder).
    pub(crate) base: PathBuf,
}

/// Parses scenario `text` read from `path` and applies `overrides` in order.
///
/// # Errors
/// Text that is not TOML (with its line and column), or a bad override.
pub(crate) fn parse_with_overrides(
    text: &str,
    path: &Path,
    overrides: &[String],
) -> Result<Parsed> {
    let file = path.display().to_string();
    let mut table: toml::Table = toml::from_str(text).map_err(|e: toml::de::Error| {
        let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        ScenarioError::File {
            file: file.clone(),
            reason: format!("line {line}, column {col}: {}", e.message().trim()),
        }
    })?;
    let mut overridden = Vec::new();
    for o in overrides {
        overridden.push(apply_override(&mut table, &file, o)?);
    }
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    // The stored text names input files by absolute paths: it runs from any folder.
    let mut portable = table.clone();
    crate::paths::absolutize(&mut portable, &base);
    let effective = toml::to_string(&portable).unwrap_or_default();
    Ok(Parsed {
        table,
        overridden,
        effective,
        base,
    })
}

/// Applies one `key.path=value` override to `table`; the value is parsed as TOML (a bare word
/// that is not valid TOML is taken as a string, so `--set boundary.all=periodic` works); an
/// empty value (`key.path=`) removes the key.
///
/// # Errors
/// No `=`, an empty key, or a path through a non-table.
pub fn apply_override(table: &mut toml::Table, file: &str, spec: &str) -> Result<String> {
    let Some((key, raw)) = spec.split_once('=') else {
        return Err(ScenarioError::invalid(
            format!("{file} (--set)"),
            spec,
            "(no `=`)",
            "allowed: --set key.path=value, e.g. --set time.steps=100",
        ));
    };
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ScenarioError::invalid(
            format!("{file} (--set)"),
            key,
            raw,
            "allowed: a dotted key path such as time.dt",
        ));
    }
    if raw.trim().is_empty() {
        // `--set key=` removes the key (e.g. `--set time.t_end= --set time.steps=100`).
        let mut cur = &mut *table;
        for p in &parts[..parts.len() - 1] {
            match cur.get_mut(*p) {
                Some(toml::Value::Table(t)) => cur = t,
                _ => return Ok(key.to_string()),
            }
        }
        cur.remove(parts[parts.len() - 1]);
        return Ok(key.to_string());
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| raw.into()),
        Err(_) => toml::Value::String(raw.trim().to_string()),
    };
    let mut cur = table;
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            cur.insert((*p).to_string(), value);
            break;
        }
        let entry = cur
            .entry((*p).to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = entry else {
            return Err(ScenarioError::invalid(
                format!("{file} (--set)"),
                parts[..=i].join("."),
                show_value(entry),
                format!("not a table, so {key} cannot be set"),
            ));
        };
        cur = t;
    }
    Ok(key.to_string())
}

fn parse_side(ctx: &Ctx<'_>, key: &str, s: &str, kind: &dyn SolverKind) -> Result<Side> {
    let lower = s.trim().to_ascii_lowercase();
    let (name, value) = match lower.split_once(':') {
        Some((n, v)) => {
            let value: f64 = v.trim().parse().map_err(|_| {
                ctx.invalid(
                    key,
                    format!("{s:?}"),
                    format!(
                        "the value after `:` must be a number; allowed: {}",
                        kind.boundary_names()
                    ),
                )
            })?;
            (n.trim().to_string(), value)
        }
        None => (lower.clone(), 0.0),
    };
    match kind.boundary(&name) {
        Some((canon, takes_value)) => {
            if value != 0.0 && !takes_value {
                return Err(ctx.invalid(
                    key,
                    format!("{s:?}"),
                    format!(
                        "`{canon}` takes no value; allowed: {}",
                        kind.boundary_names()
                    ),
                ));
            }
            Ok(Side {
                name: canon.into(),
                value,
            })
        }
        None => Err(ctx.invalid(
            key,
            format!("{s:?}"),
            format!("unknown boundary; allowed: {}", kind.boundary_names()),
        )),
    }
}

impl Scenario {
    /// Reads and resolves a scenario file with `--set` overrides.
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
        let text = inputs::read_text(path).map_err(|reason| ScenarioError::File {
            file: path.display().to_string(),
            reason: format!("cannot read the scenario file: {reason}"),
        })?;
        Scenario::from_str_limited(&text, path, overrides, limit)
    }

    /// Resolves scenario `text` as if read from `path` (used for messages and relative inputs).
    ///
    /// # Errors
    /// As [`Scenario::load`].
    #[allow(clippy::should_implement_trait)]
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
        let file = path.display().to_string();
        let Parsed {
            mut table,
            overridden,
            effective,
            base,
        } = parse_with_overrides(text, path, overrides)?;

        // The solver kind first: its table is taken out before the common sections are checked.
        if table.get("run").and_then(|r| r.get("solver")).is_none()
            && (table.contains_key("data") || table.contains_key("model"))
        {
            return Err(ScenarioError::invalid(
                file,
                "run.solver",
                "(missing)",
                "this is a training scenario ([data], [model]); train it with `convsim train FILE`",
            ));
        }
        let solver_name = match table.get("run").and_then(|r| r.get("solver")) {
            Some(toml::Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(ScenarioError::invalid(
                    file,
                    "run.solver",
                    show_value(other),
                    format!("allowed: {}", kinds::names()),
                ));
            }
            None => {
                return Err(ScenarioError::invalid(
                    file,
                    "run.solver",
                    "(missing)",
                    format!("this key is required; allowed: {}", kinds::names()),
                ));
            }
        };
        let Some(kind) = kinds::find(&solver_name) else {
            let f = if overridden.iter().any(|k| k == "run.solver") {
                format!("{file} (--set run.solver)")
            } else {
                file
            };
            return Err(ScenarioError::invalid(
                f,
                "run.solver",
                format!("{solver_name:?}"),
                format!(
                    "unknown solver{}; allowed: {}",
                    crate::messages::did_you_mean(
                        &solver_name,
                        kinds::KINDS.iter().map(|k| k.name())
                    ),
                    kinds::names()
                ),
            ));
        };
        let solver_table = table.remove(kind.name());
        for k in table.keys() {
            const COMMON: [&str; 8] = [
                "run",
                "constants",
                "grid",
                "time",
                "boundary",
                "initial",
                "output",
                "parallel",
            ];
            if !COMMON.contains(&k.as_str()) {
                let what = if kinds::find(k).is_some() {
                    format!(
                        "a [{k}] table, but run.solver is {:?}; allowed tables: {}, {}",
                        kind.name(),
                        COMMON.join(", "),
                        kind.name()
                    )
                } else {
                    let hint = crate::messages::did_you_mean(
                        k,
                        COMMON.iter().copied().chain([kind.name()]),
                    );
                    format!(
                        "unknown key{hint}; allowed keys: {}, {}",
                        COMMON.join(", "),
                        kind.name()
                    )
                };
                return Err(ScenarioError::invalid(file, k, "(unknown key)", what));
            }
        }

        let empty_consts: Vec<(String, f64)> = Vec::new();
        let dummy_time = TimeConfig {
            dt: 0.0,
            steps: 0,
            t_end: 0.0,
        };
        let dummy_side = Side {
            name: String::new(),
            value: 0.0,
        };
        let dummy_sides = Sides4 {
            left: dummy_side.clone(),
            right: dummy_side.clone(),
            bottom: dummy_side.clone(),
            top: dummy_side,
        };
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

        // Constants.
        let mut constants = Vec::new();
        for (name, v) in &raw.constants {
            let key = format!("constants.{name}");
            let ident_ok = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ident_ok || RESERVED.contains(&name.as_str()) {
                return Err(pre.invalid(&key, format!("{v}"), format!("`{name}` cannot name a constant; allowed: names of letters, digits and _ other than {}", RESERVED.join(" "))));
            }
            if !v.is_finite() {
                return Err(pre.invalid(&key, format!("{v}"), "allowed: a finite number"));
            }
            constants.push((name.clone(), *v));
        }

        // Boundaries (needed for the grid: periodic axes have no sample on the far edge).
        let side_of = |primary: &Option<String>,
                       axis: &Option<String>,
                       pkey: &str,
                       akey: &str|
         -> Result<Side> {
            let (s, key) = match (primary, axis, &raw.boundary.all) {
                (Some(s), _, _) => (s, pkey.to_string()),
                (None, Some(s), _) => (s, akey.to_string()),
                (None, None, Some(s)) => (s, "boundary.all".to_string()),
                (None, None, None) => {
                    return Err(pre.invalid(
                        pkey,
                        "(missing)",
                        format!(
                            "give boundary.{} or boundary.all; allowed: {}",
                            pkey.trim_start_matches("boundary."),
                            kind.boundary_names()
                        ),
                    ));
                }
            };
            parse_side(&pre, &key, s, kind)
        };
        let b = &raw.boundary;
        let boundary = Sides4 {
            left: side_of(&b.left, &b.x, "boundary.left", "boundary.x")?,
            right: side_of(&b.right, &b.x, "boundary.right", "boundary.x")?,
            bottom: side_of(&b.bottom, &b.y, "boundary.bottom", "boundary.y")?,
            top: side_of(&b.top, &b.y, "boundary.top", "boundary.y")?,
        };
        for (a, bb, ka, kb) in [
            (
                &boundary.left,
                &boundary.right,
                "boundary.left",
                "boundary.right",
            ),
            (
                &boundary.bottom,
                &boundary.top,
                "boundary.bottom",
                "boundary.top",
            ),
        ] {
            if (a.name == "periodic") != (bb.name == "periodic") {
                let (k, v) = if a.name == "periodic" {
                    (kb, bb)
                } else {
                    (ka, a)
                };
                return Err(pre.invalid(k, format!("{:?}", v.show()), format!("the opposite side is periodic; allowed: periodic on both {ka} and {kb}, or on neither")));
            }
        }

        // Grid.
        let g = &raw.grid;
        let count = |key: &str, n: usize| -> Result<()> {
            if n < 2 {
                return Err(pre.invalid(key, n.to_string(), "allowed: an integer >= 2"));
            }
            Ok(())
        };
        count("grid.nx", g.nx)?;
        // ny = 1 is a 1D problem along x (the quantum kind); other kinds refuse it in their checks.
        if g.ny < 1 {
            return Err(pre.invalid("grid.ny", g.ny.to_string(), "allowed: an integer >= 1"));
        }
        // Spacings per domain length: n for a periodic axis; otherwise n minus half a spacing
        // for each side whose edge lies on the edge sample (see SolverKind::edge_on_node).
        let intervals = |n: usize, lo: &Side, hi: &Side| -> f64 {
            if lo.name == "periodic" {
                n as f64
            } else {
                n as f64
                    - 0.5
                        * (f64::from(u8::from(kind.edge_on_node(lo)))
                            + f64::from(u8::from(kind.edge_on_node(hi))))
            }
        };
        let spacing = |dkey: &str,
                       d: Option<f64>,
                       lkey: &str,
                       l: Option<f64>,
                       intervals: f64,
                       fallback: Option<f64>|
         -> Result<f64> {
            let positive = |key: &str, v: f64| -> Result<f64> {
                if v.is_finite() && v > 0.0 {
                    Ok(v)
                } else {
                    Err(pre.invalid(key, v.to_string(), "allowed: a finite number > 0"))
                }
            };
            match (d, l) {
                (Some(_), Some(_)) => Err(pre.invalid(
                    lkey,
                    l.unwrap_or_default().to_string(),
                    format!("give {dkey} or {lkey}, not both"),
                )),
                (Some(d), None) => positive(dkey, d),
                (None, Some(l)) => {
                    let l = positive(lkey, l)?;
                    Ok(l / intervals)
                }
                (None, None) => fallback.ok_or_else(|| {
                    pre.invalid(
                        dkey,
                        "(missing)",
                        format!("give {dkey} (spacing) or {lkey} (domain length)"),
                    )
                }),
            }
        };
        let dx = spacing(
            "grid.dx",
            g.dx,
            "grid.lx",
            g.lx,
            intervals(g.nx, &boundary.left, &boundary.right),
            None,
        )?;
        let dy = spacing(
            "grid.dy",
            g.dy,
            "grid.ly",
            g.ly,
            intervals(g.ny, &boundary.top, &boundary.bottom),
            Some(dx),
        )?;
        for (k, v) in [("grid.x0", g.x0), ("grid.y0", g.y0)] {
            if !v.is_finite() {
                return Err(pre.invalid(k, v.to_string(), "allowed: a finite number"));
            }
        }
        let grid = Grid {
            ny: g.ny,
            nx: g.nx,
            dy,
            dx,
            y0: g.y0,
            x0: g.x0,
        };

        // Time.
        let t = &raw.time;
        if !(t.dt.is_finite() && t.dt > 0.0) {
            return Err(pre.invalid("time.dt", t.dt.to_string(), "allowed: a finite number > 0"));
        }
        let steps = match (t.steps, t.t_end) {
            (Some(_), Some(te)) => {
                return Err(pre.invalid(
                    "time.t_end",
                    te.to_string(),
                    "give time.steps or time.t_end, not both",
                ));
            }
            (None, None) => {
                return Err(pre.invalid(
                    "time.steps",
                    "(missing)",
                    "give time.steps (a count) or time.t_end (a time)",
                ));
            }
            (Some(0), None) => {
                return Err(pre.invalid("time.steps", "0", "allowed: an integer >= 1"));
            }
            (Some(s), None) => s,
            (None, Some(te)) => {
                if !(te.is_finite() && te > 0.0) {
                    return Err(pre.invalid(
                        "time.t_end",
                        te.to_string(),
                        "allowed: a finite number > 0",
                    ));
                }
                // Round to the nearest whole step when t_end is a multiple of dt up to rounding.
                let n = te / t.dt;
                let s = if (n - n.round()).abs() < 1e-9 * n.max(1.0) {
                    n.round()
                } else {
                    n.ceil()
                };
                s.max(1.0) as u64
            }
        };
        if i64::try_from(steps).is_err() {
            let (key, value) = match t.t_end {
                Some(te) => ("time.t_end", te.to_string()),
                None => ("time.steps", steps.to_string()),
            };
            return Err(pre.invalid(
                key,
                value,
                format!("{steps} steps; allowed: at most {} steps (the run file stores steps as 64-bit signed integers)", i64::MAX),
            ));
        }
        let time = TimeConfig {
            dt: t.dt,
            steps,
            t_end: steps as f64 * t.dt,
        };

        // Output.
        let o = &raw.output;
        let every = o.every.unwrap_or_else(|| (steps / 20).max(1));
        if every == 0 {
            return Err(pre.invalid(
                "output.every",
                "0",
                "allowed: an integer >= 1 (steps between frames)",
            ));
        }
        let fields = match &o.fields {
            None => kind
                .output_fields()
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
            Some(f) => {
                if f.is_empty() {
                    return Err(pre.invalid(
                        "output.fields",
                        "[]",
                        format!(
                            "allowed: a non-empty list of {}",
                            kind.output_fields().join(", ")
                        ),
                    ));
                }
                for name in f {
                    if !kind.output_fields().contains(&name.as_str()) {
                        return Err(pre.invalid(
                            "output.fields",
                            format!("{name:?}"),
                            format!(
                                "unknown field; allowed: {}",
                                kind.output_fields().join(", ")
                            ),
                        ));
                    }
                }
                f.clone()
            }
        };
        let output = OutputConfig {
            every,
            fields,
            fields_given: o.fields.is_some(),
            plots: o.plots,
            gif: o.gif,
            checkpoint_every: o.checkpoint_every,
            compress: o.compress,
            frames: 1 + steps / every + u64::from(steps % every != 0),
        };

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

        // Initial fields.
        let mut initial = Vec::new();
        for (name, v) in &raw.initial {
            let key = format!("initial.{name}");
            if !kind.initial_fields().contains(&name.as_str()) {
                return Err(ctx.invalid(
                    &key,
                    show_value(v),
                    format!(
                        "unknown initial field; allowed: {}",
                        kind.initial_fields().join(", ")
                    ),
                ));
            }
            let input = ctx.field(&key, v)?;
            check_finite(&ctx, &key, v, &input)?;
            initial.push((name.clone(), input));
        }

        let parallel = match raw.parallel.ranks.as_deref() {
            None => None,
            Some(&[ry, rx]) if ry >= 1 && rx >= 1 && ry <= grid.ny && rx <= grid.nx => {
                Some([ry, rx])
            }
            Some(r) => {
                return Err(ctx.invalid(
                    "parallel.ranks",
                    format!("{r:?}"),
                    format!(
                        "allowed: [ry, rx], rows and columns of tiles, each at least 1 and at \
                         most the grid's ny = {} and nx = {}",
                        grid.ny, grid.nx
                    ),
                ));
            }
        };
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
        if let Some([ry, rx]) = self.parallel {
            let mut p = toml::Table::new();
            let r = |v: usize| toml::Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));
            p.insert("ranks".into(), toml::Value::Array(vec![r(ry), r(rx)]));
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

/// An initial value must be finite: a constant, or a formula on the whole grid (`sqrt(x)` with
/// `x < 0` is not). Datasets are checked when read.
fn check_finite(ctx: &Ctx<'_>, key: &str, raw: &toml::Value, input: &FieldInput) -> Result<()> {
    if let FieldInput::Constant(v) = input
        && !v.is_finite()
    {
        return Err(ctx.invalid(key, show_value(raw), "allowed: a finite number"));
    }
    let FieldInput::Formula(_) = input else {
        return Ok(());
    };
    let u = input.sample(&ctx.grid, 0.0);
    if let Some(((i, j), v)) = u.indexed_iter().find(|(_, v)| !v.is_finite()) {
        let (x, y) = (
            ctx.grid.x0 + j as f64 * ctx.grid.dx,
            ctx.grid.y0 + i as f64 * ctx.grid.dy,
        );
        return Err(ctx.invalid(
            key,
            show_value(raw),
            format!("{v} at (x, y) = ({x}, {y}); allowed: a formula finite on the whole grid"),
        ));
    }
    Ok(())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
