//! Run files: round trips, layout, errors, resume, receivers, checkpoints, inputs, and a
//! check of the file by h5py/xarray when the project's Python is available.

use std::path::{Path, PathBuf};

use convsim_core::{Grid, Quantity, StateArray};
use convsim_io::{
    FfiError, IoError, Precision, RunFile, RunMeta, RunWriter, read_checkpoint, read_input_2d,
    write_checkpoint,
};
use ndarray::{Array2, ArrayD, array};

/// Fields of one frame, as `append` takes them.
type Frame<'a> = Vec<(&'a str, ndarray::ArrayView2<'a, f64>)>;

const GRID: Grid = Grid {
    ny: 5,
    nx: 7,
    dy: 0.25,
    dx: 0.5,
    y0: -1.0,
    x0: 2.0,
};

/// Frame `k` of field `u`: distinct, exactly representable values (multiples of 1/8), so
/// f64 and f32 round trips can be compared exactly.
fn frame(k: usize, scale: f64) -> Array2<f64> {
    Array2::from_shape_fn((GRID.ny, GRID.nx), |(i, j)| {
        scale * (k * 100 + i * 10 + j) as f64 / 8.0
    })
}

fn meta() -> RunMeta {
    let mut m = RunMeta::new("diffusion", "# scénario\n[grid]\nnx = 7\nny = 5\n");
    m.recipe = r#"{"method":"direct"}"#.into();
    // Fixed: `new` stamps the current second, which two calls may straddle.
    m.created = "2026-01-01T00:00:00Z".into();
    m.attributes.insert("note".into(), "unit test".into());
    m
}

fn quantities() -> (Quantity, Quantity, Quantity, Quantity) {
    (
        Quantity::new("u", "K", "temperature", false),
        Quantity::new("v", "m s-1", "velocity", true),
        Quantity::new("mass", "K m2", "total heat", false),
        Quantity::new("max", "K", "maximum temperature", false),
    )
}

/// Writes 4 frames at steps 0, 10, 20, 30 (time = step / 100).
fn write_run(path: &Path) {
    let (u, v, mass, max) = quantities();
    let mut w = RunWriter::create(path, &meta(), &GRID).unwrap();
    // u compressed, v as by default (uncompressed).
    w.compress_fields(true);
    w.add_field(&u).unwrap();
    w.compress_fields(false);
    w.add_field_as(&v, Precision::F32).unwrap();
    w.add_diagnostic(&mass).unwrap();
    w.add_diagnostic(&max).unwrap();
    for k in 0..4 {
        let (fu, fv) = (frame(k, 1.0), frame(k, -1.0));
        // Fields given in a different order than added: matched by name.
        w.append(
            10 * k as u64,
            k as f64 / 10.0,
            &[("v", fv.view()), ("u", fu.view())],
            &[k as f64, 2.0 * k as f64],
        )
        .unwrap();
    }
    assert_eq!(w.frames(), 4);
    w.close().unwrap();
}

#[test]
fn round_trip_values_scales_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    write_run(&path);
    let r = RunFile::open(&path).unwrap();
    assert_eq!(r.frames(), 4);
    assert_eq!(r.steps().unwrap(), vec![0, 10, 20, 30]);
    assert_eq!(r.times().unwrap(), vec![0.0, 0.1, 0.2, 0.3]);
    assert_eq!(r.time_units().unwrap(), "s");
    assert_eq!(r.grid().unwrap(), GRID);
    for k in 0..4 {
        assert_eq!(r.read_frame("u", k).unwrap(), frame(k, 1.0));
        // Multiples of 1/8 below 2^20 are exact in f32: the f32 field round-trips exactly.
        assert_eq!(r.read_frame("v", k).unwrap(), frame(k, -1.0));
    }
    let all = r.read_field("u").unwrap();
    assert_eq!(all.dim(), (4, 5, 7));
    assert_eq!(all.index_axis(ndarray::Axis(0), 2), frame(2, 1.0));
    assert_eq!(r.read_diagnostic("max").unwrap(), vec![0.0, 2.0, 4.0, 6.0]);

    let m = r.meta().unwrap();
    assert_eq!(m, meta(), "metadata round trip (unicode and newlines kept)");
    let attrs = r.attributes().unwrap();
    assert_eq!(attrs["Conventions"], "CF-1.8");
    assert_eq!(attrs["convsim_file"], "run");

    let fields = r.fields().unwrap();
    let (u, v, _, _) = quantities();
    assert_eq!(fields[0].quantity, u);
    assert_eq!(fields[1].quantity, v);
    assert_eq!(
        (fields[0].dtype.as_str(), fields[1].dtype.as_str()),
        ("f64", "f32")
    );
    assert_eq!(fields[0].shape, vec![4, 5, 7]);
    let names: Vec<_> = r
        .diagnostics()
        .unwrap()
        .into_iter()
        .map(|d| d.quantity.name)
        .collect();
    assert_eq!(
        names,
        vec!["mass", "max"],
        "creation order, not alphabetical"
    );

    let s = r.summary().unwrap();
    assert_eq!((s.first, s.last), (Some((0, 0.0)), Some((30, 0.3))));
    let mass = &s.diagnostic_summaries[0];
    assert_eq!((mass.min, mass.max, mass.last), (0.0, 3.0, 3.0));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["fields"][0]["quantity"]["units"], "K");
    assert_eq!(json["attributes"]["solver"], "diffusion");

    let e = r.read_frame("u", 4).unwrap_err().to_string();
    assert!(
        e.contains("frame 4") && e.contains("4 frame(s)") && e.contains("run.h5"),
        "{e}"
    );
    let e = r.read_frame("w", 0).unwrap_err().to_string();
    assert!(
        e.contains("/fields/w") && e.contains("/fields/u, /fields/v"),
        "{e}"
    );
}

#[test]
fn layout_chunks_filters_and_cf_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    write_run(&path);
    let f = hdf5::File::open(&path).unwrap();
    let u = f.dataset("fields/u").unwrap();
    assert_eq!(u.chunk(), Some(vec![1, 5, 7]), "one frame per chunk");
    assert!(u.is_resizable());
    let filters = u.filters();
    assert!(
        filters
            .iter()
            .any(|x| matches!(x, hdf5::filters::Filter::Shuffle)),
        "{filters:?}"
    );
    assert!(
        filters
            .iter()
            .any(|x| matches!(x, hdf5::filters::Filter::Deflate(_))),
        "{filters:?}"
    );
    let v = f.dataset("fields/v").unwrap();
    assert!(v.filters().is_empty(), "fields are uncompressed by default");
    assert_eq!(v.chunk(), Some(vec![1, 5, 7]));
    // The links in /fields are the scales themselves (same object), not copies.
    let t1 = f.dataset("scales/time").unwrap().read_raw::<f64>().unwrap();
    let t2 = f.dataset("fields/time").unwrap().read_raw::<f64>().unwrap();
    assert_eq!(t1, t2);
    assert_eq!(
        f.dataset("diagnostics/step")
            .unwrap()
            .read_raw::<i64>()
            .unwrap(),
        vec![0, 10, 20, 30]
    );
    // Dimension-scale attributes set by the HL library.
    for name in ["scales/time", "scales/x", "scales/y"] {
        let ds = f.dataset(name).unwrap();
        let names = ds.attr_names().unwrap();
        assert!(
            names.contains(&"CLASS".to_string()) && names.contains(&"REFERENCE_LIST".to_string()),
            "{name}: {names:?}"
        );
    }
    assert!(
        u.attr_names()
            .unwrap()
            .contains(&"DIMENSION_LIST".to_string())
    );
}

#[test]
fn a_nul_byte_in_an_attribute_is_a_typed_error_naming_file_and_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    let mut w = RunWriter::create(&path, &meta(), &GRID).unwrap();
    let e = w.set_attribute("note", "a\0b").unwrap_err();
    assert!(
        matches!(&e, IoError::Ffi { source: FfiError::NulValue { name }, .. } if name == "note"),
        "{e:?}"
    );
    let msg = e.to_string();
    for part in [
        "run.h5",
        "writing attribute 'note'",
        "value contains a NUL byte",
    ] {
        assert!(msg.contains(part), "{msg}");
    }
    let e = w.set_attribute("no\0te", "x").unwrap_err();
    assert!(
        matches!(&e, IoError::Ffi { source: FfiError::Nul { text }, .. } if text == "no\0te"),
        "{e:?}"
    );
    // The file stays usable.
    w.set_attribute("note", "fine").unwrap();
}

#[test]
fn append_rejects_bad_frames_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    let (u, _, mass, _) = quantities();
    let mut w = RunWriter::create(&path, &meta(), &GRID).unwrap();
    w.add_field(&u).unwrap();
    w.add_diagnostic(&mass).unwrap();
    assert!(
        matches!(w.add_field(&u), Err(IoError::Invalid { .. })),
        "duplicate name"
    );
    let good = frame(0, 1.0);
    let small = Array2::<f64>::zeros((2, 2));
    let cases: Vec<(Frame, Vec<f64>, &str)> = vec![
        (
            vec![("u", good.view()), ("w", good.view())],
            vec![1.0],
            "unknown field 'w'",
        ),
        (vec![], vec![1.0], "field 'u' missing"),
        (vec![("u", small.view())], vec![1.0], "shape (2, 2)"),
        (
            vec![("u", good.view()), ("u", good.view())],
            vec![1.0],
            "given twice",
        ),
        (
            vec![("u", good.view())],
            vec![],
            "0 diagnostic value(s) given",
        ),
    ];
    for (fields, diags, msg) in cases {
        let e = w.append(0, 0.0, &fields, &diags).unwrap_err().to_string();
        assert!(
            e.contains(msg) && e.contains("run.h5"),
            "expected '{msg}' in: {e}"
        );
    }
    assert_eq!(w.frames(), 0);
    w.append(0, 0.0, &[("u", good.t())], &[1.0]).unwrap_err(); // (7, 5) view: wrong shape
    // A non-standard-layout view of the right shape is accepted.
    let gt = good.t().to_owned();
    w.append(0, 0.0, &[("u", gt.t())], &[1.0]).unwrap();
    let e = w
        .add_field(&Quantity::new("late", "1", "late", false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("after 1 frame(s)"), "{e}");
    drop(w);
    let r = RunFile::open(&path).unwrap();
    assert_eq!(r.frames(), 1);
    assert_eq!(r.read_frame("u", 0).unwrap(), good);
}

#[test]
fn resume_drops_frames_after_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    write_run(&path);
    // Checkpoint at step 15: frames at steps 20 and 30 were written after it and are dropped.
    let mut w = RunWriter::resume(&path, 15).unwrap();
    assert_eq!(w.frames(), 2);
    assert_eq!(w.field_names(), vec!["u", "v"]);
    let (fu, fv) = (frame(7, 1.0), frame(7, -1.0));
    w.append(20, 0.2, &[("u", fu.view()), ("v", fv.view())], &[7.0, 8.0])
        .unwrap();
    drop(w);
    let r = RunFile::open(&path).unwrap();
    assert_eq!(r.steps().unwrap(), vec![0, 10, 20]);
    assert_eq!(r.read_frame("u", 2).unwrap(), fu);
    assert_eq!(r.read_frame("v", 1).unwrap(), frame(1, -1.0));
    assert_eq!(r.read_diagnostic("mass").unwrap(), vec![0.0, 1.0, 7.0]);
    let e = RunWriter::resume(dir.path().join("nope.h5"), 0).unwrap_err();
    assert!(matches!(e, IoError::NotFound { .. }), "{e}");
}

#[test]
fn receivers_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    let mut w = RunWriter::create(&path, &meta(), &GRID).unwrap();
    let coords = array![[0.0, 10.0], [0.0, 20.0], [0.0, 30.0]];
    let traces = Array2::from_shape_fn((3, 50), |(r, k)| (r * 50 + k) as f64);
    let p = Quantity::new("p", "Pa", "pressure", true);
    w.write_receivers("shot0", coords.view(), traces.view(), 0.002, &p)
        .unwrap();
    let e = w
        .write_receivers("shot1", coords.view(), traces.t(), 0.002, &p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected coords (r, 2)"), "{e}");
    drop(w);
    let r = RunFile::open(&path).unwrap();
    assert_eq!(r.receivers().unwrap(), vec!["shot0"]);
    let g = r.read_receivers("shot0").unwrap();
    assert_eq!((g.coords, g.traces, g.dt), (coords, traces, 0.002));
    assert_eq!((g.quantity.units.as_str(), g.quantity.signed), ("Pa", true));
    let e = r.read_receivers("shot9").unwrap_err().to_string();
    assert!(
        e.contains("/receivers/shot9") && e.contains("/receivers/shot0"),
        "{e}"
    );
}

#[test]
fn checkpoint_round_trip_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.h5");
    let state = vec![
        StateArray {
            name: "u".into(),
            data: ArrayD::from_shape_fn(vec![5, 7], |i| (i[0] * 7 + i[1]) as f64 * 0.1),
        },
        StateArray {
            name: "psi".into(),
            data: ArrayD::from_shape_fn(vec![3, 4, 2], |i| i[0] as f64 - 1.5 * i[2] as f64),
        },
        StateArray {
            name: "a_scalar_like".into(),
            data: ArrayD::from_elem(vec![1], f64::MIN_POSITIVE),
        },
    ];
    write_checkpoint(&path, 7, 0.7, &state, &meta()).unwrap();
    // Overwrite with a later checkpoint: the reader sees only the new one, bit for bit.
    let mut later = state.clone();
    later[0].data.mapv_inplace(|v| v + 1.0);
    write_checkpoint(&path, 9, 0.9, &later, &meta()).unwrap();
    let ck = read_checkpoint(&path).unwrap();
    assert_eq!((ck.step, ck.time), (9, 0.9));
    assert_eq!(ck.state, later, "bit-exact, order kept");
    assert_eq!(ck.meta, meta());
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        leftovers,
        vec![path.clone()],
        "no temporary file left behind"
    );
    // A run file is not a checkpoint.
    let run = dir.path().join("run.h5");
    write_run(&run);
    let e = read_checkpoint(&run).unwrap_err().to_string();
    assert!(e.contains("not a convsim checkpoint"), "{e}");
    let dup = vec![state[0].clone(), state[0].clone()];
    assert!(matches!(
        write_checkpoint(&path, 1, 0.1, &dup, &meta()),
        Err(IoError::Invalid { .. })
    ));
    assert_eq!(
        read_checkpoint(&path).unwrap().step,
        9,
        "failed write left the old checkpoint"
    );
}

#[test]
fn input_errors_name_file_and_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        f.new_dataset_builder()
            .with_data(&array![[1_i32, 2], [3, 4]])
            .create("ints")
            .unwrap();
        let g = f.create_group("data").unwrap();
        g.new_dataset_builder()
            .with_data(&ndarray::Array3::<f64>::zeros((2, 2, 2)))
            .create("cube")
            .unwrap();
        g.new_dataset_builder()
            .with_data(&array![
                [1.0, f64::NAN, 3.0],
                [f64::INFINITY, 5.0, f64::NAN]
            ])
            .create("holes")
            .unwrap();
    }
    assert_eq!(
        read_input_2d(&path, "ints").unwrap(),
        array![[1.0, 2.0], [3.0, 4.0]],
        "integers converted"
    );
    assert_eq!(
        read_input_2d(&path, "/ints").unwrap()[[1, 1]],
        4.0,
        "leading slash accepted"
    );

    let e = read_input_2d(&path, "vp").unwrap_err().to_string();
    assert!(
        e.contains("model.h5")
            && e.contains("'vp'")
            && e.contains("/data/cube, /data/holes, /ints"),
        "{e}"
    );
    let e = read_input_2d(&path, "data/cube").unwrap_err().to_string();
    assert!(e.contains("[2, 2, 2]") && e.contains("rank 2"), "{e}");
    match read_input_2d(&path, "data/holes").unwrap_err() {
        IoError::NonFinite { count, index, .. } => assert_eq!((count, index), (3, vec![0, 1])),
        e => panic!("expected NonFinite, got {e}"),
    }
    let missing = dir.path().join("missing.h5");
    let e = read_input_2d(&missing, "vp").unwrap_err();
    assert!(
        matches!(e, IoError::NotFound { .. }) && e.to_string().contains("missing.h5"),
        "{e}"
    );
    let text = dir.path().join("text.h5");
    std::fs::write(&text, "not hdf5").unwrap();
    let e = read_input_2d(&text, "vp").unwrap_err();
    assert!(
        matches!(e, IoError::Open { .. }) && e.to_string().contains("text.h5"),
        "{e}"
    );
    let e = RunFile::open(&path).unwrap_err().to_string();
    assert!(e.contains("not a convsim run file"), "{e}");
}

#[test]
fn long_scenario_text_is_stored_whole() {
    // 100 kB exceeds the 64 kB limit of compact attribute storage: needs the 1.8 format.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    let mut m = meta();
    m.scenario = "# long comment line ........................................\n".repeat(1700);
    assert!(m.scenario.len() > 100_000);
    RunWriter::create(&path, &m, &GRID)
        .unwrap()
        .close()
        .unwrap();
    assert_eq!(
        RunFile::open(&path).unwrap().meta().unwrap().scenario,
        m.scenario
    );
}

#[test]
fn unwritable_path_is_a_typed_error() {
    let e = RunWriter::create("/nonexistent-dir/run.h5", &meta(), &GRID)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent-dir/run.h5") && e.contains("cannot create"),
        "{e}"
    );
}

/// Opens the file with xarray (h5netcdf) and h5py, as a user would. Skipped when the
/// project's Python environment is absent (CI provides it).
#[test]
fn xarray_sees_named_dimensions_and_coordinates() {
    let python = std::env::var_os("CONVSIM_PYTHON").map_or_else(
        || {
            std::env::home_dir()
                .unwrap_or_default()
                .join(".cache/convsim-peers/bin/python")
        },
        PathBuf::from,
    );
    if !python.exists() {
        eprintln!("skipped: no Python at {}", python.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    write_run(&path);
    {
        let mut w = RunWriter::resume(&path, 100).unwrap();
        let traces = Array2::from_shape_fn((3, 20), |(r, k)| (r + k) as f64);
        w.write_receivers(
            "shot0",
            array![[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]].view(),
            traces.view(),
            0.01,
            &Quantity::new("p", "Pa", "pressure", true),
        )
        .unwrap();
    }
    let script = r##"
import sys, numpy as np, xarray as xr, h5py
p = sys.argv[1]
ds = xr.open_dataset(p, group="fields", engine="h5netcdf")
assert ds["u"].dims == ("time", "y", "x"), ds["u"].dims
for c in ("time", "y", "x"):
    assert c in ds.coords, (c, list(ds.coords))
np.testing.assert_array_equal(ds["x"].values, 2.0 + 0.5 * np.arange(7))
np.testing.assert_array_equal(ds["y"].values, -1.0 + 0.25 * np.arange(5))
assert ds["time"].dtype.kind == "f", ds["time"].dtype
np.testing.assert_array_equal(ds["time"].values, [0.0, 0.1, 0.2, 0.3])
assert ds["time"].attrs["units"] == "s" and ds["time"].attrs["axis"] == "T"
assert ds["time"].attrs["standard_name"] == "time"
assert ds["u"].attrs["units"] == "K" and ds["u"].attrs["long_name"] == "temperature"
assert ds["u"].values[3, 4, 6] == (300 + 40 + 6) / 8
assert ds["v"].dtype == np.float32
d = xr.open_dataset(p, group="diagnostics", engine="h5netcdf")
assert d["mass"].dims == ("time",) and "time" in d.coords
np.testing.assert_array_equal(d["step"].values, [0, 10, 20, 30])
g = xr.open_dataset(p, group="receivers/shot0", engine="h5netcdf")
assert g["gather"].dims == ("receiver", "time"), g["gather"].dims
root = xr.open_dataset(p, engine="h5netcdf")
assert root.attrs["solver"] == "diffusion" and root.attrs["scenario"].startswith("# sc")
with h5py.File(p, "r") as f:
    u = f["fields/u"]
    assert [dim.label for dim in u.dims] == ["time", "y", "x"]
    assert u.dims[2][0].name == "/scales/x" or u.dims[2][0].name.endswith("/x")
    assert u.compression == "gzip" and u.shuffle and u.chunks == (1, 5, 7)
    assert u.maxshape == (None, 5, 7)
print("xarray-ok")
"##;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("xarray-ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A child process started while a file is open (as the xarray test above does) must not keep
/// it locked: otherwise reopening fails with "unable to lock file, errno = 11" until the child
/// exits (CI failures of stops 10 and 11; the race itself is tested in `lock.rs`).
#[cfg(unix)]
#[test]
fn child_processes_do_not_inherit_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    write_run(&path);
    let sleeper = || {
        std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap()
    };
    let writer = RunWriter::resume(&path, 100).unwrap();
    let mut during_write = sleeper();
    drop(writer);
    let reader = RunFile::open(&path).unwrap();
    let mut during_read = sleeper();
    drop(reader);
    // Opening for writing needs the exclusive lock: no shared lock may survive in a child.
    let reopened = RunWriter::resume(&path, 100);
    during_write.kill().unwrap();
    during_read.kill().unwrap();
    let _ = during_write.wait();
    let _ = during_read.wait();
    assert_eq!(reopened.unwrap().frames(), 4);
}
