//! Training scenarios (`convsim train`): learn a solver's time step from its own run file.
//!
//! ```toml
//! [run]
//! name = "learn_diffusion"          # output folder runs/<name>/ (default: the file stem)
//! description = "..."
//!
//! [data]
//! scenario = "data_diffusion.toml"  # a solver scenario, run first into <out>/data/ ...
//! # run = "runs/x/run.h5"           # ... or an existing run file (give exactly one)
//! set = ["time.steps=20"]           # --set overrides for the data scenario (optional)
//! field = "u"                       # field of the run (default: its first field)
//! history = 1                       # input time levels as channels (2 for a wave equation)
//! lag = 1                           # target = the frame `lag` frames after the newest input
//! skip = 0                          # frames dropped at the start of the run
//! val_fraction = 0.2                # in [0, 1)
//! seed = 0
//!
//! [model]
//! type = "stencil"                  # stencil | cnn | p4
//! kernel = 3                        # odd
//! boundary = "periodic"             # any core boundary name (zero, mirror, symmetric, ...)
//! bias = false                      # stencil only (default false)
//! moments = "order:1"               # stencil only: free | frozen | order:k (PDE-Net)
//! # channels = [8, 8]               # cnn: hidden widths; p4: [base channels] of the lifting layer
//! # activation = "tanh"             # cnn and p4: relu | tanh | gelu
//! # pool = "mean"                   # p4: mean | max
//!
//! [train]
//! method = "optimizer"              # optimizer | lstsq (exact least squares, linear stencils)
//! optimizer = { kind = "adam", learning_rate = 1e-2, schedule = { kind = "exponential", gamma = 0.999 } }
//! epochs = 100
//! batch = 8
//! loss = "one_step"                 # one_step | rollout:<k>
//! precision = "f64"                 # f64 | f32
//!
//! [compare]
//! rollout_steps = 20                # model vs solver, each step `lag` frames apart (0 = none)
//! ```
//!
//! The moment modes hold moments of the **identity step** (m00 = 1, all others 0): `order:1`
//! keeps mass and zero drift, and learns every moment of order 2 and more; `frozen` learns
//! nothing (a check of the pipeline); `free` learns every moment. A moment model takes one
//! input channel (`history = 1`).
//!
//! Every problem is a [`ScenarioError`] naming the file, the key, the value and what is allowed,
//! found before any compute when the data scenario is known, else when the run file is opened.

mod pairs;
mod pictures;
mod pipeline;
mod show;

use std::path::{Path, PathBuf};

use convsim_cnn::{ActivationKind, Loss, OptimizerConfig, PoolMode};
use convsim_core::{Boundary, Grid};
use serde::Deserialize;

pub use pairs::RunPairs;
pub use pictures::draw_train_file;
pub use pipeline::{
    STENCIL_FILE, TRAIN_FILE, TrainOptions, TrainOutcome, TrainProgress, default_out_dir,
    run_training,
};
pub use show::is_training_file;

use crate::config::{Ctx, Scenario, Side, Sides4, TimeConfig};
use crate::error::{Result, ScenarioError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    run: RawRun,
    data: RawData,
    model: RawModel,
    #[serde(default)]
    train: RawTrain,
    #[serde(default)]
    compare: RawCompare,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    name: Option<String>,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    scenario: Option<String>,
    run: Option<String>,
    #[serde(default)]
    set: Vec<String>,
    field: Option<String>,
    #[serde(default = "one")]
    history: usize,
    #[serde(default = "one")]
    lag: usize,
    #[serde(default)]
    skip: usize,
    #[serde(default = "fifth")]
    val_fraction: f64,
    #[serde(default)]
    seed: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "three")]
    kernel: usize,
    #[serde(default = "periodic")]
    boundary: String,
    bias: Option<bool>,
    moments: Option<String>,
    channels: Option<Vec<usize>>,
    activation: Option<String>,
    pool: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrain {
    #[serde(default = "optimizer_name")]
    method: String,
    optimizer: Option<OptimizerConfig>,
    #[serde(default = "hundred")]
    epochs: usize,
    #[serde(default = "eight")]
    batch: usize,
    #[serde(default = "one_step")]
    loss: String,
    #[serde(default = "f64_name")]
    precision: String,
}

impl Default for RawTrain {
    fn default() -> Self {
        RawTrain {
            method: optimizer_name(),
            optimizer: None,
            epochs: hundred(),
            batch: eight(),
            loss: one_step(),
            precision: f64_name(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompare {
    #[serde(default = "twenty")]
    rollout_steps: usize,
}

impl Default for RawCompare {
    fn default() -> Self {
        RawCompare {
            rollout_steps: twenty(),
        }
    }
}

fn one() -> usize {
    1
}
fn three() -> usize {
    3
}
fn eight() -> usize {
    8
}
fn twenty() -> usize {
    20
}
fn hundred() -> usize {
    100
}
fn fifth() -> f64 {
    0.2
}
fn periodic() -> String {
    "periodic".into()
}
fn optimizer_name() -> String {
    "optimizer".into()
}
fn one_step() -> String {
    "one_step".into()
}
fn f64_name() -> String {
    "f64".into()
}

/// Where the snapshots come from.
#[derive(Debug)]
pub enum DataSource {
    /// A solver scenario, run into `<out>/data/` first.
    Scenario {
        /// The data scenario resolved (with `data.set` applied).
        scenario: Box<Scenario>,
    },
    /// An existing run file.
    Run {
        /// Its path (relative paths start at the training scenario's folder).
        path: PathBuf,
    },
}

/// The `[data]` table resolved.
#[derive(Debug)]
pub struct DataSpec {
    /// Where the snapshots come from.
    pub source: DataSource,
    /// Field of the run.
    pub field: String,
    /// Input time levels (channels).
    pub history: usize,
    /// Frames between the newest input and the target.
    pub lag: usize,
    /// Frames dropped at the start.
    pub skip: usize,
    /// Fraction held out for validation.
    pub val_fraction: f64,
    /// Seed of the split, the shuffles and the initial weights.
    pub seed: u64,
}

/// How a linear stencil is parameterised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MomentMode {
    /// Plain taps (a `Conv2d`).
    Taps,
    /// Every moment learned (`MomentConv2d`).
    Free,
    /// Every moment held at the identity step.
    Frozen,
    /// Moments of order `<= k` held at the identity step, the others learned.
    Order(usize),
}

/// The `[model]` table resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelSpec {
    /// One linear convolution `history -> 1` channel.
    Stencil {
        /// Odd kernel size.
        kernel: usize,
        /// Boundary of the convolution.
        boundary: Boundary,
        /// With a bias.
        bias: bool,
        /// Parameterisation.
        moments: MomentMode,
    },
    /// Convolutions with activations between: `history -> channels... -> 1`.
    Cnn {
        /// Odd kernel size of every layer.
        kernel: usize,
        /// Boundary of every layer.
        boundary: Boundary,
        /// Hidden widths.
        channels: Vec<usize>,
        /// Activation after every hidden layer.
        activation: ActivationKind,
    },
    /// p4-equivariant: lifting conv `history -> 4 c`, activation, p4 group conv `4 c -> 4`,
    /// pooling over rotations `-> 1`.
    P4 {
        /// Odd kernel size.
        kernel: usize,
        /// Boundary.
        boundary: Boundary,
        /// Base channels of the lifting layer.
        channels: usize,
        /// Activation after the lifting layer.
        activation: ActivationKind,
        /// Pooling over rotations.
        pool: PoolMode,
    },
}

impl ModelSpec {
    /// The kernel size.
    #[must_use]
    pub fn kernel(&self) -> usize {
        match self {
            ModelSpec::Stencil { kernel, .. }
            | ModelSpec::Cnn { kernel, .. }
            | ModelSpec::P4 { kernel, .. } => *kernel,
        }
    }

    /// `true` for a single linear layer without bias (exportable as a stencil).
    #[must_use]
    pub fn is_linear(&self) -> bool {
        matches!(self, ModelSpec::Stencil { .. })
    }
}

/// How the model is fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Gradient training with the optimiser.
    Optimizer,
    /// Exact linear least squares (linear stencils only).
    Lstsq,
}

/// Floating-point type of the model and data during training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// `f32`.
    F32,
    /// `f64`.
    F64,
}

/// The `[train]` table resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSpec {
    /// Fitting method.
    pub method: Method,
    /// Optimiser (method = optimizer).
    pub optimizer: OptimizerConfig,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch: usize,
    /// Loss.
    pub loss: Loss,
    /// Precision.
    pub precision: Precision,
}

/// A training scenario resolved and validated.
#[derive(Debug)]
pub struct TrainScenario {
    /// The training scenario file.
    pub file: PathBuf,
    /// Its effective TOML text (with `--set` overrides).
    pub text: String,
    /// The `--set` overrides.
    pub overrides: Vec<String>,
    /// Run name (output folder).
    pub name: String,
    /// Free text.
    pub description: String,
    /// `[data]`.
    pub data: DataSpec,
    /// `[model]`.
    pub model: ModelSpec,
    /// `[train]`.
    pub train: TrainSpec,
    /// `[compare] rollout_steps`.
    pub rollout_steps: usize,
}

/// Run-file facts resolution checks the model against.
struct DataShape {
    fields: Vec<String>,
    frames: usize,
    grid: Grid,
}

fn ctx_for<'a>(
    file: &str,
    base: &Path,
    overridden: &'a [String],
    time: &'a TimeConfig,
    sides: &'a Sides4,
) -> Ctx<'a> {
    Ctx {
        file: file.to_string(),
        base: base.to_path_buf(),
        constants: &[],
        grid: Grid {
            ny: 1,
            nx: 1,
            dy: 1.0,
            dx: 1.0,
            y0: 0.0,
            x0: 0.0,
        },
        time,
        boundary: sides,
        overridden,
        budget: None,
    }
}

fn parse_activation(ctx: &Ctx<'_>, s: Option<&str>) -> Result<ActivationKind> {
    match s.unwrap_or("tanh") {
        "relu" => Ok(ActivationKind::Relu),
        "tanh" => Ok(ActivationKind::Tanh),
        "gelu" => Ok(ActivationKind::Gelu),
        other => Err(ctx.invalid(
            "model.activation",
            format!("{other:?}"),
            "allowed: relu, tanh, gelu",
        )),
    }
}

impl TrainScenario {
    /// Reads and resolves a training scenario with `--set` overrides. A `[data] scenario` is
    /// resolved too (not run).
    ///
    /// # Errors
    /// Any problem with the file, the overrides, the values or the data, as one
    /// [`ScenarioError`].
    pub fn load(path: &Path, overrides: &[String]) -> Result<TrainScenario> {
        let text = crate::inputs::read_text(path).map_err(|reason| ScenarioError::File {
            file: path.display().to_string(),
            reason: format!("cannot read the training scenario file: {reason}"),
        })?;
        Self::from_str(&text, path, overrides)
    }

    /// Resolves `text` as if read from `path`.
    ///
    /// # Errors
    /// As [`TrainScenario::load`].
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, path: &Path, overrides: &[String]) -> Result<TrainScenario> {
        let file = path.display().to_string();
        let crate::config::Parsed {
            table,
            overridden,
            effective,
            base,
        } = crate::config::parse_with_overrides(text, path, overrides)?;
        let time = TimeConfig {
            dt: 0.0,
            steps: 0,
            t_end: 0.0,
        };
        let side = Side {
            name: String::new(),
            value: 0.0,
        };
        let sides = Sides4 {
            left: side.clone(),
            right: side.clone(),
            bottom: side.clone(),
            top: side,
        };
        let ctx = ctx_for(&file, &base, &overridden, &time, &sides);
        if let Some(solver) = table.get("run").and_then(|r| r.get("solver")) {
            return Err(ctx.invalid(
                "run.solver",
                crate::error::show_value(solver),
                "this is a run scenario, not a training scenario ([data], [model], [train]); run it with `convsim run FILE`",
            ));
        }
        let raw: Raw = ctx.deserialize("", toml::Value::Table(table))?;

        let name = crate::outputs::run_name(&ctx, raw.run.name.as_deref(), path, "train")?;

        let (data, shape) = resolve_data(&ctx, raw.data)?;
        let model = resolve_model(&ctx, raw.model, &data, &shape)?;
        let train = resolve_train(&ctx, raw.train, &model)?;
        Ok(TrainScenario {
            file: path.to_path_buf(),
            text: effective,
            overrides: overrides.to_vec(),
            name,
            description: raw.run.description,
            data,
            model,
            train,
            rollout_steps: raw.compare.rollout_steps,
        })
    }
}

fn resolve_data(ctx: &Ctx<'_>, d: RawData) -> Result<(DataSpec, DataShape)> {
    let (source, shape) = match (&d.scenario, &d.run) {
        (Some(_), Some(r)) => {
            return Err(ctx.invalid(
                "data.run",
                format!("{r:?}"),
                "give data.scenario (a solver scenario to run) or data.run (an existing run file), not both",
            ));
        }
        (None, None) => {
            return Err(ctx.invalid(
                "data.scenario",
                "(missing)",
                "give data.scenario (a solver scenario to run) or data.run (an existing run file)",
            ));
        }
        (Some(s), None) => {
            let p = ctx.base.join(s);
            if !p.is_file() {
                return Err(ctx.invalid(
                    "data.scenario",
                    format!("{s:?}"),
                    format!(
                        "no such file {}; allowed: a solver scenario, relative paths start at this file's folder",
                        p.display()
                    ),
                ));
            }
            let sc = Scenario::load(&p, &d.set)?;
            let shape = DataShape {
                fields: sc.output.fields.clone(),
                frames: sc.output.frames as usize,
                grid: sc.grid,
            };
            (
                DataSource::Scenario {
                    scenario: Box::new(sc),
                },
                shape,
            )
        }
        (None, Some(r)) => {
            if !d.set.is_empty() {
                return Err(ctx.invalid(
                    "data.set",
                    format!("{:?}", d.set),
                    "only a data.scenario takes overrides; remove data.set for data.run",
                ));
            }
            let p = ctx.base.join(r);
            let f = convsim_io::RunFile::open(&p).map_err(|e| {
                ctx.invalid(
                    "data.run",
                    format!("{r:?}"),
                    format!("cannot open {} ({e}); allowed: a convsim run file, relative paths start at this file's folder", p.display()),
                )
            })?;
            let shape = DataShape {
                fields: f
                    .fields()
                    .map_err(|e| ScenarioError::io(&p, e))?
                    .into_iter()
                    .map(|i| i.path.rsplit('/').next().unwrap_or_default().to_string())
                    .collect(),
                frames: f.frames(),
                grid: f.grid().map_err(|e| ScenarioError::io(&p, e))?,
            };
            (DataSource::Run { path: p }, shape)
        }
    };
    let field = match d.field {
        Some(f) => {
            if !shape.fields.contains(&f) {
                return Err(ctx.invalid(
                    "data.field",
                    format!("{f:?}"),
                    format!(
                        "the run has no such field; allowed: {}",
                        shape.fields.join(", ")
                    ),
                ));
            }
            f
        }
        None => shape.fields.first().cloned().unwrap_or_default(),
    };
    for (k, v) in [("data.history", d.history), ("data.lag", d.lag)] {
        if v == 0 {
            return Err(ctx.invalid(k, "0", "allowed: an integer >= 1"));
        }
    }
    if d.history > 1 && d.lag != 1 {
        return Err(ctx.invalid(
            "data.lag",
            d.lag.to_string(),
            format!("with data.history = {} the model's output becomes the newest input level, so the target must be the next frame; allowed: 1", d.history),
        ));
    }
    if !(0.0..1.0).contains(&d.val_fraction) {
        return Err(ctx.invalid(
            "data.val_fraction",
            d.val_fraction.to_string(),
            "allowed: a number in [0, 1)",
        ));
    }
    // Pairs: frames - skip - history - lag + 1; the split needs one training pair more than
    // the validation pairs it holds out.
    let need = d.skip + d.history + d.lag + usize::from(d.val_fraction > 0.0);
    if shape.frames < need {
        // Name the key that takes the most frames.
        let (key, value) = [
            ("data.history", d.history),
            ("data.skip", d.skip),
            ("data.lag", d.lag),
        ]
        .into_iter()
        .max_by_key(|(_, v)| *v)
        .unwrap_or(("data.history", d.history));
        return Err(ctx.invalid(
            key,
            value.to_string(),
            format!(
                "the data run has {} frames, but skip {} + history {} + lag {}{} needs at least {need}; allowed: more frames (time.steps / output.every of the data scenario) or smaller data.history, data.skip, data.lag",
                shape.frames,
                d.skip,
                d.history,
                d.lag,
                if d.val_fraction > 0.0 { " + 1 for validation" } else { "" }
            ),
        ));
    }
    Ok((
        DataSpec {
            source,
            field,
            history: d.history,
            lag: d.lag,
            skip: d.skip,
            val_fraction: d.val_fraction,
            seed: d.seed,
        },
        shape,
    ))
}

fn resolve_model(
    ctx: &Ctx<'_>,
    m: RawModel,
    data: &DataSpec,
    shape: &DataShape,
) -> Result<ModelSpec> {
    const TYPES: &str = "stencil, cnn, p4";
    let k = m.kernel;
    if k == 0 || k.is_multiple_of(2) {
        return Err(ctx.invalid(
            "model.kernel",
            k.to_string(),
            "allowed: an odd integer >= 1 (kernels are centred on the sample they update)",
        ));
    }
    if k > shape.grid.ny || k > shape.grid.nx {
        return Err(ctx.invalid(
            "model.kernel",
            k.to_string(),
            format!(
                "the kernel is larger than the data grid (ny, nx) = ({}, {}); allowed: at most {}",
                shape.grid.ny,
                shape.grid.nx,
                shape.grid.ny.min(shape.grid.nx)
            ),
        ));
    }
    let boundary = Boundary::parse(&m.boundary).ok_or_else(|| {
        ctx.invalid(
            "model.boundary",
            format!("{:?}", m.boundary),
            "allowed: zero, constant:<v>, replicate, mirror, symmetric, periodic, antisymmetric (or their scipy/numpy/OpenCV/PyTorch aliases)",
        )
    })?;
    let only = |key: &str, given: bool, types: &str| -> Result<()> {
        if given {
            Err(ctx.invalid(
                key,
                "(given)",
                format!(
                    "model.type = {:?} does not take it; only {types} does",
                    m.kind
                ),
            ))
        } else {
            Ok(())
        }
    };
    Ok(match m.kind.as_str() {
        "stencil" => {
            only("model.channels", m.channels.is_some(), "cnn or p4")?;
            only("model.activation", m.activation.is_some(), "cnn or p4")?;
            only("model.pool", m.pool.is_some(), "p4")?;
            let moments = match m.moments.as_deref() {
                None => MomentMode::Taps,
                Some(s) => {
                    let mode = match s {
                        "free" => MomentMode::Free,
                        "frozen" => MomentMode::Frozen,
                        _ => match s.strip_prefix("order:").map(|v| v.trim().parse::<usize>()) {
                            Some(Ok(k)) => MomentMode::Order(k),
                            _ => {
                                return Err(ctx.invalid(
                                    "model.moments",
                                    format!("{s:?}"),
                                    "allowed: free, frozen, order:<k> (k a non-negative integer)",
                                ));
                            }
                        },
                    };
                    if data.history != 1 {
                        return Err(ctx.invalid(
                            "model.moments",
                            format!("{s:?}"),
                            format!("a moment-constrained stencil has 1 input channel but data.history = {} gives {} channels; allowed: data.history = 1, or no model.moments", data.history, data.history),
                        ));
                    }
                    if m.bias == Some(true) {
                        return Err(ctx.invalid(
                            "model.bias",
                            "true",
                            "a moment-constrained stencil has no bias; allowed: false",
                        ));
                    }
                    mode
                }
            };
            ModelSpec::Stencil {
                kernel: k,
                boundary,
                bias: m.bias.unwrap_or(false),
                moments,
            }
        }
        "cnn" | "p4" => {
            only("model.moments", m.moments.is_some(), "stencil")?;
            only("model.bias", m.bias.is_some(), "stencil")?;
            let activation = parse_activation(ctx, m.activation.as_deref())?;
            let channels = m.channels.unwrap_or_else(|| vec![4]);
            if channels.is_empty() || channels.contains(&0) {
                return Err(ctx.invalid(
                    "model.channels",
                    format!("{channels:?}"),
                    "allowed: a non-empty list of widths >= 1",
                ));
            }
            if m.kind == "cnn" {
                only("model.pool", m.pool.is_some(), "p4")?;
                ModelSpec::Cnn {
                    kernel: k,
                    boundary,
                    channels,
                    activation,
                }
            } else {
                if channels.len() != 1 {
                    return Err(ctx.invalid(
                        "model.channels",
                        format!("{channels:?}"),
                        "a p4 model has one hidden p4 layer; allowed: [c] (its base channels)",
                    ));
                }
                let pool = match m.pool.as_deref().unwrap_or("mean") {
                    "mean" => PoolMode::Mean,
                    "max" => PoolMode::Max,
                    other => {
                        return Err(ctx.invalid(
                            "model.pool",
                            format!("{other:?}"),
                            "allowed: mean, max",
                        ));
                    }
                };
                ModelSpec::P4 {
                    kernel: k,
                    boundary,
                    channels: channels[0],
                    activation,
                    pool,
                }
            }
        }
        other => {
            return Err(ctx.invalid(
                "model.type",
                format!("{other:?}"),
                format!("allowed: {TYPES}"),
            ));
        }
    })
}

fn resolve_train(ctx: &Ctx<'_>, t: RawTrain, model: &ModelSpec) -> Result<TrainSpec> {
    let method = match t.method.as_str() {
        "optimizer" => Method::Optimizer,
        "lstsq" => {
            if !model.is_linear() {
                return Err(ctx.invalid(
                    "train.method",
                    "\"lstsq\"",
                    "least squares fits linear stencils only; allowed with model.type = \"cnn\" or \"p4\": optimizer",
                ));
            }
            Method::Lstsq
        }
        other => {
            return Err(ctx.invalid(
                "train.method",
                format!("{other:?}"),
                "allowed: optimizer, lstsq",
            ));
        }
    };
    let optimizer = t.optimizer.unwrap_or(OptimizerConfig::Adam {
        learning_rate: 1e-2,
        schedule: convsim_cnn::LrSchedule::Constant,
    });
    match optimizer {
        OptimizerConfig::Sgd { learning_rate, .. }
        | OptimizerConfig::Adam { learning_rate, .. }
            if !(learning_rate.is_finite() && learning_rate > 0.0) =>
        {
            return Err(ctx.invalid(
                "train.optimizer.learning_rate",
                learning_rate.to_string(),
                "allowed: a finite number > 0",
            ));
        }
        OptimizerConfig::Sgd { momentum, .. } if !(0.0..1.0).contains(&momentum) => {
            return Err(ctx.invalid(
                "train.optimizer.momentum",
                momentum.to_string(),
                "allowed: a number in [0, 1)",
            ));
        }
        OptimizerConfig::Lbfgs { history: 0 } => {
            return Err(ctx.invalid(
                "train.optimizer.history",
                "0",
                "allowed: an integer >= 1 (correction pairs kept)",
            ));
        }
        OptimizerConfig::Sgd { schedule, .. } | OptimizerConfig::Adam { schedule, .. } => {
            schedule.validate().map_err(|e| {
                ctx.invalid(
                    "train.optimizer.schedule",
                    format!("{schedule:?}"),
                    e.to_string(),
                )
            })?;
        }
        OptimizerConfig::Lbfgs { .. } => {}
    }
    for (k, v) in [("train.epochs", t.epochs), ("train.batch", t.batch)] {
        if v == 0 {
            return Err(ctx.invalid(k, "0", "allowed: an integer >= 1"));
        }
    }
    let loss = match t.loss.as_str() {
        "one_step" | "mse" => Loss::Mse,
        s => match s
            .strip_prefix("rollout:")
            .map(|v| v.trim().parse::<usize>())
        {
            Some(Ok(k)) if k >= 1 => {
                if method == Method::Lstsq {
                    return Err(ctx.invalid(
                        "train.loss",
                        format!("{s:?}"),
                        "least squares minimises the one-step loss; allowed with method = \"lstsq\": one_step",
                    ));
                }
                Loss::Rollout { steps: k }
            }
            _ => {
                return Err(ctx.invalid(
                    "train.loss",
                    format!("{s:?}"),
                    "allowed: one_step, rollout:<k> (k >= 1 model steps)",
                ));
            }
        },
    };
    let precision = match t.precision.as_str() {
        "f64" => Precision::F64,
        "f32" => Precision::F32,
        other => {
            return Err(ctx.invalid("train.precision", format!("{other:?}"), "allowed: f64, f32"));
        }
    };
    Ok(TrainSpec {
        method,
        optimizer,
        epochs: t.epochs,
        batch: t.batch,
        loss,
        precision,
    })
}

#[cfg(test)]
mod tests;
