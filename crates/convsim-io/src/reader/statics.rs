//! Reading static fields (`/static/<name>`, written once; see `RunWriter::add_static_field`).

use ndarray::Array2;

use super::{DatasetInfo, RunFile};
use crate::error::{Ctx, IoError, Result};
use crate::writer::{STATIC_GROUP, member_order};

impl RunFile {
    /// Names of the static fields (none in files written before they existed, where such
    /// fields were time series under `/fields`).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn static_names(&self) -> Result<Vec<String>> {
        match self.file.group(STATIC_GROUP) {
            Ok(g) => member_order(&self.path, &g),
            Err(_) => Ok(Vec::new()),
        }
    }

    /// The static fields, in the order they were written (shape `(ny, nx)`).
    ///
    /// # Errors
    /// [`IoError::Hdf5`].
    pub fn static_fields(&self) -> Result<Vec<DatasetInfo>> {
        self.static_names()?
            .iter()
            .map(|n| self.info(STATIC_GROUP, n))
            .collect()
    }

    /// The static field `name`, shape `(ny, nx)`.
    ///
    /// # Errors
    /// [`IoError::MissingDataset`] listing the static fields, [`IoError::Hdf5`].
    pub fn read_static(&self, name: &str) -> Result<Array2<f64>> {
        let names = self.static_names()?;
        if !names.iter().any(|n| n == name) {
            return Err(IoError::MissingDataset {
                path: self.path.clone(),
                dataset: format!("/{STATIC_GROUP}/{name}"),
                available: names
                    .iter()
                    .map(|n| format!("/{STATIC_GROUP}/{n}"))
                    .collect(),
            });
        }
        self.file
            .dataset(&format!("{STATIC_GROUP}/{name}"))
            .and_then(|d| d.read_2d::<f64>())
            .ctx(&self.path, || format!("reading /{STATIC_GROUP}/{name}"))
    }

    /// `true` if `name` is a static field of this file.
    pub(crate) fn is_static(&self, name: &str) -> bool {
        !self.fields.iter().any(|n| n == name)
            && self
                .static_names()
                .is_ok_and(|v| v.iter().any(|n| n == name))
    }
}
