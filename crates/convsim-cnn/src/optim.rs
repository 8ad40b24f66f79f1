//! Optimisers: SGD with momentum, Adam with a learning-rate schedule, L-BFGS.
//!
//! Conventions follow PyTorch: SGD's momentum buffer is `v <- mu v + g`, `p <- p - lr v`; Adam
//! is Kingma & Ba with bias correction, `p <- p - lr m_hat / (sqrt(v_hat) + eps)`.
//!
//! ```
//! use convsim_cnn::{Adam, LrSchedule};
//! let adam = Adam::<f32>::new(1e-3).unwrap()
//!     .with_schedule(LrSchedule::Exponential { gamma: 0.99 });
//! assert!((adam.learning_rate_at(100) - 1e-3 * 0.99f64.powi(100)).abs() < 1e-15);
//! assert!(Adam::<f32>::new(0.0).is_err()); // learning rate must be positive
//! ```

use serde::{Deserialize, Serialize};

use crate::error::check_lr;
use crate::{CnnError, Float, Layer, Result};

/// How the learning rate changes with the optimiser step `t` (0-based): `lr(t) = lr0 * f(t)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// `f = 1`.
    #[default]
    Constant,
    /// `f = gamma^floor(t / every)`.
    Step {
        /// Steps between decays.
        every: usize,
        /// Factor per decay (in `(0, 1]`).
        gamma: f64,
    },
    /// `f = gamma^t`.
    Exponential {
        /// Factor per step (in `(0, 1]`).
        gamma: f64,
    },
    /// `f = m + (1 - m) (1 + cos(pi min(t, T) / T)) / 2` with `m = min_factor`: from 1 down to
    /// `min_factor` over `total_steps` steps, then constant.
    Cosine {
        /// `T`, the length of the decay in steps.
        total_steps: usize,
        /// Final factor (in `[0, 1]`).
        min_factor: f64,
    },
}

impl LrSchedule {
    /// The factor `f(t)`.
    #[must_use]
    pub fn factor(&self, t: usize) -> f64 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Step { every, gamma } => gamma.powi((t / every.max(1)) as i32),
            LrSchedule::Exponential { gamma } => gamma.powf(t as f64),
            LrSchedule::Cosine {
                total_steps,
                min_factor,
            } => {
                let tt = total_steps.max(1) as f64;
                let x = (t as f64).min(tt) / tt;
                min_factor + (1.0 - min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * x).cos())
            }
        }
    }

    /// Checks the schedule's parameters.
    ///
    /// # Errors
    /// A factor outside `(0, 1]` (`[0, 1]` for `min_factor`) or a zero period.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: String, allowed| {
            Err(CnnError::InvalidParameter {
                name,
                value,
                allowed,
            })
        };
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Step { every, gamma } => {
                if every == 0 {
                    return bad("schedule.every", "0".into(), "it must be at least 1");
                }
                if !(gamma > 0.0 && gamma <= 1.0) {
                    return bad("schedule.gamma", gamma.to_string(), "it must lie in (0, 1]");
                }
                Ok(())
            }
            LrSchedule::Exponential { gamma } => {
                if gamma > 0.0 && gamma <= 1.0 {
                    Ok(())
                } else {
                    bad("schedule.gamma", gamma.to_string(), "it must lie in (0, 1]")
                }
            }
            LrSchedule::Cosine {
                total_steps,
                min_factor,
            } => {
                if total_steps == 0 {
                    return bad("schedule.total_steps", "0".into(), "it must be at least 1");
                }
                if (0.0..=1.0).contains(&min_factor) {
                    Ok(())
                } else {
                    bad(
                        "schedule.min_factor",
                        min_factor.to_string(),
                        "it must lie in [0, 1]",
                    )
                }
            }
        }
    }
}

/// A first-order optimiser that updates a model from its accumulated gradients.
pub trait Optimizer<T: Float>: Send {
    /// One update of every parameter from its gradient (the gradients are left as they are).
    fn step(&mut self, model: &mut dyn Layer<T>);
    /// The learning rate the next step will use.
    fn learning_rate(&self) -> f64;
}

/// Stochastic gradient descent with (heavy-ball) momentum, PyTorch convention.
#[derive(Clone, Debug)]
pub struct Sgd<T> {
    lr: f64,
    momentum: f64,
    schedule: LrSchedule,
    t: usize,
    velocity: Vec<Vec<T>>,
}

impl<T: Float> Sgd<T> {
    /// SGD with learning rate `lr` and momentum `momentum` (0 for plain SGD).
    ///
    /// # Errors
    /// `lr` not positive, or `momentum` outside `[0, 1)`.
    pub fn new(lr: f64, momentum: f64) -> Result<Self> {
        check_lr(lr)?;
        if !(0.0..1.0).contains(&momentum) {
            return Err(CnnError::InvalidParameter {
                name: "momentum",
                value: momentum.to_string(),
                allowed: "it must lie in [0, 1)",
            });
        }
        Ok(Sgd {
            lr,
            momentum,
            schedule: LrSchedule::Constant,
            t: 0,
            velocity: Vec::new(),
        })
    }

    /// Uses a learning-rate schedule.
    #[must_use]
    pub fn with_schedule(mut self, s: LrSchedule) -> Self {
        self.schedule = s;
        self
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, model: &mut dyn Layer<T>) {
        let lr = T::of(self.learning_rate());
        let mu = T::of(self.momentum);
        let vel = &mut self.velocity;
        let mut k = 0;
        model.visit_params(&mut |p, g| {
            if vel.len() <= k {
                vel.push(vec![T::zero(); p.len()]);
            }
            for ((pi, &gi), vi) in p.iter_mut().zip(g.iter()).zip(vel[k].iter_mut()) {
                *vi = mu * *vi + gi;
                *pi -= lr * *vi;
            }
            k += 1;
        });
        self.t += 1;
    }

    fn learning_rate(&self) -> f64 {
        self.lr * self.schedule.factor(self.t)
    }
}

/// Adam (Kingma & Ba 2015) with bias correction and a learning-rate schedule.
#[derive(Clone, Debug)]
pub struct Adam<T> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    schedule: LrSchedule,
    t: usize,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
}

impl<T: Float> Adam<T> {
    /// Adam with learning rate `lr`, `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`.
    ///
    /// # Errors
    /// If `lr` is not positive and finite.
    pub fn new(lr: f64) -> Result<Self> {
        check_lr(lr)?;
        Ok(Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            schedule: LrSchedule::Constant,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        })
    }

    /// Sets `beta1`, `beta2` and `eps`.
    ///
    /// # Errors
    /// Betas outside `[0, 1)` or `eps` not positive.
    pub fn with_betas(mut self, beta1: f64, beta2: f64, eps: f64) -> Result<Self> {
        for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(CnnError::InvalidParameter {
                    name,
                    value: b.to_string(),
                    allowed: "it must lie in [0, 1)",
                });
            }
        }
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(CnnError::InvalidParameter {
                name: "eps",
                value: eps.to_string(),
                allowed: "it must be positive",
            });
        }
        (self.beta1, self.beta2, self.eps) = (beta1, beta2, eps);
        Ok(self)
    }

    /// Uses a learning-rate schedule.
    #[must_use]
    pub fn with_schedule(mut self, s: LrSchedule) -> Self {
        self.schedule = s;
        self
    }

    /// The learning rate at step `t` (0-based).
    #[must_use]
    pub fn learning_rate_at(&self, t: usize) -> f64 {
        self.lr * self.schedule.factor(t)
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, model: &mut dyn Layer<T>) {
        let lr = self.learning_rate();
        self.t += 1;
        let t = self.t as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        // Bias corrections folded into the step size and eps (exactly the textbook update).
        let c1 = 1.0 - b1.powi(t);
        let c2 = 1.0 - b2.powi(t);
        let (tb1, tb2) = (T::of(b1), T::of(b2));
        let (ob1, ob2) = (T::of(1.0 - b1), T::of(1.0 - b2));
        let step = T::of(lr / c1);
        let inv_c2 = T::of(1.0 / c2);
        let eps = T::of(self.eps);
        let (ms, vs) = (&mut self.m, &mut self.v);
        let mut k = 0;
        model.visit_params(&mut |p, g| {
            if ms.len() <= k {
                ms.push(vec![T::zero(); p.len()]);
                vs.push(vec![T::zero(); p.len()]);
            }
            for (((pi, &gi), mi), vi) in p
                .iter_mut()
                .zip(g.iter())
                .zip(ms[k].iter_mut())
                .zip(vs[k].iter_mut())
            {
                *mi = tb1 * *mi + ob1 * gi;
                *vi = tb2 * *vi + ob2 * gi * gi;
                *pi -= step * *mi / ((*vi * inv_c2).sqrt() + eps);
            }
            k += 1;
        });
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate_at(self.t)
    }
}

/// Limited-memory BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo line
/// search, on a flat `f64` parameter vector. Deterministic; meant for full-batch fits of small
/// models, where it converges in far fewer evaluations than Adam.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lbfgs {
    /// Number of `(s, y)` pairs kept.
    pub history: usize,
    /// Maximum number of iterations.
    pub max_iter: usize,
    /// Stop when `|grad|_inf <= grad_tol`.
    pub grad_tol: f64,
    /// Stop when the loss decreases by less than `loss_tol * max(1, |loss|)` in an iteration.
    pub loss_tol: f64,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Lbfgs {
            history: 10,
            max_iter: 200,
            grad_tol: 1e-12,
            loss_tol: 1e-15,
        }
    }
}

/// Outcome of [`Lbfgs::minimize`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LbfgsReport {
    /// Iterations done.
    pub iterations: usize,
    /// Loss evaluations done.
    pub evaluations: usize,
    /// Final loss.
    pub loss: f64,
    /// Final `|grad|_inf`.
    pub grad_norm: f64,
    /// Loss after each iteration (the first entry is the initial loss).
    pub history: Vec<f64>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Lbfgs {
    /// Minimises `f` from `x` (overwritten with the minimiser). `f(x, grad)` returns the loss
    /// and writes its gradient.
    ///
    /// # Errors
    /// If `history` or `max_iter` is zero, or the loss is not finite at the start.
    pub fn minimize(
        &self,
        x: &mut [f64],
        mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    ) -> Result<LbfgsReport> {
        if self.history == 0 {
            return Err(CnnError::InvalidParameter {
                name: "history",
                value: "0".into(),
                allowed: "L-BFGS needs at least one correction pair",
            });
        }
        if self.max_iter == 0 {
            return Err(CnnError::InvalidParameter {
                name: "max_iter",
                value: "0".into(),
                allowed: "it must be at least 1",
            });
        }
        let n = x.len();
        let mut g = vec![0.0; n];
        let mut loss = f(x, &mut g);
        let mut evals = 1;
        if !loss.is_finite() {
            return Err(CnnError::NonFinite {
                epoch: 0,
                step: 0,
                value: loss,
            });
        }
        let mut hist = vec![loss];
        let mut s_list: Vec<Vec<f64>> = Vec::new();
        let mut y_list: Vec<Vec<f64>> = Vec::new();
        let mut rho: Vec<f64> = Vec::new();
        let mut d = vec![0.0; n];
        let mut x_new = vec![0.0; n];
        let mut g_new = vec![0.0; n];
        let mut alpha = vec![0.0; self.history];
        let mut iterations = 0;
        let gnorm = |g: &[f64]| g.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        while iterations < self.max_iter && gnorm(&g) > self.grad_tol {
            // Two-loop recursion: d = -H g.
            d.copy_from_slice(&g);
            for i in (0..s_list.len()).rev() {
                alpha[i] = rho[i] * dot(&s_list[i], &d);
                for (dj, yj) in d.iter_mut().zip(&y_list[i]) {
                    *dj -= alpha[i] * yj;
                }
            }
            let gamma = match (s_list.last(), y_list.last()) {
                (Some(s), Some(y)) => dot(s, y) / dot(y, y),
                _ => 1.0 / gnorm(&g).max(1e-300),
            };
            for dj in &mut d {
                *dj *= gamma;
            }
            for i in 0..s_list.len() {
                let beta = rho[i] * dot(&y_list[i], &d);
                for (dj, sj) in d.iter_mut().zip(&s_list[i]) {
                    *dj += (alpha[i] - beta) * sj;
                }
            }
            for dj in &mut d {
                *dj = -*dj;
            }
            let mut slope = dot(&g, &d);
            if slope >= 0.0 {
                // Not a descent direction (curvature lost to rounding): restart along -g.
                s_list.clear();
                y_list.clear();
                rho.clear();
                for (dj, gj) in d.iter_mut().zip(&g) {
                    *dj = -gj;
                }
                slope = dot(&g, &d);
            }
            // Backtracking Armijo search.
            let mut step = 1.0;
            let mut accepted = None;
            for _ in 0..60 {
                for ((xn, xo), dj) in x_new.iter_mut().zip(x.iter()).zip(&d) {
                    *xn = xo + step * dj;
                }
                let l = f(&x_new, &mut g_new);
                evals += 1;
                if l.is_finite() && l <= loss + 1e-4 * step * slope {
                    accepted = Some(l);
                    break;
                }
                step *= 0.5;
            }
            let Some(l_new) = accepted else { break };
            iterations += 1;
            let s: Vec<f64> = x_new.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
            let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
            let sy = dot(&s, &y);
            let decrease = loss - l_new;
            x.copy_from_slice(&x_new);
            g.copy_from_slice(&g_new);
            loss = l_new;
            hist.push(loss);
            if sy > 1e-300 {
                if s_list.len() == self.history {
                    s_list.remove(0);
                    y_list.remove(0);
                    rho.remove(0);
                }
                s_list.push(s);
                y_list.push(y);
                rho.push(1.0 / sy);
            }
            if decrease <= self.loss_tol * loss.abs().max(1.0) {
                break;
            }
        }
        Ok(LbfgsReport {
            iterations,
            evaluations: evals,
            loss,
            grad_norm: gnorm(&g),
            history: hist,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lbfgs_rosenbrock() {
        // The Rosenbrock valley: minimum 0 at (1, 1); a standard test of quasi-Newton methods.
        let mut x = [-1.2, 1.0];
        let rep = Lbfgs {
            max_iter: 500,
            ..Lbfgs::default()
        }
        .minimize(&mut x, |x, g| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        })
        .unwrap();
        // Converged to rounding: the minimiser is known exactly.
        assert!(
            (x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6,
            "{x:?} {rep:?}"
        );
    }

    #[test]
    fn schedules() {
        let s = LrSchedule::Step {
            every: 10,
            gamma: 0.5,
        };
        assert_eq!(s.factor(9), 1.0);
        assert_eq!(s.factor(10), 0.5);
        let c = LrSchedule::Cosine {
            total_steps: 100,
            min_factor: 0.1,
        };
        assert!((c.factor(0) - 1.0).abs() < 1e-15);
        assert!((c.factor(50) - 0.55).abs() < 1e-15);
        assert!((c.factor(200) - 0.1).abs() < 1e-15);
        assert!(LrSchedule::Exponential { gamma: 1.5 }.validate().is_err());
    }

    #[test]
    fn bad_learning_rates_are_typed_errors() {
        for lr in [0.0, -1e-3, f64::NAN, f64::INFINITY] {
            let e = Adam::<f64>::new(lr).unwrap_err().to_string();
            assert!(e.contains("learning_rate") && e.contains("positive"), "{e}");
            assert!(Sgd::<f32>::new(lr, 0.9).is_err());
        }
    }
}
