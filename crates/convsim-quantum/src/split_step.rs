//! The split-step Fourier engine: its construction (merged potential sub-steps, kinetic
//! propagators, static factors split into axis terms plus a patch) and its time step.

use convsim_core::spectral::mul_line_scaled_isa;
use convsim_core::{Complex64, Isa, Simd, SpectralPlan};
use ndarray::{Array2, Zip};

use crate::error::Result;
use crate::params::{Method, QuantumParams};
use crate::solver::StepTerms;

/// Yoshida's triple-jump weights: `w1 = 1 / (2 - 2^(1/3))`, `w0 = 1 - 2 w1` (negative).
pub(crate) fn yoshida_weights() -> (f64, f64) {
    let c = 2f64.cbrt();
    let w1 = 1.0 / (2.0 - c);
    (w1, 1.0 - 2.0 * w1)
}

/// One merged potential sub-step: `exp(-i dt sum_a a (V(t + tau_a dt) + g |psi|^2))`, as a list
/// of `(a, tau)` (potential sub-steps commute, so neighbours merge exactly).
#[derive(Clone, Debug)]
pub(crate) struct PotStep {
    pub(crate) parts: Vec<(f64, f64)>,
    /// `sum a`.
    pub(crate) total: f64,
    /// Index of the precomputed factor (static, linear problems).
    pub(crate) factor: usize,
}

/// Split-step Fourier engine.
pub(crate) struct SplitStep {
    /// Kinetic propagators, one per distinct weight.
    pub(crate) kinetic: Vec<SpectralPlan<Complex64>>,
    /// `pots[0] K[kin[0]] pots[1] K[kin[1]] ... pots[s]`.
    pub(crate) pots: Vec<PotStep>,
    pub(crate) kin: Vec<usize>,
    /// `exp(-(i V + W) a dt)` (real time) or `exp(-V a dt)` (imaginary time) per distinct `a`,
    /// when the potential is static and `g = 0`; empty otherwise.
    pub(crate) factors: Vec<Factor>,
    /// Real-time Strang with static factors: the full-step factor `exp(-(i V + W) dt)` that
    /// replaces the two half steps met between consecutive steps in [`QuantumSolver::advance`];
    /// `None` otherwise.
    pub(crate) merged: Option<Factor>,
    /// Imaginary time with `g != 0`: the half-step factor `exp(-(V + g |psi_n|^2) dt / 2)`
    /// frozen at the step's start and used for both halves, so that the step is a symmetric
    /// (Strang) splitting of a linear operator and its fixed point is the self-consistent
    /// ground state up to O(dt^2); empty otherwise.
    pub(crate) frozen: Array2<f64>,
    /// The instruction set of the factors' products, from [`Isa::detect_up_to`] (capped at
    /// AVX2: the products have no AVX-512 variant); the kinetic plans hold the same choice.
    pub(crate) isa: Isa,
}

impl SplitStep {
    /// Caps the instruction set of the potential factors and kinetic products.
    pub(crate) fn set_simd(&mut self, simd: Simd) {
        self.isa = Isa::detect_up_to(simd).at_most_avx2();
        for k in &mut self.kinetic {
            k.set_simd(simd);
        }
    }
}

/// Builds the split-step engine.
pub(crate) fn build_split(p: &QuantumParams, terms: &StepTerms<'_>) -> Result<SplitStep> {
    let StepTerms {
        v,
        drive,
        cap,
        imaginary,
        ..
    } = *terms;
    let g = p.grid;
    let (m, dt) = (p.mass, p.dt);
    let (weights, pots): (Vec<f64>, Vec<Vec<(f64, f64)>>) = match p.method {
        Method::Yoshida4 => {
            let (w1, w0) = yoshida_weights();
            let t1 = 0.5 * w1;
            let t2 = w1 + 0.5 * w0;
            let t3 = w1 + w0 + 0.5 * w1;
            (
                vec![w1, w0, w1],
                vec![
                    vec![(0.5 * w1, t1)],
                    vec![(0.5 * w1, t1), (0.5 * w0, t2)],
                    vec![(0.5 * w0, t2), (0.5 * w1, t3)],
                    vec![(0.5 * w1, t3)],
                ],
            )
        }
        _ => (vec![1.0], vec![vec![(0.5, 0.5)], vec![(0.5, 0.5)]]),
    };
    // One kinetic plan per distinct weight.
    let mut kw: Vec<f64> = Vec::new();
    let mut kin = Vec::new();
    for w in &weights {
        let idx = kw.iter().position(|x| x == w).unwrap_or_else(|| {
            kw.push(*w);
            kw.len() - 1
        });
        kin.push(idx);
    }
    let spacing = [if g.ny == 1 { 1.0 } else { g.dy }, g.dx];
    let kinetic = kw
        .iter()
        .map(|&w| {
            let tau = w * dt / (2.0 * m);
            // exp(-I (ky^2 + kx^2) tau) = exp(-I ky^2 tau) exp(-I kx^2 tau): a separable plan
            // keeps two vectors instead of an ny x nx table.
            let h = move |k: f64| {
                if imaginary {
                    Complex64::new((-k * k * tau).exp(), 0.0)
                } else {
                    Complex64::from_polar(1.0, -k * k * tau)
                }
            };
            SpectralPlan::<Complex64>::new_separable([g.ny, g.nx], spacing, h, h)
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let dynamic = drive.is_some() || p.g != 0.0;
    let mut totals: Vec<f64> = Vec::new();
    let mut pot_steps = Vec::new();
    for parts in pots {
        let total: f64 = parts.iter().map(|(a, _)| a).sum();
        let factor = totals.iter().position(|x| *x == total).unwrap_or_else(|| {
            totals.push(total);
            totals.len() - 1
        });
        pot_steps.push(PotStep {
            parts,
            total,
            factor,
        });
    }
    let factors = if dynamic {
        Vec::new()
    } else {
        totals
            .iter()
            .map(|&a| Factor::new(v, cap, a * dt, imaginary))
            .collect()
    };
    let merged = (!dynamic && !imaginary && p.method == Method::Strang)
        .then(|| Factor::new(v, cap, dt, false));
    let frozen = if imaginary && p.g != 0.0 {
        Array2::zeros((g.ny, g.nx))
    } else {
        Array2::zeros((0, 0))
    };
    Ok(SplitStep {
        kinetic,
        pots: pot_steps,
        kin,
        factors,
        merged,
        frozen,
        isa: Isa::detect_up_to(Simd::Best).at_most_avx2(),
    })
}

/// A precomputed potential sub-step factor `exp(-(I V + W) h)` (real time, `W` the absorber) or
/// `exp(-V h)` (imaginary time).
pub(crate) enum Factor {
    /// Row-major `(ny, nx)`.
    Full(Array2<Complex64>),
    /// `V` and `W` are sums `f(y) + g(x)` (harmonic traps, barriers and lattices along the axes,
    /// edge absorbers): the factor is the outer product `col[i] row[j]`, kept as two vectors so
    /// that a step streams only `psi` through memory.
    Outer {
        col: Vec<Complex64>,
        row: Vec<Complex64>,
    },
    /// `V + W = f(y) + g(x) + r(y, x)` with `r` zero outside a box (a trap with a bump, a
    /// barrier with slits, a localised obstacle): the outer product of `f` and `g` times the
    /// factor of `r` on the box only. A step then streams `psi` and the box's factors instead
    /// of a full table.
    Patched {
        col: Vec<Complex64>,
        row: Vec<Complex64>,
        /// Rows and columns `[r0, r1) x [c0, c1)` of the box.
        rows: (usize, usize),
        cols: (usize, usize),
        patch: Array2<Complex64>,
    },
}

/// `a = f(y) + g(x) + r` with `r` zero (to rounding) outside `[r0, r1) x [c0, c1)`.
pub(crate) struct Split {
    pub(crate) f: Vec<f64>,
    pub(crate) g: Vec<f64>,
    pub(crate) rows: (usize, usize),
    pub(crate) cols: (usize, usize),
    /// `r` on the box (empty box: `a` is a sum of axis terms).
    pub(crate) r: Array2<f64>,
}

impl Split {
    /// The box's residual at `(i, j)` (0 outside it).
    fn r(&self, i: usize, j: usize) -> f64 {
        if (self.rows.0..self.rows.1).contains(&i) && (self.cols.0..self.cols.1).contains(&j) {
            self.r[[i - self.rows.0, j - self.cols.0]]
        } else {
            0.0
        }
    }
}

impl Factor {
    fn new(v: &Array2<f64>, cap: Option<&Array2<f64>>, h: f64, imaginary: bool) -> Self {
        // The factor at one point, or one axis factor of an outer product.
        let at = |vv: f64, w: f64| {
            let damp = (-w * h).exp();
            if imaginary {
                Complex64::new((-vv * h).exp() * damp, 0.0)
            } else {
                Complex64::from_polar(damp, -vv * h)
            }
        };
        // Each factor of the product must stay finite on its own (their product always does),
        // which bounds the real parts of their exponents.
        let bounded = |s: &Split| {
            s.f.iter()
                .chain(&s.g)
                .chain(&s.r)
                .all(|x| (x * h).abs() < 300.0)
        };
        let sv = additive_patch(v).filter(|s| !imaginary || bounded(s));
        let sw = match cap {
            None => Some(None),
            Some(w) => additive_patch(w).filter(bounded).map(Some),
        };
        if let (Some(sv), Some(sw)) = (sv, sw) {
            let (ny, nx) = v.dim();
            let wf = |i: usize| sw.as_ref().map_or(0.0, |s| s.f[i]);
            let wg = |j: usize| sw.as_ref().map_or(0.0, |s| s.g[j]);
            let col = (0..ny).map(|i| at(sv.f[i], wf(i))).collect();
            let row = (0..nx).map(|j| at(sv.g[j], wg(j))).collect();
            // The union of the two boxes.
            let boxes = std::iter::once(&sv).chain(sw.as_ref());
            let nonempty: Vec<&Split> = boxes.filter(|s| !s.r.is_empty()).collect();
            if nonempty.is_empty() {
                return Factor::Outer { col, row };
            }
            let rows = (
                nonempty.iter().map(|s| s.rows.0).min().expect("non-empty"),
                nonempty.iter().map(|s| s.rows.1).max().expect("non-empty"),
            );
            let cols = (
                nonempty.iter().map(|s| s.cols.0).min().expect("non-empty"),
                nonempty.iter().map(|s| s.cols.1).max().expect("non-empty"),
            );
            let wr = |i: usize, j: usize| sw.as_ref().map_or(0.0, |s| s.r(i, j));
            let patch = Array2::from_shape_fn((rows.1 - rows.0, cols.1 - cols.0), |(a, b)| {
                let (i, j) = (rows.0 + a, cols.0 + b);
                at(sv.r(i, j), wr(i, j))
            });
            return Factor::Patched {
                col,
                row,
                rows,
                cols,
                patch,
            };
        }
        let mut f = Array2::zeros(v.dim());
        match cap {
            Some(w) => Zip::from(&mut f)
                .and(v)
                .and(w)
                .for_each(|f, &vv, &w| *f = at(vv, w)),
            None => Zip::from(&mut f).and(v).for_each(|f, &vv| *f = at(vv, 0.0)),
        }
        Factor::Full(f)
    }

    /// Multiplies row `i` of `psi` by the factor's row `i`, on `isa` (the engine's
    /// [`SplitStep::isa`]).
    pub(crate) fn apply_row(&self, isa: Isa, i: usize, row: &mut [Complex64]) {
        match self {
            Factor::Full(f) => {
                let f = f.row(i);
                let f = f
                    .as_slice()
                    .expect("potential factors are built in standard layout");
                // SAFETY: `isa` is the engine's, from `Isa::detect_up_to`.
                unsafe { mul_line_scaled_isa(isa, row, f, None) };
            }
            Factor::Outer { col, row: fr } => outer_row(isa, col[i], fr, row),
            Factor::Patched {
                col,
                row: fr,
                rows,
                cols,
                patch,
            } => {
                outer_row(isa, col[i], fr, row);
                if (rows.0..rows.1).contains(&i) {
                    let pr = patch.row(i - rows.0);
                    let pr = pr.as_slice().expect("patches are built in standard layout");
                    // SAFETY: as above.
                    unsafe { mul_line_scaled_isa(isa, &mut row[cols.0..cols.1], pr, None) };
                }
            }
        }
    }
}

/// `row[j] *= f[j] * c`, on `isa` (the engine's [`SplitStep::isa`]).
pub(crate) fn outer_row(isa: Isa, c: Complex64, f: &[Complex64], row: &mut [Complex64]) {
    // SAFETY: `isa` is the engine's, from `Isa::detect_up_to`.
    unsafe { mul_line_scaled_isa(isa, row, f, Some(c)) };
}

/// Splits `a[i, j] = f[i] + g[j] + r[i, j]` with `r` zero (to rounding: 8 ulps of `max |a|`,
/// the rounding of the potential's own sum and of the subtractions here) outside the smallest
/// box among a few reference points: `f[i] = a[i, j0] - a[i0, j0]`, `g[j] = a[i0, j]`, for
/// `(i0, j0)` the corners and the centre (a reference row and column away from a localised
/// feature leave only the feature in `r`). `None` when no box covers less than a quarter of the
/// grid, or `a` is not finite.
pub(crate) fn additive_patch(a: &Array2<f64>) -> Option<Split> {
    // (area, reference point, box rows and columns)
    type Candidate = (usize, (usize, usize), (usize, usize, usize, usize));
    let (ny, nx) = a.dim();
    if ny == 0 || nx == 0 {
        return None;
    }
    let scale = a.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    if !scale.is_finite() {
        return None;
    }
    let tol = 8.0 * f64::EPSILON * scale;
    let refs = [
        (0, 0),
        (0, nx - 1),
        (ny - 1, 0),
        (ny - 1, nx - 1),
        (ny / 2, nx / 2),
    ];
    let mut best: Option<Candidate> = None;
    for (i0, j0) in refs {
        let (mut r0, mut r1, mut c0, mut c1) = (ny, 0, nx, 0);
        for ((i, j), &x) in a.indexed_iter() {
            let r = x - (a[[i, j0]] - a[[i0, j0]]) - a[[i0, j]];
            if r.abs() > tol {
                (r0, r1, c0, c1) = (r0.min(i), r1.max(i + 1), c0.min(j), c1.max(j + 1));
            }
        }
        let area = if r1 > r0 { (r1 - r0) * (c1 - c0) } else { 0 };
        if best.is_none_or(|b| area < b.0) {
            best = Some((area, (i0, j0), (r0, r1, c0, c1)));
        }
        if area == 0 {
            break;
        }
    }
    let (area, (i0, j0), (r0, r1, c0, c1)) = best.expect("at least one reference");
    if area > ny * nx / 4 {
        return None;
    }
    let f: Vec<f64> = (0..ny).map(|i| a[[i, j0]] - a[[i0, j0]]).collect();
    let g: Vec<f64> = a.row(i0).to_vec();
    let (rows, cols, r) = if area == 0 {
        ((0, 0), (0, 0), Array2::zeros((0, 0)))
    } else {
        let r = Array2::from_shape_fn((r1 - r0, c1 - c0), |(p, q)| {
            let (i, j) = (r0 + p, c0 + q);
            a[[i, j]] - f[i] - g[j]
        });
        ((r0, r1), (c0, c1), r)
    };
    Some(Split {
        f,
        g,
        rows,
        cols,
        r,
    })
}

/// One potential sub-step, prepared to be applied row by row (inside the row passes of the
/// kinetic step, which saves a pass over the whole array per sub-step).
pub(crate) struct PotRows<'a> {
    /// Precomputed factor (static, linear problems).
    pub(crate) factor: Option<&'a Factor>,
    /// `sum a dt`.
    pub(crate) a: f64,
    /// Drive amplitude integrated over the merged sub-steps: `sum a_i f(t + tau_i dt) dt`.
    pub(crate) d: f64,
    pub(crate) terms: StepTerms<'a>,
    /// The engine's instruction set for the factor's products.
    pub(crate) isa: Isa,
}

impl<'a> PotRows<'a> {
    fn new(pot: &PotStep, factors: &'a [Factor], isa: Isa, terms: &StepTerms<'a>) -> Self {
        let StepTerms { drive, dt, t, .. } = *terms;
        let d = drive.map_or(0.0, |(_, prof)| {
            pot.parts
                .iter()
                .map(|&(ai, ti)| ai * prof.at(t + ti * dt))
                .sum::<f64>()
                * dt
        });
        PotRows {
            factor: factors.get(pot.factor),
            a: pot.total * dt,
            d,
            terms: *terms,
            isa,
        }
    }

    /// Applies the sub-step to row `i` of `psi`.
    fn row(&self, i: usize, row: &mut [Complex64]) {
        if let Some(f) = self.factor {
            f.apply_row(self.isa, i, row);
            return;
        }
        let StepTerms {
            v,
            drive,
            cap,
            g,
            imaginary,
            ..
        } = self.terms;
        let vr = v.row(i);
        let sr = drive.map(|(s, _)| s.row(i));
        let wr = cap.map(|w| w.row(i));
        let (a, d) = (self.a, self.d);
        for (j, p) in row.iter_mut().enumerate() {
            let phase = a * (vr[j] + g * p.norm_sqr()) + sr.map_or(0.0, |s| d * s[j]);
            if imaginary {
                *p *= (-phase).exp();
            } else {
                let damp = wr.map_or(1.0, |w| (-a * w[j]).exp());
                *p *= Complex64::from_polar(damp, -phase);
            }
        }
    }
}

/// One split-step time step: `pots[0] K pots[1] K ... pots[s]`, each potential sub-step fused
/// into the row pass of the kinetic step next to it.
pub(crate) fn split_step(ss: &mut SplitStep, psi: &mut Array2<Complex64>, terms: &StepTerms<'_>) {
    let StepTerms { v, g, dt, .. } = *terms;
    if !ss.frozen.is_empty() {
        // Imaginary time, nonlinear (Strang only): freeze V + g |psi_n|^2 for the whole step.
        let h = 0.5 * dt;
        Zip::from(&mut ss.frozen)
            .and(&mut *psi)
            .and(v)
            .par_for_each(|f, p, &v| {
                *f = (-(v + g * p.norm_sqr()) * h).exp();
                *p *= *f;
            });
        ss.kinetic[0].apply_inplace(psi.view_mut());
        Zip::from(&mut *psi)
            .and(&ss.frozen)
            .par_for_each(|p, &f| *p *= f);
        return;
    }
    let n = ss.kin.len();
    let rows = |k: usize| PotRows::new(&ss.pots[k], &ss.factors, ss.isa, terms);
    for s in 0..n {
        let pre = rows(s);
        let post = (s + 1 == n).then(|| rows(n));
        ss.kinetic[ss.kin[s]].apply_inplace_with(
            psi.view_mut(),
            |i, r| pre.row(i, r),
            |i, r| {
                if let Some(p) = &post {
                    p.row(i, r);
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f(y, x)` on a 96 x 80 grid of spacing 0.3 from (-14.4, -12).
    fn grid_fn(f: impl Fn(f64, f64) -> f64) -> Array2<f64> {
        Array2::from_shape_fn((96, 80), |(i, j)| {
            f(-14.4 + 0.3 * i as f64, -12.0 + 0.3 * j as f64)
        })
    }

    fn factor_table(f: &Factor, shape: (usize, usize)) -> Array2<Complex64> {
        let mut t = Array2::from_elem(shape, Complex64::new(1.0, 0.0));
        for (i, mut row) in t.outer_iter_mut().enumerate() {
            f.apply_row(
                Isa::detect_up_to(Simd::Best),
                i,
                row.as_slice_mut().unwrap(),
            );
        }
        t
    }

    #[test]
    fn a_trap_with_a_bump_splits_into_axis_terms_and_a_patch_around_the_bump() {
        // Harmonic trap (a sum of axis terms) plus a Gaussian bump: the residual is the bump,
        // which is below 8 ulps of max |V| outside a box around it.
        let v = grid_fn(|y, x| {
            0.5 * (x * x + y * y) + 5.0 * (-((y - 1.0).powi(2) + (x + 2.0).powi(2))).exp()
        });
        let s = additive_patch(&v).expect("a small box");
        let (h, w) = (s.rows.1 - s.rows.0, s.cols.1 - s.cols.0);
        assert!(
            h > 0 && w > 0 && h * w < 96 * 80 / 4,
            "box {:?} x {:?}",
            s.rows,
            s.cols
        );
        // The box holds the bump's centre (y = 1 at row 51, x = -2 at column 33), and not the
        // far corners: the bump is below the tolerance 5.4 away (5 exp(-29) ~ 1e-12).
        assert!((s.rows.0..s.rows.1).contains(&51) && (s.cols.0..s.cols.1).contains(&33));
        // f + g + r reproduces V everywhere to rounding.
        let tol = 16.0 * f64::EPSILON * v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        for ((i, j), &x) in v.indexed_iter() {
            assert!((s.f[i] + s.g[j] + s.r(i, j) - x).abs() <= tol, "({i}, {j})");
        }
        // A pure sum of axis terms has no patch; a fully coupled V has no small box.
        assert_eq!(
            additive_patch(&grid_fn(|y, x| y * y + x.sin()))
                .unwrap()
                .r
                .len(),
            0
        );
        assert!(additive_patch(&grid_fn(|y, x| (x * y).cos())).is_none());
    }

    #[test]
    fn patched_factors_equal_the_full_table_to_rounding() {
        // A barrier with two slits plus an edge absorber, real and imaginary time: the factor
        // applied row by row equals exp(-(i V + W) h) (or exp(-V h)) point by point.
        let v = grid_fn(|y, x| {
            let wall = (x - 1.0).abs() < 0.4;
            let slit = (y - 1.5).abs() < 0.5 || (y + 1.5).abs() < 0.5;
            if wall && !slit { 30.0 } else { 0.1 * y * y }
        });
        let w = grid_fn(|_, x| if x > 3.5 { 2.0 * (x - 3.5) } else { 0.0 });
        let h = 0.01;
        for imaginary in [false, true] {
            let cap = (!imaginary).then_some(&w);
            let f = Factor::new(&v, cap, h, imaginary);
            assert!(matches!(f, Factor::Patched { .. }), "imaginary {imaginary}");
            let got = factor_table(&f, v.dim());
            for ((i, j), g) in got.indexed_iter() {
                let wv = cap.map_or(0.0, |w| w[[i, j]]);
                let want = if imaginary {
                    Complex64::new((-v[[i, j]] * h).exp(), 0.0)
                } else {
                    Complex64::from_polar((-wv * h).exp(), -v[[i, j]] * h)
                };
                assert!((g - want).norm() < 1e-14, "({i}, {j}): {g} vs {want}");
            }
        }
    }
}
