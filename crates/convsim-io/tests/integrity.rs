//! Checkpoint integrity (Fletcher-32 on the state datasets and the stored `state_checksum`)
//! and the layout that keeps a killed run's gathers readable (no filter on datasets whose
//! chunks are rewritten).

use std::path::Path;

use convsim_core::sim::Gather;
use convsim_core::{Grid, Quantity, StateArray};
use convsim_io::{IoError, RunMeta, RunWriter, read_checkpoint, write_checkpoint};
use ndarray::{Array2, ArrayD};

fn state() -> Vec<StateArray> {
    vec![
        StateArray {
            name: "u".into(),
            data: ArrayD::from_shape_fn(vec![40, 30], |i| (i[0] as f64 * 0.3).sin() + i[1] as f64),
        },
        StateArray {
            name: "p_prev".into(),
            data: ArrayD::from_shape_fn(vec![7, 5, 2], |i| (i[0] * 10 + i[1]) as f64 - i[2] as f64),
        },
    ]
}

fn first_chunk(path: &Path, ds: &str) -> (u64, u64) {
    let f = hdf5::File::open(path).unwrap();
    let d = f.dataset(ds).unwrap();
    assert!(
        d.filters()
            .iter()
            .any(|f| matches!(f, hdf5::filters::Filter::Fletcher32)),
        "{ds} carries Fletcher-32"
    );
    let c = d.chunk_info(0).unwrap();
    (c.addr, c.size)
}

#[test]
fn a_flipped_bit_in_a_state_dataset_is_corrupt_not_a_wrong_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.h5");
    write_checkpoint(&path, 12, 1.2, &state(), &RunMeta::new("t", "x = 1")).unwrap();
    assert_eq!(read_checkpoint(&path).unwrap().state, state());
    for (ds, bit) in [
        ("state/u", 0x01_u8),
        ("state/u", 0x80),
        ("state/p_prev", 0x04),
    ] {
        let (addr, size) = first_chunk(&path, ds);
        let good = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        bad[usize::try_from(addr + size / 3).unwrap()] ^= bit;
        std::fs::write(&path, &bad).unwrap();
        let e = read_checkpoint(&path).unwrap_err();
        assert!(matches!(e, IoError::Corrupt { .. }), "{ds}: {e}");
        assert!(e.to_string().contains(&format!("/{ds}")), "{e}");
        std::fs::write(&path, &good).unwrap();
    }
}

#[test]
fn a_damaged_attribute_fails_the_stored_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.h5");
    write_checkpoint(&path, 12, 1.2, &state(), &RunMeta::new("t", "x = 1")).unwrap();
    {
        // What Fletcher-32 does not cover: the step and time attributes.
        let f = hdf5::File::open_rw(&path).unwrap();
        f.attr("time")
            .unwrap()
            .write_scalar(&1.2_f64.next_up())
            .unwrap();
    }
    let e = read_checkpoint(&path).unwrap_err();
    assert!(
        matches!(&e, IoError::Corrupt { what, .. } if what.contains("state_checksum")),
        "{e}"
    );
}

#[test]
fn a_checkpoint_without_checks_from_an_earlier_version_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.h5");
    write_checkpoint(&path, 3, 0.3, &state(), &RunMeta::new("t", "")).unwrap();
    {
        let f = hdf5::File::open_rw(&path).unwrap();
        f.delete_attr("state_checksum").unwrap();
    }
    assert_eq!(read_checkpoint(&path).unwrap().step, 3);
}

#[test]
fn gathers_are_stored_without_filters_and_fields_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.h5");
    let grid = Grid {
        ny: 4,
        nx: 5,
        dy: 1.0,
        dx: 1.0,
        y0: 0.0,
        x0: 0.0,
    };
    let mut w = RunWriter::create(&path, &RunMeta::new("t", ""), &grid).unwrap();
    w.add_field(&Quantity::new("p", "Pa", "pressure", true))
        .unwrap();
    let coords = Array2::zeros((3, 2));
    let traces = Array2::from_shape_fn((3, 600), |(r, k)| (r + k) as f64);
    for recorded in [0, 100, 400, 600] {
        w.write_gather(&Gather {
            name: "shot0".into(),
            coords: coords.view(),
            traces: traces.view(),
            recorded,
            dt: 0.001,
            sources: vec![],
            quantity: Quantity::new("p", "Pa", "pressure", true),
        })
        .unwrap();
    }
    drop(w);
    let f = hdf5::File::open(&path).unwrap();
    assert!(
        f.dataset("receivers/shot0/gather")
            .unwrap()
            .filters()
            .is_empty()
    );
    assert!(!f.dataset("fields/p").unwrap().filters().is_empty());
}
