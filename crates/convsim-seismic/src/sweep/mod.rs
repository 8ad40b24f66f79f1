//! The constant-density stepping engine: leapfrog, CPML, sponge, mirrors, sources and
//! receivers, fused into one pass over memory for several time steps (temporal blocking).
//!
//! One time step is a sequence of row *stages*:
//!
//! 1. `Psi` (with a y CPML): the y memory variables `psi_y` of the layer rows, from p^n;
//! 2. `Update`: the new row p^(n+1) with every term of the operator (stencil, x and y CPML),
//!    then the sponge factor, the sources of the step and the free-surface zeros;
//! 3. `Post` (with a sponge or receivers): the sponge factor on the p^n row once every
//!    reader of it has run, and the receivers anchored at the row.
//!
//! A sweep of `k` steps runs `k` such sequences as one wavefront ([`schedule`]): each stage
//! trails the one before by just the rows it depends on ([`Plan`]), so a row is loaded into
//! cache once and used by all `k` steps. Mirror boundaries (free surface, rigid) fill the ghost
//! cells of p^n inside the first stage of each step. Every row of every step is computed by
//! the same code from the same values as by `k` sweeps of one step, so the result is bitwise
//! independent of `k`, of the number of bands and of the thread count.

mod rows;
mod run;
pub(crate) mod schedule;

use convsim_core::fp::Subnormals;
use convsim_core::memory::AlignedVec;
use convsim_core::{Isa, RealElement};

use crate::SideBoundary;
use crate::sparse::{ReceiverRows, SourceRows};
use rows::Taps;
use schedule::Exec;

/// Geometry of the padded arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Row stride (padded columns).
    pub(crate) stride: usize,
    /// Computational rows `[cy0, cy1)`.
    pub(crate) cy0: usize,
    pub(crate) cy1: usize,
    /// Computational columns `[cx0, cx1)`.
    pub(crate) cx0: usize,
    pub(crate) cx1: usize,
}

/// The operator's weights for radius `r`, divided by the spacings.
#[derive(Clone, Debug)]
pub(crate) struct Weights<T> {
    /// Centre weight of each axis' second derivative.
    pub(crate) w0y: T,
    pub(crate) w0x: T,
    /// Second-derivative weights of the neighbours at distance `k + 1`.
    pub(crate) wy: Vec<T>,
    pub(crate) wx: Vec<T>,
    /// First-derivative weights of the neighbour at `+(k + 1)`.
    pub(crate) d1y: Vec<T>,
    pub(crate) d1x: Vec<T>,
}

impl<T: RealElement> Weights<T> {
    fn taps<const R: usize>(&self) -> Taps<T, R> {
        Taps {
            w0: self.w0y + self.w0x,
            w0y: self.w0y,
            w0x: self.w0x,
            wy: std::array::from_fn(|k| self.wy[k]),
            wx: std::array::from_fn(|k| self.wx[k]),
            d1y: std::array::from_fn(|k| self.d1y[k]),
            d1x: std::array::from_fn(|k| self.d1x[k]),
        }
    }
}

/// `(v dt)^2`: one value, or one per padded sample.
#[derive(Clone, Debug)]
pub(crate) enum C2<T> {
    Uniform(T),
    Field(AlignedVec<T>),
}

/// CPML along x: memory variables of the strips of every computational row.
#[derive(Clone, Debug)]
pub(crate) struct PmlX<T> {
    /// Profile per padded column.
    pub(crate) a: AlignedVec<T>,
    pub(crate) b: AlignedVec<T>,
    /// Strips `[j0, j1)` in column order, and the columns `[base, end)` their memory variables
    /// span in each row: the strip widened to whole aligned blocks and one more block either
    /// side (zeros), which the vector kernels read around the strip.
    pub(crate) strips: Vec<(usize, usize)>,
    pub(crate) spans: Vec<(usize, usize)>,
    /// `psi_x` and `zeta_x`: per computational row, the spans of the strips one after the
    /// other.
    pub(crate) psi: AlignedVec<T>,
    pub(crate) zeta: AlignedVec<T>,
}

/// CPML along y: memory variables of the layer rows.
#[derive(Clone, Debug)]
pub(crate) struct PmlY<T> {
    /// Profile per padded row.
    pub(crate) a: Vec<T>,
    pub(crate) b: Vec<T>,
    /// Strips `[i0, i1)` of rows.
    pub(crate) strips: Vec<(usize, usize)>,
    /// `psi_y` of each strip's rows widened by `r` zero rows either side, full padded rows.
    pub(crate) psi: AlignedVec<T>,
    /// `zeta_y` of each strip's rows, full padded rows.
    pub(crate) zeta: AlignedVec<T>,
}

impl<T> PmlX<T> {
    /// Elements of one row's memory variables (`psi_x` and `zeta_x` alike).
    pub(crate) fn row_len(&self) -> usize {
        self.spans.iter().map(|(a, b)| b - a).sum()
    }
}

impl<T> PmlY<T> {
    /// The strip holding row `i` and the row's index in the `zeta` rows and in the `psi` rows.
    fn locate(&self, i: usize, r: usize) -> Option<(usize, usize)> {
        let (mut zrow, mut prow) = (0, 0);
        for &(i0, i1) in &self.strips {
            if (i0..i1).contains(&i) {
                return Some((zrow + i - i0, prow + r + i - i0));
            }
            zrow += i1 - i0;
            prow += i1 - i0 + 2 * r;
        }
        None
    }
}

/// What the solver's sides ask of the engine.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sides {
    pub(crate) top: SideBoundary,
    pub(crate) bottom: SideBoundary,
    pub(crate) left: SideBoundary,
    pub(crate) right: SideBoundary,
}

/// The stepping engine of the constant-density operator (see the [module docs](self)).
#[derive(Clone, Debug)]
pub(crate) struct Engine<T> {
    pub(crate) lay: Layout,
    pub(crate) rows: usize,
    pub(crate) r: usize,
    pub(crate) w: Weights<T>,
    pub(crate) c2: C2<T>,
    pub(crate) sides: Sides,
    pub(crate) pml_x: Option<PmlX<T>>,
    pub(crate) pml_y: Option<PmlY<T>>,
    /// Sponge factors per padded row and column.
    pub(crate) sponge: Option<(Vec<T>, Vec<T>)>,
    pub(crate) sources: SourceRows,
    pub(crate) receivers: ReceiverRows,
    pub(crate) isa: Isa,
    /// p^n and p^(n-1) on the padded layout.
    pub(crate) cur: AlignedVec<T>,
    pub(crate) prev: AlignedVec<T>,
    /// Steps fused per sweep; `None` picks from the cache budget ([`Engine::depth`]).
    pub(crate) depth: Option<usize>,
    pub(crate) exec: Exec,
    /// Subnormal numbers flushed to zero on the sweep's threads, or kept.
    pub(crate) fp: Subnormals,
    /// Rows per task of the wavefront ([`ROW_BLOCK`]; 1 in the tests that compare against it).
    pub(crate) block: usize,
}

/// Rows per task: two consecutive rows outside the y layers are updated together
/// ([`rows::update2`]), which loads the rows they share once. On the seismic shot of
/// `convsim bench` (one thread, 4 steps per sweep) 0.69 s with one row per task, 0.62 s with
/// two.
pub(crate) const ROW_BLOCK: usize = 2;

/// The stages of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Psi,
    Update,
    Post,
}

/// A sweep's stages `(kind, step)` (step 1-based within the sweep) and the row offset of each
/// behind the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    stages: Vec<(Kind, usize)>,
    offsets: Vec<usize>,
}

/// How far behind stage `(kind, t)` must run relative to each earlier stage it depends on:
/// `(earlier kind, its step minus t, rows)`. `r`: stencil radius; `up`/`down`: reach of the
/// receivers' spreads above/below their anchor rows.
fn dependencies(
    kind: Kind,
    r: usize,
    sponge: bool,
    up: usize,
    down: usize,
) -> Vec<(Kind, isize, usize)> {
    let damp = if sponge { r } else { 0 };
    match kind {
        // psi_y(t) reads rows +-r of p^(t-1) (written by Update(t-1)) and overwrites the psi_y
        // rows Update(t-1) read +-r away. Its first row also fills the top ghost rows from
        // the r rows below the edge.
        Kind::Psi => vec![(Kind::Update, -1, r)],
        Kind::Update => vec![
            // Reads psi_y rows +-r.
            (Kind::Psi, 0, r),
            // Reads rows +-r of p^(t-1); overwrites p^(t-2), which Update(t-1) and Psi(t-1)
            // read +-r away.
            (Kind::Update, -1, r),
            (Kind::Psi, -1, r),
            // Reads the damped p^(t-2) row.
            (Kind::Post, -1, 0),
            // Overwrites p^(t-2), which Post(t-2) recorded from rows up to `up` above.
            (Kind::Post, -2, up),
        ],
        Kind::Post => vec![
            // Damps the p^(t-1) row once Update(t) and Psi(t) have read it +-r away; records
            // p^t rows up to `down` below the anchor.
            (Kind::Update, 0, damp.max(down)),
            (Kind::Psi, 0, damp),
            // Damps p^(t-1), which Post(t-1) recorded from rows up to `up` above.
            (Kind::Post, -1, if sponge { up } else { 0 }),
        ],
    }
}

impl Plan {
    /// The stages of `k` steps and their offsets in blocks of `block` rows: a dependency on
    /// the rows `d` away becomes one on the blocks `ceil(d / block)` away (the last row of a
    /// block needs rows up to `d` below it, which lie in that block).
    fn new(
        k: usize,
        psi: bool,
        post: bool,
        r: usize,
        sponge: bool,
        (up, down): (usize, usize),
        block: usize,
    ) -> Self {
        let mut stages = Vec::new();
        let mut offsets: Vec<usize> = Vec::new();
        for t in 1..=k {
            for kind in [Kind::Psi, Kind::Update, Kind::Post] {
                if (kind == Kind::Psi && !psi) || (kind == Kind::Post && !post) {
                    continue;
                }
                let mut off = offsets.last().copied().unwrap_or(0);
                for (dk, dt, rows) in dependencies(kind, r, sponge, up, down) {
                    let Some(ts) = t.checked_add_signed(dt) else {
                        continue;
                    };
                    if let Some(q) = stages.iter().position(|&st| st == (dk, ts)) {
                        off = off.max(offsets[q] + rows.div_ceil(block));
                    }
                }
                stages.push((kind, t));
                offsets.push(off);
            }
        }
        Plan { stages, offsets }
    }

    /// Blocks the wavefront spans from its first to its last stage.
    fn span(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn plan_offsets_follow_the_dependencies() {
        // Leapfrog alone: each step r rows behind the previous.
        let p = Plan::new(3, false, false, 4, false, (0, 0), 1);
        assert_eq!(p.offsets, vec![0, 4, 8]);
        // With y CPML: psi r rows behind the previous update, update r behind psi.
        let p = Plan::new(2, true, false, 4, false, (0, 0), 1);
        assert_eq!(p.offsets, vec![0, 4, 8, 12]);
        // Receivers reaching 3 up and 4 down, order 2: Post 4 rows behind its update, the
        // update two steps later at least 3 behind that Post.
        let p = Plan::new(3, false, true, 1, false, (3, 4), 1);
        assert_eq!(p.offsets, vec![0, 4, 4, 8, 8, 12]);
        // In blocks of two rows: distances round up to whole blocks (r = 1: one block).
        let p = Plan::new(3, false, true, 1, false, (3, 4), 2);
        assert_eq!(p.offsets, vec![0, 2, 2, 4, 4, 6]);
        let p = Plan::new(2, true, false, 4, false, (0, 0), 2);
        assert_eq!(p.offsets, vec![0, 2, 4, 6]);
    }
}
