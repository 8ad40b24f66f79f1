//! Multi-channel convolution `(N, C_in, H, W) x (C_out, C_in / groups, kh, kw)` with groups,
//! stride, dilation, every boundary mode and both orientations, and its exact adjoints (the
//! backward pass a CNN needs).
//!
//! # Definition
//!
//! With `g = co / (C_out / groups)` the group of output channel `co`, `cin_g = C_in / groups`,
//! `x~` the boundary-extended input (see [`crate::boundary`]) and the canonical (correlation
//! frame) taps `w~` (`w` itself for [`Orientation::Correlate`], `w` rotated by 180 degrees for
//! [`Orientation::Convolve`]):
//!
//! ```text
//! out[n, co, oy, ox] = bias[co]
//!     + sum_{ci < cin_g, ky, kx} w~[co, ci, ky, kx] * x~[n, g cin_g + ci, oy sy + ky dy - lo_y, ox sx + kx dx - lo_x]
//! ```
//!
//! which is PyTorch's `conv2d` (correlation semantics) when the orientation is `Correlate` and
//! the boundary `Zero`. Padding `lo`, `hi`, stride `s` and dilation `d` come from
//! [`crate::Geometry`] exactly as for a single-channel [`crate::ConvPlan`].
//!
//! # Adjoints
//!
//! [`ChannelConvPlan::backward_input`] applies the exact adjoint (conjugate transpose for complex
//! data) of `x -> out - bias`: it correlates the output gradient with the flipped, conjugated
//! kernel and then folds the gradient of every padded sample back onto the sample it was copied
//! from (with a minus sign for `Antisymmetric`, and nowhere for `Zero`/`Constant`).
//! [`ChannelConvPlan::backward_weights`] gives `grad_w[co, ci, ky, kx] = sum conj(x~) * grad_out`
//! over the batch and all outputs, and `grad_b[co] = sum grad_out`, so for real data
//! `<A x, y> = <x, A^T y>` and `<A(w) x, y> = <w, grad_w(x, y)>`.
//!
//! # Speed and determinism
//!
//! The batch is split into a fixed number of tasks run with rayon; each task owns its outputs and
//! its scratch (allocated at plan time), and weight gradients are reduced per sample and then
//! summed over samples in index order, so results are bitwise identical whatever the thread
//! count. Inner loops are register-blocked over 4 output channels and 8 or 16 output columns and
//! run over contiguous rows of a boundary-padded copy of the input (split into `stride` phases
//! so strided outputs also read contiguously); on x86-64 with AVX2+FMA a copy compiled for those
//! instructions is chosen at plan time.
//!
//! ```
//! use convsim_core::{Boundaries, Boundary, ChannelConvPlan};
//! use ndarray::{Array1, Array4};
//! // Batch 2, 3 -> 4 channels, 3x3 kernels, 8x8 images, Mirror padding, Same output.
//! let mut plan = ChannelConvPlan::<f64>::builder([2, 3, 8, 8], 4, [3, 3])
//!     .boundaries(Boundaries::uniform(Boundary::Mirror))
//!     .build()
//!     .unwrap();
//! let x = Array4::<f64>::ones((2, 3, 8, 8));
//! let w = Array4::<f64>::from_elem(plan.weight_shape(), 0.5);
//! let b = Array1::<f64>::from_elem(4, 1.0);
//! let mut y = Array4::<f64>::zeros(plan.output_shape());
//! plan.forward(x.view(), w.view(), Some(b.view()), y.view_mut());
//! // 3 channels x 9 taps x 0.5 + bias 1 on a constant image, borders included.
//! assert!(y.iter().all(|v| (v - 14.5).abs() < 1e-12));
//! ```

// The inner-loop bodies must be inlined into their `#[target_feature]` wrappers to be compiled
// for AVX2+FMA; `#[inline(always)]` is how that is guaranteed.
#![allow(clippy::inline_always)]

use std::fmt;

use ndarray::{
    ArrayView1, ArrayView3, ArrayView4, ArrayViewMut1, ArrayViewMut3, ArrayViewMut4, Axis, s,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::boundary::Source;
use crate::simd::{Isa, madd};
use crate::{
    Boundaries, CoreError, Element, Geometry, Orientation, ResolvedAxis, Result, resolve_axis,
};

/// Output channels per register block of the forward and backward-input kernels.
const CB: usize = 4;
/// Output channels per register block of the weight-gradient kernel.
const CW: usize = 2;
/// Lanes of the weight-gradient accumulators.
const VW: usize = 8;

/// Builder of a [`ChannelConvPlan`]; see [`ChannelConvPlan::builder`].
#[derive(Clone, Debug)]
pub struct ChannelConvPlanBuilder<T> {
    input_shape: [usize; 4],
    c_out: usize,
    kernel: [usize; 2],
    anchor: Option<[usize; 2]>,
    groups: usize,
    boundaries: Boundaries,
    orientation: Orientation,
    geometry: Geometry,
    portable: bool,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: Element> ChannelConvPlanBuilder<T> {
    /// Channel groups (default 1): input and output channels are split into `groups` equal
    /// parts and part `g` of the outputs only sees part `g` of the inputs.
    #[must_use]
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
    /// Boundary per side (default `Zero`).
    #[must_use]
    pub fn boundaries(mut self, b: Boundaries) -> Self {
        self.boundaries = b;
        self
    }
    /// Correlate (default, as CNN libraries) or convolve.
    #[must_use]
    pub fn orientation(mut self, o: Orientation) -> Self {
        self.orientation = o;
        self
    }
    /// Output geometry (default `Same`, stride 1, dilation 1).
    #[must_use]
    pub fn geometry(mut self, g: Geometry) -> Self {
        self.geometry = g;
        self
    }
    /// Kernel anchor `(ay, ax)` in the frame of the weights as given (default `(kh/2, kw/2)`).
    #[must_use]
    pub fn anchor(mut self, a: [usize; 2]) -> Self {
        self.anchor = Some(a);
        self
    }
    /// Forces the portable inner loops even where AVX2+FMA is available (for comparisons).
    #[must_use]
    pub fn portable(mut self, yes: bool) -> Self {
        self.portable = yes;
        self
    }
    /// Builds the plan and allocates all scratch.
    ///
    /// # Errors
    /// Empty shapes, channel counts not divisible by `groups`, an anchor outside the kernel, or
    /// an invalid geometry.
    pub fn build(self) -> Result<ChannelConvPlan<T>> {
        ChannelConvPlan::new(self)
    }
}

/// What a [`ChannelConvPlan`] decided, as plain data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelRecipe {
    /// Element type name.
    pub element: String,
    /// `pointwise` for 1x1 kernels, `dense` otherwise.
    pub variant: String,
    /// Instruction set of the inner loops (`avx2+fma` or `portable`).
    pub isa: String,
    /// `(N, C_in, H, W)`.
    pub input_shape: [usize; 4],
    /// `(C_out, C_in / groups, kh, kw)`.
    pub weight_shape: [usize; 4],
    /// `(N, C_out, H_out, W_out)`.
    pub output_shape: [usize; 4],
    /// Channel groups.
    pub groups: usize,
    /// Orientation.
    pub orientation: Orientation,
    /// Boundaries.
    pub boundaries: Boundaries,
    /// Padding `[(top, bottom), (left, right)]`.
    pub padding: [[usize; 2]; 2],
    /// Stride `(sy, sx)`.
    pub stride: [usize; 2],
    /// Dilation `(dy, dx)`.
    pub dilation: [usize; 2],
    /// Parallel tasks (batch chunks); results do not depend on it.
    pub tasks: usize,
}

impl fmt::Display for ChannelRecipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} channels {} [{}] {:?} * {:?} -> {:?} groups {} {:?} pad {:?} stride {:?} dilation {:?} tasks {}",
            self.element,
            self.variant,
            self.isa,
            self.input_shape,
            self.weight_shape,
            self.output_shape,
            self.groups,
            self.orientation,
            self.padding,
            self.stride,
            self.dilation,
            self.tasks
        )
    }
}

/// Layout of one correlation stage: a stack of padded planes, each row split into `sx` phases so
/// that the taps of a strided correlation read contiguous runs.
#[derive(Clone, Debug)]
struct Stage {
    /// Elements per stored row (`sx * ph_len`).
    rowlen: usize,
    /// Elements per phase of a row.
    ph_len: usize,
    /// Column stride (number of phases).
    sx: usize,
    /// Elements per plane.
    plane: usize,
    /// Start of tap `kx`'s run within a row.
    offs: Vec<usize>,
    kh: usize,
    dy: usize,
    sy: usize,
    out_rows: usize,
    out_cols: usize,
    /// `out_cols` rounded up to the vector block.
    wv: usize,
}

impl Stage {
    #[allow(clippy::too_many_arguments)]
    fn new(
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
    fn pos(&self, c: usize) -> usize {
        (c % self.sx) * self.ph_len + c / self.sx
    }
}

/// Everything fixed at plan time.
#[derive(Clone, Debug)]
struct Geo {
    n: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    groups: usize,
    cin_g: usize,
    cout_g: usize,
    kh: usize,
    kw: usize,
    orientation: Orientation,
    ry: ResolvedAxis,
    rx: ResolvedAxis,
    isa: Isa,
    v: usize,
    fwd: Stage,
    bwd: Stage,
    /// Source of each padded row / column.
    row_src: Vec<Source>,
    col_src: Vec<Source>,
    samples_per_task: usize,
}

/// Per-task scratch.
#[derive(Clone, Debug)]
struct Scratch<T> {
    /// Padded input planes of one sample.
    xp: Vec<T>,
    /// Zero-interleaved, zero-padded output gradient of one sample.
    gz: Vec<T>,
    /// Output gradient of one sample with rows padded to `fwd.wv`.
    gs: Vec<T>,
    /// One row block of outputs.
    row: Vec<T>,
    /// Weight-gradient lane accumulators `[co][ci][ky][kx][VW]`.
    lanes: Vec<T>,
}

/// A multi-channel convolution planned once for an input shape and kernel size; weights and
/// bias are passed at each call. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct ChannelConvPlan<T> {
    geo: Geo,
    recipe: ChannelRecipe,
    scratch: Vec<Scratch<T>>,
    wpack_f: Vec<T>,
    wpack_b: Vec<T>,
    gw_part: Vec<T>,
    gb_part: Vec<T>,
}

/// Blocks of 4 channels, then single channels: `(start, size)`.
fn blocks(n: usize, b: usize) -> impl Iterator<Item = (usize, usize)> {
    let full = n / b * b;
    (0..full)
        .step_by(b)
        .map(move |s| (s, b))
        .chain((full..n).map(|s| (s, 1)))
}

impl<T: Element> ChannelConvPlan<T> {
    /// Starts a plan for inputs `(N, C_in, H, W)`, `c_out` output channels and kernels of
    /// `(kh, kw)` taps.
    #[must_use]
    pub fn builder(
        input_shape: [usize; 4],
        c_out: usize,
        kernel: [usize; 2],
    ) -> ChannelConvPlanBuilder<T> {
        ChannelConvPlanBuilder {
            input_shape,
            c_out,
            kernel,
            anchor: None,
            groups: 1,
            boundaries: Boundaries::default(),
            orientation: Orientation::default(),
            geometry: Geometry::default(),
            portable: false,
            _t: std::marker::PhantomData,
        }
    }

    fn new(b: ChannelConvPlanBuilder<T>) -> Result<Self> {
        let [n, c_in, h, w] = b.input_shape;
        let [kh, kw] = b.kernel;
        if n == 0 || c_in == 0 || h == 0 || w == 0 {
            return Err(CoreError::EmptyInput {
                shape: b.input_shape.to_vec(),
            });
        }
        if kh == 0 || kw == 0 {
            return Err(CoreError::EmptyKernel { shape: b.kernel });
        }
        let groups = b.groups;
        if groups == 0
            || !c_in.is_multiple_of(groups)
            || !b.c_out.is_multiple_of(groups)
            || b.c_out == 0
        {
            return Err(CoreError::Channels(format!(
                "groups = {groups} with C_in = {c_in} and C_out = {}: both channel counts must be \
                 positive multiples of groups (groups >= 1)",
                b.c_out
            )));
        }
        if b.boundaries.has_halo() {
            return Err(CoreError::InvalidValue {
                name: "boundaries",
                value: format!("{:?}", b.boundaries),
                allowed: "a padding mode on every side: halo tiles are for ConvPlan (single-channel \
                          solver stencils), not for multi-channel layers",
            });
        }
        let anchor = b.anchor.unwrap_or([kh / 2, kw / 2]);
        if anchor[0] >= kh || anchor[1] >= kw {
            return Err(CoreError::AnchorOutside {
                anchor,
                shape: b.kernel,
            });
        }
        let canon = match b.orientation {
            Orientation::Correlate => anchor,
            Orientation::Convolve => [kh - 1 - anchor[0], kw - 1 - anchor[1]],
        };
        let ry = resolve_axis(h, kh, canon[0], &b.geometry.y, "y")?;
        let rx = resolve_axis(w, kw, canon[1], &b.geometry.x, "x")?;
        let isa = if b.portable {
            Isa::Portable
        } else {
            Isa::detect()
        };
        let v = if std::mem::size_of::<T>() == 4 { 16 } else { 8 };
        let (hpad, wpad) = (ry.lo + h + ry.hi, rx.lo + w + rx.hi);
        let fwd = Stage::new(
            hpad,
            wpad,
            [kh, kw],
            [ry.dilation, rx.dilation],
            [ry.stride, rx.stride],
            [ry.out, rx.out],
            v,
        );
        let bwd = Stage::new(
            hpad + ry.k_eff - 1,
            wpad + rx.k_eff - 1,
            [kh, kw],
            [ry.dilation, rx.dilation],
            [1, 1],
            [hpad, wpad],
            v,
        );
        let row_src = (0..hpad)
            .map(|r| b.boundaries.y.source(r as isize - ry.lo as isize, h))
            .collect();
        let col_src = (0..wpad)
            .map(|c| b.boundaries.x.source(c as isize - rx.lo as isize, w))
            .collect();
        let threads = rayon::current_num_threads().max(1);
        let samples_per_task = n.div_ceil(n.min(threads));
        let tasks = n.div_ceil(samples_per_task);
        let (cin_g, cout_g) = (c_in / groups, b.c_out / groups);
        let c_out = b.c_out;
        let wsize = c_out * cin_g * kh * kw;
        let zero = T::zero();
        let scratch = Scratch {
            xp: vec![zero; c_in * fwd.plane],
            gz: vec![zero; c_out * bwd.plane],
            gs: vec![zero; c_out * ry.out * fwd.wv],
            row: vec![zero; CB * fwd.wv.max(bwd.wv)],
            lanes: vec![zero; wsize * VW],
        };
        let recipe = ChannelRecipe {
            element: T::NAME.into(),
            variant: if kh == 1 && kw == 1 {
                "pointwise"
            } else {
                "dense"
            }
            .into(),
            isa: isa.name().into(),
            input_shape: b.input_shape,
            weight_shape: [c_out, cin_g, kh, kw],
            output_shape: [n, c_out, ry.out, rx.out],
            groups,
            orientation: b.orientation,
            boundaries: b.boundaries,
            padding: [[ry.lo, ry.hi], [rx.lo, rx.hi]],
            stride: [ry.stride, rx.stride],
            dilation: [ry.dilation, rx.dilation],
            tasks,
        };
        Ok(ChannelConvPlan {
            geo: Geo {
                n,
                c_in,
                h,
                w,
                c_out,
                groups,
                cin_g,
                cout_g,
                kh,
                kw,
                orientation: b.orientation,
                ry,
                rx,
                isa,
                v,
                fwd,
                bwd,
                row_src,
                col_src,
                samples_per_task,
            },
            recipe,
            scratch: vec![scratch; tasks],
            wpack_f: vec![zero; wsize],
            wpack_b: vec![zero; wsize],
            gw_part: vec![zero; n * wsize],
            gb_part: vec![zero; n * c_out],
        })
    }

    /// What the plan decided.
    #[must_use]
    pub fn recipe(&self) -> &ChannelRecipe {
        &self.recipe
    }

    /// `(N, C_in, H, W)`.
    #[must_use]
    pub fn input_shape(&self) -> (usize, usize, usize, usize) {
        let g = &self.geo;
        (g.n, g.c_in, g.h, g.w)
    }

    /// `(C_out, C_in / groups, kh, kw)`, the shape of the weights.
    #[must_use]
    pub fn weight_shape(&self) -> (usize, usize, usize, usize) {
        let g = &self.geo;
        (g.c_out, g.cin_g, g.kh, g.kw)
    }

    /// `(N, C_out, H_out, W_out)`.
    #[must_use]
    pub fn output_shape(&self) -> (usize, usize, usize, usize) {
        let g = &self.geo;
        (g.n, g.c_out, g.ry.out, g.rx.out)
    }

    fn check_weights(&self, weights: &ArrayView4<'_, T>, what: &str) {
        assert_eq!(
            weights.dim(),
            self.weight_shape(),
            "ChannelConvPlan::{what}: weight shape (actual, expected)"
        );
    }

    /// Canonical (correlation-frame) tap of the user's weights.
    #[inline]
    fn canon(geo: &Geo, w: &ArrayView4<'_, T>, co: usize, ci: usize, ky: usize, kx: usize) -> T {
        match geo.orientation {
            Orientation::Correlate => w[[co, ci, ky, kx]],
            Orientation::Convolve => w[[co, ci, geo.kh - 1 - ky, geo.kw - 1 - kx]],
        }
    }

    /// Packs the forward weights `[g][co block][ci][ky][kx][lane]`.
    fn pack_forward(&mut self, w: &ArrayView4<'_, T>) {
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
    fn pack_backward(&mut self, w: &ArrayView4<'_, T>) {
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

    /// `output = bias + conv(input, weights)`.
    ///
    /// # Panics
    /// If a shape differs from the plan's: `input` `(N, C_in, H, W)`, `weights`
    /// `(C_out, C_in / groups, kh, kw)`, `bias` `(C_out,)`, `output` `(N, C_out, H_out, W_out)`.
    pub fn forward(
        &mut self,
        input: ArrayView4<'_, T>,
        weights: ArrayView4<'_, T>,
        bias: Option<ArrayView1<'_, T>>,
        mut output: ArrayViewMut4<'_, T>,
    ) {
        assert_eq!(
            input.dim(),
            self.input_shape(),
            "ChannelConvPlan::forward: input shape (actual, expected)"
        );
        assert_eq!(
            output.dim(),
            self.output_shape(),
            "ChannelConvPlan::forward: output shape (actual, expected)"
        );
        self.check_weights(&weights, "forward");
        if let Some(b) = &bias {
            assert_eq!(
                b.len(),
                self.geo.c_out,
                "ChannelConvPlan::forward: bias length (actual, expected)"
            );
        }
        self.pack_forward(&weights);
        let geo = &self.geo;
        let wp = &self.wpack_f;
        let spt = geo.samples_per_task;
        output
            .axis_chunks_iter_mut(Axis(0), spt)
            .into_par_iter()
            .zip(self.scratch.par_iter_mut())
            .enumerate()
            .for_each(|(t, (mut chunk, s))| {
                for (k, out) in chunk.outer_iter_mut().enumerate() {
                    let x = input.index_axis(Axis(0), t * spt + k);
                    run_forward(geo, x, wp, bias.as_ref(), out, s);
                }
            });
    }

    /// `grad_in = A^H grad_out`: the exact adjoint of `forward` (without bias) with respect to
    /// its input, boundary padding included. Overwrites `grad_in`.
    ///
    /// # Panics
    /// If a shape differs from the plan's (see [`ChannelConvPlan::forward`]).
    pub fn backward_input(
        &mut self,
        grad_out: ArrayView4<'_, T>,
        weights: ArrayView4<'_, T>,
        mut grad_in: ArrayViewMut4<'_, T>,
    ) {
        assert_eq!(
            grad_out.dim(),
            self.output_shape(),
            "ChannelConvPlan::backward_input: grad_out shape (actual, expected)"
        );
        assert_eq!(
            grad_in.dim(),
            self.input_shape(),
            "ChannelConvPlan::backward_input: grad_in shape (actual, expected)"
        );
        self.check_weights(&weights, "backward_input");
        self.pack_backward(&weights);
        let geo = &self.geo;
        let wp = &self.wpack_b;
        let spt = geo.samples_per_task;
        grad_in
            .axis_chunks_iter_mut(Axis(0), spt)
            .into_par_iter()
            .zip(self.scratch.par_iter_mut())
            .enumerate()
            .for_each(|(t, (mut chunk, s))| {
                for (k, gin) in chunk.outer_iter_mut().enumerate() {
                    let g = grad_out.index_axis(Axis(0), t * spt + k);
                    run_backward_input(geo, g, wp, gin, s);
                }
            });
    }

    /// Gradients with respect to the weights and the bias: `grad_w[co, ci, ky, kx] =
    /// sum_{n, oy, ox} conj(x~[..]) grad_out[n, co, oy, ox]` (in the frame of the weights as
    /// given, so flipped back for `Convolve`) and `grad_b[co] = sum grad_out[n, co, ..]`.
    /// Overwrites both. Summed per sample, then over samples in index order.
    ///
    /// # Panics
    /// If a shape differs from the plan's (see [`ChannelConvPlan::forward`]).
    pub fn backward_weights(
        &mut self,
        input: ArrayView4<'_, T>,
        grad_out: ArrayView4<'_, T>,
        mut grad_w: ArrayViewMut4<'_, T>,
        grad_b: Option<ArrayViewMut1<'_, T>>,
    ) {
        assert_eq!(
            input.dim(),
            self.input_shape(),
            "ChannelConvPlan::backward_weights: input shape (actual, expected)"
        );
        assert_eq!(
            grad_out.dim(),
            self.output_shape(),
            "ChannelConvPlan::backward_weights: grad_out shape (actual, expected)"
        );
        assert_eq!(
            grad_w.dim(),
            self.weight_shape(),
            "ChannelConvPlan::backward_weights: grad_w shape (actual, expected)"
        );
        let geo = &self.geo;
        let spt = geo.samples_per_task;
        let wsize = geo.c_out * geo.cin_g * geo.kh * geo.kw;
        self.gw_part
            .par_chunks_mut(spt * wsize)
            .zip(self.gb_part.par_chunks_mut(spt * geo.c_out))
            .zip(self.scratch.par_iter_mut())
            .enumerate()
            .for_each(|(t, ((gw, gb), s))| {
                for (k, (gw, gb)) in gw
                    .chunks_exact_mut(wsize)
                    .zip(gb.chunks_exact_mut(geo.c_out))
                    .enumerate()
                {
                    let n = t * spt + k;
                    run_backward_weights(
                        geo,
                        input.index_axis(Axis(0), n),
                        grad_out.index_axis(Axis(0), n),
                        gw,
                        gb,
                        s,
                    );
                }
            });
        // Fixed-order reduction over samples.
        let (kh, kw) = (geo.kh, geo.kw);
        for co in 0..geo.c_out {
            for ci in 0..geo.cin_g {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let idx = ((co * geo.cin_g + ci) * kh + ky) * kw + kx;
                        let mut acc = T::zero();
                        for n in 0..geo.n {
                            acc += self.gw_part[n * wsize + idx];
                        }
                        let (uy, ux) = match geo.orientation {
                            Orientation::Correlate => (ky, kx),
                            Orientation::Convolve => (kh - 1 - ky, kw - 1 - kx),
                        };
                        grad_w[[co, ci, uy, ux]] = acc;
                    }
                }
            }
        }
        if let Some(mut gb) = grad_b {
            assert_eq!(
                gb.len(),
                geo.c_out,
                "ChannelConvPlan::backward_weights: grad_b length (actual, expected)"
            );
            for co in 0..geo.c_out {
                let mut acc = T::zero();
                for n in 0..geo.n {
                    acc += self.gb_part[n * geo.c_out + co];
                }
                gb[co] = acc;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch: one AVX2+FMA wrapper per entry point (the body is inlined into it), one portable.

macro_rules! first_geo {
    ($first:ident $(, $rest:ident)*) => {
        $first
    };
}

macro_rules! entry {
    ($name:ident, $body:ident, $avx:ident, ($($arg:ident : $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $avx<T: Element, const V: usize>($($arg: $ty),*) {
            $body::<T, V, true>($($arg),*);
        }

        fn $name<T: Element>($($arg: $ty),*) {
            let geo: &Geo = first_geo!($($arg),*);
            match (geo.isa, geo.v) {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Avx2Fma` is only recorded after run-time detection of both features.
                (Isa::Avx2Fma, 16) => unsafe { $avx::<T, 16>($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above.
                (Isa::Avx2Fma, _) => unsafe { $avx::<T, 8>($($arg),*) },
                (_, 16) => $body::<T, 16, false>($($arg),*),
                _ => $body::<T, 8, false>($($arg),*),
            }
        }
    };
}

entry!(
    run_forward,
    forward_sample,
    forward_sample_avx2,
    (geo: &Geo, x: ArrayView3<'_, T>, wp: &[T], bias: Option<&ArrayView1<'_, T>>, out: ArrayViewMut3<'_, T>, s: &mut Scratch<T>)
);
entry!(
    run_backward_input,
    backward_input_sample,
    backward_input_sample_avx2,
    (geo: &Geo, g: ArrayView3<'_, T>, wp: &[T], gin: ArrayViewMut3<'_, T>, s: &mut Scratch<T>)
);
entry!(
    run_backward_weights,
    backward_weights_sample,
    backward_weights_sample_avx2,
    (geo: &Geo, x: ArrayView3<'_, T>, g: ArrayView3<'_, T>, gw: &mut [T], gb: &mut [T], s: &mut Scratch<T>)
);

// ---------------------------------------------------------------------------------------------
// Bodies.

/// Boundary-pads every channel of one sample into `xp` (layout `geo.fwd`).
#[inline(always)]
fn pad_sample<T: Element>(geo: &Geo, x: &ArrayView3<'_, T>, xp: &mut [T]) {
    let st = &geo.fwd;
    let (lo, w) = (geo.rx.lo, geo.w);
    let wpad = geo.col_src.len();
    for ci in 0..geo.c_in {
        let plane = &mut xp[ci * st.plane..(ci + 1) * st.plane];
        for (r, rs) in geo.row_src.iter().enumerate() {
            let dst = &mut plane[r * st.rowlen..(r + 1) * st.rowlen];
            let (srow, neg) = match *rs {
                Source::Constant(v) => {
                    let v = T::from_f64(v);
                    for c in 0..wpad {
                        dst[st.pos(c)] = v;
                    }
                    continue;
                }
                Source::Index(i) => (i, false),
                Source::Negated(i) => (i, true),
            };
            let src = x.slice(s![ci, srow, ..]);
            let sgn = |v: T| if neg { -v } else { v };
            match (st.sx, src.as_slice()) {
                (1, Some(sl)) => {
                    if neg {
                        for (d, v) in dst[lo..lo + w].iter_mut().zip(sl) {
                            *d = -*v;
                        }
                    } else {
                        dst[lo..lo + w].copy_from_slice(sl);
                    }
                }
                _ => {
                    for j in 0..w {
                        dst[st.pos(lo + j)] = sgn(src[j]);
                    }
                }
            }
            for c in (0..lo).chain(lo + w..wpad) {
                dst[st.pos(c)] = match geo.col_src[c] {
                    Source::Index(j) => sgn(src[j]),
                    Source::Negated(j) => -sgn(src[j]),
                    Source::Constant(v) => T::from_f64(v),
                };
            }
        }
    }
}

/// One output row of `C` channels: `out[c * wv + ox] = init[c] + sum w * x`, register-blocked
/// over `C` channels and `V` columns. `x` holds the group's input planes, `w` the packed taps
/// `[ci][ky][kx][C]`.
#[inline(always)]
fn row_block<T: Element, const C: usize, const V: usize, const FMA: bool>(
    x: &[T],
    st: &Stage,
    r0: usize,
    cin: usize,
    w: &[T],
    init: [T; C],
    out: &mut [T],
) {
    let wv = st.wv;
    for ox0 in (0..wv).step_by(V) {
        let mut a = [[T::zero(); V]; C];
        for c in 0..C {
            a[c] = [init[c]; V];
        }
        let mut wi = 0;
        for ci in 0..cin {
            for ky in 0..st.kh {
                let base = ci * st.plane + (r0 + ky * st.dy) * st.rowlen + ox0;
                for &off in &st.offs {
                    let xs: &[T; V] = x[base + off..base + off + V].try_into().unwrap();
                    let ws: &[T; C] = w[wi..wi + C].try_into().unwrap();
                    wi += C;
                    for c in 0..C {
                        for l in 0..V {
                            a[c][l] = madd::<T, FMA>(xs[l], ws[c], a[c][l]);
                        }
                    }
                }
            }
        }
        for c in 0..C {
            out[c * wv + ox0..c * wv + ox0 + V].copy_from_slice(&a[c]);
        }
    }
}

#[inline(always)]
fn forward_sample<T: Element, const V: usize, const FMA: bool>(
    geo: &Geo,
    x: ArrayView3<'_, T>,
    wp: &[T],
    bias: Option<&ArrayView1<'_, T>>,
    mut out: ArrayViewMut3<'_, T>,
    s: &mut Scratch<T>,
) {
    pad_sample(geo, &x, &mut s.xp);
    let st = &geo.fwd;
    let per_co = geo.cin_g * geo.kh * geo.kw;
    let wo = st.out_cols;
    for g in 0..geo.groups {
        let xg = &s.xp[g * geo.cin_g * st.plane..(g + 1) * geo.cin_g * st.plane];
        let wg = &wp[g * geo.cout_g * per_co..(g + 1) * geo.cout_g * per_co];
        for oy in 0..st.out_rows {
            let r0 = oy * st.sy;
            for (co0, cb) in blocks(geo.cout_g, CB) {
                let co = g * geo.cout_g + co0;
                let b = |c: usize| bias.map_or(T::zero(), |b| b[co + c]);
                let wb = &wg[co0 * per_co..(co0 + cb) * per_co];
                if cb == CB {
                    let init = [b(0), b(1), b(2), b(3)];
                    row_block::<T, CB, V, FMA>(xg, st, r0, geo.cin_g, wb, init, &mut s.row);
                } else {
                    row_block::<T, 1, V, FMA>(xg, st, r0, geo.cin_g, wb, [b(0)], &mut s.row);
                }
                for c in 0..cb {
                    let src = &s.row[c * st.wv..c * st.wv + wo];
                    let mut dst = out.slice_mut(s![co + c, oy, ..]);
                    if let Some(d) = dst.as_slice_mut() {
                        d.copy_from_slice(src);
                    } else {
                        for (d, v) in dst.iter_mut().zip(src) {
                            *d = *v;
                        }
                    }
                }
            }
        }
    }
}

/// Adds the gradient of one padded row onto its source row (the adjoint of the column padding).
#[inline(always)]
fn fold_row<T: Element>(geo: &Geo, vals: &[T], neg: bool, mut dst: ArrayViewMut1<'_, T>) {
    let (lo, w) = (geo.rx.lo, geo.w);
    let wpad = geo.col_src.len();
    let sgn = |v: T| if neg { -v } else { v };
    if let Some(d) = dst.as_slice_mut() {
        for (d, v) in d.iter_mut().zip(&vals[lo..lo + w]) {
            *d += sgn(*v);
        }
    } else {
        for (d, v) in dst.iter_mut().zip(&vals[lo..lo + w]) {
            *d += sgn(*v);
        }
    }
    for c in (0..lo).chain(lo + w..wpad) {
        match geo.col_src[c] {
            Source::Index(j) => dst[j] += sgn(vals[c]),
            Source::Negated(j) => dst[j] -= sgn(vals[c]),
            Source::Constant(_) => {}
        }
    }
}

#[inline(always)]
fn backward_input_sample<T: Element, const V: usize, const FMA: bool>(
    geo: &Geo,
    g: ArrayView3<'_, T>,
    wp: &[T],
    mut gin: ArrayViewMut3<'_, T>,
    s: &mut Scratch<T>,
) {
    let st = &geo.bwd;
    let (ry, rx) = (geo.ry, geo.rx);
    // Scatter the output gradient onto its (strided) positions; every other entry of `gz` is
    // zero since plan time and never written.
    for co in 0..geo.c_out {
        for oy in 0..ry.out {
            let base = co * st.plane + (ry.k_eff - 1 + oy * ry.stride) * st.rowlen + rx.k_eff - 1;
            for (ox, v) in g.slice(s![co, oy, ..]).iter().enumerate() {
                s.gz[base + ox * rx.stride] = *v;
            }
        }
    }
    gin.fill(T::zero());
    let per_ci = geo.cout_g * geo.kh * geo.kw;
    let wpad = geo.col_src.len();
    for grp in 0..geo.groups {
        let zg = &s.gz[grp * geo.cout_g * st.plane..(grp + 1) * geo.cout_g * st.plane];
        let wg = &wp[grp * geo.cin_g * per_ci..(grp + 1) * geo.cin_g * per_ci];
        for r in 0..st.out_rows {
            let (srow, neg) = match geo.row_src[r] {
                Source::Constant(_) => continue,
                Source::Index(i) => (i, false),
                Source::Negated(i) => (i, true),
            };
            for (ci0, cb) in blocks(geo.cin_g, CB) {
                let wb = &wg[ci0 * per_ci..(ci0 + cb) * per_ci];
                let z = T::zero();
                if cb == CB {
                    row_block::<T, CB, V, FMA>(zg, st, r, geo.cout_g, wb, [z; CB], &mut s.row);
                } else {
                    row_block::<T, 1, V, FMA>(zg, st, r, geo.cout_g, wb, [z], &mut s.row);
                }
                for c in 0..cb {
                    let vals = &s.row[c * st.wv..c * st.wv + wpad];
                    let ci = grp * geo.cin_g + ci0 + c;
                    fold_row(geo, vals, neg, gin.slice_mut(s![ci, srow, ..]));
                }
            }
        }
    }
}

/// Accumulates `lanes[c][k] += conj(x[offs[k] + ox]) * g[c][ox]` over a row, for `C` output
/// channels and `KW` taps, in `VW` lanes held in registers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn wgrad_block<T: Element, const C: usize, const KW: usize, const FMA: bool>(
    x: &[T],
    offs: &[usize],
    g: &[T],
    gstride: usize,
    wv: usize,
    lanes: &mut [T],
    lstride: usize,
) {
    let mut a = [[[T::zero(); VW]; KW]; C];
    for c in 0..C {
        for k in 0..KW {
            a[c][k].copy_from_slice(&lanes[c * lstride + k * VW..c * lstride + (k + 1) * VW]);
        }
    }
    let offs: &[usize; KW] = offs[..KW].try_into().unwrap();
    for ox0 in (0..wv).step_by(VW) {
        let mut gv = [[T::zero(); VW]; C];
        for c in 0..C {
            gv[c].copy_from_slice(&g[c * gstride + ox0..c * gstride + ox0 + VW]);
        }
        for k in 0..KW {
            let xs: &[T; VW] = x[offs[k] + ox0..offs[k] + ox0 + VW].try_into().unwrap();
            for c in 0..C {
                for l in 0..VW {
                    a[c][k][l] = madd::<T, FMA>(xs[l].conj(), gv[c][l], a[c][k][l]);
                }
            }
        }
    }
    for c in 0..C {
        for k in 0..KW {
            lanes[c * lstride + k * VW..c * lstride + (k + 1) * VW].copy_from_slice(&a[c][k]);
        }
    }
}

#[inline(always)]
fn backward_weights_sample<T: Element, const V: usize, const FMA: bool>(
    geo: &Geo,
    x: ArrayView3<'_, T>,
    g: ArrayView3<'_, T>,
    gw: &mut [T],
    gb: &mut [T],
    s: &mut Scratch<T>,
) {
    pad_sample(geo, &x, &mut s.xp);
    let st = &geo.fwd;
    let (ho, wo, wv) = (st.out_rows, st.out_cols, st.wv);
    // Output gradient rows padded to `wv` (the tails stay zero since plan time).
    for co in 0..geo.c_out {
        for oy in 0..ho {
            let dst = &mut s.gs[(co * ho + oy) * wv..(co * ho + oy) * wv + wo];
            for (d, v) in dst.iter_mut().zip(g.slice(s![co, oy, ..])) {
                *d = *v;
            }
        }
    }
    s.lanes.fill(T::zero());
    let (kh, kw, cin_g) = (geo.kh, geo.kw, geo.cin_g);
    let lstride = cin_g * kh * kw * VW;
    for grp in 0..geo.groups {
        for oy in 0..ho {
            let r0 = oy * st.sy;
            for (co0, cb) in blocks(geo.cout_g, CW) {
                let co = grp * geo.cout_g + co0;
                let gr = &s.gs[(co * ho + oy) * wv..];
                for ci in 0..cin_g {
                    for ky in 0..kh {
                        let xbase = (grp * cin_g + ci) * st.plane + (r0 + ky * st.dy) * st.rowlen;
                        let xr = &s.xp[xbase..xbase + st.rowlen];
                        let mut kx0 = 0;
                        while kx0 < kw {
                            let lbase = (((co * cin_g + ci) * kh + ky) * kw + kx0) * VW;
                            let lanes = &mut s.lanes[lbase..];
                            let offs = &st.offs[kx0..];
                            let step = if kw - kx0 >= 3 { 3 } else { 1 };
                            match (cb, step) {
                                (CW, 3) => wgrad_block::<T, CW, 3, FMA>(
                                    xr,
                                    offs,
                                    gr,
                                    ho * wv,
                                    wv,
                                    lanes,
                                    lstride,
                                ),
                                (CW, _) => wgrad_block::<T, CW, 1, FMA>(
                                    xr,
                                    offs,
                                    gr,
                                    ho * wv,
                                    wv,
                                    lanes,
                                    lstride,
                                ),
                                (_, 3) => wgrad_block::<T, 1, 3, FMA>(
                                    xr,
                                    offs,
                                    gr,
                                    ho * wv,
                                    wv,
                                    lanes,
                                    lstride,
                                ),
                                _ => wgrad_block::<T, 1, 1, FMA>(
                                    xr,
                                    offs,
                                    gr,
                                    ho * wv,
                                    wv,
                                    lanes,
                                    lstride,
                                ),
                            }
                            kx0 += step;
                        }
                    }
                }
            }
        }
    }
    for (d, l) in gw.iter_mut().zip(s.lanes.chunks_exact(VW)) {
        let mut acc = T::zero();
        for v in l {
            acc += *v;
        }
        *d = acc;
    }
    // Bias gradient: lane sums over the padded rows (tails are zero), then the lanes in order.
    for (co, d) in gb.iter_mut().enumerate() {
        let mut lane = [T::zero(); VW];
        for ch in s.gs[co * ho * wv..(co + 1) * ho * wv].chunks_exact(VW) {
            for l in 0..VW {
                lane[l] += ch[l];
            }
        }
        let mut acc = T::zero();
        for v in lane {
            acc += v;
        }
        *d = acc;
    }
    let _ = V;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AxisGeometry, Boundary, Kernel2, Padding, Sides, reference};
    use ndarray::{Array1, Array2, Array4};
    use num_complex::Complex64;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn rand4<T: Element>(shape: (usize, usize, usize, usize), seed: u64) -> Array4<T> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array4::from_shape_fn(shape, |_| {
            let re: f64 = rng.random_range(-1.0..1.0);
            let im: f64 = rng.random_range(-1.0..1.0);
            T::from_complex(num_complex::Complex::new(
                <T::Real as Element>::from_f64(re),
                <T::Real as Element>::from_f64(if T::IS_COMPLEX { im } else { 0.0 }),
            ))
        })
    }

    /// One configuration of the tests.
    #[derive(Clone, Copy, Debug)]
    struct Case {
        shape: [usize; 4],
        c_out: usize,
        k: [usize; 2],
        groups: usize,
        b: Boundaries,
        o: Orientation,
        g: Geometry,
    }

    fn modes() -> Vec<Boundaries> {
        let mut v: Vec<Boundaries> = [
            Boundary::Zero,
            Boundary::Constant(1.5),
            Boundary::Replicate,
            Boundary::Mirror,
            Boundary::Symmetric,
            Boundary::Periodic,
            Boundary::Antisymmetric,
        ]
        .into_iter()
        .map(Boundaries::uniform)
        .collect();
        v.push(Boundaries {
            y: Sides {
                lo: Boundary::Replicate,
                hi: Boundary::Antisymmetric,
            },
            x: Sides {
                lo: Boundary::Symmetric,
                hi: Boundary::Zero,
            },
        });
        v
    }

    fn cases() -> Vec<Case> {
        let mut out = Vec::new();
        for b in modes() {
            let base = Case {
                shape: [3, 10, 7, 9],
                c_out: 10,
                k: [3, 3],
                groups: 1,
                b,
                o: Orientation::Correlate,
                g: Geometry::same(),
            };
            out.push(base);
            out.push(Case {
                groups: 2,
                g: Geometry::same().with_stride(2, 2),
                ..base
            });
            out.push(Case {
                g: Geometry::same().with_dilation(2, 2),
                o: Orientation::Convolve,
                ..base
            });
            out.push(Case {
                shape: [2, 4, 6, 11],
                c_out: 6,
                k: [2, 4],
                groups: 2,
                g: Geometry {
                    y: AxisGeometry::new(Padding::Full).stride(2),
                    x: AxisGeometry::new(Padding::Explicit { lo: 5, hi: 1 }).stride(3),
                },
                o: Orientation::Convolve,
                ..base
            });
            out.push(Case {
                shape: [2, 3, 5, 6],
                c_out: 5,
                k: [1, 1],
                ..base
            });
        }
        out
    }

    fn plan<T: Element>(c: &Case) -> ChannelConvPlan<T> {
        ChannelConvPlan::builder(c.shape, c.c_out, c.k)
            .groups(c.groups)
            .boundaries(c.b)
            .orientation(c.o)
            .geometry(c.g)
            .build()
            .unwrap()
    }

    /// The oracle: a loop over channels of the naive single-channel `reference::conv2d`.
    fn reference_forward<T: Element>(
        c: &Case,
        x: &Array4<T>,
        w: &Array4<T>,
        bias: &Array1<T>,
        out_shape: (usize, usize, usize, usize),
    ) -> Array4<T> {
        let mut y = Array4::<T>::zeros(out_shape);
        let (cin_g, cout_g) = (c.shape[1] / c.groups, c.c_out / c.groups);
        for n in 0..c.shape[0] {
            for co in 0..c.c_out {
                let g = co / cout_g;
                let mut acc = Array2::<T>::from_elem((out_shape.2, out_shape.3), bias[co]);
                for ci in 0..cin_g {
                    let k = Kernel2::new(w.slice(s![co, ci, .., ..]).to_owned()).unwrap();
                    let r = reference::conv2d(
                        x.slice(s![n, g * cin_g + ci, .., ..]),
                        &k.into(),
                        &c.b,
                        c.o,
                        &c.g,
                    )
                    .unwrap();
                    acc += &r;
                }
                y.slice_mut(s![n, co, .., ..]).assign(&acc);
            }
        }
        y
    }

    fn max_rel<T: Element>(a: &Array4<T>, b: &Array4<T>) -> f64 {
        let scale = b.iter().map(|v| v.to_c64().norm()).fold(1.0, f64::max);
        a.iter()
            .zip(b)
            .map(|(x, y)| (x.to_c64() - y.to_c64()).norm())
            .fold(0.0, f64::max)
            / scale
    }

    fn forward_matches_reference<T: Element>(tol: f64) {
        for (i, c) in cases().iter().enumerate() {
            let mut p = plan::<T>(c);
            let x = rand4::<T>(p.input_shape(), 1 + i as u64);
            let w = rand4::<T>(p.weight_shape(), 100 + i as u64);
            let b = rand4::<T>((1, 1, 1, c.c_out), 200 + i as u64)
                .into_shape_with_order(c.c_out)
                .unwrap();
            let mut y = Array4::<T>::zeros(p.output_shape());
            p.forward(x.view(), w.view(), Some(b.view()), y.view_mut());
            let r = reference_forward(c, &x, &w, &b, p.output_shape());
            let e = max_rel(&y, &r);
            assert!(e < tol, "{} case {i} {c:?}: forward error {e}", T::NAME);
        }
    }

    #[test]
    fn forward_matches_per_channel_reference() {
        // f64: sums of <= 90 products of O(1) values; 1e-13 leaves room for FMA vs separate
        // rounding. f32: the same with eps 1.2e-7.
        forward_matches_reference::<f64>(1e-13);
        forward_matches_reference::<f32>(2e-5);
        forward_matches_reference::<Complex64>(1e-13);
    }

    fn dot<T: Element>(a: &Array4<T>, b: &Array4<T>) -> Complex64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.to_c64().conj() * y.to_c64())
            .sum()
    }

    fn adjoint_identities<T: Element>() {
        for (i, c) in cases().iter().enumerate() {
            let mut p = plan::<T>(c);
            let x = rand4::<T>(p.input_shape(), 300 + i as u64);
            let w = rand4::<T>(p.weight_shape(), 400 + i as u64);
            let yv = rand4::<T>(p.output_shape(), 500 + i as u64);
            let zero_in = Array4::<T>::zeros(p.input_shape());
            let mut ax = Array4::<T>::zeros(p.output_shape());
            let mut a0 = Array4::<T>::zeros(p.output_shape());
            p.forward(x.view(), w.view(), None, ax.view_mut());
            // Constant padding makes x -> A x affine; its linear part is A x - A 0.
            p.forward(zero_in.view(), w.view(), None, a0.view_mut());
            let lin = &ax - &a0;
            let mut aty = Array4::<T>::zeros(p.input_shape());
            p.backward_input(yv.view(), w.view(), aty.view_mut());
            let (l, r) = (dot(&lin, &yv), dot(&x, &aty));
            // Both sides are sums of ~1e3 O(1) terms: 1e-12 relative is ~50 ulps of headroom.
            let scale = l.norm().max(1.0);
            assert!(
                (l - r).norm() < 1e-12 * scale,
                "{} case {i} {c:?}: <Ax,y> = {l} vs <x,A^T y> = {r}",
                T::NAME
            );
            // Weights and bias: out = A(w) x + b is linear in (w, b).
            let mut gw = Array4::<T>::zeros(p.weight_shape());
            let mut gb = Array1::<T>::zeros(c.c_out);
            p.backward_weights(x.view(), yv.view(), gw.view_mut(), Some(gb.view_mut()));
            let r = dot(&w, &gw);
            assert!(
                (dot(&ax, &yv) - r).norm() < 1e-12 * scale.max(r.norm()),
                "{} case {i} {c:?}: <A(w)x,y> = {} vs <w,gw> = {r}",
                T::NAME,
                dot(&ax, &yv)
            );
            let bias = rand4::<T>((1, 1, 1, c.c_out), 600 + i as u64)
                .into_shape_with_order(c.c_out)
                .unwrap();
            let mut ab = Array4::<T>::zeros(p.output_shape());
            p.forward(x.view(), w.view(), Some(bias.view()), ab.view_mut());
            let l = dot(&(&ab - &ax), &yv);
            let r: Complex64 = bias
                .iter()
                .zip(&gb)
                .map(|(b, g)| b.to_c64().conj() * g.to_c64())
                .sum();
            assert!(
                (l - r).norm() < 1e-12 * l.norm().max(1.0),
                "bias adjoint {l} vs {r}"
            );
        }
    }

    #[test]
    fn dot_product_adjoint_tests_every_mode() {
        adjoint_identities::<f64>();
        adjoint_identities::<Complex64>();
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        let c = Case {
            shape: [5, 6, 12, 13],
            c_out: 6,
            k: [3, 3],
            groups: 1,
            b: Boundaries::uniform(Boundary::Mirror),
            o: Orientation::Correlate,
            g: Geometry::same(),
        };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut p = plan::<f32>(&c);
                let x = rand4::<f32>(p.input_shape(), 1);
                let w = rand4::<f32>(p.weight_shape(), 2);
                let mut y = Array4::<f32>::zeros(p.output_shape());
                p.forward(x.view(), w.view(), None, y.view_mut());
                let mut gi = Array4::<f32>::zeros(p.input_shape());
                p.backward_input(y.view(), w.view(), gi.view_mut());
                let mut gw = Array4::<f32>::zeros(p.weight_shape());
                let mut gb = Array1::<f32>::zeros(6);
                p.backward_weights(x.view(), y.view(), gw.view_mut(), Some(gb.view_mut()));
                (p.recipe().tasks, y, gi, gw, gb)
            })
        };
        let a = run(1);
        let b = run(3);
        assert_ne!(a.0, b.0, "the two runs must split the batch differently");
        assert_eq!(a.1, b.1);
        assert_eq!(a.2, b.2);
        assert_eq!(a.3, b.3);
        assert_eq!(a.4, b.4);
    }

    #[test]
    fn portable_and_simd_paths_agree() {
        let c = cases()[6];
        let build = |portable| {
            ChannelConvPlan::<f64>::builder(c.shape, c.c_out, c.k)
                .groups(c.groups)
                .boundaries(c.b)
                .geometry(c.g)
                .portable(portable)
                .build()
                .unwrap()
        };
        let (mut a, mut b) = (build(true), build(false));
        assert_eq!(a.recipe().isa, "portable");
        let x = rand4::<f64>(a.input_shape(), 9);
        let w = rand4::<f64>(a.weight_shape(), 10);
        let mut ya = Array4::<f64>::zeros(a.output_shape());
        let mut yb = ya.clone();
        a.forward(x.view(), w.view(), None, ya.view_mut());
        b.forward(x.view(), w.view(), None, yb.view_mut());
        // Fused vs separate rounding only.
        assert!(max_rel(&ya, &yb) < 1e-14);
    }

    #[test]
    fn bad_channel_counts_are_typed_errors() {
        let e = ChannelConvPlan::<f32>::builder([1, 3, 4, 4], 4, [3, 3])
            .groups(2)
            .build()
            .unwrap_err();
        assert!(matches!(e, CoreError::Channels(_)), "{e}");
        assert!(e.to_string().contains("groups = 2"));
    }
}
