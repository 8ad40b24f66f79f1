//! The cost model behind `Method::Auto`, calibrated once per process on the running machine.
//!
//! Micro-benchmarks run the first time an `Auto` plan is built (some tens of milliseconds,
//! cached in a `OnceLock`, in the thread pool current at that time) measure the seconds per
//! tap-output of the dense and of the separable direct paths, per sample streamed, and per
//! `n log2 n` point of a 2D FFT pass. A plan's estimates are those unit costs times its
//! operation counts, scaled by the element width (f32 vectors hold twice as many lanes, complex
//! arithmetic costs four real operations). Two probes (31 x 31 taps on 768 x 768, Mirror) then
//! time the whole-image FFT and the overlap-save methods against their models, and each model is
//! scaled by measured / modelled (clamped to [0.5, 4]): the models count transform work and
//! streams but not the padding and window copies, which differ between the two methods.
//! `convsim bench --methods` prints every method's time next to Auto's choice and estimates.

use std::sync::OnceLock;
use std::time::Instant;

use ndarray::Array2;

use crate::{
    AxisGeometry, Boundaries, Boundary, ConvPlan, Element, Kernel, Kernel2, Method, Padding,
    SpectralPlan, resolve_axis,
};

/// Unit costs of this machine, in seconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Calibration {
    /// Per tap and output sample of the direct method, dense kernel (f64).
    pub(crate) tap: f64,
    /// Per tap (column plus row factor) and output sample of the separable direct path (f64):
    /// two passes with an intermediate row, so not the dense figure.
    pub(crate) sep_tap: f64,
    /// Per `n log2 n` of a real-to-complex 2D FFT round trip with a spectral multiply (f64).
    pub(crate) fft: f64,
    /// Per sample streamed through memory once (read or write, f64).
    pub(crate) stream: f64,
    /// Measured over modelled time of an overlap-save probe: the block model counts transform
    /// work and streams, not the gathering of each block's window, which this factor absorbs.
    pub(crate) block_scale: f64,
    /// The same for a whole-image FFT probe (padding, copies in and out).
    pub(crate) fft_scale: f64,
}

static CALIBRATION: OnceLock<Calibration> = OnceLock::new();

/// `Method::Auto` takes a transform method (FFT or overlap-save) only if its estimate is below
/// this fraction of the direct method's. Near a tie the models cannot tell: the probes are short
/// and this machine's timings move by tens of percent between processes, and the block model
/// was measured 2x optimistic for 9 x 9 kernels (`convsim bench --methods`). With a plain
/// minimum, dense9 and sep31 took overlap-save in about one process of three, at 2-3x the time
/// of direct (the "slow mode" of earlier benchmark notes). Direct also rounds less.
pub(crate) const TRANSFORM_MARGIN: f64 = 0.7;

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

/// Best of five applications of a `method` plan for `kernel` (Mirror boundaries) to `x`.
fn time_apply(
    kernel: impl Into<Kernel<f64>>,
    method: Method,
    x: &Array2<f64>,
    out: &mut Array2<f64>,
) -> f64 {
    let mut plan = ConvPlan::builder([x.nrows(), x.ncols()], kernel)
        .boundaries(Boundaries::uniform(Boundary::Mirror))
        .method(method)
        .build()
        .expect("calibration plan");
    best_of(5, || plan.apply(x.view(), out.view_mut()))
}

/// The calibration, measured on first use.
pub(crate) fn calibration() -> Calibration {
    *CALIBRATION.get_or_init(|| {
        let (h, w) = (96, 1024);
        let x = Array2::from_shape_fn((h, w), |(i, j)| ((i * 31 + j * 17) % 13) as f64 - 6.0);
        let mut out = Array2::<f64>::zeros((h, w));
        let taps = Array2::from_shape_fn((7, 7), |(i, j)| 1.0 + (i * 7 + j) as f64 * 0.01);
        let td = time_apply(
            Kernel2::new(taps).expect("7x7"),
            Method::Direct,
            &x,
            &mut out,
        );
        let tap = td / (h * w * 49) as f64;
        let g: Vec<f64> = (0..15).map(|i| 1.0 + f64::from(i) * 0.01).collect();
        let sep = crate::SeparableKernel::new(g.clone(), g).expect("15-tap factors");
        let ts = time_apply(sep, Method::Direct, &x, &mut out);
        let sep_tap = ts / (h * w * 30) as f64;
        let one = Array2::from_elem((1, 1), 1.0);
        let tc = time_apply(
            Kernel2::new(one).expect("1x1"),
            Method::Direct,
            &x,
            &mut out,
        );
        let stream = (tc / (2 * h * w) as f64).max(1e-12);
        let n = 256;
        let mut spec = SpectralPlan::<f64>::new([n, n], [1.0, 1.0], crate::identity_transfer)
            .expect("calibration plan");
        let mut u = Array2::from_shape_fn((n, n), |(i, j)| ((i + 3 * j) % 7) as f64);
        let tf = best_of(3, || spec.apply_inplace(u.view_mut()));
        let nn = (n * n) as f64;
        let fft = tf / (nn * nn.log2());
        let mut c = Calibration {
            tap,
            sep_tap,
            fft,
            stream,
            block_scale: 1.0,
            fft_scale: 1.0,
        };
        // Overlap-save probe: 31 x 31 taps on 768 x 768 (several blocks per thread, Mirror
        // windows), measured against the model with `block_scale = 1`.
        let (pn, pk) = (768, 31);
        let xp = Array2::from_shape_fn((pn, pn), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let mut op = Array2::<f64>::zeros((pn, pn));
        let kp = Array2::from_shape_fn((pk, pk), |(i, j)| 1.0 + (i + 2 * j) as f64 * 0.01);
        let kp = Kernel2::new(kp).expect("31x31");
        let t_block = time_apply(kp.clone(), Method::OverlapSave, &xp, &mut op);
        let t_fft = time_apply(kp, Method::Fft, &xp, &mut op);
        let g = AxisGeometry::new(Padding::Same);
        let r = resolve_axis(pn, pk, pk / 2, &g, "y").expect("probe axis");
        let bounds = Boundaries::uniform(Boundary::Mirror);
        let shape = crate::fft::planned_shape::<f64>(&r, &r, &bounds);
        let inputs = pn * pn;
        // Clamped so that one noisy probe cannot push Auto far off.
        c.block_scale = (t_block / overlap_save_cost_with::<f64>(&c, &r, &r).0).clamp(0.5, 4.0);
        c.fft_scale = (t_fft / fft_cost_with::<f64>(&c, shape, inputs, inputs)).clamp(0.5, 4.0);
        c
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
/// (at the separable path's unit cost when `separable`) plus streaming the input and output once.
pub(crate) fn direct_cost<T: Element>(
    outputs: usize,
    inputs: usize,
    taps_per_output: f64,
    separable: bool,
) -> f64 {
    let c = calibration();
    let f = element_factor::<T>();
    let tap = if separable { c.sep_tap } else { c.tap };
    outputs as f64 * taps_per_output * tap * f + (inputs + outputs) as f64 * c.stream * f
}

/// Estimated seconds of the block method (`OverlapSave`) for the blocks it would choose, and
/// that choice `(fy, fx)`: [`crate::overlap_save::block_work`] (blocks x weighted `n log2 n` per block,
/// rounded up to whole rounds over the threads, cache penalty) in units of the calibrated FFT
/// cost, plus streaming the input and output once.
pub(crate) fn overlap_save_cost<T: Element>(
    ry: &crate::ResolvedAxis,
    rx: &crate::ResolvedAxis,
) -> (f64, [usize; 2]) {
    let c = calibration();
    let (t, blocks) = overlap_save_cost_with::<T>(&c, ry, rx);
    (t * c.block_scale, blocks)
}

/// [`overlap_save_cost`] for given unit costs, without the probe's scale.
fn overlap_save_cost_with<T: Element>(
    c: &Calibration,
    ry: &crate::ResolvedAxis,
    rx: &crate::ResolvedAxis,
) -> (f64, [usize; 2]) {
    let threads = rayon::current_num_threads().max(1);
    let (by, bx) = crate::overlap_save::choose_blocks::<T>(ry, rx, None);
    let cx = if T::IS_COMPLEX { bx.f } else { bx.f / 2 + 1 };
    let work = crate::overlap_save::block_work(
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
    fft_cost_with::<T>(&c, shape, inputs, outputs) * c.fft_scale
}

/// [`fft_cost`] for given unit costs, without the probe's scale.
fn fft_cost_with<T: Element>(
    c: &Calibration,
    shape: [usize; 2],
    inputs: usize,
    outputs: usize,
) -> f64 {
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
