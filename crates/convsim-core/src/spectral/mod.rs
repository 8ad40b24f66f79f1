//! Spectral convolution on a periodic domain: a transfer function given in Fourier space.
//!
//! A [`SpectralPlan`] multiplies the discrete Fourier transform of a 2D periodic field by a
//! transfer function `H(ky, kx)` and transforms back:
//!
//! ```text
//! out = IDFT( H(ky, kx) * DFT(u) )
//! DFT:  U[p, q] = sum_{i, j} u[i, j] exp(-2 pi I (p i / ny + q j / nx))     (unnormalised)
//! IDFT: u[i, j] = 1 / (ny nx) sum_{p, q} U[p, q] exp(+2 pi I (p i / ny + q j / nx))
//! ```
//!
//! so a transfer function equal to 1 is the identity. `H` is evaluated once, at plan time, at the
//! angular wavenumbers `k = 2 pi fftfreq(n, d)` of each axis (see [`wavenumbers`]); axis order is
//! `(y, x)` as everywhere in convsim. Examples: the heat kernel `exp(-D (ky^2 + kx^2) t)`, the
//! free-particle propagator `exp(-I (ky^2 + kx^2) t / 2)`, a shift by `a`: `exp(-I k a)` moves
//! `u(x)` to `u(x - a)`.
//!
//! Real data (`f32`, `f64`) use real-to-complex transforms along `x` (half spectrum), complex
//! data (`Complex32`, `Complex64`) full complex transforms. For real data the plan applies the
//! Hermitian part `(H(k) + conj(H(-k))) / 2` of the transfer function, which is exactly the real
//! part of what the complex plan would give; for the usual real-symmetric or Hermitian transfer
//! functions (heat kernel, shifts by whole samples) that is `H` itself.
//!
//! A 1D problem is the case `ny = 1` (the `y` transform has length 1).
//!
//! ```
//! use convsim_core::{Complex64, SpectralPlan};
//! use ndarray::Array2;
//! // Shift a periodic row by 3 samples with exp(-I kx a), a = 3 dx.
//! let (n, dx) = (8, 0.5);
//! let mut plan = SpectralPlan::<f64>::new([1, n], [1.0, dx], |_ky, kx| {
//!     Complex64::from_polar(1.0, -kx * 3.0 * dx)
//! })
//! .unwrap();
//! let mut u = Array2::from_shape_fn((1, n), |(_, j)| j as f64);
//! plan.apply_inplace(u.view_mut());
//! let expected = [5.0, 6.0, 7.0, 0.0, 1.0, 2.0, 3.0, 4.0];
//! for (a, b) in u.iter().zip(expected) {
//!     assert!((a - b).abs() < 1e-12);
//! }
//! ```

use std::f64::consts::TAU;
use std::fmt;
use std::sync::Arc;

use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use num_complex::{Complex, Complex64};
use num_traits::{One, Zero};
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use crate::simd::{Isa, Simd};
use crate::{CoreError, Element, Result};

mod kernels;
mod packing;
mod passes;
#[cfg(test)]
mod tests;

pub use kernels::mul_line_scaled_isa;
use kernels::{mul_line, mul_line_scaled_r};
use packing::{cast_mut, cast_ref, gather_columns, scatter_columns, to_complex_real};
use passes::{no_hook, row_pass};

/// [`mul_line_scaled_isa`] on the best instruction set of the machine, tested on each call (one
/// cached atomic load in `is_x86_feature_detected!`).
///
/// # Panics
/// If the lengths differ.
#[deprecated(
    since = "0.1.0",
    note = "choose the `Isa` once (`Isa::detect_up_to`) and call `mul_line_scaled_isa`: inner loops never test the CPU"
)]
pub fn mul_line_scaled(v: &mut [Complex<f64>], f: &[Complex<f64>], s: Option<Complex<f64>>) {
    // SAFETY: `Isa::detect` is `detect_up_to(Simd::Avx2Fma)`.
    unsafe { mul_line_scaled_isa(Isa::detect(), v, f, s) }
}

/// Rows per block of the transposes between row and column passes (real data).
const TILE: usize = 16;

/// Columns per block of the column pass on complex data: the block's columns are gathered into
/// a contiguous buffer of `BLOCK * ny` values (256 KiB for complex128 and `ny = 1024`), which
/// stays in L2 cache while its column transforms run; 16 values of a row are 4 cache lines.
const BLOCK: usize = 16;

/// Angular wavenumbers `2 pi fftfreq(n, d)` of an axis of `n` samples spaced `d` apart, in the
/// DFT's order: `0, 1, ..., ceil(n/2) - 1, -floor(n/2), ..., -1` times `2 pi / (n d)` (as numpy).
///
/// ```
/// let k = convsim_core::wavenumbers(4, 0.25);
/// let u = std::f64::consts::TAU;
/// assert_eq!(k, vec![0.0, u, -2.0 * u, -u]);
/// ```
#[must_use]
pub fn wavenumbers(n: usize, d: f64) -> Vec<f64> {
    let scale = TAU / (n as f64 * d);
    let positive = n.div_ceil(2);
    (0..n)
        .map(|i| {
            let f = if i < positive {
                i as f64
            } else {
                i as f64 - n as f64
            };
            f * scale
        })
        .collect()
}

/// Row transforms: real-to-complex (half spectrum) or complex.
#[derive(Clone)]
enum RowFft<R: crate::RealElement> {
    Real {
        fwd: Arc<dyn RealToComplex<R>>,
        inv: Arc<dyn ComplexToReal<R>>,
    },
    Complex {
        fwd: Arc<dyn Fft<R>>,
        inv: Arc<dyn Fft<R>>,
    },
}

/// Per-task scratch of the row passes.
#[derive(Clone)]
struct RowScratch<R> {
    /// One real row (real data only).
    real: Vec<R>,
    /// FFT scratch.
    fft: Vec<Complex<R>>,
}

/// Per-task scratch of the column pass.
#[derive(Clone)]
struct ColScratch<R> {
    /// A block of gathered columns, column-major `(BLOCK, ny)` (complex data only).
    buf: Vec<Complex<R>>,
    /// FFT scratch.
    fft: Vec<Complex<R>>,
}

/// The transfer function as stored.
#[derive(Clone)]
enum Transfer<R> {
    /// One value per wavenumber pair, column-major `(ncols, ny)` (with the Hermitian part taken
    /// for real data).
    Full(Vec<Complex<R>>),
    /// A product `hy(ky) hx(kx)` (complex data): one vector per axis, `ny` and `nx` long, with
    /// `1 / ny` and `1 / nx` folded in. The column pass multiplies by `hy[p] hx[q]` on the fly,
    /// which saves streaming an array as large as the field through memory on every application.
    Separable {
        hy: Vec<Complex<R>>,
        hx: Vec<Complex<R>>,
    },
}

/// A periodic convolution by a transfer function in Fourier space, planned once and applied
/// many times without allocating. See the [module docs](self) for the conventions.
#[derive(Clone)]
pub struct SpectralPlan<T: Element> {
    shape: [usize; 2],
    spacing: [f64; 2],
    ky: Vec<f64>,
    kx: Vec<f64>,
    /// Spectrum columns per row: `nx / 2 + 1` for real data, `nx` for complex.
    ncols: usize,
    rows: RowFft<T::Real>,
    col_fwd: Arc<dyn Fft<T::Real>>,
    col_inv: Arc<dyn Fft<T::Real>>,
    /// Transfer function, with the `1 / (ny nx)` normalisation folded in.
    transfer: Transfer<T::Real>,
    /// Row-major spectrum `(ny, ncols)` (real data; for complex data, a copy of data whose rows
    /// are not contiguous).
    spec: Vec<Complex<T::Real>>,
    /// Column-major spectrum `(ncols, ny)`, where the column transforms run (real data only).
    tr: Vec<Complex<T::Real>>,
    rows_per_task: usize,
    cols_per_task: usize,
    row_scratch: Vec<RowScratch<T::Real>>,
    col_scratch: Vec<ColScratch<T::Real>>,
    /// Instruction set of the pointwise complex products, chosen once ([`Self::set_simd`]).
    isa: Isa,
}

impl<T: Element> fmt::Debug for SpectralPlan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpectralPlan")
            .field("element", &T::NAME)
            .field("shape", &self.shape)
            .field("spacing", &self.spacing)
            .field("spectrum_columns", &self.ncols)
            .field("rows_per_task", &self.rows_per_task)
            .field("cols_per_task", &self.cols_per_task)
            .field("separable_transfer", &self.is_separable())
            .finish_non_exhaustive()
    }
}

impl<T: Element> SpectralPlan<T> {
    /// Plans the transforms for fields of `shape = (ny, nx)` with grid spacings
    /// `spacing = (dy, dx)` and evaluates `transfer(ky, kx)` at every angular wavenumber pair.
    ///
    /// # Errors
    /// [`CoreError::EmptyInput`] if an axis is empty, [`CoreError::InvalidValue`] if a spacing
    /// is not finite and positive.
    pub fn new<F>(shape: [usize; 2], spacing: [f64; 2], transfer: F) -> Result<Self>
    where
        F: Fn(f64, f64) -> Complex64,
    {
        let mut plan = Self::planned(shape, spacing)?;
        plan.set_transfer(transfer);
        Ok(plan)
    }

    /// The transforms and buffers of a plan, without a transfer function: one of the
    /// `set_transfer*` methods must run before the plan is applied.
    pub(crate) fn planned(shape: [usize; 2], spacing: [f64; 2]) -> Result<Self> {
        let [ny, nx] = shape;
        if ny == 0 || nx == 0 {
            return Err(CoreError::EmptyInput {
                shape: vec![ny, nx],
            });
        }
        for (name, d) in [("dy", spacing[0]), ("dx", spacing[1])] {
            if !(d.is_finite() && d > 0.0) {
                return Err(CoreError::InvalidValue {
                    name,
                    value: format!("{d}"),
                    allowed: "a finite grid spacing > 0",
                });
            }
        }
        let mut cplan = FftPlanner::<T::Real>::new();
        let col_fwd = cplan.plan_fft_forward(ny);
        let col_inv = cplan.plan_fft_inverse(ny);
        let (rows, ncols, row_scratch_len, real_len) = if T::IS_COMPLEX {
            let fwd = cplan.plan_fft_forward(nx);
            let inv = cplan.plan_fft_inverse(nx);
            let len = fwd
                .get_inplace_scratch_len()
                .max(inv.get_inplace_scratch_len());
            (RowFft::Complex { fwd, inv }, nx, len, 0)
        } else {
            let mut rplan = RealFftPlanner::<T::Real>::new();
            let fwd = rplan.plan_fft_forward(nx);
            let inv = rplan.plan_fft_inverse(nx);
            let len = fwd.get_scratch_len().max(inv.get_scratch_len());
            (RowFft::Real { fwd, inv }, nx / 2 + 1, len, nx)
        };
        let threads = rayon::current_num_threads().max(1);
        let rows_per_task = ny.div_ceil(ny.min(4 * threads));
        let cols_per_task = ncols.div_ceil(ncols.min(4 * threads));
        let row_tasks = ny.div_ceil(rows_per_task);
        let col_tasks = ncols.div_ceil(cols_per_task);
        let col_len = col_fwd
            .get_inplace_scratch_len()
            .max(col_inv.get_inplace_scratch_len());
        let zero = Complex::<T::Real>::zero();
        Ok(SpectralPlan {
            shape,
            spacing,
            ky: wavenumbers(ny, spacing[0]),
            kx: wavenumbers(nx, spacing[1]),
            ncols,
            rows,
            col_fwd,
            col_inv,
            transfer: Transfer::Full(Vec::new()),
            spec: vec![zero; ny * ncols],
            tr: if T::IS_COMPLEX {
                Vec::new()
            } else {
                vec![zero; ncols * ny]
            },
            rows_per_task,
            cols_per_task,
            row_scratch: vec![
                RowScratch {
                    real: vec![T::Real::zero(); real_len],
                    fft: vec![zero; row_scratch_len],
                };
                row_tasks
            ],
            col_scratch: vec![
                ColScratch {
                    buf: if T::IS_COMPLEX {
                        vec![zero; BLOCK.min(ncols) * ny]
                    } else {
                        Vec::new()
                    },
                    fft: vec![zero; col_len],
                };
                col_tasks
            ],
            isa: Isa::detect_up_to(Simd::Best).at_most_avx2(),
        })
    }

    /// Caps the instruction set of the pointwise complex products (default [`Simd::Best`]; they
    /// have no AVX-512 variant, and the FFTs are rustfft's own choice). `Simd::Portable` does
    /// not fuse multiply-adds, so results agree with the vector path to rounding.
    pub fn set_simd(&mut self, simd: Simd) {
        self.isa = Isa::detect_up_to(simd).at_most_avx2();
    }

    /// The instruction set of the pointwise complex products.
    #[must_use]
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Re-evaluates the transfer function (e.g. for a new time step) without re-planning.
    pub fn set_transfer<F>(&mut self, transfer: F)
    where
        F: Fn(f64, f64) -> Complex64,
    {
        let (ky, kx) = (self.ky.clone(), self.kx.clone());
        // Hermitian part for real data: the real part of the complex result (module docs).
        self.set_transfer_indexed(|p, q| transfer(ky[p], kx[q]), !T::IS_COMPLEX);
    }

    /// Sets the transfer function by DFT indices `(p, q)`; `hermitian` takes the Hermitian part.
    pub(crate) fn set_transfer_indexed<F>(&mut self, transfer: F, hermitian: bool)
    where
        F: Fn(usize, usize) -> Complex64,
    {
        let [ny, nx] = self.shape;
        let norm = 1.0 / (ny as f64 * nx as f64);
        let mut table = match std::mem::replace(&mut self.transfer, Transfer::Full(Vec::new())) {
            Transfer::Full(v) if v.len() == self.ncols * ny => v,
            _ => vec![Complex::zero(); self.ncols * ny],
        };
        for q in 0..self.ncols {
            for p in 0..ny {
                let mut h = transfer(p, q);
                if hermitian {
                    let mirror = transfer((ny - p) % ny, (nx - q) % nx);
                    h = (h + mirror.conj()) * 0.5;
                }
                table[q * ny + p] = to_complex_real::<T::Real>(h * norm);
            }
        }
        self.transfer = Transfer::Full(table);
    }

    /// Plans like [`new`](Self::new) for a transfer function that is a product of one function
    /// per axis, `H(ky, kx) = hy(ky) hx(kx)` (a propagator `exp(-I (ky^2 + kx^2) t)`, a heat
    /// kernel, a derivative along one axis). The result is the same as
    /// `new(shape, spacing, |ky, kx| hy(ky) * hx(kx))` up to rounding; for complex data the plan
    /// keeps the two factors instead of the `ny x nx` table, so an application streams only the
    /// field through memory (real data keep the table, see the module docs on the Hermitian part).
    ///
    /// ```
    /// use convsim_core::{Complex64, SpectralPlan};
    /// use ndarray::Array2;
    /// let (shape, spacing) = ([6, 8], [0.5, 0.25]);
    /// let hy = |k: f64| Complex64::from_polar(1.0, -0.1 * k * k);
    /// let hx = |k: f64| Complex64::from_polar(1.0, -0.2 * k * k);
    /// let mut sep = SpectralPlan::<Complex64>::new_separable(shape, spacing, hy, hx).unwrap();
    /// let mut full = SpectralPlan::<Complex64>::new(shape, spacing, |ky, kx| hy(ky) * hx(kx)).unwrap();
    /// assert!(sep.is_separable() && !full.is_separable());
    /// let u = Array2::from_shape_fn((6, 8), |(i, j)| Complex64::new(i as f64, (j * j) as f64));
    /// let (mut a, mut b) = (u.clone(), u);
    /// sep.apply_inplace(a.view_mut());
    /// full.apply_inplace(b.view_mut());
    /// assert!(a.iter().zip(&b).all(|(a, b)| (a - b).norm() < 1e-12));
    /// ```
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn new_separable<Fy, Fx>(
        shape: [usize; 2],
        spacing: [f64; 2],
        hy: Fy,
        hx: Fx,
    ) -> Result<Self>
    where
        Fy: Fn(f64) -> Complex64,
        Fx: Fn(f64) -> Complex64,
    {
        let mut plan = Self::planned(shape, spacing)?;
        plan.set_transfer_separable(hy, hx);
        Ok(plan)
    }

    /// Re-evaluates a separable transfer function `hy(ky) hx(kx)` without re-planning (see
    /// [`new_separable`](Self::new_separable)).
    pub fn set_transfer_separable<Fy, Fx>(&mut self, hy: Fy, hx: Fx)
    where
        Fy: Fn(f64) -> Complex64,
        Fx: Fn(f64) -> Complex64,
    {
        if !T::IS_COMPLEX {
            self.set_transfer(|ky, kx| hy(ky) * hx(kx));
            return;
        }
        let [ny, nx] = self.shape;
        let (ny_inv, nx_inv) = (1.0 / ny as f64, 1.0 / nx as f64);
        self.transfer = Transfer::Separable {
            hy: self
                .ky
                .iter()
                .map(|&k| to_complex_real::<T::Real>(hy(k) * ny_inv))
                .collect(),
            hx: self
                .kx
                .iter()
                .map(|&k| to_complex_real::<T::Real>(hx(k) * nx_inv))
                .collect(),
        };
    }

    /// `true` when the plan keeps a separable transfer function as two factors (complex data
    /// planned with [`new_separable`](Self::new_separable)).
    #[must_use]
    pub fn is_separable(&self) -> bool {
        matches!(self.transfer, Transfer::Separable { .. })
    }

    /// Field shape `(ny, nx)`.
    #[must_use]
    pub fn shape(&self) -> [usize; 2] {
        self.shape
    }

    /// Grid spacings `(dy, dx)`.
    #[must_use]
    pub fn spacing(&self) -> [f64; 2] {
        self.spacing
    }

    /// Angular wavenumbers along `y` (DFT order), as passed to the transfer function.
    #[must_use]
    pub fn ky(&self) -> &[f64] {
        &self.ky
    }

    /// Angular wavenumbers along `x` (DFT order), as passed to the transfer function.
    #[must_use]
    pub fn kx(&self) -> &[f64] {
        &self.kx
    }

    /// `output = IDFT(H * DFT(input))`.
    ///
    /// # Panics
    /// If `input` or `output` do not have the planned shape.
    pub fn apply(&mut self, input: ArrayView2<'_, T>, mut output: ArrayViewMut2<'_, T>) {
        assert_eq!(
            input.dim(),
            (self.shape[0], self.shape[1]),
            "SpectralPlan::apply: input shape (actual, expected)"
        );
        output.assign(&input);
        self.apply_inplace(output);
    }

    /// `data <- IDFT(H * DFT(data))`, in place, without allocating.
    ///
    /// # Panics
    /// If `data` does not have the planned shape.
    pub fn apply_inplace(&mut self, data: ArrayViewMut2<'_, T>) {
        self.apply_steps(data, 1, no_hook, no_hook, no_hook);
    }

    /// `data <- post(IDFT(H * DFT(pre(data))))`, in place, without allocating, where `pre` and
    /// `post` act on one row at a time: `pre(i, row)` is called on row `i` right before its
    /// forward transform and `post(i, row)` right after its inverse transform, inside the same
    /// pass over the data (a pointwise multiply fused this way costs no extra memory pass).
    ///
    /// # Panics
    /// If `data` does not have the planned shape.
    pub fn apply_inplace_with<Pre, Post>(
        &mut self,
        data: ArrayViewMut2<'_, T>,
        pre: Pre,
        post: Post,
    ) where
        Pre: Fn(usize, &mut [T]) + Sync,
        Post: Fn(usize, &mut [T]) + Sync,
    {
        self.apply_steps(data, 1, pre, no_hook, post);
    }

    /// `n` applications of the plan with row hooks between them, in place, without allocating:
    ///
    /// ```text
    /// data <- post(K(mid(K(... mid(K(pre(data))) ...))))      (K = IDFT H DFT, n times)
    /// ```
    ///
    /// `pre`, `mid` and `post` act on one row `i` at a time, as in
    /// [`apply_inplace_with`](Self::apply_inplace_with). For complex data the inverse row
    /// transform of one application, `mid` and the forward row transform of the next run in one
    /// pass over the data, so a step costs two passes (rows, then columns) instead of three: this
    /// is the split-step Fourier loop with the two half potential steps between kinetic steps
    /// merged into `mid`.
    ///
    /// # Panics
    /// If `data` does not have the planned shape, or `n == 0`.
    pub fn apply_steps<Pre, Mid, Post>(
        &mut self,
        mut data: ArrayViewMut2<'_, T>,
        n: usize,
        pre: Pre,
        mid: Mid,
        post: Post,
    ) where
        Pre: Fn(usize, &mut [T]) + Sync,
        Mid: Fn(usize, &mut [T]) + Sync,
        Post: Fn(usize, &mut [T]) + Sync,
    {
        let [ny, nx] = self.shape;
        assert_eq!(
            data.dim(),
            (ny, nx),
            "SpectralPlan: data shape (actual, expected)"
        );
        assert!(n > 0, "SpectralPlan::apply_steps: n must be at least 1");
        if !T::IS_COMPLEX {
            for k in 0..n {
                let last = k + 1 == n;
                let pre_k = |i: usize, r: &mut [T]| {
                    if k == 0 {
                        pre(i, r);
                    }
                };
                let post_k = |i: usize, r: &mut [T]| if last { post(i, r) } else { mid(i, r) };
                self.apply_real(data.view_mut(), &pre_k, &post_k);
            }
            return;
        }
        // Complex data: the hooks see `T`, the transforms `Complex<T::Real>` (the same type).
        let pre_c = |i: usize, r: &mut [Complex<T::Real>]| pre(i, cast_mut(r));
        let mid_c = |i: usize, r: &mut [Complex<T::Real>]| mid(i, cast_mut(r));
        let post_c = |i: usize, r: &mut [Complex<T::Real>]| post(i, cast_mut(r));
        if nx == 1 || data.strides()[1] == 1 {
            self.run_complex(data, n, &pre_c, &mid_c, &post_c);
        } else {
            // Rows not contiguous (a transposed or strided view): work on a contiguous copy.
            let mut spec = std::mem::take(&mut self.spec);
            for (d, v) in spec.iter_mut().zip(data.iter()) {
                *d = v.to_complex();
            }
            let view = ArrayViewMut2::from_shape((ny, nx), &mut spec[..])
                .expect("the spectrum buffer holds ny * nx values for complex data");
            self.run_complex(view, n, &pre_c, &mid_c, &post_c);
            for (d, v) in data.iter_mut().zip(spec.iter()) {
                *d = T::from_complex(*v);
            }
            self.spec = spec;
        }
    }

    /// Weighted sums of the power spectrum of complex `data`, one per spectrum column:
    ///
    /// ```text
    /// out[j] = sum over i of weight(ky[i], kx[j]) * |DFT(data)[i, j]|^2     (unnormalised DFT)
    /// ```
    ///
    /// With Parseval's theorem, `sum out[j][m] / (ny nx)` is `<data| W_m |data>` for the
    /// Fourier multiplier `W_m`: the kinetic energy and the mean momenta of a wavefunction from
    /// one forward transform, where applying each operator would take a forward and an inverse
    /// transform. `data` is overwritten (it holds the row-transformed samples afterwards); the
    /// transfer function is not used. Each column is summed in order of `ky`, so the result does
    /// not depend on the thread count. Allocates nothing.
    ///
    /// ```
    /// use convsim_core::{Complex64, SpectralPlan};
    /// use ndarray::Array2;
    /// let mut plan = SpectralPlan::<Complex64>::new([4, 8], [1.0, 0.5], |_, _| 1.0.into()).unwrap();
    /// // A plane wave exp(i kx x) with kx = 2 pi / 4 (one period over the 8 samples at dx = 0.5).
    /// let k = 2.0 * std::f64::consts::PI / 4.0;
    /// let mut psi = Array2::from_shape_fn((4, 8), |(_, j)| Complex64::from_polar(1.0, k * 0.5 * j as f64));
    /// let mut out = vec![[0.0; 4]; 8];
    /// plan.power_by_column(psi.view_mut(), |_, kx| [1.0, kx, 0.0, 0.0], &mut out);
    /// let sum = |m: usize| out.iter().map(|c| c[m]).sum::<f64>() / 32.0;
    /// assert!((sum(0) - 32.0).abs() < 1e-12);      // sum |psi|^2 = 32 samples
    /// assert!((sum(1) / sum(0) - k).abs() < 1e-12); // <p_x> = kx
    /// ```
    ///
    /// # Panics
    /// If `T` is real, `data` does not have the planned shape or its rows are not contiguous,
    /// or `out` does not have one entry per column.
    pub fn power_by_column<W>(
        &mut self,
        mut data: ArrayViewMut2<'_, T>,
        weight: W,
        out: &mut [[f64; 4]],
    ) where
        W: Fn(f64, f64) -> [f64; 4] + Sync,
    {
        use num_traits::ToPrimitive as _;
        let [ny, nx] = self.shape;
        assert!(T::IS_COMPLEX, "power_by_column: complex data only");
        assert_eq!(data.dim(), (ny, nx), "power_by_column: data shape");
        assert!(
            nx == 1 || data.strides()[1] == 1,
            "power_by_column: rows must be contiguous"
        );
        assert_eq!(out.len(), nx, "power_by_column: one entry per column");
        let RowFft::Complex { fwd, .. } = &self.rows else {
            unreachable!("complex data have complex row transforms")
        };
        let fwd = Arc::clone(fwd);
        let fwd = &*fwd;
        row_pass(
            &mut data,
            self.rows_per_task,
            &mut self.row_scratch,
            |_, row, s| fwd.process_with_scratch(row, s),
        );
        let cpt = self.cols_per_task;
        let col_fwd = &*self.col_fwd;
        let (ky, kx) = (&self.ky, &self.kx);
        data.axis_chunks_iter_mut(Axis(1), cpt)
            .into_par_iter()
            .zip(self.col_scratch.par_iter_mut())
            .zip(out.par_chunks_mut(cpt))
            .enumerate()
            .for_each(|(t, ((chunk, s), out))| {
                let j0 = t * cpt;
                let nc = chunk.ncols();
                for b0 in (0..nc).step_by(BLOCK) {
                    let w = BLOCK.min(nc - b0);
                    let buf = &mut s.buf[..w * ny];
                    gather_columns(&chunk.view(), b0, buf);
                    if ny > 1 {
                        col_fwd.process_with_scratch(buf, &mut s.fft);
                    }
                    for (c, col) in buf.chunks_exact(ny).enumerate() {
                        let k_x = kx[j0 + b0 + c];
                        let mut acc = [0.0; 4];
                        for (z, &k_y) in col.iter().zip(ky) {
                            let p = z.norm_sqr().to_f64().unwrap_or(f64::NAN);
                            for (a, w) in acc.iter_mut().zip(weight(k_y, k_x)) {
                                *a += w * p;
                            }
                        }
                        out[b0 + c] = acc;
                    }
                }
            });
    }

    /// `n` applications of a separable plan with pointwise factors that are outer products
    /// (`y` factors along columns times `x` factors along rows):
    ///
    /// ```text
    /// data <- P K M K ... M K D data      (K = IDFT H DFT, n times; D = y.pre (x) x.pre,
    ///                                      M = y.mid (x) x.mid, P = y.post (x) x.post)
    /// ```
    ///
    /// which is [`apply_steps`](Self::apply_steps) with the hooks
    /// `row[j] *= y.pre[i] * x.pre[j]` and so on, up to rounding. With a separable transfer
    /// `H = hy (x) hx` every operator along `x` commutes with every operator along `y`, so the
    /// result is the `n` one-dimensional steps along `x` on each row, then the `n` steps along
    /// `y` on each column: each line stays in cache for all `n` applications and the whole run
    /// makes two passes over memory instead of two per application. (Split-step Fourier for a
    /// potential `V = f(y) + g(x)`, such as a harmonic trap, is exactly this.) Plans that are
    /// not separable, and real data, run through `apply_steps` with those hooks.
    ///
    /// ```
    /// use convsim_core::{AxisFactors, Complex64, SpectralPlan};
    /// use ndarray::Array2;
    /// let (shape, spacing) = ([8, 6], [0.5, 0.5]);
    /// let h = |k: f64| Complex64::from_polar(1.0, -0.05 * k * k);
    /// let mut plan = SpectralPlan::<Complex64>::new_separable(shape, spacing, h, h).unwrap();
    /// let fy: Vec<Complex64> = (0..8).map(|i| Complex64::from_polar(1.0, 0.1 * i as f64)).collect();
    /// let fx: Vec<Complex64> = (0..6).map(|j| Complex64::from_polar(1.0, -0.2 * j as f64)).collect();
    /// let (y, x) = (AxisFactors::same(&fy), AxisFactors::same(&fx));
    /// let u = Array2::from_shape_fn((8, 6), |(i, j)| Complex64::new(i as f64, j as f64));
    /// let (mut a, mut b) = (u.clone(), u);
    /// plan.apply_axis_steps(a.view_mut(), 4, y, x);
    /// let hook = |i: usize, r: &mut [Complex64]| {
    ///     r.iter_mut().zip(&fx).for_each(|(v, f)| *v *= fy[i] * f)
    /// };
    /// plan.apply_steps(b.view_mut(), 4, hook, hook, hook);
    /// assert!(a.iter().zip(&b).all(|(a, b)| (a - b).norm() < 1e-12));
    /// ```
    ///
    /// # Panics
    /// If `data` does not have the planned shape, a factor's length is not its axis length, or
    /// `n == 0`.
    pub fn apply_axis_steps(
        &mut self,
        mut data: ArrayViewMut2<'_, T>,
        n: usize,
        y: AxisFactors<'_, T>,
        x: AxisFactors<'_, T>,
    ) {
        let [ny, nx] = self.shape;
        assert_eq!(
            data.dim(),
            (ny, nx),
            "SpectralPlan: data shape (actual, expected)"
        );
        assert!(
            n > 0,
            "SpectralPlan::apply_axis_steps: n must be at least 1"
        );
        for (f, len) in [(y, ny), (x, nx)] {
            assert!(
                f.pre.len() == len && f.mid.len() == len && f.post.len() == len,
                "SpectralPlan::apply_axis_steps: factor lengths must equal the axis lengths"
            );
        }
        let contiguous = nx == 1 || data.strides()[1] == 1;
        let (Transfer::Separable { hy, hx }, true) = (&self.transfer, contiguous) else {
            return self.apply_outer_steps(data, n, y, x);
        };
        let RowFft::Complex { fwd, inv } = &self.rows else {
            unreachable!("separable transfers are kept for complex data only")
        };
        let isa = self.isa;
        let c = cast_ref::<T, Complex<T::Real>>;
        let fy = [c(y.pre), c(y.mid), c(y.post)];
        let fx = [c(x.pre), c(x.mid), c(x.post)];
        // n one-dimensional steps on a line in cache.
        let steps = |v: &mut [Complex<T::Real>],
                     h: &[Complex<T::Real>],
                     f: &[&[Complex<T::Real>]; 3],
                     fwd: &dyn Fft<T::Real>,
                     inv: &dyn Fft<T::Real>,
                     s: &mut [Complex<T::Real>]| {
            mul_line(isa, v, f[0]);
            for k in 0..n {
                fwd.process_with_scratch(v, s);
                mul_line(isa, v, h);
                inv.process_with_scratch(v, s);
                mul_line(isa, v, if k + 1 == n { f[2] } else { f[1] });
            }
        };
        let (fwd, inv) = (&**fwd, &**inv);
        row_pass(
            &mut data,
            self.rows_per_task,
            &mut self.row_scratch,
            |_, row, s| steps(row, hx, &fx, fwd, inv, s),
        );
        let (col_fwd, col_inv) = (&*self.col_fwd, &*self.col_inv);
        data.axis_chunks_iter_mut(Axis(1), self.cols_per_task)
            .into_par_iter()
            .zip(self.col_scratch.par_iter_mut())
            .for_each(|(mut chunk, s)| {
                let nc = chunk.ncols();
                for b0 in (0..nc).step_by(BLOCK) {
                    let w = BLOCK.min(nc - b0);
                    let buf = &mut s.buf[..w * ny];
                    gather_columns(&chunk.view(), b0, buf);
                    for col in buf.chunks_exact_mut(ny) {
                        steps(col, hy, &fy, col_fwd, col_inv, &mut s.fft);
                    }
                    scatter_columns(buf, b0, &mut chunk);
                }
            });
    }
}

/// Pointwise factors along one axis for [`SpectralPlan::apply_axis_steps`]: `pre` multiplies
/// before the first application, `mid` between consecutive ones, `post` after the last; each is
/// as long as its axis.
#[derive(Clone, Copy, Debug)]
pub struct AxisFactors<'a, T> {
    /// Before the first application.
    pub pre: &'a [T],
    /// Between consecutive applications.
    pub mid: &'a [T],
    /// After the last application.
    pub post: &'a [T],
}

impl<'a, T> AxisFactors<'a, T> {
    /// The same factor before, between and after.
    #[must_use]
    pub fn same(f: &'a [T]) -> Self {
        AxisFactors {
            pre: f,
            mid: f,
            post: f,
        }
    }
}

/// `1` as the transfer function: the identity (useful for round-trip checks).
#[must_use]
pub fn identity_transfer(_ky: f64, _kx: f64) -> Complex64 {
    Complex64::one()
}
