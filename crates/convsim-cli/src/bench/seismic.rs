//! The `seismic` workloads of `convsim bench` (`shared/bench/WORKLOADS.md`): the 2D acoustic
//! wave equation on 2000 x 2000 f32 samples, space order 2 or 8, constant velocity 2 km/s,
//! h = 10 m, dt = 1.25 ms, 200 steps, no absorbing layer (zero pressure beyond the edges). As in
//! Devito's script the disturbance is an initial `p = 1` at the centre, no source wavelet.

use convsim_seismic::{Seismic, SeismicBoundaries, SeismicParams, SideBoundary};
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

pub(super) fn workloads() -> Vec<Workload> {
    vec![
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
