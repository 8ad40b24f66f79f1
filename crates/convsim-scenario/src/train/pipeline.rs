//! `convsim train`: data run -> snapshot pairs -> fit -> rollout against the solver -> files.
//!
//! Output folder (`-o DIR`, default `runs/<name>/`):
//!
//! ```text
//! data/run.h5            the data scenario's run (with its pictures), unless data.run is given
//! train.h5               loss/{epoch,train,val}; model/{kernel,moments,bias,learned_moments,
//!                        params}; truth/{kernel,moments,difference}; rollout/{step,time,rel_error}
//! stencil.toml           the learned step as a convsim-stencil file (linear, one channel, no bias)
//! loss.png               training and validation loss per epoch (log y)
//! stencil_learned*.png   learned taps (one picture per input channel, `_c<k>` when several)
//! stencil_true.png       the true step stencil, when the data scheme has one (see below)
//! stencil_diff.png       learned minus true
//! rollout.png            relative L2 error of the model rollout against the solver, per step
//! ```
//!
//! **True stencil.** For an explicit order-2 diffusion run with a constant isotropic
//! diffusivity and no source, one solver step is `K = delta + r_y L_y + r_x L_x` with
//! `r = D dt / h^2` and `L = [1, -2, 1]` along each axis (the 5-point Laplacian when
//! `r_x = r_y`); the model step spans `lag * output.every` solver steps, whose stencil is `K`
//! convolved with itself that many times.
//!
//! **Rollout.** The data scenario is resolved again (from the run file's stored scenario text
//! when the data came as a run file), its solver built through the kind registry, stepped to
//! frame `skip`, and the model is applied to the same start `rollout_steps` times, feeding its
//! output back; after each application the solver has advanced `lag * output.every` steps and
//! `||model - solver||_2 / ||solver||_2` is recorded.

use std::path::{Path, PathBuf};
use std::time::Instant;

use convsim_cnn::export::{StencilFile, StencilKind};
use convsim_cnn::fit::{StencilFitConfig, fit_moment_stencil, fit_stencil};
use convsim_cnn::moments::{MomentConstraint, MomentStencil, moment_matrix};
use convsim_cnn::train::{EpochReport, TrainConfig, train};
use convsim_cnn::{
    Activation, CnnError, Conv2d, Conv2dConfig, Float, Layer, LossEvaluator, MomentConv2d,
    P4GroupConv, P4LiftConv, PairSource, RotationPool, Sequential, SnapshotPairs, params_to_vec,
    set_params,
};
use convsim_core::{Boundaries, Grid};
use ndarray::{Array1, Array2, Array3, Array4, ArrayD, Axis, s};

use super::pairs::RunPairs;
use super::truth::{data_scenario, true_model_step, true_step};
use super::{DataSource, Method, ModelSpec, MomentMode, Precision, TrainScenario};
use crate::config::Scenario;
use crate::driver::{self, Progress, RunOptions};
use crate::error::{Result, ScenarioError};
use crate::outputs::OutputDir;

/// Name of the training results file in the output folder.
pub const TRAIN_FILE: &str = "train.h5";
/// Name of the exported stencil in the output folder.
pub const STENCIL_FILE: &str = "stencil.toml";

/// How to train.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Output folder (created if missing).
    pub out_dir: PathBuf,
    /// Replace earlier results in `out_dir`.
    pub force: bool,
}

/// Where training is, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrainProgress {
    /// The data scenario is running.
    Data(Progress),
    /// An epoch finished.
    Epoch {
        /// 0-based epoch.
        epoch: usize,
        /// Epochs in the run.
        epochs: usize,
        /// Its training loss.
        train_loss: f64,
        /// Its validation loss.
        val_loss: Option<f64>,
    },
    /// The rollout comparison is running.
    Rollout,
}

/// What a training run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutcome {
    /// `train.h5`.
    pub train_file: PathBuf,
    /// The data run file.
    pub data_run: PathBuf,
    /// `stencil.toml`, for linear one-channel models.
    pub stencil_file: Option<PathBuf>,
    /// Pictures drawn.
    pub pictures: Vec<PathBuf>,
    /// Training loss of the last epoch.
    pub train_loss: f64,
    /// Validation loss of the kept model (`NaN` without validation).
    pub val_loss: f64,
    /// Epoch of the kept model.
    pub best_epoch: usize,
    /// `||learned - true||_F / ||true||_F`, when the true stencil is known and fits.
    pub stencil_error: Option<f64>,
    /// Relative L2 rollout error per step.
    pub rollout_error: Vec<f64>,
    /// Wall-clock seconds of the whole command.
    pub seconds: f64,
}

/// The default output folder: `runs/<name>`.
#[must_use]
pub fn default_out_dir(ts: &TrainScenario) -> PathBuf {
    Path::new("runs").join(&ts.name)
}

/// Takes the output folder ([`crate::outputs`]): an earlier training result is kept unless
/// `force` (then the files convsim wrote are removed, nothing else), and a name this training
/// writes that is held by a file convsim did not write is refused before anything runs.
fn prepare_dir(dir: &Path, ts: &TrainScenario, force: bool) -> Result<OutputDir> {
    let mut out = OutputDir::open(dir)?;
    let train = out.join(TRAIN_FILE);
    if train.symlink_metadata().is_ok() && !force {
        return Err(ScenarioError::OutputExists {
            dir: dir.display().to_string(),
            what: train.display().to_string(),
        });
    }
    let learned: Vec<String> = if ts.data.history == 1 {
        vec!["stencil_learned.png".into()]
    } else {
        (0..ts.data.history)
            .map(|c| format!("stencil_learned_c{c}.png"))
            .collect()
    };
    let fixed = [
        TRAIN_FILE,
        STENCIL_FILE,
        "loss.png",
        "stencil_true.png",
        "stencil_diff.png",
        "rollout.png",
    ];
    for name in fixed
        .iter()
        .copied()
        .chain(learned.iter().map(String::as_str))
    {
        out.check_writable(name)?;
    }
    if force {
        out.remove_ours(
            |n| n == TRAIN_FILE || n == STENCIL_FILE || crate::pictures::is_picture(n),
            &[],
        )?;
    }
    Ok(out)
}

/// A training problem in the message style of the scenario files.
fn cnn_err(ts: &TrainScenario, e: CnnError) -> ScenarioError {
    let file = ts.file.display().to_string();
    match e {
        CnnError::NonFinite { .. } => ScenarioError::invalid(
            file,
            "train.optimizer.learning_rate",
            format!("{:?}", ts.train.optimizer),
            format!("{e}; allowed: a smaller learning rate"),
        ),
        CnnError::KernelLargerThanGrid { .. } => ScenarioError::invalid(
            file,
            "model.kernel",
            ts.model.kernel().to_string(),
            e.to_string(),
        ),
        CnnError::Channels { .. } => {
            ScenarioError::invalid(file, "model", "(channels)", e.to_string())
        }
        CnnError::RankDeficient { .. } | CnnError::NotEnoughData(_) => ScenarioError::invalid(
            file,
            "data",
            "(snapshots)",
            format!("{e}; allowed: richer data (noisier initial field, more frames)"),
        ),
        other => ScenarioError::invalid(file, "train", "(training)", other.to_string()),
    }
}

/// What the fit produced, in f64.
struct Fitted {
    /// One-step mean squared error of the initial model on every pair.
    initial_loss: f64,
    /// Linear models: taps `(c_in, kh, kw)`.
    kernel: Option<Array3<f64>>,
    bias: Option<f64>,
    learned_moments: Vec<([usize; 2], f64)>,
    params: Vec<f64>,
    describe: String,
    train_loss: Vec<f64>,
    val_loss: Vec<f64>,
    best_epoch: usize,
    rollout: Vec<f64>,
}

fn identity_moments(k: usize) -> Array2<f64> {
    let mut m = Array2::zeros((k, k));
    m[[0, 0]] = 1.0;
    m
}

/// The moment parameterisation of a stencil model (`None` for plain taps).
fn moment_stencil(ts: &TrainScenario, grid: &Grid) -> Option<convsim_cnn::Result<MomentStencil>> {
    let ModelSpec::Stencil {
        kernel: k, moments, ..
    } = &ts.model
    else {
        return None;
    };
    let c = match moments {
        MomentMode::Taps => return None,
        MomentMode::Free => MomentConstraint::Free,
        MomentMode::Frozen => MomentConstraint::Frozen,
        MomentMode::Order(o) => MomentConstraint::Order(*o),
    };
    Some(MomentStencil::new(
        identity_moments(*k),
        [k / 2, k / 2],
        [grid.dy, grid.dx],
        &c,
    ))
}

fn build_model<T: Float>(
    ts: &TrainScenario,
    grid: &Grid,
) -> convsim_cnn::Result<Box<dyn Layer<T>>> {
    let h = ts.data.history;
    let seed = ts.data.seed;
    Ok(match &ts.model {
        ModelSpec::Stencil {
            kernel: k,
            boundary,
            bias,
            ..
        } => {
            let k = *k;
            if let Some(st) = moment_stencil(ts, grid) {
                Box::new(MomentConv2d::<T>::new(st?, *boundary)?)
            } else {
                // Start from persistence (the identity step on the newest level): the learned
                // step is a small correction of it for any stable solver.
                let mut w = Array4::zeros((1, h, k, k));
                w[[0, h - 1, k / 2, k / 2]] = T::one();
                let cfg = Conv2dConfig::new(h, 1, k).boundary(*boundary);
                Box::new(Conv2d::with_weights(
                    cfg,
                    w,
                    bias.then(|| Array1::zeros(1)),
                )?)
            }
        }
        ModelSpec::Cnn {
            kernel,
            boundary,
            channels,
            activation,
        } => {
            let mut layers: Vec<Box<dyn Layer<T>>> = Vec::new();
            let mut c_in = h;
            for (i, &c) in channels.iter().enumerate() {
                let cfg = Conv2dConfig::new(c_in, c, *kernel).boundary(*boundary);
                layers.push(Box::new(Conv2d::<T>::new(cfg, seed + i as u64)?));
                layers.push(Box::new(Activation::<T>::new(*activation)));
                c_in = c;
            }
            let cfg = Conv2dConfig::new(c_in, 1, *kernel).boundary(*boundary);
            layers.push(Box::new(Conv2d::<T>::new(
                cfg,
                seed + channels.len() as u64,
            )?));
            Box::new(Sequential::new(layers)?)
        }
        ModelSpec::P4 {
            kernel,
            boundary,
            channels,
            activation,
            pool,
        } => {
            let lift = Conv2dConfig::new(h, *channels, *kernel).boundary(*boundary);
            let group = Conv2dConfig::new(*channels, 1, *kernel).boundary(*boundary);
            Box::new(Sequential::new(vec![
                Box::new(P4LiftConv::<T>::new(lift, seed)?),
                Box::new(Activation::<T>::new(*activation)),
                Box::new(P4GroupConv::<T>::new(group, seed + 1)?),
                Box::new(RotationPool::<T>::new(*pool)),
            ])?)
        }
    })
}

/// Mean-squared one-step loss of `model` on `data` (in batches of `batch`).
fn mse_on<T: Float>(
    model: &mut dyn Layer<T>,
    data: &SnapshotPairs<T>,
    batch: usize,
) -> convsim_cnn::Result<f64> {
    let mut ev = LossEvaluator::new(convsim_cnn::Loss::Mse);
    let n = data.len();
    let mut total = 0.0;
    let mut start = 0;
    while start < n {
        let end = (start + batch).min(n);
        let l = ev.loss_only(
            model,
            data.inputs().slice_move(s![start..end, .., .., ..]),
            data.targets().slice_move(s![start..end, .., .., ..]),
        )?;
        total += l * (end - start) as f64 / n as f64;
        start = end;
    }
    Ok(total)
}

fn fit_and_rollout<T: Float>(
    ts: &TrainScenario,
    source: &RunPairs,
    grid: &Grid,
    sc: Option<&Scenario>,
    every: u64,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<Fitted> {
    let e = |err: CnnError| cnn_err(ts, err);
    let pairs: SnapshotPairs<T> = source.load_pairs().map_err(e)?;
    let mut model = build_model::<T>(ts, grid).map_err(e)?;
    let boundaries = match &ts.model {
        ModelSpec::Stencil { boundary, .. }
        | ModelSpec::Cnn { boundary, .. }
        | ModelSpec::P4 { boundary, .. } => Boundaries::uniform(*boundary),
    };
    let initial_loss = mse_on(model.as_mut(), &pairs, ts.train.batch).map_err(e)?;
    let (train_loss, val_loss, best_epoch) = match ts.train.method {
        Method::Optimizer => {
            let cfg = TrainConfig {
                epochs: ts.train.epochs,
                batch_size: ts.train.batch,
                val_fraction: ts.data.val_fraction,
                seed: ts.data.seed,
                loss: ts.train.loss,
                optimizer: ts.train.optimizer,
            };
            let epochs = cfg.epochs;
            let r = train(model.as_mut(), &pairs, &cfg, |r: &EpochReport| {
                progress(TrainProgress::Epoch {
                    epoch: r.epoch,
                    epochs,
                    train_loss: r.train_loss,
                    val_loss: r.val_loss,
                });
            })
            .map_err(e)?;
            (r.train_loss, r.val_loss, r.best_epoch)
        }
        Method::Lstsq => {
            let (tr, va) = pairs.split(ts.data.val_fraction, ts.data.seed).map_err(e)?;
            let ModelSpec::Stencil {
                kernel: k, bias, ..
            } = &ts.model
            else {
                unreachable!("resolution allows lstsq for linear stencils only")
            };
            let params: Vec<f64> = if let Some(st) = moment_stencil(ts, grid) {
                fit_moment_stencil(&tr, &st.map_err(e)?, boundaries)
                    .map_err(e)?
                    .theta
            } else {
                let fit = fit_stencil(
                    &tr,
                    &StencilFitConfig {
                        kernel: [*k, *k],
                        boundaries,
                        bias: *bias,
                    },
                )
                .map_err(e)?;
                // Conv2d visits its weight, then its bias.
                let mut p: Vec<f64> = fit.taps.iter().copied().collect();
                if *bias {
                    p.extend(&fit.bias);
                }
                p
            };
            let pt: Vec<T> = params.iter().map(|v| T::of(*v)).collect();
            set_params(model.as_mut(), &pt);
            let tl = mse_on(model.as_mut(), &tr, ts.train.batch).map_err(e)?;
            progress(TrainProgress::Epoch {
                epoch: 0,
                epochs: 1,
                train_loss: tl,
                val_loss: None,
            });
            let vl = match &va {
                Some(v) => vec![mse_on(model.as_mut(), v, ts.train.batch).map_err(e)?],
                None => Vec::new(),
            };
            (vec![tl], vl, 0)
        }
    };

    // Read the learned model back in f64.
    let h = ts.data.history;
    let (kernel, bias, learned_moments) = match &ts.model {
        ModelSpec::Stencil {
            kernel: k, bias, ..
        } => {
            let p: Vec<f64> = params_to_vec(model.as_mut())
                .iter()
                .map(|v| v.to_f64_lossless())
                .collect();
            if let Some(st) = moment_stencil(ts, grid) {
                let st = st.map_err(e)?;
                let kern = st.kernel(&p);
                let lm = st.learned().iter().copied().zip(p).collect();
                (Some(kern.insert_axis(Axis(0))), None, lm)
            } else {
                let n = h * k * k;
                let kern = Array3::from_shape_vec((h, *k, *k), p[..n].to_vec())
                    .expect("Conv2d weights are (1, history, k, k)");
                (Some(kern), bias.then(|| p[n]), Vec::new())
            }
        }
        _ => (None, None, Vec::new()),
    };
    let params: Vec<f64> = params_to_vec(model.as_mut())
        .iter()
        .map(|v| v.to_f64_lossless())
        .collect();

    // Rollout against the solver.
    let mut rollout = Vec::new();
    if let Some(sc) = sc
        && ts.rollout_steps > 0
    {
        progress(TrainProgress::Rollout);
        let mut sim = sc.solver.build(sc)?;
        let field = ts.data.field.as_str();
        let (ny, nx) = (grid.ny, grid.nx);
        let mut buf = Array2::zeros((ny, nx));
        let mut x = Array4::<T>::zeros((1, h, ny, nx));
        for _ in 0..ts.data.skip as u64 * every {
            sim.step();
        }
        for c in 0..h {
            if c > 0 {
                for _ in 0..every {
                    sim.step();
                }
            }
            sim.write_field(field, buf.view_mut());
            x.slice_mut(s![0, c, .., ..])
                .zip_mut_with(&buf, |a, b| *a = T::of(*b));
        }
        let per = ts.data.lag as u64 * every;
        for _ in 0..ts.rollout_steps {
            for _ in 0..per {
                sim.step();
            }
            sim.write_field(field, buf.view_mut());
            model.forward(x.view()).map_err(e)?;
            let y = model.output();
            let (mut num, mut den) = (0.0, 0.0);
            for (a, b) in y.iter().zip(buf.iter()) {
                let d = a.to_f64_lossless() - b;
                num += d * d;
                den += b * b;
            }
            rollout.push(if den > 0.0 {
                (num / den).sqrt()
            } else {
                num.sqrt()
            });
            for c in 1..h {
                for i in 0..ny {
                    for j in 0..nx {
                        x[[0, c - 1, i, j]] = x[[0, c, i, j]];
                    }
                }
            }
            x.slice_mut(s![0, h - 1, .., ..])
                .assign(&y.slice(s![0, 0, .., ..]));
        }
    }
    Ok(Fitted {
        initial_loss,
        kernel,
        bias,
        learned_moments,
        params,
        describe: model.describe(),
        train_loss,
        val_loss,
        best_epoch,
        rollout,
    })
}

/// Runs a training scenario to the end. `progress` sees the data run's steps, every epoch and
/// the start of the rollout.
///
/// # Errors
/// [`ScenarioError::OutputExists`] / [`ScenarioError::OutputNotWritable`] before anything is
/// computed; data-run errors; bad data (missing field, too few frames) and training failures
/// as [`ScenarioError::Invalid`] naming the key; writing failures.
pub fn run_training(
    ts: &TrainScenario,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<TrainOutcome> {
    let start = Instant::now();
    let dir = &opts.out_dir;
    let mut out = prepare_dir(dir, ts, opts.force)?;
    let data_run = match &ts.data.source {
        DataSource::Scenario { scenario } => {
            let r = driver::run(
                scenario,
                &RunOptions {
                    out_dir: dir.join("data"),
                    force: true,
                    resume: false,
                    stop: None,
                },
                &mut |p| progress(TrainProgress::Data(p)),
            )?;
            r.run_file
        }
        DataSource::Run { path } => path.clone(),
    };
    let file = ts.file.display().to_string();
    let base = RunPairs {
        path: data_run.clone(),
        field: ts.data.field.clone(),
        history: ts.data.history,
        lag: ts.data.lag,
        skip: ts.data.skip,
    };
    let series = base.read_series(&file)?;
    // A field that never changes leaves nothing to learn (every step is the identity): say so
    // before training, not later on a loss of 0 or a plot.
    let first = series.data.iter().copied().find(|v| v.is_finite());
    if let Some(c) = first
        && series.data.iter().all(|v| *v == c)
    {
        return Err(ScenarioError::invalid(
            file.clone(),
            "data.field",
            format!("{:?}", ts.data.field),
            format!(
                "the field is {c} everywhere in every frame of {}: there is nothing to learn; allowed: data whose field changes (another initial field or data.field)",
                data_run.display()
            ),
        ));
    }
    let every = series.every;
    let frame_dt = series.frame_dt;
    drop(series);
    let source = RunPairs {
        lag: ts.data.lag * ts.train.loss.steps(),
        ..base
    };
    let rf = convsim_io::RunFile::open(&data_run).map_err(|e| ScenarioError::io(&data_run, e))?;
    let grid = rf.grid().map_err(|e| ScenarioError::io(&data_run, e))?;
    let time_units = rf.time_units().unwrap_or_default();
    drop(rf);
    let sc = data_scenario(ts, &data_run);
    let fitted = match ts.train.precision {
        Precision::F64 => fit_and_rollout::<f64>(ts, &source, &grid, sc.as_ref(), every, progress)?,
        Precision::F32 => fit_and_rollout::<f32>(ts, &source, &grid, sc.as_ref(), every, progress)?,
    };

    // The true step, when known and representable by the model's kernel.
    let k = ts.model.kernel();
    let truth = sc
        .as_ref()
        .and_then(true_step)
        .and_then(|one| true_model_step(&one, ts.data.lag as u64 * every, k))
        .filter(|_| ts.data.history == 1 && ts.model.is_linear());
    let spacing = [grid.dy, grid.dx];
    let anchor = [k / 2, k / 2];
    let learned_2d = fitted
        .kernel
        .as_ref()
        .map(|kern| kern.index_axis(Axis(0), kern.dim().0 - 1).to_owned());
    let stencil_error = match (&truth, &learned_2d) {
        (Some(t), Some(l)) => {
            let num: f64 = l.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum();
            let den: f64 = t.iter().map(|b| b * b).sum();
            Some((num / den).sqrt())
        }
        _ => None,
    };

    // train.h5.
    let train_path = out.claim(TRAIN_FILE)?;
    let mut arrays: Vec<(String, ArrayD<f64>)> = Vec::new();
    let vec1 = |v: &[f64]| Array1::from(v.to_vec()).into_dyn();
    arrays.push((
        "loss/epoch".into(),
        vec1(
            &(0..fitted.train_loss.len())
                .map(|i| i as f64)
                .collect::<Vec<_>>(),
        ),
    ));
    arrays.push(("loss/train".into(), vec1(&fitted.train_loss)));
    if !fitted.val_loss.is_empty() {
        arrays.push(("loss/val".into(), vec1(&fitted.val_loss)));
    }
    if let Some(kern) = &fitted.kernel {
        arrays.push(("model/kernel".into(), kern.clone().into_dyn()));
        let mut m = Array3::zeros(kern.dim());
        for (c, plane) in kern.outer_iter().enumerate() {
            m.index_axis_mut(Axis(0), c)
                .assign(&moment_matrix(plane, anchor, spacing));
        }
        arrays.push(("model/moments".into(), m.into_dyn()));
    }
    if let Some(b) = fitted.bias {
        arrays.push(("model/bias".into(), vec1(&[b])));
    }
    if !fitted.learned_moments.is_empty() {
        let lm = Array2::from_shape_fn((fitted.learned_moments.len(), 3), |(r, c)| {
            let ([i, j], v) = fitted.learned_moments[r];
            [i as f64, j as f64, v][c]
        });
        arrays.push(("model/learned_moments".into(), lm.into_dyn()));
    }
    arrays.push(("model/params".into(), vec1(&fitted.params)));
    if let Some(t) = &truth {
        arrays.push(("truth/kernel".into(), t.clone().into_dyn()));
        arrays.push((
            "truth/moments".into(),
            moment_matrix(t.view(), anchor, spacing).into_dyn(),
        ));
        if let Some(l) = &learned_2d {
            arrays.push(("truth/difference".into(), (l - t).into_dyn()));
        }
    }
    if !fitted.rollout.is_empty() {
        let n = fitted.rollout.len();
        let steps: Vec<f64> = (1..=n).map(|r| r as f64).collect();
        let times: Vec<f64> = (1..=n)
            .map(|r| r as f64 * ts.data.lag as f64 * frame_dt)
            .collect();
        arrays.push(("rollout/step".into(), vec1(&steps)));
        arrays.push(("rollout/time".into(), vec1(&times)));
        arrays.push(("rollout/rel_error".into(), vec1(&fitted.rollout)));
    }
    let views: Vec<(&str, ndarray::ArrayViewD<'_, f64>)> =
        arrays.iter().map(|(n, a)| (n.as_str(), a.view())).collect();
    let method = format!("{:?}", ts.train.method).to_lowercase();
    let data_run_s = data_run.display().to_string();
    let attrs: Vec<(&str, &str)> = vec![
        ("run_name", ts.name.as_str()),
        ("description", ts.description.as_str()),
        ("scenario", ts.text.as_str()),
        ("scenario_file", file.as_str()),
        ("data_run", data_run_s.as_str()),
        ("field", ts.data.field.as_str()),
        ("model", fitted.describe.as_str()),
        ("method", method.as_str()),
        ("time_units", time_units.as_str()),
    ];
    convsim_io::write_arrays(&train_path, "train", &attrs, &views)
        .map_err(|e| ScenarioError::io(&train_path, e))?;

    // stencil.toml: a linear one-channel step without bias.
    let stencil_file = match (&learned_2d, fitted.bias) {
        (Some(l), None) if ts.data.history == 1 => {
            let p = out.claim(STENCIL_FILE)?;
            let f = StencilFile::new(
                StencilKind::Step,
                l.view(),
                anchor,
                spacing,
                (frame_dt > 0.0).then_some(frame_dt * ts.data.lag as f64),
                &format!(
                    "learned by convsim train {} from field {} of {}",
                    ts.file.display(),
                    ts.data.field,
                    data_run.display()
                ),
            )
            .map_err(|e| cnn_err(ts, e))?;
            f.save(&p).map_err(|e| ScenarioError::io(&p, e))?;
            Some(p)
        }
        _ => None,
    };

    let numbers = [
        ("best_epoch", fitted.best_epoch as f64),
        ("epochs", fitted.train_loss.len() as f64),
        ("stencil_rel_error", stencil_error.unwrap_or(f64::NAN)),
        ("initial_loss", fitted.initial_loss),
    ];
    let units: Vec<(&str, &str)> = arrays
        .iter()
        .map(|(n, _)| {
            let u = match n.as_str() {
                "loss/train" | "loss/val" => "(field units)^2",
                "rollout/time" => time_units.as_str(),
                // Epochs, steps, taps, moments, relative errors.
                _ => "1",
            };
            (n.as_str(), u)
        })
        .collect();
    convsim_io::annotate_arrays(&train_path, &numbers, &units)
        .map_err(|e| ScenarioError::io(&train_path, e))?;

    // Pictures, drawn from train.h5.
    let pictures = super::pictures::draw_train_file(&train_path, &mut out)?;
    // An optimiser that ends above where it started has diverged: the files stay, to look at.
    let last = fitted.train_loss.last().copied().unwrap_or(f64::NAN);
    if ts.train.method == Method::Optimizer
        && matches!(ts.train.loss, convsim_cnn::Loss::Mse)
        && last > fitted.initial_loss * (1.0 + 1e-9)
    {
        return Err(ScenarioError::invalid(
            ts.file.display().to_string(),
            "train.optimizer.learning_rate",
            format!("{:?}", ts.train.optimizer),
            format!(
                "training diverged: the loss rose from {:.6e} (initial model) to {last:.6e} after {} epochs (files kept in {}); allowed: a smaller learning rate",
                fitted.initial_loss,
                fitted.train_loss.len(),
                dir.display()
            ),
        ));
    }
    let val_loss = if fitted.val_loss.is_empty() {
        f64::NAN
    } else if ts.train.method == Method::Optimizer {
        fitted.val_loss[fitted.best_epoch.min(fitted.val_loss.len() - 1)]
    } else {
        fitted.val_loss[0]
    };
    Ok(TrainOutcome {
        train_file: train_path,
        data_run,
        stencil_file,
        pictures,
        train_loss: fitted.train_loss.last().copied().unwrap_or(f64::NAN),
        val_loss,
        best_epoch: fitted.best_epoch,
        stencil_error,
        rollout_error: fitted.rollout,
        seconds: start.elapsed().as_secs_f64(),
    })
}
