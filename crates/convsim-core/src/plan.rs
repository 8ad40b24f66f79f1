//! Plans: everything decided once for a (shape, kernel, boundary, orientation, geometry,
//! method), then applied many times into caller-owned buffers without allocating.
//!
//! ```
//! use convsim_core::{Boundaries, Boundary, ConvPlan, Kernel2, Method};
//! use ndarray::{array, Array2};
//! let lap = Kernel2::new(array![[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).unwrap();
//! let mut plan = ConvPlan::builder([4, 5], lap)
//!     .boundaries(Boundaries::uniform(Boundary::Periodic))
//!     .method(Method::Direct)
//!     .build()
//!     .unwrap();
//! println!("{}", plan.recipe()); // what was decided, as plain data
//! let u = Array2::<f64>::from_elem((4, 5), 2.0);
//! let mut out = Array2::<f64>::zeros(plan.output_shape());
//! plan.apply(u.view(), out.view_mut());
//! assert!(out.iter().all(|v: &f64| v.abs() < 1e-15)); // the Laplacian of a constant
//! ```
//!
//! **Kernels** are checked once, by `build` (also a `SeparableKernel` written as a struct
//! literal): an empty factor or an anchor outside the kernel is an error, never a wrapped index.
//!
//! **NaN and infinity** are not checked per apply; they spread as IEEE arithmetic carries them
//! through each method: a non-finite input sample reaches only the outputs whose window reads
//! it with [`Method::Direct`], every output with [`Method::Fft`], and the outputs of the blocks
//! that read it with [`Method::OverlapSave`]; a non-finite tap reaches every output with every
//! method (such a kernel is never split into separable factors). FFT rounding is bounded
//! relative to `sum |w| |x|` over a sample's window, so outputs that cancel are less accurate
//! relative to themselves. Details and tests: `docs/conventions.md`, "Non-finite values".

use std::fmt;

use ndarray::{ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use crate::cost;
use crate::direct::Direct;
use crate::fft::{self, FftConv};
use crate::overlap_save::OverlapSave;
use crate::simd::{Isa, Simd};
use crate::{
    Boundaries, Boundary, Element, Geometry, Kernel, Orientation, ResolvedAxis, Result,
    resolve_tile_axis,
};

/// How a plan computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Pick the fastest of the others from the calibrated cost model.
    #[default]
    Auto,
    /// Sliding dot products (with separable and 1x1 fast paths).
    Direct,
    /// One FFT of the whole (padded) input.
    Fft,
    /// Block FFTs: the output is tiled into blocks, each computed from its window of the
    /// padded input with one cache-sized transform (overlap-save; see the user guide's
    /// conventions page). Kernels much smaller than the image, or images too large for one
    /// transform to stay in cache. Named `overlap_save`; the old name `overlap_add` is still
    /// read (recipes, configs).
    #[serde(alias = "overlap_add")]
    OverlapSave,
}

impl Method {
    /// The old name of [`Method::OverlapSave`], which the block method never was (it keeps the
    /// valid part of each block's circular correlation; no block adds into another's output).
    #[deprecated(since = "0.1.0", note = "renamed `Method::OverlapSave`")]
    #[allow(
        non_upper_case_globals,
        reason = "spelled as the variant it stands in for, so that old code compiles unchanged"
    )]
    pub const OverlapAdd: Method = Method::OverlapSave;

    /// Lowercase name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Direct => "direct",
            Method::Fft => "fft",
            Method::OverlapSave => "overlap_save",
        }
    }
}

/// What a plan decided, as plain data: print it, serialise it, compare it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// Element type name (`f32`, `f64`, `c32`, `c64`).
    pub element: String,
    /// The method the caller asked for.
    pub requested: Method,
    /// The method the plan runs.
    pub method: Method,
    /// Direct-path variant (`dense`, `separable`, `pointwise`), or FFT details.
    pub variant: String,
    /// Input shape `(h, w)`.
    pub input_shape: [usize; 2],
    /// Output shape.
    pub output_shape: [usize; 2],
    /// Kernel shape `(ky, kx)`.
    pub kernel_shape: [usize; 2],
    /// Non-zero taps (the direct path skips zeros).
    pub nonzero_taps: usize,
    /// Orientation.
    pub orientation: Orientation,
    /// Boundaries per side.
    pub boundaries: Boundaries,
    /// Padding `[(top, bottom), (left, right)]` implied by the geometry.
    pub padding: [[usize; 2]; 2],
    /// Ghost cells the input holds `[(top, bottom), (left, right)]` (the widths of
    /// [`Boundary::Halo`] sides; the padding on those sides is read from them).
    #[serde(default)]
    pub halo: [[usize; 2]; 2],
    /// Stride `(sy, sx)`.
    pub stride: [usize; 2],
    /// Dilation `(dy, dx)`.
    pub dilation: [usize; 2],
    /// FFT size `(fy, fx)`: of the whole transform for `Fft`, of one block's transform for
    /// `OverlapSave`; `None` for direct.
    pub fft_shape: Option<[usize; 2]>,
    /// `OverlapSave` only: output samples per block `(by, bx)`.
    #[serde(default)]
    pub block_shape: Option<[usize; 2]>,
    /// `OverlapSave` only: number of blocks along `(y, x)`.
    #[serde(default)]
    pub blocks: Option<[usize; 2]>,
    /// Number of parallel tasks the work is split into (results do not depend on it).
    pub tasks: usize,
    /// Instruction set of the plan's own inner loops (`avx512f+fma`, `avx2+fma` or
    /// `portable`): the direct method has all three; overlap-save's block loops go up to
    /// `avx2+fma` (both capped by [`ConvPlanBuilder::simd`]); the FFT method's spectrum products
    /// use `avx2+fma` where present. The transforms use rustfft's own run-time dispatch.
    pub isa: String,
    /// Cost-model estimates (seconds per apply) of the methods `Auto` compared; empty when a
    /// method was requested explicitly.
    pub estimates: Vec<MethodEstimate>,
}

/// One entry of the cost model's comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodEstimate {
    /// Method.
    pub method: Method,
    /// Variant (`dense`, `separable`, FFT size...).
    pub variant: String,
    /// Estimated seconds per apply on this machine.
    pub seconds: f64,
}

impl fmt::Display for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}) {:?} -> {:?} kernel {:?} ({} non-zero) {:?} pad {:?} stride {:?} dilation {:?}",
            self.element,
            self.method.name(),
            self.variant,
            self.input_shape,
            self.output_shape,
            self.kernel_shape,
            self.nonzero_taps,
            self.orientation,
            self.padding,
            self.stride,
            self.dilation,
        )?;
        if let Some(s) = self.fft_shape {
            write!(f, " fft {s:?}")?;
        }
        if let (Some(b), Some(n)) = (self.block_shape, self.blocks) {
            write!(f, " blocks {n:?} of {b:?} outputs")?;
        }
        if self.boundaries.has_halo() {
            write!(f, " halo {:?}", self.halo)?;
        }
        write!(f, " tasks {} [{}]", self.tasks, self.isa)?;
        for e in &self.estimates {
            write!(
                f,
                " est {}({})={:.3e}s",
                e.method.name(),
                e.variant,
                e.seconds
            )?;
        }
        Ok(())
    }
}

/// Builder of a [`ConvPlan`]; see [`ConvPlan::builder`].
#[derive(Clone, Debug)]
pub struct ConvPlanBuilder<T> {
    shape: [usize; 2],
    kernel: Kernel<T>,
    boundaries: Boundaries,
    orientation: Orientation,
    geometry: Geometry,
    method: Method,
    block_fft: Option<[usize; 2]>,
    simd: Simd,
}

impl<T: Element> ConvPlanBuilder<T> {
    /// `OverlapSave` only: block transform lengths `(fy, fx)` instead of the cost model's choice
    /// (each rounded up to a fast size of at least the effective kernel length, and capped at
    /// one block per axis). For tuning studies and tests; results do not depend on it beyond
    /// rounding.
    #[must_use]
    pub fn block_fft_len(mut self, f: [usize; 2]) -> Self {
        self.block_fft = Some(f);
        self
    }
    crate::builder_setters! {
        /// The widest instruction set the direct method may use (default: [`Simd::Best`]). For
        /// comparisons and tests of the narrower paths.
        simd: Simd,
        /// Boundary per side (default: `Zero` everywhere).
        boundaries: Boundaries,
        /// Correlate (default) or convolve.
        orientation: Orientation,
        /// Output geometry (default: `Same`, stride 1, dilation 1).
        geometry: Geometry,
        /// Method (default: `Auto`).
        method: Method,
    }
    /// Builds the plan: resolves the geometry, flips the kernel if needed, chooses the method and
    /// allocates every buffer `apply` will use.
    ///
    /// # Errors
    /// Invalid geometry, an empty input or kernel, a kernel anchor outside the kernel (checked
    /// here once, whatever built the kernel), or a method that cannot honour the options.
    pub fn build(self) -> Result<ConvPlan<T>> {
        ConvPlan::new(self)
    }
}

/// The method-specific part of a plan.
#[derive(Clone, Debug)]
enum Engine<T: Element> {
    Direct(Box<Direct<T>>),
    Fft(Box<FftConv<T>>),
    OverlapSave(Box<OverlapSave<T>>),
}

/// A convolution planned once and applied many times. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct ConvPlan<T: Element> {
    recipe: Recipe,
    ry: ResolvedAxis,
    rx: ResolvedAxis,
    /// The part of the input the engine reads, `[[y0, h], [x0, w]]`: all of it unless a side is a
    /// [`Boundary::Halo`] with more ghost cells than the kernel reaches.
    window: [[usize; 2]; 2],
    engine: Engine<T>,
}

/// Relative tolerance under which a dense kernel counts as separable (rank one): a few ulps of
/// the element type, so the factorised result equals the dense one to rounding.
fn separable_tol<T: Element>() -> f64 {
    let eps: f64 = <T::Real as num_traits::Float>::epsilon().to_c64().re;
    64.0 * eps
}

impl<T: Element> ConvPlan<T> {
    /// Starts a plan for inputs of `shape = (h, w)` and the given kernel.
    pub fn builder(shape: [usize; 2], kernel: impl Into<Kernel<T>>) -> ConvPlanBuilder<T> {
        ConvPlanBuilder {
            shape,
            kernel: kernel.into(),
            boundaries: Boundaries::default(),
            orientation: Orientation::default(),
            geometry: Geometry::default(),
            method: Method::default(),
            block_fft: None,
            simd: Simd::Best,
        }
    }

    fn new(b: ConvPlanBuilder<T>) -> Result<Self> {
        // Once, here: the kernel's fields may come from a struct literal.
        b.kernel.validate()?;
        let [h, w] = b.shape;
        if h == 0 || w == 0 {
            return Err(crate::CoreError::EmptyInput { shape: vec![h, w] });
        }
        let (taps, anchor) = b.kernel.to_dense().canonical(b.orientation);
        let (kh, kw) = taps.dim();
        // Halo sides: the engine sees only the window of the input it reads, with no padding on
        // those sides (the ghost cells are the padding); elsewhere the window is the input.
        let ty = resolve_tile_axis(h, kh, anchor[0], &b.geometry.y, &b.boundaries.y, "y")?;
        let tx = resolve_tile_axis(w, kw, anchor[1], &b.geometry.x, &b.boundaries.x, "x")?;
        let (ry, rx) = (ty.inner, tx.inner);
        let halo = b.boundaries.has_halo();
        let window = [[ty.window.0, ty.window.1], [tx.window.0, tx.window.1]];
        let inner_shape = [ty.window.1, tx.window.1];
        let mut inner_b = b.boundaries;
        for side in [
            &mut inner_b.y.lo,
            &mut inner_b.y.hi,
            &mut inner_b.x.lo,
            &mut inner_b.x.hi,
        ] {
            if let Boundary::Halo(_) = side {
                // Never read: the inner geometry has no padding on this side.
                *side = Boundary::Zero;
            }
        }
        let nonzero = kh * kw - taps.iter().filter(|v| **v == T::zero()).count();
        // Separable factors in the correlation frame (reversed for Convolve).
        let factors = match &b.kernel {
            Kernel::Separable(sk) => Some((sk.col.clone(), sk.row.clone())),
            Kernel::Dense(k) if kh > 1 && kw > 1 && nonzero > 2 * (kh + kw) => k
                .try_separate(separable_tol::<T>())
                .map(|sk| (sk.col, sk.row)),
            Kernel::Dense(_) => None,
        }
        .map(|(mut col, mut row)| {
            if b.orientation == Orientation::Convolve {
                col.reverse();
                row.reverse();
            }
            (col, row)
        });
        let isa = Isa::detect_up_to(b.simd);
        // Multiply-adds per output sample of the direct method.
        let direct_taps = match &factors {
            Some((c, r)) if rx.stride == 1 => (c.len() + r.len()) as f64,
            _ => nonzero as f64,
        };
        let mut estimates = Vec::new();
        let method = match b.method {
            // Halo tiles always run direct (documented on `Boundary::Halo`'s guide section): it
            // reproduces the whole-domain direct result bitwise, tile by tile.
            _ if halo => Method::Direct,
            Method::Direct | Method::Fft | Method::OverlapSave => b.method,
            // Small stencils are always direct: no FFT beats 25 multiply-adds per sample, and
            // solvers building such plans never pay for the calibration.
            Method::Auto if direct_taps <= 25.0 => Method::Direct,
            Method::Auto => {
                let (inputs, outputs) = (h * w, ry.out * rx.out);
                let separable = direct_taps < nonzero as f64;
                let d = cost::direct_cost::<T>(outputs, inputs, direct_taps, separable);
                let shape = fft::planned_shape::<T>(&ry, &rx, &b.boundaries);
                let f = cost::fft_cost::<T>(shape, inputs, outputs);
                estimates.push(MethodEstimate {
                    method: Method::Direct,
                    variant: if separable { "separable" } else { "dense" }.into(),
                    seconds: d,
                });
                estimates.push(MethodEstimate {
                    method: Method::Fft,
                    variant: format!("{}x{}", shape[0], shape[1]),
                    seconds: f,
                });
                let (o, oshape) = cost::overlap_save_cost::<T>(&ry, &rx);
                estimates.push(MethodEstimate {
                    method: Method::OverlapSave,
                    variant: format!("blocks {}x{}", oshape[0], oshape[1]),
                    seconds: o,
                });
                // The cheaper transform method, and it only if clearly cheaper than direct.
                let transform = if o < f {
                    Method::OverlapSave
                } else {
                    Method::Fft
                };
                if o.min(f) < cost::TRANSFORM_MARGIN * d {
                    transform
                } else {
                    Method::Direct
                }
            }
        };
        let mut blocks = None;
        let mut engine_isa = isa;
        let (engine, variant, fft_shape, tasks) = if method == Method::OverlapSave {
            let o = OverlapSave::new(b.shape, &taps, &b.boundaries, ry, rx, b.block_fft, isa);
            engine_isa = o.isa();
            blocks = Some((o.block_outputs(), o.blocks()));
            let variant = if T::IS_COMPLEX {
                "overlap-save complex"
            } else {
                "overlap-save real-to-complex"
            };
            let (shape, tasks) = (o.fft_shape(), o.tasks());
            (
                Engine::OverlapSave(Box::new(o)),
                variant.to_string(),
                Some(shape),
                tasks,
            )
        } else if method == Method::Fft {
            let f = FftConv::new(b.shape, &taps, &b.boundaries, ry, rx)?;
            // Its spectral plan takes the machine's best up to AVX2, whatever `simd` says.
            engine_isa = Isa::detect();
            let shape = f.fft_shape();
            let real = if T::IS_COMPLEX {
                "complex"
            } else {
                "real-to-complex"
            };
            let circ = match (b.boundaries.y.is_periodic(), b.boundaries.x.is_periodic()) {
                (true, true) => "circular",
                (false, false) => "padded",
                _ => "padded/circular",
            };
            let tasks = f.tasks();
            (
                Engine::Fft(Box::new(f)),
                format!("{real} {circ}"),
                Some(shape),
                tasks,
            )
        } else {
            let d = Direct::new(inner_shape, &taps, factors, &inner_b, ry, rx, isa);
            let v = d.variant().to_string();
            let tasks = d.tasks();
            (Engine::Direct(Box::new(d)), v, None, tasks)
        };
        let recipe = Recipe {
            element: T::NAME.into(),
            requested: b.method,
            method,
            variant,
            input_shape: b.shape,
            output_shape: [ry.out, rx.out],
            kernel_shape: [kh, kw],
            nonzero_taps: nonzero,
            orientation: b.orientation,
            boundaries: b.boundaries,
            padding: [[ty.owned.lo, ty.owned.hi], [tx.owned.lo, tx.owned.hi]],
            halo: [ty.ghosts, tx.ghosts],
            stride: [ry.stride, rx.stride],
            dilation: [ry.dilation, rx.dilation],
            fft_shape,
            block_shape: blocks.map(|b| b.0),
            blocks: blocks.map(|b| b.1),
            tasks,
            isa: engine_isa.name().into(),
            estimates,
        };
        Ok(ConvPlan {
            recipe,
            ry,
            rx,
            window,
            engine,
        })
    }

    fn check_shapes(&self, input: (usize, usize), output: (usize, usize)) {
        let [h, w] = self.recipe.input_shape;
        assert_eq!(
            input,
            (h, w),
            "ConvPlan::apply: input shape (actual, expected)"
        );
        assert_eq!(
            output,
            self.output_shape(),
            "ConvPlan::apply: output shape (actual, expected)"
        );
    }

    /// What the plan decided.
    #[must_use]
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// Input shape `(h, w)` the plan was built for.
    #[must_use]
    pub fn input_shape(&self) -> [usize; 2] {
        self.recipe.input_shape
    }

    /// Output shape `(h_out, w_out)`.
    #[must_use]
    pub fn output_shape(&self) -> (usize, usize) {
        (self.ry.out, self.rx.out)
    }

    /// Computes `output = conv(input)`.
    ///
    /// # Panics
    /// If `input` or `output` do not have the planned shapes.
    pub fn apply(&mut self, input: ArrayView2<'_, T>, output: ArrayViewMut2<'_, T>) {
        if matches!(self.engine, Engine::OverlapSave(_)) {
            self.check_shapes(input.dim(), output.dim());
        }
        if let Engine::OverlapSave(o) = &mut self.engine {
            // Blocks write their outputs in place: no row epilogue, no staging copy.
            o.apply(input, output);
            return;
        }
        let (ho, wo) = self.output_shape();
        if crate::simd::worth_streaming::<T>(ho * wo) {
            self.apply_with(input, output, |_, conv, out| {
                crate::simd::stream_copy(conv, out);
            });
        } else {
            self.apply_with(input, output, |_, conv, out| out.copy_from_slice(conv));
        }
    }

    /// Computes the convolution row by row and hands each row to `epilogue(row_index,
    /// conv_row, output_row)`, which writes the output row (e.g. a fused time step
    /// `out = 2u - out + c * conv`). Rows are visited in parallel, each exactly once;
    /// `output_row` holds the previous contents of the output row.
    ///
    /// # Panics
    /// If `input` or `output` do not have the planned shapes.
    pub fn apply_with<F>(
        &mut self,
        input: ArrayView2<'_, T>,
        output: ArrayViewMut2<'_, T>,
        epilogue: F,
    ) where
        F: Fn(usize, &[T], &mut [T]) + Sync,
    {
        self.check_shapes(input.dim(), output.dim());
        match &mut self.engine {
            Engine::Direct(d) => {
                // The window the engine reads (the whole input unless a side is a halo).
                let [[y0, hy], [x0, wx]] = self.window;
                let input = input.slice_move(ndarray::s![y0..y0 + hy, x0..x0 + wx]);
                d.apply_with(input, output, &epilogue);
            }
            Engine::Fft(f) => f.apply_with(input, output, &epilogue),
            Engine::OverlapSave(o) => o.apply_with(input, output, &epilogue),
        }
    }
}
