//! Attribute helpers shared by the writer, the reader and checkpoints.

use std::path::Path;

use hdf5::Location;

use crate::error::{Ctx, Result};
use crate::ffi;

/// Writes a fixed-length UTF-8 string attribute on `obj` (replacing an existing one).
pub(crate) fn set_str(path: &Path, obj: &Location, name: &str, value: &str) -> Result<()> {
    set_str_sized(path, obj, name, value, 1)
}

/// [`set_str`] with room for values up to `min_size` bytes: a later value that fits is
/// rewritten in place (nothing in the file moves or grows).
pub(crate) fn set_str_sized(
    path: &Path,
    obj: &Location,
    name: &str,
    value: &str,
    min_size: usize,
) -> Result<()> {
    ffi::write_str_attr(obj.id(), name, value, min_size).ctx(path, || {
        format!("writing attribute '{name}' of '{}'", obj.name())
    })
}

/// Reads a string attribute; `None` if absent or not a string.
pub(crate) fn get_str(path: &Path, obj: &Location, name: &str) -> Result<Option<String>> {
    ffi::read_str_attr(obj.id(), name).ctx(path, || format!("reading attribute '{name}'"))
}

/// Writes a scalar numeric attribute (replacing an existing one).
pub(crate) fn set_num<T: hdf5::H5Type>(
    path: &Path,
    obj: &Location,
    name: &str,
    value: T,
) -> Result<()> {
    if let Ok(a) = obj.attr(name) {
        // Rewritten in place when it has the same type (a counter updated every frame):
        // nothing in the object header moves.
        if a.dtype().is_ok_and(|t| t.is::<T>()) && a.shape().is_empty() {
            return a.write_scalar(&value).ctx(path, || {
                format!("writing attribute '{name}' of '{}'", obj.name())
            });
        }
        obj.delete_attr(name)
            .ctx(path, || format!("replacing attribute '{name}'"))?;
    }
    obj.new_attr::<T>()
        .create(name)
        .and_then(|a| a.write_scalar(&value))
        .ctx(path, || {
            format!("writing attribute '{name}' of '{}'", obj.name())
        })
}

/// Reads a scalar numeric attribute; `None` if absent or not convertible.
pub(crate) fn get_num<T: hdf5::H5Type>(obj: &Location, name: &str) -> Option<T> {
    obj.attr(name).ok()?.read_scalar::<T>().ok()
}
