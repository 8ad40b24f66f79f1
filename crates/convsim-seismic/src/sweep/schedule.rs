//! Wavefront temporal blocking: the order in which a sweep runs its row tasks.
//!
//! A sweep advances the fields by several time steps in one pass over memory. Each step is a
//! short sequence of *stages* (e.g. update the CPML memory rows, update the pressure rows,
//! damp and record), and each stage is a task per row. Stage `s` at row `i` may depend on the
//! rows of earlier stages within a few rows of `i`; the caller expresses those dependencies
//! as row *offsets*: stage `s` trails stage 0 by `offsets[s]` rows, and the offsets are chosen
//! (see `Plan` in the parent module) so that when stage `s` reaches row `i`, every row it
//! reads from an earlier stage is final, and no later stage has yet overwritten a row that it
//! reads.
//!
//! Within one band of rows the tasks then run as a wavefront: at position `p`, stage `s` runs
//! row `p - offsets[s]`, for `s` in order, while all the rows involved are still in cache.
//! Bands run in parallel as trapezoids: stage `s` skips the `offsets[s]` rows next to each
//! inner band edge, so a band never reads a row that a neighbour writes during the same
//! phase. Then the seams (stage `s` on the `offsets[s]` rows either side of each inner edge)
//! are filled in, stage by stage. Every task runs exactly once, and sees exactly the rows it
//! would see if the stages ran one after the other over the whole grid, so the result is
//! bitwise that of the plain stage-by-stage order, for any number of bands or threads.

use convsim_core::fp::Subnormals;
use rayon::prelude::*;

/// How the trapezoids and seams run: in parallel (production) or one after the other in a
/// given order (tests: a task that read a neighbour's row too early gives a different result
/// in forward and reverse order, which a bitwise comparison catches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exec {
    Parallel,
    #[cfg(test)]
    Forward,
    #[cfg(test)]
    Reverse,
}

/// The most bands a sweep of rows `[y0, y1)` can be split into for these offsets: each band
/// must hold at least `2 * offsets.last()` rows (so that its trapezoid is not empty and the
/// seams either side of it do not meet), and at least one row.
pub(crate) fn max_bands(rows: usize, offsets: &[usize]) -> usize {
    let top = offsets.last().copied().unwrap_or(0);
    (rows / (2 * top).max(1)).max(1)
}

/// Runs `task(stage, row)` for every stage in `0..offsets.len()` and every row in `[y0, y1)`,
/// in `bands` bands (at most [`max_bands`]). `offsets` must start at 0 and never decrease.
/// Every band and seam runs with the floating-point setting `fp` on its thread.
///
/// # Panics
/// If `offsets` is empty, does not start at 0, decreases, or `bands` exceeds [`max_bands`].
pub(crate) fn sweep<F>(
    (y0, y1): (usize, usize),
    offsets: &[usize],
    bands: usize,
    (exec, fp): (Exec, Subnormals),
    task: &F,
) where
    F: Fn(usize, usize) + Sync,
{
    assert!(
        offsets.first() == Some(&0) && offsets.windows(2).all(|w| w[0] <= w[1]),
        "stage offsets start at 0 and never decrease: {offsets:?}"
    );
    let ny = y1 - y0;
    assert!(
        (1..=max_bands(ny, offsets)).contains(&bands),
        "{bands} bands for {ny} rows and offsets {offsets:?}"
    );
    let top = *offsets.last().expect("non-empty");
    let band = |q: usize| (y0 + ny * q / bands, y0 + ny * (q + 1) / bands);
    let trapezoid = |q: usize| {
        let _fp = fp.enter();
        let (start, end) = band(q);
        let (first, last) = (q == 0, q + 1 == bands);
        for p in start..end + top {
            for (s, &off) in offsets.iter().enumerate() {
                if p < off {
                    break;
                }
                let i = p - off;
                let lo = if first { start } else { start + off };
                let hi = if last { end } else { end - off };
                if (lo..hi).contains(&i) {
                    task(s, i);
                }
            }
        }
    };
    let seam = |q: usize| {
        let _fp = fp.enter();
        let m = band(q).0;
        for (s, &off) in offsets.iter().enumerate() {
            for i in m - off..m + off {
                task(s, i);
            }
        }
    };
    match exec {
        Exec::Parallel if bands == 1 => trapezoid(0),
        Exec::Parallel => {
            (0..bands).into_par_iter().for_each(trapezoid);
            (1..bands).into_par_iter().for_each(seam);
        }
        #[cfg(test)]
        Exec::Forward => {
            (0..bands).for_each(trapezoid);
            (1..bands).for_each(seam);
        }
        #[cfg(test)]
        Exec::Reverse => {
            (0..bands).rev().for_each(trapezoid);
            (1..bands).rev().for_each(seam);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Every (stage, row) runs exactly once, and each task runs after the tasks of earlier
    /// stages within `offsets[s] - offsets[s']` rows of it (the guarantee the offsets encode),
    /// in every execution order.
    #[test]
    fn every_task_once_and_after_its_dependencies() {
        for offsets in [
            vec![0],
            vec![0, 0, 3],
            vec![0, 2, 4, 6, 8],
            vec![0, 4, 4, 9, 13],
        ] {
            let (y0, y1) = (3, 3 + 61);
            for bands in 1..=max_bands(y1 - y0, &offsets) {
                for exec in [Exec::Forward, Exec::Reverse] {
                    let log = Mutex::new(Vec::new());
                    sweep(
                        (y0, y1),
                        &offsets,
                        bands,
                        (exec, Subnormals::Keep),
                        &|s, i| {
                            log.lock().unwrap().push((s, i));
                        },
                    );
                    let log = log.into_inner().unwrap();
                    let mut seen = log.clone();
                    seen.sort_unstable();
                    let want: Vec<_> = (0..offsets.len())
                        .flat_map(|s| (y0..y1).map(move |i| (s, i)))
                        .collect();
                    assert_eq!(seen, want, "{offsets:?} {bands} {exec:?}");
                    let when = |t: (usize, usize)| log.iter().position(|&x| x == t).unwrap();
                    for &(s, i) in &log {
                        for s2 in 0..s {
                            let d = offsets[s] - offsets[s2];
                            let lo = i.saturating_sub(d).max(y0);
                            let hi = (i + d).min(y1 - 1);
                            for i2 in lo..=hi {
                                assert!(
                                    when((s2, i2)) < when((s, i)),
                                    "{offsets:?} bands {bands} {exec:?}: ({s}, {i}) ran before ({s2}, {i2})"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
