//! Checkpoints: the exact solver state at one step, in a file of the run-file family.
//!
//! Layout: the root attributes of [`RunMeta`] plus `convsim_file = "checkpoint"`, `step` (u64)
//! and `time` (f64); one dataset `/state/<name>` per [`StateArray`] (any rank, f64), and the
//! order of the arrays in the attribute `convsim_order` of `/state`.
//!
//! **Integrity.** A resume continues from these bits, so a damaged checkpoint (a flipped bit on
//! disk or in a copy) must not resume silently into a wrong result. Every state dataset is
//! chunked with HDF5's Fletcher-32 filter (checked by libhdf5, and by h5py, on every read), and
//! the root attribute `state_checksum` holds a 64-bit checksum of the step, the time and every
//! array's name, shape and values (also covering what Fletcher-32 does not: the attributes).
//! [`read_checkpoint`] verifies both and fails with [`IoError::Corrupt`] on a mismatch. The
//! checksum multiplies `(h ^ word)` by an odd constant per 64-bit word, a bijection of `h`, so a
//! change confined to one word always changes it; checkpoints of earlier versions carry
//! neither check and are read as they are.

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
            let mut b = g.new_dataset_builder().with_data(&data);
            if let Some(chunk) = chunk_shape(data.shape()) {
                b = b.chunk(chunk).fletcher32();
            }
            b.create(a.name.as_str())
                .ctx(p, || format!("writing /state/{}", a.name))?;
        }
        set_str(
            p,
            &file,
            CHECKSUM_ATTR,
            &format!("{:016x}", checksum(step, time, state)),
        )?;
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
    let stored_sum = get_str(p, &file, CHECKSUM_ATTR)?;
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
        let data: ArrayD<f64> = ds.read_dyn().map_err(|e| {
            if e.to_string().to_ascii_lowercase().contains("checksum") {
                IoError::Corrupt {
                    path: p.to_path_buf(),
                    what: format!("/state/{name} (Fletcher-32 of its chunks)"),
                }
            } else {
                IoError::Hdf5 {
                    path: p.to_path_buf(),
                    context: format!("reading /state/{name}"),
                    source: e,
                }
            }
        })?;
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
    attrs.remove(CHECKSUM_ATTR);
    if let Some(sum) = stored_sum
        && sum != format!("{:016x}", checksum(step, time, &state))
    {
        return Err(IoError::Corrupt {
            path: p.to_path_buf(),
            what: "the state (step, time and arrays against the stored state_checksum)".into(),
        });
    }
    Ok(Checkpoint {
        step,
        time,
        meta: meta_from_attrs(attrs),
        state,
    })
}

/// Root attribute holding [`checksum`] in hex.
const CHECKSUM_ATTR: &str = "state_checksum";
/// Largest chunk of a state dataset (HDF5 chunks stay below 4 GiB; this also bounds the
/// filter's buffer).
const MAX_CHUNK_BYTES: usize = 16 << 20;

/// Checksum of a checkpoint's content (see the module docs).
fn checksum(step: u64, time: f64, state: &[StateArray]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |w: u64| h = (h ^ w).wrapping_mul(PRIME);
    mix(step);
    mix(time.to_bits());
    for a in state {
        for chunk in a.name.as_bytes().chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            mix(u64::from_le_bytes(w));
        }
        mix(a.data.ndim() as u64);
        for &d in a.data.shape() {
            mix(d as u64);
        }
        for v in &a.data {
            mix(v.to_bits());
        }
    }
    h
}

/// Chunk shape of a state dataset: whole trailing axes, as many leading rows as fit
/// [`MAX_CHUNK_BYTES`] (`None` for an empty or scalar array, stored contiguous).
fn chunk_shape(shape: &[usize]) -> Option<Vec<usize>> {
    if shape.is_empty() || shape.contains(&0) {
        return None;
    }
    let mut chunk = shape.to_vec();
    for i in 0..chunk.len() {
        let rest: usize = chunk[i + 1..].iter().product::<usize>().saturating_mul(8);
        let fit = (MAX_CHUNK_BYTES / rest.max(1)).max(1);
        if chunk[i] > fit {
            chunk[i] = fit;
            for c in &mut chunk[i + 1..] {
                *c = (*c).clamp(1, MAX_CHUNK_BYTES / 8);
            }
            break;
        }
    }
    Some(chunk)
}
