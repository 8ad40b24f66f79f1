//! End-to-end tests of the quantum kind through the built `convsim` binary: the coherent state
//! against its analytic orbit, the formula-potential path against the built-in term, and user
//! mistakes (unstable finite-difference `dt`, a potential dataset of the wrong shape) as one
//! line with exit code 2.

use std::path::Path;

use convsim_io::RunFile;

mod common;

use common::{ok, s, user_error};

const COHERENT: &str = "scenarios/quantum/coherent_state.toml";

/// Runs the coherent state at 64 x 64 (dx = 0.3125, `k_max` = 10: the packet's momenta stay below
/// |k| = 5 + 5 / sqrt 2 < 9) with extra `--set`s, returning the run file.
fn coherent(dir: &Path, extra: &[&str]) -> RunFile {
    let mut args = vec![
        "run",
        COHERENT,
        "-o",
        s(dir),
        "--force",
        "--set",
        "grid.nx=64",
        "--set",
        "grid.ny=64",
        "--set",
        "output.plots=false",
    ];
    args.extend_from_slice(extra);
    ok(&args);
    RunFile::open(dir.join("run.h5")).expect("open run.h5")
}

#[test]
fn coherent_state_keeps_its_norm_and_follows_the_classical_orbit() {
    let d = tempfile::tempdir().unwrap();
    let f = coherent(d.path(), &[]);
    let times = f.times().unwrap();
    assert_eq!(
        times.len(),
        33,
        "frames at every 20 of 628 steps + the last"
    );
    // Time accumulates dt: rounding of 628 additions, well below 1e-9.
    assert!((times.last().unwrap() - 628.0 * 0.01).abs() < 1e-9);
    // Split-step Fourier with a real potential is unitary: the norm moves only by rounding
    // (~1e-13 over 628 steps of 4096-point FFTs), so 1e-10 catches any real loss.
    for (t, n) in times.iter().zip(f.read_diagnostic("norm").unwrap()) {
        assert!((n - 1.0).abs() < 1e-10, "norm {n} at t = {t}");
    }
    // For a quadratic Hamiltonian Ehrenfest's theorem is exact and Strang splitting maps
    // (<x>, <p>) by the Stormer-Verlet leapfrog, whose orbit has frequency error omega^3 dt^2 / 24
    // and amplitude wobble ~ A omega^2 dt^2 / 8: at A = 5, dt = 0.01, t <= 2 pi that is
    // <= 5 (2.6e-5 + 1.3e-5) = 2e-4. 1e-3 leaves margin for the grid's truncation of the packet's
    // tails while a first-order or wrong-frequency error (5 pi dt = 0.16 per period) fails.
    let x = f.read_diagnostic("x_mean").unwrap();
    let mut worst = 0.0f64;
    for (t, x) in times.iter().zip(&x) {
        worst = worst.max((x + 5.0 * t.cos()).abs());
    }
    assert!(worst < 1e-3, "max |<x> + 5 cos t| = {worst}");
    // And it moved: half a period in, the packet is on the other side.
    assert!(x[16] > 4.9, "<x>(t = 3.2) = {}", x[16]);
    // The energy 1/2 + 1/2 + 25/2 of a coherent state: exact at t = 0 (spectral kinetic energy
    // of a resolved Gaussian); afterwards Strang conserves a modified energy, so <H> oscillates
    // without drift by up to E omega^2 dt^2 / 4 = 3.4e-4 (measured 3.1e-4).
    let e = f.read_diagnostic("energy").unwrap();
    assert!((e[0] - 13.5).abs() < 1e-9, "E(0) = {}", e[0]);
    assert!(e.iter().all(|v| (v - 13.5).abs() < 5e-4), "{e:?}");
}

#[test]
fn a_formula_potential_runs_exactly_as_the_builtin_harmonic_term() {
    // The same values sampled on the same points through the shared FieldInput path: the runs
    // differ only by the rounding of the two evaluations (1e-15 relative in V), far below 1e-9.
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let fa = coherent(a.path(), &[]);
    let fb = coherent(
        b.path(),
        &[
            "--set",
            "quantum.potential=[{ kind = \"field\", value = \"0.5 * (x^2 + y^2)\" }]",
        ],
    );
    let (xa, xb) = (
        fa.read_diagnostic("x_mean").unwrap(),
        fb.read_diagnostic("x_mean").unwrap(),
    );
    assert_eq!(xa.len(), xb.len());
    for (p, q) in xa.iter().zip(&xb) {
        assert!((p - q).abs() < 1e-9, "{p} vs {q}");
    }
}

#[test]
fn quantum_user_mistakes_are_one_line_with_exit_code_2() {
    let d = tempfile::tempdir().unwrap();
    let o = s(d.path());
    // dt = 0.01 is above the RK4 limit 8.88e-3 of the order-4 stencil at dx = 0.156 with
    // V <= 100 on this grid (split-step has no limit; finite differences do).
    let e = user_error(&[
        "run",
        COHERENT,
        "-o",
        o,
        "--set",
        "quantum.method=\"finite_difference\"",
    ]);
    assert!(
        e.contains("time.dt: 1e-2: above the stability limit")
            && e.contains("allowed: dt <= 8.881763e-3"),
        "{e}"
    );
    // A potential dataset whose shape is not the grid's.
    let h5 = d.path().join("v.h5");
    hdf5::File::create(&h5)
        .unwrap()
        .new_dataset_builder()
        .with_data(&ndarray::Array2::<f64>::zeros((3, 4)))
        .create("V")
        .unwrap();
    let set = format!(
        "quantum.potential=[{{ kind = \"field\", value = {{ file = {:?}, dataset = \"V\" }} }}]",
        s(&h5)
    );
    let e = user_error(&["run", COHERENT, "-o", o, "--set", &set]);
    assert!(
        e.contains("quantum.potential[0].value.dataset: \"V\" of shape (3, 4)")
            && e.contains("allowed: shape (ny, nx) = (128, 128)"),
        "{e}"
    );
    // Walls need the finite-difference path.
    let e = user_error(&["validate", COHERENT, "--set", "boundary.all=\"wall\""]);
    assert!(
        e.contains("boundary.left: \"wall\": the split-step method strang is periodic"),
        "{e}"
    );
    assert!(!d.path().join("run.h5").exists(), "nothing is written");
}
