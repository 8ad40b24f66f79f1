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
#![allow(
    clippy::inline_always,
    reason = "inner-loop bodies must be inlined into their `#[target_feature]` wrappers to be compiled for AVX2+FMA"
)]

use std::fmt;

use ndarray::{ArrayView1, ArrayView4, ArrayViewMut1, ArrayViewMut3, ArrayViewMut4, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::simd::{Isa, Simd};
use crate::{Boundaries, CoreError, Element, Geometry, Orientation, Result, resolve_axis};

mod kernels;
mod packing;

use kernels::{run_backward_input, run_backward_weights, run_forward};
use packing::{Geo, Scratch, Stage};

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
    simd: Simd,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: Element> ChannelConvPlanBuilder<T> {
    crate::builder_setters! {
        /// Channel groups (default 1): input and output channels are split into `groups` equal
        /// parts and part `g` of the outputs only sees part `g` of the inputs.
        groups: usize,
        /// Boundary per side (default `Zero`).
        boundaries: Boundaries,
        /// Correlate (default, as CNN libraries) or convolve.
        orientation: Orientation,
        /// Output geometry (default `Same`, stride 1, dilation 1).
        geometry: Geometry,
    }
    /// Kernel anchor `(ay, ax)` in the frame of the weights as given (default `(kh/2, kw/2)`).
    #[must_use]
    pub fn anchor(mut self, a: [usize; 2]) -> Self {
        self.anchor = Some(a);
        self
    }
    crate::builder_setters! {
        /// The widest instruction set the inner loops may use (default [`Simd::Best`]), as
        /// [`crate::ConvPlanBuilder::simd`]; the loops have no AVX-512 variant, so `Best` runs
        /// AVX2+FMA where present. `Simd::Portable` does not fuse multiply-adds and agrees with the
        /// vector path to rounding.
        simd: Simd,
    }
    /// Forces the portable inner loops (`true`) or allows the best (`false`).
    #[deprecated(note = "use `simd(Simd::Portable)` / `simd(Simd::Best)`, as every plan builder")]
    #[must_use]
    pub fn portable(self, yes: bool) -> Self {
        self.simd(if yes { Simd::Portable } else { Simd::Best })
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

/// Runs `f(n, out_n, scratch)` for every sample `n` of `out` (axis 0): tasks of `spt` samples in
/// parallel, each with its own scratch, the samples of a task in order.
fn per_sample<T: Element, F>(
    mut out: ArrayViewMut4<'_, T>,
    spt: usize,
    scratch: &mut [Scratch<T>],
    f: F,
) where
    F: Fn(usize, ArrayViewMut3<'_, T>, &mut Scratch<T>) + Sync,
{
    out.axis_chunks_iter_mut(Axis(0), spt)
        .into_par_iter()
        .zip(scratch.par_iter_mut())
        .enumerate()
        .for_each(|(t, (mut chunk, s))| {
            for (k, o) in chunk.outer_iter_mut().enumerate() {
                f(t * spt + k, o, s);
            }
        });
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
            simd: Simd::Best,
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
        let isa = Isa::detect_up_to(b.simd).at_most_avx2();
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
        output: ArrayViewMut4<'_, T>,
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
        per_sample(
            output,
            geo.samples_per_task,
            &mut self.scratch,
            |n, out, s| {
                run_forward(geo, input.index_axis(Axis(0), n), wp, bias.as_ref(), out, s);
            },
        );
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
        grad_in: ArrayViewMut4<'_, T>,
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
        per_sample(
            grad_in,
            geo.samples_per_task,
            &mut self.scratch,
            |n, gin, s| {
                run_backward_input(geo, grad_out.index_axis(Axis(0), n), wp, gin, s);
            },
        );
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
