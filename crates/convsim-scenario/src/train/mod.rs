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
mod resolve;
mod show;
mod truth;

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

use crate::config::{Ctx, Scenario, Sides4, TimeConfig};
use crate::error::{Result, ScenarioError};
use crate::kinds::Kinds;
use resolve::{resolve_data, resolve_model, resolve_train};

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
    /// The solver kinds the data scenario was resolved with (and is resolved again with for
    /// the comparison): [`Kinds::builtin`] unless given to [`TrainScenario::load_with`].
    pub kinds: Kinds,
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

    /// [`TrainScenario::load`] with the solver kinds of `kinds` for its data scenario (the
    /// built-ins plus your own, see [`Kinds::with`]).
    ///
    /// # Errors
    /// As [`TrainScenario::load`].
    pub fn load_with(path: &Path, overrides: &[String], kinds: &Kinds) -> Result<TrainScenario> {
        let text = crate::inputs::read_text(path).map_err(|reason| ScenarioError::File {
            file: path.display().to_string(),
            reason: format!("cannot read the training scenario file: {reason}"),
        })?;
        Self::from_str_with(&text, path, overrides, kinds)
    }

    /// Resolves `text` as if read from `path`.
    ///
    /// # Errors
    /// As [`TrainScenario::load`].
    #[allow(
        clippy::should_implement_trait,
        reason = "it needs the path and overrides, which `FromStr` cannot take"
    )]
    pub fn from_str(text: &str, path: &Path, overrides: &[String]) -> Result<TrainScenario> {
        Self::from_str_with(text, path, overrides, &Kinds::builtin())
    }

    /// [`TrainScenario::from_str`] with the solver kinds of `kinds` for its data scenario.
    ///
    /// # Errors
    /// As [`TrainScenario::load`].
    pub fn from_str_with(
        text: &str,
        path: &Path,
        overrides: &[String],
        kinds: &Kinds,
    ) -> Result<TrainScenario> {
        let file = path.display().to_string();
        let crate::config::Parsed {
            table,
            overridden,
            effective,
            base,
        } = crate::config::parse_with_overrides(text, path, overrides)?;
        let (time, sides) = crate::config::unresolved_sections();
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

        let (data, shape) = resolve_data(&ctx, raw.data, kinds)?;
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
            kinds: kinds.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
