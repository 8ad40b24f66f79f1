//! The reference for a trained model: the data scenario resolved again, and the true step
//! stencil of an explicit order-2 diffusion run (see the [module docs](super)).

use std::path::{Path, PathBuf};

use ndarray::{Array2, s};

use super::{DataSource, TrainScenario};
use crate::config::Scenario;
use crate::limits::MemoryLimit;

/// The data scenario, resolved again for the rollout and the true stencil.
pub(super) fn data_scenario(ts: &TrainScenario, run: &Path) -> Option<Scenario> {
    let limit = MemoryLimit::detect(None);
    if let DataSource::Scenario { scenario } = &ts.data.source {
        // Resolve again: `Scenario` is not `Clone`, and resolution is cheap.
        return Scenario::load_with(&scenario.file, &scenario.overrides, &limit, &ts.kinds).ok();
    }
    let f = convsim_io::RunFile::open(run).ok()?;
    let attrs = f.attributes().ok()?;
    let text = attrs.get("scenario")?;
    let file = attrs
        .get("scenario_file")
        .map_or_else(|| run.with_file_name("scenario.toml"), PathBuf::from);
    Scenario::from_str_with(text, &file, &[], &limit, &ts.kinds).ok()
}

/// One solver step of an explicit order-2 diffusion run with constant isotropic D, no source.
pub(super) fn true_step(sc: &Scenario) -> Option<Array2<f64>> {
    if sc.kind.name() != "diffusion" {
        return None;
    }
    let t = sc.solver.to_table();
    let get = |k: &str| t.get(k);
    if get("scheme")?.as_str()? != "explicit" || get("order")?.as_integer()? != 2 {
        return None;
    }
    if get("anisotropic").is_some() {
        return None;
    }
    let d = match get("diffusivity")? {
        toml::Value::Float(v) => *v,
        toml::Value::Integer(v) => *v as f64,
        _ => return None,
    };
    match get("source") {
        None | Some(toml::Value::Integer(0)) => {}
        Some(toml::Value::Float(v)) if *v == 0.0 => {}
        Some(_) => return None,
    }
    let g = &sc.grid;
    let (ry, rx) = (
        d * sc.time.dt / (g.dy * g.dy),
        d * sc.time.dt / (g.dx * g.dx),
    );
    let mut k = Array2::zeros((3, 3));
    k[[1, 1]] = 1.0 - 2.0 * rx - 2.0 * ry;
    k[[1, 0]] = rx;
    k[[1, 2]] = rx;
    k[[0, 1]] = ry;
    k[[2, 1]] = ry;
    Some(k)
}

/// Full 2D convolution of two centred odd kernels (symmetric kernels: no flip question).
pub(super) fn full_conv(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let (ah, aw) = a.dim();
    let (bh, bw) = b.dim();
    let mut out = Array2::zeros((ah + bh - 1, aw + bw - 1));
    for ((i, j), &va) in a.indexed_iter() {
        for ((p, q), &vb) in b.indexed_iter() {
            out[[i + p, j + q]] += va * vb;
        }
    }
    out
}

/// The model's step as a centred `k x k` stencil, if the truth of `n` solver steps fits in it.
pub(super) fn true_model_step(one: &Array2<f64>, n: u64, k: usize) -> Option<Array2<f64>> {
    let extent = 2 * n as usize + 1;
    if extent > k {
        return None;
    }
    let mut t = one.clone();
    for _ in 1..n {
        t = full_conv(&t, one);
    }
    let off = (k - extent) / 2;
    let mut out = Array2::zeros((k, k));
    out.slice_mut(s![off..off + extent, off..off + extent])
        .assign(&t);
    Some(out)
}
