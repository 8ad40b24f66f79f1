//! Helpers shared by the integration tests.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a subset of these helpers, which are `pub` for that"
)]

use convsim_core::Grid;
use convsim_quantum::{
    Absorber, Evolution, Method, PotentialTerm, QuantumParams, QuantumSolver, Wavepacket,
};

/// A square 2D grid of `n x n` samples on `[-l/2, l/2)`.
pub fn grid2(n: usize, l: f64) -> Grid {
    let h = l / n as f64;
    Grid {
        ny: n,
        nx: n,
        dy: h,
        dx: h,
        y0: -0.5 * l,
        x0: -0.5 * l,
    }
}

/// A 1D grid of `n` samples on `[a, a + n h)`.
pub fn grid1(n: usize, h: f64, a: f64) -> Grid {
    Grid {
        ny: 1,
        nx: n,
        dy: 1.0,
        dx: h,
        y0: 0.0,
        x0: a,
    }
}

/// Parameters with defaults: mass 1, g 0, no potential.
pub fn params(grid: Grid, dt: f64, method: Method) -> QuantumParams {
    QuantumParams {
        grid,
        dt,
        mass: 1.0,
        g: 0.0,
        method,
        evolution: Evolution::Real,
        potential: vec![],
        drive: None,
        absorber: None,
        flux_line: None,
    }
}

/// The isotropic harmonic potential of angular frequency `omega` at the origin.
pub fn harmonic(omega: f64) -> PotentialTerm {
    PotentialTerm::Harmonic {
        omega,
        omega_y: None,
        center_x: 0.0,
        center_y: 0.0,
    }
}

/// A Gaussian packet.
pub fn packet(cx: f64, cy: f64, sigma: f64, kx: f64, ky: f64) -> Wavepacket {
    Wavepacket {
        center_x: cx,
        center_y: cy,
        sigma_x: sigma,
        sigma_y: None,
        k_x: kx,
        k_y: ky,
    }
}

/// An absorber of width 2 and strength 0.5 (quadratic ramp) on every edge.
pub fn edge_absorber() -> Absorber {
    Absorber {
        width: 2.0,
        strength: 0.5,
        power: 2,
        edges: vec![],
    }
}

/// A Gaussian bump of height 2 and width 1 at `(0.5, -0.5)`: added to a harmonic trap, it makes
/// the potential more than a sum `f(y) + g(x)` (a patch around the bump).
pub fn bump() -> PotentialTerm {
    PotentialTerm::Gaussian {
        amplitude: 2.0,
        center_x: 0.5,
        center_y: -0.5,
        sigma: 1.0,
    }
}

/// Builds a solver from a packet.
pub fn solver(p: QuantumParams, w: Wavepacket) -> QuantumSolver {
    let psi = w.sample(&p.grid).unwrap();
    QuantumSolver::new(p, psi).unwrap()
}

/// Plane-wave transmission through the rectangular barrier of height `v0` and width `a`
/// (mass `m`) at energy `e`.
pub fn barrier_transmission(e: f64, v0: f64, a: f64, m: f64) -> f64 {
    if (e - v0).abs() < 1e-12 {
        return 1.0 / (1.0 + m * a * a * v0 / 2.0);
    }
    if e < v0 {
        let kappa = (2.0 * m * (v0 - e)).sqrt();
        1.0 / (1.0 + v0 * v0 * (kappa * a).sinh().powi(2) / (4.0 * e * (v0 - e)))
    } else {
        let q = (2.0 * m * (e - v0)).sqrt();
        1.0 / (1.0 + v0 * v0 * (q * a).sin().powi(2) / (4.0 * e * (e - v0)))
    }
}
