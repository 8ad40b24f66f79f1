//! Convolution flips the kernel, cross-correlation does not.
//!
//! Applied to a single bright pixel (an impulse), convolution reproduces the kernel (its impulse
//! response) while correlation reproduces the kernel rotated by 180 degrees. For an asymmetric
//! kernel the two differ; for a symmetric one (a Laplacian, a Gaussian) they are identical, which
//! is why the distinction is invisible in most stencil code and matters for learned kernels.
//!
//! Run: `cargo run -p convsim-core --example flip`

use convsim_core::{Boundaries, Boundary, ConvPlan, Kernel2, Orientation};
use ndarray::{Array2, array, s};

fn run(image: &Array2<f64>, kernel: &Array2<f64>, o: Orientation) -> Array2<f64> {
    let mut plan = ConvPlan::builder(
        [image.nrows(), image.ncols()],
        Kernel2::new(kernel.clone()).unwrap(),
    )
    .boundaries(Boundaries::uniform(Boundary::Zero))
    .orientation(o)
    .build()
    .unwrap();
    let mut out = Array2::zeros(plan.output_shape());
    plan.apply(image.view(), out.view_mut());
    out
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// What the example measures.
pub(crate) struct Report {
    pub(crate) asym: Array2<f64>,
    pub(crate) corr: Array2<f64>,
    pub(crate) conv: Array2<f64>,
    /// Max |conv - corr| for the asymmetric kernel.
    pub(crate) asym_diff: f64,
    /// Max |conv - corr| for the symmetric kernel.
    pub(crate) sym_diff: f64,
    /// Max |corr(x, w) - conv(x, rot180(w))|: correlation is convolution with the rotated kernel.
    pub(crate) rot_diff: f64,
}

pub(crate) fn compute() -> Report {
    // A 5x5 image with one bright pixel in the middle.
    let mut impulse = Array2::<f64>::zeros((5, 5));
    impulse[[2, 2]] = 1.0;
    let asym = array![[1.0, 2.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 4.0]];
    let sym = array![[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]];
    let corr = run(&impulse, &asym, Orientation::Correlate);
    let conv = run(&impulse, &asym, Orientation::Convolve);
    // A random-looking image for the symmetric case, so the equality is not trivial.
    let image = Array2::from_shape_fn((6, 7), |(i, j)| ((3 * i + 5 * j) % 7) as f64 - 3.0);
    let sym_diff = max_abs_diff(
        &run(&image, &sym, Orientation::Correlate),
        &run(&image, &sym, Orientation::Convolve),
    );
    let rot = asym.slice(s![..;-1, ..;-1]).to_owned();
    let rot_diff = max_abs_diff(
        &run(&image, &asym, Orientation::Correlate),
        &run(&image, &rot, Orientation::Convolve),
    );
    Report {
        asym_diff: max_abs_diff(&corr, &conv),
        asym,
        corr,
        conv,
        sym_diff,
        rot_diff,
    }
}

pub(crate) fn check(r: &Report) {
    // Convolving an impulse gives the kernel itself, centred on the impulse.
    assert_eq!(r.conv.slice(s![1..4, 1..4]), r.asym);
    // Correlating gives the kernel rotated by 180 degrees.
    assert_eq!(r.corr.slice(s![1..4, 1..4]), r.asym.slice(s![..;-1, ..;-1]));
    assert_eq!(
        r.asym_diff, 3.0,
        "the corner taps 1 and 4 trade places: |4 - 1| = 3"
    );
    assert_eq!(
        r.sym_diff, 0.0,
        "a symmetric kernel cannot tell the two apart"
    );
    assert_eq!(r.rot_diff, 0.0);
}

fn main() {
    let r = compute();
    println!("asymmetric kernel w:\n{}\n", r.asym);
    println!(
        "convolve(impulse, w)  (kernel flipped while sliding -> the impulse response is w):\n{}\n",
        r.conv
    );
    println!(
        "correlate(impulse, w) (no flip -> w rotated by 180 degrees):\n{}\n",
        r.corr
    );
    println!(
        "max |convolve - correlate|, asymmetric kernel: {}",
        r.asym_diff
    );
    println!(
        "max |convolve - correlate|, symmetric Laplacian on a 6x7 image: {}",
        r.sym_diff
    );
    println!(
        "max |correlate(x, w) - convolve(x, rot180(w))|: {}",
        r.rot_diff
    );
    check(&r);
    println!(
        "\nok: they differ (by 3) for the asymmetric kernel and agree exactly for the symmetric one."
    );
}
