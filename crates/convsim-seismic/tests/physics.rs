//! Stability, energy, off-grid points, reciprocity, mirror boundaries (method of images),
//! precision, checkpoints and bad input.

mod common;

use common::run;
use convsim_core::{ParamError, ParamPath, RestoreError, Simulation};
use convsim_seismic::{
    Model, PointSource, Receivers, Seismic, SeismicBoundaries, SeismicError, SeismicParams,
    SeismicWarning, SideBoundary, Wavelet, stability,
};
use ndarray::{Array2, s};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rigid_box(dt_factor: f64) -> (Seismic<f64>, f64) {
    let mut p = SeismicParams::homogeneous(32, 32, 10.0, 2000.0);
    p.space_order = 8;
    let limit = stability::dt_max(8, 10.0, 10.0, 2000.0).unwrap();
    p.dt = limit * dt_factor;
    p.boundaries = SeismicBoundaries::uniform(SideBoundary::Rigid);
    let mut s = Seismic::<f64>::new_allow_unstable(&p).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let p0 = Array2::from_shape_fn((32, 32), |_| rng.random_range(-1.0..1.0));
    s.set_initial(p0.view());
    (s, limit)
}

#[test]
fn energy_is_conserved_at_the_limit_for_20000_steps() {
    // A random field excites every mode, including the highest the rigid box holds. At exactly
    // dt_max the discrete energy is conserved: drift is round-off only (f64, 1024 points,
    // 20000 steps: relative 1e-9 leaves three orders of margin over what was observed).
    let (mut s, _) = rigid_box(1.0);
    s.step();
    let e0 = s.energy();
    assert!(e0 > 0.0);
    let mut worst = 0.0f64;
    for k in 0..20000 {
        s.step();
        if k % 100 == 0 {
            worst = worst.max((s.energy() - e0).abs() / e0);
        }
    }
    eprintln!("energy drift over 20000 steps at dt_max: {worst:e}");
    assert!(worst < 1e-9, "energy drift {worst:e}");
    assert!(s.max_abs() < 1e3, "amplitude {}", s.max_abs());
}

#[test]
fn just_above_the_limit_it_grows() {
    // 1 % above dt_max the highest modes of the box (theta = pi (1 - 1/32)) are unstable:
    // the amplitude grows by many orders of magnitude within 2000 steps.
    let (mut s, _) = rigid_box(1.01);
    let a0 = s.max_abs();
    for _ in 0..2000 {
        s.step();
    }
    assert!(
        s.max_abs() > 1e6 * a0 || !s.is_finite(),
        "amplitude {}",
        s.max_abs()
    );
}

fn shot(
    src: [f64; 2],
    recs: Vec<[f64; 2]>,
    model: Model,
    boundaries: SeismicBoundaries,
) -> SeismicParams {
    let mut p = SeismicParams::homogeneous(81, 121, 10.0, 2000.0);
    p.velocity = model;
    p.space_order = 8;
    p.dt = 5e-4;
    p.duration = 0.8;
    p.sources = vec![PointSource {
        y: src[0],
        x: src[1],
        wavelet: Wavelet::ricker(12.0),
    }];
    p.receivers = vec![Receivers::Points { coords: recs }];
    p.boundaries = boundaries;
    p
}

#[test]
fn reciprocity_within_1e6() {
    // Heterogeneous (Marmousi-like, faulted, with the fast body) model, free surface on top,
    // off-grid source and receiver: the scheme is a symmetric operator weighted by 1/v^2 and
    // injection and interpolation use the same Hicks weights, so swapping source and receiver
    // reproduces the trace to round-off (f64).
    let mut b = SeismicBoundaries::uniform(SideBoundary::Zero);
    b.top = SideBoundary::FreeSurface;
    let (a, c) = ([203.7, 311.2], [555.5, 870.3]);
    let m = Model::MarmousiLike { seed: 3 };
    let d_ac = run::<f64>(&shot(a, vec![c], m.clone(), b));
    let d_ca = run::<f64>(&shot(c, vec![a], m, b));
    let peak = d_ac.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let diff = d_ac
        .iter()
        .zip(&d_ca)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(peak > 1e-6, "the wave must arrive: {peak}");
    eprintln!(
        "reciprocity: max |d_ac - d_ca| / max |d_ac| = {:e}",
        diff / peak
    );
    assert!(diff / peak < 1e-6, "reciprocity {:e}", diff / peak);
}

/// Time of the largest sample, refined by a parabola through it and its neighbours.
fn peak_time(trace: &[f64], dt: f64) -> f64 {
    let k = (1..trace.len() - 1)
        .max_by(|&i, &j| trace[i].total_cmp(&trace[j]))
        .unwrap();
    let (a, b, c) = (trace[k - 1], trace[k], trace[k + 1]);
    (k as f64 + 0.5 * (a - c) / (a - 2.0 * b + c)) * dt
}

#[test]
fn receiver_moved_by_a_fraction_of_a_cell_moves_the_arrival_continuously() {
    // Receivers 0, 0.1, ..., 1 cell apart along the ray: the arrival must move monotonically,
    // by about 0.1 h / v = 0.5 ms per step (not in one jump as nearest-node sampling would).
    let recs: Vec<[f64; 2]> = (0..=10).map(|k| [400.0, 800.0 + f64::from(k)]).collect();
    let p = shot(
        [400.0, 300.5],
        recs,
        Model::Constant { value: 2000.0 },
        SeismicBoundaries::default(),
    );
    let d = run::<f64>(&p);
    let t: Vec<f64> = (0..d.nrows())
        .map(|r| peak_time(d.row(r).as_slice().unwrap(), p.dt))
        .collect();
    eprintln!(
        "arrival times (ms): {:?}",
        t.iter().map(|v| v * 1e3).collect::<Vec<_>>()
    );
    for w in t.windows(2) {
        let step = w[1] - w[0];
        assert!((0.25e-3..0.75e-3).contains(&step), "arrival steps {t:?}");
    }
    let total = t[10] - t[0];
    assert!(
        (total - 5e-3).abs() < 0.5e-3,
        "one cell moves the arrival by {total}"
    );
}

#[test]
fn free_surface_and_rigid_equal_their_image_sources() {
    // Method of images, exact for the discrete scheme: a free surface (odd mirror about the
    // edge row) equals the unbounded medium with a negated image source mirrored about that
    // row; a rigid wall (even mirror about the half cell) equals a same-sign image mirrored
    // about the edge half a cell out. Compared in a domain twice as tall (zero edges far away
    // on both sides), to round-off.
    for (kind, sign, plane) in [
        (SideBoundary::FreeSurface, -1.0, 0.0),
        (SideBoundary::Rigid, 1.0, -5.0),
    ] {
        let mut b = SeismicBoundaries::uniform(SideBoundary::Zero);
        b.top = kind;
        let src = [123.4, 456.7];
        let recs = vec![[37.0, 300.0], [200.0, 811.1]];
        let half = shot(src, recs.clone(), Model::Constant { value: 2000.0 }, b);
        let d = run::<f64>(&half);
        // Full domain: rows mirrored about the plane.
        let extra = if kind == SideBoundary::Rigid { 81 } else { 80 };
        let mut full = half.clone();
        full.grid.ny = 81 + extra;
        full.grid.y0 = -(extra as f64) * 10.0;
        full.boundaries = SeismicBoundaries::uniform(SideBoundary::Zero);
        full.sources.push(PointSource {
            y: 2.0 * plane - src[0],
            x: src[1],
            wavelet: Wavelet::Ricker {
                f0: 12.0,
                t0: None,
                amplitude: sign,
            },
        });
        let d_full = run::<f64>(&full);
        let peak = d.iter().map(|v| v.abs()).fold(0.0, f64::max);
        let diff = d
            .iter()
            .zip(&d_full)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-9 * peak, "{}: {:e}", kind.name(), diff / peak);
    }
}

#[test]
fn f32_agrees_with_f64() {
    // Single precision keeps ~1e-6 relative per operation; over 1600 steps the trace stays
    // within 1e-3 of the f64 run relative to its peak.
    let p = shot(
        [400.0, 300.0],
        vec![[400.0, 900.0]],
        Model::Gradient {
            value0: 1800.0,
            gradient: 1.0,
        },
        SeismicBoundaries::default(),
    );
    let a = run::<f64>(&p);
    let b = run::<f32>(&p);
    let peak = a.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-3 * peak, "{:e}", diff / peak);
}

#[test]
fn checkpoint_restores_bit_for_bit() {
    let p = shot(
        [400.0, 300.0],
        vec![[400.0, 900.0]],
        Model::Constant { value: 2000.0 },
        SeismicBoundaries::default(),
    );
    let mut a = Seismic::<f32>::new(&p).unwrap();
    for _ in 0..300 {
        a.step();
    }
    let state = Simulation::state(&a);
    let mut b = Seismic::<f32>::new(&p).unwrap();
    b.restore(300, 0.15, &state).unwrap();
    for _ in 0..300 {
        a.step();
        b.step();
    }
    assert_eq!(a.pressure(), b.pressure());
    assert_eq!(a.receivers().1, b.receivers().1);
    assert_eq!(
        b.restore(0, 0.0, &state[1..]).unwrap_err(),
        RestoreError::Missing {
            solver: "seismic",
            name: "p".into()
        }
    );
}

#[test]
fn simulation_interface_writes_fields() {
    let p = shot(
        [400.0, 300.0],
        vec![[400.0, 900.0]],
        Model::Constant { value: 2000.0 },
        SeismicBoundaries::default(),
    );
    let mut s = Seismic::<f32>::new(&p).unwrap();
    for _ in 0..200 {
        Simulation::step(&mut s);
    }
    assert_eq!(s.step_count(), 200);
    assert!((s.time() - 0.1).abs() < 1e-12);
    let mut out = Array2::zeros((81, 121));
    assert!(s.write_field("pressure", out.view_mut()));
    assert!(out.iter().any(|v| v.abs() > 0.0));
    assert!(s.write_field("velocity", out.view_mut()));
    assert!(out.iter().all(|&v| v == 2000.0));
    assert!(!s.write_field("nope", out.view_mut()));
    let mut d = vec![0.0; s.diagnostics().len()];
    s.diagnostic_values(&mut d);
    assert!(d[1] > 0.0 && s.is_finite());
}

#[test]
fn bad_input_is_named() {
    let base = shot(
        [400.0, 300.0],
        vec![[400.0, 900.0]],
        Model::Constant { value: 2000.0 },
        SeismicBoundaries::default(),
    );
    let msg = |p: &SeismicParams| Seismic::<f32>::new(p).unwrap_err().to_string();

    let mut p = base.clone();
    p.dt = 0.01;
    let m = msg(&p);
    let limit = stability::dt_max(8, 10.0, 10.0, 2000.0).unwrap();
    assert!(
        m.contains("dt = 0.01") && m.contains(&format!("{limit:.6e}")),
        "{m}"
    );

    let mut p = base.clone();
    p.receivers = vec![Receivers::Points {
        coords: vec![[400.0, 900.0], [400.0, 1300.0]],
    }];
    let m = msg(&p);
    assert!(
        m.contains("receivers[1]") && m.contains("1300") && m.contains("[0, 1200]"),
        "{m}"
    );

    let mut v = Array2::from_elem((81, 121), 2000.0);
    v[[5, 7]] = f64::NAN;
    let mut p = base.clone();
    p.velocity = Model::Array { values: v.clone() };
    let m = msg(&p);
    assert!(
        m.contains("velocity") && m.contains("NaN") && m.contains("row 5, column 7"),
        "{m}"
    );
    v[[5, 7]] = -1500.0;
    p.velocity = Model::Array { values: v };
    assert!(msg(&p).contains("-1500"), "{}", msg(&p));

    p.velocity = Model::Array {
        values: Array2::from_elem((80, 121), 2000.0),
    };
    let e = Seismic::<f32>::new(&p).unwrap_err();
    assert!(
        matches!(
            e,
            SeismicError::ShapeMismatch {
                expected: [81, 121],
                actual: [80, 121],
                ..
            }
        ),
        "{e}"
    );

    // The typed scenario path each error carries.
    let path = |p: &SeismicParams| Seismic::<f32>::new(p).unwrap_err().param();
    let mut p = base.clone();
    p.space_order = 5;
    assert!(msg(&p).contains("order = 5"), "{}", msg(&p));
    assert_eq!(path(&p), Some(ParamPath::table("order")));
    let mut p = base.clone();
    p.boundaries.left = SideBoundary::Cpml {
        width: 20,
        reflection: 2.0,
        frequency: None,
    };
    assert!(msg(&p).contains("cpml.reflection = 2"), "{}", msg(&p));
    assert_eq!(path(&p), Some(ParamPath::table("cpml.reflection")));
    let mut p = base.clone();
    p.dt = 0.01;
    assert_eq!(path(&p), Some(ParamPath::Time("dt")));
    let mut p = base.clone();
    p.duration = -1.0;
    assert_eq!(path(&p), Some(ParamPath::Time("t_end")));
    let mut p = base.clone();
    p.velocity = Model::Array {
        values: Array2::from_elem((3, 3), 2000.0),
    };
    assert_eq!(path(&p), Some(ParamPath::table("velocity")));
    let mut p = base;
    p.receivers = vec![Receivers::Points {
        coords: vec![[0.0, 1e9]],
    }];
    assert_eq!(path(&p), Some(ParamPath::table("receivers")));
}

#[test]
fn low_points_per_wavelength_warns_with_the_number() {
    // 60 Hz Ricker: f_max = 150 Hz, lambda = 2000 / 150 = 13.3 m = 1.33 cells of 10 m.
    let mut p = shot(
        [400.0, 300.0],
        vec![],
        Model::Constant { value: 2000.0 },
        SeismicBoundaries::default(),
    );
    p.sources[0].wavelet = Wavelet::ricker(60.0);
    let s = Seismic::<f32>::new(&p).unwrap();
    match s.warnings() {
        [w @ SeismicWarning::LowPointsPerWavelength { ppw, .. }] => {
            assert!((ppw - 1.333).abs() < 1e-2);
            assert!(
                w.to_string().contains("1.33 grid points per wavelength"),
                "{w}"
            );
        }
        other => panic!("{other:?}"),
    }
    p.sources[0].wavelet = Wavelet::ricker(10.0);
    assert!(Seismic::<f32>::new(&p).unwrap().warnings().is_empty());
    // The pressure field slice API stays consistent with the grid.
    assert_eq!(
        Seismic::<f32>::new(&p)
            .unwrap()
            .pressure()
            .slice(s![.., 0])
            .len(),
        81
    );
}
