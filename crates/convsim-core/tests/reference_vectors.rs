//! convsim against other libraries' outputs, committed as JSON by
//! `scripts/core_reference_vectors.py`: numpy.pad (every mode, pads wider than the data),
//! scipy.ndimage.correlate/convolve (odd, even and oversized kernels, every mode) and OpenCV's
//! filter2D (`BORDER_REFLECT_101`, `BORDER_CONSTANT`).

use convsim_core::testing::{parse_mode, rel_err};
use convsim_core::{
    Boundaries, ConvPlan, Geometry, Kernel, Kernel2, Method, Orientation, pad, pad1, reference,
};
use ndarray::Array2;
use serde_json::Value;

/// Both sides sum the same products in a different order: the difference is rounding, at most
/// (taps <= 42) x eps x max|partial sum| ~ 1e-14 of the output scale; 1e-12 is the agreed bound
/// and far below any wrong-tap or wrong-boundary error (O(1)).
const TOL: f64 = 1e-12;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn array(v: &Value) -> Array2<f64> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    Array2::from_shape_vec((shape[0], shape[1]), data).unwrap()
}

fn cases(file: &Value) -> &Vec<Value> {
    file["cases"].as_array().unwrap()
}

#[test]
fn numpy_pad_every_mode_and_width() {
    let file = load("numpy_pad.json");
    let mut wide = 0;
    for c in cases(&file) {
        let mode = parse_mode(c["convsim"].as_str().unwrap());
        let input = array(&c["input"]);
        let expect = array(&c["output"]);
        let w: Vec<[usize; 2]> = c["widths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                [
                    p[0].as_u64().unwrap() as usize,
                    p[1].as_u64().unwrap() as usize,
                ]
            })
            .collect();
        let got = pad(
            input.view(),
            [(w[0][0], w[0][1]), (w[1][0], w[1][1])],
            &Boundaries::uniform(mode),
        );
        // Padding copies samples: the match is exact.
        assert_eq!(
            got, expect,
            "numpy.pad mode {} widths {w:?} input {input}",
            c["numpy_mode"]
        );
        if input.nrows() == 1 && w[0] == [0, 0] {
            let row: Vec<f64> = input.iter().copied().collect();
            let got1 = pad1(&row, w[1][0], w[1][1], mode, mode);
            assert_eq!(got1.as_slice(), expect.as_slice().unwrap());
        }
        if w.iter().any(|p| {
            p[0] > input.dim().1.max(input.dim().0) || p[1] > input.dim().1.max(input.dim().0)
        }) {
            wide += 1;
        }
    }
    // The file must exercise pads wider than the data (several periods of the index map).
    assert!(wide >= 50, "only {wide} wide-pad cases");
}

fn check_same(
    input: &Array2<f64>,
    kernel: &Kernel<f64>,
    b: Boundaries,
    o: Orientation,
    expect: &Array2<f64>,
    what: &str,
) {
    let g = Geometry::same();
    let r = reference::conv2d(input.view(), kernel, &b, o, &g).unwrap();
    let e = rel_err(&r, expect);
    assert!(e <= TOL, "{what}: reference rel err {e:e}");
    for method in [Method::Direct, Method::Auto] {
        let mut plan = ConvPlan::builder([input.nrows(), input.ncols()], kernel.clone())
            .boundaries(b)
            .orientation(o)
            .method(method)
            .build()
            .unwrap();
        let mut out = Array2::zeros(plan.output_shape());
        plan.apply(input.view(), out.view_mut());
        let e = rel_err(&out, expect);
        assert!(e <= TOL, "{what}: plan {method:?} rel err {e:e}");
    }
}

#[test]
fn scipy_ndimage_correlate_and_convolve() {
    let file = load("scipy_ndimage.json");
    let mut even = 0;
    for c in cases(&file) {
        let mode = parse_mode(c["convsim"].as_str().unwrap());
        let input = array(&c["input"]);
        let taps = array(&c["kernel"]);
        if taps.nrows().is_multiple_of(2) || taps.ncols().is_multiple_of(2) {
            even += 1;
        }
        let o = match c["function"].as_str().unwrap() {
            "correlate" => Orientation::Correlate,
            "convolve" => Orientation::Convolve,
            f => panic!("unknown function {f}"),
        };
        // Default anchor k / 2: scipy's origin 0.
        let kernel: Kernel<f64> = Kernel2::new(taps.clone()).unwrap().into();
        let what = format!(
            "scipy.ndimage.{} mode {} input {:?} kernel {:?}",
            c["function"],
            c["scipy_mode"],
            input.dim(),
            taps.dim()
        );
        check_same(
            &input,
            &kernel,
            Boundaries::uniform(mode),
            o,
            &array(&c["output"]),
            &what,
        );
    }
    assert!(even >= 30, "only {even} even-kernel cases");
}

#[test]
fn opencv_filter2d_reflect101_and_constant() {
    let file = load("opencv_filter2d.json");
    for c in cases(&file) {
        let mode = parse_mode(c["convsim"].as_str().unwrap());
        let input = array(&c["input"]);
        let taps = array(&c["kernel"]);
        // filter2D is a correlation anchored at (k / 2) with anchor (-1, -1).
        let kernel: Kernel<f64> = Kernel2::new(taps.clone()).unwrap().into();
        let what = format!(
            "cv2.filter2D {} input {:?} kernel {:?}",
            c["opencv_border"],
            input.dim(),
            taps.dim()
        );
        check_same(
            &input,
            &kernel,
            Boundaries::uniform(mode),
            Orientation::Correlate,
            &array(&c["output"]),
            &what,
        );
    }
}
