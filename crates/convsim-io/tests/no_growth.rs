//! A planned run file does not grow after its first frame (`RunWriter::create_planned`).
//!
//! Why it matters: HDF5 writes a newly allocated chunk's index entry before the superblock
//! that records the file's new end, so a process killed inside a flush that allocated space
//! can leave an index entry past the stored end of the file ("addr overflow": the dataset can
//! no longer be read whole). A file whose allocated size never changes between flushes cannot
//! be caught that way. After every flush HDF5 sets the file's length to its end of allocation
//! (`H5FD_truncate`), so the length on disk is the oracle: constant from the first frame to
//! the last, then smaller once the unwritten planned frames are trimmed.

use std::path::Path;

use convsim_core::sim::Gather;
use convsim_core::{Grid, Quantity};
use convsim_io::{RunFile, RunMeta, RunWriter};
use ndarray::{Array2, array};

const GRID: Grid = Grid {
    ny: 40,
    nx: 56,
    dy: 1.0,
    dx: 1.0,
    y0: 0.0,
    x0: 0.0,
};
const PLANNED: usize = 9;
const SAMPLES: usize = 700;

fn len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

fn frame(k: usize, f: usize) -> Array2<f64> {
    Array2::from_shape_fn((GRID.ny, GRID.nx), |(i, j)| {
        ((k * 5 + i * 3 + j + f) as f64 * 0.01).cos()
    })
}

/// A seismic-like writer: two fields, two diagnostics, a 3-receiver gather updated per frame.
fn writer(path: &Path, frames: usize) -> RunWriter {
    let mut w = RunWriter::create_planned(path, &RunMeta::new("test", ""), &GRID, frames).unwrap();
    w.add_field(&Quantity::new("p", "Pa", "pressure", true))
        .unwrap();
    w.add_field(&Quantity::new("q", "1", "other", true))
        .unwrap();
    w.add_diagnostic(&Quantity::new("e", "J", "energy", false))
        .unwrap();
    w.add_diagnostic(&Quantity::new("m", "1", "max", false))
        .unwrap();
    w.set_attribute("status", "running").unwrap();
    w
}

fn append(w: &mut RunWriter, k: usize, traces: &Array2<f64>) {
    let (p, q) = (frame(k, 0), frame(k, 1));
    w.append(
        k as u64 * 10,
        k as f64 * 0.1,
        &[("p", p.view()), ("q", q.view())],
        &[k as f64, 2.0 * k as f64],
    )
    .unwrap();
    let coords = array![[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]];
    w.write_gather(&Gather {
        name: "shot0".into(),
        coords: coords.view(),
        traces: traces.view(),
        recorded: (k * SAMPLES / (PLANNED - 1)).min(SAMPLES),
        dt: 1e-3,
        sources: vec![[0.0, 0.0]],
        quantity: Quantity::new("p", "Pa", "pressure", true),
    })
    .unwrap();
}

#[test]
fn a_planned_run_file_keeps_its_length_from_the_first_frame_to_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    let traces = Array2::from_shape_fn((3, SAMPLES), |(r, t)| (r * t) as f64);
    let mut w = writer(&path, PLANNED);
    append(&mut w, 0, &traces);
    let first = len(&path);
    // Every planned frame's field chunks are allocated: two f64 fields of PLANNED frames.
    let fields_bytes = (2 * PLANNED * GRID.ny * GRID.nx * 8) as u64;
    assert!(first > fields_bytes, "{first} <= {fields_bytes}");
    for k in 1..PLANNED {
        append(&mut w, k, &traces);
        assert_eq!(len(&path), first, "the file grew at frame {k}");
    }
    w.set_attribute("status", "completed").unwrap();
    assert_eq!(len(&path), first, "the file grew with the final status");
    // What an imaginary-time run adds at its end.
    w.set_attribute("converged", "true").unwrap();
    w.set_number("converged_step", 80.0).unwrap();
    assert_eq!(
        len(&path),
        first,
        "the file grew with the convergence attributes"
    );
    w.close().unwrap();
    let r = RunFile::open(&path).unwrap();
    assert_eq!(r.frames(), PLANNED);
    assert_eq!(
        r.read_frame("p", PLANNED - 1).unwrap(),
        frame(PLANNED - 1, 0)
    );
    assert_eq!(
        r.attributes().unwrap().get("status").map(String::as_str),
        Some("completed")
    );
    for f in r.fields().unwrap() {
        assert_eq!(
            f.shape,
            vec![PLANNED, GRID.ny, GRID.nx],
            "{}",
            f.quantity.name
        );
    }
}

#[test]
fn a_run_stopped_early_is_trimmed_to_its_frames_and_resumes_into_its_reserved_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    let traces = Array2::from_shape_fn((3, SAMPLES), |(r, t)| (r + t) as f64);
    let mut w = writer(&path, PLANNED);
    for k in 0..4 {
        append(&mut w, k, &traces);
    }
    w.set_attribute("status", "interrupted").unwrap();
    drop(w);
    // Dropped (an error or an interrupt): the unwritten planned frames are gone.
    let r = RunFile::open(&path).unwrap();
    assert_eq!(r.frames(), 4);
    for f in r.fields().unwrap() {
        assert_eq!(f.shape[0], 4, "{}", f.quantity.name);
    }
    drop(r);

    // Resumed from a checkpoint at step 20 (frame 2): frames 3.. are dropped, the plan is
    // reserved again, and from the first frame on the file does not grow.
    let mut w = RunWriter::resume(&path, 20).unwrap();
    assert_eq!(w.frames(), 3);
    w.reserve_frames(PLANNED).unwrap();
    append(&mut w, 3, &traces);
    let first = len(&path);
    for k in 4..PLANNED {
        append(&mut w, k, &traces);
        assert_eq!(len(&path), first, "the resumed file grew at frame {k}");
    }
    w.set_attribute("status", "completed").unwrap();
    assert_eq!(len(&path), first);
    w.close().unwrap();
    let r = RunFile::open(&path).unwrap();
    assert_eq!(r.frames(), PLANNED);
    assert_eq!(r.read_frame("q", 5).unwrap(), frame(5, 1));
    assert_eq!(
        r.steps().unwrap(),
        (0..PLANNED as u64).map(|k| 10 * k).collect::<Vec<_>>()
    );
}

#[test]
fn frames_beyond_the_plan_extend_the_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    let traces = Array2::zeros((3, SAMPLES));
    let mut w = writer(&path, 2);
    for k in 0..5 {
        append(&mut w, k, &traces);
    }
    w.close().unwrap();
    let r = RunFile::open(&path).unwrap();
    assert_eq!(r.frames(), 5);
    assert_eq!(r.read_frame("p", 4).unwrap(), frame(4, 0));
}
