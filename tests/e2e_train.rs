//! End-to-end tests of `convsim train`: the learned stencils against the analytic step, the
//! files the pipeline writes, and one clear line (exit code 2) for every kind of bad input.

use std::path::Path;

use convsim_io::read_array;

mod common;

use common::{ok, s, tmp, user_error};

const LEARN_DIFFUSION: &str = "scenarios/cnn/learn_diffusion.toml";

fn is_png(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

/// The taps of a `stencil.toml`, row by row.
fn stencil_taps(path: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).expect("read stencil.toml");
    let table: toml::Table = toml::from_str(&text).expect("stencil.toml is TOML");
    assert_eq!(table["format"].as_str(), Some("convsim-stencil"));
    assert_eq!(table["kind"].as_str(), Some("step"));
    table["taps"]
        .as_array()
        .expect("taps")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("a row of taps")
                .iter()
                .map(|v| v.as_float().expect("a tap"))
                .collect()
        })
        .collect()
}

/// Relative Frobenius error of 3x3 taps against the diffusion step `delta + 0.2 L5` of
/// `data_diffusion_noise.toml` (r = D dt / h^2 = 0.2).
fn error_vs_diffusion_step(taps: &[Vec<f64>]) -> f64 {
    let truth = [[0.0, 0.2, 0.0], [0.2, 0.2, 0.2], [0.0, 0.2, 0.0]];
    assert_eq!(taps.len(), 3);
    let (mut num, mut den) = (0.0, 0.0);
    for (row, trow) in taps.iter().zip(truth) {
        assert_eq!(row.len(), 3);
        for (v, t) in row.iter().zip(trow) {
            num += (v - t) * (v - t);
            den += t * t;
        }
    }
    (num / den).sqrt()
}

#[test]
fn learn_diffusion_lstsq_recovers_the_step_and_writes_its_files() {
    let d = tmp();
    let out = ok(&[
        "train",
        LEARN_DIFFUSION,
        "-o",
        s(d.path()),
        "--set",
        "train.method=lstsq",
    ]);
    assert!(out.contains("learned vs true stencil"), "{out}");
    // Least squares on exact solver data: the normal equations are well conditioned (white
    // noise excites every mode), so only rounding separates the fit from the truth (~4e-15).
    let err = error_vs_diffusion_step(&stencil_taps(&d.path().join("stencil.toml")));
    assert!(err < 1e-10, "relative stencil error {err}");

    let h5 = d.path().join("train.h5");
    for name in [
        "loss/epoch",
        "loss/train",
        "loss/val",
        "model/kernel",
        "model/params",
        "truth/kernel",
        "truth/moments",
        "truth/difference",
        "rollout/step",
        "rollout/time",
        "rollout/rel_error",
    ] {
        read_array(&h5, name).unwrap_or_else(|e| panic!("train.h5 {name}: {e}"));
    }
    assert_eq!(read_array(&h5, "model/kernel").unwrap().len(), 9);
    assert_eq!(read_array(&h5, "truth/kernel").unwrap().len(), 9);
    let rollout = read_array(&h5, "rollout/rel_error").unwrap();
    assert_eq!(rollout.len(), 10, "compare.rollout_steps = 10");
    // Ten applications of a stencil exact to rounding: the rollout stays at rounding (~1e-14).
    assert!(rollout.iter().all(|e| *e < 1e-10), "{rollout:?}");
    // The truth/difference dataset is learned minus true: tiny.
    let diff = read_array(&h5, "truth/difference").unwrap();
    assert!(diff.iter().all(|v| v.abs() < 1e-10), "{diff:?}");

    for name in [
        "loss.png",
        "stencil_learned.png",
        "stencil_true.png",
        "stencil_diff.png",
        "rollout.png",
    ] {
        assert!(is_png(&d.path().join(name)), "{name} is a PNG");
    }
    assert!(d.path().join("data/run.h5").is_file(), "the data run");
}

#[test]
fn learn_diffusion_adam_recovers_the_step() {
    let d = tmp();
    ok(&["train", LEARN_DIFFUSION, "-o", s(d.path())]);
    // Measured ~2.5e-16 (f64, 600 epochs): the bound leaves room for platform rounding in the
    // optimisation path while still failing on any real loss of accuracy.
    let err = error_vs_diffusion_step(&stencil_taps(&d.path().join("stencil.toml")));
    assert!(err < 1e-6, "relative stencil error {err}");
}

#[test]
fn learn_wave_lstsq_rolls_out_the_leapfrog_step() {
    let d = tmp();
    let out = ok(&["train", "scenarios/cnn/learn_wave.toml", "-o", s(d.path())]);
    assert!(out.contains("rollout of 50 steps"), "{out}");
    let rollout = read_array(d.path().join("train.h5"), "rollout/rel_error").unwrap();
    assert_eq!(rollout.len(), 50);
    // Measured 8.6e-12 after 50 steps: the least-squares fit is the leapfrog step to rounding;
    // 1e-8 allows rounding growth on other platforms, not a wrong stencil (Adam reaches ~1.6).
    let last = rollout[rollout.len() - 1];
    assert!(last < 1e-8, "rollout error {last}");
    // Two input levels: no one-channel stencil.toml, one picture per channel.
    assert!(!d.path().join("stencil.toml").exists());
    for name in ["stencil_learned_c0.png", "stencil_learned_c1.png"] {
        assert!(is_png(&d.path().join(name)), "{name} is a PNG");
    }
}

/// `convsim train learn_diffusion --set <set>` must fail with one line naming `key`.
fn bad_set(set: &str, key: &str) -> String {
    let d = tmp();
    let err = user_error(&["train", LEARN_DIFFUSION, "-o", s(d.path()), "--set", set]);
    assert!(err.contains(key), "{set}: {err}");
    assert!(err.contains("allowed"), "{set}: {err}");
    assert!(
        !d.path().join("train.h5").exists(),
        "{set}: nothing is trained"
    );
    err
}

#[test]
fn unknown_data_field_is_a_user_error() {
    let err = bad_set("data.field=nope", "data.field");
    assert!(
        err.contains("\"nope\"") && err.contains("allowed: u"),
        "{err}"
    );
}

#[test]
fn kernel_larger_than_the_grid_is_a_user_error() {
    let err = bad_set("model.kernel=99", "model.kernel");
    assert!(err.contains("99") && err.contains("at most 64"), "{err}");
}

#[test]
fn non_positive_learning_rate_is_a_user_error() {
    for lr in ["0", "-1"] {
        bad_set(
            &format!("train.optimizer.learning_rate={lr}"),
            "train.optimizer.learning_rate",
        );
    }
}

#[test]
fn incompatible_history_or_lag_is_a_user_error() {
    bad_set("data.history=0", "data.history");
    // 13 frames cannot hold history 1 + lag 50.
    let err = bad_set("data.lag=50", "data.lag");
    assert!(err.contains("13 frames"), "{err}");
}

#[test]
fn missing_data_files_are_user_errors() {
    let err = bad_set("data.scenario=nope.toml", "data.scenario");
    assert!(err.contains("nope.toml"), "{err}");

    let d = tmp();
    let sc = d.path().join("learn.toml");
    std::fs::write(
        &sc,
        "[data]\nrun = \"missing/run.h5\"\n\n[model]\ntype = \"stencil\"\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let err = user_error(&["train", s(&sc), "-o", s(&out)]);
    assert!(
        err.contains("data.run") && err.contains("missing/run.h5"),
        "{err}"
    );
}
