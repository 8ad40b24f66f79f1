//! The driver's stop flag (what SIGINT / SIGTERM set in the CLI), set before the run's first
//! frame: nothing in the folder changes, not even with `--force` over an existing run.

use std::path::Path;
use std::sync::atomic::AtomicI32;

use convsim_scenario::driver::{self, RunOptions};
use convsim_scenario::{Scenario, ScenarioError};

static STOP: AtomicI32 = AtomicI32::new(2);

fn scenario() -> Scenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Scenario::load(
        &root.join("scenarios/diffusion/gaussian_periodic.toml"),
        &["time.t_end=0.02".into(), "output.plots=false".into()],
    )
    .unwrap()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_stop_before_the_first_frame_changes_nothing() {
    let s = scenario();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    driver::run(
        &s,
        &RunOptions {
            out_dir: dir.clone(),
            ..RunOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let before = files(&dir);
    let stopped = RunOptions {
        out_dir: dir.clone(),
        force: true,
        stop: Some(&STOP),
        ..RunOptions::default()
    };
    let e = driver::run(&s, &stopped, &mut |_| {}).unwrap_err();
    assert!(
        matches!(e, ScenarioError::InterruptedBeforeStart { signal: 2, .. }),
        "{e}"
    );
    assert_eq!(files(&dir), before, "the old run is untouched");
    // In an empty folder: no run file appears.
    let fresh = tmp.path().join("fresh");
    let e = driver::run(
        &s,
        &RunOptions {
            out_dir: fresh.clone(),
            stop: Some(&STOP),
            ..RunOptions::default()
        },
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, ScenarioError::InterruptedBeforeStart { .. }));
    assert!(!fresh.join("run.h5").exists());
}
