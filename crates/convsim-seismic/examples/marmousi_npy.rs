//! Writes the Marmousi-like velocity model (m/s) as a `.npy` file (little-endian f64, C order,
//! shape `(ny, nx)`), so `scripts/make_marmousi` can store it in HDF5 without this crate linking
//! HDF5 and without a second copy of the generator.
//!
//! `cargo run --release -p convsim-seismic --example marmousi_npy -- NY NX DY DX SEED OUT.npy`

use std::io::Write;

use convsim_core::Grid;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 6 {
        eprintln!("usage: marmousi_npy NY NX DY DX SEED OUT.npy");
        std::process::exit(2);
    }
    let num = |i: usize| -> f64 {
        a[i].parse().unwrap_or_else(|_| {
            eprintln!(
                "marmousi_npy: argument {} = {:?} is not a number",
                i + 1,
                a[i]
            );
            std::process::exit(2)
        })
    };
    let g = Grid {
        ny: num(0) as usize,
        nx: num(1) as usize,
        dy: num(2),
        dx: num(3),
        y0: 0.0,
        x0: 0.0,
    };
    let v = convsim_seismic::model::marmousi_like(&g, num(4) as u64);
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}",
        g.ny, g.nx
    );
    // NPY 1.0: magic, version, u16 header length; header padded so the data is 64-aligned.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 8 * v.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(
        &u16::try_from(header.len())
            .expect("short header")
            .to_le_bytes(),
    );
    out.extend_from_slice(header.as_bytes());
    for x in &v {
        out.extend_from_slice(&x.to_le_bytes());
    }
    let path = &a[5];
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&out))
        .unwrap_or_else(|e| {
            eprintln!("marmousi_npy: cannot write {path}: {e}");
            std::process::exit(2)
        });
}
