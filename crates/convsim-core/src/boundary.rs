//! Boundary (padding) modes and the closed-form index maps behind them.
//!
//! A mode is defined by the sequence it produces when `[a b c d]` is extended by two samples on
//! each side; other libraries' names are aliases only:
//!
//! | convsim | left pad, data, right pad | scipy.ndimage | numpy.pad | OpenCV | PyTorch |
//! |---|---|---|---|---|---|
//! | `Zero` / `Constant(v)` | `v v / a b c d / v v` | constant | constant | CONSTANT | zeros |
//! | `Replicate` | `a a / a b c d / d d` | nearest | edge | REPLICATE | replicate |
//! | `Mirror` (edge not repeated) | `c b / a b c d / c b` | mirror | reflect | `REFLECT_101` | reflect |
//! | `Symmetric` (edge repeated) | `b a / a b c d / d c` | reflect | symmetric | REFLECT | - |
//! | `Periodic` | `c d / a b c d / a b` | wrap | wrap | WRAP | circular |
//! | `Antisymmetric` (odd mirror) | `-c -b / a b c d / -c -b` | - | - | - | - |
//!
//! Padding wider than the data follows the periodic closed form of each mode (period `2n-2` for
//! `Mirror` and `Antisymmetric`, `2n` for `Symmetric`, `n` for `Periodic`), never iterated copies.
//!
//! ```
//! use convsim_core::{pad1, Boundary};
//! let x = [1.0, 2.0, 3.0, 4.0];
//! assert_eq!(pad1(&x, 2, 2, Boundary::Mirror, Boundary::Mirror), [3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]);
//! assert_eq!(pad1(&x, 2, 2, Boundary::Antisymmetric, Boundary::Antisymmetric), [-3.0, -2.0, 1.0, 2.0, 3.0, 4.0, -3.0, -2.0]);
//! ```

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::Element;

/// How values outside the data are made up. See the [module docs](self) for the sequences.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    /// Zeros outside (`Constant(0)`).
    #[default]
    Zero,
    /// A constant value outside (for complex data, the real value `v + 0i`).
    Constant(f64),
    /// The edge sample repeated.
    Replicate,
    /// Mirror about the edge sample, which is not repeated (`c b / a b c d / c b`).
    Mirror,
    /// Mirror about the edge between samples; the edge sample is repeated (`b a / a b c d / d c`).
    Symmetric,
    /// The data repeats with period `n`.
    Periodic,
    /// Odd mirror about the edge sample (`-c -b / a b c d / -c -b`): a zero Dirichlet value on
    /// the grid edge.
    Antisymmetric,
    /// The input already holds this many ghost cells on this side, filled by someone else (the
    /// neighbouring tile of a domain decomposition): they are used as they are and are not part
    /// of the output. A [`crate::ConvPlan`] accepts it on any side; see its docs and the user
    /// guide's conventions page ("Halo tiles"). It produces no padding of its own, so the index
    /// maps ([`source_index`], [`pad`]) do not accept it.
    Halo(usize),
}

impl Boundary {
    /// The canonical lowercase name used in scenario files and recipes.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Boundary::Zero => "zero",
            Boundary::Constant(_) => "constant",
            Boundary::Replicate => "replicate",
            Boundary::Mirror => "mirror",
            Boundary::Symmetric => "symmetric",
            Boundary::Periodic => "periodic",
            Boundary::Antisymmetric => "antisymmetric",
            Boundary::Halo(_) => "halo",
        }
    }

    /// Parses a mode name: the convsim names, plus the aliases of scipy.ndimage, numpy.pad,
    /// OpenCV and PyTorch listed in the module table. `constant` needs a value and is written
    /// `constant:1.5`. Returns `None` for anything else, including `Halo`: ghost cells are a
    /// property of a tile built by a program, not a mode a scenario file can ask for. Aliases that mean different things in
    /// different libraries (`reflect`) are not accepted: say `mirror` or `symmetric`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Boundary> {
        let lower = name.trim().to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("constant:") {
            return v.trim().parse().ok().map(Boundary::Constant);
        }
        Some(match lower.as_str() {
            "zero" | "zeros" => Boundary::Zero,
            "replicate" | "nearest" | "edge" => Boundary::Replicate,
            "mirror" | "reflect_101" | "reflect101" => Boundary::Mirror,
            "symmetric" => Boundary::Symmetric,
            "periodic" | "wrap" | "circular" => Boundary::Periodic,
            "antisymmetric" => Boundary::Antisymmetric,
            _ => return None,
        })
    }

    /// All names [`Boundary::parse`] accepts, for error messages.
    pub const NAMES: &'static str =
        "zero, constant:<value>, replicate, mirror, symmetric, periodic, antisymmetric";
}

/// Where a padded sample comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Source {
    /// The data sample at this index.
    Index(usize),
    /// Minus the data sample at this index.
    Negated(usize),
    /// A constant.
    Constant(f64),
}

/// Maps a position `i` (possibly outside `0..n`) to its source under boundary `b`, in closed
/// form. Positions inside `0..n` map to themselves whatever the mode.
///
/// # Panics
/// If `n == 0`, or if `i` lies outside `0..n` on a [`Boundary::Halo`] side (a halo has no values
/// beyond its ghost cells; plans crop them from the input instead).
#[must_use]
#[inline]
pub fn source_index(i: isize, n: usize, b: Boundary) -> Source {
    assert!(n > 0, "source_index: empty axis");
    let ni = n as isize;
    if (0..ni).contains(&i) {
        return Source::Index(i as usize);
    }
    match b {
        Boundary::Zero => Source::Constant(0.0),
        Boundary::Constant(v) => Source::Constant(v),
        Boundary::Replicate => Source::Index(i.clamp(0, ni - 1) as usize),
        Boundary::Periodic => Source::Index(i.rem_euclid(ni) as usize),
        Boundary::Symmetric => {
            let m = i.rem_euclid(2 * ni);
            Source::Index(if m < ni { m } else { 2 * ni - 1 - m } as usize)
        }
        Boundary::Mirror | Boundary::Antisymmetric => {
            if n == 1 {
                return if b == Boundary::Mirror {
                    Source::Index(0)
                } else {
                    Source::Negated(0)
                };
            }
            let p = 2 * ni - 2;
            let m = i.rem_euclid(p);
            if m < ni {
                // Even number of reflections: the sample itself (for the odd mirror too).
                Source::Index(m as usize)
            } else if b == Boundary::Mirror {
                Source::Index((p - m) as usize)
            } else {
                Source::Negated((p - m) as usize)
            }
        }
        Boundary::Halo(g) => panic!(
            "source_index: position {i} lies outside an axis of {n} samples on a Halo({g}) side; \
             a halo provides no padding (ConvPlan crops the ghost cells instead)"
        ),
    }
}

/// Value of `data` extended by boundary `b` at position `i` (see [`source_index`]).
#[inline]
pub fn value_at<T: Element>(data: &[T], i: isize, b: Boundary) -> T {
    match source_index(i, data.len(), b) {
        Source::Index(k) => data[k],
        Source::Negated(k) => -data[k],
        Source::Constant(v) => T::from_f64(v),
    }
}

/// The boundary on each side of one axis.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Sides {
    /// Before index 0 (top for `y`, left for `x`).
    pub lo: Boundary,
    /// After index `n - 1` (bottom for `y`, right for `x`).
    pub hi: Boundary,
}

impl Sides {
    /// The same mode on both sides.
    #[must_use]
    pub const fn both(b: Boundary) -> Self {
        Sides { lo: b, hi: b }
    }

    /// The mode that applies at position `i` of an axis of length `n`.
    #[must_use]
    #[inline]
    pub fn at(&self, i: isize, n: usize) -> Boundary {
        if i < 0 {
            self.lo
        } else if i >= n as isize {
            self.hi
        } else {
            // Inside the data the mode is irrelevant; either side gives the sample.
            self.lo
        }
    }

    /// `true` if both sides are `Periodic`; a periodic axis must be periodic on both sides.
    #[must_use]
    pub fn is_periodic(&self) -> bool {
        self.lo == Boundary::Periodic && self.hi == Boundary::Periodic
    }

    /// Ghost cells the input holds before and after the data (`[lo, hi]`): the widths of
    /// [`Boundary::Halo`] sides, 0 elsewhere.
    #[must_use]
    pub fn ghosts(&self) -> [usize; 2] {
        let g = |b: Boundary| if let Boundary::Halo(g) = b { g } else { 0 };
        [g(self.lo), g(self.hi)]
    }

    /// `true` if either side is a [`Boundary::Halo`].
    #[must_use]
    pub fn has_halo(&self) -> bool {
        matches!(self.lo, Boundary::Halo(_)) || matches!(self.hi, Boundary::Halo(_))
    }

    /// Source of position `i` on an axis of length `n` (the side is chosen by the sign of `i`).
    #[must_use]
    #[inline]
    pub fn source(&self, i: isize, n: usize) -> Source {
        source_index(i, n, self.at(i, n))
    }
}

/// Boundaries of a 2D array, per side of each axis. Axis order is `(y, x)`: `y` is the row
/// index (axis 0), `x` the column index (axis 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Boundaries {
    /// Rows: `lo` is the top (row 0) side, `hi` the bottom.
    pub y: Sides,
    /// Columns: `lo` is the left (column 0) side, `hi` the right.
    pub x: Sides,
}

impl Boundaries {
    /// The same mode on all four sides.
    #[must_use]
    pub const fn uniform(b: Boundary) -> Self {
        Boundaries {
            y: Sides::both(b),
            x: Sides::both(b),
        }
    }

    /// `true` if any side is a [`Boundary::Halo`].
    #[must_use]
    pub fn has_halo(&self) -> bool {
        self.y.has_halo() || self.x.has_halo()
    }

    /// `[y, x]` sides, for loops over axes.
    #[must_use]
    pub fn axes(&self) -> [Sides; 2] {
        [self.y, self.x]
    }
}

/// Pads a 1D sequence by `lo` samples before and `hi` after (the `numpy.pad` of convsim).
///
/// # Panics
/// If `data` is empty.
#[must_use]
pub fn pad1<T: Element>(data: &[T], lo: usize, hi: usize, blo: Boundary, bhi: Boundary) -> Vec<T> {
    let n = data.len();
    let sides = Sides { lo: blo, hi: bhi };
    (0..lo + n + hi)
        .map(|k| {
            let i = k as isize - lo as isize;
            match sides.source(i, n) {
                Source::Index(s) => data[s],
                Source::Negated(s) => -data[s],
                Source::Constant(v) => T::from_f64(v),
            }
        })
        .collect()
}

/// Pads a 2D array by `widths = [(top, bottom), (left, right)]` with the given boundaries.
///
/// Corners combine the two axes: the source of a corner sample is the row map applied to the
/// column map, so `Antisymmetric` on both axes flips the sign twice (as an odd extension in
/// both directions should), and a `Constant` on either axis gives the constant.
///
/// # Panics
/// If `a` has an empty axis.
#[must_use]
pub fn pad<T: Element>(
    a: ArrayView2<'_, T>,
    widths: [(usize, usize); 2],
    b: &Boundaries,
) -> Array2<T> {
    let (h, w) = a.dim();
    assert!(h > 0 && w > 0, "pad: empty input of shape ({h}, {w})");
    let [(top, bottom), (left, right)] = widths;
    let cols: Vec<Source> = (0..left + w + right)
        .map(|k| b.x.source(k as isize - left as isize, w))
        .collect();
    Array2::from_shape_fn((top + h + bottom, left + w + right), |(r, c)| {
        let rs = b.y.source(r as isize - top as isize, h);
        combine(a, rs, cols[c])
    })
}

/// Value at a (row source, column source) pair.
#[inline]
pub(crate) fn combine<T: Element>(a: ArrayView2<'_, T>, rs: Source, cs: Source) -> T {
    let (r, rneg) = match rs {
        Source::Index(r) => (r, false),
        Source::Negated(r) => (r, true),
        Source::Constant(v) => return T::from_f64(v),
    };
    let (c, cneg) = match cs {
        Source::Index(c) => (c, false),
        Source::Negated(c) => (c, true),
        Source::Constant(v) => return T::from_f64(v),
    };
    let v = a[[r, c]];
    if rneg ^ cneg { -v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(b: Boundary, n: usize, lo: usize, hi: usize) -> Vec<f64> {
        let data: Vec<f64> = (1..=n).map(|v| v as f64).collect();
        pad1(&data, lo, hi, b, b)
    }

    #[test]
    fn table_of_design_md() {
        // [a b c d] = [1 2 3 4] extended by 2, exactly the DESIGN.md table.
        assert_eq!(
            seq(Boundary::Zero, 4, 2, 2),
            [0., 0., 1., 2., 3., 4., 0., 0.]
        );
        assert_eq!(
            seq(Boundary::Constant(7.0), 4, 2, 2),
            [7., 7., 1., 2., 3., 4., 7., 7.]
        );
        assert_eq!(
            seq(Boundary::Replicate, 4, 2, 2),
            [1., 1., 1., 2., 3., 4., 4., 4.]
        );
        assert_eq!(
            seq(Boundary::Mirror, 4, 2, 2),
            [3., 2., 1., 2., 3., 4., 3., 2.]
        );
        assert_eq!(
            seq(Boundary::Symmetric, 4, 2, 2),
            [2., 1., 1., 2., 3., 4., 4., 3.]
        );
        assert_eq!(
            seq(Boundary::Periodic, 4, 2, 2),
            [3., 4., 1., 2., 3., 4., 1., 2.]
        );
        assert_eq!(
            seq(Boundary::Antisymmetric, 4, 2, 2),
            [-3., -2., 1., 2., 3., 4., -3., -2.]
        );
    }

    #[test]
    fn wider_than_data_is_periodic_closed_form() {
        // numpy.pad([1,2,3], 7, mode) reference values.
        assert_eq!(
            seq(Boundary::Mirror, 3, 7, 7),
            [
                2., 3., 2., 1., 2., 3., 2., 1., 2., 3., 2., 1., 2., 3., 2., 1., 2.
            ]
        );
        assert_eq!(
            seq(Boundary::Symmetric, 3, 7, 7),
            [
                1., 1., 2., 3., 3., 2., 1., 1., 2., 3., 3., 2., 1., 1., 2., 3., 3.
            ]
        );
        assert_eq!(
            seq(Boundary::Periodic, 3, 7, 7),
            [
                3., 1., 2., 3., 1., 2., 3., 1., 2., 3., 1., 2., 3., 1., 2., 3., 1.
            ]
        );
    }

    #[test]
    fn single_sample_axis() {
        assert_eq!(seq(Boundary::Mirror, 1, 2, 2), [1.; 5]);
        assert_eq!(seq(Boundary::Symmetric, 1, 2, 2), [1.; 5]);
        assert_eq!(seq(Boundary::Periodic, 1, 2, 2), [1.; 5]);
    }
}
