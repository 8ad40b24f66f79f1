//! Output geometry: how many samples a convolution produces, for a table of input sizes, kernel
//! sizes, strides, dilations and paddings.
//!
//! convsim has one formula (`output_len`):
//!
//! ```text
//! k_eff = (k - 1) * dilation + 1
//! out   = floor((n + lo + hi - k_eff) / stride) + 1
//! Full: lo = hi = k_eff - 1     Same: lo + hi = k_eff - 1 (split at the anchor)     Valid: lo = hi = 0
//! ```
//!
//! PyTorch writes the same thing for symmetric padding `p`:
//! `floor((n + 2p - dilation * (k - 1) - 1) / stride) + 1`. Each row is checked against both
//! formulas and against the shape of an actual plan.
//!
//! Run: `cargo run -p convsim-core --example output_shape`

use convsim_core::{AxisGeometry, ConvPlan, Geometry, Kernel2, Padding, output_len};
use ndarray::Array2;

/// One row of the table.
pub(crate) struct Row {
    pub(crate) n: usize,
    pub(crate) k: usize,
    pub(crate) stride: usize,
    pub(crate) dilation: usize,
    pub(crate) padding: Padding,
    /// `output_len`.
    pub(crate) out: usize,
    /// The closed formula above.
    pub(crate) formula: usize,
    /// PyTorch's formula, where the padding is symmetric.
    pub(crate) torch: Option<usize>,
    /// Rows of the output of a real plan on an `n x n` image.
    pub(crate) plan: usize,
}

fn label(p: Padding) -> String {
    match p {
        Padding::Full => "Full".into(),
        Padding::Same => "Same".into(),
        Padding::Valid => "Valid".into(),
        Padding::Explicit { lo, hi } => format!("Explicit({lo},{hi})"),
    }
}

pub(crate) fn compute() -> Vec<Row> {
    let ns = [1, 5, 7, 8, 28, 32];
    let ks = [1, 2, 3, 5];
    let strides = [1, 2, 3];
    let dilations = [1, 2];
    let paddings = [
        Padding::Full,
        Padding::Same,
        Padding::Valid,
        Padding::Explicit { lo: 1, hi: 1 },
        Padding::Explicit { lo: 2, hi: 0 },
    ];
    let mut rows = Vec::new();
    for &n in &ns {
        for &k in &ks {
            for &stride in &strides {
                for &dilation in &dilations {
                    for &padding in &paddings {
                        let g = AxisGeometry::new(padding).stride(stride).dilation(dilation);
                        let anchor = k / 2;
                        let Ok(out) = output_len(n, k, anchor, &g) else {
                            continue; // Valid with a kernel wider than the input: no output.
                        };
                        let k_eff = (k - 1) * dilation + 1;
                        let (lo, hi) = match padding {
                            Padding::Full => (k_eff - 1, k_eff - 1),
                            Padding::Same => (anchor * dilation, (k - 1 - anchor) * dilation),
                            Padding::Valid => (0, 0),
                            Padding::Explicit { lo, hi } => (lo, hi),
                        };
                        let formula = (n + lo + hi - k_eff) / stride + 1;
                        let torch = (lo == hi).then(|| {
                            let p = lo;
                            (n + 2 * p - dilation * (k - 1) - 1) / stride + 1
                        });
                        let plan = ConvPlan::builder(
                            [n, n],
                            Kernel2::new(Array2::<f64>::ones((k, k))).unwrap(),
                        )
                        .geometry(Geometry { y: g, x: g })
                        .build()
                        .unwrap()
                        .output_shape()
                        .0;
                        rows.push(Row {
                            n,
                            k,
                            stride,
                            dilation,
                            padding,
                            out,
                            formula,
                            torch,
                            plan,
                        });
                    }
                }
            }
        }
    }
    rows
}

pub(crate) fn check(rows: &[Row]) {
    assert!(rows.len() > 500, "{} rows", rows.len());
    for r in rows {
        let what = format!(
            "n {} k {} s {} d {} {}",
            r.n,
            r.k,
            r.stride,
            r.dilation,
            label(r.padding)
        );
        assert_eq!(r.out, r.formula, "{what}");
        assert_eq!(r.out, r.plan, "{what}");
        if let Some(t) = r.torch {
            assert_eq!(r.out, t, "{what}: PyTorch formula");
        }
        // Same keeps ceil(n / stride) samples, whatever the kernel and dilation.
        if r.padding == Padding::Same {
            assert_eq!(r.out, r.n.div_ceil(r.stride), "{what}");
        }
    }
    // The classic examples: a 28-pixel MNIST row, 5-tap kernel, Valid -> 24; 32 pixels, 3x3 with
    // padding 1 and stride 2 (a ResNet downsampling) -> 16.
    let find = |n, k, s, d, p| {
        rows.iter()
            .find(|r| (r.n, r.k, r.stride, r.dilation, r.padding) == (n, k, s, d, p))
            .unwrap()
            .out
    };
    assert_eq!(find(28, 5, 1, 1, Padding::Valid), 24);
    assert_eq!(find(32, 3, 2, 1, Padding::Explicit { lo: 1, hi: 1 }), 16);
    assert_eq!(find(7, 3, 1, 2, Padding::Full), 11);
}

fn main() {
    let rows = compute();
    println!(
        "{:>4} {:>3} {:>6} {:>8} {:>15} | {:>6} {:>7} {:>7} {:>5}",
        "n", "k", "stride", "dilation", "padding", "output", "formula", "pytorch", "plan"
    );
    for r in &rows {
        // Print a readable subset; all rows are checked.
        let common = [7, 32].contains(&r.n) && r.k == 3 && r.dilation == 1;
        let dilated = r.n == 28 && r.k == 5 && r.dilation == 2 && r.stride == 1;
        if common || dilated {
            let torch = r.torch.map_or("-".to_string(), |t| t.to_string());
            println!(
                "{:>4} {:>3} {:>6} {:>8} {:>15} | {:>6} {:>7} {:>7} {:>5}",
                r.n,
                r.k,
                r.stride,
                r.dilation,
                label(r.padding),
                r.out,
                r.formula,
                torch,
                r.plan
            );
        }
    }
    check(&rows);
    println!(
        "\nok: {} configurations, output_len = formula = PyTorch's formula = plan shape.",
        rows.len()
    );
}
