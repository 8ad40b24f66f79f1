//! Results do not depend on the number of threads: the same plan applied in 1-, 2- and 3-thread
//! pools, and plans built in each pool (which split the work into different numbers of tasks),
//! give bit-identical outputs. Also the FFT path, `SpectralPlan` and `ChannelConvPlan` (forward
//! and both backward passes).

use convsim_core::testing::{Random, random_array, rng};
use convsim_core::{
    Boundaries, Boundary, ChannelConvPlan, Complex32, Complex64, ConvPlan, Geometry, Kernel,
    Kernel2, Method, Orientation, SeparableKernel, SpectralPlan,
};
use ndarray::{Array2, Array4};

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

#[test]
fn fft_is_bit_identical_across_thread_counts() {
    let mut r = rng(43);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 17, 15)).unwrap().into();
    check(
        [90, 77],
        k.clone(),
        Boundaries::uniform(Boundary::Mirror),
        Geometry::same(),
        Method::Fft,
    );
    check(
        [90, 77],
        k,
        Boundaries::uniform(Boundary::Periodic),
        Geometry::same(),
        Method::Fft,
    );
    let kc: Kernel<Complex32> = Kernel2::new(random_array(&mut r, 9, 9)).unwrap().into();
    check(
        [40, 45],
        kc,
        Boundaries::default(),
        Geometry::same(),
        Method::Fft,
    );
}

#[test]
fn spectral_is_bit_identical_across_thread_counts() {
    let mut r = rng(44);
    let x: Array2<f64> = random_array(&mut r, 64, 50);
    let outs: Vec<Array2<f64>> = [1, 2, 3]
        .into_iter()
        .map(|n| {
            pool(n).install(|| {
                let mut plan = SpectralPlan::<f64>::new([64, 50], [0.1, 0.2], |ky, kx| {
                    Complex64::new((-0.01 * (ky * ky + kx * kx)).exp(), 0.0)
                })
                .unwrap();
                let mut out = Array2::zeros((64, 50));
                plan.apply(x.view(), out.view_mut());
                out
            })
        })
        .collect();
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
}

#[test]
fn channels_are_bit_identical_across_thread_counts() {
    let mut r = rng(45);
    let x = Array4::from_shape_simple_fn((5, 4, 11, 9), || f64::random(&mut r));
    let w = Array4::from_shape_simple_fn((6, 2, 3, 3), || f64::random(&mut r));
    let y = Array4::from_shape_simple_fn((5, 6, 6, 5), || f64::random(&mut r));
    let results: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|n| {
            pool(n).install(|| {
                let mut plan = ChannelConvPlan::<f64>::builder([5, 4, 11, 9], 6, [3, 3])
                    .groups(2)
                    .boundaries(Boundaries::uniform(Boundary::Symmetric))
                    .geometry(Geometry::same().with_stride(2, 2))
                    .build()
                    .unwrap();
                let mut out = Array4::zeros(plan.output_shape());
                plan.forward(x.view(), w.view(), None, out.view_mut());
                let mut gin = Array4::zeros(plan.input_shape());
                plan.backward_input(y.view(), w.view(), gin.view_mut());
                let mut gw = Array4::zeros(plan.weight_shape());
                plan.backward_weights(x.view(), y.view(), gw.view_mut(), None);
                (out, gin, gw)
            })
        })
        .collect();
    for res in &results[1..] {
        assert_eq!(res.0, results[0].0, "forward");
        assert_eq!(res.1, results[0].1, "backward_input");
        assert_eq!(res.2, results[0].2, "backward_weights");
    }
}
