//! `Conv2d`: a multi-channel convolution layer on the core's [`ChannelConvPlan`].
//!
//! Semantics are PyTorch's `torch.nn.Conv2d` (a correlation, weights `(c_out, c_in / groups, kh,
//! kw)`, bias `(c_out,)`), with every boundary mode of the core in place of PyTorch's
//! `padding_mode` and the core's output geometry (`Same` by default; `Explicit { lo, hi }` is
//! PyTorch's `padding=`). Initialisation is PyTorch's default (Kaiming-uniform with `a = sqrt 5`,
//! i.e. weights and bias uniform in `+-1/sqrt(fan_in)`, `fan_in = c_in / groups * kh * kw`),
//! drawn from a seeded `ChaCha8` generator.
//!
//! ```
//! use convsim_cnn::{Conv2d, Conv2dConfig, Layer};
//! use convsim_core::{Boundary, Padding};
//! use ndarray::Array4;
//! let cfg = Conv2dConfig::new(3, 8, 3).stride(2).boundary(Boundary::Periodic);
//! let mut conv = Conv2d::<f64>::new(cfg, 42).unwrap();
//! assert_eq!(conv.num_params(), 8 * 3 * 9 + 8);
//! // Same geometry with stride 2: ceil(n / 2) samples per axis.
//! assert_eq!(conv.output_shape([4, 3, 9, 16]).unwrap(), [4, 8, 5, 8]);
//! assert!(conv.output_shape([4, 2, 9, 16]).is_err()); // 2 channels given, 3 expected
//! ```

use ndarray::{Array1, Array4, ArrayView1, ArrayView4, ArrayViewMut1, ArrayViewMut4};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use convsim_core::{
    AxisGeometry, Boundaries, Boundary, ChannelConvPlan, Geometry, Padding, Simd, output_len,
};

use crate::layer::{ShapeCache, shape4, zeros4};
use crate::{CnnError, Float, Layer, Result, Shape4};

/// Hyper-parameters of a [`Conv2d`] (serde, for scenario files).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2dConfig {
    /// Input channels `c_in`.
    pub in_channels: usize,
    /// Output channels `c_out`.
    pub out_channels: usize,
    /// Kernel taps `(kh, kw)`.
    pub kernel: [usize; 2],
    /// Stride `(sy, sx)` (default 1).
    #[serde(default = "one2")]
    pub stride: [usize; 2],
    /// Dilation `(dy, dx)` (default 1).
    #[serde(default = "one2")]
    pub dilation: [usize; 2],
    /// Channel groups (default 1); `c_in` and `c_out` must be multiples of it.
    #[serde(default = "one")]
    pub groups: usize,
    /// Whether the layer has a bias (default true, as PyTorch).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Boundary per side (default `Zero`, PyTorch's `padding_mode="zeros"`).
    #[serde(default)]
    pub boundaries: Boundaries,
    /// Output extent (default `Same`).
    #[serde(default)]
    pub padding: Padding,
    /// The widest instruction set the plan's inner loops may use (default [`Simd::Best`]; not
    /// part of scenario files: it changes results only by rounding).
    #[serde(skip)]
    pub simd: Simd,
}

fn one2() -> [usize; 2] {
    [1, 1]
}
fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}

impl Conv2dConfig {
    /// `c_in -> c_out` with a `k x k` kernel, stride 1, dilation 1, one group, bias, `Zero`
    /// boundary, `Same` output.
    #[must_use]
    pub fn new(in_channels: usize, out_channels: usize, k: usize) -> Self {
        Conv2dConfig {
            in_channels,
            out_channels,
            kernel: [k, k],
            stride: [1, 1],
            dilation: [1, 1],
            groups: 1,
            bias: true,
            boundaries: Boundaries::default(),
            padding: Padding::Same,
            simd: Simd::Best,
        }
    }
    /// A `kh x kw` kernel.
    #[must_use]
    pub fn kernel(mut self, kh: usize, kw: usize) -> Self {
        self.kernel = [kh, kw];
        self
    }
    /// The same stride on both axes.
    #[must_use]
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s, s];
        self
    }
    /// The same dilation on both axes.
    #[must_use]
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
        self
    }
    convsim_core::builder_setters! {
        /// Channel groups.
        groups: usize,
        /// With or without bias.
        bias: bool,
    }
    /// The same boundary on all sides.
    #[must_use]
    pub fn boundary(mut self, b: Boundary) -> Self {
        self.boundaries = Boundaries::uniform(b);
        self
    }
    convsim_core::builder_setters! {
        /// Boundaries per side.
        boundaries: Boundaries,
        /// Output extent.
        padding: Padding,
        /// The widest instruction set of the plan's inner loops (default [`Simd::Best`]), chosen
        /// once when the plan for an input shape is built. `Simd::Portable` does not fuse
        /// multiply-adds, so it agrees with the vector path to rounding.
        simd: Simd,
    }

    /// The core geometry.
    #[must_use]
    pub fn geometry(&self) -> Geometry {
        Geometry {
            y: AxisGeometry::new(self.padding)
                .stride(self.stride[0])
                .dilation(self.dilation[0]),
            x: AxisGeometry::new(self.padding)
                .stride(self.stride[1])
                .dilation(self.dilation[1]),
        }
    }

    /// Weight shape `(c_out, c_in / groups, kh, kw)`.
    #[must_use]
    pub fn weight_shape(&self) -> Shape4 {
        [
            self.out_channels,
            self.in_channels / self.groups.max(1),
            self.kernel[0],
            self.kernel[1],
        ]
    }

    /// Trainable scalars: `c_out * c_in / groups * kh * kw` weights plus `c_out` biases.
    #[must_use]
    pub fn param_count(&self) -> usize {
        self.weight_shape().iter().product::<usize>()
            + if self.bias { self.out_channels } else { 0 }
    }

    /// Checks the hyper-parameters on their own (shapes of inputs are checked at `forward`).
    ///
    /// # Errors
    /// Zero channels, taps, stride or dilation, or channel counts not divisible by `groups`.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: String, allowed| {
            Err(CnnError::InvalidParameter {
                name,
                value,
                allowed,
            })
        };
        if self.in_channels == 0 {
            return bad("in_channels", "0".into(), "it must be at least 1");
        }
        if self.out_channels == 0 {
            return bad("out_channels", "0".into(), "it must be at least 1");
        }
        if self.kernel.contains(&0) {
            return bad(
                "kernel",
                format!("{:?}", self.kernel),
                "every kernel axis needs at least one tap",
            );
        }
        if self.stride.contains(&0) {
            return bad(
                "stride",
                format!("{:?}", self.stride),
                "it must be at least 1",
            );
        }
        if self.dilation.contains(&0) {
            return bad(
                "dilation",
                format!("{:?}", self.dilation),
                "it must be at least 1",
            );
        }
        if self.groups == 0
            || !self.in_channels.is_multiple_of(self.groups)
            || !self.out_channels.is_multiple_of(self.groups)
        {
            return Err(CnnError::Channels {
                layer: self.describe(),
                detail: format!(
                    "groups = {} must divide both in_channels = {} and out_channels = {}",
                    self.groups, self.in_channels, self.out_channels
                ),
            });
        }
        Ok(())
    }

    /// `conv2d 3->8 3x3 stride [2, 2] ...`.
    #[must_use]
    pub fn describe(&self) -> String {
        use std::fmt::Write as _;
        let mut s = format!(
            "conv2d {}->{} {}x{}",
            self.in_channels, self.out_channels, self.kernel[0], self.kernel[1]
        );
        if self.stride != [1, 1] {
            let _ = write!(s, " stride {:?}", self.stride);
        }
        if self.dilation != [1, 1] {
            let _ = write!(s, " dilation {:?}", self.dilation);
        }
        if self.groups != 1 {
            let _ = write!(s, " groups {}", self.groups);
        }
        if self.boundaries != Boundaries::default() {
            let _ = write!(s, " {}", self.boundaries.y.lo.name());
        }
        s
    }

    /// Output shape for an input shape.
    ///
    /// # Errors
    /// A channel count other than `in_channels`, a dilated kernel larger than the grid, or an
    /// empty output.
    pub fn output_shape(&self, input: Shape4) -> Result<Shape4> {
        self.validate()?;
        let [n, c, h, w] = input;
        if c != self.in_channels {
            return Err(CnnError::Channels {
                layer: self.describe(),
                detail: format!(
                    "the input has {c} channels; the layer expects {}",
                    self.in_channels
                ),
            });
        }
        let [kh, kw] = self.kernel;
        let extent = [
            (kh - 1) * self.dilation[0] + 1,
            (kw - 1) * self.dilation[1] + 1,
        ];
        if extent[0] > h || extent[1] > w {
            return Err(CnnError::KernelLargerThanGrid {
                layer: self.describe(),
                kernel: self.kernel,
                extent,
                grid: [h, w],
            });
        }
        let g = self.geometry();
        let ho = output_len(h, kh, kh / 2, &g.y)?;
        let wo = output_len(w, kw, kw / 2, &g.x)?;
        Ok([n, self.out_channels, ho, wo])
    }
}

/// Buffers and the plan for one input shape.
#[derive(Debug)]
struct ConvState<T> {
    plan: ChannelConvPlan<T>,
    y: Array4<T>,
    gx: Array4<T>,
    gw: Array4<T>,
    gb: Array1<T>,
}

/// The plan-driving part shared by [`Conv2d`], the p4 layers and blur pooling: weights are
/// passed in, so weight sharing (rotated copies, fixed blur taps) lives in the caller.
#[derive(Debug)]
pub(crate) struct ConvCore<T> {
    pub(crate) cfg: Conv2dConfig,
    cache: ShapeCache<ConvState<T>>,
}

impl<T: Float> ConvCore<T> {
    pub(crate) fn new(cfg: Conv2dConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(ConvCore {
            cfg,
            cache: ShapeCache::default(),
        })
    }

    pub(crate) fn forward(
        &mut self,
        x: ArrayView4<'_, T>,
        w: ArrayView4<'_, T>,
        b: Option<ArrayView1<'_, T>>,
    ) -> Result<()> {
        let s = shape4(&x);
        let cfg = self.cfg;
        let st = self.cache.bind(s, || {
            let out = cfg.output_shape(s)?;
            let plan = ChannelConvPlan::builder(s, cfg.out_channels, cfg.kernel)
                .groups(cfg.groups)
                .boundaries(cfg.boundaries)
                .geometry(cfg.geometry())
                .simd(cfg.simd)
                .build()?;
            Ok(ConvState {
                plan,
                y: zeros4(out),
                gx: zeros4(s),
                gw: zeros4(cfg.weight_shape()),
                gb: Array1::zeros(cfg.out_channels),
            })
        })?;
        st.plan.forward(x, w, b, st.y.view_mut());
        Ok(())
    }

    pub(crate) fn output(&self) -> ArrayView4<'_, T> {
        self.cache.current().y.view()
    }

    pub(crate) fn input_grad(&self) -> ArrayView4<'_, T> {
        self.cache.current().gx.view()
    }

    /// Back-propagates; adds the weight (and bias) gradients into `gw_acc` (`gb_acc`).
    pub(crate) fn backward(
        &mut self,
        x: ArrayView4<'_, T>,
        grad_out: ArrayView4<'_, T>,
        w: ArrayView4<'_, T>,
        need_input_grad: bool,
        gw_acc: Option<ArrayViewMut4<'_, T>>,
        gb_acc: Option<ArrayViewMut1<'_, T>>,
    ) {
        let st = self.cache.current_mut(shape4(&x), "conv2d");
        if need_input_grad {
            st.plan.backward_input(grad_out, w, st.gx.view_mut());
        }
        if let Some(mut acc) = gw_acc {
            st.plan.backward_weights(
                x,
                grad_out,
                st.gw.view_mut(),
                gb_acc.is_some().then(|| st.gb.view_mut()),
            );
            acc += &st.gw;
            if let Some(mut b) = gb_acc {
                b += &st.gb;
            }
        }
    }
}

/// A 2D convolution layer (correlation semantics, as PyTorch's `Conv2d`). See the
/// [module docs](self).
#[derive(Debug)]
pub struct Conv2d<T> {
    core: ConvCore<T>,
    weight: Array4<T>,
    bias: Array1<T>,
    grad_weight: Array4<T>,
    grad_bias: Array1<T>,
}

/// PyTorch's default initialisation bound `1 / sqrt(fan_in)`.
pub(crate) fn init_bound(fan_in: usize) -> f64 {
    1.0 / (fan_in.max(1) as f64).sqrt()
}

/// Uniform samples in `[-bound, bound)` from a seeded generator.
pub(crate) fn uniform_init<T: Float>(len: usize, bound: f64, rng: &mut ChaCha8Rng) -> Vec<T> {
    (0..len)
        .map(|_| T::of(rng.random_range(-bound..bound)))
        .collect()
}

impl<T: Float> Conv2d<T> {
    /// A layer with PyTorch's default initialisation drawn from `ChaCha8Rng::seed_from_u64(seed)`.
    ///
    /// # Errors
    /// Invalid hyper-parameters (see [`Conv2dConfig::validate`]).
    ///
    /// # Panics
    /// Never: the weight vector is built with the length of its shape.
    pub fn new(cfg: Conv2dConfig, seed: u64) -> Result<Self> {
        let core = ConvCore::new(cfg)?;
        let ws = cfg.weight_shape();
        let bound = init_bound(ws[1] * ws[2] * ws[3]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let weight = Array4::from_shape_vec(
            (ws[0], ws[1], ws[2], ws[3]),
            uniform_init(ws.iter().product(), bound, &mut rng),
        )
        .expect("length matches shape");
        let nb = if cfg.bias { cfg.out_channels } else { 0 };
        let bias = Array1::from(uniform_init(nb, bound, &mut rng));
        Ok(Conv2d {
            core,
            grad_weight: Array4::zeros(weight.dim()),
            grad_bias: Array1::zeros(nb),
            weight,
            bias,
        })
    }

    /// A layer with the given weights `(c_out, c_in / groups, kh, kw)` and bias (`None` for a
    /// layer without bias).
    ///
    /// # Errors
    /// Invalid hyper-parameters, or weights/bias of the wrong shape.
    pub fn with_weights(
        cfg: Conv2dConfig,
        weight: Array4<T>,
        bias: Option<Array1<T>>,
    ) -> Result<Self> {
        let core = ConvCore::new(Conv2dConfig {
            bias: bias.is_some(),
            ..cfg
        })?;
        let ws = core.cfg.weight_shape();
        let wd = weight.dim();
        if [wd.0, wd.1, wd.2, wd.3] != ws {
            return Err(CnnError::Shape {
                what: "weights",
                actual: vec![wd.0, wd.1, wd.2, wd.3],
                expected: format!("{ws:?} = (c_out, c_in / groups, kh, kw)"),
            });
        }
        let bias = bias.unwrap_or_else(|| Array1::zeros(0));
        if core.cfg.bias && bias.len() != cfg.out_channels {
            return Err(CnnError::Shape {
                what: "bias",
                actual: vec![bias.len()],
                expected: format!("({},) = (c_out,)", cfg.out_channels),
            });
        }
        Ok(Conv2d {
            core,
            grad_weight: Array4::zeros(weight.dim()),
            grad_bias: Array1::zeros(bias.len()),
            weight: weight.as_standard_layout().into_owned(),
            bias,
        })
    }

    /// The hyper-parameters.
    #[must_use]
    pub fn config(&self) -> &Conv2dConfig {
        &self.core.cfg
    }
    /// Weights `(c_out, c_in / groups, kh, kw)`.
    #[must_use]
    pub fn weight(&self) -> &Array4<T> {
        &self.weight
    }
    /// Weights, mutably.
    pub fn weight_mut(&mut self) -> &mut Array4<T> {
        &mut self.weight
    }
    /// Bias `(c_out,)` (empty without bias).
    #[must_use]
    pub fn bias(&self) -> &Array1<T> {
        &self.bias
    }
    /// Bias, mutably.
    pub fn bias_mut(&mut self) -> &mut Array1<T> {
        &mut self.bias
    }
    /// Accumulated weight gradient.
    #[must_use]
    pub fn grad_weight(&self) -> &Array4<T> {
        &self.grad_weight
    }
    /// Accumulated bias gradient.
    #[must_use]
    pub fn grad_bias(&self) -> &Array1<T> {
        &self.grad_bias
    }
}

impl<T: Float> Layer<T> for Conv2d<T> {
    fn describe(&self) -> String {
        self.core.cfg.describe()
    }

    fn output_shape(&self, input: Shape4) -> Result<Shape4> {
        self.core.cfg.output_shape(input)
    }

    fn forward(&mut self, x: ArrayView4<'_, T>) -> Result<()> {
        let b = self.core.cfg.bias.then(|| self.bias.view());
        self.core.forward(x, self.weight.view(), b)
    }

    fn output(&self) -> ArrayView4<'_, T> {
        self.core.output()
    }

    fn backward(
        &mut self,
        x: ArrayView4<'_, T>,
        grad_out: ArrayView4<'_, T>,
        need_input_grad: bool,
    ) {
        let has_bias = self.core.cfg.bias;
        self.core.backward(
            x,
            grad_out,
            self.weight.view(),
            need_input_grad,
            Some(self.grad_weight.view_mut()),
            has_bias.then(|| self.grad_bias.view_mut()),
        );
    }

    fn input_grad(&self) -> ArrayView4<'_, T> {
        self.core.input_grad()
    }

    fn num_params(&self) -> usize {
        self.weight.len() + self.bias.len()
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &mut [T])) {
        f(
            self.weight.as_slice_mut().expect("standard layout"),
            self.grad_weight.as_slice_mut().expect("standard layout"),
        );
        if !self.bias.is_empty() {
            f(
                self.bias.as_slice_mut().expect("contiguous"),
                self.grad_bias.as_slice_mut().expect("contiguous"),
            );
        }
    }
}

/// The definition of a locally connected layer: a convolution *without* weight sharing, where
/// every output position has its own `(c_out, c_in, kh, kw)` kernel. convsim computes with
/// shared weights only; this type exists to count what sharing saves (the article's
/// 56x56x64 -> 128, 3x3 example).
///
/// ```
/// use convsim_cnn::conv::LocallyConnected2dConfig;
/// use convsim_cnn::Conv2dConfig;
/// let lc = LocallyConnected2dConfig { conv: Conv2dConfig::new(64, 128, 3).bias(false), input: [56, 56] };
/// assert_eq!(lc.param_count().unwrap(), 231_211_008);
/// assert_eq!(lc.conv.param_count(), 73_728);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocallyConnected2dConfig {
    /// Channels, kernel, stride, dilation, padding and bias as for a convolution.
    pub conv: Conv2dConfig,
    /// Input grid `(h, w)`: the number of output positions, hence of kernels, depends on it.
    pub input: [usize; 2],
}

impl LocallyConnected2dConfig {
    /// `h_out * w_out * (c_out * c_in / groups * kh * kw + c_out if bias)`.
    ///
    /// # Errors
    /// As [`Conv2dConfig::output_shape`].
    pub fn param_count(&self) -> Result<usize> {
        let [_, _, ho, wo] =
            self.conv
                .output_shape([1, self.conv.in_channels, self.input[0], self.input[1]])?;
        Ok(ho * wo * self.conv.param_count())
    }
}
