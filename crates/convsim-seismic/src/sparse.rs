//! Sources and receivers off the grid, arranged by row for the sweep.
//!
//! A point's spread (its Hicks weights folded by the mirror boundaries) touches a few rows; the
//! sweep injects and records row by row inside its wavefront, so both are stored by row:
//! sources as compressed rows of `(column, coefficient, source)`, receivers as runs of
//! contiguous columns with their weights, each receiver attached to one *anchor* row (the
//! middle of its spread) at which it is recorded once its rows are final.

use convsim_core::{Element, RealElement};

/// A point's spread over the padded grid: `(flat padded index, weight)`, sorted by index.
pub(crate) type Spread = Vec<(usize, f64)>;

/// Sources by row: `next[j] += coef * wavelet[source][n]` for every entry of the row.
#[derive(Clone, Debug, Default)]
pub(crate) struct SourceRows {
    /// Entries of row `i` are `entries[ptr[i]..ptr[i + 1]]` (padded rows).
    ptr: Vec<usize>,
    /// `(column, coefficient, source)`, by source then column within a row, so every index
    /// receives its contributions in source order (as adding the sources one by one would).
    entries: Vec<(usize, f64, usize)>,
    /// Wavelet samples of each source at `t = n dt`.
    samples: Vec<Vec<f64>>,
}

impl SourceRows {
    /// Arranges `sources` (`(spread of coefficients, samples)`) on a padded grid of `rows`
    /// rows of `stride` columns.
    pub(crate) fn new(rows: usize, stride: usize, sources: Vec<(Spread, Vec<f64>)>) -> Self {
        let mut by_row: Vec<Vec<(usize, f64, usize)>> = vec![Vec::new(); rows];
        let mut samples = Vec::with_capacity(sources.len());
        for (k, (spread, smp)) in sources.into_iter().enumerate() {
            for (idx, c) in spread {
                by_row[idx / stride].push((idx % stride, c, k));
            }
            samples.push(smp);
        }
        let mut ptr = vec![0];
        let mut entries = Vec::new();
        for row in by_row {
            entries.extend(row);
            ptr.push(entries.len());
        }
        SourceRows {
            ptr,
            entries,
            samples,
        }
    }

    /// Adds the sources' contributions of step `n` to row `i` of the new field.
    #[inline]
    pub(crate) fn inject<T: RealElement>(&self, i: usize, n: usize, row: &mut [T]) {
        let Some(range) = self.ptr.get(i..=i + 1) else {
            return;
        };
        for &(j, c, k) in &self.entries[range[0]..range[1]] {
            let amp = self.samples[k].get(n).copied().unwrap_or(0.0);
            if amp != 0.0 {
                row[j] += <T as Element>::from_f64(c * amp);
            }
        }
    }
}

impl SourceRows {
    /// The entries of padded rows `rows` and columns `cols` (a tile's owned block), moved to
    /// a layout of `new_rows` rows whose row `i` and column `j` are `rows.start - row0 + i`
    /// and `col0 + j` of this one: `row0`, `col0` are the tile's offsets. Entries keep their
    /// order, so every sample receives its contributions in source order as before.
    pub(crate) fn cut(
        &self,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        (row0, col0): (usize, usize),
        new_rows: usize,
    ) -> Self {
        let mut ptr = vec![0];
        let mut entries = Vec::new();
        for li in 0..new_rows {
            let i = li + row0;
            if rows.contains(&i)
                && let Some(r) = self.ptr.get(i..=i + 1)
            {
                entries.extend(
                    self.entries[r[0]..r[1]]
                        .iter()
                        .filter(|e| cols.contains(&e.0))
                        .map(|&(j, c, k)| (j - col0, c, k)),
                );
            }
            ptr.push(entries.len());
        }
        SourceRows {
            ptr,
            entries,
            samples: self.samples.clone(),
        }
    }
}

/// One receiver's spread as runs of contiguous columns.
#[derive(Clone, Debug)]
struct Receiver {
    /// `(row, first column, offset into weights, length)`.
    runs: Vec<(usize, usize, usize, usize)>,
}

/// Receivers by anchor row.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReceiverRows {
    /// Receivers anchored at row `i` are `order[ptr[i]..ptr[i + 1]]`.
    ptr: Vec<usize>,
    order: Vec<usize>,
    receivers: Vec<Receiver>,
    weights: Vec<f64>,
    /// Largest distance from an anchor to the first and to the last row of its spread.
    pub(crate) reach_up: usize,
    pub(crate) reach_down: usize,
}

/// Lanes of the recording sums (a fixed count, so the sum order never depends on the ISA).
const LANES: usize = 8;

/// One tap's term of a receiver sample: weight times the field value.
#[inline]
pub(crate) fn tap_product<T: RealElement>(w: f64, f: T) -> f64 {
    w * f.to_c64().re
}

/// The sum of a receiver sample: tap `c` of a run goes to lane `c % LANES`, the lanes are
/// added last. Shared by the one-process recording and the tiles of a distributed run, whose
/// split receivers are summed on rank 0 from their taps' products in the same order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LaneSum([f64; LANES]);

impl LaneSum {
    /// Adds the product of tap `c` of its run.
    #[inline]
    pub(crate) fn add(&mut self, c: usize, product: f64) {
        self.0[c % LANES] += product;
    }

    /// The sample.
    #[inline]
    pub(crate) fn value(&self) -> f64 {
        self.0.iter().sum()
    }
}

impl ReceiverRows {
    /// Arranges the receivers' spreads on a padded grid of `rows` rows of `stride` columns.
    pub(crate) fn new(rows: usize, stride: usize, spreads: &[Spread]) -> Self {
        let mut weights = Vec::new();
        let mut receivers = Vec::with_capacity(spreads.len());
        let mut by_row: Vec<Vec<usize>> = vec![Vec::new(); rows];
        let (mut reach_up, mut reach_down) = (0, 0);
        for (k, spread) in spreads.iter().enumerate() {
            let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new();
            for &(idx, w) in spread {
                let (i, j) = (idx / stride, idx % stride);
                match runs.last_mut() {
                    // Same row: extend the run, zero weights filling any gap.
                    Some(run) if run.0 == i => {
                        let end = run.1 + run.3;
                        weights.resize(weights.len() + (j - end), 0.0);
                        weights.push(w);
                        run.3 = j + 1 - run.1;
                    }
                    _ => {
                        runs.push((i, j, weights.len(), 1));
                        weights.push(w);
                    }
                }
            }
            if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
                let anchor = usize::midpoint(first.0, last.0);
                reach_up = reach_up.max(anchor - first.0);
                reach_down = reach_down.max(last.0 - anchor);
                by_row[anchor].push(k);
            }
            receivers.push(Receiver { runs });
        }
        let mut ptr = vec![0];
        let mut order = Vec::new();
        for row in by_row {
            order.extend(row);
            ptr.push(order.len());
        }
        ReceiverRows {
            ptr,
            order,
            receivers,
            weights,
            reach_up,
            reach_down,
        }
    }

    /// Whether there is no receiver.
    pub(crate) fn is_empty(&self) -> bool {
        self.receivers.is_empty()
    }

    /// Number of receivers.
    pub(crate) fn len(&self) -> usize {
        self.receivers.len()
    }

    /// The value of receiver `k` in `rows`: rows `row0..` of a field on the padded layout
    /// (`stride` columns), holding every row of the receiver's spread.
    #[inline]
    pub(crate) fn sample<T: RealElement>(
        &self,
        k: usize,
        rows: &[T],
        row0: usize,
        stride: usize,
    ) -> f64 {
        let mut acc = LaneSum::default();
        for &(i, j, w0, n) in &self.receivers[k].runs {
            let f = &rows[(i - row0) * stride + j..][..n];
            let w = &self.weights[w0..][..n];
            for (c, (&fv, &wv)) in f.iter().zip(w).enumerate() {
                acc.add(c, tap_product(wv, fv));
            }
        }
        acc.value()
    }

    /// The taps of receiver `k` in the order [`ReceiverRows::sample`] adds them: `(padded
    /// row, padded column, weight, lane)`.
    pub(crate) fn taps(&self, k: usize) -> impl Iterator<Item = (usize, usize, f64, usize)> + '_ {
        self.receivers[k]
            .runs
            .iter()
            .flat_map(move |&(i, j, w0, n)| {
                (0..n).map(move |c| (i, j + c, self.weights[w0 + c], c))
            })
    }

    /// Receivers anchored at row `i`.
    #[inline]
    pub(crate) fn anchored(&self, i: usize) -> &[usize] {
        match self.ptr.get(i..=i + 1) {
            Some(r) => &self.order[r[0]..r[1]],
            None => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers_sample_their_spread_and_anchor_in_the_middle() {
        let stride = 10;
        // Rows 2..=5, a gap in row 3 (columns 4 and 6).
        let spread: Spread = vec![
            (24, 0.5),
            (25, 0.25),
            (34, 1.0),
            (36, 2.0),
            (47, -1.0),
            (51, 3.0),
        ];
        let r = ReceiverRows::new(8, stride, &[spread.clone(), vec![]]);
        let field: Vec<f64> = (0..80).map(|v| f64::from(v) * 0.5).collect();
        let want: f64 = spread.iter().map(|&(i, w)| w * field[i]).sum();
        assert_eq!(r.sample(0, &field, 0, stride), want);
        assert_eq!(r.sample(0, &field[20..], 2, stride), want);
        assert_eq!(r.sample(1, &field, 0, stride), 0.0);
        assert_eq!(r.anchored(3), &[0]);
        assert_eq!((r.reach_up, r.reach_down), (1, 2));
        assert!(r.anchored(7).is_empty() && r.anchored(100).is_empty());
    }

    #[test]
    fn sources_inject_in_source_order() {
        let stride = 4;
        let a: Spread = vec![(5, 1.0), (9, 2.0)];
        let b: Spread = vec![(5, 10.0)];
        let s = SourceRows::new(3, stride, vec![(a, vec![0.0, 1.0]), (b, vec![3.0, 0.5])]);
        let mut row = [0.0f64; 4];
        s.inject(1, 1, &mut row);
        assert_eq!(row, [0.0, 1.0 + 5.0, 0.0, 0.0]);
        s.inject(1, 0, &mut row);
        assert_eq!(row, [0.0, 36.0, 0.0, 0.0]);
    }
}
