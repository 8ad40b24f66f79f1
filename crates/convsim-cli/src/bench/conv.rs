//! The `conv` workloads of `convsim bench`, exactly as `shared/bench/WORKLOADS.md` defines them
//! (kernels as in `peers.py`): one application of a `Method::Auto` plan, Same output, into a
//! preallocated buffer; plan, input and output are built outside the timed region.

use convsim_core::{
    Boundaries, Boundary, ConvPlan, Element, Kernel, Kernel2, Method, Orientation, SeparableKernel,
};
use ndarray::Array2;

use super::{Workload, normal_samples};

/// A seeded normal `rows x cols` array in element type `T`.
fn normal<T: Element>(rows: usize, cols: usize, seed: u64) -> Array2<T> {
    let v: Vec<T> = normal_samples(rows * cols, seed)
        .into_iter()
        .map(T::from_f64)
        .collect();
    Array2::from_shape_vec((rows, cols), v).expect("length rows * cols")
}

/// The normalised Gaussian of `peers.py`: `exp(-x^2 / (2 s^2))`, `x = -n/2 .. n/2`, sum 1.
fn gauss1d<T: Element>(n: usize, s: f64) -> Vec<T> {
    let g: Vec<f64> = (0..n)
        .map(|i| {
            let x = i as f64 - (n / 2) as f64;
            (-x * x / (2.0 * s * s)).exp()
        })
        .collect();
    let sum: f64 = g.iter().sum();
    g.into_iter().map(|v| T::from_f64(v / sum)).collect()
}

/// Builds the plan and buffers (untimed) and returns the timed closure.
fn one_apply<T: Element>(
    n: usize,
    kernel: Kernel<T>,
    boundary: Boundary,
    orientation: Orientation,
) -> Box<dyn FnMut()> {
    let input = normal::<T>(n, n, 1);
    let mut plan = ConvPlan::builder([n, n], kernel)
        .boundaries(Boundaries::uniform(boundary))
        .orientation(orientation)
        .method(Method::Auto)
        .build()
        .expect("benchmark plans are valid");
    let mut out = Array2::<T>::zeros(plan.output_shape());
    Box::new(move || plan.apply(input.view(), out.view_mut()))
}

fn lap3<T: Element>() -> Box<dyn FnMut()> {
    let k = Kernel2::new(
        ndarray::array![[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]].mapv(T::from_f64),
    )
    .expect("3x3 kernel");
    one_apply(4096, k.into(), Boundary::Mirror, Orientation::Convolve)
}

fn dense<T: Element>(n: usize, k: usize, b: Boundary) -> Box<dyn FnMut()> {
    let kernel = Kernel2::new(normal::<T>(k, k, 2)).expect("non-empty kernel");
    one_apply(n, kernel.into(), b, Orientation::Convolve)
}

fn sep31<T: Element>() -> Box<dyn FnMut()> {
    let g = gauss1d::<T>(31, 5.0);
    let k = SeparableKernel::new(g.clone(), g).expect("non-empty factors");
    one_apply(4096, k.into(), Boundary::Mirror, Orientation::Correlate)
}

pub(super) fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            id: "conv-lap3-4096-f64",
            setup: lap3::<f64>,
        },
        Workload {
            id: "conv-lap3-4096-f32",
            setup: lap3::<f32>,
        },
        Workload {
            id: "conv-dense9-2048-f64",
            setup: || dense::<f64>(2048, 9, Boundary::Mirror),
        },
        Workload {
            id: "conv-dense9-2048-f32",
            setup: || dense::<f32>(2048, 9, Boundary::Mirror),
        },
        Workload {
            id: "conv-dense63-2048-f64",
            setup: || dense::<f64>(2048, 63, Boundary::Zero),
        },
        Workload {
            id: "conv-dense63-2048-f32",
            setup: || dense::<f32>(2048, 63, Boundary::Zero),
        },
        Workload {
            id: "conv-sep31-4096-f64",
            setup: sep31::<f64>,
        },
        Workload {
            id: "conv-sep31-4096-f32",
            setup: sep31::<f32>,
        },
    ]
}
