//! Exactly rounded sums that do not depend on the order of the terms.
//!
//! A diagnostic summed over a field (a mass, a squared norm) must be the same number whether
//! one process sums the whole grid or each tile of a distributed run sums its own part and
//! the parts are combined: any plain or compensated running sum depends on the order of the
//! terms. [`ExactSum`] keeps the sum exactly, as a short list of non-overlapping partials
//! (Shewchuk's algorithm, as Python's `math.fsum`), and rounds once at the end, so the result
//! is the correctly rounded exact sum, whatever the order or the grouping.

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
/// a.merge(b.partials());
/// assert_eq!(whole.value(), 1.001);
/// assert_eq!(a.value(), whole.value());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExactSum {
    /// Non-overlapping partials, increasing in magnitude; their exact sum is the sum.
    partials: Vec<f64>,
    /// Sum of the non-finite terms (and of overflowed partial sums): it decides the result
    /// when it is not zero.
    special: f64,
}

impl ExactSum {
    /// Adds `x` exactly. Allocates only when the partial list grows (rarely past a few).
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            self.special += x;
            return;
        }
        let mut x = x;
        let mut i = 0;
        for k in 0..self.partials.len() {
            let mut y = self.partials[k];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            if !hi.is_finite() {
                self.special += hi;
                return;
            }
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

    /// Adds the partials of another sum (or any list of values) exactly.
    pub fn merge(&mut self, partials: &[f64]) {
        for &p in partials {
            self.add(p);
        }
    }

    /// Adds every value of an iterator.
    pub fn extend(&mut self, values: impl IntoIterator<Item = f64>) {
        for v in values {
            self.add(v);
        }
    }

    /// Forgets every term (keeps the allocation).
    pub fn clear(&mut self) {
        self.partials.clear();
        self.special = 0.0;
    }

    /// The partials (their exact sum is the sum; non-finite terms are not in them, see
    /// [`ExactSum::special`]).
    #[must_use]
    pub fn partials(&self) -> &[f64] {
        &self.partials
    }

    /// Sum of the non-finite terms (0 when there were none).
    #[must_use]
    pub fn special(&self) -> f64 {
        self.special
    }

    /// The exact sum rounded to the nearest double (ties to even); NaN or an infinity if a
    /// term was one (or the sum overflowed).
    #[must_use]
    pub fn value(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
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
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even: if the rest has the sign of `lo`, the sum is past the tie.
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

#[cfg(test)]
mod tests {
    use super::ExactSum;

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
                total.merge(s.partials());
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
    }
}
