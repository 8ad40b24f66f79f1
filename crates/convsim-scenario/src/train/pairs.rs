//! Snapshot pairs read from a run file: [`RunPairs`] implements convsim-cnn's `PairSource`.

use std::path::{Path, PathBuf};

use convsim_cnn::{CnnError, Float, PairSource, SnapshotPairs};
use ndarray::{Array3, s};

use crate::error::{Result, ScenarioError};

/// Evenly spaced frames of one field.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// `(t, y, x)`.
    pub data: Array3<f64>,
    /// Solver steps between frames.
    pub every: u64,
    /// Simulation time between frames.
    pub frame_dt: f64,
}

/// Pairs `(u_{t-history+1..=t}, u_{t+lag})` of field `field` of a run file, frames `skip..`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPairs {
    /// The run file.
    pub path: PathBuf,
    /// Field name (as in `/fields/<name>`).
    pub field: String,
    /// Input time levels.
    pub history: usize,
    /// Frames from the newest input to the target.
    pub lag: usize,
    /// Frames dropped at the start.
    pub skip: usize,
}

impl RunPairs {
    /// Reads the field's frames `skip..` as a `(t, y, x)` series, with errors naming the file
    /// and what is wrong: no file, no such field (listing those that exist), too few frames.
    /// Only the frames evenly spaced in steps are kept (a run whose step count is not a
    /// multiple of `output.every` ends with a shorter interval, which is dropped).
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] (key `data.run`, `data.field` or `data.lag`).
    pub fn read_series(&self, file_for_messages: &str) -> Result<Series> {
        let bad = |key: &str, value: String, allowed: String| {
            ScenarioError::invalid(file_for_messages, key, value, allowed)
        };
        let p = self.path.display().to_string();
        let f = convsim_io::RunFile::open(&self.path).map_err(|e| {
            bad(
                "data.run",
                format!("{p:?}"),
                format!("cannot open it ({e}); allowed: a convsim run file"),
            )
        })?;
        let names: Vec<String> = f
            .fields()
            .map_err(|e| ScenarioError::io(&self.path, e))?
            .into_iter()
            .map(|i| i.path.rsplit('/').next().unwrap_or_default().to_string())
            .collect();
        if !names.contains(&self.field) {
            return Err(bad(
                "data.field",
                format!("{:?}", self.field),
                format!("{p} has no such field; allowed: {}", names.join(", ")),
            ));
        }
        let steps = f.steps().map_err(|e| ScenarioError::io(&self.path, e))?;
        let times = f.times().map_err(|e| ScenarioError::io(&self.path, e))?;
        let (every, frame_dt) = if steps.len() > self.skip + 1 {
            (
                steps[self.skip + 1] - steps[self.skip],
                times[self.skip + 1] - times[self.skip],
            )
        } else {
            (1, 0.0)
        };
        let mut frames = steps.len().min(f.frames());
        while frames > self.skip + 1 && steps[frames - 1] - steps[frames - 2] != every {
            frames -= 1;
        }
        let need = self.skip + self.history + self.lag;
        if frames < need {
            return Err(bad(
                "data.lag",
                self.lag.to_string(),
                format!(
                    "{p} has {} frames, but skip {} + history {} + lag {} (times the rollout loss steps) needs at least {need}; allowed: more frames or a smaller lag",
                    frames, self.skip, self.history, self.lag
                ),
            ));
        }
        let series = f
            .read_field(&self.field)
            .map_err(|e| ScenarioError::io(&self.path, e))?;
        Ok(Series {
            data: series.slice(s![self.skip..frames, .., ..]).to_owned(),
            every,
            frame_dt,
        })
    }

    /// The run file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl<T: Float> PairSource<T> for RunPairs {
    fn load_pairs(&self) -> convsim_cnn::Result<SnapshotPairs<T>> {
        let series = self
            .read_series(&self.path.display().to_string())
            .map_err(|e| CnnError::NotEnoughData(e.to_string()))?;
        SnapshotPairs::from_series(series.data.mapv(T::of).view(), self.history, self.lag)
    }
}
