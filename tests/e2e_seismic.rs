//! End-to-end tests of seismic shot gathers through the built `convsim` binary: the layout of
//! `/receivers/<shot>/`, the direct arrival in the layered scenario, one gather per shot in the
//! Marmousi-like scenario with its density field, gathers kept by a run that blows up, and a
//! receiver outside the model or a density field without a density model refused with exit
//! code 2.

use std::path::Path;

use convsim_io::RunFile;

mod common;

use common::{convsim, ok, s, tmp, user_error};

const LAYERED: &str = "scenarios/seismic/layered_free_surface.toml";
const MARMOUSI: &str = "scenarios/seismic/marmousi.toml";

/// Runs `scenario` into `dir` with `--force` and extra `--set`s.
fn run(scenario: &str, dir: &Path, sets: &[&str]) -> String {
    let mut args = vec!["run", scenario, "-o", s(dir), "--force"];
    for v in sets {
        args.extend(["--set", v]);
    }
    ok(&args)
}

#[test]
fn layered_gather_has_the_layout_and_the_direct_arrival() {
    let d = tmp();
    // 0.3 s: the direct wave and the first reflection (from 400 m, two-way ~0.45 s, not yet).
    run(LAYERED, d.path(), &["time.t_end=0.3"]);
    let f = RunFile::open(d.path().join("run.h5")).unwrap();
    assert_eq!(f.receivers().unwrap(), vec!["shot0"]);
    let g = f.read_receivers("shot0").unwrap();
    // 151 receivers (the scenario's line), 301 samples (t = 0 .. 0.3 s at dt = 1 ms).
    assert_eq!(g.traces.dim(), (151, 301));
    assert_eq!((g.recorded, g.dt), (301, 1e-3));
    assert_eq!(g.sources, vec![[20.0, 1500.0]]);
    assert_eq!(g.quantity.units, "Pa");
    for (i, row) in g.coords.rows().into_iter().enumerate() {
        // receivers = { start = [10, 0], end = [10, 3000], count = 151 }: 20 m apart.
        // Coordinates are computed as start + i * spacing: equal to a few ulps of 3000 m.
        assert!(
            (row[0] - 10.0).abs() < 1e-9 && (row[1] - 20.0 * i as f64).abs() < 1e-9,
            "receiver {i}: {row}"
        );
    }
    assert!(g.traces.iter().all(|v| v.is_finite()));

    // The nearest receiver, (10, 1500) m, 10 m above the source, in the 1800 m/s layer.
    let near = g
        .coords
        .rows()
        .into_iter()
        .enumerate()
        .min_by(|a, b| {
            let d = |r: &ndarray::ArrayView1<f64>| (r[0] - 20.0).hypot(r[1] - 1500.0);
            d(&a.1).total_cmp(&d(&b.1))
        })
        .unwrap()
        .0;
    assert_eq!(near, 75);
    let trace = g.traces.row(near);
    let k_peak = (0..trace.len())
        .max_by(|&a, &b| trace[a].abs().total_cmp(&trace[b].abs()))
        .unwrap();
    let t_peak = k_peak as f64 * g.dt;
    let (dist, v, t0) = (10.0, 1800.0, 1.5 / 12.0); // Ricker delay t0 = 1.5 / f0
    let expected = dist / v + t0;
    // The free surface 10 m above the receiver adds the reversed image of the source, 30 m
    // away: within a wavelength (150 m) the recorded p is ~ (ln(30/10) / 2 pi) s(t - tau) with
    // tau between 10/v and 30/v, so the peak lies within (30 - 10) / v = 11 ms of the
    // expected time; 2 samples more for the pick on the 1 ms grid.
    let tol = 20.0 / v + 2.0 * g.dt;
    assert!(
        (t_peak - expected).abs() <= tol,
        "direct arrival at {t_peak} s, expected {expected} +- {tol} s"
    );
    assert!(
        trace[k_peak] > 0.0,
        "a positive Ricker peak gives a positive p"
    );
    // Causality: nothing before the wavelet has started (|s| < 1e-6 of its peak before
    // t0 - 0.11 s for a 12 Hz Ricker, ~ 15 ms; the field there is round-off).
    let quiet = trace.iter().take(10).fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(quiet < 1e-4 * trace[k_peak].abs(), "{quiet}");

    assert!(d.path().join("gather_shot0.png").is_file());
    // `inspect` lists the gather; `plot` redraws it.
    let out = ok(&["inspect", s(&d.path().join("run.h5"))]);
    assert!(
        out.contains("/receivers/shot0/gather [151, 301] [Pa]: 151 receivers, 301/301 samples recorded, dt = 0.001 s, source (y, x) = (20, 1500)"),
        "{out}"
    );
    std::fs::remove_file(d.path().join("gather_shot0.png")).unwrap();
    let out = ok(&["plot", s(&d.path().join("run.h5"))]);
    assert!(out.contains("gather_shot0.png"), "{out}");
    assert!(d.path().join("gather_shot0.png").is_file());
}

#[test]
fn marmousi_writes_one_gather_per_shot() {
    let d = tmp();
    run(MARMOUSI, d.path(), &["time.t_end=0.2", "output.every=125"]);
    let f = RunFile::open(d.path().join("run.h5")).unwrap();
    assert_eq!(f.receivers().unwrap(), vec!["shot0", "shot1", "shot2"]);
    let mut gathers = Vec::new();
    for (k, x) in [1000.0, 2000.0, 3000.0].iter().enumerate() {
        let g = f.read_receivers(&format!("shot{k}")).unwrap();
        assert_eq!(g.sources, vec![[10.0, *x]], "shot{k}");
        assert_eq!((g.traces.dim(), g.recorded), ((201, 251), 251));
        assert!(g.traces.iter().all(|v| v.is_finite()));
        assert!(d.path().join(format!("gather_shot{k}.png")).is_file());
        gathers.push(g.traces);
    }
    assert_ne!(gathers[0], gathers[1]);
    // The loudest receiver of each shot is the one above its source (x = 1, 2, 3 km).
    for (k, g) in gathers.iter().enumerate() {
        let loudest = (0..g.nrows())
            .max_by(|&a, &b| {
                let m = |r: usize| g.row(r).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                m(a).total_cmp(&m(b))
            })
            .unwrap();
        assert_eq!(loudest, 50 * (k + 1), "shot{k}");
    }
    // The density model is written beside the velocity: the data file holds Gardner's
    // rho = 310 v^0.25 in f32, so both f32 roundings stay below 1e-6 relative.
    let v = f.read_frame("velocity", 0).unwrap();
    let rho = f.read_frame("density", 0).unwrap();
    let worst = v
        .iter()
        .zip(&rho)
        .map(|(v, r)| (r - 310.0 * v.powf(0.25)).abs() / r)
        .fold(0.0, f64::max);
    assert!(worst < 1e-6, "density vs Gardner: {worst:e}");
}

#[test]
fn density_without_a_density_model_is_refused() {
    let d = tmp();
    let err = user_error(&[
        "run",
        LAYERED,
        "-o",
        s(d.path()),
        "--force",
        "--set",
        "output.fields=[\"pressure\", \"density\"]",
    ]);
    assert!(
        err.contains("output.fields")
            && err.contains("\"density\"")
            && err.contains("pressure, velocity"),
        "{err}"
    );
}

#[test]
fn a_run_that_blows_up_keeps_its_gathers_to_the_last_frame() {
    let d = tmp();
    // An amplitude near the f32 limit: the injected source overflows to infinity once the
    // Ricker wavelet has grown (a few tens of steps), after some frames were written.
    let out = convsim(&[
        "run",
        LAYERED,
        "-o",
        s(d.path()),
        "--force",
        "--set",
        "time.t_end=0.3",
        "--set",
        "output.every=10",
        "--set",
        "seismic.sources=[{ y = 20.0, x = 1500.0, ricker = 12.0, amplitude = 1e41 }]",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("non-finite"), "{err}");
    let last: usize = err
        .split("frames up to step ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no last frame step in: {err}"));
    assert!(
        last >= 10,
        "the blow-up should come after a few frames: {err}"
    );
    let f = RunFile::open(d.path().join("run.h5")).unwrap();
    let g = f.read_receivers("shot0").unwrap();
    assert_eq!(g.recorded, last + 1);
    let (recorded, rest) = g.traces.view().split_at(ndarray::Axis(1), last + 1);
    assert!(recorded.iter().all(|v| v.is_finite()));
    assert!(recorded.iter().any(|v| *v != 0.0));
    assert!(rest.iter().all(|v| v.is_nan()));
}

#[test]
fn a_receiver_outside_the_model_is_refused() {
    let e = user_error(&[
        "validate",
        LAYERED,
        "--set",
        "seismic.receivers={ points = [[10.0, 3500.0]] }",
    ]);
    assert!(
        e.contains("seismic.receivers") && e.contains("lies outside the model"),
        "{e}"
    );
    let e = user_error(&[
        "validate",
        MARMOUSI,
        "--set",
        "seismic.shots=[{ y = 10.0, x = 100.0, ricker = 10.0 }, { y = 10.0, x = -5.0, ricker = 10.0 }]",
    ]);
    assert!(
        e.contains("seismic.shots") && e.contains("shots[1]") && e.contains("outside the model"),
        "{e}"
    );
    let e = user_error(&[
        "validate",
        MARMOUSI,
        "--set",
        "seismic.sources=[{ y = 10.0, x = 100.0, ricker = 10.0 }]",
    ]);
    assert!(e.contains("not both"), "{e}");
}
