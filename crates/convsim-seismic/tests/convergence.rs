//! Accuracy against the analytic 2D Green's function on Devito's setup (see `common`).
//!
//! Devito's notebook (float32, its damping layer) reports RMS errors at h = 2, 2.5, 4 m of
//! 3.77e-3, 5.81e-3, 1.30e-2 (order 2), 3.40e-4, 9.41e-4, 6.35e-3 (order 4), 4.55e-5, 2.07e-4,
//! 3.74e-3 (order 6), 4.18e-5, 7.16e-5, 2.57e-3 (order 8), and rates 1.78, 4.20, 6.33, 7.62
//! (order 8 fitted on h = 2.5, 4 only, as the h = 2 error sits on the dt floor).

mod common;

use common::{devito_error, devito_setup, rate, run};

const DEVITO: [(usize, [f64; 3]); 4] = [
    (2, [3.768_279_6e-3, 5.812_459e-3, 1.301_115e-2]),
    (4, [3.400_356e-4, 9.414_705e-4, 6.346_863e-3]),
    (6, [4.549_065e-5, 2.068_744e-4, 3.742_867e-3]),
    (8, [4.175_830e-5, 7.163_743e-5, 2.573_394e-3]),
];
/// RMS difference between Devito's analytic reference (FFT of the Hankel solution sampled at
/// 0.1 ms over 3 s) and the exact solution (`analytic::ricker_response`, checked against an
/// adaptive quadrature in scipy): 5.8e-6 over the 1500 samples. Devito's errors are measured
/// against their reference, so by the triangle inequality ours may exceed theirs by this much
/// and still be the smaller error against the exact solution.
const DEVITO_REF_RMS: f64 = 6e-6;
const SHAPES: [(usize, f64); 3] = [(201, 2.0), (161, 2.5), (101, 4.0)];

fn errors(order: usize) -> [f64; 3] {
    SHAPES.map(|(n, h)| {
        let p = devito_setup(order, n, h, 1e-4);
        let d = run::<f64>(&p);
        devito_error(d.row(0).as_slice().unwrap(), 1e-4)
    })
}

#[test]
fn coarse_grid_errors_beat_devito() {
    // The cheap part of the study (h = 4 m only) runs in every test pass.
    for (order, dev) in DEVITO.iter().take(2) {
        let p = devito_setup(*order, 101, 4.0, 1e-4);
        let d = run::<f64>(&p);
        let e = devito_error(d.row(0).as_slice().unwrap(), 1e-4);
        // Same scheme as Devito (on-grid source and receiver reduce the Hicks weights to one
        // node), so the error must not exceed theirs up to their reference's own error.
        assert!(
            e <= dev[2] + DEVITO_REF_RMS,
            "order {order}: {e:e} vs Devito {:e}",
            dev[2]
        );
    }
}

#[test]
#[ignore = "convergence study, ~10 s in release"]
fn space_convergence_rates_and_errors() {
    let hs: Vec<f64> = SHAPES.iter().map(|s| s.1).collect();
    for (order, dev) in DEVITO {
        let e = errors(order);
        // Order 8 at h = 2 m sits on the time-discretisation floor (dt = 0.1 ms gives ~1e-5),
        // so its rate is fitted on h = 2.5 and 4 m, exactly as Devito's notebook does.
        let r = if order == 8 {
            rate(&hs[1..], &e[1..])
        } else {
            rate(&hs, &e)
        };
        eprintln!("order {order}: errors {e:?} (Devito {dev:?}), rate {r:.3}");
        assert!(
            (r - order as f64).abs() <= 0.2 * order as f64,
            "order {order}: rate {r}"
        );
        for (k, (&ours, &theirs)) in e.iter().zip(&dev).enumerate() {
            assert!(
                ours <= theirs + DEVITO_REF_RMS,
                "order {order} h {}: {ours:e} vs Devito {theirs:e}",
                hs[k]
            );
        }
    }
}

#[test]
#[ignore = "convergence study, ~20 s in release"]
fn time_convergence_rate_is_two() {
    // Order 16 on h = 1 m makes the space error negligible; the error then scales as dt^2.
    let dts = [1e-4, 8e-5, 6.25e-5, 5e-5];
    let e: Vec<f64> = dts
        .iter()
        .map(|&dt| {
            let p = devito_setup(16, 401, 1.0, dt);
            let d = run::<f64>(&p);
            devito_error(d.row(0).as_slice().unwrap(), dt)
        })
        .collect();
    let r = rate(&dts, &e);
    eprintln!("time errors {e:?} rate {r:.3}");
    assert!((r - 2.0).abs() < 0.2, "time rate {r}");
}
