//! The transform passes behind the public `apply*` methods: the complex and real paths, the
//! row and column passes and the row hooks.

use std::sync::Arc;

use ndarray::{ArrayViewMut2, Axis};
use num_complex::Complex;
use num_traits::Zero;
use rayon::prelude::*;

use crate::{Element, RealElement};

use super::{
    AxisFactors, BLOCK, RowFft, RowScratch, SpectralPlan, TILE, Transfer, cast_mut, gather_columns,
    mul_line, mul_line_scaled_r, scatter_columns,
};

impl<T: Element> SpectralPlan<T> {
    /// [`apply_axis_steps`](Self::apply_axis_steps) through `apply_steps` with outer-product hooks.
    pub(super) fn apply_outer_steps(
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
    pub(super) fn run_complex<E: Send + Sync + 'static>(
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

    /// Column transforms, transfer function and inverse column transforms, in one pass over the
    /// columns of (row-transformed) complex data with contiguous rows.
    pub(super) fn column_pass<E: Send + Sync + 'static>(
        &mut self,
        data: &mut ArrayViewMut2<'_, E>,
    ) {
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
    pub(super) fn apply_real(
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
pub(super) type Hook<'a, R> = dyn Fn(usize, &mut [Complex<R>]) + Sync + 'a;

/// The hook that does nothing.
pub(super) fn no_hook<T>(_: usize, _: &mut [T]) {}

/// One parallel pass over the rows of data with contiguous rows: `f(i, row, fft_scratch)` on
/// every row `i`, in tasks of `rpt` rows each with its own scratch (so the result does not depend
/// on the number of threads).
pub(super) fn row_pass<E: Send + Sync + 'static, R: RealElement, F>(
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

/// The row hook `row[j] *= fy[i] * fx[j]`.
pub(super) fn outer_hook<'a, T: Element>(
    fy: &'a [T],
    fx: &'a [T],
) -> impl Fn(usize, &mut [T]) + Sync + 'a {
    move |i, row| {
        for (v, &f) in row.iter_mut().zip(fx) {
            *v *= fy[i] * f;
        }
    }
}
