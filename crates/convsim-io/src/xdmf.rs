//! The XDMF 3 sidecar `run.xdmf`: how ParaView and VisIt open a run file.
//!
//! HDF5 alone does not say which datasets form a mesh, so visualisation tools read an XDMF
//! file: XML that describes the grid and points into `run.h5` for the data. The sidecar is a
//! temporal collection with one grid per frame: a `2DRectMesh` topology of `ny x nx` nodes
//! whose coordinates are `/scales/x` and `/scales/y` (`VXVY` geometry), and one nodal scalar
//! attribute per field: a hyperslab selecting frame `k` of `/fields/<name>`, or
//! `/static/<name>` for a static field (the same data at every frame). Paths inside the
//! sidecar are relative to its folder (`run.h5:/fields/u`), so the pair can be moved
//! together. Open it in ParaView with the reader "XDMF Reader" (`Xdmf3ReaderS`) or in VisIt.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{IoError, Result};
use crate::reader::RunFile;

/// Name of the sidecar in a run's folder.
pub const XDMF_FILE: &str = "run.xdmf";

/// XML-escapes text for an attribute value or element content.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the XDMF 3 sidecar of the run file `run` to `out` (see the module docs). The run
/// file is referred to by its file name, so `out` belongs in the same folder.
///
/// # Errors
/// Errors of [`RunFile::open`] and its readers; [`IoError::Fs`] if `out` cannot be written.
pub fn write_xdmf(run: &Path, out: &Path) -> Result<()> {
    let f = RunFile::open(run)?;
    let h5 = esc(&run
        .file_name()
        .map_or_else(|| "run.h5".into(), |n| n.to_string_lossy().into_owned()));
    let times = f.times()?;
    let (ny, nx) = f.grid()?.shape();
    let fields = f.fields()?;
    let statics = f.static_fields()?;
    let n = f.frames();
    let mut x = String::new();
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="utf-8"?>"#);
    let _ = writeln!(
        x,
        r#"<Xdmf xmlns:xi="http://www.w3.org/2001/XInclude" Version="3.0">"#
    );
    let _ = writeln!(x, "  <Domain>");
    let _ = writeln!(
        x,
        r#"    <Grid Name="run" GridType="Collection" CollectionType="Temporal">"#
    );
    for (k, t) in times.iter().enumerate().take(n) {
        let _ = writeln!(x, r#"      <Grid Name="frame{k}" GridType="Uniform">"#);
        let _ = writeln!(x, r#"        <Time Value="{t:e}"/>"#);
        let _ = writeln!(
            x,
            r#"        <Topology TopologyType="2DRectMesh" Dimensions="{ny} {nx}"/>"#
        );
        let _ = writeln!(x, r#"        <Geometry GeometryType="VXVY">"#);
        for (name, len) in [("x", nx), ("y", ny)] {
            let _ = writeln!(
                x,
                r#"          <DataItem Format="HDF" NumberType="Float" Precision="8" Dimensions="{len}">{h5}:/scales/{name}</DataItem>"#
            );
        }
        let _ = writeln!(x, "        </Geometry>");
        for d in &fields {
            let name = esc(&d.quantity.name);
            let prec = if d.dtype == "f32" { 4 } else { 8 };
            let t_len = d.shape.first().copied().unwrap_or(n);
            let _ = writeln!(
                x,
                r#"        <Attribute Name="{name}" AttributeType="Scalar" Center="Node">"#
            );
            let _ = writeln!(
                x,
                r#"          <DataItem ItemType="HyperSlab" Dimensions="1 {ny} {nx}" Type="HyperSlab">"#
            );
            let _ = writeln!(
                x,
                r#"            <DataItem Dimensions="3 3" Format="XML">{k} 0 0 1 1 1 1 {ny} {nx}</DataItem>"#
            );
            let _ = writeln!(
                x,
                r#"            <DataItem Format="HDF" NumberType="Float" Precision="{prec}" Dimensions="{t_len} {ny} {nx}">{h5}:/fields/{name}</DataItem>"#
            );
            let _ = writeln!(x, "          </DataItem>");
            let _ = writeln!(x, "        </Attribute>");
        }
        for d in &statics {
            let name = esc(&d.quantity.name);
            let _ = writeln!(
                x,
                r#"        <Attribute Name="{name}" AttributeType="Scalar" Center="Node">"#
            );
            let _ = writeln!(
                x,
                r#"          <DataItem Format="HDF" NumberType="Float" Precision="8" Dimensions="{ny} {nx}">{h5}:/static/{name}</DataItem>"#
            );
            let _ = writeln!(x, "        </Attribute>");
        }
        let _ = writeln!(x, "      </Grid>");
    }
    let _ = writeln!(x, "    </Grid>");
    let _ = writeln!(x, "  </Domain>");
    let _ = writeln!(x, "</Xdmf>");
    std::fs::write(out, x).map_err(|source| IoError::Fs {
        path: out.to_path_buf(),
        context: "writing the XDMF sidecar".into(),
        source,
    })
}
