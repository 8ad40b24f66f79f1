//! The cost model behind `Method::Auto`, calibrated once per process on the running machine.
//!
//! Two tiny micro-benchmarks (a few milliseconds in total, run the first time an `Auto` plan is
//! built, cached in a `OnceLock`) measure the seconds per tap-output of the direct method and the
//! seconds per `n log2 n` point of a 2D FFT pass, in the thread pool current at that time. A
//! plan's estimates are those unit costs times its operation counts, scaled by the element
//! width (f32 vectors hold twice as many lanes, complex arithmetic costs four real operations).

use std::sync::OnceLock;
use std::time::Instant;

use ndarray::Array2;

use crate::{Boundaries, Boundary, ConvPlan, Element, Kernel2, Method, SpectralPlan};

/// Unit costs of this machine, in seconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Calibration {
    /// Per tap and output sample of the direct method (f64).
    pub(crate) tap: f64,
    /// Per `n log2 n` of a real-to-complex 2D FFT round trip with a spectral multiply (f64).
    pub(crate) fft: f64,
    /// Per sample streamed through memory once (read or write, f64).
    pub(crate) stream: f64,
}

static CALIBRATION: OnceLock<Calibration> = OnceLock::new();

fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The calibration, measured on first use.
pub(crate) fn calibration() -> Calibration {
    *CALIBRATION.get_or_init(|| {
        let (h, w) = (96, 1024);
        let x = Array2::from_shape_fn((h, w), |(i, j)| ((i * 31 + j * 17) % 13) as f64 - 6.0);
        let mut out = Array2::<f64>::zeros((h, w));
        let taps = Array2::from_shape_fn((7, 7), |(i, j)| 1.0 + (i * 7 + j) as f64 * 0.01);
        let mut direct = ConvPlan::builder([h, w], Kernel2::new(taps).expect("7x7"))
            .boundaries(Boundaries::uniform(Boundary::Mirror))
            .method(Method::Direct)
            .build()
            .expect("calibration plan");
        let td = best_of(3, || direct.apply(x.view(), out.view_mut()));
        let tap = td / (h * w * 49) as f64;
        let one = Array2::from_elem((1, 1), 1.0);
        let mut copy = ConvPlan::builder([h, w], Kernel2::new(one).expect("1x1"))
            .method(Method::Direct)
            .build()
            .expect("calibration plan");
        let tc = best_of(3, || copy.apply(x.view(), out.view_mut()));
        let stream = (tc / (2 * h * w) as f64).max(1e-12);
        let n = 256;
        let mut spec = SpectralPlan::<f64>::new([n, n], [1.0, 1.0], crate::identity_transfer)
            .expect("calibration plan");
        let mut u = Array2::from_shape_fn((n, n), |(i, j)| ((i + 3 * j) % 7) as f64);
        let tf = best_of(3, || spec.apply_inplace(u.view_mut()));
        let nn = (n * n) as f64;
        let fft = tf / (nn * nn.log2());
        Calibration { tap, fft, stream }
    })
}

/// Relative cost of element type `T` against f64 (vector lanes and complex arithmetic).
pub(crate) fn element_factor<T: Element>() -> f64 {
    let real = if std::mem::size_of::<T::Real>() == 4 {
        0.5
    } else {
        1.0
    };
    if T::IS_COMPLEX { 4.0 * real } else { real }
}

/// Estimated seconds of the direct method: `taps_per_output` multiply-adds per output sample
/// plus streaming the input and output once.
pub(crate) fn direct_cost<T: Element>(outputs: usize, inputs: usize, taps_per_output: f64) -> f64 {
    let c = calibration();
    let f = element_factor::<T>();
    outputs as f64 * taps_per_output * c.tap * f + (inputs + outputs) as f64 * c.stream * f
}

/// Estimated seconds of the block method (`OverlapAdd`) for the blocks it would choose, and
/// that choice `(fy, fx)`: [`crate::overlap_add::block_work`] (blocks x `n log2 n` per block,
/// rounded up to whole rounds over the threads, cache penalty) in units of the calibrated FFT
/// cost, plus streaming the input and output once.
pub(crate) fn overlap_add_cost<T: Element>(
    ry: &crate::ResolvedAxis,
    rx: &crate::ResolvedAxis,
) -> (f64, [usize; 2]) {
    let c = calibration();
    let threads = rayon::current_num_threads().max(1);
    let (by, bx) = crate::overlap_add::choose_blocks::<T>(ry, rx, threads, None);
    let cx = if T::IS_COMPLEX { bx.f } else { bx.f / 2 + 1 };
    let work = crate::overlap_add::block_work(
        by,
        bx,
        by.f * cx * 2 * std::mem::size_of::<T::Real>(),
        threads,
    ) / threads as f64;
    let width = if std::mem::size_of::<T::Real>() == 4 {
        0.6
    } else {
        1.0
    };
    let kind = if T::IS_COMPLEX { 2.0 } else { 1.0 };
    let streams = (ry.n * rx.n + ry.out * rx.out) as f64;
    (
        work * c.fft * width * kind + streams * c.stream * element_factor::<T>(),
        [by.f, bx.f],
    )
}

/// Estimated seconds of one FFT plan of transform shape `shape` (round trip and multiply), plus
/// filling and reading the work array.
pub(crate) fn fft_cost<T: Element>(shape: [usize; 2], inputs: usize, outputs: usize) -> f64 {
    let c = calibration();
    let n = (shape[0] * shape[1]) as f64;
    // Complex data do full transforms: twice the real-to-complex work, in f64-sized lanes.
    let width = if std::mem::size_of::<T::Real>() == 4 {
        0.6
    } else {
        1.0
    };
    let kind = if T::IS_COMPLEX { 2.0 } else { 1.0 };
    n * n.log2().max(1.0) * c.fft * width * kind
        + (2.0 * n + (inputs + outputs) as f64) * c.stream * element_factor::<T>()
}
