//! Export of a learned stencil as a small TOML file a solver scenario can load.
//!
//! ```toml
//! format = "convsim-stencil"
//! version = 1
//! kind = "step"              # "step": u_{n+1} = K * u_n; "operator": du/dt = L * u
//! orientation = "correlate"  # taps are applied without a flip, y[i] = sum_j w[j] x[i + j - a]
//! anchor = [1, 1]            # (row, column) of the tap applied to the centre sample
//! spacing = [1.0, 1.0]       # grid spacing (hy, hx) the stencil was learned on
//! dt = 0.1                   # time step of a "step" stencil (optional)
//! taps = [[0.0, 0.2, 0.0], [0.2, 0.2, 0.2], [0.0, 0.2, 0.0]]
//! moments = [[...]]          # m_ij = sum w(p, q) (p hy)^i (q hx)^j / (i! j!)
//! description = "learned by convsim-cnn ..."
//! ```
//!
//! ```
//! use convsim_cnn::export::{StencilFile, StencilKind};
//! use ndarray::array;
//! let k = array![[0.0, 0.2, 0.0], [0.2, 0.2, 0.2], [0.0, 0.2, 0.0]];
//! let f = StencilFile::new(StencilKind::Step, k.view(), [1, 1], [1.0, 1.0], Some(0.2), "example").unwrap();
//! let text = f.to_toml_string().unwrap();
//! let back = StencilFile::from_toml_str(&text, "memory").unwrap();
//! assert_eq!(back, f);
//! // The operator of the step: (K - delta) / dt is the 5-point Laplacian.
//! let lap = back.operator().unwrap();
//! assert!((lap.taps()[[1, 1]] + 4.0).abs() < 1e-12 && (lap.taps()[[0, 1]] - 1.0).abs() < 1e-12);
//! ```

use std::path::Path;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use convsim_core::Kernel2;

use crate::moments::moment_matrix;
use crate::{CnnError, Result};

/// The format tag written to and required in every stencil file.
pub const FORMAT: &str = "convsim-stencil";

/// What the taps represent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StencilKind {
    /// A whole time step: `u_{n+1} = K * u_n`.
    Step,
    /// A spatial operator: `du/dt = L * u`.
    Operator,
}

/// A stencil file (see the [module docs](self) for the layout).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StencilFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// What the taps represent.
    pub kind: StencilKind,
    /// Always `"correlate"`: the taps are applied without a flip.
    pub orientation: String,
    /// `(row, column)` of the tap applied to the centre sample.
    pub anchor: [usize; 2],
    /// Grid spacing `(hy, hx)` in the units of the run the stencil was learned from.
    pub spacing: [f64; 2],
    /// Time step of a `step` stencil, in the run's time unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dt: Option<f64>,
    /// Taps, one row per inner list.
    pub taps: Vec<Vec<f64>>,
    /// The moment matrix of the taps (informational; recomputed and checked on load).
    pub moments: Vec<Vec<f64>>,
    /// Free text: where the stencil comes from.
    #[serde(default)]
    pub description: String,
}

fn rows(a: ArrayView2<'_, f64>) -> Vec<Vec<f64>> {
    a.outer_iter().map(|r| r.to_vec()).collect()
}

impl StencilFile {
    /// A stencil file for `taps` with `anchor` on `spacing`; the moments are computed here.
    ///
    /// # Errors
    /// Empty taps, an anchor outside them, non-finite taps, or a non-positive spacing or `dt`.
    pub fn new(
        kind: StencilKind,
        taps: ArrayView2<'_, f64>,
        anchor: [usize; 2],
        spacing: [f64; 2],
        dt: Option<f64>,
        description: &str,
    ) -> Result<Self> {
        let f = StencilFile {
            format: FORMAT.into(),
            version: 1,
            kind,
            orientation: "correlate".into(),
            anchor,
            spacing,
            dt,
            taps: rows(taps),
            moments: rows(moment_matrix(taps, anchor, spacing).view()),
            description: description.into(),
        };
        f.validate("stencil")?;
        Ok(f)
    }

    fn err(path: &str, reason: impl Into<String>) -> CnnError {
        CnnError::StencilFile {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The taps as an array `(kh, kw)`.
    ///
    /// # Errors
    /// Ragged or empty rows.
    pub fn taps_array(&self) -> Result<Array2<f64>> {
        let kh = self.taps.len();
        let kw = self.taps.first().map_or(0, Vec::len);
        if kh == 0 || kw == 0 || self.taps.iter().any(|r| r.len() != kw) {
            return Err(Self::err(
                "stencil",
                "`taps` must be a non-empty rectangular list of rows",
            ));
        }
        Ok(Array2::from_shape_fn((kh, kw), |(i, j)| self.taps[i][j]))
    }

    fn validate(&self, path: &str) -> Result<()> {
        if self.format != FORMAT {
            return Err(Self::err(
                path,
                format!("`format` is \"{}\"; expected \"{FORMAT}\"", self.format),
            ));
        }
        if self.version != 1 {
            return Err(Self::err(
                path,
                format!("`version` is {}; this build reads version 1", self.version),
            ));
        }
        if self.orientation != "correlate" {
            return Err(Self::err(
                path,
                format!(
                    "`orientation` is \"{}\"; expected \"correlate\"",
                    self.orientation
                ),
            ));
        }
        let taps = self
            .taps_array()
            .map_err(|_| Self::err(path, "`taps` must be a non-empty rectangular list of rows"))?;
        let (kh, kw) = taps.dim();
        if self.anchor[0] >= kh || self.anchor[1] >= kw {
            return Err(Self::err(
                path,
                format!("`anchor` {:?} lies outside the {kh}x{kw} taps", self.anchor),
            ));
        }
        if taps.iter().any(|v| !v.is_finite()) {
            return Err(Self::err(path, "`taps` contains a non-finite value"));
        }
        if self.spacing.iter().any(|h| !(*h > 0.0 && h.is_finite())) {
            return Err(Self::err(
                path,
                format!("`spacing` {:?} must be positive", self.spacing),
            ));
        }
        if let Some(dt) = self.dt
            && !(dt > 0.0 && dt.is_finite())
        {
            return Err(Self::err(path, format!("`dt` = {dt} must be positive")));
        }
        Ok(())
    }

    /// Serialises to TOML.
    ///
    /// # Errors
    /// Never for a validated value; a serialiser failure is reported as a stencil-file error.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Self::err("stencil", e.to_string()))
    }

    /// Parses and validates TOML text; `path` names the source in errors.
    ///
    /// # Errors
    /// Malformed TOML, unknown keys, or invalid values, naming the key.
    pub fn from_toml_str(text: &str, path: &str) -> Result<Self> {
        let f: StencilFile = toml::from_str(text).map_err(|e| Self::err(path, e.to_string()))?;
        f.validate(path)?;
        Ok(f)
    }

    /// Writes the file.
    ///
    /// # Errors
    /// I/O failures, naming the path.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = self.to_toml_string()?;
        std::fs::write(path, text)
            .map_err(|e| Self::err(&path.display().to_string(), e.to_string()))
    }

    /// Reads and validates a file.
    ///
    /// # Errors
    /// I/O failures, malformed TOML, unknown keys or invalid values, naming the path and key.
    pub fn load(path: &Path) -> Result<Self> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Self::err(&p, e.to_string()))?;
        Self::from_toml_str(&text, &p)
    }

    /// The taps as a core kernel (correlation frame, with the file's anchor).
    ///
    /// # Errors
    /// Invalid taps.
    pub fn kernel(&self) -> Result<Kernel2<f64>> {
        Ok(Kernel2::with_anchor(self.taps_array()?, self.anchor)?)
    }

    /// The spatial operator `L` with `du/dt = L * u`: the taps themselves for an `operator`
    /// file, `(K - delta) / dt` for a `step` file.
    ///
    /// # Errors
    /// A `step` file without `dt`.
    pub fn operator(&self) -> Result<Kernel2<f64>> {
        let mut t = self.taps_array()?;
        if self.kind == StencilKind::Step {
            let dt = self.dt.ok_or_else(|| {
                Self::err(
                    "stencil",
                    "a `step` stencil needs `dt` to give its operator",
                )
            })?;
            t[[self.anchor[0], self.anchor[1]]] -= 1.0;
            t.mapv_inplace(|v| v / dt);
        }
        Ok(Kernel2::with_anchor(t, self.anchor)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn bad_files_are_clear_errors() {
        let good = StencilFile::new(
            StencilKind::Operator,
            array![[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]].view(),
            [1, 1],
            [1.0, 1.0],
            None,
            "",
        )
        .unwrap();
        let text = good.to_toml_string().unwrap();
        let e = StencilFile::from_toml_str(
            &text.replace("format = \"convsim-stencil\"", "format = \"x\""),
            "a.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("a.toml") && e.contains("format"), "{e}");
        let e = StencilFile::from_toml_str(&format!("{text}\nbogus = 1\n"), "a.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = StencilFile::from_toml_str(
            &text.replace("anchor = [1, 1]", "anchor = [5, 1]"),
            "a.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("anchor"), "{e}");
        assert!(good.operator().unwrap().taps()[[1, 1]] == -4.0);
    }
}
