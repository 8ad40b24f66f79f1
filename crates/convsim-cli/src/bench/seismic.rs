//! The `seismic` workloads of `convsim bench` (`shared/bench/WORKLOADS.md`).
//!
//! - `seismic-2000-so2-200`, `-so8-200`: the 2D acoustic wave equation on 2000 x 2000 f32
//!   samples, space order 2 or 8, constant velocity 2 km/s, h = 10 m, dt = 1.25 ms, 200 steps,
//!   no absorbing layer (zero pressure beyond the edges). As in Devito's script the disturbance
//!   is an initial `p = 1` at the centre, no source wavelet.
//! - `seismic-shot-1000-so8`: a real shot, the `Seismic::advance` a scenario run takes
//!   (`convsim run` on the same scenario calls it between its two frames): 1000 x 1000 nodes at
//!   10 m with a 40-cell CPML on every side (1080 x 1080 computed), order 8, 1.5 km/s above
//!   z = 2000 m and 2.5 km/s below, a 10 Hz Ricker at (z, x) = (20, 5000) m, 1001 receivers at
//!   z = 20 m from x = 0 to 9990 m, dt = 1 ms, 1000 steps.

use convsim_seismic::{
    Model, PointSource, Receivers, Seismic, SeismicBoundaries, SeismicParams, SideBoundary, Wavelet,
};
use ndarray::Array2;

use super::Workload;

const N: usize = 2000;
const STEPS: usize = 200;

fn setup(order: usize) -> Box<dyn FnMut()> {
    let mut p = SeismicParams::homogeneous(N, N, 10.0, 2000.0);
    p.space_order = order;
    p.dt = 1.25e-3;
    p.duration = 0.0;
    p.boundaries = SeismicBoundaries::uniform(SideBoundary::Zero);
    let mut s = Seismic::<f32>::new(&p).expect("benchmark parameters are valid");
    let mut p0 = Array2::zeros((N, N));
    p0[[N / 2, N / 2]] = 1.0;
    s.set_initial(p0.view());
    // `advance` is what a run without receivers gets: it fuses steps (temporal blocking).
    Box::new(move || s.advance(STEPS))
}

/// The real shot: its parameters (also used by the tests of the scenario driver's overhead).
pub(crate) fn shot_params() -> SeismicParams {
    let (n, h) = (1000, 10.0);
    let mut p = SeismicParams::homogeneous(n, n, h, 1500.0);
    p.space_order = 8;
    p.velocity = Model::Layered {
        tops: vec![2000.0],
        values: vec![1500.0, 2500.0],
    };
    p.dt = 1e-3;
    p.duration = 1.0;
    p.boundaries = SeismicBoundaries::uniform(SideBoundary::cpml(40));
    p.sources = vec![PointSource {
        y: 20.0,
        x: 5000.0,
        wavelet: Wavelet::ricker(10.0),
    }];
    p.receivers = vec![Receivers::Line {
        start: [20.0, 0.0],
        end: [20.0, (n - 1) as f64 * h],
        count: 1001,
    }];
    p
}

fn shot() -> Box<dyn FnMut()> {
    let p = shot_params();
    let mut s = Seismic::<f32>::new(&p).expect("benchmark parameters are valid");
    Box::new(move || {
        s.reset();
        s.advance(p.nt());
    })
}

pub(super) fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            id: "seismic-shot-1000-so8",
            setup: Box::new(shot),
        },
        Workload {
            id: "seismic-2000-so2-200",
            setup: Box::new(|| setup(2)),
        },
        Workload {
            id: "seismic-2000-so8-200",
            setup: Box::new(|| setup(8)),
        },
    ]
}
