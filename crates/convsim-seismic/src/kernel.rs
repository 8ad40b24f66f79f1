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
            row(avx2, &args, out);
        });
}

/// How many steps [`leapfrog_fused`] fuses per sweep for stencil radius `r` and `row_bytes`
/// bytes per padded row: as many as keep the wavefront's rows of both fields (about
/// `(k + 1) r + 1` each) within `L2_BUDGET`, at most `MAX_FUSED`.
pub(crate) fn fused_depth(r: usize, row_bytes: usize) -> usize {
    // Half of a typical 512 KiB per-core L2: the rows behind the wavefront must not be evicted
    // before the later steps reread them.
    const L2_BUDGET: usize = 256 * 1024;
    // Past this the traffic saved per sweep (4 / k fields per step instead of 3) is small and
    // the seams (k (k - 1) r rows each) grow.
    const MAX_FUSED: usize = 8;
    let rows = L2_BUDGET / (2 * row_bytes.max(1));
    (rows.saturating_sub(1) / r.max(1))
        .saturating_sub(1)
        .clamp(1, MAX_FUSED)
}

/// `k` leapfrog steps in one sweep over memory (temporal blocking), in place on the two
/// fields: on entry `a` = p^n and `b` = p^(n-1); step `t` (1-based) overwrites p^(n+t-2) with
/// p^(n+t), in `b` for odd `t` and `a` for even `t`. So on exit the newest field p^(n+k) is in
/// `b` if `k` is odd (the caller swaps) and in `a` if even, the other field holding p^(n+k-1).
///
/// Every point is computed by the same row kernel from the same values as by `k` calls of
/// [`leapfrog`], so the result is bitwise identical for any thread count. Only valid when
/// nothing happens between the steps: the ghost cells of both fields hold zeros throughout
/// (zero boundaries; no mirrors, layers, sources or recordings in between).
///
/// Schedule: row `i` of step `t` needs rows `i - R ..= i + R` of step `t - 1`, so within a band
/// of rows step `t` trails step `t - 1` by `R` rows and all `k` steps advance together while
/// their rows are still in cache. Bands run in parallel as trapezoids (step `t` on the band's
/// rows shrunk by `(t - 1) R` at each inner edge, so a band writes only its own rows and
/// reads its neighbour's rows only at step 1, where the neighbour never writes them); then the
/// inverted triangles at the seams (step `t` on `(t - 1) R` rows either side) are filled in.
pub(crate) fn leapfrog_fused<T: RealElement>(
    lay: Layout,
    w: &Weights<T>,
    c2: Coef<'_, T>,
    k: usize,
    a: &mut [T],
    b: &mut [T],
) {
    macro_rules! go {
        ($r:literal) => {
            leapfrog_fused_r::<T, $r>(lay, w, c2, k, a, b)
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

/// A field shared by the tasks of [`leapfrog_fused`], which by its schedule never write a row
/// that another task reads or writes at the same time.
#[derive(Clone, Copy)]
struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: the schedule of `leapfrog_fused_r` makes concurrent accesses disjoint (see there).
unsafe impl<T: Send + Sync> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn new(v: &mut [T]) -> Self {
        Self {
            ptr: v.as_mut_ptr(),
            len: v.len(),
        }
    }

    /// # Safety
    /// Nobody writes `[at, at + n)` while the slice lives.
    unsafe fn get<'a>(self, at: usize, n: usize) -> &'a [T] {
        assert!(at + n <= self.len, "row window inside the field");
        // SAFETY: in bounds (checked); no concurrent writer (caller).
        unsafe { std::slice::from_raw_parts(self.ptr.add(at), n) }
    }

    /// # Safety
    /// Nobody else reads or writes `[at, at + n)` while the slice lives.
    unsafe fn get_mut<'a>(self, at: usize, n: usize) -> &'a mut [T] {
        assert!(at + n <= self.len, "row inside the field");
        // SAFETY: in bounds (checked); exclusive (caller).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(at), n) }
    }
}

fn leapfrog_fused_r<T: RealElement, const R: usize>(
    lay: Layout,
    w: &Weights<T>,
    c2: Coef<'_, T>,
    k: usize,
    a: &mut [T],
    b: &mut [T],
) {
    assert!(k >= 1, "at least one step");
    assert_eq!(a.len(), b.len(), "fields of one layout");
    let wy: [T; R] = std::array::from_fn(|q| w.wy[q]);
    let wx: [T; R] = std::array::from_fn(|q| w.wx[q]);
    let w0 = w.w0;
    let s = lay.stride;
    let avx2 = has_avx2();
    let (c2s, c2f) = match c2 {
        Coef::Uniform(v) => (v, None),
        Coef::Field(f) => (<T as num_traits::Zero>::zero(), Some(f)),
    };
    let (y0, ny) = (lay.cy0, lay.cy1 - lay.cy0);
    assert!(
        y0 >= R && (lay.cy1 + R) * s <= a.len(),
        "ghost rows present"
    );
    // Step `t` writes fields[t % 2] and reads fields[(t + 1) % 2].
    let fields = [Shared::new(a), Shared::new(b)];
    let step_row = |t: usize, i: usize| {
        let (src, dst) = (fields[(t + 1) % 2], fields[t % 2]);
        // SAFETY: by the schedule below, while step `t` computes row `i`, no task writes rows
        // `i - R ..= i + R` of the source field nor touches row `i` of the destination.
        let (win, out) = unsafe { (src.get((i - R) * s, (2 * R + 1) * s), dst.get_mut(i * s, s)) };
        let args = RowArgs {
            cur: win,
            i: R,
            s,
            c0: lay.cx0,
            c1: lay.cx1,
            wy: &wy,
            wx: &wx,
            w0,
            c2row: c2f.map(|f| &f[i * s..(i + 1) * s]),
            c2s,
        };
        row(avx2, &args, out);
    };
    // Bands of at least 2 k R rows, so the seams' triangles (reading (t R) rows either side of
    // a seam) never meet; a few per thread to even out a busy machine.
    let nb = (ny / (2 * k * R)).clamp(1, 2 * rayon::current_num_threads());
    let band = |q: usize| (y0 + ny * q / nb, y0 + ny * (q + 1) / nb);
    (0..nb).into_par_iter().for_each(|q| {
        let (start, end) = band(q);
        let (first, last) = (q == 0, q + 1 == nb);
        // Wavefront: at position `p`, step `t` computes row `p - (t - 1) R` if in its range.
        for p in start..end + (k - 1) * R {
            for t in 1..=k {
                let lag = (t - 1) * R;
                let Some(i) = p.checked_sub(lag) else { break };
                let lo = if first { start } else { start + lag };
                let hi = if last { end } else { end - lag };
                if (lo..hi).contains(&i) {
                    step_row(t, i);
                }
            }
        }
    });
    (1..nb).into_par_iter().for_each(|q| {
        let m = band(q).0;
        for t in 2..=k {
            let lag = (t - 1) * R;
            for i in m - lag..m + lag {
                step_row(t, i);
            }
        }
    });
}

/// One row of the leapfrog with the code path chosen once per pass.
#[allow(clippy::inline_always)]
#[inline(always)]
fn row<T: RealElement, const R: usize>(avx2: bool, args: &RowArgs<'_, T, R>, out: &mut [T]) {
    if avx2 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `has_avx2` checked at run time that the CPU supports AVX2 and FMA.
        unsafe {
            row_avx2(args, out);
        }
    } else {
        row_body::<T, R, false>(args, out);
    }
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

    #[test]
    fn fused_steps_are_bitwise_the_repeated_pass() {
        // Oracle: `k` calls of the plain pass. The fused sweep computes every point with the
        // same row kernel from the same values, so f32 results must agree bit for bit, for any
        // thread count (1 thread: one band; 2 and 3: several bands and seams).
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for (order, k) in [(2, 7), (8, 2), (8, 3), (16, 4)] {
            let r = order / 2;
            let (ny, nx) = (6 * k * r + 5, 37); // several bands of >= 2 k r rows
            let s = nx + 2 * r;
            let size = (ny + 2 * r) * s;
            let interior =
                |q: usize| (r..r + ny).contains(&(q / s)) && (r..r + nx).contains(&(q % s));
            let mut field = |lo: f32, hi: f32| -> Vec<f32> {
                (0..size)
                    .map(|q| {
                        let v = rng.random_range(lo..hi);
                        if interior(q) { v } else { 0.0 }
                    })
                    .collect()
            };
            let (a0, b0, c2) = (field(-1.0, 1.0), field(-1.0, 1.0), field(0.05, 0.15));
            let w2 = stencil::central_weights(2, order).unwrap();
            let w = Weights {
                w0: (w2[r] * 2.0) as f32,
                wy: (1..=r).map(|q| w2[r + q] as f32).collect(),
                wx: (1..=r).map(|q| w2[r + q] as f32).collect(),
            };
            let lay = Layout {
                stride: s,
                cy0: r,
                cy1: r + ny,
                cx0: r,
                cx1: r + nx,
            };
            for coef in [Coef::Uniform(0.1_f32), Coef::Field(&c2)] {
                let (mut cur, mut prev) = (a0.clone(), b0.clone());
                for _ in 0..k {
                    leapfrog(lay, &w, coef, &cur, &mut prev);
                    std::mem::swap(&mut cur, &mut prev);
                }
                for threads in [1, 2, 3] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let (mut a, mut b) = (a0.clone(), b0.clone());
                    pool.install(|| leapfrog_fused(lay, &w, coef, k, &mut a, &mut b));
                    let (new, old) = if k % 2 == 1 { (&b, &a) } else { (&a, &b) };
                    assert!(
                        new.iter()
                            .zip(&cur)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "order {order} k {k} threads {threads}: newest field differs"
                    );
                    assert!(
                        old.iter()
                            .zip(&prev)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "order {order} k {k} threads {threads}: previous field differs"
                    );
                }
            }
        }
    }

    #[test]
    fn fused_depth_fits_the_cache_budget() {
        // 2000 f32 columns (8 KB rows): radius 1 fuses the maximum, radius 4 a few steps.
        assert_eq!(fused_depth(1, 8008), 8);
        let k = fused_depth(4, 8032);
        assert!((2..8).contains(&k), "{k}");
        // Rows too wide for the budget: no fusion.
        assert_eq!(fused_depth(8, 1 << 20), 1);
    }
}
