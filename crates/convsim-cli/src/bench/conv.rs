//! The `conv` workloads of `convsim bench`, exactly as `shared/bench/WORKLOADS.md` defines them
//! (kernels as in `peers.py`): one application of a `Method::Auto` plan, Same output, into a
//! preallocated buffer; plan, input and output are built outside the timed region.
//!
//! With `convsim bench --methods`, each workload also runs with every method forced, which is
//! how the claim "Auto is never more than 1.3x slower than the best method" is checked.

use convsim_core::{
    Boundaries, Boundary, ConvPlan, Element, Kernel, Kernel2, Method, Orientation, Recipe,
    SeparableKernel, memory,
};
use ndarray::Array2;

use super::{Workload, normal_samples};

/// A seeded normal `rows x cols` array in element type `T`, in huge pages where the system has
/// them (as numpy gives the peers' arrays; see `convsim_core::memory`).
fn normal<T: Element>(rows: usize, cols: usize, seed: u64) -> Array2<T> {
    let mut a = memory::zeros::<T>((rows, cols));
    for (x, v) in a.iter_mut().zip(normal_samples(rows * cols, seed)) {
        *x = T::from_f64(v);
    }
    a
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

/// Builds the plan and buffers (untimed) and returns the timed closure with the plan's recipe.
fn one_apply<T: Element>(
    n: usize,
    kernel: Kernel<T>,
    boundary: Boundary,
    orientation: Orientation,
    method: Method,
) -> Setup {
    let input = normal::<T>(n, n, 1);
    let mut plan = ConvPlan::builder([n, n], kernel)
        .boundaries(Boundaries::uniform(boundary))
        .orientation(orientation)
        .method(method)
        .build()
        .expect("benchmark plans are valid");
    let recipe = plan.recipe().clone();
    let mut out = memory::zeros::<T>(plan.output_shape());
    (
        Box::new(move || plan.apply(input.view(), out.view_mut())),
        recipe,
    )
}

fn lap3<T: Element>(m: Method) -> Setup {
    let k = Kernel2::new(
        ndarray::array![[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]].mapv(T::from_f64),
    )
    .expect("3x3 kernel");
    one_apply(4096, k.into(), Boundary::Mirror, Orientation::Convolve, m)
}

fn dense<T: Element>(n: usize, k: usize, b: Boundary, m: Method) -> Setup {
    let kernel = Kernel2::new(normal::<T>(k, k, 2)).expect("non-empty kernel");
    one_apply(n, kernel.into(), b, Orientation::Convolve, m)
}

fn sep31<T: Element>(m: Method) -> Setup {
    let g = gauss1d::<T>(31, 5.0);
    let k = SeparableKernel::new(g.clone(), g).expect("non-empty factors");
    one_apply(4096, k.into(), Boundary::Mirror, Orientation::Correlate, m)
}

/// A conv workload with its method chosen by the caller.
type Setup = (Box<dyn FnMut()>, Recipe);

/// A conv workload's id and its setup for a given method.
type WithMethod = (&'static str, fn(Method) -> Setup);

/// The conv workloads with a method argument, for `convsim bench --methods`.
pub(super) fn with_method() -> Vec<WithMethod> {
    vec![
        ("conv-lap3-4096-f64", lap3::<f64>),
        ("conv-lap3-4096-f32", lap3::<f32>),
        ("conv-dense9-2048-f64", |m| {
            dense::<f64>(2048, 9, Boundary::Mirror, m)
        }),
        ("conv-dense9-2048-f32", |m| {
            dense::<f32>(2048, 9, Boundary::Mirror, m)
        }),
        ("conv-dense63-2048-f64", |m| {
            dense::<f64>(2048, 63, Boundary::Zero, m)
        }),
        ("conv-dense63-2048-f32", |m| {
            dense::<f32>(2048, 63, Boundary::Zero, m)
        }),
        ("conv-sep31-4096-f64", sep31::<f64>),
        ("conv-sep31-4096-f32", sep31::<f32>),
    ]
}

pub(super) fn workloads() -> Vec<Workload> {
    with_method()
        .into_iter()
        .map(|(id, setup)| Workload {
            id,
            setup: Box::new(move || setup(Method::Auto).0),
        })
        .collect()
}
