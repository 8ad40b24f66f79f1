//! Schema errors of training scenarios.

use std::path::PathBuf;

use super::*;

/// A training scenario as if it lived in `scenarios/cnn/` (so `data_diffusion_noise.toml`
/// resolves; resolving a data scenario reads it but runs nothing).
fn path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cnn/unit_test.toml")
}

const BASE: &str = r#"
[data]
scenario = "data_diffusion_noise.toml"

[model]
type = "stencil"
"#;

fn load(text: &str, sets: &[&str]) -> Result<TrainScenario> {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
    TrainScenario::from_str(text, &path(), &sets)
}

/// `BASE` with `sets` must fail as [`ScenarioError::Invalid`] on `key`; returns the message.
fn invalid(text: &str, sets: &[&str], key: &str) -> String {
    match load(text, sets) {
        Err(e @ ScenarioError::Invalid { .. }) => {
            let ScenarioError::Invalid { key: k, .. } = &e else {
                unreachable!()
            };
            assert_eq!(k, key, "{e}");
            let msg = e.to_string();
            assert!(msg.contains("allowed") || msg.contains("give"), "{msg}");
            msg
        }
        Err(e) => panic!("{sets:?}: want Invalid on {key}, got {e}"),
        Ok(_) => panic!("{sets:?}: want an error on {key}"),
    }
}

#[test]
fn minimal_scenario_takes_the_documented_defaults() {
    let ts = load(BASE, &[]).unwrap();
    assert_eq!(ts.name, "unit_test", "the file stem");
    assert_eq!(ts.data.field, "u", "the run's first field");
    assert_eq!((ts.data.history, ts.data.lag, ts.data.skip), (1, 1, 0));
    assert!((ts.data.val_fraction - 0.2).abs() < 1e-15);
    assert_eq!(
        ts.model,
        ModelSpec::Stencil {
            kernel: 3,
            boundary: Boundary::Periodic,
            bias: false,
            moments: MomentMode::Taps,
        }
    );
    assert_eq!(ts.train.method, Method::Optimizer);
    assert_eq!((ts.train.epochs, ts.train.batch), (100, 8));
    assert_eq!(ts.train.loss, Loss::Mse);
    assert_eq!(ts.train.precision, Precision::F64);
    assert_eq!(ts.rollout_steps, 20);
    assert!(matches!(ts.data.source, DataSource::Scenario { .. }));
}

#[test]
fn the_shipped_scenarios_resolve() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cnn");
    for name in ["learn_diffusion", "learn_wave", "learn_p4"] {
        let p = dir.join(format!("{name}.toml"));
        let ts = TrainScenario::load(&p, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ts.name, name);
    }
}

#[test]
fn parsed_modes_and_overrides() {
    let ts = load(
        BASE,
        &[
            "model.moments=order:2",
            "train.loss=rollout:3",
            "train.precision=f32",
            "run.name=x",
        ],
    )
    .unwrap();
    assert!(matches!(
        ts.model,
        ModelSpec::Stencil {
            moments: MomentMode::Order(2),
            ..
        }
    ));
    assert_eq!(ts.train.loss, Loss::Rollout { steps: 3 });
    assert_eq!(ts.train.precision, Precision::F32);
    assert_eq!(ts.name, "x");
    assert!(
        ts.text.contains("rollout:3"),
        "the effective text holds --set"
    );
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let err = load(&format!("{BASE}colour = \"red\"\n"), &[]).unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
    let err = load(&format!("{BASE}\n[extra]\na = 1\n"), &[]).unwrap_err();
    assert!(err.to_string().contains("extra"), "{err}");
}

#[test]
fn data_scenario_and_run_exactly_one() {
    invalid(BASE, &["data.run=x.h5"], "data.run");
    let neither = "[data]\nfield = \"u\"\n\n[model]\ntype = \"stencil\"\n";
    invalid(neither, &[], "data.scenario");
}

#[test]
fn data_values() {
    invalid(BASE, &["data.field=nope"], "data.field");
    invalid(BASE, &["data.history=0"], "data.history");
    invalid(BASE, &["data.lag=0"], "data.lag");
    invalid(BASE, &["data.history=2", "data.lag=2"], "data.lag");
    invalid(BASE, &["data.val_fraction=1.0"], "data.val_fraction");
    invalid(BASE, &["data.val_fraction=-0.1"], "data.val_fraction");
    // 13 frames (12 steps, every 1): skip 12 leaves no pair.
    let msg = invalid(BASE, &["data.skip=12"], "data.skip");
    assert!(msg.contains("13 frames"), "{msg}");
    invalid(BASE, &["data.scenario=nope.toml"], "data.scenario");
    invalid(
        BASE,
        &["data.set=[\"time.steps=1\"]", "data.run=r.h5"],
        "data.run",
    );
    invalid(BASE, &["run.name=a/b"], "run.name");
}

#[test]
fn model_values() {
    invalid(BASE, &["model.type=mlp"], "model.type");
    invalid(BASE, &["model.kernel=4"], "model.kernel");
    invalid(BASE, &["model.kernel=0"], "model.kernel");
    invalid(BASE, &["model.kernel=65"], "model.kernel");
    invalid(BASE, &["model.boundary=sideways"], "model.boundary");
    for bad in ["bogus", "order:", "order:-1", "order:x"] {
        invalid(BASE, &[&format!("model.moments={bad}")], "model.moments");
    }
    invalid(
        BASE,
        &["model.moments=free", "data.history=2"],
        "model.moments",
    );
    invalid(
        BASE,
        &["model.moments=free", "model.bias=true"],
        "model.bias",
    );
    invalid(BASE, &["model.channels=[4]"], "model.channels");
    invalid(BASE, &["model.activation=tanh"], "model.activation");
    invalid(BASE, &["model.pool=mean"], "model.pool");
    invalid(
        BASE,
        &["model.type=cnn", "model.moments=free"],
        "model.moments",
    );
    invalid(BASE, &["model.type=cnn", "model.bias=true"], "model.bias");
    invalid(BASE, &["model.type=cnn", "model.pool=max"], "model.pool");
    invalid(
        BASE,
        &["model.type=cnn", "model.channels=[]"],
        "model.channels",
    );
    invalid(
        BASE,
        &["model.type=cnn", "model.channels=[4, 0]"],
        "model.channels",
    );
    invalid(
        BASE,
        &["model.type=cnn", "model.activation=sigmoid"],
        "model.activation",
    );
    invalid(
        BASE,
        &["model.type=p4", "model.channels=[2, 2]"],
        "model.channels",
    );
    invalid(BASE, &["model.type=p4", "model.pool=min"], "model.pool");
}

#[test]
fn train_values() {
    invalid(BASE, &["train.method=newton"], "train.method");
    invalid(
        BASE,
        &["model.type=cnn", "train.method=lstsq"],
        "train.method",
    );
    for bad in ["rollout:0", "rollout:", "rollout:x", "two_step"] {
        invalid(BASE, &[&format!("train.loss={bad}")], "train.loss");
    }
    invalid(
        BASE,
        &["train.method=lstsq", "train.loss=rollout:2"],
        "train.loss",
    );
    invalid(BASE, &["train.precision=f16"], "train.precision");
    invalid(BASE, &["train.epochs=0"], "train.epochs");
    invalid(BASE, &["train.batch=0"], "train.batch");
    let adam = |lr: &str| format!("train.optimizer={{ kind = \"adam\", learning_rate = {lr} }}");
    for lr in ["0.0", "-1e-3", "nan", "inf"] {
        invalid(BASE, &[&adam(lr)], "train.optimizer.learning_rate");
    }
    invalid(
        BASE,
        &["train.optimizer={ kind = \"sgd\", learning_rate = 0.1, momentum = 1.0 }"],
        "train.optimizer.momentum",
    );
    invalid(
        BASE,
        &["train.optimizer={ kind = \"lbfgs\", history = 0 }"],
        "train.optimizer.history",
    );
}
