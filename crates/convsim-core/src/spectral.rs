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

use std::any::TypeId;
use std::f64::consts::TAU;
use std::fmt;
use std::sync::Arc;

use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use num_complex::{Complex, Complex64};
use num_traits::{One, Zero};
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use crate::simd::Isa;
use crate::{CoreError, Element, RealElement, Result};

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
    /// Instruction set of the pointwise complex products (detected at plan time).
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
            isa: Isa::detect(),
        })
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

    /// [`apply_axis_steps`](Self::apply_axis_steps) through `apply_steps` with outer-product hooks.
    fn apply_outer_steps(
        &mut self,
        data: ArrayViewMut2<'_, T>,
        n: usize,
        y: AxisFactors<'_, T>,
        x: AxisFactors<'_, T>,
    ) {
        self.apply_steps(
            data,
            n,
            outer_hook(y.pre, x.pre),
            outer_hook(y.mid, x.mid),
            outer_hook(y.post, x.post),
        );
    }

    /// The complex path of [`apply_steps`](Self::apply_steps) on data with contiguous rows:
    /// row transforms in place, column transforms on blocks of [`BLOCK`] columns gathered into a
    /// small buffer that stays in cache, multiplied by `H` there and scattered back (no
    /// transposes of the whole array).
    fn run_complex<E: Send + Sync + 'static>(
        &mut self,
        mut data: ArrayViewMut2<'_, E>,
        n: usize,
        pre: &Hook<'_, T::Real>,
        mid: &Hook<'_, T::Real>,
        post: &Hook<'_, T::Real>,
    ) {
        let RowFft::Complex { fwd, inv } = &self.rows else {
            unreachable!("complex data have complex row transforms")
        };
        // Own handles (a reference count, no allocation) so that the column pass may borrow the
        // plan mutably in between.
        let (fwd, inv) = (Arc::clone(fwd), Arc::clone(inv));
        let (fwd, inv) = (&*fwd, &*inv);
        let rpt = self.rows_per_task;
        row_pass(&mut data, rpt, &mut self.row_scratch, |i, row, s| {
            pre(i, row);
            fwd.process_with_scratch(row, s);
        });
        for k in 0..n {
            self.column_pass(&mut data);
            if k + 1 < n {
                row_pass(&mut data, rpt, &mut self.row_scratch, |i, row, s| {
                    inv.process_with_scratch(row, s);
                    mid(i, row);
                    fwd.process_with_scratch(row, s);
                });
            } else {
                row_pass(&mut data, rpt, &mut self.row_scratch, |i, row, s| {
                    inv.process_with_scratch(row, s);
                    post(i, row);
                });
            }
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

    /// Column transforms, transfer function and inverse column transforms, in one pass over the
    /// columns of (row-transformed) complex data with contiguous rows.
    fn column_pass<E: Send + Sync + 'static>(&mut self, data: &mut ArrayViewMut2<'_, E>) {
        let ny = self.shape[0];
        let cpt = self.cols_per_task;
        let (col_fwd, col_inv) = (&*self.col_fwd, &*self.col_inv);
        let (transfer, isa) = (&self.transfer, self.isa);
        data.axis_chunks_iter_mut(Axis(1), cpt)
            .into_par_iter()
            .zip(self.col_scratch.par_iter_mut())
            .enumerate()
            .for_each(|(t, (mut chunk, s))| {
                let j0 = t * cpt;
                let nc = chunk.ncols();
                for b0 in (0..nc).step_by(BLOCK) {
                    let w = BLOCK.min(nc - b0);
                    let buf = &mut s.buf[..w * ny];
                    gather_columns(&chunk.view(), b0, buf);
                    if ny > 1 {
                        col_fwd.process_with_scratch(buf, &mut s.fft);
                    }
                    match transfer {
                        Transfer::Full(t) => {
                            mul_line(isa, buf, &t[(j0 + b0) * ny..(j0 + b0 + w) * ny]);
                        }
                        Transfer::Separable { hy, hx } => {
                            for (col, &s) in buf.chunks_exact_mut(ny).zip(&hx[j0 + b0..]) {
                                mul_line_scaled_r(isa, col, hy, s);
                            }
                        }
                    }
                    if ny > 1 {
                        col_inv.process_with_scratch(buf, &mut s.fft);
                    }
                    scatter_columns(buf, b0, &mut chunk);
                }
            });
    }

    /// One application to real data (half-spectrum transforms through the plan's buffers),
    /// with row hooks on the real rows.
    fn apply_real(
        &mut self,
        mut data: ArrayViewMut2<'_, T>,
        pre: &(dyn Fn(usize, &mut [T]) + Sync),
        post: &(dyn Fn(usize, &mut [T]) + Sync),
    ) {
        let [ny, nx] = self.shape;
        let ncols = self.ncols;
        let rpt = self.rows_per_task;
        let cpt = self.cols_per_task;
        let RowFft::Real { fwd, inv } = &self.rows else {
            unreachable!("real data have real row transforms")
        };

        // 1. Forward transforms along x, row by row, into the row-major spectrum.
        data.axis_chunks_iter_mut(Axis(0), rpt)
            .into_par_iter()
            .zip(self.spec.par_chunks_mut(rpt * ncols))
            .zip(self.row_scratch.par_iter_mut())
            .enumerate()
            .for_each(|(t, ((chunk, spec), s))| {
                for (r, (row, out)) in chunk
                    .outer_iter()
                    .zip(spec.chunks_exact_mut(ncols))
                    .enumerate()
                {
                    for (d, v) in s.real.iter_mut().zip(row.iter()) {
                        *d = v.re();
                    }
                    pre(t * rpt + r, cast_mut(&mut s.real));
                    fwd.process_with_scratch(&mut s.real, out, &mut s.fft)
                        .expect("real FFT buffers are sized at plan time");
                }
            });

        // 2. Column transforms: gather blocks of columns contiguously, transform, multiply by
        //    the transfer function, transform back.
        let spec = &self.spec;
        let (col_fwd, col_inv) = (&self.col_fwd, &self.col_inv);
        let Transfer::Full(transfer) = &self.transfer else {
            unreachable!("real data keep the full transfer table")
        };
        self.tr
            .par_chunks_mut(cpt * ny)
            .zip(transfer.par_chunks(cpt * ny))
            .zip(self.col_scratch.par_iter_mut())
            .enumerate()
            .for_each(|(t, ((tr, h), scratch))| {
                let j0 = t * cpt;
                let nc = tr.len() / ny;
                // Blocked transpose: a block of rows is read once into cache and every column
                // write is a contiguous run.
                for i0 in (0..ny).step_by(TILE) {
                    let i1 = (i0 + TILE).min(ny);
                    for c in 0..nc {
                        let dst = &mut tr[c * ny + i0..c * ny + i1];
                        for (k, d) in dst.iter_mut().enumerate() {
                            *d = spec[(i0 + k) * ncols + j0 + c];
                        }
                    }
                }
                if ny > 1 {
                    col_fwd.process_with_scratch(tr, &mut scratch.fft);
                }
                for (a, b) in tr.iter_mut().zip(h) {
                    *a = *a * *b;
                }
                if ny > 1 {
                    col_inv.process_with_scratch(tr, &mut scratch.fft);
                }
            });

        // 3. Scatter back to rows and transform back along x.
        let tr = &self.tr;
        data.axis_chunks_iter_mut(Axis(0), rpt)
            .into_par_iter()
            .zip(self.spec.par_chunks_mut(rpt * ncols))
            .zip(self.row_scratch.par_iter_mut())
            .enumerate()
            .for_each(|(t, ((mut chunk, spec), s))| {
                let i0 = t * rpt;
                let nr = spec.len() / ncols;
                for r0 in (0..nr).step_by(TILE) {
                    let r1 = (r0 + TILE).min(nr);
                    for j in 0..ncols {
                        let src = &tr[j * ny + i0 + r0..j * ny + i0 + r1];
                        for (k, v) in src.iter().enumerate() {
                            spec[(r0 + k) * ncols + j] = *v;
                        }
                    }
                }
                for (r, (mut row, sp)) in chunk
                    .outer_iter_mut()
                    .zip(spec.chunks_exact_mut(ncols))
                    .enumerate()
                {
                    // Rounding leaves tiny imaginary parts on the self-conjugate bins; the exact
                    // result has none.
                    sp[0].im = T::Real::zero();
                    if nx % 2 == 0 {
                        sp[ncols - 1].im = T::Real::zero();
                    }
                    inv.process_with_scratch(sp, &mut s.real, &mut s.fft)
                        .expect("real FFT buffers are sized at plan time");
                    post(i0 + r, cast_mut(&mut s.real));
                    for (d, v) in row.iter_mut().zip(&s.real) {
                        *d = T::from_complex(Complex::new(*v, T::Real::zero()));
                    }
                }
            });
    }
}

/// A row hook on complex rows.
type Hook<'a, R> = dyn Fn(usize, &mut [Complex<R>]) + Sync + 'a;

/// The hook that does nothing.
fn no_hook<T>(_: usize, _: &mut [T]) {}

/// One parallel pass over the rows of data with contiguous rows: `f(i, row, fft_scratch)` on
/// every row `i`, in tasks of `rpt` rows each with its own scratch (so the result does not depend
/// on the number of threads).
fn row_pass<E: Send + Sync + 'static, R: RealElement, F>(
    data: &mut ArrayViewMut2<'_, E>,
    rpt: usize,
    scratch: &mut [RowScratch<R>],
    f: F,
) where
    F: Fn(usize, &mut [Complex<R>], &mut [Complex<R>]) + Sync,
{
    data.axis_chunks_iter_mut(Axis(0), rpt)
        .into_par_iter()
        .zip(scratch.par_iter_mut())
        .enumerate()
        .for_each(|(t, (mut chunk, s))| {
            for (r, mut row) in chunk.outer_iter_mut().enumerate() {
                let row = cast_mut::<E, Complex<R>>(
                    row.as_slice_mut()
                        .expect("rows are contiguous on this path"),
                );
                f(t * rpt + r, row, &mut s.fft);
            }
        });
}

/// Reinterprets a slice of `A` as a slice of `B` when they are the same type (complex data seen
/// as `Complex<T::Real>`, real rows seen as `T`), which the generic code cannot name directly.
///
/// # Panics
/// If `A` and `B` are different types (a bug in this module).
fn cast_mut<A: 'static, B: 'static>(s: &mut [A]) -> &mut [B] {
    assert_eq!(
        TypeId::of::<A>(),
        TypeId::of::<B>(),
        "cast between different types"
    );
    // SAFETY: `A` and `B` are the same type (checked above), so layout, length and validity
    // are unchanged; the borrow is carried over.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<B>(), s.len()) }
}

/// Shared-slice version of [`cast_mut`].
fn cast_ref<A: 'static, B: 'static>(s: &[A]) -> &[B] {
    assert_eq!(
        TypeId::of::<A>(),
        TypeId::of::<B>(),
        "cast between different types"
    );
    // SAFETY: as in `cast_mut`.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<B>(), s.len()) }
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

/// The row hook `row[j] *= fy[i] * fx[j]`.
fn outer_hook<'a, T: Element>(fy: &'a [T], fx: &'a [T]) -> impl Fn(usize, &mut [T]) + Sync + 'a {
    move |i, row| {
        for (v, &f) in row.iter_mut().zip(fx) {
            *v *= fy[i] * f;
        }
    }
}

/// `v[i] *= f[i]`, with AVX2+FMA when `isa` has them (a quarter of the time of a split-step
/// line is these products, which the compiler leaves scalar for SSE2).
fn mul_line<R: RealElement>(isa: Isa, v: &mut [Complex<R>], f: &[Complex<R>]) {
    assert_eq!(v.len(), f.len(), "mul_line: lengths (v, f)");
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2Fma {
        if TypeId::of::<R>() == TypeId::of::<f64>() {
            // SAFETY: AVX2 and FMA were detected at run time (`Isa::Avx2Fma`); the lengths are
            // equal (asserted above).
            unsafe { mul_line_c64_avx2(cast_mut(v), cast_ref(f), None) };
            return;
        }
        if TypeId::of::<R>() == TypeId::of::<f32>() {
            // SAFETY: as above.
            unsafe { mul_line_c32_avx2(cast_mut(v), cast_ref(f)) };
            return;
        }
    }
    let _ = isa;
    for (a, &b) in v.iter_mut().zip(f) {
        *a = *a * b;
    }
}

/// [`mul_line_scaled`] in the plan's precision (the complex128 fast path where it applies).
fn mul_line_scaled_r<R: RealElement>(
    isa: Isa,
    v: &mut [Complex<R>],
    f: &[Complex<R>],
    s: Complex<R>,
) {
    if isa == Isa::Avx2Fma && TypeId::of::<R>() == TypeId::of::<f64>() {
        let s = Complex::new(s.re.to_c64().re, s.im.to_c64().re);
        mul_line_scaled(cast_mut(v), cast_ref(f), Some(s));
        return;
    }
    for (a, &b) in v.iter_mut().zip(f) {
        *a = *a * (b * s);
    }
}

/// `v[i] *= f[i] * s` (with `s = 1` when `None`): the pointwise product of a line of
/// complex128 values with a transfer function (and a scalar: one factor of an outer product),
/// in place.
///
/// # Panics
/// If the lengths differ.
pub fn mul_line_scaled(v: &mut [Complex<f64>], f: &[Complex<f64>], s: Option<Complex<f64>>) {
    assert_eq!(v.len(), f.len(), "mul_line_scaled: lengths (v, f)");
    #[cfg(target_arch = "x86_64")]
    if Isa::detect() == Isa::Avx2Fma {
        // SAFETY: AVX2 and FMA were detected at run time; the lengths are equal.
        unsafe { mul_line_c64_avx2(v, f, s) };
        return;
    }
    match s {
        Some(s) => v.iter_mut().zip(f).for_each(|(a, &b)| *a *= b * s),
        None => v.iter_mut().zip(f).for_each(|(a, &b)| *a *= b),
    }
}

/// `v[i] *= f[i]` (or `f[i] * s`) for complex128, two products per 256-bit vector:
/// `(ar br - ai bi, ai br + ar bi)` as one `fmaddsub(a, br, swap(a) * bi)`.
///
/// # Safety
/// AVX2 and FMA must be available and `v.len() == f.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn mul_line_c64_avx2(v: &mut [Complex<f64>], f: &[Complex<f64>], s: Option<Complex<f64>>) {
    use std::arch::x86_64::{
        __m256d, _mm256_fmaddsub_pd, _mm256_loadu_pd, _mm256_movedup_pd, _mm256_mul_pd,
        _mm256_permute_pd, _mm256_set_pd, _mm256_storeu_pd,
    };
    // Inlined into this AVX2+FMA function so that its intrinsics compile for it.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn cmul(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: called only inside the AVX2+FMA function below.
        unsafe {
            let (br, bi) = (_mm256_movedup_pd(b), _mm256_permute_pd::<0b1111>(b));
            let swapped = _mm256_permute_pd::<0b0101>(a);
            _mm256_fmaddsub_pd(a, br, _mm256_mul_pd(swapped, bi))
        }
    }
    let pairs = v.len() / 2;
    let (vp, fp) = (v.as_mut_ptr().cast::<f64>(), f.as_ptr().cast::<f64>());
    let sv = s.map(|s| _mm256_set_pd(s.im, s.re, s.im, s.re));
    for k in 0..pairs {
        // SAFETY: `4 k + 3 < 2 len`: both 32-byte accesses lie inside the slices (a
        // `Complex<f64>` is two `f64`, `repr(C)`); unaligned loads and stores.
        unsafe {
            let a = _mm256_loadu_pd(vp.add(4 * k));
            let mut b = _mm256_loadu_pd(fp.add(4 * k));
            if let Some(sv) = sv {
                b = cmul(b, sv);
            }
            _mm256_storeu_pd(vp.add(4 * k), cmul(a, b));
        }
    }
    for i in 2 * pairs..v.len() {
        v[i] *= s.map_or(f[i], |s| f[i] * s);
    }
}

/// `v[i] *= f[i]` for complex64, four products per 256-bit vector (as the complex128 case).
///
/// # Safety
/// AVX2 and FMA must be available and `v.len() == f.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn mul_line_c32_avx2(v: &mut [Complex<f32>], f: &[Complex<f32>]) {
    use std::arch::x86_64::{
        _mm256_fmaddsub_ps, _mm256_loadu_ps, _mm256_movehdup_ps, _mm256_moveldup_ps, _mm256_mul_ps,
        _mm256_permute_ps, _mm256_storeu_ps,
    };
    let quads = v.len() / 4;
    let (vp, fp) = (v.as_mut_ptr().cast::<f32>(), f.as_ptr().cast::<f32>());
    for k in 0..quads {
        // SAFETY: `8 k + 7 < 2 len`, as in the complex128 case.
        unsafe {
            let a = _mm256_loadu_ps(vp.add(8 * k));
            let b = _mm256_loadu_ps(fp.add(8 * k));
            let (br, bi) = (_mm256_moveldup_ps(b), _mm256_movehdup_ps(b));
            let swapped = _mm256_permute_ps::<0b1011_0001>(a);
            _mm256_storeu_ps(
                vp.add(8 * k),
                _mm256_fmaddsub_ps(a, br, _mm256_mul_ps(swapped, bi)),
            );
        }
    }
    for i in 4 * quads..v.len() {
        v[i] *= f[i];
    }
}

/// Copies columns `b0 .. b0 + w` of a chunk with contiguous rows into `buf`, column-major
/// (`w` columns of `ny` values; `w = buf.len() / ny`): each row contributes a contiguous run of
/// `w` values, written `ny` apart. Rows go four at a time, so each column receives four
/// consecutive values (a whole cache line of `Complex64`) per visit.
///
/// # Panics
/// If the chunk's rows are not contiguous or hold fewer than `b0 + w` columns.
fn gather_columns<E: 'static, R: RealElement>(
    chunk: &ArrayView2<'_, E>,
    b0: usize,
    buf: &mut [Complex<R>],
) {
    let (ny, nc) = chunk.dim();
    let w = buf.len() / ny;
    assert!(
        b0 + w <= nc && (nc <= 1 || chunk.strides()[1] == 1),
        "column block in the chunk"
    );
    let (p, rs) = (chunk.as_ptr(), chunk.strides()[0]);
    // SAFETY: row `i` of the chunk starts `i * rs` elements after its first element and holds
    // `nc >= b0 + w` contiguous elements of type `E`, the same layout as `Complex<R>` (checked
    // by `cast_ref`'s caller contract: the plan's element type).
    let row = |i: usize| -> &[Complex<R>] {
        unsafe {
            cast_ref::<E, Complex<R>>(std::slice::from_raw_parts(
                p.offset(i as isize * rs).add(b0),
                w,
            ))
        }
    };
    let mut i = 0;
    while i + 4 <= ny {
        let (r0, r1, r2, r3) = (row(i), row(i + 1), row(i + 2), row(i + 3));
        for (c, col) in buf.chunks_exact_mut(ny).enumerate() {
            let dst: &mut [Complex<R>; 4] = (&mut col[i..i + 4]).try_into().expect("four rows");
            *dst = [r0[c], r1[c], r2[c], r3[c]];
        }
        i += 4;
    }
    for i in i..ny {
        for (c, v) in row(i).iter().enumerate() {
            buf[c * ny + i] = *v;
        }
    }
}

/// The inverse of [`gather_columns`].
///
/// # Panics
/// As [`gather_columns`].
fn scatter_columns<E: 'static, R: RealElement>(
    buf: &[Complex<R>],
    b0: usize,
    chunk: &mut ArrayViewMut2<'_, E>,
) {
    let (ny, nc) = chunk.dim();
    let w = buf.len() / ny;
    assert!(
        b0 + w <= nc && (nc <= 1 || chunk.strides()[1] == 1),
        "column block in the chunk"
    );
    let (p, rs) = (chunk.as_mut_ptr(), chunk.strides()[0]);
    // SAFETY: as in `gather_columns`; distinct rows are disjoint, and each is written only
    // while no other reference to it exists (the chunk is borrowed mutably).
    let row = |i: usize| -> &mut [Complex<R>] {
        unsafe {
            cast_mut::<E, Complex<R>>(std::slice::from_raw_parts_mut(
                p.offset(i as isize * rs).add(b0),
                w,
            ))
        }
    };
    let mut i = 0;
    while i + 4 <= ny {
        let (r0, r1, r2, r3) = (row(i), row(i + 1), row(i + 2), row(i + 3));
        for (c, col) in buf.chunks_exact(ny).enumerate() {
            let src: &[Complex<R>; 4] = (&col[i..i + 4]).try_into().expect("four rows");
            (r0[c], r1[c], r2[c], r3[c]) = (src[0], src[1], src[2], src[3]);
        }
        i += 4;
    }
    for i in i..ny {
        for (c, v) in row(i).iter_mut().enumerate() {
            *v = buf[c * ny + i];
        }
    }
}

/// A `Complex64` value in the plan's precision.
fn to_complex_real<R: RealElement>(h: Complex64) -> Complex<R> {
    Complex::new(
        <R as Element>::from_f64(h.re),
        <R as Element>::from_f64(h.im),
    )
}

/// `1` as the transfer function: the identity (useful for round-trip checks).
#[must_use]
pub fn identity_transfer(_ky: f64, _kx: f64) -> Complex64 {
    Complex64::one()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use num_complex::Complex32;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random<T: Element>(shape: (usize, usize), seed: u64) -> Array2<T> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn(shape, |_| {
            let re: f64 = rng.random_range(-1.0..1.0);
            let im: f64 = rng.random_range(-1.0..1.0);
            if T::IS_COMPLEX {
                T::from_f64(re) + T::from_f64(im) * imag_unit::<T>()
            } else {
                T::from_f64(re)
            }
        })
    }

    fn imag_unit<T: Element>() -> T {
        T::from_complex(Complex::new(T::Real::zero(), T::Real::one()))
    }

    fn max_err<T: Element>(a: &Array2<T>, b: &Array2<T>) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x.to_c64() - y.to_c64()).norm())
            .fold(0.0, f64::max)
    }

    fn identity_case<T: Element>(shape: (usize, usize), tol: f64) {
        let u = random::<T>(shape, 7);
        let mut plan =
            SpectralPlan::<T>::new([shape.0, shape.1], [0.3, 0.7], identity_transfer).unwrap();
        let mut out = Array2::<T>::zeros(shape);
        plan.apply(u.view(), out.view_mut());
        let e = max_err(&u, &out);
        assert!(e < tol, "{} {shape:?}: identity error {e}", T::NAME);
    }

    #[test]
    fn identity_all_types_and_awkward_sizes() {
        // Round-trip rounding grows like eps * log2(n); data are O(1).
        for shape in [(1, 1), (1, 7), (5, 1), (6, 10), (13, 17), (32, 33)] {
            identity_case::<f64>(shape, 1e-14);
            identity_case::<Complex64>(shape, 1e-14);
            identity_case::<f32>(shape, 1e-5);
            identity_case::<Complex32>(shape, 1e-5);
        }
    }

    fn shift_case<T: Element>(shape: (usize, usize), sy: usize, sx: usize) {
        let (ny, nx) = shape;
        let (dy, dx) = (0.25, 0.5);
        let u = random::<T>(shape, 11);
        let mut plan = SpectralPlan::<T>::new([ny, nx], [dy, dx], |ky, kx| {
            Complex64::from_polar(1.0, -(ky * sy as f64 * dy + kx * sx as f64 * dx))
        })
        .unwrap();
        let mut v = u.clone();
        plan.apply_inplace(v.view_mut());
        let expected =
            Array2::from_shape_fn(shape, |(i, j)| u[[(i + ny - sy) % ny, (j + nx - sx) % nx]]);
        // A whole-sample shift is exact in exact arithmetic; rounding of exp(-ika) and the
        // transforms stays below 1e-13 for O(1) data on these sizes.
        let e = max_err(&expected, &v);
        assert!(e < 1e-13, "{} {shape:?}: shift error {e}", T::NAME);
    }

    #[test]
    fn pure_phase_shifts_a_periodic_signal() {
        shift_case::<f64>((12, 16), 3, 5);
        shift_case::<f64>((9, 15), 2, 4);
        shift_case::<Complex64>((12, 16), 3, 5);
        shift_case::<Complex64>((9, 15), 8, 1);
        shift_case::<f64>((1, 31), 0, 7); // 1D
        shift_case::<Complex64>((1, 30), 0, 29); // 1D
    }

    #[test]
    fn real_data_gets_real_part_of_complex_result() {
        // Half-sample shift: not Hermitian at the Nyquist bins, so the real path must apply the
        // Hermitian part to equal Re(complex path).
        let shape = (8, 10);
        let h = |ky: f64, kx: f64| Complex64::from_polar(1.0, -(ky * 0.5 + kx * 0.75));
        let u = random::<f64>(shape, 3);
        let mut real = SpectralPlan::<f64>::new([8, 10], [1.0, 1.0], h).unwrap();
        let mut cplx = SpectralPlan::<Complex64>::new([8, 10], [1.0, 1.0], h).unwrap();
        let mut a = u.clone();
        real.apply_inplace(a.view_mut());
        let mut b = u.mapv(|v| Complex64::new(v, 0.0));
        cplx.apply_inplace(b.view_mut());
        let e = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y.re).abs())
            .fold(0.0, f64::max);
        assert!(e < 1e-14, "real vs Re(complex): {e}");
    }

    /// The test transfer function `hy(ky) hx(kx)` on `shape` with spacings `(0.4, 0.3)`, planned
    /// separable or as a table.
    fn product_plan<T: Element>(shape: (usize, usize), separable: bool) -> SpectralPlan<T> {
        let hy = |k: f64| Complex64::from_polar((-0.02 * k * k).exp(), -0.3 * k * k);
        let hx = |k: f64| Complex64::from_polar(1.0, -0.2 * k * k + 0.1 * k);
        let (dims, sp) = ([shape.0, shape.1], [0.4, 0.3]);
        if separable {
            SpectralPlan::<T>::new_separable(dims, sp, hy, hx).unwrap()
        } else {
            SpectralPlan::<T>::new(dims, sp, |ky, kx| hy(ky) * hx(kx)).unwrap()
        }
    }

    /// A separable plan equals the plan of the product table, for every element type (real
    /// data fall back to the table), awkward sizes, 1D, and through `apply_steps` with hooks.
    fn separable_case<T: Element>(shape: (usize, usize), tol: f64) {
        let mut sep = product_plan::<T>(shape, true);
        let mut full = product_plan::<T>(shape, false);
        assert_eq!(sep.is_separable(), T::IS_COMPLEX);
        assert!(!full.is_separable());
        let u = random::<T>(shape, 11);
        let two = T::from_f64(2.0);
        let hook = |_: usize, r: &mut [T]| r.iter_mut().for_each(|v| *v *= two);
        let (mut a, mut b) = (u.clone(), u);
        sep.apply_steps(a.view_mut(), 3, hook, hook, no_hook);
        full.apply_steps(b.view_mut(), 3, hook, hook, no_hook);
        let e = max_err(&a, &b);
        assert!(e < tol, "{} {shape:?}: separable vs table {e}", T::NAME);
    }

    #[test]
    fn separable_transfer_matches_the_table() {
        for shape in [(1, 1), (1, 17), (16, 1), (7, 5), (12, 33), (40, 24)] {
            separable_case::<Complex64>(shape, 1e-12);
            separable_case::<Complex32>(shape, 1e-4);
            separable_case::<f64>(shape, 1e-12);
        }
        // Switching back to a table after a separable transfer.
        let mut plan = SpectralPlan::<Complex64>::new_separable(
            [4, 6],
            [1.0, 1.0],
            |_| 2.0.into(),
            |_| 3.0.into(),
        )
        .unwrap();
        plan.set_transfer(identity_transfer);
        assert!(!plan.is_separable());
        let u = random::<Complex64>((4, 6), 2);
        let mut v = u.clone();
        plan.apply_inplace(v.view_mut());
        assert!(max_err(&u, &v) < 1e-14);
    }

    /// The line-by-line path equals `apply_steps` with the outer-product hooks: complex128 and
    /// complex64 (vector bodies and scalar tails: odd lengths), 1D, a transposed view and a
    /// table transfer (both through the fallback), and real data.
    fn axis_case<T: Element>(shape: (usize, usize), separable: bool, transposed: bool, tol: f64) {
        let mut plan = product_plan::<T>(shape, separable);
        let line = |n: usize, a: f64, b: f64| -> Vec<T> {
            let c = random::<T>((1, n), (a * 100.0) as u64);
            c.iter()
                .map(|&v| v * T::from_f64(b) + T::from_f64(a))
                .collect()
        };
        let (ny, nx) = shape;
        let fy = [line(ny, 1.0, 0.1), line(ny, 0.9, 0.2), line(ny, 1.1, 0.1)];
        let fx = [line(nx, 0.8, 0.3), line(nx, 1.2, 0.1), line(nx, 1.0, 0.2)];
        let ay = AxisFactors {
            pre: &fy[0],
            mid: &fy[1],
            post: &fy[2],
        };
        let ax = AxisFactors {
            pre: &fx[0],
            mid: &fx[1],
            post: &fx[2],
        };
        let u = random::<T>(shape, 21);
        let mut a = u.clone();
        let mut at = Array2::<T>::zeros((nx, ny));
        if transposed {
            at.view_mut().reversed_axes().assign(&u);
            plan.apply_axis_steps(at.view_mut().reversed_axes(), 4, ay, ax);
            a.assign(&at.view().reversed_axes());
        } else {
            plan.apply_axis_steps(a.view_mut(), 4, ay, ax);
        }
        let mut b = u;
        plan.apply_steps(
            b.view_mut(),
            4,
            outer_hook(&fy[0], &fx[0]),
            outer_hook(&fy[1], &fx[1]),
            outer_hook(&fy[2], &fx[2]),
        );
        let e = max_err(&a, &b);
        assert!(e < tol, "{} {shape:?} separable {separable}: {e}", T::NAME);
    }

    #[test]
    fn axis_steps_match_outer_product_hooks() {
        // Four applications of O(1) factors on O(1) data: rounding of a few FFT round trips,
        // ~1e-15 in f64 and ~1e-6 in f32, far below these bounds.
        for shape in [(1, 1), (1, 33), (9, 1), (7, 5), (17, 12), (32, 31)] {
            axis_case::<Complex64>(shape, true, false, 1e-12);
            axis_case::<Complex64>(shape, true, true, 1e-12);
            axis_case::<Complex64>(shape, false, false, 1e-12);
            axis_case::<Complex32>(shape, true, false, 1e-4);
            axis_case::<f64>(shape, true, false, 1e-12);
        }
    }

    /// Periodic sum of Gaussians of variance `var` centred at `c` on a period `l`.
    fn periodic_gauss(x: f64, c: f64, var: f64, l: f64) -> f64 {
        (-20..=20)
            .map(|m| {
                let d = x - c - f64::from(m) * l;
                (-d * d / (2.0 * var)).exp()
            })
            .sum()
    }

    #[test]
    fn heat_kernel_spreads_a_periodic_gaussian_exactly() {
        let (ny, nx, dy, dx) = (48, 64, 0.25, 0.2);
        let (ly, lx) = (ny as f64 * dy, nx as f64 * dx);
        let (d, t, s0) = (0.7, 0.9, 1.0);
        let (cy, cx) = (4.1, 3.3);
        let s1 = s0 * s0 + 2.0 * d * t;
        let u0 = Array2::from_shape_fn((ny, nx), |(i, j)| {
            periodic_gauss(i as f64 * dy, cy, s0 * s0, ly)
                * periodic_gauss(j as f64 * dx, cx, s0 * s0, lx)
        });
        // Each 1D factor keeps its integral, so its amplitude falls by s0 / s1.
        let amp = s0 * s0 / s1;
        let exact = Array2::from_shape_fn((ny, nx), |(i, j)| {
            amp * periodic_gauss(i as f64 * dy, cy, s1, ly)
                * periodic_gauss(j as f64 * dx, cx, s1, lx)
        });
        let mut plan = SpectralPlan::<f64>::new([ny, nx], [dy, dx], |ky, kx| {
            Complex64::new((-d * (ky * ky + kx * kx) * t).exp(), 0.0)
        })
        .unwrap();
        let mut u = u0.clone();
        plan.apply_inplace(u.view_mut());
        // The initial Gaussian (sigma = 4 dy, 5 dx) is band-limited to ~exp(-(pi sigma/d)^2/2)
        // < 1e-30 at Nyquist, so the discrete heat step is exact to rounding.
        let e = max_err(&u, &exact);
        assert!(e < 1e-12, "heat kernel error {e}");
        // Mass is conserved to rounding.
        assert!((u.sum() - u0.sum()).abs() < 1e-10 * u0.sum());
    }

    #[test]
    fn wavenumbers_match_numpy_fftfreq() {
        // 2 pi * numpy.fft.fftfreq(5, 0.5) = 2 pi * [0, 0.4, 0.8, -0.8, -0.4].
        let k = wavenumbers(5, 0.5);
        let expected = [0.0, 0.4, 0.8, -0.8, -0.4].map(|f| f * TAU);
        for (a, b) in k.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
    }

    #[test]
    fn bad_spacing_is_a_typed_error() {
        let e = SpectralPlan::<f64>::new([4, 4], [0.0, 1.0], identity_transfer).unwrap_err();
        assert!(
            matches!(e, CoreError::InvalidValue { name: "dy", .. }),
            "{e}"
        );
        let e = SpectralPlan::<f64>::new([0, 4], [1.0, 1.0], identity_transfer).unwrap_err();
        assert!(matches!(e, CoreError::EmptyInput { .. }));
    }
}
