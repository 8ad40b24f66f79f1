//! Losses: mean squared error after one step, and after a `k`-step rollout with
//! back-propagation through the rollout.
//!
//! A rollout applies the model `k` times, feeding each output back as input. When the model
//! takes `history` time levels as channels (`c_in = history * c_out`, oldest first, e.g. the two
//! time levels of a wave equation), the next input drops the oldest level and appends the new
//! output. Backward recomputes each step's forward from the stored inputs (checkpointing: memory
//! `O(k)` inputs instead of every layer's activations `k` times) and is exact.
//!
//! ```
//! use convsim_cnn::loss::{Loss, LossEvaluator};
//! use convsim_cnn::{Conv2d, Conv2dConfig, Layer};
//! use convsim_core::Boundary;
//! use ndarray::{Array1, Array4};
//! // The identity conv rolled out 3 steps reproduces its input: zero loss.
//! let mut w = Array4::zeros((1, 1, 3, 3));
//! w[[0, 0, 1, 1]] = 1.0;
//! let cfg = Conv2dConfig::new(1, 1, 3).boundary(Boundary::Periodic);
//! let mut id = Conv2d::<f64>::with_weights(cfg, w, None).unwrap();
//! let x = Array4::from_shape_fn((2, 1, 5, 5), |(n, _, i, j)| (n + i * j) as f64);
//! let mut ev = LossEvaluator::new(Loss::Rollout { steps: 3 });
//! let l = ev.loss_and_grad(&mut id, x.view(), x.view(), 1.0).unwrap();
//! assert_eq!(l, 0.0);
//! ```

use ndarray::{Array4, ArrayView4, ArrayViewMut4, Axis, Zip, s};
use serde::{Deserialize, Serialize};

use crate::layer::{shape4, zeros4};
use crate::{CnnError, Float, Layer, Result, Shape4};

/// Which loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Loss {
    /// `mean((model(x) - y)^2)`.
    #[default]
    Mse,
    /// `mean((model^k(x) - y)^2)`: the model rolled out `steps` times.
    Rollout {
        /// `k >= 1`.
        steps: usize,
    },
}

impl Loss {
    /// Number of model applications.
    #[must_use]
    pub fn steps(&self) -> usize {
        match *self {
            Loss::Mse => 1,
            Loss::Rollout { steps } => steps,
        }
    }
}

/// `mean((pred - target)^2)` accumulated in `f64`; if `grad` is given, writes
/// `weight * d/dpred = weight * 2 (pred - target) / len` into it.
///
/// # Panics
/// If the shapes differ.
#[must_use = "the loss value"]
pub fn mse<T: Float>(
    pred: ArrayView4<'_, T>,
    target: ArrayView4<'_, T>,
    grad: Option<ArrayViewMut4<'_, T>>,
    weight: f64,
) -> f64 {
    assert_eq!(
        pred.dim(),
        target.dim(),
        "mse: prediction and target shapes"
    );
    let n = pred.len() as f64;
    let sum: f64 = Zip::from(pred.rows())
        .and(target.rows())
        .fold(0.0, |acc, pr, tr| {
            acc + pr
                .iter()
                .zip(tr.iter())
                .map(|(&p, &t)| {
                    let d = (p - t).to_f64_lossless();
                    d * d
                })
                .sum::<f64>()
        });
    if let Some(mut g) = grad {
        let c = T::of(2.0 * weight / n);
        Zip::from(&mut g)
            .and(&pred)
            .and(&target)
            .par_for_each(|g, &p, &t| *g = c * (p - t));
    }
    sum / n
}

/// Evaluates a [`Loss`] and back-propagates it, with buffers kept across calls (rebuilt only
/// when the batch shape changes).
#[derive(Debug)]
pub struct LossEvaluator<T> {
    loss: Loss,
    shape: Option<Shape4>,
    states: Vec<Array4<T>>,
    grad_out: Array4<T>,
    grad_state: Array4<T>,
}

impl<T: Float> LossEvaluator<T> {
    /// An evaluator for `loss`.
    #[must_use]
    pub fn new(loss: Loss) -> Self {
        LossEvaluator {
            loss,
            shape: None,
            states: Vec::new(),
            grad_out: Array4::zeros((0, 0, 0, 0)),
            grad_state: Array4::zeros((0, 0, 0, 0)),
        }
    }

    /// The loss.
    #[must_use]
    pub fn loss(&self) -> Loss {
        self.loss
    }

    fn check(&self, model: &dyn Layer<T>, x: Shape4, y: Shape4) -> Result<Shape4> {
        let steps = self.loss.steps();
        if steps == 0 {
            return Err(CnnError::InvalidParameter {
                name: "rollout.steps",
                value: "0".into(),
                allowed: "a rollout needs at least 1 step",
            });
        }
        let out = model.output_shape(x)?;
        if out != y {
            return Err(CnnError::Shape {
                what: "targets",
                actual: y.to_vec(),
                expected: format!("{out:?}, the model's output for inputs {x:?}"),
            });
        }
        if steps > 1 && (out[2..] != x[2..] || out[1] == 0 || !x[1].is_multiple_of(out[1])) {
            return Err(CnnError::Channels {
                layer: "rollout".into(),
                detail: format!(
                    "a rollout feeds outputs {out:?} back as inputs {x:?}: the grid must be kept and \
                     the input channels must be a whole number of output time levels"
                ),
            });
        }
        Ok(out)
    }

    fn buffers(&mut self, x: Shape4, out: Shape4) {
        if self.shape != Some(x) {
            self.states = (0..self.loss.steps()).map(|_| zeros4(x)).collect();
            self.grad_out = zeros4(out);
            self.grad_state = zeros4(x);
            self.shape = Some(x);
        }
    }

    /// The loss of `model` on `(x, y)` without gradients.
    ///
    /// # Errors
    /// Shapes that do not fit the model or the rollout.
    pub fn loss_only(
        &mut self,
        model: &mut dyn Layer<T>,
        x: ArrayView4<'_, T>,
        y: ArrayView4<'_, T>,
    ) -> Result<f64> {
        let xs = shape4(&x);
        let out = self.check(model, xs, shape4(&y))?;
        self.buffers(xs, out);
        self.rollout_forward(model, x)?;
        Ok(mse(model.output(), y, None, 1.0))
    }

    fn rollout_forward(&mut self, model: &mut dyn Layer<T>, x: ArrayView4<'_, T>) -> Result<()> {
        let steps = self.loss.steps();
        if steps == 1 {
            return model.forward(x);
        }
        self.states[0].assign(&x);
        for j in 0..steps {
            model.forward(self.states[j].view())?;
            if j + 1 < steps {
                let (a, b) = self.states.split_at_mut(j + 1);
                shift_in(a[j].view(), model.output(), b[0].view_mut());
            }
        }
        Ok(())
    }

    /// The loss of `model` on `(x, y)`; adds `weight * dL/dtheta` to the model's parameter
    /// gradients (so batches of a data set can be accumulated with weights `n_b / n`).
    ///
    /// # Errors
    /// Shapes that do not fit the model or the rollout.
    pub fn loss_and_grad(
        &mut self,
        model: &mut dyn Layer<T>,
        x: ArrayView4<'_, T>,
        y: ArrayView4<'_, T>,
        weight: f64,
    ) -> Result<f64> {
        let xs = shape4(&x);
        let out = self.check(model, xs, shape4(&y))?;
        self.buffers(xs, out);
        self.rollout_forward(model, x)?;
        let l = mse(model.output(), y, Some(self.grad_out.view_mut()), weight);
        let steps = self.loss.steps();
        if steps == 1 {
            model.backward(x, self.grad_out.view(), false);
            return Ok(l);
        }
        // grad_state holds dL/d(state_{j+1}); its last c_out channels are dL/d(out_j).
        let (c_in, c_out) = (xs[1], out[1]);
        self.grad_state.fill(T::zero());
        self.grad_state
            .slice_mut(s![.., c_in - c_out.., .., ..])
            .assign(&self.grad_out);
        for j in (0..steps).rev() {
            if j + 1 < steps {
                model.forward(self.states[j].view())?;
            }
            self.grad_out
                .assign(&self.grad_state.slice(s![.., c_in - c_out.., .., ..]));
            model.backward(self.states[j].view(), self.grad_out.view(), j > 0);
            if j > 0 {
                // dL/d(state_j) = model input grad + the adjoint of the history shift.
                let keep = c_in - c_out;
                for c in (0..keep).rev() {
                    // Channel c moves to c + c_out (descending, so no source is overwritten).
                    let (lo, mut hi) = self.grad_state.view_mut().split_at(Axis(1), c + 1);
                    hi.index_axis_mut(Axis(1), c_out - 1)
                        .assign(&lo.index_axis(Axis(1), c));
                }
                for c in 0..c_out.min(c_in) {
                    self.grad_state.index_axis_mut(Axis(1), c).fill(T::zero());
                }
                self.grad_state += &model.input_grad();
            }
        }
        Ok(l)
    }
}

/// `next = (state[c_out..], out)` along the channel axis.
fn shift_in<T: Float>(
    state: ArrayView4<'_, T>,
    out: ArrayView4<'_, T>,
    mut next: ArrayViewMut4<'_, T>,
) {
    let c_in = state.dim().1;
    let c_out = out.dim().1;
    let keep = c_in - c_out;
    next.slice_mut(s![.., ..keep, .., ..])
        .assign(&state.slice(s![.., c_out.., .., ..]));
    next.slice_mut(s![.., keep.., .., ..]).assign(&out);
}
