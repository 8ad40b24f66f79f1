//! The FFT method of [`crate::ConvPlan`]: one transform of the whole (padded) input.
//!
//! Along an axis whose boundary is `Periodic` on both sides the transform length is the axis
//! length itself and the convolution is circular, which is exactly the periodic extension.
//! Along any other axis the input is padded with the boundary mode (so the result equals the
//! direct method for every mode) into a transform of the next fast length (a product of 2, 3, 5
//! and 7) at least as long as the padded input; the correlation only reads positions where no
//! wrap-around occurs. Dilation is a dilated kernel, stride a subsampled output. The kernel's
//! spectrum is computed once, at plan time, and stored inside a [`SpectralPlan`] (real-to-complex
//! transforms for real data, complex for complex).

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use num_complex::{Complex, Complex64};
use rayon::prelude::*;
use rustfft::FftPlanner;

use crate::boundary::Source;
use crate::spectral::SpectralPlan;
use crate::{Boundaries, Element, ResolvedAxis, Result};

/// Smallest `m >= n` whose prime factors are 2, 3, 5 and 7 (and even, if `even`).
pub(crate) fn next_fast_len(n: usize, even: bool) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3, 5, 7] {
            while r.is_multiple_of(p) {
                r /= p;
            }
        }
        if r == 1 && (!even || m.is_multiple_of(2) || m == 1) {
            return m;
        }
        m += 1;
    }
}

/// How one axis is mapped onto the transform.
#[derive(Clone, Copy, Debug)]
struct AxisMap {
    /// Transform length.
    f: usize,
    /// Circular (periodic axis, transform length = data length) or padded.
    circular: bool,
    /// Work positions `0..used` hold (padded) data; the rest is zero.
    used: usize,
    /// Padding before the data inside the work array (0 when circular).
    lo: usize,
}

impl AxisMap {
    fn new(r: &ResolvedAxis, periodic: bool, even: bool) -> Self {
        if periodic {
            AxisMap {
                f: r.n,
                circular: true,
                used: r.n,
                lo: 0,
            }
        } else {
            let used = r.lo + r.n + r.hi;
            AxisMap {
                f: next_fast_len(used, even),
                circular: false,
                used,
                lo: r.lo,
            }
        }
    }
}

/// Transform shape the FFT method would use (for the cost model).
pub(crate) fn planned_shape<T: Element>(
    ry: &ResolvedAxis,
    rx: &ResolvedAxis,
    boundaries: &Boundaries,
) -> [usize; 2] {
    [
        AxisMap::new(ry, boundaries.y.is_periodic(), false).f,
        AxisMap::new(rx, boundaries.x.is_periodic(), !T::IS_COMPLEX).f,
    ]
}

/// The FFT method.
#[derive(Clone, Debug)]
pub(crate) struct FftConv<T: Element> {
    spec: SpectralPlan<T>,
    work: Array2<T>,
    my: AxisMap,
    mx: AxisMap,
    w: usize,
    ry: ResolvedAxis,
    rx: ResolvedAxis,
    row_src: Vec<Source>,
    col_src: Vec<Source>,
    rows_per_task: usize,
    /// Per task: gathered convolution row, staged output row.
    staging: Vec<(Vec<T>, Vec<T>)>,
}

impl<T: Element> FftConv<T> {
    /// Plans the FFT method for correlation-frame `taps`.
    ///
    /// # Errors
    /// Only if the spectral plan cannot be built (it always can for valid shapes).
    pub(crate) fn new(
        shape: [usize; 2],
        taps: &Array2<T>,
        boundaries: &Boundaries,
        ry: ResolvedAxis,
        rx: ResolvedAxis,
    ) -> Result<Self> {
        let [h, w] = shape;
        let my = AxisMap::new(&ry, boundaries.y.is_periodic(), false);
        let mx = AxisMap::new(&rx, boundaries.x.is_periodic(), !T::IS_COMPLEX);
        let (fy, fx) = (my.f, mx.f);
        // h[(c - j) mod F] += k[j] on each axis (c = lo for circular axes), then its DFT: the
        // circular convolution with h is the wanted correlation (module docs).
        let mut hk = Array2::<Complex64>::zeros((fy, fx));
        let cy = if my.circular { ry.lo } else { 0 };
        let cx = if mx.circular { rx.lo } else { 0 };
        for ((ky, kx), v) in taps.indexed_iter() {
            let jy = ky * ry.dilation;
            let jx = kx * rx.dilation;
            let iy = (cy as isize - jy as isize).rem_euclid(fy as isize) as usize;
            let ix = (cx as isize - jx as isize).rem_euclid(fx as isize) as usize;
            hk[[iy, ix]] += v.to_c64();
        }
        fft2_inplace(&mut hk);
        let mut spec = SpectralPlan::<T>::planned([fy, fx], [1.0, 1.0])?;
        spec.set_transfer_indexed(|p, q| hk[[p, q]], false);
        let row_src = (0..my.used)
            .map(|r| {
                if my.circular {
                    Source::Index(r)
                } else {
                    boundaries.y.source(r as isize - my.lo as isize, h)
                }
            })
            .collect();
        let col_src = (0..mx.used)
            .map(|c| {
                if mx.circular {
                    Source::Index(c)
                } else {
                    boundaries.x.source(c as isize - mx.lo as isize, w)
                }
            })
            .collect();
        let threads = rayon::current_num_threads().max(1);
        let tasks = ry.out.min(4 * threads).max(1);
        let rows_per_task = ry.out.div_ceil(tasks);
        let tasks = ry.out.div_ceil(rows_per_task);
        Ok(FftConv {
            spec,
            work: Array2::zeros((fy, fx)),
            my,
            mx,
            w,
            ry,
            rx,
            row_src,
            col_src,
            rows_per_task,
            staging: vec![(vec![T::zero(); rx.out], vec![T::zero(); rx.out]); tasks],
        })
    }

    /// Transform shape `(fy, fx)`.
    pub(crate) fn fft_shape(&self) -> [usize; 2] {
        [self.my.f, self.mx.f]
    }

    /// Number of parallel tasks of the output pass.
    pub(crate) fn tasks(&self) -> usize {
        self.staging.len()
    }

    /// Runs the plan; see [`crate::ConvPlan::apply_with`].
    pub(crate) fn apply_with<F>(
        &mut self,
        input: ArrayView2<'_, T>,
        mut output: ArrayViewMut2<'_, T>,
        epilogue: &F,
    ) where
        F: Fn(usize, &[T], &mut [T]) + Sync,
    {
        let (my, mx) = (self.my, self.mx);
        let (row_src, col_src) = (&self.row_src, &self.col_src);
        let w = self.w;
        // 1. Fill the work array: (padded) data, zeros elsewhere.
        self.work
            .axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(r, mut row)| {
                let dst = row
                    .as_slice_mut()
                    .expect("the work array is in standard layout");
                if r >= my.used {
                    dst.fill(T::zero());
                    return;
                }
                dst[mx.used..].fill(T::zero());
                let (i, neg) = match row_src[r] {
                    Source::Constant(v) => {
                        dst[..mx.used].fill(T::from_f64(v));
                        return;
                    }
                    Source::Index(i) => (i, false),
                    Source::Negated(i) => (i, true),
                };
                let src = input.row(i);
                let sgn = |v: T| if neg { -v } else { v };
                let lo = mx.lo;
                match src.as_slice() {
                    Some(sl) if !neg => dst[lo..lo + w].copy_from_slice(sl),
                    _ => {
                        for (d, v) in dst[lo..lo + w].iter_mut().zip(src.iter()) {
                            *d = sgn(*v);
                        }
                    }
                }
                for c in (0..lo).chain(lo + w..mx.used) {
                    dst[c] = match col_src[c] {
                        Source::Index(j) => sgn(src[j]),
                        Source::Negated(j) => -sgn(src[j]),
                        Source::Constant(v) => T::from_f64(v),
                    };
                }
            });
        // 2. Multiply by the kernel spectrum.
        self.spec.apply_inplace(self.work.view_mut());
        // 3. Read the (strided, possibly wrapped) outputs row by row.
        let (ry, rx) = (self.ry, self.rx);
        let work = &self.work;
        let rpt = self.rows_per_task;
        let contiguous = rx.stride == 1 && rx.out <= mx.f;
        output
            .axis_chunks_iter_mut(Axis(0), rpt)
            .into_par_iter()
            .zip(self.staging.par_iter_mut())
            .enumerate()
            .for_each(|(t, (mut chunk, stage))| {
                for (k, mut out_row) in chunk.outer_iter_mut().enumerate() {
                    let oy = t * rpt + k;
                    let wr = (oy * ry.stride) % my.f;
                    let src = work.row(wr);
                    let src = src.as_slice().expect("standard layout");
                    let (cbuf, obuf) = stage;
                    let conv: &[T] = if contiguous {
                        &src[..rx.out]
                    } else {
                        for (ox, d) in cbuf.iter_mut().enumerate() {
                            *d = src[(ox * rx.stride) % mx.f];
                        }
                        cbuf
                    };
                    if let Some(dst) = out_row.as_slice_mut() {
                        epilogue(oy, conv, dst);
                    } else {
                        // Strided output row: the epilogue reads and writes a contiguous copy.
                        for (d, o) in obuf.iter_mut().zip(out_row.iter()) {
                            *d = *o;
                        }
                        epilogue(oy, conv, obuf);
                        for (o, d) in out_row.iter_mut().zip(obuf.iter()) {
                            *o = *d;
                        }
                    }
                }
            });
    }
}

/// Unnormalised forward 2D DFT in place (plan-time use only: it allocates).
fn fft2_inplace(a: &mut Array2<Complex64>) {
    let (ny, nx) = a.dim();
    let mut planner = FftPlanner::<f64>::new();
    let fx = planner.plan_fft_forward(nx);
    let fy = planner.plan_fft_forward(ny);
    for mut row in a.axis_iter_mut(Axis(0)) {
        let mut v: Vec<Complex64> = row.iter().copied().collect();
        fx.process(&mut v);
        for (d, s) in row.iter_mut().zip(v) {
            *d = s;
        }
    }
    for mut col in a.axis_iter_mut(Axis(1)) {
        let mut v: Vec<Complex<f64>> = col.iter().copied().collect();
        fy.process(&mut v);
        for (d, s) in col.iter_mut().zip(v) {
            *d = s;
        }
    }
}

#[cfg(test)]
mod tests {
    // The FFT path against the definition, for every mode, geometry and type, is
    // `tests/oracle_fft.rs`.
    use super::next_fast_len;

    #[test]
    fn fast_lengths() {
        assert_eq!(next_fast_len(1, false), 1);
        assert_eq!(next_fast_len(11, false), 12);
        assert_eq!(next_fast_len(2110, false), 2160);
        assert_eq!(next_fast_len(13, true), 14);
        assert_eq!(next_fast_len(15, true), 16);
        assert_eq!(next_fast_len(127, false), 128);
    }
}
