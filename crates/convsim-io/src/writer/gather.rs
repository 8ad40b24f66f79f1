//! Seismic shot gathers: `/receivers/<shot>/` written whole or a block of samples at a time.

use convsim_core::Quantity;
use convsim_core::sim::Gather;
use hdf5::Dataset;

use ndarray::{ArrayView2, s};

use crate::attrs::{get_str, set_num, set_str};
use crate::error::{Ctx, IoError, Result};
use crate::ffi;

use super::{RunWriter, write_quantity_attrs};

/// A shot gather being written: samples `..written` are on disk (`None`: none yet in this
/// session).
pub(super) struct GatherSlot {
    pub(super) name: String,
    pub(super) ds: Dataset,
    pub(super) written: Option<usize>,
}

impl RunWriter {
    /// Writes a complete seismic shot gather under `/receivers/<shot>/` (every sample
    /// recorded, no source positions): a shorthand of [`RunWriter::write_gather`].
    ///
    /// # Errors
    /// As [`RunWriter::write_gather`].
    pub fn write_receivers(
        &mut self,
        shot: &str,
        coords: ArrayView2<'_, f64>,
        traces: ArrayView2<'_, f64>,
        dt: f64,
        trace: &Quantity,
    ) -> Result<()> {
        self.write_gather(&Gather {
            name: shot.into(),
            coords,
            traces,
            recorded: traces.ncols(),
            dt,
            sources: Vec::new(),
            quantity: trace.clone(),
        })
    }

    /// Writes or updates the shot gather `g` under `/receivers/<g.name>/`:
    ///
    /// - `gather` `(receiver, time)`: the traces, dims `receiver, time`; samples not yet
    ///   recorded (`k >= g.recorded`) are NaN, and the attribute `samples_recorded` says how
    ///   many are; `units`, `long_name` from `g.quantity`;
    /// - `time` `(time,)`: the dimension scale `t = k dt` (attribute `dt`), `y` and `x`
    ///   `(receiver,)`: receiver coordinates in the length unit, `receiver`: the index scale;
    /// - attributes of the group: `source_y`, `source_x` (arrays, one value per source of the
    ///   shot, length unit) and `source_count`.
    ///
    /// The first call for a shot creates it (or, after [`RunWriter::resume`], reopens it and
    /// rewrites every sample); later calls write only the samples recorded since, so calling
    /// this at every frame costs what was recorded in between. Flushes the file.
    ///
    /// # Errors
    /// [`IoError::Invalid`] if the shapes disagree (coords `(r, 2)`, `recorded <= nt`), the
    /// name is empty or holds `/`, or an existing gather of that name has another shape;
    /// [`IoError::Hdf5`].
    pub fn write_gather(&mut self, g: &Gather<'_>) -> Result<()> {
        let p = self.path.clone();
        let p = p.as_path();
        let shot = g.name.as_str();
        let (r, nt) = g.traces.dim();
        if g.coords.dim() != (r, 2) || shot.is_empty() || shot.contains('/') || g.recorded > nt {
            return Err(IoError::Invalid {
                path: p.to_path_buf(),
                message: format!(
                    "receivers '{shot}': coords have shape {:?}, traces {:?}, {} sample(s) recorded; expected coords (r, 2) = ({r}, 2), at most {nt} samples recorded and a shot name without '/'",
                    g.coords.dim(),
                    g.traces.dim(),
                    g.recorded
                ),
            });
        }
        let slot = if let Some(i) = self.gathers.iter().position(|s| s.name == shot) {
            i
        } else {
            let ds = self.open_or_create_gather(g)?;
            self.gathers.push(GatherSlot {
                name: shot.into(),
                ds,
                written: None,
            });
            self.gathers.len() - 1
        };
        let slot = &mut self.gathers[slot];
        let what = || format!("writing /receivers/{shot}/gather");
        match slot.written {
            Some(from) if from <= g.recorded => {
                if from < g.recorded {
                    let part = g.traces.slice(s![.., from..g.recorded]);
                    slot.ds
                        .write_slice(&part.as_standard_layout(), s![.., from..g.recorded])
                        .ctx(p, what)?;
                }
            }
            _ => {
                // Whole gather: recorded samples, NaN after them (clears a resumed file's
                // samples from beyond its checkpoint).
                let mut all = g.traces.to_owned();
                all.slice_mut(s![.., g.recorded..]).fill(f64::NAN);
                slot.ds.write(&all).ctx(p, what)?;
            }
        }
        slot.written = Some(g.recorded);
        set_num(p, &slot.ds, "samples_recorded", g.recorded as i64)?;
        self.flush()
    }

    /// Creates the datasets of a new shot, or opens the gather of an existing one (resume).
    fn open_or_create_gather(&mut self, g: &Gather<'_>) -> Result<Dataset> {
        let p = self.path.clone();
        let p = p.as_path();
        let shot = g.name.as_str();
        let (r, nt) = g.traces.dim();
        let group = match self.file.group("receivers") {
            Ok(g) => g,
            Err(_) => self
                .file
                .create_group("receivers")
                .ctx(p, || "creating /receivers".into())?,
        };
        if let Ok(existing) = group.group(shot) {
            let ds = existing
                .dataset("gather")
                .ctx(p, || format!("opening /receivers/{shot}/gather"))?;
            if ds.shape() != [r, nt] {
                return Err(IoError::Invalid {
                    path: p.to_path_buf(),
                    message: format!(
                        "/receivers/{shot}/gather has shape {:?}, the solver records ({r}, {nt})",
                        ds.shape()
                    ),
                });
            }
            return Ok(ds);
        }
        let grp = group
            .create_group(shot)
            .ctx(p, || format!("creating /receivers/{shot}"))?;
        let meta_units = get_str(p, &self.file, "length_units")?.unwrap_or_else(|| "m".into());
        let time_units = get_str(p, &self.file, "time_units")?.unwrap_or_else(|| "s".into());
        let rec_idx: Vec<f64> = (0..r).map(|i| i as f64).collect();
        let receiver = grp
            .new_dataset_builder()
            .with_data(&rec_idx)
            .create("receiver")
            .ctx(p, || "writing receiver index".into())?;
        ffi::set_scale(receiver.id(), "receiver").ctx(p, || "making receiver a scale".into())?;
        set_str(p, &receiver, "units", "1")?;
        set_str(p, &receiver, "long_name", "receiver index")?;
        let t: Vec<f64> = (0..nt).map(|k| k as f64 * g.dt).collect();
        let tds = grp
            .new_dataset_builder()
            .with_data(&t)
            .create("time")
            .ctx(p, || "writing trace time".into())?;
        ffi::set_scale(tds.id(), "time").ctx(p, || "making trace time a scale".into())?;
        set_str(p, &tds, "units", &time_units)?;
        set_str(p, &tds, "standard_name", "time")?;
        set_str(p, &tds, "long_name", "trace time")?;
        set_str(p, &tds, "axis", "T")?;
        set_num(p, &tds, "dt", g.dt)?;
        for (col, name) in [(0, "y"), (1, "x")] {
            let c = g.coords.column(col).to_owned();
            let ds = grp
                .new_dataset_builder()
                .with_data(&c)
                .create(name)
                .ctx(p, || format!("writing receiver {name}"))?;
            set_str(p, &ds, "units", &meta_units)?;
            set_str(p, &ds, "long_name", &format!("receiver {name} coordinate"))?;
            ffi::attach_scale(ds.id(), receiver.id(), 0, "receiver")
                .ctx(p, || "attaching receiver".into())?;
        }
        for (col, name) in [(0, "source_y"), (1, "source_x")] {
            if g.sources.is_empty() {
                break;
            }
            let v: Vec<f64> = g.sources.iter().map(|s| s[col]).collect();
            grp.new_attr::<f64>()
                .shape(v.len())
                .create(name)
                .and_then(|a| a.write_raw(&v))
                .ctx(p, || {
                    format!("writing attribute {name} of /receivers/{shot}")
                })?;
        }
        set_num(p, &grp, "source_count", g.sources.len() as i64)?;
        set_str(p, &grp, "source_units", &meta_units)?;
        // Chunks of whole receiver rows' time spans: a frame's update touches few chunks.
        // No compression: every frame rewrites the chunks it extends, and a compressed chunk
        // that changes size moves in the file, its old space reused before the chunk index
        // on disk is flushed; a kill in between left an index pointing at other bytes
        // ("inflate() failed"). Uncompressed chunks are rewritten in place, so after a kill
        // at any moment each sample holds its old value (NaN) or its new one.
        let ds = grp
            .new_dataset::<f64>()
            .shape((r, nt))
            .chunk((r.clamp(1, 64), nt.clamp(1, 256)))
            .fill_value(f64::NAN)
            .create("gather")
            .ctx(p, || format!("creating /receivers/{shot}/gather"))?;
        write_quantity_attrs(p, &ds, &g.quantity)?;
        ffi::attach_scale(ds.id(), receiver.id(), 0, "receiver")
            .ctx(p, || "attaching receiver".into())?;
        ffi::attach_scale(ds.id(), tds.id(), 1, "time").ctx(p, || "attaching trace time".into())?;
        Ok(ds)
    }
}
