//! Resolution of the `[data]`, `[model]` and `[train]` tables of a training scenario.

use convsim_cnn::{Loss, OptimizerConfig, PoolMode};
use convsim_core::Boundary;

use crate::config::{Ctx, Scenario};
use crate::error::{Result, ScenarioError};
use crate::kinds::Kinds;
use crate::limits::MemoryLimit;

use super::{
    DataShape, DataSource, DataSpec, Method, ModelSpec, MomentMode, Precision, RawData, RawModel,
    RawTrain, TrainSpec, parse_activation,
};

pub(super) fn resolve_data(
    ctx: &Ctx<'_>,
    d: RawData,
    kinds: &Kinds,
) -> Result<(DataSpec, DataShape)> {
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
            let sc = Scenario::load_with(&p, &d.set, &MemoryLimit::detect(None), kinds)?;
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

pub(super) fn resolve_model(
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

pub(super) fn resolve_train(ctx: &Ctx<'_>, t: RawTrain, model: &ModelSpec) -> Result<TrainSpec> {
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
