//! Exactly rounded sums that do not depend on the order of the terms.
//!
//! A diagnostic summed over a field (a mass, a squared norm) must be the same number whether
//! one process sums the whole grid or each tile of a distributed run sums its own part and
//! the parts are combined: any plain or compensated running sum depends on the order of the
//! terms. [`ExactSum`] keeps the sum exactly and rounds once at the end, so the result is the
//! correctly rounded exact sum, whatever the order or the grouping.
//!
//! The sum is held in fixed point (Neal's superaccumulators, arXiv:1505.05571): every finite
//! double is an integer multiple of `2^-1074` below `2^1024`, so 67 signed 64-bit limbs of 32
//! bits each, `limb[k]` weighing `2^(32 k - 1074)`, hold any sum exactly; the 31 spare bits of
//! each limb absorb the carries of 2^30 additions before they are propagated. In front of them,
//! a term only adds its signed significand to an integer bin of its exponent, and every 1024
//! terms the bins in use move into the limbs. That is about a nanosecond per term whatever the
//! terms (the list of partials of Shewchuk's algorithm, used before, grew to dozens on a smooth
//! field's squares and cost 150 ns per term: 0.6 s per diagnostic frame of a 2048^2 diffusion
//! run).
//!
//! With AVX-512F, slices ([`ExactSum::add_slice`], [`ExactSum::add_squares`]) take a vector
//! path instead: eight lanes, each holding the band of 32 exponents it is summing (the band of
//! a limb) and two integer accumulators for the parts of its terms that fall on that limb and
//! the next. A term whose band is its lane's band (nearly every term of a field: neighbouring
//! values are within a factor of `2^32` of each other) costs a few integer vector operations;
//! a term from another band first moves its lane's accumulators into the limbs. Every path
//! adds the same exact integers, so the result does not depend on which one ran.

/// Limbs: `ceil((2098 + 1) / 32)` for the bits of the largest finite double, plus room for
/// sums up to `2^(32 * 67 - 1074)` (past the largest double, which rounds to infinity).
const LIMBS: usize = 67;
/// Additions between two carry propagations (each moves less than `2^32` into a limb); the
/// tests propagate often, so that their streams exercise it.
const CARRY_EVERY: u32 = if cfg!(test) { 1 << 10 } else { 1 << 30 };

use crate::simd::{Isa, Simd};

/// The exact sum of the values added so far (see the [module docs](self)).
///
/// ```
/// use convsim_core::sum::ExactSum;
/// let xs = [1e16, 1.0, -1e16, 1e-3];
/// let mut whole = ExactSum::default();
/// xs.iter().for_each(|&x| whole.add(x));
/// let (mut a, mut b) = (ExactSum::default(), ExactSum::default());
/// a.add(xs[2]);
/// a.add(xs[0]);
/// b.add(xs[3]);
/// b.add(xs[1]);
/// a.merge(&b.partials());
/// assert_eq!(whole.value(), 1.001);
/// assert_eq!(a.value(), whole.value());
/// ```
#[derive(Clone)]
pub struct ExactSum {
    /// `sum = sum_k limbs[k] 2^(32 k - 1074) + sum_e bins[e] 2^(max(e, 1) - 1075)` (boxed: a
    /// sum is a value that is moved around, e.g. in [`crate::Partial`]).
    limbs: Box<[i64; LIMBS]>,
    /// Additions into `limbs` since the carries were last propagated.
    pending: u32,
    /// The terms added since the bins were last moved into `limbs`, by biased exponent.
    bins: Box<Bins>,
    /// Sum of the non-finite terms: it decides the result when it is not zero.
    special: f64,
    /// The instruction set of the slice path ([`Isa::detect_up_to`] when the sum is made).
    isa: Isa,
}

/// Neal's "large superaccumulator" in front of the limbs: a term only adds its signed 53-bit
/// significand to the bin of its exponent (one integer addition); every [`BIN_TERMS`] terms
/// the bins in use are moved into the limbs. A bin takes `BIN_TERMS` significands below
/// `2^53` without passing `2^63`.
#[derive(Clone)]
struct Bins {
    v: [i64; 2048],
    /// Which bins are non-zero (one bit each).
    used: [u64; 32],
    /// Terms since the last move.
    n: u32,
}

/// Terms between two moves of the bins into the limbs.
const BIN_TERMS: u32 = 1024;

impl Default for ExactSum {
    fn default() -> Self {
        Self {
            limbs: Box::new([0; LIMBS]),
            pending: 0,
            bins: Box::new(Bins {
                v: [0; 2048],
                used: [0; 32],
                n: 0,
            }),
            special: 0.0,
            isa: Isa::detect_up_to(Simd::Best),
        }
    }
}

impl PartialEq for ExactSum {
    /// Equal exact sums (and equal non-finite parts), however they were accumulated.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.settled(), other.settled());
        a.limbs == b.limbs && self.special.to_bits() == other.special.to_bits()
    }
}

impl std::fmt::Debug for ExactSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactSum")
            .field("value", &self.value())
            .field("special", &self.special)
            .finish_non_exhaustive()
    }
}

impl ExactSum {
    /// Adds `x` exactly. Allocates nothing.
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.add_mapped(std::slice::from_ref(&x), |v| v);
    }

    /// An empty sum whose slice path uses at most `simd` (the default is [`Simd::Best`]; every
    /// choice gives the same bits, [`Simd::Portable`] is for comparisons).
    #[must_use]
    pub fn with_simd(simd: Simd) -> Self {
        Self {
            isa: Isa::detect_up_to(simd),
            ..Self::default()
        }
    }

    /// Adds every value of `xs` exactly (the vector path of the [module docs](self)).
    pub fn add_slice(&mut self, xs: &[f64]) {
        self.add_lanes::<false>(xs);
    }

    /// Adds the square of every value of `xs` (each square rounded to a double, then summed
    /// exactly).
    pub fn add_squares(&mut self, xs: &[f64]) {
        self.add_lanes::<true>(xs);
    }

    /// The slice path where the stored instruction set is AVX-512F (in scalar code the lanes
    /// were slower than the bins: no AVX2 or portable variant); the last `xs.len() % LANES`
    /// terms, and every term elsewhere, go through the bins.
    fn add_lanes<const SQUARE: bool>(&mut self, xs: &[f64]) {
        #[cfg(target_arch = "x86_64")]
        let rest = if self.isa == Isa::Avx512 {
            let whole = xs.len() - xs.len() % LANES;
            // SAFETY: `isa` came from `Isa::detect_up_to`, which returns `Avx512` only after
            // detecting AVX-512F on the running CPU.
            unsafe { lanes_avx512::<SQUARE>(self, &xs[..whole]) };
            &xs[whole..]
        } else {
            xs
        };
        #[cfg(not(target_arch = "x86_64"))]
        let rest = xs;
        if SQUARE {
            self.add_mapped(rest, |v| v * v);
        } else {
            self.add_mapped(rest, |v| v);
        }
    }

    #[inline]
    fn add_mapped(&mut self, xs: &[f64], f: impl Fn(f64) -> f64) {
        let mut n = self.bins.n;
        for &x in xs {
            let x = f(x);
            if !x.is_finite() {
                self.special += x;
                continue;
            }
            let bits = x.to_bits();
            let e = ((bits >> 52) & 0x7ff) as usize;
            // The significand with its hidden bit (none for subnormals), signed.
            let m = ((bits & ((1 << 52) - 1)) | (u64::from(e != 0) << 52)) as i64;
            let b = &mut *self.bins;
            let slot = &mut b.v[e];
            if *slot == 0 {
                b.used[e / 64] |= 1 << (e % 64);
            }
            *slot += if bits >> 63 == 0 { m } else { -m };
            n += 1;
            if n == BIN_TERMS {
                self.bins.n = n;
                self.empty_bins();
                n = 0;
            }
        }
        self.bins.n = n;
    }

    /// Moves the bins into the limbs.
    fn empty_bins(&mut self) {
        for w in 0..32 {
            let mut bits = self.bins.used[w];
            while bits != 0 {
                let e = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let v = std::mem::take(&mut self.bins.v[e]);
                // The lowest bit of a normal double with biased exponent `e` weighs
                // 2^(e - 1075), position e - 1 above 2^-1074; subnormals are at position 0.
                self.add_fixed(v, e.saturating_sub(1));
            }
            self.bins.used[w] = 0;
        }
        self.bins.n = 0;
    }

    /// Adds `v * 2^(pos - 1074)` into the limbs (`|v| < 2^63`).
    fn add_fixed(&mut self, v: i64, pos: usize) {
        if v == 0 {
            return;
        }
        let (k, sh) = (pos / 32, pos % 32);
        let w = u128::from(v.unsigned_abs()) << sh;
        // Each chunk is below 2^32, so `as i64` is exact.
        let c = [
            (w & 0xffff_ffff) as i64,
            ((w >> 32) & 0xffff_ffff) as i64,
            (w >> 64) as i64,
        ];
        let l = &mut self.limbs[k..k + 3];
        if v < 0 {
            for (a, b) in l.iter_mut().zip(c) {
                *a -= b;
            }
        } else {
            for (a, b) in l.iter_mut().zip(c) {
                *a += b;
            }
        }
        self.pending += 1;
        if self.pending == CARRY_EVERY {
            self.carry();
        }
    }

    /// A copy with the bins moved into the limbs and the carries propagated.
    fn settled(&self) -> ExactSum {
        let mut n = self.clone();
        n.empty_bins();
        n.carry();
        n
    }

    /// Adds another exact sum.
    pub fn add_sum(&mut self, other: &ExactSum) {
        self.empty_bins();
        self.carry();
        let o = other.settled();
        for (a, b) in self.limbs.iter_mut().zip(o.limbs.iter()) {
            *a += b;
        }
        self.pending = 1;
        self.special += other.special;
    }

    /// Adds the partials of another sum (or any list of values) exactly.
    pub fn merge(&mut self, partials: &[f64]) {
        self.add_slice(partials);
    }

    /// Adds every value of an iterator.
    pub fn extend(&mut self, values: impl IntoIterator<Item = f64>) {
        for v in values {
            self.add(v);
        }
    }

    /// Forgets every term.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Propagates the carries: every limb but the last in `[0, 2^32)`, the last signed.
    fn carry(&mut self) {
        for k in 0..LIMBS - 1 {
            let c = self.limbs[k] >> 32;
            self.limbs[k] -= c << 32;
            self.limbs[k + 1] += c;
        }
        self.pending = 0;
    }

    /// A few doubles whose exact sum is the sum (the non-finite terms are not in them, see
    /// [`ExactSum::special`]); [`ExactSum::merge`] adds them to another sum exactly. Sums
    /// past the largest double give infinite partials.
    #[must_use]
    pub fn partials(&self) -> Vec<f64> {
        let (n, negative) = self.magnitude();
        let sign = if negative { -1 } else { 1 };
        n.limbs
            .iter()
            .enumerate()
            .filter(|&(_, &l)| l != 0)
            .map(|(k, &l)| scaled(sign * l, 32 * k as i32 - 1074))
            .collect()
    }

    /// The sum's magnitude with every limb in `[0, 2^32)` (the last one possibly larger,
    /// past any double), and whether the sum is negative.
    fn magnitude(&self) -> (ExactSum, bool) {
        let mut n = self.settled();
        let negative = n.limbs[LIMBS - 1] < 0;
        if negative {
            // Negate every limb and propagate again: the top limb turns non-negative, the
            // others come back into [0, 2^32).
            for l in n.limbs.iter_mut() {
                *l = -*l;
            }
            n.carry();
        }
        (n, negative)
    }

    /// Sum of the non-finite terms (0 when there were none).
    #[must_use]
    pub fn special(&self) -> f64 {
        self.special
    }

    /// The exact sum rounded to the nearest double (ties to even); NaN or an infinity if a
    /// term was one or the sum is past the largest double.
    #[must_use]
    pub fn value(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
        let (n, negative) = self.magnitude();
        let Some(h) = n.limbs.iter().rposition(|&l| l != 0) else {
            return 0.0;
        };
        // Only the top limb can pass 2^32 (after the last carry), and only for sums past any
        // double.
        if n.limbs[h] >= 1 << 32 {
            return if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
        }
        // The top three limbs (96 bits, each in [0, 2^32)) and whether anything below is
        // non-zero.
        let base = h.saturating_sub(2);
        let mut mag: u128 = 0;
        for k in (base..=h).rev() {
            mag = (mag << 32) | u128::from(n.limbs[k] as u64);
        }
        let sticky = n.limbs[..base].iter().any(|&l| l != 0);
        let lo = 32 * base; // global position of mag's bit 0
        let msb = lo + 127 - mag.leading_zeros() as usize;
        // Keep 53 bits from the top, or down to position 0 (subnormals).
        let keep = msb.saturating_sub(52);
        let cut = keep - lo;
        let mut q = mag >> cut;
        if cut > 0 {
            let rem = mag & ((1u128 << cut) - 1);
            let half = 1u128 << (cut - 1);
            if rem > half || (rem == half && (sticky || q & 1 == 1)) {
                q += 1;
            }
        }
        // q < 2^54 now; build the double from its bits (exact, independent of the thread's
        // floating-point mode).
        let (mut q, mut keep) = (q as u64, keep);
        if q >> 53 != 0 {
            q >>= 1;
            keep += 1;
        }
        let bits = if q >> 52 == 0 {
            // Subnormal (keep == 0) or zero.
            q
        } else {
            let e = keep + 1;
            if e >= 0x7ff {
                return if negative {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                };
            }
            ((e as u64) << 52) | (q & ((1 << 52) - 1))
        };
        let v = f64::from_bits(bits);
        if negative { -v } else { v }
    }
}

/// Lanes of the slice path: one 512-bit vector of 64-bit integers.
#[cfg(target_arch = "x86_64")]
const LANES: usize = 8;
/// Terms a lane takes before its accumulators move into the limbs: each adds less than `2^52`
/// to its `hi` accumulator, so 1024 of them stay below `2^62`.
#[cfg(target_arch = "x86_64")]
const LANE_TERMS: u32 = 1024;

/// Moves a lane's accumulators of band `band` into the limbs.
#[cfg(target_arch = "x86_64")]
fn lane_out(sum: &mut ExactSum, band: u64, lo: i64, hi: i64) {
    let pos = 32 * band as usize;
    sum.add_fixed(lo, pos);
    sum.add_fixed(hi, pos + 32);
}

/// The slice path (see the [module docs](self)) over `xs` (a multiple of [`LANES`] long).
///
/// Term `x = (-1)^s m 2^(p - 1074)` (`m` the significand with its hidden bit, `p = max(e, 1) - 1`
/// for the biased exponent `e`) lies on limb `p / 32`: `m 2^(p % 32)`, below `2^85`, is split
/// into its low 32 bits (weight of limb `p / 32`) and the rest (weight of the next limb); lane
/// `j` takes terms `j, j + 8, ...`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn lanes_avx512<const SQUARE: bool>(sum: &mut ExactSum, xs: &[f64]) {
    use std::arch::x86_64::{
        __m512i, _mm512_add_epi64, _mm512_and_si512, _mm512_castpd_si512, _mm512_cmplt_epi64_mask,
        _mm512_cmpneq_epi64_mask, _mm512_loadu_epi64, _mm512_loadu_pd, _mm512_mask_or_epi64,
        _mm512_mask_sub_epi64, _mm512_maskz_and_epi64, _mm512_maskz_srlv_epi64, _mm512_max_epu64,
        _mm512_mul_pd, _mm512_set1_epi64, _mm512_setzero_si512, _mm512_sllv_epi64,
        _mm512_srli_epi64, _mm512_storeu_epi64, _mm512_sub_epi64,
    };
    let zero = _mm512_setzero_si512();
    let one = _mm512_set1_epi64(1);
    let exp_max = _mm512_set1_epi64(0x7ff);
    let frac_mask = _mm512_set1_epi64((1 << 52) - 1);
    let hidden = _mm512_set1_epi64(1 << 52);
    let (c31, c32, low32) = (
        _mm512_set1_epi64(31),
        _mm512_set1_epi64(32),
        _mm512_set1_epi64(0xffff_ffff),
    );
    let (mut band, mut acc_lo, mut acc_hi) = (zero, zero, zero);
    let store = |v: __m512i| {
        let mut a = [0i64; LANES];
        // SAFETY: `a` holds 8 i64, the 64 bytes the store writes.
        unsafe { _mm512_storeu_epi64(a.as_mut_ptr(), v) };
        a
    };
    // SAFETY: the array holds the 8 i64 the load reads.
    let load = |a: &[i64; LANES]| unsafe { _mm512_loadu_epi64(a.as_ptr()) };
    let mut n = 0;
    for chunk in xs.chunks_exact(LANES) {
        // SAFETY: `chunk` holds the 8 doubles the load reads.
        let x = unsafe { _mm512_loadu_pd(chunk.as_ptr()) };
        let x = if SQUARE { _mm512_mul_pd(x, x) } else { x };
        let bits = _mm512_castpd_si512(x);
        let e = _mm512_and_si512(_mm512_srli_epi64::<52>(bits), exp_max);
        let frac = _mm512_and_si512(bits, frac_mask);
        let m = _mm512_mask_or_epi64(frac, _mm512_cmpneq_epi64_mask(e, zero), frac, hidden);
        let p = _mm512_sub_epi64(_mm512_max_epu64(e, one), one);
        let sh = _mm512_and_si512(p, c31);
        let b = _mm512_srli_epi64::<5>(p);
        let finite = _mm512_cmpneq_epi64_mask(e, exp_max);
        let lo = _mm512_maskz_and_epi64(finite, _mm512_sllv_epi64(m, sh), low32);
        let hi = _mm512_maskz_srlv_epi64(finite, m, _mm512_sub_epi64(c32, sh));
        let other =
            !finite | (_mm512_cmpneq_epi64_mask(b, band) & _mm512_cmpneq_epi64_mask(m, zero));
        if other != 0 {
            let (mut bd, mut al, mut ah, bb) =
                (store(band), store(acc_lo), store(acc_hi), store(b));
            for j in (0..LANES).filter(|j| other >> j & 1 == 1) {
                if finite >> j & 1 == 0 {
                    sum.special += if SQUARE {
                        chunk[j] * chunk[j]
                    } else {
                        chunk[j]
                    };
                } else {
                    lane_out(sum, bd[j] as u64, al[j], ah[j]);
                    (bd[j], al[j], ah[j]) = (bb[j], 0, 0);
                }
            }
            (band, acc_lo, acc_hi) = (load(&bd), load(&al), load(&ah));
        }
        let neg = _mm512_cmplt_epi64_mask(bits, zero);
        acc_lo = _mm512_mask_sub_epi64(_mm512_add_epi64(acc_lo, lo), neg, acc_lo, lo);
        acc_hi = _mm512_mask_sub_epi64(_mm512_add_epi64(acc_hi, hi), neg, acc_hi, hi);
        n += 1;
        if n == LANE_TERMS {
            let (bd, al, ah) = (store(band), store(acc_lo), store(acc_hi));
            for j in 0..LANES {
                lane_out(sum, bd[j] as u64, al[j], ah[j]);
            }
            (acc_lo, acc_hi) = (zero, zero);
            n = 0;
        }
    }
    let (bd, al, ah) = (store(band), store(acc_lo), store(acc_hi));
    for j in 0..LANES {
        lane_out(sum, bd[j] as u64, al[j], ah[j]);
    }
}

/// `l * 2^e` for `|l| < 2^53`, exact where the result is representable (built from the bits
/// of the power of two, so a flush-to-zero thread mode cannot change it).
fn scaled(l: i64, e: i32) -> f64 {
    // Split the power so each factor is a normal double: 2^e = 2^(e - f) * 2^f.
    let pow2 = |p: i32| f64::from_bits(((p + 1023) as u64) << 52);
    let f = e.clamp(-1022, 1023);
    let v = (l as f64) * pow2(f);
    let rest = e - f;
    if rest == 0 {
        v
    } else {
        v * pow2(rest.clamp(-1022, 1023))
    }
}

#[cfg(test)]
mod tests {
    use super::ExactSum;

    /// Shewchuk's exact summation (Python's `math.fsum`): the oracle of the fixed-point sum.
    #[derive(Default)]
    struct Fsum {
        partials: Vec<f64>,
    }

    impl Fsum {
        fn add(&mut self, mut x: f64) {
            let mut i = 0;
            for k in 0..self.partials.len() {
                let mut y = self.partials[k];
                if x.abs() < y.abs() {
                    std::mem::swap(&mut x, &mut y);
                }
                let hi = x + y;
                let lo = y - (hi - x);
                if lo != 0.0 {
                    self.partials[i] = lo;
                    i += 1;
                }
                x = hi;
            }
            self.partials.truncate(i);
            self.partials.push(x);
        }

        fn value(&self) -> f64 {
            let p = &self.partials;
            let mut n = p.len();
            if n == 0 {
                return 0.0;
            }
            n -= 1;
            let mut hi = p[n];
            let mut lo = 0.0;
            while n > 0 {
                let x = hi;
                n -= 1;
                let y = p[n];
                hi = x + y;
                lo = y - (hi - x);
                if lo != 0.0 {
                    break;
                }
            }
            if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
                let y = lo * 2.0;
                let x = hi + y;
                if y == x - hi {
                    hi = x;
                }
            }
            hi
        }
    }

    #[test]
    fn equals_shewchuks_exact_sum_on_every_kind_of_term() {
        // Streams of terms spanning the whole range (subnormals, 1e300, cancellations), as
        // xorshift draws: the fixed-point sum must round exactly as Shewchuk's does, and its
        // partials must carry the same exact sum into another accumulator.
        for (seed, span) in [(1u64, 40), (2, 400), (3, 2000), (4, 8), (5, 1100)] {
            let mut st = seed;
            let mut next = || {
                st ^= st << 13;
                st ^= st >> 7;
                st ^= st << 17;
                st
            };
            let terms: Vec<f64> = (0..3000)
                .map(|_| {
                    let r = next();
                    let m = (r >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                    let e = ((r >> 3) % span) as i32 - (span as i32) / 2;
                    let v = m * 2f64.powi(e.clamp(-1074, 1000));
                    if r % 7 == 0 {
                        f64::from_bits(r >> 12)
                    } else {
                        v
                    }
                })
                .filter(|v| v.is_finite() && v.abs() < 1e300)
                .collect();
            for n in [1, 2, 17, terms.len()] {
                let (mut a, mut b) = (ExactSum::default(), Fsum::default());
                for &t in &terms[..n] {
                    a.add(t);
                    b.add(t);
                }
                assert_eq!(
                    a.value().to_bits(),
                    b.value().to_bits(),
                    "seed {seed} n {n}"
                );
                let mut c = ExactSum::default();
                c.merge(&a.partials());
                assert_eq!(
                    c.value().to_bits(),
                    a.value().to_bits(),
                    "partials {seed} {n}"
                );
                let mut d = ExactSum::default();
                d.add_sum(&a);
                d.add_sum(&c);
                let mut e = Fsum::default();
                terms[..n].iter().chain(&terms[..n]).for_each(|&t| e.add(t));
                assert_eq!(
                    d.value().to_bits(),
                    e.value().to_bits(),
                    "add_sum {seed} {n}"
                );
            }
        }
    }

    #[test]
    fn negative_subnormal_and_huge_sums_round_exactly() {
        let tiny = f64::from_bits(1); // 2^-1074
        let mut s = ExactSum::default();
        s.extend([tiny, tiny, -tiny * 5.0]);
        assert_eq!(s.value(), -3.0 * tiny);
        let mut h = ExactSum::default();
        h.extend([f64::MAX, f64::MAX, -f64::MAX]);
        assert_eq!(h.value(), f64::MAX, "exact, not overflowed on the way");
        let mut n = ExactSum::default();
        n.extend([-f64::MAX, -f64::MAX]);
        assert_eq!(n.value(), f64::NEG_INFINITY);
        let mut z = ExactSum::default();
        z.extend([1.5, -1.5]);
        assert_eq!(z.value().to_bits(), 0.0_f64.to_bits());
        assert!(z.partials().is_empty());
        // Many terms into the same limbs (their carries pile up in the spare bits).
        let mut c = ExactSum::default();
        let mut f = Fsum::default();
        for k in 0..3_000_000 {
            let t = if k % 3 == 0 {
                -0.1
            } else {
                0.1 + 1e-9 * f64::from(k % 5)
            };
            c.add(t);
            f.add(t);
        }
        assert_eq!(c.value().to_bits(), f.value().to_bits());
    }

    /// A seeded xorshift stream of doubles of wildly different magnitudes and signs.
    fn values(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let m = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                let e = ((s >> 3) % 80) as i32 - 40;
                m * 2f64.powi(e)
            })
            .collect()
    }

    #[test]
    fn the_slice_path_equals_shewchuks_sum_on_every_instruction_set() {
        use crate::simd::Simd;
        // Streams that move the lanes between bands often (wild magnitudes, subnormals), rarely
        // (a smooth field and its squares: the path a diagnostic takes), and past the lanes'
        // 1024-term flush; zeros of both signs in between; lengths not a multiple of 8.
        let smooth: Vec<f64> = (0..20_011)
            .map(|i| (-(f64::from(i) * 3e-4 - 3.0).powi(2)).exp() * 1.7)
            .collect();
        let mut wild = values(11, 9001);
        for (k, v) in wild.iter_mut().enumerate() {
            match k % 97 {
                0 => *v = 0.0,
                1 => *v = -0.0,
                2 => *v = f64::from_bits(k as u64 * 7919), // subnormal
                3 => *v = -1e100,
                _ => {}
            }
        }
        let mixed: Vec<f64> = smooth.iter().zip(&wild).map(|(a, b)| a - b).collect();
        // The largest part a term puts on the upper limb (all 53 bits shifted by 31): 2048 of
        // them in one lane would overflow its accumulator without the 1024-term flush.
        let full = vec![f64::from_bits((1024 << 52) | ((1 << 52) - 1)); 8 * 4096 + 3];
        for simd in [Simd::Best, Simd::Avx2Fma, Simd::Portable] {
            for (name, xs) in [
                ("smooth", &smooth),
                ("wild", &wild),
                ("mixed", &mixed),
                ("full", &full),
            ] {
                for n in [7, 8, 9, 8 * 1024 + 5, xs.len()] {
                    let xs = &xs[..n.min(xs.len())];
                    let mut a = ExactSum::with_simd(simd);
                    a.add_slice(xs);
                    let mut sq = ExactSum::with_simd(simd);
                    sq.add_squares(xs);
                    let (mut f, mut fsq) = (Fsum::default(), Fsum::default());
                    for &v in xs {
                        f.add(v);
                        fsq.add(v * v);
                    }
                    let what = format!("{simd:?} {name} {n}");
                    assert_eq!(a.value().to_bits(), f.value().to_bits(), "sum {what}");
                    assert_eq!(sq.value().to_bits(), fsq.value().to_bits(), "sq {what}");
                    // And the same exact sum as the one-term path, limb for limb.
                    let mut b = ExactSum::default();
                    b.extend(xs.iter().copied());
                    assert_eq!(a, b, "limbs {what}");
                }
            }
        }
        // Non-finite terms inside a lane vector.
        let mut v = smooth[..64].to_vec();
        v[13] = f64::INFINITY;
        let mut s = ExactSum::with_simd(Simd::Best);
        s.add_slice(&v);
        assert_eq!(s.value(), f64::INFINITY);
        v[20] = f64::NEG_INFINITY;
        let mut s = ExactSum::with_simd(Simd::Best);
        s.add_squares(&v);
        assert_eq!(s.value(), f64::INFINITY, "squares of both infinities");
        s.add_slice(&v);
        assert!(s.value().is_nan());
    }

    #[test]
    fn any_order_and_grouping_gives_the_same_bits() {
        let v = values(7, 5000);
        let mut whole = ExactSum::default();
        whole.extend(v.iter().copied());
        let mut rev = ExactSum::default();
        rev.extend(v.iter().rev().copied());
        assert_eq!(whole.value().to_bits(), rev.value().to_bits());
        for parts in [2, 3, 7] {
            let mut total = ExactSum::default();
            for c in v.chunks(v.len().div_ceil(parts)).rev() {
                let mut s = ExactSum::default();
                s.extend(c.iter().copied());
                total.merge(&s.partials());
            }
            assert_eq!(total.value().to_bits(), whole.value().to_bits(), "{parts}");
        }
    }

    #[test]
    fn exact_where_a_running_sum_is_not() {
        // 1 + 2^-53 + 2^-53: a running sum rounds each half away; the exact sum is 1 + 2^-52.
        let mut s = ExactSum::default();
        s.extend([1.0, 2f64.powi(-53), 2f64.powi(-53)]);
        assert_eq!(s.value(), 1.0 + 2f64.powi(-52));
        // A tie (1 + 2^-53 exactly) rounds to even (1.0); anything past it rounds up.
        let mut t = ExactSum::default();
        t.extend([1.0, 2f64.powi(-53)]);
        assert_eq!(t.value(), 1.0);
        t.add(1e-300);
        assert_eq!(t.value(), 1.0 + 2f64.powi(-52));
        // Integers: exact.
        let mut i = ExactSum::default();
        i.extend((1..=1000).map(f64::from));
        assert_eq!(i.value(), 500_500.0);
    }

    #[test]
    fn non_finite_terms_decide() {
        let mut s = ExactSum::default();
        s.extend([1.0, f64::INFINITY]);
        assert_eq!(s.value(), f64::INFINITY);
        s.add(f64::NEG_INFINITY);
        assert!(s.value().is_nan());
        let mut o = ExactSum::default();
        o.extend([f64::MAX, f64::MAX]);
        assert_eq!(o.value(), f64::INFINITY);
        let mut p = ExactSum::default();
        p.merge(&o.partials());
        assert_eq!(p.value(), f64::INFINITY, "partials past the largest double");
    }
}
