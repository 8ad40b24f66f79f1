//! The stencil scheme (arbitrary taps as a whole step or an operator) against the explicit
//! scheme it must reproduce, mass conservation, and its stability checks.

mod common;

use common::{grid, params, run};
use convsim_core::stencil::laplacian;
use convsim_core::{ParamError, ParamPath};
use convsim_diffusion::{
    BoundaryCondition, BoundaryConditions, DiffusionError, DiffusionSolver, Diffusivity, Scheme,
    StencilForm, StencilTaps,
};
use ndarray::{Array2, array};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const D: f64 = 0.7;
const H: f64 = 0.1;

fn noise(ny: usize, nx: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((ny, nx), |_| rng.random_range(-1.0..1.0))
}

/// `D L5` on spacing `H`: the explicit order-2 operator.
fn operator_taps() -> Array2<f64> {
    laplacian(2, H, H).unwrap().taps().mapv(|v| D * v)
}

/// `delta + dt D L5`: the explicit order-2 step.
fn step_taps(dt: f64) -> Array2<f64> {
    let mut k = operator_taps().mapv(|v| dt * v);
    k[[1, 1]] += 1.0;
    k
}

fn with_stencil(
    b: BoundaryConditions,
    dt: f64,
    form: StencilForm,
    taps: Array2<f64>,
) -> convsim_diffusion::DiffusionParams {
    let mut p = params(
        grid(12, 10, H),
        dt,
        Scheme::Stencil,
        Diffusivity::Constant { d: D },
        BoundaryCondition::Periodic,
    );
    p.boundaries = b;
    p.stencil = Some(StencilTaps {
        form,
        anchor: [taps.nrows() / 2, taps.ncols() / 2],
        taps,
        allow_unstable: false,
    });
    p
}

fn explicit(b: BoundaryConditions, dt: f64) -> convsim_diffusion::DiffusionParams {
    let mut p = params(
        grid(12, 10, H),
        dt,
        Scheme::Explicit { order: 2 },
        Diffusivity::Constant { d: D },
        BoundaryCondition::Periodic,
    );
    p.boundaries = b;
    p
}

fn boundary_sets() -> Vec<BoundaryConditions> {
    vec![
        BoundaryConditions::uniform(BoundaryCondition::Periodic),
        BoundaryConditions::uniform(BoundaryCondition::ZeroFlux),
        BoundaryConditions {
            top: BoundaryCondition::Fixed { value: 0.5 },
            bottom: BoundaryCondition::ZeroFlux,
            left: BoundaryCondition::Fixed { value: -1.0 },
            right: BoundaryCondition::Fixed { value: 2.0 },
        },
    ]
}

#[test]
fn step_and_operator_forms_reproduce_the_explicit_scheme() {
    let dt = 0.9 * H * H / (4.0 * D);
    let u0 = noise(12, 10, 7);
    for b in boundary_sets() {
        let want = run(explicit(b, dt), u0.clone(), 50);
        // The operator form runs the same fused pass with the same taps: identical bits.
        let op = run(
            with_stencil(b, dt, StencilForm::Operator, operator_taps()),
            u0.clone(),
            50,
        );
        assert_eq!(op, want, "operator form, {b:?}");
        // The step form rounds differently (K (*) u sums 1 + dt L in one pass instead of
        // u + dt (L (*) u)): a few ulps of max|u| <= 2 per step, and the step does not amplify
        // them (|K_hat| <= 1), so 50 steps stay below 1e-14 * 50 * 2 = 1e-12 absolute.
        let st = run(
            with_stencil(b, dt, StencilForm::Step, step_taps(dt)),
            u0.clone(),
            50,
        );
        let err = (&st - &want).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-12, "step form, {b:?}: max diff {err:e}");
    }
}

#[test]
fn a_zero_sum_operator_conserves_mass() {
    // D L5 plus first-order upwind advection with velocity (vy, vx) = (0.3, -0.5): not
    // symmetric, every column sum zero, so the periodic sum is conserved to rounding.
    let (vy, vx): (f64, f64) = (0.3, -0.5);
    let mut l = operator_taps();
    l[[1, 1]] -= (vy + vx.abs()) / H;
    l[[0, 1]] += vy / H; // u_y from above (vy > 0)
    l[[1, 2]] += vx.abs() / H; // u_x from the right (vx < 0)
    assert!(l.sum().abs() < 1e-12);
    let b = BoundaryConditions::uniform(BoundaryCondition::Periodic);
    let mut p = with_stencil(b, 1.0, StencilForm::Operator, l);
    p.dt = 0.9 * p.stability_limit().unwrap().unwrap();
    let u0 = noise(12, 10, 3).mapv(|v| v + 2.0);
    let mut s = DiffusionSolver::new(p, u0).unwrap();
    let m0 = s.measure().mass;
    for _ in 0..200 {
        s.step();
    }
    // 200 steps of 120 nodes of size ~3 each round at 1e-16 relative: 1e-12 relative is slack.
    let m = s.measure().mass;
    assert!((m - m0).abs() < 1e-12 * m0.abs(), "{m} vs {m0}");
    // And a symmetric zero-sum operator with zero-flux sides (the symmetric extension).
    let b = BoundaryConditions::uniform(BoundaryCondition::ZeroFlux);
    let mut p = with_stencil(b, 1.0, StencilForm::Operator, operator_taps());
    p.dt = 0.9 * p.stability_limit().unwrap().unwrap();
    let mut s = DiffusionSolver::new(p, noise(12, 10, 4)).unwrap();
    let m0 = s.measure().mass;
    for _ in 0..200 {
        s.step();
    }
    assert!((s.measure().mass - m0).abs() < 1e-12);
}

#[test]
fn stability_checks() {
    let b = BoundaryConditions::uniform(BoundaryCondition::Periodic);
    let dt = H * H / (4.0 * D);
    // The exact step at the limit: |K_hat| = 1 (the constant and the checkerboard modes).
    let p = with_stencil(b, dt, StencilForm::Step, step_taps(dt));
    let (a, _) = p.stencil_amplification().unwrap();
    assert!((a - 1.0).abs() < 1e-14, "{a}");
    p.validate().unwrap();
    // Above it the checkerboard grows: |1 - 8 r| with r = 1.2 / 4.
    let mut p = with_stencil(b, 1.2 * dt, StencilForm::Step, step_taps(1.2 * dt));
    match p.validate() {
        Err(DiffusionError::UnstableStep { amplification, .. }) => {
            assert!((amplification - 1.4).abs() < 1e-12, "{amplification}");
        }
        other => panic!("{other:?}"),
    }
    let msg = DiffusionSolver::new(p.clone(), Array2::zeros((12, 10)))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("allow_unstable"), "{msg}");
    p.stencil.as_mut().unwrap().allow_unstable = true;
    DiffusionSolver::new(p, Array2::zeros((12, 10))).unwrap();
    // Operator form: the limit of D L5 is h^2 / (4 D); 2 % above is refused.
    let p = with_stencil(b, 1.02 * dt, StencilForm::Operator, operator_taps());
    let lim = p.stability_limit().unwrap().unwrap();
    assert!((lim / dt - 1.0).abs() < 1e-12, "{lim}");
    assert!(matches!(p.validate(), Err(DiffusionError::Unstable { .. })));
    // A stencil larger than the grid, and an anchor outside the taps.
    let p = with_stencil(b, dt, StencilForm::Step, Array2::zeros((13, 3)));
    let e = p.validate().unwrap_err();
    assert_eq!(e.param(), Some(ParamPath::table("stencil")));
    let msg = e.to_string();
    assert!(
        msg.contains("taps of shape (13, 3)") && msg.contains("(12, 10)"),
        "{msg}"
    );
    let mut p = with_stencil(b, dt, StencilForm::Step, array![[1.0]]);
    p.stencil.as_mut().unwrap().anchor = [0, 1];
    assert!(
        p.validate()
            .unwrap_err()
            .to_string()
            .contains("`stencil` = anchor [0, 1]")
    );
    // The scheme without taps.
    let mut p = with_stencil(b, dt, StencilForm::Step, array![[1.0]]);
    p.stencil = None;
    assert!(p.validate().unwrap_err().to_string().contains("`stencil`"));
}
