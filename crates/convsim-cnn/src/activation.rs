//! Element-wise activations: `ReLU`, `tanh`, `GELU`.

use convsim_core::{Isa, Simd};
use ndarray::{Array4, ArrayView4, Zip};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::layer::{ShapeCache, shape4, zeros4};
use crate::scalar::erf;
use crate::{Float, Layer, Result, Shape4};

/// Which element-wise function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationKind {
    /// `max(x, 0)`; the derivative at 0 is taken as 0 (PyTorch's choice).
    Relu,
    /// `tanh(x)` (a rational approximation accurate to 4e-7 in `f32`, libm in `f64`).
    Tanh,
    /// `x Phi(x)` with the exact normal CDF `Phi` (PyTorch's `GELU()` default, not the tanh
    /// approximation).
    Gelu,
}

impl ActivationKind {
    fn name(self) -> &'static str {
        match self {
            ActivationKind::Relu => "relu",
            ActivationKind::Tanh => "tanh",
            ActivationKind::Gelu => "gelu",
        }
    }
}

#[derive(Debug)]
struct State<T> {
    y: Array4<T>,
    gx: Array4<T>,
}

/// An element-wise activation layer.
///
/// ```
/// use convsim_cnn::{Activation, ActivationKind, Layer};
/// use ndarray::Array4;
/// let mut relu = Activation::<f64>::new(ActivationKind::Relu);
/// let x = Array4::from_shape_vec((1, 1, 1, 3), vec![-1.0, 0.5, 2.0]).unwrap();
/// relu.forward(x.view()).unwrap();
/// assert_eq!(relu.output().iter().copied().collect::<Vec<_>>(), [0.0, 0.5, 2.0]);
/// ```
#[derive(Debug)]
pub struct Activation<T> {
    kind: ActivationKind,
    /// Instruction set of the element-wise loops, chosen once ([`Activation::simd`]).
    isa: Isa,
    cache: ShapeCache<State<T>>,
}

impl<T: Float> Activation<T> {
    /// A new activation layer, on the best instruction set of the machine.
    #[must_use]
    pub fn new(kind: ActivationKind) -> Self {
        Activation {
            kind,
            isa: Isa::detect_up_to(Simd::Best).at_most_avx2(),
            cache: ShapeCache::default(),
        }
    }

    /// The widest instruction set the element-wise loops may use (default [`Simd::Best`]; only
    /// `f32` `tanh` has a vector path). `Simd::Portable` does not fuse multiply-adds, so its
    /// `tanh` differs from the AVX2+FMA one by rounding (a few ulp).
    #[must_use]
    pub fn simd(mut self, s: Simd) -> Self {
        self.isa = Isa::detect_up_to(s).at_most_avx2();
        self
    }

    /// The instruction set chosen.
    #[must_use]
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The function.
    #[must_use]
    pub fn kind(&self) -> ActivationKind {
        self.kind
    }
}

/// Standard normal CDF and density.
fn phi_cdf_pdf(x: f64) -> (f64, f64) {
    let cdf = 0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2));
    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (cdf, pdf)
}

/// Rows of work per rayon task: large enough to amortise scheduling.
const CHUNK: usize = 1 << 14;

impl<T: Float> Layer<T> for Activation<T> {
    fn describe(&self) -> String {
        self.kind.name().to_string()
    }

    fn output_shape(&self, input: Shape4) -> Result<Shape4> {
        Ok(input)
    }

    fn forward(&mut self, x: ArrayView4<'_, T>) -> Result<()> {
        let s = shape4(&x);
        let st = self.cache.bind(s, || {
            Ok(State {
                y: zeros4(s),
                gx: zeros4(s),
            })
        })?;
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout");
        let ys = st.y.as_slice_mut().expect("own buffer is contiguous");
        let (kind, isa) = (self.kind, self.isa);
        ys.par_chunks_mut(CHUNK)
            .zip(xs.par_chunks(CHUNK))
            .for_each(|(yc, xc)| match kind {
                ActivationKind::Relu => {
                    for (o, &v) in yc.iter_mut().zip(xc) {
                        *o = if v > T::zero() { v } else { T::zero() };
                    }
                }
                // SAFETY: `isa` came from `Isa::detect_up_to` (`new`, `simd`).
                ActivationKind::Tanh => unsafe { T::tanh_slice(isa, xc, yc) },
                ActivationKind::Gelu => {
                    for (o, &v) in yc.iter_mut().zip(xc) {
                        let v = v.to_f64_lossless();
                        *o = T::of(v * phi_cdf_pdf(v).0);
                    }
                }
            });
        Ok(())
    }

    fn output(&self) -> ArrayView4<'_, T> {
        self.cache.current().y.view()
    }

    fn backward(
        &mut self,
        x: ArrayView4<'_, T>,
        grad_out: ArrayView4<'_, T>,
        need_input_grad: bool,
    ) {
        if !need_input_grad {
            return;
        }
        let s = shape4(&x);
        assert_eq!(shape4(&grad_out), s, "activation backward: grad_out shape");
        let kind = self.kind;
        let st = self.cache.current_mut(s, "activation");
        let one = T::one();
        match kind {
            ActivationKind::Relu => Zip::from(&mut st.gx)
                .and(&x)
                .and(&grad_out)
                .par_for_each(|g, &v, &go| *g = if v > T::zero() { go } else { T::zero() }),
            ActivationKind::Tanh => Zip::from(&mut st.gx)
                .and(&st.y)
                .and(&grad_out)
                .par_for_each(|g, &y, &go| *g = go * (one - y * y)),
            ActivationKind::Gelu => {
                Zip::from(&mut st.gx)
                    .and(&x)
                    .and(&grad_out)
                    .par_for_each(|g, &v, &go| {
                        let v = v.to_f64_lossless();
                        let (cdf, pdf) = phi_cdf_pdf(v);
                        *g = go * T::of(cdf + v * pdf);
                    });
            }
        }
    }

    fn input_grad(&self) -> ArrayView4<'_, T> {
        self.cache.current().gx.view()
    }

    fn num_params(&self) -> usize {
        0
    }

    fn visit_params(&mut self, _f: &mut dyn FnMut(&mut [T], &mut [T])) {}
}
