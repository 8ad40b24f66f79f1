//! The tables and worked examples of `docs/conventions.md` (and the boundary table of the
//! `boundary` module docs, which copies DESIGN.md) are parsed and checked against the code, so
//! the documentation cannot drift from what convsim computes.

use convsim_core::{
    AxisGeometry, Boundaries, Boundary, ConvPlan, Geometry, Kernel2, Orientation, Padding, pad1,
};
use ndarray::{Array2, array};

fn read(rel: &str) -> String {
    let path = format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parses the first cell's backticked mode names: `Zero` / `Constant(v)` -> both.
fn modes(cell: &str) -> Vec<(Boundary, f64)> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(|name| match name {
            "Zero" => (Boundary::Zero, 0.0),
            "Constant(v)" => (Boundary::Constant(7.0), 7.0),
            n => (
                Boundary::parse(n).unwrap_or_else(|| panic!("unknown mode {n}")),
                0.0,
            ),
        })
        .collect()
}

/// Value of a token: `a`..`d` are 1..4, `v` the constant, numbers as written, `-` negates.
fn value(tok: &str, v: f64) -> f64 {
    if let Some(t) = tok.strip_prefix('-') {
        return -value(t, v);
    }
    match tok {
        "a" => 1.0,
        "b" => 2.0,
        "c" => 3.0,
        "d" => 4.0,
        "v" => v,
        t => t.parse().unwrap_or_else(|_| panic!("bad token {t}")),
    }
}

/// Checks every table row of the form `| `Mode` ... | `left / data / right` | aliases... |`.
/// Returns the number of (mode, row) pairs checked.
fn check_tables(text: &str, what: &str) -> usize {
    let mut checked = 0;
    for line in text.lines() {
        let line = line.trim_start_matches("//!").trim();
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let seq = cells[1].trim_matches('`');
        let parts: Vec<&str> = seq.split('/').collect();
        if parts.len() != 3 {
            continue; // not a boundary row
        }
        for (mode, v) in modes(cells[0]) {
            let toks = |p: &str| {
                p.split_whitespace()
                    .map(|t| value(t, v))
                    .collect::<Vec<f64>>()
            };
            let (left, data, right) = (toks(parts[0]), toks(parts[1]), toks(parts[2]));
            let mut expect = left.clone();
            expect.extend(&data);
            expect.extend(&right);
            let got = pad1(&data, left.len(), right.len(), mode, mode);
            assert_eq!(got, expect, "{what}: row {line}");
            // Aliases: each must parse to this mode or be refused (ambiguous or needs a value).
            for alias in &cells[2..] {
                let alias = alias.trim_matches('`');
                if alias == "-" || alias.is_empty() {
                    continue;
                }
                if let Some(b) = Boundary::parse(alias) {
                    assert!(
                        b == mode || matches!((b, mode), (Boundary::Zero, Boundary::Constant(_))),
                        "{what}: alias {alias} parses to {b:?}, row is {mode:?}"
                    );
                }
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn boundary_tables_of_the_docs_match_pad() {
    // conventions.md: the DESIGN.md table (7 modes) and the wide-pad table (6 rows).
    let n = check_tables(&read("../../docs/conventions.md"), "docs/conventions.md");
    assert_eq!(n, 13, "rows checked in docs/conventions.md");
    // The module docs of `boundary` carry the same DESIGN.md table.
    let n = check_tables(&read("src/boundary.rs"), "src/boundary.rs");
    assert_eq!(n, 7, "rows checked in src/boundary.rs");
}

#[test]
fn ambiguous_reflect_is_refused() {
    // numpy/PyTorch `reflect` = Mirror, scipy/OpenCV `reflect` = Symmetric.
    assert_eq!(Boundary::parse("reflect"), None);
    assert_eq!(Boundary::parse("REFLECT_101"), Some(Boundary::Mirror));
    assert_eq!(Boundary::parse("wrap"), Some(Boundary::Periodic));
    assert_eq!(
        Boundary::parse("constant:2.5"),
        Some(Boundary::Constant(2.5))
    );
}

fn run1(x: &[f64], w: &[f64], anchor: usize, o: Orientation, g: Geometry) -> Vec<f64> {
    let x = Array2::from_shape_vec((1, x.len()), x.to_vec()).unwrap();
    let k = Kernel2::with_anchor(
        Array2::from_shape_vec((1, w.len()), w.to_vec()).unwrap(),
        [0, anchor],
    )
    .unwrap();
    let mut plan = ConvPlan::builder([1, x.ncols()], k)
        .boundaries(Boundaries::uniform(Boundary::Zero))
        .orientation(o)
        .geometry(g)
        .build()
        .unwrap();
    let mut out = Array2::zeros(plan.output_shape());
    plan.apply(x.view(), out.view_mut());
    out.iter().copied().collect()
}

#[test]
fn worked_examples_of_orientation_and_anchor() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let same = Geometry::same();
    // Orientation table (numpy.correlate / numpy.convolve with 'same').
    assert_eq!(
        run1(&x, &[1.0, 2.0, 3.0], 1, Orientation::Correlate, same),
        [8.0, 14.0, 20.0, 26.0, 14.0]
    );
    assert_eq!(
        run1(&x, &[1.0, 2.0, 3.0], 1, Orientation::Convolve, same),
        [4.0, 10.0, 16.0, 22.0, 22.0]
    );
    // Even kernel: default anchor k/2 = 1 (scipy, OpenCV) vs PyTorch's anchor 0.
    let d = [1.0, -1.0];
    assert_eq!(run1(&x, &d, 1, Orientation::Correlate, same), [-1.0; 5]);
    assert_eq!(
        run1(&x, &d, 0, Orientation::Correlate, same),
        [-1.0, -1.0, -1.0, -1.0, 5.0]
    );
    // PyTorch's explicit padding: padding=1 on a 2-tap kernel gives 6 outputs whatever the anchor.
    let g = Geometry {
        y: AxisGeometry::new(Padding::Same),
        x: AxisGeometry::new(Padding::Explicit { lo: 1, hi: 1 }),
    };
    assert_eq!(
        run1(&x, &d, 1, Orientation::Correlate, g),
        run1(&x, &d, 0, Orientation::Correlate, g)
    );
    assert_eq!(
        run1(&x, &d, 0, Orientation::Correlate, g),
        [-1.0, -1.0, -1.0, -1.0, -1.0, 5.0]
    );
    // Kernel2::new uses k / 2.
    assert_eq!(Kernel2::new(array![[1.0, -1.0]]).unwrap().anchor(), [0, 1]);
}
