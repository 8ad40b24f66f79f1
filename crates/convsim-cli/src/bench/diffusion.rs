//! The `diffusion` workloads of `convsim bench`.
//!
//! `diffusion-1024-200`: `u <- u + 0.2 Lap5(u)`, periodic, 1024 x 1024 `f64`, 200 steps, seeded
//! normal input. It runs the real solver ([`DiffusionSolver`] with `D = 1`, `h = 1`,
//! `dt = 0.2`, the 5-point Laplacian), i.e. one fused `ConvPlan::apply_with` pass per step
//! (`out = u + dt * conv`), so the figure is what a user of the library gets. Each timed run
//! starts from the same initial field (restored by copying, as the reference tools copy `u0`).

use convsim_core::Simulation;
use convsim_diffusion::{DiffusionParams, DiffusionSolver};
use ndarray::Array2;

use super::{Workload, normal_samples};

pub(super) fn workloads() -> Vec<Workload> {
    vec![Workload {
        id: "diffusion-1024-200",
        setup: Box::new(setup_1024_200),
    }]
}

fn setup_1024_200() -> Box<dyn FnMut()> {
    let (n, steps) = (1024, 200);
    let mut params = DiffusionParams::gaussian_periodic(n, 1.0, 1.0);
    params.dt = 0.2;
    let u0 = Array2::from_shape_vec((n, n), normal_samples(n * n, 1024))
        .expect("n * n samples for an n x n field");
    let mut solver =
        DiffusionSolver::new(params, u0).expect("dt = 0.2 is below the 5-point limit 0.25");
    let initial = solver.state();
    Box::new(move || {
        solver
            .restore(0, 0.0, &initial)
            .expect("the state saved at setup fits the solver");
        for _ in 0..steps {
            solver.step();
        }
        std::hint::black_box(solver.u());
    })
}
