//! The [`Layer`] trait every layer and model implements, and the per-shape buffer cache behind
//! "allocate once per shape".
//!
//! Data is `(n, c, h, w)`: batch, channel, row `y`, column `x` (the core's axis order).
//!
//! A layer keeps what `backward` needs from the last `forward`: its output (in a buffer it owns)
//! and, where needed, small derived arrays. The input is *not* copied: `backward` is given the
//! same input again, so a [`crate::Sequential`] model passes each layer the previous layer's
//! output buffer without copies.
//!
//! Parameter gradients **accumulate** (`+=`) across `backward` calls until
//! [`Layer::zero_grad`], as in PyTorch; that is what a k-step rollout and gradient
//! accumulation over batches need.

use ndarray::{Array4, ArrayView4};

use crate::{Float, Result};

/// `(n, c, h, w)`.
pub type Shape4 = [usize; 4];

/// A differentiable map from `(n, c_in, h, w)` to `(n, c_out, h', w')` arrays.
pub trait Layer<T: Float>: Send {
    /// A one-line description (`conv2d 1->16 3x3 ...`).
    fn describe(&self) -> String;

    /// Output shape for an input shape.
    ///
    /// # Errors
    /// If the layer cannot take inputs of this shape (channel count, kernel larger than the
    /// grid, empty output).
    fn output_shape(&self, input: Shape4) -> Result<Shape4>;

    /// Computes the output of `x` into the layer's own buffer (see [`Layer::output`]) and keeps
    /// what `backward` needs. Buffers and plans are built on the first call for each input shape
    /// (a few shapes are kept, so alternating batch sizes do not rebuild).
    ///
    /// # Errors
    /// As [`Layer::output_shape`].
    fn forward(&mut self, x: ArrayView4<'_, T>) -> Result<()>;

    /// The output of the last `forward`.
    ///
    /// # Panics
    /// If `forward` has not been called.
    fn output(&self) -> ArrayView4<'_, T>;

    /// Back-propagates `grad_out = dL/d(output)` of the last `forward`, which must have been
    /// called with the same `x`: adds `dL/d(parameters)` to the parameter gradients and, if
    /// `need_input_grad`, writes `dL/dx` into the buffer returned by [`Layer::input_grad`].
    ///
    /// # Panics
    /// If `x` or `grad_out` do not have the shapes of the last `forward`.
    fn backward(
        &mut self,
        x: ArrayView4<'_, T>,
        grad_out: ArrayView4<'_, T>,
        need_input_grad: bool,
    );

    /// `dL/dx` from the last `backward` with `need_input_grad`.
    ///
    /// # Panics
    /// If no such `backward` has run.
    fn input_grad(&self) -> ArrayView4<'_, T>;

    /// Number of trainable scalars.
    fn num_params(&self) -> usize;

    /// Visits every trainable tensor as `(values, gradients)` flat slices, always in the same
    /// order (optimisers key their state on it).
    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &mut [T]));

    /// Sets every parameter gradient to zero.
    fn zero_grad(&mut self) {
        self.visit_params(&mut |_, g| g.fill(T::zero()));
    }
}

/// Copies every parameter into one flat vector (visit order).
pub fn params_to_vec<T: Float>(layer: &mut dyn Layer<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(layer.num_params());
    layer.visit_params(&mut |p, _| out.extend_from_slice(p));
    out
}

/// Copies every gradient into `out` (visit order).
///
/// # Panics
/// If `out.len()` differs from [`Layer::num_params`].
pub fn grads_into<T: Float>(layer: &mut dyn Layer<T>, out: &mut [T]) {
    assert_eq!(out.len(), layer.num_params(), "grads_into: length");
    let mut at = 0;
    layer.visit_params(&mut |_, g| {
        out[at..at + g.len()].copy_from_slice(g);
        at += g.len();
    });
}

/// Sets every parameter from a flat vector (visit order).
///
/// # Panics
/// If `v.len()` differs from [`Layer::num_params`].
pub fn set_params<T: Float>(layer: &mut dyn Layer<T>, v: &[T]) {
    assert_eq!(v.len(), layer.num_params(), "set_params: length");
    let mut at = 0;
    layer.visit_params(&mut |p, _| {
        p.copy_from_slice(&v[at..at + p.len()]);
        at += p.len();
    });
}

/// Buffers and plans of a layer for one input shape, kept for the few most recent shapes.
#[derive(Debug)]
pub(crate) struct ShapeCache<S> {
    /// Most recently used first.
    entries: Vec<(Shape4, S)>,
}

/// How many input shapes a layer keeps state for (full batch, last partial batch, validation
/// batch, a rollout's single sample).
const CACHE_SHAPES: usize = 4;

impl<S> Default for ShapeCache<S> {
    fn default() -> Self {
        ShapeCache {
            entries: Vec::new(),
        }
    }
}

impl<S> ShapeCache<S> {
    /// The state for `shape`, built with `make` if absent; it becomes the current state.
    pub(crate) fn bind(
        &mut self,
        shape: Shape4,
        make: impl FnOnce() -> Result<S>,
    ) -> Result<&mut S> {
        if let Some(pos) = self.entries.iter().position(|(s, _)| *s == shape) {
            if pos != 0 {
                let e = self.entries.remove(pos);
                self.entries.insert(0, e);
            }
        } else {
            let st = make()?;
            self.entries.insert(0, (shape, st));
            self.entries.truncate(CACHE_SHAPES);
        }
        Ok(&mut self.entries[0].1)
    }

    /// The state of the last `bind`.
    ///
    /// # Panics
    /// If nothing was bound yet.
    pub(crate) fn current(&self) -> &S {
        &self.entries.first().expect("layer used before forward").1
    }

    /// Mutable state of the last `bind`, checking its input shape.
    ///
    /// # Panics
    /// If nothing was bound yet or `shape` differs from the last bound shape.
    pub(crate) fn current_mut(&mut self, shape: Shape4, what: &str) -> &mut S {
        let (s, st) = self
            .entries
            .first_mut()
            .expect("backward called before forward");
        assert_eq!(
            *s, shape,
            "{what}: backward input shape differs from the last forward (expected, actual)"
        );
        st
    }
}

/// Shape of a 4D view as an array.
pub(crate) fn shape4<T>(a: &ArrayView4<'_, T>) -> Shape4 {
    let (n, c, h, w) = a.dim();
    [n, c, h, w]
}

/// A zeroed 4D array.
pub(crate) fn zeros4<T: Float>(s: Shape4) -> Array4<T> {
    Array4::zeros((s[0], s[1], s[2], s[3]))
}
