//! Tick positions and labels, computed here rather than by plotters so that every range gets a
//! bounded number of distinct labels in bounded time: ranges that span more than `f64::MAX`,
//! ranges of a few ulps around a large value (a conserved norm), subnormal ranges.
//!
//! Charts are built on the unit square ([`Span::unit`] maps data to `[0, 1]`) with these ticks
//! as plotters' key points, so plotters never sees a huge, tiny or non-finite range.

/// A finite data interval `lo..=hi` (`lo <= hi`) and its map to `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Span {
    pub lo: f64,
    pub hi: f64,
}

impl Span {
    /// `None` unless both ends are finite and `lo <= hi`.
    pub(crate) fn new(lo: f64, hi: f64) -> Option<Span> {
        (lo.is_finite() && hi.is_finite() && lo <= hi).then_some(Span { lo, hi })
    }

    /// `hi - lo` halved, always finite (the full width can exceed `f64::MAX`).
    fn half_width(self) -> f64 {
        self.hi / 2.0 - self.lo / 2.0
    }

    /// Position of `v` in the span, 0 at `lo` and 1 at `hi` (0.5 for an empty span).
    pub(crate) fn unit(self, v: f64) -> f64 {
        let w = self.half_width();
        if w > 0.0 {
            (v / 2.0 - self.lo / 2.0) / w
        } else {
            0.5
        }
    }
}

/// Ticks of one axis: positions in data units, their labels, and what the labels mean when they
/// are not the values themselves (an offset and a factor, as matplotlib's offset text).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ticks {
    /// Tick positions in data units, increasing, inside the span.
    pub values: Vec<f64>,
    /// One label per tick, all distinct.
    pub labels: Vec<String>,
    /// `Some("1 + tick × 1e-14")` when the labels are `(value - offset) / factor`.
    pub offset: Option<String>,
}

/// At most this many ticks on any axis (the loops below are bounded by it).
const MAX_TICKS: usize = 12;

/// A "nice" step (1, 2 or 5 times a power of ten) of about `raw`; `None` if `raw` is not a
/// positive normal number or the step underflows.
fn nice_step(raw: f64) -> Option<(f64, i32)> {
    if !(raw.is_finite() && raw > 0.0) {
        return None;
    }
    let e = raw.log10().floor() as i32;
    let p = 10f64.powi(e);
    if !(p.is_finite() && p > 0.0) {
        return None;
    }
    let f = raw / p;
    let (nice, e) = match f {
        f if f <= 1.0 => (1.0, e),
        f if f <= 2.0 => (2.0, e),
        f if f <= 5.0 => (5.0, e),
        _ => (1.0, e + 1),
    };
    let step = nice * 10f64.powi(e);
    (step.is_finite() && step > 0.0).then_some((step, e))
}

/// Trims a decimal or scientific number: `1.500` -> `1.5`, `2.000e-5` -> `2e-5`, `-0` -> `0`.
fn trim(s: &str) -> String {
    let (mant, exp) = match s.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (s, None),
    };
    let mant = if mant.contains('.') {
        mant.trim_end_matches('0').trim_end_matches('.')
    } else {
        mant
    };
    let mant = if mant == "-0" { "0" } else { mant };
    match exp {
        Some(e) => format!("{mant}e{e}"),
        None => mant.to_string(),
    }
}

/// `v` with `digits` decimals in plain notation for moderate magnitudes, else scientific with
/// `sig` digits after the point.
pub(crate) fn format_num(v: f64, decimals: usize, sig: usize) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if (1e-3..1e5).contains(&a) {
        trim(&format!("{v:.decimals$}"))
    } else {
        trim(&format!("{v:.sig$e}"))
    }
}

/// Labels of `values` on a step of `step` (exponent `e`): plain decimals or scientific, with as
/// many digits as the step needs, more until adjacent labels differ (bounded).
fn plain_labels(values: &[f64], step: f64, e: i32) -> Vec<String> {
    let mag = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let base_dec = usize::try_from(-e).unwrap_or(0);
    let mag_e = if mag > 0.0 {
        mag.log10().floor() as i32
    } else {
        e
    };
    let base_sig = usize::try_from(mag_e.saturating_sub(e)).unwrap_or(0);
    for extra in 0..=17 {
        let labels: Vec<String> = values
            .iter()
            .map(|&v| {
                // Rounding noise of `first + i * step` prints as 0.
                let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
                format_num(v, (base_dec + extra).min(17), (base_sig + extra).min(17))
            })
            .collect();
        if labels.windows(2).all(|w| w[0] != w[1]) {
            return labels;
        }
    }
    values.iter().map(|v| format!("{v:e}")).collect()
}

/// Linear ticks of `span`: at most [`MAX_TICKS`] (about `target`) values on a nice step, with
/// distinct labels. When the values are large next to the step (a quantity that varies in its
/// 13th digit), the labels are `(value - offset) / 10^e` and [`Ticks::offset`] says so.
pub(crate) fn linear(span: Span, target: usize) -> Ticks {
    let target = target.clamp(2, MAX_TICKS);
    let Span { lo, hi } = span;
    // Work on halves so that `hi - lo` cannot overflow; the step is chosen on the full width
    // (`(b - a) / (n - 1) * 2` is finite for n >= 3).
    let (a, b) = (lo / 2.0, hi / 2.0);
    let Some((step, e)) = nice_step((b - a) / (target.max(3) - 1) as f64 * 2.0) else {
        // An empty or subnormal span: its ends are the only ticks.
        let mut values = vec![lo];
        if hi > lo {
            values.push(hi);
        }
        let labels = plain_labels(&values, (hi - lo).max(f64::MIN_POSITIVE), -300);
        return Ticks {
            values,
            labels,
            offset: None,
        };
    };
    let step2 = step / 2.0;
    let first = (a / step2).ceil();
    let mut values = Vec::with_capacity(MAX_TICKS);
    for i in 0..=MAX_TICKS {
        let h = (first + i as f64) * step2;
        if h > b * (1.0 + 1e-12 * b.signum()) + step2 * 1e-9 {
            break;
        }
        values.push(h * 2.0);
    }
    if values.is_empty() {
        values.push(lo);
    }
    let mag = lo.abs().max(hi.abs());
    if mag / step < 1e5 {
        let labels = plain_labels(&values, step, e);
        return Ticks {
            values,
            labels,
            offset: None,
        };
    }
    // Offset labels: the offset is the middle rounded to a power of ten above the span, so the
    // ticks minus the offset are small multiples of the step.
    let m = (2.0 * (b - a)).log10().ceil() as i32;
    let mid = (a + (b - a) / 2.0) * 2.0;
    // Divide by exact powers of ten (10^k is exact in f64 up to k = 22).
    let offset = if (-22..0).contains(&m) {
        let p = 10f64.powi(-m);
        (mid * p).round() / p
    } else {
        let p = 10f64.powi(m);
        (mid / p).round() * p
    };
    let factor = 10f64.powi(e);
    let labels: Vec<String> = values
        .iter()
        .map(|&v| {
            let q = (v - offset) / factor;
            let q = if q.abs() < 1e-6 { 0.0 } else { q };
            trim(&format!("{q:.1}"))
        })
        .collect();
    let digits = usize::try_from((mag.log10().floor() as i32).saturating_sub(m)).unwrap_or(0);
    let off = format_num(offset, usize::try_from(-m).unwrap_or(0), digits.min(17));
    let labels = if labels.windows(2).all(|w| w[0] != w[1]) {
        labels
    } else {
        plain_labels(&values, step, e)
    };
    Ticks {
        values,
        labels,
        offset: Some(format!("{off} + tick × 1e{e}")),
    }
}

/// Ticks of a log10 axis spanning `span` (in decades: `span.lo = log10(min)`): one tick per
/// decade (every k-th decade when there are many), labelled `1e<k>`; within one decade, linear
/// ticks of the values placed at their logarithms.
pub(crate) fn log10(span: Span, target: usize) -> Ticks {
    let (lo, hi) = (span.lo.ceil(), span.hi.floor());
    let decade = |d: f64| {
        if (-3.0..=4.0).contains(&d) {
            format_num(10f64.powf(d), 3, 0)
        } else {
            format!("1e{d}")
        }
    };
    if hi - lo >= 3.0 {
        let n = (hi - lo) as usize + 1;
        let every = n.div_ceil(target.clamp(2, MAX_TICKS));
        let values: Vec<f64> = (0..n)
            .step_by(every)
            .map(|k| lo + k as f64)
            .take(MAX_TICKS)
            .collect();
        let labels = values.iter().map(|&d| decade(d)).collect();
        return Ticks {
            values,
            labels,
            offset: None,
        };
    }
    {
        // A few decades: 1, 2 and 5 times each power of ten inside the span.
        let mut values = Vec::new();
        for d in (span.lo.floor() as i32)..=(span.hi.ceil() as i32) {
            for m in [1.0f64, 2.0, 5.0] {
                let v = f64::from(d) + m.log10();
                if v >= span.lo && v <= span.hi && values.len() < MAX_TICKS {
                    values.push(v);
                }
            }
        }
        let labels = values
            .iter()
            .map(|&v| {
                let x = 10f64.powf(v);
                if (1e-3..1e5).contains(&x) {
                    format_num(x, 3, 0)
                } else {
                    format!("{x:.0e}")
                }
            })
            .collect();
        if values.len() >= 2 {
            return Ticks {
                values,
                labels,
                offset: None,
            };
        }
    }
    let v = Span::new(10f64.powf(span.lo), 10f64.powf(span.hi));
    match v {
        Some(v) if v.hi > v.lo => {
            let t = linear(v, target.min(5));
            let values = t.values.iter().map(|x| x.log10()).collect();
            Ticks { values, ..t }
        }
        _ => linear(span, target),
    }
}

#[cfg(test)]
mod tests {
    use super::{Span, linear, log10};

    fn distinct(labels: &[String]) -> bool {
        let mut v = labels.to_vec();
        v.sort();
        v.dedup();
        v.len() == labels.len()
    }

    #[test]
    fn ordinary_ranges_get_nice_plain_ticks() {
        let t = linear(Span::new(0.0, 10.0).unwrap(), 6);
        assert_eq!(t.values, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(t.labels, vec!["0", "2", "4", "6", "8", "10"]);
        assert_eq!(t.offset, None);
        let t = linear(Span::new(-0.35, 0.35).unwrap(), 6);
        assert!(t.labels.contains(&"0".to_string()), "{t:?}");
        assert!(t.labels.contains(&"-0.2".to_string()), "{t:?}");
        let t = linear(Span::new(2e-7, 9e-7).unwrap(), 6);
        assert!(distinct(&t.labels) && t.labels[0].contains("e-7"), "{t:?}");
    }

    #[test]
    fn a_quantity_constant_to_1e_13_gets_an_offset_and_distinct_labels() {
        let t = linear(Span::new(1.0 - 2e-13, 1.0 + 3e-13).unwrap(), 6);
        assert!(t.values.len() >= 3, "{t:?}");
        assert!(distinct(&t.labels), "{t:?}");
        let off = t.offset.clone().unwrap();
        assert!(off.starts_with("1 + tick × 1e-13"), "{off}");
        // The labels decode to the values: offset + label * factor.
        for (v, l) in t.values.iter().zip(&t.labels) {
            let q: f64 = l.parse().unwrap();
            assert!((1.0 + q * 1e-13 - v).abs() < 1e-15, "{v} {l}");
        }
    }

    #[test]
    fn extreme_ranges_are_bounded_and_finite() {
        for (lo, hi) in [
            (-f64::MAX, f64::MAX),
            (0.0, f64::MAX),
            (0.0, 1e-320),
            (5e-324, 1e-323),
            (1e308, 1e308),
            (-1.0, -1.0),
            (1e300, 1.000_000_000_000_1e300),
        ] {
            let t = linear(Span::new(lo, hi).unwrap(), 6);
            assert!(
                !t.values.is_empty() && t.values.len() <= 13,
                "{lo} {hi}: {t:?}"
            );
            assert!(t.values.iter().all(|v| v.is_finite()), "{lo} {hi}: {t:?}");
            assert!(distinct(&t.labels), "{lo} {hi}: {t:?}");
            assert_eq!(t.values.len(), t.labels.len());
        }
        let s = Span::new(-f64::MAX, f64::MAX).unwrap();
        assert_eq!(s.unit(0.0), 0.5);
        assert_eq!(s.unit(f64::MAX), 1.0);
    }

    #[test]
    fn log_ticks_are_decades_or_linear_within_one() {
        let t = log10(Span::new(-6.2, 0.3).unwrap(), 8);
        assert_eq!(t.labels.first().unwrap(), "1e-6");
        assert_eq!(t.labels.last().unwrap(), "1");
        let t = log10(Span::new(-1.4, 0.1).unwrap(), 8);
        assert_eq!(t.labels, vec!["0.05", "0.1", "0.2", "0.5", "1"]);
        let t = log10(Span::new(-300.0, 300.0).unwrap(), 8);
        assert!(t.values.len() <= 12, "{t:?}");
        let t = log10(Span::new(0.5f64.log10(), 0.9f64.log10()).unwrap(), 8);
        assert!(t.values.len() >= 2 && distinct(&t.labels), "{t:?}");
    }
}
