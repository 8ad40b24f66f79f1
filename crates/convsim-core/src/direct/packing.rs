//! Building the extended (padded) rows the kernels read: row fill in phase layout, the
//! interior columns, the row sources of the column pass and the margins of filtered rows.

use ndarray::ArrayView2;

use crate::Element;
use crate::boundary::Source;

use super::Cfg;

/// Builds extended row `pr` (padded coordinates) into `dst` (phase layout).
#[inline(always)]
pub(super) fn fill_row<T: Element>(
    cfg: &Cfg<T>,
    input: &ArrayView2<'_, T>,
    pr: usize,
    dst: &mut [T],
) {
    let (lo, w, sx, ph) = (cfg.rx.lo, cfg.w, cfg.sx, cfg.ph_len);
    let wpad = cfg.col_src.len();
    let pos = |c: usize| (c % sx) * ph + c / sx;
    let (i, neg) = match cfg.by.source(pr as isize - cfg.ry.lo as isize, cfg.h) {
        Source::Constant(v) => {
            let v = T::from_f64(v);
            for c in 0..wpad {
                dst[pos(c)] = v;
            }
            return;
        }
        Source::Index(i) => (i, false),
        Source::Negated(i) => (i, true),
    };
    let src = input.row(i);
    let sgn = |v: T| if neg { -v } else { v };
    match (sx, src.as_slice()) {
        (1, Some(sl)) if !neg => dst[lo..lo + w].copy_from_slice(sl),
        (1, Some(sl)) => {
            for (d, v) in dst[lo..lo + w].iter_mut().zip(sl) {
                *d = -*v;
            }
        }
        _ => {
            for (j, v) in src.iter().enumerate() {
                dst[pos(lo + j)] = sgn(*v);
            }
        }
    }
    for c in (0..lo).chain(lo + w..wpad) {
        dst[pos(c)] = match cfg.col_src[c] {
            Source::Index(j) => sgn(src[j]),
            Source::Negated(j) => -sgn(src[j]),
            Source::Constant(v) => T::from_f64(v),
        };
    }
}

/// Output columns `[ox_a, ox_b)` whose taps all fall inside the row: `lo <= ox + off < lo + w`
/// for every offset.
pub(super) fn interior_cols<T>(cfg: &Cfg<T>) -> (usize, usize) {
    let rx = cfg.rx;
    let ox_a = rx.lo.min(rx.out);
    let max_off = (rx.k - 1) * rx.dilation;
    let ox_b = (rx.lo + cfg.w).saturating_sub(max_off).clamp(ox_a, rx.out);
    (ox_a, ox_b)
}

/// Sources of the rows the column filter of output row `oy` reads: `(ky, source)`.
#[inline(always)]
pub(super) fn row_source<T: Element>(cfg: &Cfg<T>, oy: usize, ky: usize) -> Source {
    let pr = oy * cfg.ry.stride + ky * cfg.ry.dilation;
    cfg.by.source(pr as isize - cfg.ry.lo as isize, cfg.h)
}

/// Fills the `x` margins of a column-filtered extended row from its interior. Rows that were a
/// `Constant` in `y` contribute `cpart` everywhere, so only the rest is mirrored or negated.
#[inline(always)]
pub(super) fn fill_margins<T: Element>(
    cfg: &Cfg<T>,
    col: &[T],
    oy: usize,
    ext: &mut [T],
    lo: usize,
    w: usize,
    wpad: usize,
) {
    if lo == 0 && wpad == lo + w {
        return;
    }
    let mut cpart = T::zero();
    let mut rest = T::zero();
    for (ky, &cw) in col.iter().enumerate() {
        if let Source::Constant(v) = row_source(cfg, oy, ky) {
            cpart += cw * T::from_f64(v);
        } else {
            rest += cw;
        }
    }
    for c in (0..lo).chain(lo + w..wpad) {
        ext[c] = match cfg.col_src[c] {
            Source::Index(j) => ext[lo + j],
            Source::Negated(j) => cpart + cpart - ext[lo + j],
            Source::Constant(v) => cpart + rest * T::from_f64(v),
        };
    }
}
