//! Plan-time layouts (padded planes split into phases, per-task scratch) and the packing of
//! the weights into the register-block order the kernels read.

use ndarray::ArrayView4;

use crate::boundary::Source;
use crate::simd::Isa;
use crate::{Element, Orientation, ResolvedAxis};

use super::{CB, ChannelConvPlan, blocks};

/// Layout of one correlation stage: a stack of padded planes, each row split into `sx` phases so
/// that the taps of a strided correlation read contiguous runs.
#[derive(Clone, Debug)]
pub(super) struct Stage {
    /// Elements per stored row (`sx * ph_len`).
    pub(super) rowlen: usize,
    /// Elements per phase of a row.
    pub(super) ph_len: usize,
    /// Column stride (number of phases).
    pub(super) sx: usize,
    /// Elements per plane.
    pub(super) plane: usize,
    /// Start of tap `kx`'s run within a row.
    pub(super) offs: Vec<usize>,
    pub(super) kh: usize,
    pub(super) dy: usize,
    pub(super) sy: usize,
    pub(super) out_rows: usize,
    pub(super) out_cols: usize,
    /// `out_cols` rounded up to the vector block.
    pub(super) wv: usize,
}

impl Stage {
    pub(super) fn new(
        rows: usize,
        cols: usize,
        k: [usize; 2],
        dil: [usize; 2],
        stride: [usize; 2],
        out: [usize; 2],
        v: usize,
    ) -> Self {
        let sx = stride[1];
        let wv = out[1].next_multiple_of(v);
        let max_off = (k[1] - 1) * dil[1] / sx;
        let ph_len = cols.div_ceil(sx).max(max_off + wv);
        let offs = (0..k[1])
            .map(|kx| ((kx * dil[1]) % sx) * ph_len + kx * dil[1] / sx)
            .collect();
        Stage {
            rowlen: sx * ph_len,
            ph_len,
            sx,
            plane: rows * sx * ph_len,
            offs,
            kh: k[0],
            dy: dil[0],
            sy: stride[0],
            out_rows: out[0],
            out_cols: out[1],
            wv,
        }
    }

    /// Position of column `c` within a stored row.
    #[inline]
    pub(super) fn pos(&self, c: usize) -> usize {
        (c % self.sx) * self.ph_len + c / self.sx
    }
}

/// Everything fixed at plan time.
#[derive(Clone, Debug)]
pub(super) struct Geo {
    pub(super) n: usize,
    pub(super) c_in: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) c_out: usize,
    pub(super) groups: usize,
    pub(super) cin_g: usize,
    pub(super) cout_g: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) orientation: Orientation,
    pub(super) ry: ResolvedAxis,
    pub(super) rx: ResolvedAxis,
    pub(super) isa: Isa,
    pub(super) v: usize,
    pub(super) fwd: Stage,
    pub(super) bwd: Stage,
    /// Source of each padded row / column.
    pub(super) row_src: Vec<Source>,
    pub(super) col_src: Vec<Source>,
    pub(super) samples_per_task: usize,
}

/// Per-task scratch.
#[derive(Clone, Debug)]
pub(super) struct Scratch<T> {
    /// Padded input planes of one sample.
    pub(super) xp: Vec<T>,
    /// Zero-interleaved, zero-padded output gradient of one sample.
    pub(super) gz: Vec<T>,
    /// Output gradient of one sample with rows padded to `fwd.wv`.
    pub(super) gs: Vec<T>,
    /// One row block of outputs.
    pub(super) row: Vec<T>,
    /// Weight-gradient lane accumulators `[co][ci][ky][kx][VW]`.
    pub(super) lanes: Vec<T>,
}

impl<T: Element> ChannelConvPlan<T> {
    /// Canonical (correlation-frame) tap of the user's weights.
    #[inline]
    pub(super) fn canon(
        geo: &Geo,
        w: &ArrayView4<'_, T>,
        co: usize,
        ci: usize,
        ky: usize,
        kx: usize,
    ) -> T {
        match geo.orientation {
            Orientation::Correlate => w[[co, ci, ky, kx]],
            Orientation::Convolve => w[[co, ci, geo.kh - 1 - ky, geo.kw - 1 - kx]],
        }
    }

    /// Packs the forward weights `[g][co block][ci][ky][kx][lane]`.
    pub(super) fn pack_forward(&mut self, w: &ArrayView4<'_, T>) {
        let g = &self.geo;
        let per_co = g.cin_g * g.kh * g.kw;
        let mut i = 0;
        for grp in 0..g.groups {
            for (co0, cb) in blocks(g.cout_g, CB) {
                for ci in 0..g.cin_g {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            for c in 0..cb {
                                self.wpack_f[i] =
                                    Self::canon(g, w, grp * g.cout_g + co0 + c, ci, ky, kx);
                                i += 1;
                            }
                        }
                    }
                }
            }
        }
        debug_assert_eq!(i, g.groups * g.cout_g * per_co);
    }

    /// Packs the backward-input weights: flipped, conjugated, channels swapped,
    /// `[g][ci block][co][ky'][kx'][lane]`.
    pub(super) fn pack_backward(&mut self, w: &ArrayView4<'_, T>) {
        let g = &self.geo;
        let mut i = 0;
        for grp in 0..g.groups {
            for (ci0, cb) in blocks(g.cin_g, CB) {
                for co in 0..g.cout_g {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            for c in 0..cb {
                                self.wpack_b[i] = Self::canon(
                                    g,
                                    w,
                                    grp * g.cout_g + co,
                                    ci0 + c,
                                    g.kh - 1 - ky,
                                    g.kw - 1 - kx,
                                )
                                .conj();
                                i += 1;
                            }
                        }
                    }
                }
            }
        }
    }
}
