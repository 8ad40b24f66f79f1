//! Every solver error that names a parameter reaches the user under the scenario key its typed
//! path names (`convsim_core::ParamPath`, one generic mapping in `kinds`): a renamed params
//! field breaks this table, not silently a message.

use std::path::{Path, PathBuf};

use convsim_scenario::{Scenario, ScenarioError};

fn scenario(rel: &str) -> (String, PathBuf) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(rel);
    (std::fs::read_to_string(&path).unwrap(), path)
}

/// The key of the refusal of `rel` with `sets`; a set `-name` drops the file's line that
/// assigns `name` instead.
fn key(rel: &str, sets: &[&str]) -> String {
    let (text, path) = scenario(rel);
    let dropped: Vec<&str> = sets.iter().filter_map(|s| s.strip_prefix('-')).collect();
    let text = text
        .lines()
        .filter(|l| {
            !dropped
                .iter()
                .any(|d| l.split('=').next().is_some_and(|k| k.trim() == *d))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let sets: Vec<String> = sets
        .iter()
        .filter(|s| !s.starts_with('-'))
        .map(|s| (*s).to_string())
        .collect();
    match Scenario::from_str(&text, &path, &sets) {
        Err(ScenarioError::Invalid { key, .. }) => key,
        Err(e) => format!("(not an Invalid: {e})"),
        Ok(_) => "(resolved)".into(),
    }
}

#[test]
fn every_solver_error_maps_to_its_scenario_key() {
    let diffusion = "diffusion/gaussian_periodic.toml";
    let quantum = "quantum/barrier_1d.toml";
    let seismic = "seismic/homogeneous.toml";
    let cases: &[(&str, &[&str], &str)] = &[
        // Diffusion: InvalidParameter (table, boundary), Unstable, BadValue.
        (diffusion, &["diffusion.order=3"], "diffusion.order"),
        (
            "diffusion/anisotropic.toml",
            &["diffusion.anisotropic={ dxx = 1.0, dyy = 1.0, dxy = 2.0 }"],
            "diffusion.anisotropic.dxy",
        ),
        (
            "diffusion/plate_dirichlet.toml",
            &["diffusion.scheme=\"spectral\"", "-order"],
            "boundary.top",
        ),
        (diffusion, &["time.dt=10.0"], "time.dt"),
        // Quantum: InvalidValue (packet, potential, method, evolution), UnstableDt,
        // Unsupported, NotNormalisable.
        (
            quantum,
            &["quantum.packet.sigma_x=-1.0"],
            "quantum.packet.sigma_x",
        ),
        (
            quantum,
            &["quantum.potential=[{ kind = \"barrier\", height = 1.0, x_min = 1.0, x_max = 0.0 }]"],
            "quantum.potential[0].x_max",
        ),
        (
            quantum,
            &[
                "quantum.method=\"finite_difference\"",
                "quantum.order=3",
                "boundary.all=\"periodic\"",
            ],
            "quantum.order",
        ),
        (
            quantum,
            &[
                "quantum.evolution=\"imaginary\"",
                "quantum.tolerance=-1.0",
                "-absorber",
            ],
            "quantum.tolerance",
        ),
        (
            quantum,
            &["quantum.method=\"finite_difference\"", "time.dt=1.0"],
            "time.dt",
        ),
        (
            quantum,
            &[
                "quantum.evolution=\"imaginary\"",
                "quantum.method=\"yoshida4\"",
            ],
            "quantum",
        ),
        (
            quantum,
            &["-packet", "initial.psi_re=0.0"],
            "initial.psi_re",
        ),
        // Seismic: InvalidParameter (order, cpml), Unstable, OutsideModel, ShapeMismatch's
        // sibling BadModelValue via a layered model.
        (seismic, &["seismic.order=3"], "seismic.order"),
        (
            seismic,
            &["seismic.cpml={ width = 0 }"],
            "seismic.cpml.width",
        ),
        (seismic, &["time.dt=1.0"], "time.dt"),
        (
            seismic,
            &["seismic.receivers={ points = [[10.0, 3500.0]] }"],
            "seismic.receivers",
        ),
        (
            seismic,
            &["seismic.sources=[{ y = 10.0, x = 9000.0, ricker = 10.0 }]"],
            "seismic.sources",
        ),
        (
            seismic,
            &["seismic.velocity={ layers = [500.0, 100.0], values = [1.0, 2.0, 3.0] }"],
            "seismic.velocity.layers",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(rel, sets, want)| {
            let got = key(rel, sets);
            (got != *want).then(|| format!("{rel} {sets:?}: {got} instead of {want}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
