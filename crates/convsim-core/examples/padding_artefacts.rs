//! Zero padding invents an edge.
//!
//! A bright, uniform 32x32 image (value 1) carries a small, faint feature: a 4x4 square of value
//! 1.2 in the middle. An edge detector (Sobel gradient magnitude) should respond to the square and
//! nowhere else. With `Zero` padding the image appears to drop from 1 to 0 at its border, and the
//! detector's response along the border is five times the feature's. `Replicate`, `Mirror` and
//! `Symmetric` continue the image smoothly and the border response is exactly zero.
//!
//! Run: `cargo run -p convsim-core --example padding_artefacts`

use convsim_core::{Boundaries, Boundary, ConvPlan, Kernel2};
use ndarray::{Array2, array};

const N: usize = 32;

/// Border band: outputs within the kernel radius (1) of the image edge.
fn on_border(i: usize, j: usize) -> bool {
    i == 0 || j == 0 || i == N - 1 || j == N - 1
}

/// One boundary mode's measurements.
pub(crate) struct Row {
    pub(crate) mode: Boundary,
    /// Max gradient magnitude in the one-pixel border band.
    pub(crate) border: f64,
    /// Max gradient magnitude away from the border (the feature's edges).
    pub(crate) interior: f64,
}

pub(crate) fn compute() -> Vec<Row> {
    let mut image = Array2::<f64>::ones((N, N));
    image.slice_mut(ndarray::s![14..18, 14..18]).fill(1.2);
    let sobel_x = array![[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]];
    let sobel_y = sobel_x.t().to_owned();
    let modes = [
        Boundary::Zero,
        Boundary::Constant(1.0),
        Boundary::Replicate,
        Boundary::Mirror,
        Boundary::Symmetric,
        Boundary::Periodic,
        Boundary::Antisymmetric,
    ];
    modes
        .iter()
        .map(|&mode| {
            let grad = |taps: &Array2<f64>| {
                let mut plan = ConvPlan::builder([N, N], Kernel2::new(taps.clone()).unwrap())
                    .boundaries(Boundaries::uniform(mode))
                    .build()
                    .unwrap();
                let mut out = Array2::zeros(plan.output_shape());
                plan.apply(image.view(), out.view_mut());
                out
            };
            let (gx, gy) = (grad(&sobel_x), grad(&sobel_y));
            let (mut border, mut interior) = (0.0_f64, 0.0_f64);
            for ((i, j), x) in gx.indexed_iter() {
                let m = x.hypot(gy[[i, j]]);
                if on_border(i, j) {
                    border = border.max(m);
                } else {
                    interior = interior.max(m);
                }
            }
            Row {
                mode,
                border,
                interior,
            }
        })
        .collect()
}

pub(crate) fn check(rows: &[Row]) {
    // The square's edge: a step of 0.2 under Sobel weights (1, 2, 1) gives 4 * 0.2 = 0.8 along a
    // side, more at its corners where both derivatives respond: 0.6 * sqrt(2) = 0.85.
    let feature = 0.6 * 2.0_f64.sqrt();
    for r in rows {
        assert!(
            (r.interior - feature).abs() < 1e-12,
            "{:?}: feature response {}",
            r.mode,
            r.interior
        );
        match r.mode {
            // The image seems to fall from 1 to 0: a step of 1, response 4 along the sides and
            // 3 sqrt(2) = 4.24 at the corners, five times the feature.
            Boundary::Zero => assert!(
                (r.border - 3.0 * 2.0_f64.sqrt()).abs() < 1e-12 && r.border > 4.0 * r.interior
            ),
            // The odd mirror of 1 is -1: a step of 2 across the edge sample, response
            // 2 * (1 + 2 + 1) = 8, an even stronger false edge (it is a Dirichlet wall).
            Boundary::Antisymmetric => assert!((r.border - 8.0).abs() < 1e-12),
            // Every other mode continues a uniform image by the same value: no edge at all.
            _ => assert_eq!(r.border, 0.0, "{:?}", r.mode),
        }
    }
}

fn main() {
    let rows = compute();
    println!("Sobel gradient magnitude on a uniform image (1.0) with a faint 4x4 square (1.2):\n");
    println!(
        "{:<16} {:>16} {:>18} {:>8}",
        "boundary", "border response", "feature response", "ratio"
    );
    for r in &rows {
        println!(
            "{:<16} {:>16.4} {:>18.4} {:>8.2}",
            format!("{:?}", r.mode),
            r.border,
            r.interior,
            r.border / r.interior
        );
    }
    check(&rows);
    println!(
        "\nok: Zero padding draws a false edge 5x stronger than the real feature along the whole border;"
    );
    println!("Replicate / Mirror / Symmetric (and Periodic, Constant(1)) leave the border silent.");
}
