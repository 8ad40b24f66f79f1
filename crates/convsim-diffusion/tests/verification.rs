//! Conservation, the exact spectral step, the stability limit, heterogeneous steady states,
//! checkpoints and user errors.

mod common;

use common::*;
use convsim_core::testing::max_diff;
use convsim_core::{ParamError, ParamPath, RestoreError, Simulation, StateArray};
use convsim_diffusion::{
    BoundaryCondition, BoundaryConditions, DiffusionError, DiffusionParams, DiffusionSolver,
    Diffusivity, FaceAverage, Scheme,
};
use ndarray::Array2;

/// Relative mass change after `steps` steps from a seeded positive random field.
fn mass_drift(scheme: Scheme, diffusivity: Diffusivity, b: BoundaryCondition, steps: usize) -> f64 {
    let (ny, nx, h) = (40, 48, 0.1);
    let mut p = params(grid(ny, nx, h), 1.0, scheme, diffusivity, b);
    // Explicit: 0.9 of the limit; spectral (no limit): a large step.
    p.dt = p.stability_limit().unwrap().map_or(0.05, |l| 0.9 * l);
    let mut s = DiffusionSolver::new(p, random_field(ny, nx, 0.5, 1.5, 42)).unwrap();
    let m0 = s.measure().mass;
    for _ in 0..steps {
        s.step();
    }
    (s.measure().mass - m0).abs() / m0.abs()
}

#[test]
fn mass_is_conserved_with_periodic_and_zero_flux_sides() {
    let d_field = random_field(40, 48, 0.2, 2.0, 7);
    let cases = [
        (
            Scheme::Explicit { order: 2 },
            Diffusivity::Constant { d: 1.3 },
        ),
        (
            Scheme::Explicit { order: 4 },
            Diffusivity::Constant { d: 1.3 },
        ),
        (
            Scheme::Explicit { order: 8 },
            Diffusivity::Constant { d: 1.3 },
        ),
        (Scheme::Isotropic9, Diffusivity::Constant { d: 1.3 }),
        (
            Scheme::Explicit { order: 4 },
            Diffusivity::Tensor {
                dxx: 1.0,
                dyy: 0.4,
                dxy: -0.3,
            },
        ),
        (
            Scheme::Explicit { order: 2 },
            Diffusivity::Field {
                d: d_field.clone(),
                face_average: FaceAverage::Harmonic,
            },
        ),
        (
            Scheme::Explicit { order: 2 },
            Diffusivity::Field {
                d: d_field,
                face_average: FaceAverage::Arithmetic,
            },
        ),
    ];
    for (scheme, d) in cases {
        for b in [BoundaryCondition::Periodic, BoundaryCondition::ZeroFlux] {
            if matches!(d, Diffusivity::Tensor { .. }) && b == BoundaryCondition::ZeroFlux {
                continue; // refused: see user_errors_name_parameter_value_and_allowed
            }
            let drift = mass_drift(scheme, d.clone(), b, 300);
            // Each step changes the mass only by rounding (~1e-16 per node, random signs).
            assert!(
                drift < 1e-12,
                "{scheme:?} {d:?} {b:?}: relative mass drift {drift:e}"
            );
        }
    }
    let drift = mass_drift(
        Scheme::Spectral,
        Diffusivity::Constant { d: 1.3 },
        BoundaryCondition::Periodic,
        300,
    );
    assert!(drift < 1e-12, "spectral: relative mass drift {drift:e}");
}

#[test]
fn a_source_adds_exactly_its_integral() {
    // Zero-flux box with a source: the mass grows by dt * sum(f) dx dy per step.
    let (ny, nx, h) = (20, 24, 0.1);
    let f = random_field(ny, nx, -1.0, 2.0, 3);
    for scheme in [Scheme::Explicit { order: 2 }, Scheme::Explicit { order: 6 }] {
        let mut p = params(
            grid(ny, nx, h),
            1e-3,
            scheme,
            Diffusivity::Constant { d: 1.0 },
            BoundaryCondition::ZeroFlux,
        );
        p.source = Some(f.clone());
        let mut s = DiffusionSolver::new(p, random_field(ny, nx, 0.0, 1.0, 4)).unwrap();
        let m0 = s.measure().mass;
        for _ in 0..100 {
            s.step();
        }
        let expected = m0 + 100.0 * 1e-3 * f.sum() * h * h;
        let e = (s.measure().mass - expected).abs() / expected.abs();
        assert!(e < 1e-12, "{scheme:?}: relative mass error {e:e}");
    }
}

#[test]
fn spectral_step_matches_the_periodic_gaussian() {
    let (ny, nx, dy, dx) = (48, 64, 0.25, 0.2);
    let (ly, lx) = (ny as f64 * dy, nx as f64 * dx);
    let (d, c) = (0.7, (5.1, 6.3));
    let gauss = |var: f64| {
        Array2::from_shape_fn((ny, nx), |(i, j)| {
            periodic_gauss(i as f64 * dy, c.0, var, ly)
                * periodic_gauss(j as f64 * dx, c.1, var, lx)
        })
    };
    let mut p = params(
        grid(ny, nx, 1.0),
        0.0,
        Scheme::Spectral,
        Diffusivity::Constant { d },
        BoundaryCondition::Periodic,
    );
    p.grid.dy = dy;
    p.grid.dx = dx;
    // dt = 0.3 is ~50 times the explicit limit; 5 steps reach t = 1.5.
    p.dt = 0.3;
    let u = run(p, gauss(1.0), 5);
    let var1 = 1.0 + 2.0 * d * 1.5;
    let exact = gauss(var1) / var1;
    let e = max_diff(&u, &exact);
    // Initial sigma = 4 dy = 5 dx: the spectrum at Nyquist is ~exp(-(pi sigma / h)^2 / 2)
    // < 1e-30, so the heat-kernel step is exact up to rounding.
    assert!(e < 1e-10, "spectral error {e:e}");
}

#[test]
fn spectral_source_is_integrated_exactly() {
    // u_t = D u_xx + sin(k x): a(t) = a0 e^{-D k^2 t} + (1 - e^{-D k^2 t}) / (D k^2), plus a
    // constant source c that raises the mean by c t.
    let (n, h, d, c) = (32, 0.25, 0.8, 0.3);
    let k = std::f64::consts::TAU / (n as f64 * h) * 2.0;
    let mut p = params(
        grid(n, n, h),
        0.7,
        Scheme::Spectral,
        Diffusivity::Constant { d },
        BoundaryCondition::Periodic,
    );
    p.source = Some(Array2::from_shape_fn((n, n), |(_, j)| {
        (k * j as f64 * h).sin() + c
    }));
    let a0 = 2.0;
    let u0 = Array2::from_shape_fn((n, n), |(_, j)| a0 * (k * j as f64 * h).sin());
    let u = run(p, u0, 3);
    let t = 2.1;
    let lam = d * k * k;
    let a = a0 * (-lam * t).exp() + (1.0 - (-lam * t).exp()) / lam;
    let exact = Array2::from_shape_fn((n, n), |(_, j)| a * (k * j as f64 * h).sin() + c * t);
    let e = max_diff(&u, &exact);
    assert!(e < 1e-12, "spectral source error {e:e}");
}

/// Per-step growth of `max |u|` of the checkerboard `(-1)^(i + j)`, the highest mode, at
/// `factor` times the stability limit.
fn checkerboard_growth(scheme: Scheme, factor: f64, steps: usize) -> f64 {
    let n = 32;
    let mut p = params(
        grid(n, n, 0.1),
        1.0,
        scheme,
        Diffusivity::Constant { d: 2.0 },
        BoundaryCondition::Periodic,
    );
    let limit = p.stability_limit().unwrap().unwrap();
    p.dt = factor * limit;
    let u0 = Array2::from_shape_fn((n, n), |(i, j)| if (i + j) % 2 == 0 { 1.0 } else { -1.0 });
    let mut s = DiffusionSolver::new_allow_unstable(p, u0).unwrap();
    for _ in 0..steps {
        s.step();
    }
    let m = s.measure();
    m.max.abs().max(m.min.abs()).powf(1.0 / steps as f64)
}

#[test]
fn checkerboard_blows_up_just_above_the_limit_only() {
    for scheme in [
        Scheme::Explicit { order: 2 },
        Scheme::Explicit { order: 4 },
        Scheme::Explicit { order: 8 },
        Scheme::Isotropic9,
    ] {
        // The checkerboard is the mode of the largest |symbol|, so its amplification is
        // exactly 1 - 2 factor: |.| = 1.02 above and 0.98 below the limit.
        let up = checkerboard_growth(scheme, 1.01, 400);
        let down = checkerboard_growth(scheme, 0.99, 400);
        println!("{scheme:?}: growth per step {up:.6} at 1.01x, {down:.6} at 0.99x");
        assert!((up - 1.02).abs() < 1e-9, "{scheme:?}: growth {up} at 1.01x");
        assert!(
            (down - 0.98).abs() < 1e-9,
            "{scheme:?}: growth {down} at 0.99x"
        );
    }
    // And random data (all modes) below the limit never grow in L2; above it they do.
    for (factor, grows) in [(0.99, false), (1.01, true)] {
        let n = 32;
        let mut p = params(
            grid(n, n, 0.1),
            1.0,
            Scheme::Explicit { order: 4 },
            Diffusivity::Constant { d: 1.0 },
            BoundaryCondition::ZeroFlux,
        );
        p.dt = factor * p.stability_limit().unwrap().unwrap();
        let mut s =
            DiffusionSolver::new_allow_unstable(p, random_field(n, n, -1.0, 1.0, 9)).unwrap();
        let l0 = s.measure().l2;
        let mut prev = l0;
        for _ in 0..3000 {
            s.step();
            let l = s.measure().l2;
            if !grows {
                assert!(
                    l <= prev * (1.0 + 1e-14),
                    "L2 grew below the limit: {prev} -> {l}"
                );
            }
            prev = l;
        }
        assert_eq!(prev > l0, grows, "factor {factor}: L2 {l0} -> {prev}");
    }
}

#[test]
fn unstable_dt_is_refused_with_the_limit() {
    let mut p = DiffusionParams::gaussian_periodic(16, 0.1, 1.0);
    p.dt = 0.01 / 4.0 * 1.01;
    let e = DiffusionSolver::new(p.clone(), Array2::zeros((16, 16))).unwrap_err();
    match &e {
        DiffusionError::Unstable { limit, .. } => assert!((limit - 0.0025).abs() < 1e-15),
        other => panic!("expected Unstable, got {other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("`dt` = 2.525e-3") && msg.contains("dt <= 2.5e-3"),
        "{msg}"
    );
    // Exactly at the limit is accepted (amplification -1: bounded).
    p.dt = 0.01 / 4.0;
    assert!(DiffusionSolver::new(p, Array2::zeros((16, 16))).is_ok());
}

/// 1D rod (`ny = 1`) with fixed ends `u(0) = 0`, `u(1) = 1` and diffusivity `d`: relaxes to the
/// steady state of constant flux `J`, `u(x) = J int_0^x ds / D(s)`.
fn steady_rod(d: Array2<f64>, avg: FaceAverage, steps: usize) -> Array2<f64> {
    let nx = d.ncols();
    let h = 1.0 / (nx - 1) as f64;
    let p = DiffusionParams {
        grid: grid(1, nx, h),
        dt: 1.0,
        scheme: Scheme::Explicit { order: 2 },
        diffusivity: Diffusivity::Field {
            d,
            face_average: avg,
        },
        source: None,
        boundaries: BoundaryConditions {
            top: BoundaryCondition::ZeroFlux,
            bottom: BoundaryCondition::ZeroFlux,
            left: BoundaryCondition::Fixed { value: 0.0 },
            right: BoundaryCondition::Fixed { value: 1.0 },
        },
        stencil: None,
    };
    let mut p = p;
    p.dt = 0.95 * p.stability_limit().unwrap().unwrap();
    run(p, Array2::zeros((1, nx)), steps)
}

#[test]
fn heterogeneous_steady_state_piecewise_constant_is_exact() {
    // D = 1 on cells 0..=9, 0.25 on cells 10..=20 (h = 0.05): the jump lies on the face at
    // x_f = 0.475. With harmonic face averages each face conductance is exact, so the nodal
    // values equal the analytic piecewise-linear profile.
    let nx = 21;
    let h = 0.05;
    let (d1, d2) = (1.0, 0.25);
    let d = Array2::from_shape_fn((1, nx), |(_, j)| if j <= 9 { d1 } else { d2 });
    let u = steady_rod(d, FaceAverage::Harmonic, 20000);
    let xf = 9.5 * h;
    let r = xf / d1 + (1.0 - xf) / d2; // int_0^1 ds / D
    let exact = |x: f64| {
        if x <= xf {
            x / d1 / r
        } else {
            (xf / d1 + (x - xf) / d2) / r
        }
    };
    let e = (0..nx)
        .map(|j| (u[[0, j]] - exact(j as f64 * h)).abs())
        .fold(0.0, f64::max);
    // After 20000 steps the slowest mode (rate ~ pi^2 D_eff ~ 4 per unit time, t ~ 23) has
    // decayed below 1e-30; what remains is rounding.
    assert!(e < 1e-12, "piecewise steady state error {e:e}");
}

#[test]
fn heterogeneous_steady_state_smooth_converges_second_order() {
    // D(x) = 1 + x: u(x) = ln(1 + x) / ln 2. (Not exp(x): for an exponential the harmonic face
    // average integrates 1/D with the same relative error on every cell, which cancels.)
    let exact = |x: f64| x.ln_1p() / std::f64::consts::LN_2;
    for avg in [FaceAverage::Harmonic, FaceAverage::Arithmetic] {
        let errs: Vec<(f64, f64)> = [11usize, 21]
            .iter()
            .map(|&nx| {
                let h = 1.0 / (nx - 1) as f64;
                let d = Array2::from_shape_fn((1, nx), |(_, j)| 1.0 + j as f64 * h);
                // Steps for t ~ 12 at dt ~ 0.95 h^2 / (2 D_max), D_max = 2: the slowest mode
                // (rate ~ pi^2 D_min = 10) has decayed below 1e-40.
                let steps = (12.0 / (0.95 * h * h / 4.0)) as usize;
                let u = steady_rod(d, avg, steps);
                let e = (0..nx)
                    .map(|j| (u[[0, j]] - exact(j as f64 * h)).abs())
                    .fold(0.0, f64::max);
                (e, h)
            })
            .collect();
        let p = observed_order(errs[0].0, errs[1].0, errs[0].1, errs[1].1);
        println!(
            "{avg:?}: errors {:.3e} {:.3e} observed order {p:.3}",
            errs[0].0, errs[1].0
        );
        assert!((p - 2.0).abs() < 0.2, "{avg:?}: observed order {p}");
    }
}

#[test]
fn checkpoint_restores_bit_for_bit() {
    let d = random_field(24, 20, 0.5, 1.5, 11);
    let mut p = params(
        grid(24, 20, 0.1),
        1.0,
        Scheme::Explicit { order: 2 },
        Diffusivity::Field {
            d,
            face_average: FaceAverage::Harmonic,
        },
        BoundaryCondition::ZeroFlux,
    );
    p.boundaries.left = BoundaryCondition::Fixed { value: 2.0 };
    p.source = Some(random_field(24, 20, -1.0, 1.0, 12));
    p.dt = 0.9 * p.stability_limit().unwrap().unwrap();
    let u0 = random_field(24, 20, 0.0, 1.0, 13);
    let mut a = DiffusionSolver::new(p.clone(), u0.clone()).unwrap();
    for _ in 0..10 {
        Simulation::step(&mut a);
    }
    let state = a.state();
    let (step, time) = (a.step_count(), Simulation::time(&a));
    for _ in 0..10 {
        Simulation::step(&mut a);
    }
    let mut b = DiffusionSolver::new(p, Array2::zeros((24, 20))).unwrap();
    b.restore(step, time, &state).unwrap();
    for _ in 0..10 {
        Simulation::step(&mut b);
    }
    assert_eq!(a.u(), b.u());
    assert_eq!(a.step_count(), b.step_count());
    assert_eq!(Simulation::time(&a), Simulation::time(&b));
    // The driver-facing view: field, diagnostics.
    let mut out = Array2::zeros((24, 20));
    assert!(b.write_field("u", out.view_mut()));
    assert_eq!(out, b.u());
    assert!(!b.write_field("v", out.view_mut()));
    let mut diag = [0.0; 4];
    b.diagnostic_values(&mut diag);
    let m = b.measure();
    assert_eq!(diag, [m.mass, m.min, m.max, m.l2]);
    assert_eq!(
        b.diagnostics()
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        ["mass", "min", "max", "l2"]
    );
    // A checkpoint that does not fit is refused, naming the array and both shapes.
    let e = b.restore(0, 0.0, &[]).unwrap_err();
    assert_eq!(
        e,
        RestoreError::Missing {
            solver: "diffusion",
            name: "u".into()
        }
    );
    assert_eq!(e.to_string(), "diffusion checkpoint has no state array `u`");
    let wrong = StateArray {
        name: "u".into(),
        data: ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 3])),
    };
    let e = b.restore(0, 0.0, &[wrong]).unwrap_err();
    assert_eq!(
        e,
        RestoreError::Shape {
            solver: "diffusion",
            name: "u".into(),
            expected: b.u().shape().to_vec(),
            found: vec![2, 3]
        }
    );
    assert!(
        e.to_string().contains("has shape [2, 3], expected ["),
        "{e}"
    );
}

#[test]
fn user_errors_name_parameter_value_and_allowed() {
    let base = DiffusionParams::gaussian_periodic(16, 0.1, 1.0);
    let u0 = Array2::zeros((16, 16));
    // The typed scenario path the error carries, and its message.
    let err = |p: DiffusionParams| {
        let e = DiffusionSolver::new(p, u0.clone()).unwrap_err();
        (e.param(), e.to_string())
    };
    let table = |k: &'static str| Some(ParamPath::table(k));

    let mut p = base.clone();
    p.scheme = Scheme::Explicit { order: 3 };
    let (at, m) = err(p);
    assert_eq!(at, table("order"));
    assert!(m.contains("`order` = 3") && m.contains("2, 4, 6, 8"), "{m}");

    let mut p = base.clone();
    p.dt = -1.0;
    let (at, m) = err(p);
    assert_eq!(at, Some(ParamPath::Time("dt")));
    assert!(m.contains("`time.dt` = -1"), "{m}");

    let mut p = base.clone();
    p.scheme = Scheme::Spectral;
    p.boundaries.top = BoundaryCondition::ZeroFlux;
    p.boundaries.bottom = BoundaryCondition::ZeroFlux;
    let (at, m) = err(p);
    assert_eq!(at, Some(ParamPath::Boundary("top")));
    assert!(m.contains("zero_flux") && m.contains("periodic"), "{m}");

    let mut p = base.clone();
    p.boundaries.left = BoundaryCondition::ZeroFlux;
    let (at, m) = err(p);
    assert_eq!(at, Some(ParamPath::Boundary("left")));
    assert!(m.contains("periodic on both sides"), "{m}");

    let mut p = base.clone();
    p.diffusivity = Diffusivity::Tensor {
        dxx: 1.0,
        dyy: 1.0,
        dxy: 1.5,
    };
    let (at, m) = err(p);
    assert_eq!(at, table("anisotropic.dxy"));
    assert!(m.contains("1.5") && m.contains("positive definite"), "{m}");

    let mut p = base.clone();
    p.source = Some(Array2::zeros((15, 16)));
    let (at, m) = err(p);
    assert_eq!(at, table("source"));
    assert!(m.contains("(15, 16)") && m.contains("(16, 16)"), "{m}");

    let mut p = base.clone();
    let mut d = Array2::from_elem((16, 16), 1.0);
    d[[3, 4]] = -0.5;
    p.diffusivity = Diffusivity::Field {
        d,
        face_average: FaceAverage::Harmonic,
    };
    let (at, m) = err(p);
    assert_eq!(at, table("diffusivity"));
    assert!(m.contains("(3, 4)") && m.contains("-0.5"), "{m}");

    let mut p = base.clone();
    p.diffusivity = Diffusivity::Tensor {
        dxx: 1.0,
        dyy: 1.0,
        dxy: 0.5,
    };
    p.boundaries = BoundaryConditions::uniform(BoundaryCondition::ZeroFlux);
    let (at, m) = err(p);
    assert_eq!(at, Some(ParamPath::Boundary("top")));
    assert!(m.contains("conormal"), "{m}");

    let mut p = base.clone();
    p.scheme = Scheme::Isotropic9;
    p.grid.dy = 0.2;
    p.dt = 1e-4;
    assert_eq!(err(p).0, Some(ParamPath::Grid("dy")));

    let mut p = base.clone();
    p.dt = 1.0;
    let (at, m) = err(p);
    assert_eq!(at, Some(ParamPath::Time("dt")));
    assert!(m.contains("explicit order-2"), "{m}");

    let e = DiffusionSolver::new(base.clone(), Array2::zeros((4, 4))).unwrap_err();
    assert_eq!(e.param(), Some(ParamPath::Initial("u")));
    assert!(e.to_string().contains("initial.u"), "{e}");
}

#[test]
fn params_serde_rejects_unknown_keys() {
    let p = DiffusionParams::fixed_plate(8, 0.1, 1.0, 2.0);
    let json = serde_json::to_string(&p).unwrap();
    let back: DiffusionParams = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let bad = json.replacen("\"dt\"", "\"dtt\"", 1);
    assert!(
        serde_json::from_str::<DiffusionParams>(&bad)
            .unwrap_err()
            .to_string()
            .contains("dtt")
    );
    // Tagged variants: `{"kind": "fixed", "value": 2.0}`.
    assert!(json.contains(r#""kind":"fixed","value":2.0"#), "{json}");
}
