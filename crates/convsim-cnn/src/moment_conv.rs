//! `MomentConv2d`: a single-channel convolution whose trainable parameters are moments of its
//! kernel (PDE-Net). See [`crate::moments`] for the moment conventions.
//!
//! ```
//! use convsim_cnn::moments::{MomentConstraint, MomentStencil};
//! use convsim_cnn::{Layer, MomentConv2d};
//! use convsim_core::Boundary;
//! use ndarray::Array2;
//! // A 3x3 step kernel with mass m00 = 1 held and only the diffusion moments m20, m02 learned.
//! let mut target = Array2::zeros((3, 3));
//! target[[0, 0]] = 1.0;
//! target[[2, 0]] = 0.1;
//! target[[0, 2]] = 0.1;
//! let st = MomentStencil::new(target, [1, 1], [1.0, 1.0], &MomentConstraint::Learn(vec![[2, 0], [0, 2]])).unwrap();
//! let layer = MomentConv2d::<f64>::new(st, Boundary::Periodic).unwrap();
//! assert_eq!(layer.num_params(), 2);
//! assert_eq!(layer.learned_moments(), vec![([2, 0], 0.1), ([0, 2], 0.1)]);
//! ```

use ndarray::{Array2, Array4, ArrayView4};

use convsim_core::Boundary;

use crate::conv::ConvCore;
use crate::layer::zeros4;
use crate::moments::MomentStencil;
use crate::{CnnError, Conv2dConfig, Float, Layer, Result, Shape4};

/// A `1 -> 1` channel correlation with kernel `W(theta) = W_fixed + sum_l theta_l B_l`
/// (see [`MomentStencil`]); the parameters `theta` are the learned moments.
#[derive(Debug)]
pub struct MomentConv2d<T> {
    stencil: MomentStencil,
    theta: Vec<T>,
    grad_theta: Vec<T>,
    core: ConvCore<T>,
    w: Array4<T>,
    gw: Array4<T>,
}

impl<T: Float> MomentConv2d<T> {
    /// A layer starting from the stencil's target moments, with `boundary` on all sides and
    /// `Same` output.
    ///
    /// # Errors
    /// A stencil not anchored at its centre `(kh / 2, kw / 2)` (the layer's `Same` geometry).
    pub fn new(stencil: MomentStencil, boundary: Boundary) -> Result<Self> {
        let [kh, kw] = stencil.shape();
        if stencil.anchor() != [kh / 2, kw / 2] {
            return Err(CnnError::InvalidParameter {
                name: "anchor",
                value: format!("{:?}", stencil.anchor()),
                allowed: "a moment layer's stencil must be anchored at its centre (kh/2, kw/2)",
            });
        }
        let cfg = Conv2dConfig::new(1, 1, kh)
            .kernel(kh, kw)
            .bias(false)
            .boundary(boundary);
        let theta: Vec<T> = stencil.initial_theta().into_iter().map(T::of).collect();
        Ok(MomentConv2d {
            grad_theta: vec![T::zero(); theta.len()],
            theta,
            core: ConvCore::new(cfg)?,
            w: zeros4([1, 1, kh, kw]),
            gw: zeros4([1, 1, kh, kw]),
            stencil,
        })
    }

    /// The parameterisation.
    #[must_use]
    pub fn stencil(&self) -> &MomentStencil {
        &self.stencil
    }

    fn theta_f64(&self) -> Vec<f64> {
        self.theta.iter().map(|v| v.to_f64_lossless()).collect()
    }

    /// The current kernel.
    #[must_use]
    pub fn kernel(&self) -> Array2<f64> {
        self.stencil.kernel(&self.theta_f64())
    }

    /// The current full moment matrix.
    #[must_use]
    pub fn moments(&self) -> Array2<f64> {
        self.stencil.moments(&self.theta_f64())
    }

    /// The learned moments with their current values.
    #[must_use]
    pub fn learned_moments(&self) -> Vec<([usize; 2], f64)> {
        self.stencil
            .learned()
            .iter()
            .copied()
            .zip(self.theta_f64())
            .collect()
    }
}

impl<T: Float> Layer<T> for MomentConv2d<T> {
    fn describe(&self) -> String {
        let [kh, kw] = self.stencil.shape();
        format!(
            "moment-conv {kh}x{kw} learning {:?}",
            self.stencil.learned()
        )
    }

    fn output_shape(&self, input: Shape4) -> Result<Shape4> {
        self.core.cfg.output_shape(input)
    }

    fn forward(&mut self, x: ArrayView4<'_, T>) -> Result<()> {
        let k = self.kernel();
        for ((a, b), v) in k.indexed_iter() {
            self.w[[0, 0, a, b]] = T::of(*v);
        }
        self.core.forward(x, self.w.view(), None)
    }

    fn output(&self) -> ArrayView4<'_, T> {
        self.core.output()
    }

    fn backward(&mut self, x: ArrayView4<'_, T>, g: ArrayView4<'_, T>, need: bool) {
        self.gw.fill(T::zero());
        self.core
            .backward(x, g, self.w.view(), need, Some(self.gw.view_mut()), None);
        let gk = self
            .gw
            .index_axis(ndarray::Axis(0), 0)
            .index_axis(ndarray::Axis(0), 0)
            .mapv(Float::to_f64_lossless);
        for (acc, d) in self
            .grad_theta
            .iter_mut()
            .zip(self.stencil.theta_grad(gk.view()))
        {
            *acc += T::of(d);
        }
    }

    fn input_grad(&self) -> ArrayView4<'_, T> {
        self.core.input_grad()
    }

    fn num_params(&self) -> usize {
        self.theta.len()
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &mut [T])) {
        if !self.theta.is_empty() {
            f(&mut self.theta, &mut self.grad_theta);
        }
    }
}
