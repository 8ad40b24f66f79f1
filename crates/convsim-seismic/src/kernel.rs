//! The fused leapfrog pass: `next = 2 cur - next + c2 * Lap(cur)` in one sweep over memory.
//!
//! The fields live on a padded layout (ghost cells of the stencil radius around the
//! computational region), so the interior loop has no boundary branches. Each row is processed
//! in blocks of `LANES` columns whose loads are fixed-size arrays: the compiler drops the bounds
//! checks and vectorises the block (AVX2 when the CPU has it, chosen once at run time).

use convsim_core::RealElement;
use rayon::prelude::*;

/// Columns per block of the row kernel.
const LANES: usize = 16;

/// Geometry of the padded arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Row stride (padded columns).
    pub(crate) stride: usize,
    /// Computational rows `[cy0, cy1)`.
    pub(crate) cy0: usize,
    pub(crate) cy1: usize,
    /// Computational columns `[cx0, cx1)`.
    pub(crate) cx0: usize,
    pub(crate) cx1: usize,
}

/// Stencil weights already divided by the squared spacings.
#[derive(Clone, Debug)]
pub(crate) struct Weights<T> {
    /// Centre weight (sum of both axes).
    pub(crate) w0: T,
    /// `wy[k]`: weight of the rows at distance `k + 1`.
    pub(crate) wy: Vec<T>,
    /// `wx[k]`: weight of the columns at distance `k + 1`.
    pub(crate) wx: Vec<T>,
}

/// `(v dt)^2`: one value, or one per padded sample.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Coef<'a, T> {
    Uniform(T),
    Field(&'a [T]),
}

/// One leapfrog step over the computational region (rows in parallel).
pub(crate) fn leapfrog<T: RealElement>(
    lay: Layout,
    w: &Weights<T>,
    c2: Coef<'_, T>,
    cur: &[T],
    next: &mut [T],
) {
    macro_rules! go {
        ($r:literal) => {
            leapfrog_r::<T, $r>(lay, w, c2, cur, next)
        };
    }
    match w.wy.len() {
        1 => go!(1),
        2 => go!(2),
        3 => go!(3),
        4 => go!(4),
        5 => go!(5),
        6 => go!(6),
        7 => go!(7),
        8 => go!(8),
        r => unreachable!("stencil radius {r} outside 1..=8 (checked at construction)"),
    }
}

fn leapfrog_r<T: RealElement, const R: usize>(
    lay: Layout,
    w: &Weights<T>,
    c2: Coef<'_, T>,
    cur: &[T],
    next: &mut [T],
) {
    let wy: [T; R] = std::array::from_fn(|k| w.wy[k]);
    let wx: [T; R] = std::array::from_fn(|k| w.wx[k]);
    let w0 = w.w0;
    let s = lay.stride;
    let avx2 = has_avx2();
    let (c2s, c2f) = match c2 {
        Coef::Uniform(v) => (v, None),
        Coef::Field(f) => (<T as num_traits::Zero>::zero(), Some(f)),
    };
    // One task per few rows; full rows stream well through the hardware prefetchers (column
    // strips keeping the 2R + 1 rows in L1, and 4-row register blocking, measured slower here).
    next[lay.cy0 * s..lay.cy1 * s]
        .par_chunks_mut(s)
        .with_min_len(4)
        .enumerate()
        .for_each(|(r, out)| {
            let i = lay.cy0 + r;
            let args = RowArgs {
                cur,
                i,
                s,
                c0: lay.cx0,
                c1: lay.cx1,
                wy: &wy,
                wx: &wx,
                w0,
                c2row: c2f.map(|f| &f[i * s..(i + 1) * s]),
                c2s,
            };
            if avx2 {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `has_avx2` checked at run time that the CPU supports AVX2 and FMA.
                unsafe {
                    row_avx2(&args, out);
                }
            } else {
                row_body::<T, R, false>(&args, out);
            }
        });
}

struct RowArgs<'a, T, const R: usize> {
    cur: &'a [T],
    i: usize,
    s: usize,
    c0: usize,
    c1: usize,
    wy: &'a [T; R],
    wx: &'a [T; R],
    w0: T,
    c2row: Option<&'a [T]>,
    c2s: T,
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn row_avx2<T: RealElement, const R: usize>(a: &RowArgs<'_, T, R>, out: &mut [T]) {
    row_body::<T, R, true>(a, out);
}

// Always inlined so the body is compiled again inside the AVX2 `target_feature` wrapper.
#[allow(clippy::inline_always)]
#[inline(always)]
fn row_body<T: RealElement, const R: usize, const FMA: bool>(a: &RowArgs<'_, T, R>, out: &mut [T]) {
    let (cur, i, s, c0) = (a.cur, a.i, a.s, a.c0);
    let n = a.c1 - c0;
    let base = i * s + c0;
    let ctr = &cur[base..base + n];
    let up: [&[T]; R] = std::array::from_fn(|k| &cur[base - (k + 1) * s..][..n]);
    let dn: [&[T]; R] = std::array::from_fn(|k| &cur[base + (k + 1) * s..][..n]);
    let lf: [&[T]; R] = std::array::from_fn(|k| &cur[base - (k + 1)..][..n]);
    let rt: [&[T]; R] = std::array::from_fn(|k| &cur[base + (k + 1)..][..n]);
    let o = &mut out[c0..a.c1];
    let c2row = a.c2row.map(|c| &c[c0..a.c1]);
    let nb = n / LANES * LANES;
    let blk = |sl: &[T], b: usize| -> [T; LANES] {
        let arr: &[T; LANES] = sl[b..b + LANES].try_into().expect("block in range");
        *arr
    };
    let mut b = 0;
    while b < nb {
        let cb = blk(ctr, b);
        // Two accumulators (y and x neighbours) halve the dependency chain of the sum.
        let mut ay = [<T as num_traits::Zero>::zero(); LANES];
        let mut ax = [<T as num_traits::Zero>::zero(); LANES];
        for t in 0..LANES {
            ay[t] = a.w0 * cb[t];
        }
        for k in 0..R {
            let (u, d, l, r) = (blk(up[k], b), blk(dn[k], b), blk(lf[k], b), blk(rt[k], b));
            let (wy, wx) = (a.wy[k], a.wx[k]);
            for t in 0..LANES {
                if FMA {
                    ay[t] = wy.mul_add(u[t] + d[t], ay[t]);
                    ax[t] = wx.mul_add(l[t] + r[t], ax[t]);
                } else {
                    ay[t] += wy * (u[t] + d[t]);
                    ax[t] += wx * (l[t] + r[t]);
                }
            }
        }
        let mut acc = [<T as num_traits::Zero>::zero(); LANES];
        for t in 0..LANES {
            acc[t] = ay[t] + ax[t];
        }
        let ob: &mut [T; LANES] = (&mut o[b..b + LANES]).try_into().expect("block in range");
        if let Some(c) = c2row {
            let cc = blk(c, b);
            for t in 0..LANES {
                ob[t] = cb[t] + cb[t] - ob[t] + cc[t] * acc[t];
            }
        } else {
            for t in 0..LANES {
                ob[t] = cb[t] + cb[t] - ob[t] + a.c2s * acc[t];
            }
        }
        b += LANES;
    }
    for j in nb..n {
        let mut ay = a.w0 * ctr[j];
        let mut ax = <T as num_traits::Zero>::zero();
        for k in 0..R {
            if FMA {
                ay = a.wy[k].mul_add(up[k][j] + dn[k][j], ay);
                ax = a.wx[k].mul_add(lf[k][j] + rt[k][j], ax);
            } else {
                ay += a.wy[k] * (up[k][j] + dn[k][j]);
                ax += a.wx[k] * (lf[k][j] + rt[k][j]);
            }
        }
        let acc = ay + ax;
        let c = c2row.map_or(a.c2s, |c| c[j]);
        o[j] = ctr[j] + ctr[j] - o[j] + c * acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convsim_core::{Boundaries, Boundary, Geometry, Orientation, reference, stencil};
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn fused_pass_matches_reference_convolution() {
        // Oracle: the core's naive convolution of the same Laplacian with Zero padding. The
        // fused pass reads zeros from the ghost cells, so it must agree to round-off (f64
        // sums of at most 33 terms of size ~1: 1e-12 is generous).
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for order in [2, 8, 16] {
            let r = order / 2;
            let (ny, nx) = (23, 37); // not multiples of LANES: exercises the scalar tail
            let (hy, hx) = (1.5, 0.75);
            let u = Array2::from_shape_fn((ny, nx), |_| rng.random_range(-1.0..1.0));
            let prev = Array2::from_shape_fn((ny, nx), |_| rng.random_range(-1.0..1.0));
            let c2 = Array2::from_shape_fn((ny, nx), |_| rng.random_range(0.1..0.3));
            let k = stencil::laplacian(order, hy, hx).unwrap();
            let lap = reference::conv2d(
                u.view(),
                &k.into(),
                &Boundaries::uniform(Boundary::Zero),
                Orientation::Correlate,
                &Geometry::same(),
            )
            .unwrap();
            let s = nx + 2 * r;
            let pad = |a: &Array2<f64>| {
                let mut v = vec![0.0; (ny + 2 * r) * s];
                for ((i, j), x) in a.indexed_iter() {
                    v[(i + r) * s + j + r] = *x;
                }
                v
            };
            let (cur, mut next, c2p) = (pad(&u), pad(&prev), pad(&c2));
            let w2 = stencil::central_weights(2, order).unwrap();
            let w = Weights {
                w0: w2[r] / (hy * hy) + w2[r] / (hx * hx),
                wy: (1..=r).map(|k| w2[r + k] / (hy * hy)).collect(),
                wx: (1..=r).map(|k| w2[r + k] / (hx * hx)).collect(),
            };
            let lay = Layout {
                stride: s,
                cy0: r,
                cy1: r + ny,
                cx0: r,
                cx1: r + nx,
            };
            leapfrog(lay, &w, Coef::Field(&c2p), &cur, &mut next);
            for i in 0..ny {
                for j in 0..nx {
                    let expect = 2.0 * u[[i, j]] - prev[[i, j]] + c2[[i, j]] * lap[[i, j]];
                    let got = next[(i + r) * s + j + r];
                    assert!(
                        (got - expect).abs() < 1e-12,
                        "order {order} ({i}, {j}): {got} vs {expect}"
                    );
                }
            }
        }
    }
}
