//! Finite-difference path, bad input, and the `Simulation` interface.

mod common;

use common::{bump, edge_absorber, grid1, grid2, harmonic, packet, params, solver};
use convsim_core::{
    Boundaries, Boundary, Complex64, ParamError, ParamPath, RestoreError, Simulation,
};
use convsim_quantum::{
    Absorber, Evolution, FluxLine, Method, PotentialTerm, QuantumError, QuantumSolver,
};
use ndarray::Array2;

fn fd(order: usize, b: Boundary) -> Method {
    Method::FiniteDifference {
        order,
        boundaries: Boundaries::uniform(b),
    }
}

#[test]
fn finite_difference_agrees_with_split_step_on_a_resolved_packet() {
    // Same physics, two discretisations: an 8th-order stencil on a packet resolved at
    // k dx <= 0.6 has a dispersion error ~(k dx)^8 / 630 ~ 3e-5 relative in k^2, and RK4 at
    // dt = 2e-3 adds ~1e-9; after t = 1 the two wavefunctions agree to ~1e-4 in L2.
    let g = grid1(256, 0.1, -12.8);
    let mut a = params(g, 2e-3, fd(8, Boundary::Periodic));
    a.potential = vec![harmonic(1.0)];
    let mut b = a.clone();
    b.method = Method::Yoshida4;
    b.dt = 0.01;
    let w = packet(-1.0, 0.0, 0.8, 2.0, 0.0);
    let (mut sa, mut sb) = (solver(a, w), solver(b, w));
    for _ in 0..500 {
        sa.step();
    }
    for _ in 0..100 {
        sb.step();
    }
    let d: f64 = sa
        .psi()
        .iter()
        .zip(sb.psi().iter())
        .map(|(x, y)| (x - y).norm_sqr())
        .sum::<f64>()
        * 0.1;
    assert!(d.sqrt() < 1e-4, "L2 distance {}", d.sqrt());
}

#[test]
fn hard_walls_keep_the_box_eigenstate_stationary() {
    // psi_n = sin(n pi (x - x0) / L) with the wall samples at x0 and x0 + L is an exact eigenvector
    // of the second-order Laplacian with antisymmetric padding, eigenvalue
    // (2 - 2 cos(n pi dx / L)) / dx^2: the density must not move, the energy must be
    // that eigenvalue / 2m, and psi must stay zero on the walls.
    let n = 101;
    let dx = 0.1;
    let l = (n - 1) as f64 * dx;
    let g = grid1(n, dx, 0.0);
    let p = params(g, 1e-3, fd(2, Boundary::Antisymmetric));
    let psi0 = Array2::from_shape_fn((1, n), |(_, j)| {
        Complex64::new((2.0 * std::f64::consts::PI * j as f64 * dx / l).sin(), 0.0)
    });
    let mut s = QuantumSolver::new(p, psi0).unwrap();
    let rho0: Vec<f64> = s.psi().iter().map(Complex64::norm_sqr).collect();
    for _ in 0..1000 {
        s.step();
    }
    let lambda = (2.0 - 2.0 * (2.0 * std::f64::consts::PI * dx / l).cos()) / (dx * dx);
    let o = s.observables();
    // RK4 on an exact eigenvector: the amplitude changes by |R(i lambda dt / 2)|^1000 - 1,
    // ~1000 (lambda dt / 2)^6 / 72 ~ 1e-14 here; the density moves by rounding only.
    let drift = s
        .psi()
        .iter()
        .zip(&rho0)
        .map(|(z, r)| (z.norm_sqr() - r).abs())
        .fold(0.0, f64::max);
    assert!(drift < 1e-10, "density drift {drift}");
    assert!(
        (o.kinetic - 0.5 * lambda).abs() < 1e-10,
        "{} vs {}",
        o.kinetic,
        0.5 * lambda
    );
    assert_eq!(s.psi()[[0, 0]], Complex64::ZERO);
    assert_eq!(s.psi()[[0, n - 1]], Complex64::ZERO);
}

#[test]
fn finite_difference_stability_limit_is_enforced_and_sharp() {
    // Periodic, 2nd order, no potential, 1D: |E| <= 4 / (2 m dx^2) = 2 / dx^2, so the RK4
    // limit is exactly 2 sqrt 2 dx^2 / 2 = sqrt 2 dx^2.
    let g = grid1(64, 0.1, 0.0);
    let limit = 2f64.sqrt() * 0.01;
    let mk = |dt: f64| params(g, dt, fd(2, Boundary::Periodic));
    let w = packet(3.2, 0.0, 0.5, 0.0, 0.0);
    let e = QuantumSolver::new(mk(1.01 * limit), w.sample(&g).unwrap()).unwrap_err();
    match &e {
        QuantumError::UnstableDt { dt, max_dt, .. } => {
            assert!(
                (max_dt - limit).abs() < 1e-12 * limit,
                "{max_dt} vs {limit}"
            );
            assert_eq!(*dt, 1.01 * limit);
        }
        other => panic!("expected UnstableDt, got {other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("dt = 0.01428") && msg.contains("must be at most 1.414214e-2"),
        "{msg}"
    );
    // The Nyquist mode (the fastest, E = 2 / dx^2) is an eigenvector: one RK4 step multiplies
    // its norm by |R(-i E dt)|^2 with R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24, which is <= 1 up
    // to the limit (|R|^2 = 1 - y^6/72 + y^8/576 for z = iy).
    let mut s = QuantumSolver::new(
        mk(0.99 * limit),
        Array2::from_shape_fn((1, 64), |(_, j)| {
            Complex64::new(if j % 2 == 0 { 1.0 } else { -1.0 }, 0.0)
        }),
    )
    .unwrap();
    s.step();
    let y2 = (2.0 / 0.01 * 0.99 * limit).powi(2);
    let expect = 1.0 - y2.powi(3) / 72.0 + y2.powi(4) / 576.0;
    let n = s.observables().norm;
    assert!(
        expect < 1.0 && (n - expect).abs() < 1e-12,
        "norm {n} vs {expect}"
    );
    // The 2D 4th-order limit with a potential and an absorber is also computed and reported.
    let mut p = params(grid2(32, 8.0), 1.0, fd(4, Boundary::Antisymmetric));
    p.potential = vec![harmonic(1.0)];
    p.absorber = Some(Absorber {
        width: 1.0,
        strength: 2.0,
        power: 2,
        edges: vec![],
    });
    let e = QuantumSolver::new(
        p,
        packet(0.0, 0.0, 1.0, 0.0, 0.0)
            .sample(&grid2(32, 8.0))
            .unwrap(),
    )
    .unwrap_err();
    assert!(matches!(e, QuantumError::UnstableDt { .. }), "{e}");
}

#[test]
fn finite_difference_imaginary_time_finds_the_oscillator_ground_state() {
    // Frozen-potential RK4 keeps the eigenvectors of the discrete H, so the fixed point is the
    // discrete ground state: E0 = 1/2 up to the 8th-order stencil error (~1e-9 at dx = 0.125).
    let mut p = params(
        grid1(128, 0.125, -8.0),
        2e-3,
        fd(8, Boundary::Antisymmetric),
    );
    p.potential = vec![harmonic(1.0)];
    p.evolution = Evolution::Imaginary { tolerance: 1e-10 };
    let mut s = solver(p, packet(0.3, 0.0, 1.4, 0.0, 0.0));
    let r = s.relax(100_000).unwrap();
    assert!(r.converged);
    assert!((r.energy - 0.5).abs() < 1e-7, "{}", r.energy);
}

#[test]
fn bad_input_gives_typed_errors_naming_the_parameter() {
    let g = grid2(16, 4.0);
    let p = params(g, 0.01, Method::Strang);
    // Zero and NaN initial states.
    let e = QuantumSolver::new(p.clone(), Array2::zeros((16, 16))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "initial state is not normalisable: its norm sum |psi|^2 dA is 0; give a finite, non-zero wavefunction"
    );
    let mut nan = Array2::from_elem((16, 16), Complex64::new(1.0, 0.0));
    nan[[2, 3]] = Complex64::new(f64::NAN, 0.0);
    let e = QuantumSolver::new(p.clone(), nan).unwrap_err();
    assert!(
        matches!(e, QuantumError::NonFinite { at: [2, 3], .. }),
        "{e}"
    );
    // Wrong shape of the state and of a potential array.
    let e = QuantumSolver::new(p.clone(), Array2::zeros((16, 15))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "initial.psi_re has shape [16, 15] but the grid is (ny, nx) = [16, 16]"
    );
    assert_eq!(e.param(), Some(ParamPath::Initial("psi_re")));
    let mut q = p.clone();
    q.potential = vec![
        harmonic(1.0),
        PotentialTerm::Array {
            values: Array2::zeros((8, 8)),
            scale: 1.0,
        },
    ];
    let psi = packet(0.0, 0.0, 1.0, 0.0, 0.0).sample(&g).unwrap();
    let e = QuantumSolver::new(q, psi.clone()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "potential[1].values has shape [8, 8] but the grid is (ny, nx) = [16, 16]"
    );
    assert_eq!(e.param(), Some(ParamPath::table("potential[1].values")));
    // Parameters.
    let mut q = p.clone();
    q.dt = -0.1;
    let e = QuantumSolver::new(q, psi.clone()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "time.dt = -0.1 is not allowed: a finite number > 0"
    );
    assert_eq!(e.param(), Some(ParamPath::Time("dt")));
    let mut q = p.clone();
    q.method = fd(3, Boundary::Periodic);
    let e = QuantumSolver::new(q, psi.clone()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "order = 3 is not allowed: an even accuracy order from 2 to 16"
    );
    assert_eq!(e.param(), Some(ParamPath::table("order")));
    let mut q = p.clone();
    q.method = Method::Yoshida4;
    q.evolution = Evolution::Imaginary { tolerance: 1e-10 };
    let e = QuantumSolver::new(q, psi.clone()).unwrap_err();
    assert!(matches!(e, QuantumError::Unsupported { .. }), "{e}");
    let mut q = p.clone();
    q.flux_line = Some(FluxLine {
        x: Some(0.0),
        y: Some(1.0),
    });
    let e = QuantumSolver::new(q, psi.clone()).unwrap_err();
    assert!(e.to_string().starts_with("flux_line = "), "{e}");
    assert_eq!(e.param(), Some(ParamPath::table("flux_line")));
    // The packet's keys live under `quantum.packet`.
    let e = packet(0.0, 0.0, -1.0, 0.0, 0.0).sample(&g).unwrap_err();
    assert_eq!(e.param(), Some(ParamPath::table("packet.sigma_x")));
    let mut q = p;
    q.absorber = Some(Absorber {
        width: 3.0,
        strength: 1.0,
        power: 2,
        edges: vec![],
    });
    let e = QuantumSolver::new(q, psi).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("absorber.width = 3 is not allowed: at most half"),
        "{e}"
    );
}

#[test]
fn checkpoint_restores_bit_for_bit() {
    // Run 20 steps; save; run 10 more. Restore the save into a fresh solver, run 10: identical.
    let mut p = params(grid2(24, 8.0), 0.01, Method::Strang);
    p.g = 2.0;
    p.potential = vec![harmonic(1.0)];
    p.flux_line = Some(FluxLine {
        x: Some(0.5),
        y: None,
    });
    let w = packet(-1.0, 0.5, 0.8, 2.0, 0.0);
    let mut a = solver(p.clone(), w);
    for _ in 0..20 {
        Simulation::step(&mut a);
    }
    let saved = a.state();
    let (step, time) = (a.step_count(), Simulation::time(&a));
    for _ in 0..10 {
        Simulation::step(&mut a);
    }
    let mut b = solver(p, w);
    b.restore(step, time, &saved).unwrap();
    for _ in 0..10 {
        Simulation::step(&mut b);
    }
    assert_eq!(a.psi(), b.psi());
    let names = a.diagnostics();
    let (mut da, mut db) = (vec![0.0; names.len()], vec![0.0; names.len()]);
    a.diagnostic_values(&mut da);
    b.diagnostic_values(&mut db);
    assert_eq!(da, db);
    assert!(names.iter().any(|q| q.name == "transmitted"));
    // Fields: the density is |psi|^2.
    let mut out = Array2::zeros((24, 24));
    assert!(a.write_field("density", out.view_mut()));
    assert_eq!(out[[5, 7]], a.psi()[[5, 7]].norm_sqr());
    assert!(!a.write_field("nope", out.view_mut()));
    // A truncated state is refused with a message naming the array.
    let err = b.restore(0, 0.0, &saved[..1]).unwrap_err();
    assert_eq!(
        err,
        RestoreError::Missing {
            solver: "quantum",
            name: "flux".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "quantum checkpoint has no state array `flux`"
    );
}

#[test]
fn advance_equals_repeated_steps() {
    // `advance` merges the half potential steps between steps (Strang, static, real time) and
    // otherwise loops over `step`. The merged factor exp(-i V dt) differs from the product of
    // two half factors by rounding only (~1e-16 relative per step), so after 40 steps of an
    // O(1)-normalised state the two agree far below 1e-12; `step` itself is unchanged.
    let absorber = edge_absorber();
    // A harmonic trap (with or without the edge absorber) is a sum f(y) + g(x), which `advance`
    // runs line by line (`SpectralPlan::apply_axis_steps`); adding a Gaussian bump makes it a
    // general potential, which runs through the fused 2D passes.
    let bump = bump();
    let cases = [
        ("strang 2d", grid2(48, 16.0), Method::Strang, false, false),
        (
            "strang 2d absorber",
            grid2(40, 16.0),
            Method::Strang,
            true,
            false,
        ),
        (
            "strang 2d bump",
            grid2(40, 16.0),
            Method::Strang,
            false,
            true,
        ),
        (
            "strang 2d bump absorber",
            grid2(36, 16.0),
            Method::Strang,
            true,
            true,
        ),
        (
            "strang 1d",
            grid1(64, 0.25, -8.0),
            Method::Strang,
            false,
            false,
        ),
        (
            "yoshida4 2d",
            grid2(32, 16.0),
            Method::Yoshida4,
            false,
            false,
        ),
    ];
    for (name, grid, method, cap, general) in cases {
        let mut p = params(grid, 0.01, method);
        p.potential = vec![harmonic(1.0)];
        if general {
            p.potential.push(bump.clone());
        }
        if cap {
            p.absorber = Some(absorber.clone());
        }
        let w = packet(-1.0, 0.5, 1.0, 1.5, -0.5);
        let mut a = solver(p.clone(), w);
        let mut b = solver(p, w);
        for _ in 0..40 {
            a.step();
        }
        b.advance(40);
        assert_eq!((a.steps(), a.time()), (b.steps(), b.time()), "{name}");
        let scale = a.psi().iter().fold(0.0_f64, |m, z| m.max(z.norm()));
        let err = a
            .psi()
            .iter()
            .zip(b.psi())
            .fold(0.0_f64, |m, (x, y)| m.max((x - y).norm()));
        assert!(err <= 1e-12 * scale, "{name}: advance vs step: {err:e}");
        b.set_psi(a.psi());
        b.advance(1);
        a.step();
        assert_eq!(a.psi(), b.psi(), "{name}: advance(1) is one step");
    }
}
