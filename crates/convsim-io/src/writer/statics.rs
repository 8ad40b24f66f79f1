//! Static fields: written once, `/static/<name>` of shape `(ny, nx)`, dims `(y, x)`.
//!
//! A field that never changes during a run (a velocity or density model, a time-independent
//! potential) is stored once instead of at every frame; `/static` holds hard links to the `y`
//! and `x` scales so that `xarray.open_dataset(path, group="static", engine="h5netcdf")` finds
//! the coordinates beside the data, as for `/fields`.

use convsim_core::Quantity;
use ndarray::ArrayView2;

use super::{DEFLATE_LEVEL, ORDER_ATTR, RunWriter, SCALE_NAMES, write_quantity_attrs};
use crate::attrs::{get_str, set_str};
use crate::error::{Ctx, IoError, Result};
use crate::ffi;

/// Name of the group of static fields.
pub(crate) const STATIC_GROUP: &str = "static";

impl RunWriter {
    /// Writes the static field `q` (values `data`, shape `(ny, nx)`) as `/static/<name>` with
    /// dims `y, x`, once. Readers find it with [`crate::RunFile::static_fields`], and
    /// [`crate::RunFile::read_frame`] returns it for every frame.
    ///
    /// # Errors
    /// [`IoError::Invalid`] for a wrong shape, an invalid name or one already used by a field
    /// or a static field; [`IoError::Hdf5`].
    pub fn add_static_field(&mut self, q: &Quantity, data: ArrayView2<'_, f64>) -> Result<()> {
        let p = self.path.clone();
        let p = p.as_path();
        let invalid = |message: String| IoError::Invalid {
            path: p.to_path_buf(),
            message,
        };
        let name = q.name.as_str();
        if data.dim() != self.grid.shape() {
            return Err(invalid(format!(
                "static field '{name}' has shape {:?}, the grid is {:?}",
                data.dim(),
                self.grid.shape()
            )));
        }
        if name.is_empty() || name.contains(['/', ',']) || SCALE_NAMES.contains(&name) {
            return Err(invalid(format!(
                "invalid static field name '{name}': must be non-empty, without '/' or ',', and not one of {SCALE_NAMES:?}"
            )));
        }
        let group = if let Ok(g) = self.file.group(STATIC_GROUP) {
            g
        } else {
            let g = self
                .file
                .create_group(STATIC_GROUP)
                .ctx(p, || "creating group /static".into())?;
            for scale in ["y", "x"] {
                g.link_hard(&format!("/scales/{scale}"), scale)
                    .ctx(p, || format!("linking /static/{scale}"))?;
            }
            set_str(p, &g, ORDER_ATTR, "")?;
            g
        };
        let mut order: Vec<String> = get_str(p, &group, ORDER_ATTR)?
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if order.iter().any(|n| n == name) || self.fields.iter().any(|f| f.name == name) {
            return Err(invalid(format!("field '{name}' added twice")));
        }
        let (ny, nx) = self.grid.shape();
        let ds = group
            .new_dataset::<f64>()
            .chunk((ny.max(1), nx.max(1)))
            .shuffle()
            .deflate(DEFLATE_LEVEL)
            .shape((ny, nx))
            .create(name)
            .ctx(p, || format!("creating /static/{name}"))?;
        ds.write(&data.as_standard_layout())
            .ctx(p, || format!("writing /static/{name}"))?;
        write_quantity_attrs(p, &ds, q)?;
        for (i, (scale, label)) in [(&self.y, "y"), (&self.x, "x")].into_iter().enumerate() {
            ffi::attach_scale(ds.id(), scale.id(), i, label)
                .ctx(p, || format!("attaching scale {label} to /static/{name}"))?;
        }
        order.push(name.to_string());
        set_str(p, &group, ORDER_ATTR, &order.join(","))?;
        self.flush()
    }
}

impl RunWriter {
    /// Sets (or replaces) a numeric attribute on `/` (stored as an HDF5 float, e.g.
    /// `threads`, `converged_step`; integers up to 2^53 are exact).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn set_number(&mut self, name: &str, value: f64) -> Result<()> {
        let p = self.path.clone();
        // Integral values as i64, so h5py reads an int.
        if value.fract() == 0.0 && value.abs() < 9.0e15 {
            crate::attrs::set_num(&p, &self.file, name, value as i64)?;
        } else {
            crate::attrs::set_num(&p, &self.file, name, value)?;
        }
        self.flush()
    }
}
