//! The finite-difference engine: RK4 on `-i H_h psi`, its construction with the stability
//! check, and its time step.

use convsim_core::ParamPath;
use convsim_core::stencil::{central_weights, laplacian};
use convsim_core::{Complex64, ConvPlan, Isa, Kernel2, Method as ConvMethod, Simd};
use ndarray::{Array2, Zip};

use crate::error::{QuantumError, Result, invalid};
use crate::params::{QuantumParams, TimeProfile};
use crate::solver::StepTerms;
use crate::stability::{rk4_limit_rectangle, rk4_real_limit, second_difference_symbol_max};

/// Finite-difference engine: RK4 on `-i H_h psi` with `H_h = -(1/2m) L_h + V + g |psi|^2`.
pub(crate) struct FiniteDiff {
    /// Convolution by `-(1/2m) L_h` (the kinetic operator).
    pub(crate) plan: ConvPlan<Complex64>,
    /// What the plan was built from, to rebuild it under another SIMD limit.
    kernel: Kernel2<Complex64>,
    boundaries: convsim_core::Boundaries,
    /// The plan's instruction set (its recipe's `isa`).
    pub(crate) isa: Isa,
    pub(crate) k: Array2<Complex64>,
    pub(crate) stage: Array2<Complex64>,
    pub(crate) acc: Array2<Complex64>,
    /// The stability limit enforced at build time.
    pub(crate) dt_max: f64,
}

impl FiniteDiff {
    /// Rebuilds the stencil plan with the instruction set capped at `simd`.
    ///
    /// # Panics
    /// Never: the same plan was built from the same kernel and boundaries at construction.
    pub(crate) fn set_simd(&mut self, simd: Simd) {
        let shape = self.plan.input_shape();
        self.plan = stencil_plan(shape, &self.kernel, self.boundaries, simd)
            .expect("the same plan was built at construction");
        self.isa = Isa::detect_up_to(simd);
    }
}

/// The kinetic stencil's plan: direct, whatever the kernel's size (RK4 applies it four times a
/// step on small stencils).
fn stencil_plan(
    shape: [usize; 2],
    kernel: &Kernel2<Complex64>,
    boundaries: convsim_core::Boundaries,
    simd: Simd,
) -> Result<ConvPlan<Complex64>> {
    Ok(ConvPlan::builder(shape, kernel.clone())
        .boundaries(boundaries)
        .method(ConvMethod::Direct)
        .simd(simd)
        .build()?)
}

/// Builds the finite-difference engine and checks `dt` against the RK4 stability limit, for the
/// potential, drive and absorber in `terms` and the initial state `psi`.
pub(crate) fn build_fd(
    p: &QuantumParams,
    order: usize,
    boundaries: convsim_core::Boundaries,
    terms: &StepTerms<'_>,
    psi: &Array2<Complex64>,
) -> Result<FiniteDiff> {
    let StepTerms {
        v,
        drive,
        cap,
        imaginary,
        ..
    } = *terms;
    let g = p.grid;
    let m = p.mass;
    if !convsim_core::stencil::LAPLACIAN_ORDERS.contains(&order) {
        return Err(invalid(
            ParamPath::table("order"),
            order,
            "an even accuracy order from 2 to 16",
        ));
    }
    let w = central_weights(2, order)?;
    let s = -1.0 / (2.0 * m);
    let kernel: Kernel2<f64> = if g.ny == 1 {
        let n = w.len();
        Kernel2::new(Array2::from_shape_fn((1, n), |(_, j)| w[j] / (g.dx * g.dx)))?
    } else {
        laplacian(order, g.dy, g.dx)?
    };
    let taps = kernel.taps().mapv(|t| Complex64::new(s * t, 0.0));
    let kernel = Kernel2::new(taps)?;
    let plan = stencil_plan([g.ny, g.nx], &kernel, boundaries, Simd::Best)?;
    // Spectrum of H_h: kinetic part in [0, kmax], potential in [vmin, vmax] (+ drive, + g rho).
    let sym = second_difference_symbol_max(&w);
    let kmax =
        sym / (2.0 * m) * (1.0 / (g.dx * g.dx) + if g.ny == 1 { 0.0 } else { 1.0 / (g.dy * g.dy) });
    let mut vmin = v.iter().copied().fold(f64::INFINITY, f64::min);
    let mut vmax = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if let Some((shape, prof)) = drive {
        // Bound the drive by its largest amplitude over a sampled table of the profile is not
        // possible in general; use the largest |shape| times the largest |profile| seen at the
        // profile's own scale (amplitude-type parameters).
        let amp = profile_bound(prof);
        let smax = shape.iter().fold(0.0_f64, |a, b| a.max(b.abs()));
        vmin -= amp * smax;
        vmax += amp * smax;
    }
    let rho_max = psi.iter().map(Complex64::norm_sqr).fold(0.0, f64::max);
    let gr = p.g * rho_max;
    let lo = vmin + gr.min(0.0);
    let hi = kmax + vmax + gr.max(0.0);
    let wmax = cap.map_or(0.0, |c| c.iter().copied().fold(0.0, f64::max));
    let (dt_max, detail) = if imaginary {
        let lim = rk4_real_limit() / (hi - lo.min(0.0)).max(1e-300);
        (
            lim,
            format!(
                "RK4 on the real axis: dt * (E_max - min(E_min, 0)) <= {:.6}, E in [{lo:.6e}, {hi:.6e}] \
                 (stencil symbol max {sym:.6} / h^2 / 2m + potential)",
                rk4_real_limit()
            ),
        )
    } else {
        let b = lo.abs().max(hi.abs());
        (
            rk4_limit_rectangle(wmax, b),
            format!(
                "RK4 needs dt * max|E| <= 2 sqrt 2 with |E| <= {b:.6e} (stencil symbol max \
                 {sym:.6} over h^2 times 1/2m = {kmax:.6e}, potential in [{vmin:.6e}, {vmax:.6e}], \
                 g max|psi|^2 = {gr:.6e}, absorber max {wmax:.6e})"
            ),
        )
    };
    if p.dt > dt_max {
        return Err(QuantumError::UnstableDt {
            dt: p.dt,
            max_dt: dt_max,
            detail,
        });
    }
    let z = Array2::<Complex64>::zeros((g.ny, g.nx));
    Ok(FiniteDiff {
        plan,
        kernel,
        boundaries,
        isa: Isa::detect_up_to(Simd::Best),
        k: z.clone(),
        stage: z.clone(),
        acc: z,
        dt_max,
    })
}

/// An upper bound of `|profile(t)|` over all `t`.
pub(crate) fn profile_bound(p: &TimeProfile) -> f64 {
    match p {
        TimeProfile::Constant { value } => value.abs(),
        TimeProfile::Sine { amplitude, .. } | TimeProfile::Pulse { amplitude, .. } => {
            amplitude.abs()
        }
        TimeProfile::Ramp { from, to, .. } => from.abs().max(to.abs()),
        TimeProfile::Table { values, .. } => values.iter().fold(0.0, |a, b| a.max(b.abs())),
    }
}

/// `out = rhs(input)` at time `t` (not `terms.t`: the RK4 stages evaluate it inside the step):
/// `-i H psi - W psi` (real time) or `-H psi` (imaginary), `|psi|^2` taken from `density_of`.
pub(crate) fn fd_rhs(
    plan: &mut ConvPlan<Complex64>,
    input: &Array2<Complex64>,
    density_of: &Array2<Complex64>,
    out: &mut Array2<Complex64>,
    terms: &StepTerms<'_>,
    t: f64,
) {
    let StepTerms {
        v,
        drive,
        cap,
        g,
        imaginary,
        ..
    } = *terms;
    let f = drive.map_or(0.0, |(_, p)| p.at(t));
    let inp = input.view();
    let den = density_of.view();
    plan.apply_with(input.view(), out.view_mut(), |i, conv, o| {
        let pr = inp.row(i);
        let dr = den.row(i);
        let vr = v.row(i);
        let sr = drive.map(|(s, _)| s.row(i));
        let wr = cap.map(|w| w.row(i));
        for (j, (o, c)) in o.iter_mut().zip(conv).enumerate() {
            let p = pr[j];
            let pot = vr[j] + g * dr[j].norm_sqr() + sr.map_or(0.0, |s| f * s[j]);
            let h = *c + p * pot;
            *o = if imaginary {
                -h
            } else {
                Complex64::new(h.im, -h.re) - p * wr.map_or(0.0, |w| w[j])
            };
        }
    });
}

/// One RK4 step of the finite-difference path.
pub(crate) fn fd_step(fd: &mut FiniteDiff, psi: &mut Array2<Complex64>, terms: &StepTerms<'_>) {
    let StepTerms {
        dt, t, imaginary, ..
    } = *terms;
    let FiniteDiff {
        plan,
        k,
        stage,
        acc,
        ..
    } = fd;
    // In imaginary time the nonlinear potential is frozen at the (normalised) step start: the
    // RK4 map is then a polynomial in one linear operator H[rho_n], whose eigenvectors it keeps,
    // so the fixed point is exactly the self-consistent discrete ground state.

    fd_rhs(plan, psi, psi, k, terms, t);
    Zip::from(&mut *acc)
        .and(&mut *stage)
        .and(&*psi)
        .and(&*k)
        .par_for_each(|a, s, p, k| {
            *a = *p + *k * (dt / 6.0);
            *s = *p + *k * (0.5 * dt);
        });
    for (c_next, w_acc, tt) in [(0.5, 1.0 / 3.0, 0.5), (1.0, 1.0 / 3.0, 0.5)] {
        let den: &Array2<Complex64> = if imaginary { psi } else { stage };
        fd_rhs(plan, stage, den, k, terms, t + tt * dt);
        Zip::from(&mut *acc)
            .and(&mut *stage)
            .and(&*psi)
            .and(&*k)
            .par_for_each(|a, s, p, k| {
                *a += *k * (w_acc * dt);
                *s = *p + *k * (c_next * dt);
            });
    }
    let den: &Array2<Complex64> = if imaginary { psi } else { stage };
    fd_rhs(plan, stage, den, k, terms, t + dt);
    Zip::from(&mut *psi)
        .and(&*acc)
        .and(&*k)
        .par_for_each(|p, a, k| *p = *a + *k * (dt / 6.0));
}
