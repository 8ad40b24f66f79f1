//! The `quantum` workloads of `convsim bench`, exactly as `shared/bench/WORKLOADS.md` and
//! `peers.py` define them.
//!
//! `quantum-1024-50`: split-step Fourier (Strang), 1024 x 1024 complex128 on `[-20, 20)^2`,
//! harmonic potential `(x^2 + y^2) / 2`, `dt = 0.005`, 50 steps, initial state
//! `exp(-((x + 5)^2 + y^2) / 2 + 2 i x)` with `x` along axis 0 as in `peers.py`. The solver, its
//! spectral plan and the potential factors are built outside the timed region; the timed region
//! copies the initial state in (as `peers.py` does) and runs the 50 steps.

use convsim_core::{Complex64, Grid};
use convsim_quantum::{Evolution, Method, PotentialTerm, QuantumParams, QuantumSolver};
use ndarray::Array2;

use super::Workload;

/// The workload's solver with potential terms `potential`.
fn quantum_1024_50_with(potential: Vec<PotentialTerm>) -> Box<dyn FnMut()> {
    let n = 1024;
    let h = 40.0 / n as f64;
    let grid = Grid {
        ny: n,
        nx: n,
        dy: h,
        dx: h,
        y0: -20.0,
        x0: -20.0,
    };
    let params = QuantumParams {
        grid,
        dt: 0.005,
        mass: 1.0,
        g: 0.0,
        method: Method::Strang,
        evolution: Evolution::Real,
        potential,
        drive: None,
        absorber: None,
        flux_line: None,
    };
    let psi0 = Array2::from_shape_fn((n, n), |(i, j)| {
        let (a, b) = (-20.0 + i as f64 * h, -20.0 + j as f64 * h);
        Complex64::from_polar((-((a + 5.0).powi(2) + b * b) / 2.0).exp(), 2.0 * a)
    });
    let mut solver =
        QuantumSolver::new(params, psi0.clone()).expect("the benchmark parameters are valid");
    // The solver normalises its state; the workload's state is the normalised one.
    let psi0 = solver.psi().to_owned();
    Box::new(move || {
        solver.set_psi(psi0.view());
        // Nothing is observed between the steps, so the half potential steps between them merge
        // (`QuantumSolver::advance`), exactly as 50 calls of `step` up to rounding.
        solver.advance(50);
    })
}

fn harmonic() -> PotentialTerm {
    PotentialTerm::Harmonic {
        omega: 1.0,
        omega_y: None,
        center_x: 0.0,
        center_y: 0.0,
    }
}

fn quantum_1024_50() -> Box<dyn FnMut()> {
    quantum_1024_50_with(vec![harmonic()])
}

/// `quantum-bump-1024-50`: the same with the non-separable bump `5 exp(-((x - 1)^2 + (y + 2)^2))`
/// added (`x` along axis 0 as in `peers.py`, so the bump's axis-0 centre is 1 and its axis-1
/// centre -2).
fn quantum_bump_1024_50() -> Box<dyn FnMut()> {
    quantum_1024_50_with(vec![
        harmonic(),
        PotentialTerm::Gaussian {
            amplitude: 5.0,
            center_y: 1.0,
            center_x: -2.0,
            sigma: std::f64::consts::FRAC_1_SQRT_2,
        },
    ])
}

pub(super) fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            id: "quantum-1024-50",
            setup: Box::new(quantum_1024_50),
        },
        Workload {
            id: "quantum-bump-1024-50",
            setup: Box::new(quantum_bump_1024_50),
        },
    ]
}
