//! The training loop: seeded shuffling, mini-batches, train/validation split, best checkpoint.
//!
//! Deterministic: the split and every epoch's shuffle come from one `ChaCha8` generator seeded
//! with `seed`, and the core's plans give results independent of the thread count, so the same
//! configuration gives bitwise the same model.
//!
//! ```
//! use convsim_cnn::train::{train, OptimizerConfig, TrainConfig};
//! use convsim_cnn::{Conv2d, Conv2dConfig, LrSchedule, SnapshotPairs};
//! use convsim_core::Boundary;
//! use ndarray::Array4;
//! // Learn y = 2x with a 1x1 convolution.
//! let x = Array4::from_shape_fn((8, 1, 4, 4), |(n, _, i, j)| ((n * 5 + i * 3 + j) % 7) as f64 - 3.0);
//! let data = SnapshotPairs::new(x.clone(), x.mapv(|v| 2.0 * v)).unwrap();
//! let mut model = Conv2d::<f64>::new(Conv2dConfig::new(1, 1, 1).bias(false), 0).unwrap();
//! let cfg = TrainConfig {
//!     epochs: 200, batch_size: 4, val_fraction: 0.25, seed: 1,
//!     optimizer: OptimizerConfig::Adam { learning_rate: 0.05, schedule: LrSchedule::Constant },
//!     ..TrainConfig::default()
//! };
//! let report = train(&mut model, &data, &cfg, |_| {}).unwrap();
//! assert!((model.weight()[[0, 0, 0, 0]] - 2.0).abs() < 1e-3, "{report:?}");
//! ```

use ndarray::{Array4, ArrayView4, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::layer::{params_to_vec, set_params};
use crate::loss::{Loss, LossEvaluator};
use crate::optim::{Adam, Lbfgs, LrSchedule, Optimizer, Sgd};
use crate::{CnnError, Float, Layer, Result, SnapshotPairs};

/// Which optimiser, with its hyper-parameters (serde, for scenario files).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// SGD with momentum.
    Sgd {
        /// Initial learning rate (> 0).
        learning_rate: f64,
        /// Momentum in `[0, 1)`.
        momentum: f64,
        /// Decay per optimiser step.
        #[serde(default)]
        schedule: LrSchedule,
    },
    /// Adam (`beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`).
    Adam {
        /// Initial learning rate (> 0).
        learning_rate: f64,
        /// Decay per optimiser step.
        #[serde(default)]
        schedule: LrSchedule,
    },
    /// Full-batch L-BFGS; each epoch is one L-BFGS iteration.
    Lbfgs {
        /// Correction pairs kept.
        history: usize,
    },
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Adam {
            learning_rate: 1e-3,
            schedule: LrSchedule::Constant,
        }
    }
}

/// A training run (serde, for scenario files).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training pairs (L-BFGS: iterations).
    pub epochs: usize,
    /// Pairs per optimiser step.
    pub batch_size: usize,
    /// Fraction of the pairs held out for validation, in `[0, 1)`.
    pub val_fraction: f64,
    /// Seed of the split and the shuffles.
    pub seed: u64,
    /// Loss.
    pub loss: Loss,
    /// Optimiser.
    pub optimizer: OptimizerConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 8,
            val_fraction: 0.2,
            seed: 0,
            loss: Loss::Mse,
            optimizer: OptimizerConfig::default(),
        }
    }
}

/// Progress after one epoch (handed to the caller's callback, e.g. a progress bar).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epoch index (0-based).
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (L-BFGS: full-batch loss after the step).
    pub train_loss: f64,
    /// Validation loss after the epoch, if there is a validation set.
    pub val_loss: Option<f64>,
    /// Learning rate of the last step (0 for L-BFGS).
    pub learning_rate: f64,
    /// Whether this epoch is the best so far (the checkpoint kept).
    pub best: bool,
}

/// Outcome of [`train`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Training loss per epoch.
    pub train_loss: Vec<f64>,
    /// Validation loss per epoch (empty without a validation set).
    pub val_loss: Vec<f64>,
    /// Epoch of the kept checkpoint.
    pub best_epoch: usize,
    /// Its validation loss (training loss without a validation set).
    pub best_loss: f64,
    /// Optimiser steps taken.
    pub steps: usize,
}

/// Copies pairs `idx` into `(bx, by)`, reallocating only if the batch size changed.
fn gather<T: Float>(
    data: &SnapshotPairs<T>,
    idx: &[usize],
    bx: &mut Array4<T>,
    by: &mut Array4<T>,
) {
    let (_, c, h, w) = data.inputs().dim();
    let co = data.targets().dim().1;
    if bx.dim().0 != idx.len() {
        *bx = Array4::zeros((idx.len(), c, h, w));
        *by = Array4::zeros((idx.len(), co, h, w));
    }
    for (k, &i) in idx.iter().enumerate() {
        bx.index_axis_mut(Axis(0), k)
            .assign(&data.inputs().index_axis(Axis(0), i));
        by.index_axis_mut(Axis(0), k)
            .assign(&data.targets().index_axis(Axis(0), i));
    }
}

/// Loss over a whole data set in batches; with `grad`, also accumulates its gradient.
fn dataset_loss<T: Float>(
    model: &mut dyn Layer<T>,
    ev: &mut LossEvaluator<T>,
    data: &SnapshotPairs<T>,
    batch: usize,
    grad: bool,
) -> Result<f64> {
    let n = data.len();
    let mut total = 0.0;
    let mut start = 0;
    while start < n {
        let end = (start + batch).min(n);
        let w = (end - start) as f64 / n as f64;
        let x: ArrayView4<'_, T> = data
            .inputs()
            .slice_move(ndarray::s![start..end, .., .., ..]);
        let y: ArrayView4<'_, T> = data
            .targets()
            .slice_move(ndarray::s![start..end, .., .., ..]);
        total += w * if grad {
            ev.loss_and_grad(model, x, y, w)?
        } else {
            ev.loss_only(model, x, y)?
        };
        start = end;
    }
    Ok(total)
}

fn make_optimizer<T: Float>(cfg: &OptimizerConfig) -> Result<Option<Box<dyn Optimizer<T>>>> {
    Ok(match *cfg {
        OptimizerConfig::Sgd {
            learning_rate,
            momentum,
            schedule,
        } => {
            schedule.validate()?;
            Some(Box::new(
                Sgd::new(learning_rate, momentum)?.with_schedule(schedule),
            ))
        }
        OptimizerConfig::Adam {
            learning_rate,
            schedule,
        } => {
            schedule.validate()?;
            Some(Box::new(Adam::new(learning_rate)?.with_schedule(schedule)))
        }
        OptimizerConfig::Lbfgs { history } => {
            if history == 0 {
                return Err(CnnError::InvalidParameter {
                    name: "optimizer.history",
                    value: "0".into(),
                    allowed: "L-BFGS needs at least 1 correction pair",
                });
            }
            None
        }
    })
}

/// Trains `model` on `data` and leaves it at the best checkpoint (lowest validation loss, or
/// lowest training loss without validation). `on_epoch` sees every epoch's report.
///
/// # Errors
/// Invalid configuration (zero epochs or batch size, learning rate not positive, bad split),
/// data that do not fit the model, or a non-finite loss (the model is then left at the best
/// checkpoint so far).
pub fn train<T: Float>(
    model: &mut dyn Layer<T>,
    data: &SnapshotPairs<T>,
    cfg: &TrainConfig,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<TrainReport> {
    if cfg.epochs == 0 {
        return Err(CnnError::InvalidParameter {
            name: "epochs",
            value: "0".into(),
            allowed: "it must be at least 1",
        });
    }
    if cfg.batch_size == 0 {
        return Err(CnnError::InvalidParameter {
            name: "batch_size",
            value: "0".into(),
            allowed: "it must be at least 1",
        });
    }
    let opt = make_optimizer::<T>(&cfg.optimizer)?;
    let (train_set, val_set) = data.split(cfg.val_fraction, cfg.seed)?;
    let Some(mut opt) = opt else {
        let OptimizerConfig::Lbfgs { history } = cfg.optimizer else {
            unreachable!("only L-BFGS has no first-order optimiser")
        };
        return train_lbfgs(model, &train_set, val_set.as_ref(), cfg, history, on_epoch);
    };
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(1));
    let mut ev = LossEvaluator::new(cfg.loss);
    let mut vev = LossEvaluator::new(cfg.loss);
    let mut report = TrainReport {
        train_loss: Vec::new(),
        val_loss: Vec::new(),
        best_epoch: 0,
        best_loss: f64::INFINITY,
        steps: 0,
    };
    let mut best = params_to_vec(model);
    let mut order: Vec<usize> = (0..train_set.len()).collect();
    let (mut bx, mut by) = (Array4::zeros((0, 0, 0, 0)), Array4::zeros((0, 0, 0, 0)));
    for epoch in 0..cfg.epochs {
        let (train_loss, lr) = {
            order.shuffle(&mut rng);
            let mut sum = 0.0;
            let mut lr = 0.0;
            for chunk in order.chunks(cfg.batch_size) {
                gather(&train_set, chunk, &mut bx, &mut by);
                model.zero_grad();
                let l = ev.loss_and_grad(model, bx.view(), by.view(), 1.0)?;
                if !l.is_finite() {
                    set_params(model, &best);
                    return Err(CnnError::NonFinite {
                        epoch,
                        step: report.steps,
                        value: l,
                    });
                }
                lr = opt.learning_rate();
                opt.step(model);
                report.steps += 1;
                sum += l * chunk.len() as f64;
            }
            (sum / train_set.len() as f64, lr)
        };
        let val_loss = match &val_set {
            Some(v) => Some(dataset_loss(model, &mut vev, v, cfg.batch_size, false)?),
            None => None,
        };
        let score = val_loss.unwrap_or(train_loss);
        if !score.is_finite() {
            set_params(model, &best);
            return Err(CnnError::NonFinite {
                epoch,
                step: report.steps,
                value: score,
            });
        }
        let is_best = score < report.best_loss;
        if is_best {
            report.best_loss = score;
            report.best_epoch = epoch;
            best = params_to_vec(model);
        }
        report.train_loss.push(train_loss);
        if let Some(v) = val_loss {
            report.val_loss.push(v);
        }
        on_epoch(&EpochReport {
            epoch,
            train_loss,
            val_loss,
            learning_rate: lr,
            best: is_best,
        });
    }
    set_params(model, &best);
    Ok(report)
}

/// Full-batch L-BFGS for `cfg.epochs` iterations; the loss only decreases, so the final
/// parameters are the checkpoint kept.
fn train_lbfgs<T: Float>(
    model: &mut dyn Layer<T>,
    train_set: &SnapshotPairs<T>,
    val_set: Option<&SnapshotPairs<T>>,
    cfg: &TrainConfig,
    history: usize,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<TrainReport> {
    let start = params_to_vec(model);
    let mut x: Vec<f64> = start.iter().map(|v| v.to_f64_lossless()).collect();
    let mut tmp = vec![T::zero(); x.len()];
    let mut ev = LossEvaluator::new(cfg.loss);
    let mut err = None;
    let rep = Lbfgs {
        history,
        max_iter: cfg.epochs,
        grad_tol: 0.0,
        loss_tol: 0.0,
    }
    .minimize(&mut x, |p, g| {
        if err.is_some() {
            return f64::NAN;
        }
        let pt: Vec<T> = p.iter().map(|v| T::of(*v)).collect();
        set_params(model, &pt);
        model.zero_grad();
        match dataset_loss(model, &mut ev, train_set, cfg.batch_size, true) {
            Ok(l) => {
                crate::layer::grads_into(model, &mut tmp);
                for (gi, ti) in g.iter_mut().zip(&tmp) {
                    *gi = ti.to_f64_lossless();
                }
                l
            }
            Err(e) => {
                err = Some(e);
                f64::NAN
            }
        }
    });
    if let Some(e) = err {
        set_params(model, &start);
        return Err(e);
    }
    let rep = match rep {
        Ok(r) => r,
        Err(e) => {
            set_params(model, &start);
            return Err(e);
        }
    };
    let pt: Vec<T> = x.iter().map(|v| T::of(*v)).collect();
    set_params(model, &pt);
    let val_loss = match val_set {
        Some(v) => Some(dataset_loss(model, &mut ev, v, cfg.batch_size, false)?),
        None => None,
    };
    let last = rep.history.len() - 1;
    for (epoch, &l) in rep.history.iter().enumerate().skip(1) {
        on_epoch(&EpochReport {
            epoch: epoch - 1,
            train_loss: l,
            val_loss: if epoch == last { val_loss } else { None },
            learning_rate: 0.0,
            best: epoch == last,
        });
    }
    Ok(TrainReport {
        train_loss: rep.history[1..].to_vec(),
        val_loss: val_loss.into_iter().collect(),
        best_epoch: last.saturating_sub(1),
        best_loss: val_loss.unwrap_or(rep.loss),
        steps: rep.iterations,
    })
}
