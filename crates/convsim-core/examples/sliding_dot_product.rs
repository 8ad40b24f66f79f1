//! A convolution layer is a sliding dot product: every output sample is the dot product of the
//! kernel with the patch of the image under it.
//!
//! A 5x5 image of small integers and a 3x3 kernel (Sobel, x derivative) give a 3x3 `Valid` output;
//! each sample is printed as the explicit sum of products and checked against `ConvPlan`.
//!
//! Run: `cargo run -p convsim-core --example sliding_dot_product`

use convsim_core::{ConvPlan, Geometry, Kernel2, Orientation, Padding};
use ndarray::{Array2, array, s};

/// One output sample: its position, the products that make it and the plan's value.
pub(crate) struct Sample {
    pub(crate) pos: (usize, usize),
    pub(crate) terms: Vec<(f64, f64)>,
    pub(crate) dot: f64,
    pub(crate) plan: f64,
}

/// Computes every `Valid` output both ways.
pub(crate) fn compute() -> (Array2<f64>, Array2<f64>, Vec<Sample>) {
    // Small integers, irregular enough that every output differs.
    let image = Array2::from_shape_fn((5, 5), |(i, j)| ((7 * i + 3 * j * j + i * j) % 10) as f64);
    let kernel = array![[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]];
    // Correlate: the kernel is slid as written, with no flip (what CNN libraries call
    // convolution). Valid: only positions where the kernel lies inside the image.
    let mut plan = ConvPlan::builder([5, 5], Kernel2::new(kernel.clone()).unwrap())
        .orientation(Orientation::Correlate)
        .geometry(Geometry::uniform(Padding::Valid))
        .build()
        .unwrap();
    let mut out = Array2::zeros(plan.output_shape());
    plan.apply(image.view(), out.view_mut());
    let mut samples = Vec::new();
    for ((i, j), &v) in out.indexed_iter() {
        // Output (i, j) sees the patch whose top-left corner is (i, j).
        let patch = image.slice(s![i..i + 3, j..j + 3]);
        let terms: Vec<(f64, f64)> = kernel.iter().copied().zip(patch.iter().copied()).collect();
        let dot = terms.iter().map(|(w, x)| w * x).sum();
        samples.push(Sample {
            pos: (i, j),
            terms,
            dot,
            plan: v,
        });
    }
    (image, kernel, samples)
}

/// The claim: every plan output equals the explicit dot product (integers: exactly).
pub(crate) fn check(samples: &[Sample]) {
    assert_eq!(
        samples.len(),
        9,
        "a 3x3 kernel on a 5x5 image has 3x3 valid positions"
    );
    for s in samples {
        assert_eq!(s.dot, s.plan, "output {:?}", s.pos);
    }
    // Hand-computed from the printed image: the first and last outputs.
    assert_eq!(samples[0].plan, -14.0); // -0 + 2 - 14 + 2 - 4 + 0
    assert_eq!(samples[8].plan, -22.0); // -0 + 0 - 18 + 2 - 8 + 2
}

fn main() {
    let (image, kernel, samples) = compute();
    println!("image (5x5):\n{image}\n\nkernel (3x3, Sobel d/dx):\n{kernel}\n");
    println!("Each Valid output = sum of kernel * patch (correlation, no flip):");
    for s in &samples {
        let expr: Vec<String> = s.terms.iter().map(|(w, x)| format!("{w}*{x}")).collect();
        println!(
            "y[{},{}] = {} = {}   (plan: {})",
            s.pos.0,
            s.pos.1,
            expr.join(" + "),
            s.dot,
            s.plan
        );
    }
    check(&samples);
    println!("\nok: all 9 outputs equal their explicit dot products.");
}
