//! `Sequential`: layers applied one after the other.

use ndarray::ArrayView4;

use crate::{CnnError, Float, Layer, Result, Shape4};

/// Layers applied in order; itself a [`Layer`].
///
/// Each layer reads the previous layer's output buffer directly (no copies), and `backward`
/// walks the layers in reverse, handing each one the next layer's input gradient.
///
/// ```
/// use convsim_cnn::{Activation, ActivationKind, Conv2d, Conv2dConfig, Layer, Sequential};
/// use ndarray::Array4;
/// let mut net = Sequential::<f32>::new(vec![
///     Box::new(Conv2d::new(Conv2dConfig::new(1, 4, 3), 0).unwrap()),
///     Box::new(Activation::new(ActivationKind::Tanh)),
///     Box::new(Conv2d::new(Conv2dConfig::new(4, 1, 3), 1).unwrap()),
/// ]).unwrap();
/// assert_eq!(net.num_params(), (4 * 9 + 4) + (4 * 9 + 1));
/// let x = Array4::<f32>::ones((2, 1, 8, 8));
/// net.forward(x.view()).unwrap();
/// assert_eq!(net.output().dim(), (2, 1, 8, 8));
/// ```
pub struct Sequential<T> {
    layers: Vec<Box<dyn Layer<T>>>,
}

impl<T: Float> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.layers.iter().map(|l| l.describe()))
            .finish()
    }
}

impl<T: Float> Sequential<T> {
    /// A model from its layers.
    ///
    /// # Errors
    /// If `layers` is empty.
    pub fn new(layers: Vec<Box<dyn Layer<T>>>) -> Result<Self> {
        if layers.is_empty() {
            return Err(CnnError::InvalidParameter {
                name: "layers",
                value: "[]".into(),
                allowed: "a sequential model needs at least one layer",
            });
        }
        Ok(Sequential { layers })
    }

    /// The layers.
    #[must_use]
    pub fn layers(&self) -> &[Box<dyn Layer<T>>] {
        &self.layers
    }

    /// The layers, mutably.
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer<T>>] {
        &mut self.layers
    }
}

impl<T: Float> Layer<T> for Sequential<T> {
    fn describe(&self) -> String {
        self.layers
            .iter()
            .map(|l| l.describe())
            .collect::<Vec<_>>()
            .join(" -> ")
    }

    fn output_shape(&self, input: Shape4) -> Result<Shape4> {
        self.layers.iter().try_fold(input, |s, l| l.output_shape(s))
    }

    fn forward(&mut self, x: ArrayView4<'_, T>) -> Result<()> {
        self.layers[0].forward(x)?;
        for i in 1..self.layers.len() {
            let (done, rest) = self.layers.split_at_mut(i);
            rest[0].forward(done[i - 1].output())?;
        }
        Ok(())
    }

    fn output(&self) -> ArrayView4<'_, T> {
        self.layers.last().expect("non-empty").output()
    }

    fn backward(
        &mut self,
        x: ArrayView4<'_, T>,
        grad_out: ArrayView4<'_, T>,
        need_input_grad: bool,
    ) {
        let n = self.layers.len();
        for i in (0..n).rev() {
            let (upto, after) = self.layers.split_at_mut(i + 1);
            let (before, cur) = upto.split_at_mut(i);
            let input = if i == 0 {
                x.view()
            } else {
                before[i - 1].output()
            };
            let g = if i + 1 == n {
                grad_out.view()
            } else {
                after[0].input_grad()
            };
            cur[0].backward(input, g, i > 0 || need_input_grad);
        }
    }

    fn input_grad(&self) -> ArrayView4<'_, T> {
        self.layers[0].input_grad()
    }

    fn num_params(&self) -> usize {
        self.layers.iter().map(|l| l.num_params()).sum()
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &mut [T])) {
        for l in &mut self.layers {
            l.visit_params(f);
        }
    }
}
