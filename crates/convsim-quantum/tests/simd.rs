//! The SIMD switch ([`QuantumSolver::set_simd`]): every stepping path run portable and on the
//! best instruction set agrees to rounding (bitwise for the finite-difference stencil, whose
//! complex multiply-adds are never fused), and the vector sets agree bitwise.

mod common;

use common::{bump, edge_absorber, grid1, grid2, harmonic, packet, params};
use convsim_core::{Boundaries, Boundary, Complex64, Isa, Simd};
use convsim_quantum::{Method, PotentialTerm, QuantumSolver};
use ndarray::Array2;

/// Runs `steps` steps (`advance` when `advance`) with the instruction set capped at `simd`.
fn run(
    build: &dyn Fn() -> QuantumSolver,
    simd: Simd,
    steps: u64,
    advance: bool,
) -> (Isa, Array2<Complex64>) {
    let mut s = build();
    s.set_simd(simd);
    if advance {
        s.advance(steps);
    } else {
        for _ in 0..steps {
            s.step();
        }
    }
    (s.isa(), s.psi().to_owned())
}

fn l2(a: &Array2<Complex64>) -> f64 {
    a.iter().map(Complex64::norm_sqr).sum::<f64>().sqrt()
}

#[test]
fn portable_and_vector_steps_agree_to_rounding_and_vector_sets_bitwise() {
    let g2 = grid2(48, 16.0);
    let packet = packet(-1.0, 0.5, 1.5, 1.5, -0.5);
    let absorber = edge_absorber();
    let bump = bump();
    // Wider than a quarter of the grid: the factor is a full table (`Factor::Full`).
    let wide = PotentialTerm::Gaussian {
        amplitude: 1.0,
        center_x: 0.0,
        center_y: 0.0,
        sigma: 5.0,
    };
    let fd = Method::FiniteDifference {
        order: 4,
        boundaries: Boundaries::uniform(Boundary::Periodic),
    };
    // (name, method, potential, absorber, g, dt, advance): every factor shape (axis outer
    // product, outer product with a patch, full table), both splittings, the nonlinear path
    // (no precomputed factor), `advance`'s merged paths, and the finite-difference stencil.
    let cases = vec![
        (
            "trap",
            Method::Strang,
            vec![harmonic(0.5)],
            false,
            0.0,
            0.01,
            false,
        ),
        (
            "trap advance",
            Method::Strang,
            vec![harmonic(0.5)],
            true,
            0.0,
            0.01,
            true,
        ),
        (
            "trap bump absorber",
            Method::Strang,
            vec![harmonic(0.5), bump.clone()],
            true,
            0.0,
            0.01,
            false,
        ),
        (
            "bump advance",
            Method::Strang,
            vec![harmonic(0.5), bump.clone()],
            false,
            0.0,
            0.01,
            true,
        ),
        (
            "wide",
            Method::Strang,
            vec![wide.clone()],
            false,
            0.0,
            0.01,
            false,
        ),
        (
            "yoshida bump",
            Method::Yoshida4,
            vec![harmonic(0.5), bump],
            false,
            0.0,
            0.01,
            false,
        ),
        (
            "nonlinear",
            Method::Strang,
            vec![harmonic(0.5)],
            false,
            2.0,
            0.01,
            false,
        ),
        (
            "finite difference",
            fd,
            vec![wide],
            false,
            0.0,
            0.002,
            false,
        ),
    ];
    let steps = 100;
    let best = Isa::detect_up_to(Simd::Best);
    for (name, method, potential, with_absorber, g, dt, advance) in cases {
        let build = || {
            let mut p = params(g2, dt, method);
            p.potential = potential.clone();
            p.absorber = with_absorber.then(|| absorber.clone());
            p.g = g;
            QuantumSolver::new(p, packet.sample(&g2).unwrap()).unwrap()
        };
        let (isa_p, port) = run(&build, Simd::Portable, steps, advance);
        let (isa_b, vec_b) = run(&build, Simd::Best, steps, advance);
        let (_, vec_2) = run(&build, Simd::Avx2Fma, steps, advance);
        assert_eq!(isa_p, Isa::Portable, "{name}");
        // The split-step products have no AVX-512 variant; the stencil has.
        let want = if matches!(method, Method::FiniteDifference { .. }) {
            best
        } else {
            best.at_most_avx2()
        };
        assert_eq!(isa_b, want, "{name}");
        // AVX2 and AVX-512 run each output's operations in the same order.
        assert!(vec_b == vec_2, "{name}: Best and Avx2Fma differ");
        if matches!(method, Method::FiniteDifference { .. }) {
            // Complex multiply-adds are never fused (`Element::fused_mul_add` on complex types):
            // the stencil runs the same operations on every set.
            assert!(port == vec_b, "{name}: portable and vector stencils differ");
            continue;
        }
        // The FFTs are the same on both paths; each step's complex products (two kinetic, one
        // or two potential) round once more without FMA, a few ulps relative each, and the
        // difference then propagates without growth (unitary or contracting steps): after 100
        // steps, below 100 x 32 eps of the state's norm.
        let diff = l2(&(&port - &vec_b)) / l2(&vec_b);
        assert!(
            diff < f64::from(steps as u32) * 32.0 * f64::EPSILON,
            "{name}: portable vs vector relative difference {diff:e}"
        );
        if best != Isa::Portable {
            // The switch reaches the loops: fused and unfused products differ somewhere.
            assert!(port != vec_b, "{name}: the portable run is the vector run");
        }
    }
    // 1D as well (one row: the column pass is trivial).
    let g1 = grid1(128, 0.125, -8.0);
    let build = || {
        let mut p = params(g1, 0.005, Method::Strang);
        p.potential = vec![harmonic(1.0)];
        QuantumSolver::new(p, packet.sample(&g1).unwrap()).unwrap()
    };
    let (_, port) = run(&build, Simd::Portable, steps, false);
    let (_, vec_b) = run(&build, Simd::Best, steps, false);
    let diff = l2(&(&port - &vec_b)) / l2(&vec_b);
    assert!(diff < 100.0 * 32.0 * f64::EPSILON, "1d: {diff:e}");
}
