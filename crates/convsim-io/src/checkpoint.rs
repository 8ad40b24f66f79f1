//! Checkpoints: the exact solver state at one step, in a file of the run-file family.
//!
//! Layout: the root attributes of [`RunMeta`] plus `convsim_file = "checkpoint"`, `step` (u64)
//! and `time` (f64); one dataset `/state/<name>` per [`StateArray`] (any rank, f64), and the
//! order of the arrays in the attribute `convsim_order` of `/state`.

use std::path::{Path, PathBuf};

use convsim_core::StateArray;
use ndarray::ArrayD;

use crate::attrs::{get_num, get_str, set_num, set_str};
use crate::error::{Ctx, IoError, Result};
use crate::meta::RunMeta;
use crate::reader::{meta_from_attrs, open_file};
use crate::writer::{ORDER_ATTR, create_file, write_meta};

/// A checkpoint read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Solver step count at the checkpoint.
    pub step: u64,
    /// Simulation time at the checkpoint.
    pub time: f64,
    /// The run's metadata (scenario text etc.), to check a resume matches the run.
    pub meta: RunMeta,
    /// The solver state, in the order it was written.
    pub state: Vec<StateArray>,
}

/// Writes a checkpoint atomically: into a temporary file in the same directory, flushed and
/// synced to disk, then renamed over `path`. A kill at any moment leaves either the previous
/// checkpoint or the new one, never a torn file.
///
/// ```
/// use convsim_core::StateArray;
/// use convsim_io::{read_checkpoint, write_checkpoint, RunMeta};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("ck.h5");
/// let u = StateArray { name: "u".into(), data: ndarray::ArrayD::from_elem(vec![2, 3], 0.5) };
/// write_checkpoint(&path, 42, 4.2, &[u.clone()], &RunMeta::new("diffusion", "")).unwrap();
/// let ck = read_checkpoint(&path).unwrap();
/// assert_eq!((ck.step, ck.time), (42, 4.2));
/// assert_eq!(ck.state, vec![u]);
/// ```
///
/// # Errors
/// [`IoError::Invalid`] for an empty, duplicate or `/`-containing array name;
/// [`IoError::Hdf5`] / [`IoError::Fs`] if writing, syncing or renaming fails.
pub fn write_checkpoint(
    path: impl AsRef<Path>,
    step: u64,
    time: f64,
    state: &[StateArray],
    meta: &RunMeta,
) -> Result<()> {
    let path = path.as_ref();
    for (i, a) in state.iter().enumerate() {
        if a.name.is_empty()
            || a.name.contains('/')
            || a.name.contains(',')
            || state[..i].iter().any(|b| b.name == a.name)
        {
            return Err(IoError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "checkpoint array name '{}' is empty, contains '/' or ',', or is repeated",
                    a.name
                ),
            });
        }
    }
    let tmp = temp_path(path);
    let result = write_into(&tmp, step, time, state, meta).and_then(|()| {
        // Sync the data before the rename so the new name never points at unsynced blocks.
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|source| IoError::Fs {
                path: tmp.clone(),
                context: "syncing checkpoint".into(),
                source,
            })?;
        std::fs::rename(&tmp, path).map_err(|source| IoError::Fs {
            path: path.to_path_buf(),
            context: format!("renaming {} into place", tmp.display()),
            source,
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Persist the rename itself; failure to sync a directory is not fatal on every OS.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

fn write_into(p: &Path, step: u64, time: f64, state: &[StateArray], meta: &RunMeta) -> Result<()> {
    let file = create_file(p)?;
    {
        write_meta(p, &file, meta, "checkpoint")?;
        set_num(p, &file, "step", step)?;
        set_num(p, &file, "time", time)?;
        let g = file
            .create_group("state")
            .ctx(p, || "creating /state".into())?;
        for a in state {
            let data = a.data.as_standard_layout();
            g.new_dataset_builder()
                .with_data(&data)
                .create(a.name.as_str())
                .ctx(p, || format!("writing /state/{}", a.name))?;
        }
        let order = state
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        set_str(p, &g, ORDER_ATTR, &order)?;
        file.flush().ctx(p, || "flushing checkpoint".into())?;
    }
    file.close().ctx(p, || "closing checkpoint".into())
}

/// Reads a checkpoint written by [`write_checkpoint`].
///
/// # Errors
/// [`IoError::NotFound`], [`IoError::Open`], [`IoError::Invalid`] if the file is not a
/// checkpoint, [`IoError::MissingDataset`] if a listed state array is absent.
pub fn read_checkpoint(path: impl AsRef<Path>) -> Result<Checkpoint> {
    let p = path.as_ref();
    let file = open_file(p)?;
    let kind = get_str(p, &file, "convsim_file")?;
    if kind.as_deref() != Some("checkpoint") {
        return Err(IoError::Invalid {
            path: p.to_path_buf(),
            message: format!("not a convsim checkpoint (convsim_file = {kind:?})"),
        });
    }
    let (Some(step), Some(time)) = (get_num::<u64>(&file, "step"), get_num::<f64>(&file, "time"))
    else {
        return Err(IoError::Invalid {
            path: p.to_path_buf(),
            message: "checkpoint without step/time attributes".into(),
        });
    };
    let g = file.group("state").ctx(p, || "opening /state".into())?;
    let order = get_str(p, &g, ORDER_ATTR)?.unwrap_or_default();
    let names: Vec<&str> = order.split(',').filter(|s| !s.is_empty()).collect();
    let mut state = Vec::new();
    for name in &names {
        let ds = g.dataset(name).map_err(|_| IoError::MissingDataset {
            path: p.to_path_buf(),
            dataset: format!("/state/{name}"),
            available: g.member_names().unwrap_or_default(),
        })?;
        let data: ArrayD<f64> = ds.read_dyn().ctx(p, || format!("reading /state/{name}"))?;
        state.push(StateArray {
            name: (*name).to_string(),
            data,
        });
    }
    let mut attrs = std::collections::BTreeMap::new();
    for name in file
        .attr_names()
        .ctx(p, || "listing root attributes".into())?
    {
        if let Some(v) = get_str(p, &file, &name)? {
            attrs.insert(name, v);
        }
    }
    Ok(Checkpoint {
        step,
        time,
        meta: meta_from_attrs(attrs),
        state,
    })
}
