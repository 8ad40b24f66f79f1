//! The small input files under `data/` are made here, in Rust, so nobody needs Python to
//! regenerate them: `CONVSIM_WRITE_DATA=1 cargo test --test data_inputs -- --ignored` rewrites
//! them, and the non-ignored test checks that the committed files hold exactly what the
//! generator makes.

use std::path::{Path, PathBuf};

use ndarray::Array2;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// `D(y, x)` (m^2/s) of `scenarios/diffusion/heterogeneous.toml` on its 64 x 64 grid
/// (dx = dy = 1/64 m, origin 0): a unit background, a slow disc (D = 0.05) of radius 0.15 m
/// centred at (y, x) = (0.3, 0.5) m, and a fast bar (D = 4) over 0.6 <= y < 0.75,
/// 0.2 <= x < 0.8 m.
fn diffusivity_inclusions() -> Array2<f64> {
    let h = 1.0 / 64.0;
    Array2::from_shape_fn((64, 64), |(i, j)| {
        let (y, x) = (i as f64 * h, j as f64 * h);
        if (y - 0.3).hypot(x - 0.5) < 0.15 {
            0.05
        } else if (0.6..0.75).contains(&y) && (0.2..0.8).contains(&x) {
            4.0
        } else {
            1.0
        }
    })
}

fn write(path: &Path, name: &str, data: &Array2<f64>) {
    let f = hdf5::File::create(path).expect("create the data file");
    f.new_dataset_builder()
        .with_data(data)
        .create(name)
        .expect("write the dataset");
}

#[test]
#[ignore = "writes HDF5 inputs; with CONVSIM_WRITE_DATA=1 it rewrites data/"]
fn regenerate_data_files() {
    // Written to a temporary folder and read back (the generator's output survives the round
    // trip exactly); copied into data/ only when asked, so CI never touches committed files.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("diffusivity_inclusions.h5");
    write(&path, "D", &diffusivity_inclusions());
    assert_eq!(
        convsim_io::read_input_2d(&path, "D").unwrap(),
        diffusivity_inclusions()
    );
    if std::env::var_os("CONVSIM_WRITE_DATA").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(data_dir()).unwrap();
        std::fs::copy(&path, data_dir().join("diffusivity_inclusions.h5")).unwrap();
    }
}

#[test]
fn committed_data_files_match_their_generators() {
    let path = data_dir().join("diffusivity_inclusions.h5");
    let d = convsim_io::read_input_2d(&path, "D").unwrap_or_else(|e| {
        panic!(
            "{e}; regenerate with `CONVSIM_WRITE_DATA=1 cargo test --test data_inputs -- --ignored`"
        )
    });
    // Exact: the file stores the generator's f64 values bit for bit.
    assert_eq!(d, diffusivity_inclusions());
    // The three materials are all present (the scenario is about their contrast).
    for v in [0.05, 1.0, 4.0] {
        assert!(d.iter().any(|&x| x == v), "no cell with D = {v}");
    }
}
