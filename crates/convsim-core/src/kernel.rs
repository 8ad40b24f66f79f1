//! Kernels: dense taps with an anchor, separable (column x row), and the orientation
//! (correlation or convolution) in which they are applied.
//!
//! # Orientation and anchor
//!
//! With anchor `a` (default `k / 2`, the centre for odd `k`, the right-of-centre tap for even `k`,
//! as in scipy.ndimage and OpenCV) and boundary-extended input `x`, along one axis:
//!
//! ```text
//! Correlate: y[i] = sum_j w[j] * x[i + j - a]      (no flip; what CNN libraries call convolution)
//! Convolve:  y[i] = sum_j w[j] * x[i - j + a]      (kernel flipped; scipy.ndimage.convolve)
//! ```
//!
//! In 2D the same holds per axis. A convolution is a correlation with the kernel rotated by 180
//! degrees and the anchor moved to `k - 1 - a`; plans store that canonical form.
//!
//! ```
//! use convsim_core::{Kernel2, Orientation};
//! use ndarray::array;
//! let k = Kernel2::new(array![[1.0, 2.0, 3.0]]).unwrap();
//! let (taps, anchor) = k.canonical(Orientation::Convolve);
//! assert_eq!(taps, array![[3.0, 2.0, 1.0]]);
//! assert_eq!(anchor, [0, 1]);
//! ```

use ndarray::{Array2, s};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Element, Result};

/// Whether the kernel is flipped before sliding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Orientation {
    /// No flip: `y[i] = sum_j w[j] x[i + j - a]`.
    #[default]
    Correlate,
    /// Flip: `y[i] = sum_j w[j] x[i - j + a]`.
    Convolve,
}

/// A dense 2D kernel with an anchor, axis order `(y, x)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel2<T> {
    taps: Array2<T>,
    anchor: [usize; 2],
}

impl<T: Element> Kernel2<T> {
    /// A kernel anchored at `(ky / 2, kx / 2)`.
    ///
    /// # Errors
    /// If the kernel is empty.
    pub fn new(taps: Array2<T>) -> Result<Self> {
        let (ky, kx) = taps.dim();
        Self::with_anchor(taps, [ky / 2, kx / 2])
    }

    /// A kernel with an explicit anchor `(ay, ax)` (in the frame of `taps` as given).
    ///
    /// # Errors
    /// If the kernel is empty or the anchor lies outside it.
    pub fn with_anchor(taps: Array2<T>, anchor: [usize; 2]) -> Result<Self> {
        let (ky, kx) = taps.dim();
        if ky == 0 || kx == 0 {
            return Err(CoreError::EmptyKernel { shape: [ky, kx] });
        }
        if anchor[0] >= ky || anchor[1] >= kx {
            return Err(CoreError::AnchorOutside {
                anchor,
                shape: [ky, kx],
            });
        }
        Ok(Kernel2 {
            taps: taps.as_standard_layout().into_owned(),
            anchor,
        })
    }

    /// The taps, `(ky, kx)`.
    #[must_use]
    pub fn taps(&self) -> &Array2<T> {
        &self.taps
    }

    /// The anchor `(ay, ax)`.
    #[must_use]
    pub fn anchor(&self) -> [usize; 2] {
        self.anchor
    }

    /// `(ky, kx)`.
    #[must_use]
    pub fn shape(&self) -> [usize; 2] {
        let (ky, kx) = self.taps.dim();
        [ky, kx]
    }

    /// Taps and anchor in the correlation frame: unchanged for `Correlate`, rotated by 180
    /// degrees with the anchor moved to `k - 1 - a` for `Convolve`.
    #[must_use]
    pub fn canonical(&self, o: Orientation) -> (Array2<T>, [usize; 2]) {
        match o {
            Orientation::Correlate => (self.taps.clone(), self.anchor),
            Orientation::Convolve => {
                let [ky, kx] = self.shape();
                (
                    self.taps.slice(s![..;-1, ..;-1]).to_owned(),
                    [ky - 1 - self.anchor[0], kx - 1 - self.anchor[1]],
                )
            }
        }
    }

    /// Splits the kernel into a column and a row factor if it has rank one (within `tol`
    /// relative to its largest tap), so that `taps[i][j] = col[i] * row[j]`. A kernel with a
    /// NaN or infinite tap is never split: the factors would carry the non-finite value into
    /// one row and column only, where the dense product spreads it to every output.
    #[must_use]
    pub fn try_separate(&self, tol: f64) -> Option<SeparableKernel<T>> {
        let [ky, kx] = self.shape();
        // Pivot: the largest tap.
        let (mut pi, mut pj, mut best) = (0, 0, 0.0_f64);
        for ((i, j), v) in self.taps.indexed_iter() {
            let m = v.to_c64().norm();
            if !m.is_finite() {
                return None;
            }
            if m > best {
                (pi, pj, best) = (i, j, m);
            }
        }
        if best == 0.0 {
            return None;
        }
        let p = self.taps[[pi, pj]];
        let col: Vec<T> = (0..ky).map(|i| self.taps[[i, pj]]).collect();
        let pinv = inverse(p);
        let row: Vec<T> = (0..kx).map(|j| self.taps[[pi, j]] * pinv).collect();
        for ((i, j), v) in self.taps.indexed_iter() {
            if (col[i] * row[j] - *v).to_c64().norm() > tol * best {
                return None;
            }
        }
        Some(SeparableKernel {
            col,
            row,
            anchor: self.anchor,
        })
    }

    /// Number of taps that are exactly zero (direct methods skip them).
    #[must_use]
    pub fn zero_taps(&self) -> usize {
        self.taps.iter().filter(|v| **v == T::zero()).count()
    }
}

/// `1 / p` for real or complex `p`, as `conj(p) / |p|^2`.
fn inverse<T: Element>(p: T) -> T {
    use num_traits::One;
    p.conj().scale(T::Real::one() / p.abs_sq())
}

/// A separable kernel `K[i][j] = col[i] * row[j]`: a column (along `y`) times a row (along `x`).
///
/// The fields are public (a struct literal is a valid way to build one), so whatever builds it,
/// a plan checks it once when it is built ([`Kernel::validate`]): factors not empty, anchor
/// inside the kernel. [`SeparableKernel::new`] and [`SeparableKernel::with_anchor`] check the
/// same at construction.
#[derive(Clone, Debug, PartialEq)]
pub struct SeparableKernel<T> {
    /// Factor along `y` (length `ky`).
    pub col: Vec<T>,
    /// Factor along `x` (length `kx`).
    pub row: Vec<T>,
    /// Anchor `(ay, ax)`.
    pub anchor: [usize; 2],
}

impl<T: Element> SeparableKernel<T> {
    /// A separable kernel anchored at the centres `(ky / 2, kx / 2)`.
    ///
    /// # Errors
    /// If either factor is empty.
    pub fn new(col: Vec<T>, row: Vec<T>) -> Result<Self> {
        if col.is_empty() || row.is_empty() {
            return Err(CoreError::EmptyKernel {
                shape: [col.len(), row.len()],
            });
        }
        let anchor = [col.len() / 2, row.len() / 2];
        Ok(SeparableKernel { col, row, anchor })
    }

    /// A separable kernel with an explicit anchor `(ay, ax)`.
    ///
    /// # Errors
    /// If either factor is empty or the anchor lies outside the kernel.
    pub fn with_anchor(col: Vec<T>, row: Vec<T>, anchor: [usize; 2]) -> Result<Self> {
        let k = SeparableKernel { col, row, anchor };
        k.validate()?;
        Ok(k)
    }

    /// Checks the factors are not empty and the anchor lies inside the kernel.
    ///
    /// # Errors
    /// [`CoreError::EmptyKernel`], [`CoreError::AnchorOutside`].
    pub fn validate(&self) -> Result<()> {
        let shape = [self.col.len(), self.row.len()];
        if shape.contains(&0) {
            return Err(CoreError::EmptyKernel { shape });
        }
        if self.anchor[0] >= shape[0] || self.anchor[1] >= shape[1] {
            return Err(CoreError::AnchorOutside {
                anchor: self.anchor,
                shape,
            });
        }
        Ok(())
    }

    /// The dense outer product.
    #[must_use]
    pub fn to_dense(&self) -> Kernel2<T> {
        let taps = Array2::from_shape_fn((self.col.len(), self.row.len()), |(i, j)| {
            self.col[i] * self.row[j]
        });
        Kernel2 {
            taps,
            anchor: self.anchor,
        }
    }
}

/// Any kernel a [`crate::ConvPlan`] accepts.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel<T> {
    /// Dense taps.
    Dense(Kernel2<T>),
    /// Column x row.
    Separable(SeparableKernel<T>),
}

impl<T: Element> Kernel<T> {
    /// Checks the kernel once, whatever built it: a dense kernel is checked by its only
    /// constructors; a separable one (public fields) by [`SeparableKernel::validate`]. Plans and
    /// the reference call this before they read the kernel.
    ///
    /// # Errors
    /// [`CoreError::EmptyKernel`], [`CoreError::AnchorOutside`].
    pub fn validate(&self) -> Result<()> {
        match self {
            Kernel::Dense(_) => Ok(()),
            Kernel::Separable(s) => s.validate(),
        }
    }

    /// The dense form (the outer product for a separable kernel).
    #[must_use]
    pub fn to_dense(&self) -> Kernel2<T> {
        match self {
            Kernel::Dense(k) => k.clone(),
            Kernel::Separable(s) => s.to_dense(),
        }
    }
    /// `(ky, kx)`.
    #[must_use]
    pub fn shape(&self) -> [usize; 2] {
        match self {
            Kernel::Dense(k) => k.shape(),
            Kernel::Separable(s) => [s.col.len(), s.row.len()],
        }
    }
    /// `(ay, ax)`.
    #[must_use]
    pub fn anchor(&self) -> [usize; 2] {
        match self {
            Kernel::Dense(k) => k.anchor(),
            Kernel::Separable(s) => s.anchor,
        }
    }
}

impl<T: Element> From<Kernel2<T>> for Kernel<T> {
    fn from(k: Kernel2<T>) -> Self {
        Kernel::Dense(k)
    }
}

impl<T: Element> From<SeparableKernel<T>> for Kernel<T> {
    fn from(k: SeparableKernel<T>) -> Self {
        Kernel::Separable(k)
    }
}
