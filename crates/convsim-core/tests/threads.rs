//! Results do not depend on the number of threads: the same plan applied in 1-, 2- and 3-thread
//! pools, and plans built in each pool (which split the work into different numbers of tasks),
//! give bit-identical outputs.

mod common;

use common::{Random, random_array, rng};
use convsim_core::{
    Boundaries, Boundary, Complex32, ConvPlan, Geometry, Kernel, Kernel2, Method, Orientation,
    SeparableKernel,
};
use ndarray::Array2;

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
}

fn check<T: Random>(
    shape: [usize; 2],
    kernel: Kernel<T>,
    b: Boundaries,
    g: Geometry,
    method: Method,
) {
    let mut r = rng(41);
    let input: Array2<T> = random_array(&mut r, shape[0], shape[1]);
    let build = || {
        ConvPlan::builder(shape, kernel.clone())
            .boundaries(b)
            .orientation(Orientation::Convolve)
            .geometry(g)
            .method(method)
            .build()
            .unwrap()
    };
    let pools: Vec<_> = [1, 2, 3].into_iter().map(pool).collect();
    // One plan (built in the 3-thread pool, so it has the most tasks), applied in every pool.
    let mut plan = pools[2].install(build);
    let mut outs = Vec::new();
    for p in &pools {
        let mut out = Array2::zeros(plan.output_shape());
        p.install(|| plan.apply(input.view(), out.view_mut()));
        outs.push(out);
    }
    // A plan built in each pool, applied there.
    for p in &pools {
        let mut plan = p.install(build);
        let mut out = Array2::zeros(plan.output_shape());
        p.install(|| plan.apply(input.view(), out.view_mut()));
        outs.push(out);
    }
    for (i, o) in outs.iter().enumerate() {
        assert!(
            o.iter().zip(&outs[0]).all(|(a, b)| a == b),
            "{} {method:?}: output {i} differs from the 1-thread result",
            T::NAME
        );
    }
}

#[test]
fn direct_is_bit_identical_across_thread_counts() {
    let mut r = rng(42);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 5, 4)).unwrap().into();
    let b = Boundaries::uniform(Boundary::Mirror);
    check([97, 83], k.clone(), b, Geometry::same(), Method::Direct);
    check(
        [97, 83],
        k.clone(),
        b,
        Geometry::same().with_stride(2, 3).with_dilation(2, 2),
        Method::Direct,
    );
    check([97, 83], k, b, Geometry::same(), Method::Auto);
    let sep: Kernel<f64> =
        SeparableKernel::new(vec![1.0, 4.0, 6.0, 4.0, 1.0], vec![0.5, -1.0, 0.5])
            .unwrap()
            .into();
    check(
        [64, 71],
        sep,
        Boundaries::uniform(Boundary::Symmetric),
        Geometry::same(),
        Method::Direct,
    );
    let kc: Kernel<Complex32> = Kernel2::new(random_array(&mut r, 3, 3)).unwrap().into();
    check(
        [50, 37],
        kc,
        Boundaries::uniform(Boundary::Periodic),
        Geometry::same(),
        Method::Direct,
    );
    let kf: Kernel<f32> = Kernel2::new(random_array(&mut r, 9, 9)).unwrap().into();
    check(
        [61, 64],
        kf,
        Boundaries::uniform(Boundary::Antisymmetric),
        Geometry::same(),
        Method::Direct,
    );
}
