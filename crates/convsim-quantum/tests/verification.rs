//! The "must show" verification of issue 5: conservation, analytic solutions, convergence
//! orders, scattering, ground states, absorption. The heavy cases are `#[ignore]` (run them with
//! `cargo test --release -p convsim-quantum -- --include-ignored`); each prints its figures.

mod common;

use common::{barrier_transmission, grid1, grid2, harmonic, packet, params, solver};
use convsim_core::Complex64;
use convsim_quantum::{
    Absorber, Drive, Evolution, FluxLine, Method, PotentialTerm, QuantumSolver, TimeProfile,
};
use ndarray::Array2;

/// L2 distance `sqrt(sum |a - b|^2 dA)`.
fn l2(a: &Array2<Complex64>, b: &Array2<Complex64>, da: f64) -> f64 {
    (a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm_sqr())
        .sum::<f64>()
        * da)
        .sqrt()
}

/// Runs `n` steps.
fn run(s: &mut QuantumSolver, n: usize) {
    for _ in 0..n {
        s.step();
    }
}

#[test]
fn norm_is_conserved_over_1000_split_steps() {
    // Strang and Yoshida4 are products of unitary factors (phase multiplications and a
    // kinetic multiplier of modulus 1 in Fourier space), so the norm changes only by rounding:
    // about sqrt(steps) x eps x log2(n) per FFT pair, ~1e-14 here. The potential mixes a
    // trap, a lattice and the nonlinearity so that nothing is trivially diagonal.
    for method in [Method::Strang, Method::Yoshida4] {
        let mut p = params(grid2(48, 16.0), 0.01, method);
        p.g = 5.0;
        p.potential = vec![
            harmonic(1.0),
            PotentialTerm::Lattice {
                depth: 2.0,
                period_x: Some(2.0),
                period_y: Some(3.0),
                offset_x: 0.0,
                offset_y: 0.0,
            },
        ];
        let mut s = solver(p, packet(-2.0, 1.0, 1.0, 1.5, -0.5));
        run(&mut s, 1000);
        let n = s.observables().norm;
        // Yoshida4 does three kinetic FFT pairs per step: three times the rounding of Strang.
        let tol = if method == Method::Strang {
            1e-12
        } else {
            3e-12
        };
        println!("{method:?}: norm drift over 1000 steps {:.1e}", n - 1.0);
        assert!(
            (n - 1.0).abs() < tol,
            "{method:?}: norm drift {:e}",
            n - 1.0
        );
    }
}

#[test]
fn free_gaussian_spreads_as_the_analytic_width() {
    // sigma(t) = sigma0 sqrt(1 + (t / (2 m sigma0^2))^2), <x> = x0 + k t / m. The split-step is
    // exact for a free particle (the kinetic factor is the exact propagator of the periodic grid
    // function), so what remains is the band limit (the packet's spectrum at the Nyquist
    // wavenumber is ~exp(-(pi/dx)^2 sigma0^2) ~ 1e-400) and the wrap-around of the tails
    // (density ~exp(-(L/2)^2 / 2 sigma^2) < 1e-30): both far below 1e-8.
    for (mass, k) in [(1.0, 0.0), (2.0, 1.5)] {
        let (sigma0, dt, steps) = (1.0, 0.05, 100);
        let mut p = params(grid1(1024, 0.1, -51.2), dt, Method::Strang);
        p.mass = mass;
        let mut s = solver(p, packet(-3.0, 0.0, sigma0, k, 0.0));
        for n in 1..=steps {
            s.step();
            if n % 20 == 0 {
                let t = f64::from(n) * dt;
                let o = s.observables();
                let w = sigma0 * (1.0 + (t / (2.0 * mass * sigma0 * sigma0)).powi(2)).sqrt();
                assert!(
                    (o.x_width - w).abs() < 1e-8,
                    "m {mass} t {t}: width {} vs {w}",
                    o.x_width
                );
                let x = -3.0 + k * t / mass;
                assert!(
                    (o.x_mean - x).abs() < 1e-8,
                    "m {mass} t {t}: <x> {} vs {x}",
                    o.x_mean
                );
                assert!((o.px_mean - k).abs() < 1e-10);
            }
        }
    }
}

#[test]
fn momenta_and_kinetic_energy_of_a_2d_packet_are_analytic() {
    // A Gaussian packet exp(i (kx x + ky y)) exp(-r^2 / 4 sigma^2) has <p> = (kx, ky) and
    // <T> = (kx^2 + ky^2) / 2m + 2 / (8 m sigma^2) per unit norm (each axis adds 1/(8 m
    // sigma^2)), for the split-step's spectral observables and for the finite-difference
    // method's momenta. The packet is band-limited and far from the edges (as above), so the
    // grid adds < 1e-10; the finite-difference kinetic energy has its stencil's O(h^8) error.
    let (sigma, kx, ky, mass) = (1.2, 0.8, -1.3, 1.5);
    for method in [
        Method::Strang,
        Method::FiniteDifference {
            order: 8,
            boundaries: convsim_core::Boundaries::uniform(convsim_core::Boundary::Periodic),
        },
    ] {
        let mut p = params(grid2(128, 25.6), 0.01, method);
        p.mass = mass;
        let s = solver(p, packet(0.5, -0.7, sigma, kx, ky));
        let o = s.observables();
        assert!(
            (o.px_mean - kx).abs() < 1e-10,
            "{method:?}: <p_x> {}",
            o.px_mean
        );
        assert!(
            (o.py_mean - ky).abs() < 1e-10,
            "{method:?}: <p_y> {}",
            o.py_mean
        );
        let t = ((kx * kx + ky * ky) / (2.0 * mass) + 1.0 / (4.0 * mass * sigma * sigma)) * o.norm;
        assert!(
            (o.kinetic - t).abs() < 1e-6 * t,
            "{method:?}: <T> {} vs {t}",
            o.kinetic
        );
    }
}

#[test]
fn coherent_state_follows_the_classical_orbit_small() {
    // Quick version of the 256^2 test below (96^2, a quarter period): Ehrenfest's theorem is
    // exact for a quadratic potential, and a coherent state keeps its width 1/sqrt 2.
    let mut p = params(
        grid2(96, 24.0),
        2.0 * std::f64::consts::PI / 400.0,
        Method::Yoshida4,
    );
    p.potential = vec![harmonic(1.0)];
    let mut s = solver(
        p,
        packet(-5.0, 0.0, std::f64::consts::FRAC_1_SQRT_2, 0.0, 5.0),
    );
    run(&mut s, 100);
    let t = s.time();
    let o = s.observables();
    // Errors: Yoshida4 at dt = 0.0157 gives ~1e-8; 96^2 resolves the packet's momentum
    // (|k| <= 5 + 6 / sqrt 2 ~ 9.2 < pi / dx = 12.6) to ~1e-8 in amplitude.
    assert!((o.x_mean + 5.0 * t.cos()).abs() < 1e-6, "<x> {}", o.x_mean);
    assert!((o.y_mean - 5.0 * t.sin()).abs() < 1e-6, "<y> {}", o.y_mean);
    assert!((o.x_width - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
}

#[test]
#[ignore = "heavy: 256^2, one full period; run with --release --include-ignored"]
fn coherent_state_in_2d_trap_one_period_256() {
    let n_steps = 1000;
    let mut p = params(
        grid2(256, 24.0),
        2.0 * std::f64::consts::PI / f64::from(n_steps),
        Method::Yoshida4,
    );
    p.potential = vec![harmonic(1.0)];
    let mut s = solver(
        p,
        packet(-5.0, 0.0, std::f64::consts::FRAC_1_SQRT_2, 0.0, 5.0),
    );
    let mut worst = [0.0_f64; 4];
    for n in 1..=n_steps {
        s.step();
        if n % 25 == 0 {
            let t = s.time();
            let o = s.observables();
            let e = [
                (o.x_mean + 5.0 * t.cos()).abs(),
                (o.y_mean - 5.0 * t.sin()).abs(),
                (o.x_width - std::f64::consts::FRAC_1_SQRT_2).abs(),
                (o.y_width - std::f64::consts::FRAC_1_SQRT_2).abs(),
            ];
            for (w, e) in worst.iter_mut().zip(e) {
                *w = w.max(e);
            }
        }
    }
    println!(
        "coherent state 256^2, one period: max errors <x> {:.2e} <y> {:.2e} sx {:.2e} sy {:.2e}",
        worst[0], worst[1], worst[2], worst[3]
    );
    assert!(worst.iter().all(|e| *e <= 1e-6), "{worst:?}");
}

/// Observed order of a method on an anharmonic, nonlinear 1D problem, against a Yoshida4
/// reference with a 16 times smaller step.
fn observed_orders(method: Method, dts: &[f64]) -> Vec<f64> {
    let t_end = 1.0;
    let make = |dt: f64, m: Method| {
        let mut p = params(grid1(256, 20.0 / 256.0, -10.0), dt, m);
        p.g = 2.0;
        p.potential = vec![
            harmonic(1.0),
            PotentialTerm::Gaussian {
                amplitude: 3.0,
                center_x: 0.5,
                center_y: 0.0,
                sigma: 0.7,
            },
        ];
        let mut s = solver(p, packet(-1.5, 0.0, 0.8, 1.0, 0.0));
        run(&mut s, (t_end / dt).round() as usize);
        s.psi().to_owned()
    };
    let fine = make(dts[dts.len() - 1] / 16.0, Method::Yoshida4);
    let da = 20.0 / 256.0;
    let errs: Vec<f64> = dts
        .iter()
        .map(|&dt| l2(&make(dt, method), &fine, da))
        .collect();
    errs.windows(2).map(|w| (w[0] / w[1]).log2()).collect()
}

#[test]
fn strang_is_second_order_and_yoshida_fourth() {
    // Halving dt divides the error by 2^p. Tolerance 0.1 on p: the ratios are in the
    // asymptotic range at these steps (the errors are 1e-3..1e-7, far above rounding).
    // (Every dt divides t_end = 1 exactly.)
    let s = observed_orders(Method::Strang, &[0.04, 0.02, 0.01]);
    let y = observed_orders(Method::Yoshida4, &[0.05, 0.025, 0.0125]);
    println!("observed orders: strang {s:?}, yoshida4 {y:?}");
    assert!(s.iter().all(|p| (p - 2.0).abs() < 0.1), "strang {s:?}");
    assert!(y.iter().all(|p| (p - 4.0).abs() < 0.15), "yoshida4 {y:?}");
}

/// Packet-averaged analytic transmission `int |phi(k)|^2 T(k) dk` for a Gaussian momentum
/// distribution of mean `k0` and standard deviation `sk`.
fn averaged_transmission(k0: f64, sk: f64) -> f64 {
    let n = 4000;
    let (a, b) = (k0 - 10.0 * sk, k0 + 10.0 * sk);
    let h = (b - a) / f64::from(n);
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..=n {
        let k = a + f64::from(i) * h;
        let w =
            (-(k - k0).powi(2) / (2.0 * sk * sk)).exp() * if i == 0 || i == n { 0.5 } else { 1.0 };
        let t = if k > 0.0 {
            barrier_transmission(k * k / 2.0, 1.0, 1.0, 1.0)
        } else {
            0.0
        };
        num += w * t;
        den += w;
    }
    num / den
}

/// Transmitted probability of a packet of energy `e` through the barrier V0 = 1, width 1
/// (line at x = 3), and the packet-averaged analytic value.
fn packet_transmission(e: f64, dx: f64, dt: f64, sigma: f64) -> (f64, f64) {
    let k0 = (2.0 * e).sqrt();
    let sk = 1.0 / (2.0 * sigma);
    let x0 = -6.0 * sigma - 2.0;
    // Long enough that nothing wraps around the periodic domain before the end.
    let t_end = (-x0 + 6.0 * sigma + 10.0) / (k0 - 5.0 * sk);
    let half = ((k0 + 6.0 * sk) * t_end).max(-x0 + 6.0 * sigma) + 20.0;
    let n = (2.0 * half / dx).round() as usize;
    let mut p = params(grid1(n, dx, -half), dt, Method::Yoshida4);
    p.potential = vec![PotentialTerm::Barrier {
        height: 1.0,
        x_min: 0.0,
        x_max: 1.0,
        y_min: None,
        y_max: None,
        edge: 0.0,
    }];
    p.flux_line = Some(FluxLine {
        x: Some(3.0),
        y: None,
    });
    let mut s = solver(p, packet(x0, 0.0, sigma, k0, 0.0));
    run(&mut s, (t_end / dt).ceil() as usize);
    (s.observables().transmitted, averaged_transmission(k0, sk))
}

#[test]
#[ignore = "heavy: five 1D scattering runs; run with --release --include-ignored"]
fn barrier_transmission_matches_the_analytic_formula() {
    // Packets of sigma_x = 6 (sigma_k = 1/12) on dx = 0.05: the cell-averaged sharp
    // barrier has the exact area, and the residual grid/time-step effects are ~1e-4.
    for (e, plane) in [
        (0.25, 0.2368),
        (0.5, 0.4200),
        (1.0, 0.6667),
        (1.5, 0.8090),
        (2.0, 0.8913),
    ] {
        assert!((barrier_transmission(e, 1.0, 1.0, 1.0) - plane).abs() < 5e-5);
        let (t, expect) = packet_transmission(e, 0.05, 0.025, 6.0);
        println!(
            "E = {e}: plane wave {plane:.4}, packet-averaged {expect:.6}, packet run {t:.6}, error {:.1e}",
            (t - expect).abs()
        );
        assert!((t - expect).abs() < 1e-3, "E {e}: {t} vs {expect}");
    }
}

#[test]
#[ignore = "heavy: 2D imaginary-time relaxation; run with --release --include-ignored"]
fn ground_state_of_the_2d_oscillator_has_energy_one() {
    let mut p = params(grid2(96, 16.0), 0.002, Method::Strang);
    p.potential = vec![harmonic(1.0)];
    p.evolution = Evolution::Imaginary { tolerance: 1e-10 };
    let mut s = solver(p, packet(0.7, -0.4, 1.3, 0.0, 0.0));
    let r = s.relax(100_000).unwrap();
    println!(
        "2D oscillator ground state: E = {:.10} after {} steps (change {:.1e})",
        r.energy, r.steps, r.change
    );
    assert!(r.converged);
    assert!((r.energy - 1.0).abs() < 1e-6, "E0 = {}", r.energy);
}

#[test]
#[ignore = "heavy: 2D Gross-Pitaevskii relaxation; run with --release --include-ignored"]
fn gross_pitaevskii_ground_state_obeys_the_virial_identity() {
    // Imaginary-time Strang with the nonlinear potential frozen over each step: the fixed point
    // is the self-consistent ground state up to O(dtau^2) (measured: virial 1.2e-6 at
    // dtau = 4e-3, 3.1e-7 at 2e-3). The energy converges quadratically in the state error but
    // the virial only linearly, so after the energy criterion is met the run continues for
    // 1500 more steps (3 time units, several e-foldings of the slowest mode).
    let mut p = params(grid2(96, 16.0), 2e-3, Method::Strang);
    p.potential = vec![harmonic(1.0)];
    p.g = 100.0;
    p.evolution = Evolution::Imaginary { tolerance: 1e-10 };
    let mut s = solver(p, packet(0.0, 0.0, 1.5, 0.0, 0.0));
    let r = s.relax(100_000).unwrap();
    assert!(r.converged);
    run(&mut s, 1500);
    let o = s.observables();
    let virial = 2.0 * o.kinetic - 2.0 * o.potential + 2.0 * o.interaction;
    let tf = 2.0 / 3.0 * (100.0 / std::f64::consts::PI).sqrt();
    println!(
        "GP g = 100: E = {:.8} (Thomas-Fermi {tf:.4}), kin {:.6} pot {:.6} int {:.6}, virial {virial:.2e}, {} + 1500 steps",
        o.energy, o.kinetic, o.potential, o.interaction, r.steps
    );
    assert!(o.energy > tf);
    assert!(virial.abs() < 1e-6, "virial {virial}");
}

#[test]
fn absorber_removes_an_outgoing_packet() {
    // A packet (k = 4, sigma 2) runs into a quadratic ramp of width 10 and strength 3. WKB:
    // what crosses the layer twice keeps exp(-4 * 3 * 10 / (3 * 4)) = exp(-10) ~ 5e-5 of
    // itself, then meets the left layer: ~1e-9. The smooth ramp reflects far less than 1e-3.
    let mut p = params(grid1(800, 0.1, -40.0), 0.01, Method::Strang);
    p.absorber = Some(Absorber {
        width: 10.0,
        strength: 3.0,
        power: 2,
        edges: vec![],
    });
    let mut s = solver(p, packet(-10.0, 0.0, 2.0, 4.0, 0.0));
    let interior = |s: &QuantumSolver| -> f64 {
        let xs = s.params().grid.xs();
        s.psi()
            .row(0)
            .iter()
            .zip(&xs)
            .filter(|(_, x)| x.abs() < 28.0)
            .map(|(z, _)| z.norm_sqr())
            .sum::<f64>()
            * 0.1
    };
    let mut reflected = 0.0_f64;
    for n in 1..=4000 {
        s.step();
        let t = f64::from(n) * 0.01;
        if n % 50 == 0 && (15.0..=25.0).contains(&t) {
            reflected = reflected.max(interior(&s));
        }
    }
    let left = s.observables().norm;
    println!("absorber: remaining norm {left:.2e}, reflected {reflected:.2e}");
    assert!(left < 1e-4, "remaining {left}");
    assert!(reflected < 1e-3, "reflected {reflected}");
}

#[test]
fn local_flux_integrates_to_the_transmitted_probability() {
    // Continuity: d/dt P(x > x_line) = J(x_line). The transmitted probability is computed from
    // the balance of probabilities; integrating the local flux J (8th-order derivative) over time
    // with the trapezoidal rule must give the same number for a resolved packet: the time
    // quadrature error is ~dt^2/12 |J''| T ~ 1e-6 here.
    let dt = 0.01;
    let mut p = params(grid1(1024, 0.1, -51.2), dt, Method::Strang);
    p.flux_line = Some(FluxLine {
        x: Some(2.0),
        y: None,
    });
    let mut s = solver(p, packet(-5.0, 0.0, 1.5, 2.0, 0.0));
    let mut integral = 0.0;
    let mut last = s.observables().flux;
    for _ in 0..1000 {
        s.step();
        let j = s.observables().flux;
        integral += 0.5 * (last + j) * dt;
        last = j;
    }
    let o = s.observables();
    assert!(o.transmitted > 0.99, "{}", o.transmitted);
    assert!(
        (o.transmitted - integral).abs() < 1e-5,
        "{} vs {integral}",
        o.transmitted
    );
}

#[test]
fn transmitted_probability_survives_absorption() {
    // The packet crosses the line and is then swallowed by the absorber on the far side: the
    // bookkeeping (probability beyond the line + what the absorber took there) must still say
    // that everything crossed. The trapezoidal integration of the loss rate is accurate to
    // ~(dt W)^2 / 12 ~ 1e-6 relative.
    let mut p = params(grid1(800, 0.1, -40.0), 0.01, Method::Strang);
    p.absorber = Some(Absorber {
        width: 10.0,
        strength: 8.0,
        power: 2,
        edges: vec![],
    });
    p.flux_line = Some(FluxLine {
        x: Some(5.0),
        y: None,
    });
    let mut s = solver(p, packet(-10.0, 0.0, 2.0, 4.0, 0.0));
    run(&mut s, 3000);
    let o = s.observables();
    println!(
        "absorbed after crossing: norm {:.1e}, transmitted {:.8}",
        o.norm, o.transmitted
    );
    assert!(o.norm < 1e-4, "{}", o.norm);
    assert!((o.transmitted - 1.0).abs() < 1e-4, "{}", o.transmitted);
}

#[test]
fn driven_oscillator_follows_the_classical_forced_motion() {
    // V = x^2/2 + F(t) x with F = 0.5 sin(1.3 t): Ehrenfest is exact for linear + quadratic
    // potentials, so <x> solves x'' = -x - F(t). Classical reference by RK4 with a 1000x finer
    // step (error ~1e-12).
    let dt = 0.01;
    let mut p = params(grid1(256, 0.1, -12.8), dt, Method::Yoshida4);
    p.potential = vec![harmonic(1.0)];
    p.drive = Some(Drive {
        shape: vec![PotentialTerm::Linear {
            gradient_x: 1.0,
            gradient_y: 0.0,
        }],
        profile: TimeProfile::Sine {
            amplitude: 0.5,
            omega: 1.3,
            phase: 0.0,
        },
    });
    let mut s = solver(
        p,
        packet(1.0, 0.0, std::f64::consts::FRAC_1_SQRT_2, 0.0, 0.0),
    );
    run(&mut s, 300);
    let (mut x, mut v, h) = (1.0_f64, 0.0_f64, 1e-5);
    let acc = |t: f64, x: f64| -x - 0.5 * (1.3 * t).sin();
    for i in 0..300_000 {
        let t = f64::from(i) * h;
        let (k1x, k1v) = (v, acc(t, x));
        let (k2x, k2v) = (v + 0.5 * h * k1v, acc(t + 0.5 * h, x + 0.5 * h * k1x));
        let (k3x, k3v) = (v + 0.5 * h * k2v, acc(t + 0.5 * h, x + 0.5 * h * k2x));
        let (k4x, k4v) = (v + h * k3v, acc(t + h, x + h * k3x));
        x += h / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x);
        v += h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v);
    }
    let o = s.observables();
    assert!((o.x_mean - x).abs() < 1e-7, "<x> {} vs {x}", o.x_mean);
    assert!((o.px_mean - v).abs() < 1e-7, "<p> {} vs {v}", o.px_mean);
}
