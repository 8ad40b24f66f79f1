//! Training data: snapshot pairs `(u_t, u_{t+k})` as arrays, and the seeded train/validation
//! split.
//!
//! This crate does not read files: the scenario layer reads a run's HDF5 fields and hands them
//! over as a `(t, y, x)` series ([`SnapshotPairs::from_series`]) or as ready-made pairs, through
//! the [`PairSource`] trait if it wants to defer the reading.
//!
//! ```
//! use convsim_cnn::SnapshotPairs;
//! use ndarray::Array3;
//! // 10 snapshots; inputs are two consecutive time levels (a wave equation), target one step on.
//! let series = Array3::<f64>::from_shape_fn((10, 8, 8), |(t, y, x)| (t + y + x) as f64);
//! let pairs = SnapshotPairs::from_series(series.view(), 2, 1).unwrap();
//! assert_eq!(pairs.len(), 8);
//! assert_eq!(pairs.inputs().dim(), (8, 2, 8, 8));
//! assert_eq!(pairs.targets()[[0, 0, 0, 0]], 2.0); // u_2 at the origin
//! ```

use ndarray::{Array4, ArrayView3, ArrayView4, Axis, s};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::{CnnError, Float, Result};

/// Input/target pairs: inputs `(n, c_in, h, w)`, targets `(n, c_out, h, w)`.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotPairs<T> {
    inputs: Array4<T>,
    targets: Array4<T>,
}

/// Anything that can produce snapshot pairs (the scenario layer implements it for run files).
pub trait PairSource<T: Float> {
    /// Loads the pairs.
    ///
    /// # Errors
    /// Whatever the source can get wrong (missing file or field), as a [`CnnError`].
    fn load_pairs(&self) -> Result<SnapshotPairs<T>>;
}

impl<T: Float> PairSource<T> for SnapshotPairs<T> {
    fn load_pairs(&self) -> Result<SnapshotPairs<T>> {
        Ok(self.clone())
    }
}

impl<T: Float> SnapshotPairs<T> {
    /// Pairs from inputs and targets.
    ///
    /// # Errors
    /// Different sample counts or grids, no samples, or non-finite values.
    pub fn new(inputs: Array4<T>, targets: Array4<T>) -> Result<Self> {
        let (n, c, h, w) = inputs.dim();
        let (nt, ct, ht, wt) = targets.dim();
        if n == 0 || c == 0 || h == 0 || w == 0 {
            return Err(CnnError::Shape {
                what: "inputs",
                actual: vec![n, c, h, w],
                expected: "(samples, channels, h, w), all at least 1".into(),
            });
        }
        if nt != n || ht != h || wt != w || ct == 0 {
            return Err(CnnError::Shape {
                what: "targets",
                actual: vec![nt, ct, ht, wt],
                expected: format!("({n}, channels >= 1, {h}, {w}) to match the inputs"),
            });
        }
        if let Some(bad) = inputs.iter().chain(targets.iter()).find(|v| !v.is_finite()) {
            return Err(CnnError::InvalidParameter {
                name: "data",
                value: format!("{bad:?}"),
                allowed: "snapshot values must be finite",
            });
        }
        Ok(SnapshotPairs {
            inputs: inputs.as_standard_layout().into_owned(),
            targets: targets.as_standard_layout().into_owned(),
        })
    }

    /// Pairs from a time series `(t, y, x)`: the input at time `t` stacks `history` consecutive
    /// snapshots `u_{t-history+1}, ..., u_t` as channels (oldest first), the target is
    /// `u_{t+lag}`.
    ///
    /// # Errors
    /// `history` or `lag` zero, or fewer than `history + lag` snapshots.
    pub fn from_series(series: ArrayView3<'_, T>, history: usize, lag: usize) -> Result<Self> {
        if history == 0 || lag == 0 {
            return Err(CnnError::InvalidParameter {
                name: if history == 0 { "history" } else { "lag" },
                value: "0".into(),
                allowed: "it must be at least 1",
            });
        }
        let (nt, h, w) = series.dim();
        if nt < history + lag {
            return Err(CnnError::NotEnoughData(format!(
                "{nt} snapshots, but history {history} + lag {lag} needs at least {}",
                history + lag
            )));
        }
        let n = nt - history - lag + 1;
        let mut inputs = Array4::zeros((n, history, h, w));
        let mut targets = Array4::zeros((n, 1, h, w));
        for i in 0..n {
            inputs
                .index_axis_mut(Axis(0), i)
                .assign(&series.slice(s![i..i + history, .., ..]));
            targets
                .slice_mut(s![i, 0, .., ..])
                .assign(&series.index_axis(Axis(0), i + history - 1 + lag));
        }
        Self::new(inputs, targets)
    }

    /// Number of pairs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inputs.dim().0
    }

    /// `true` if there are no pairs (never, for a constructed value).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inputs `(n, c_in, h, w)`.
    #[must_use]
    pub fn inputs(&self) -> ArrayView4<'_, T> {
        self.inputs.view()
    }

    /// Targets `(n, c_out, h, w)`.
    #[must_use]
    pub fn targets(&self) -> ArrayView4<'_, T> {
        self.targets.view()
    }

    /// The pairs at `idx`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    #[must_use]
    pub fn select(&self, idx: &[usize]) -> SnapshotPairs<T> {
        SnapshotPairs {
            inputs: self.inputs.select(Axis(0), idx),
            targets: self.targets.select(Axis(0), idx),
        }
    }

    /// Splits into `(train, validation)`: a seeded shuffle, then the last
    /// `round(val_fraction * n)` pairs (at least 1 if `val_fraction > 0`) go to validation.
    ///
    /// # Errors
    /// `val_fraction` outside `[0, 1)`, or a split that leaves no training pair.
    pub fn split(
        &self,
        val_fraction: f64,
        seed: u64,
    ) -> Result<(SnapshotPairs<T>, Option<SnapshotPairs<T>>)> {
        if !(0.0..1.0).contains(&val_fraction) {
            return Err(CnnError::InvalidParameter {
                name: "val_fraction",
                value: val_fraction.to_string(),
                allowed: "it must lie in [0, 1)",
            });
        }
        let n = self.len();
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let n_val = if val_fraction > 0.0 {
            ((val_fraction * n as f64).round() as usize).max(1)
        } else {
            0
        };
        if n_val >= n {
            return Err(CnnError::NotEnoughData(format!(
                "{n} pairs cannot be split with val_fraction {val_fraction}: no training pair would remain"
            )));
        }
        let train = self.select(&idx[..n - n_val]);
        let val = (n_val > 0).then(|| self.select(&idx[n - n_val..]));
        Ok((train, val))
    }
}
