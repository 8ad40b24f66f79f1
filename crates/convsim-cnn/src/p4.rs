//! Group convolution over p4, the group of translations and 90-degree rotations (Cohen &
//! Welling 2016), and pooling over rotations.
//!
//! Feature maps of a p4 layer carry, for every base channel `c`, four rotation channels stored
//! at `4 c + r` (`r` = 0..3 quarter turns counter-clockwise). Writing `R` for the quarter turn
//! of an image (numpy's `rot90`: `R(x)[i, j] = x[j, n - 1 - i]`) and `P` for the cyclic shift
//! of the rotation channels (`P(f)[4c + r] = f[4c + (r - 1) mod 4]`):
//!
//! - [`P4LiftConv`] (plain image -> p4 features) uses the base kernel and its three rotated
//!   copies: `out[4o + r] = sum_i R^r(W[o, i]) * x[i]`. Then `lift(R x) = P R lift(x)`.
//! - [`P4GroupConv`] (p4 -> p4 features) has base kernels `W[o, i, s]` for every input rotation
//!   channel and uses `out[4o + r] = sum_{i, s} R^r(W[o, i, (s - r) mod 4]) * f[4i + s]`. Then
//!   `gconv(P R f) = P R gconv(f)`.
//! - [`RotationPool`] (mean or max over the four rotation channels) is invariant to `P`, so
//!   `pool(P R f) = R pool(f)`: a rotation-equivariant map between plain images.
//!
//! The identities are exact (up to rounding) for square grids, odd square kernels anchored at
//! their centre, stride 1, and boundaries that are the same on all four sides. The weight
//! sharing is an index map from the expanded `(4 c_out, c_in or 4 c_in, k, k)` weight tensor to
//! the base weights; the convolution itself is one ordinary [`crate::Conv2d`]-style call of the
//! core plan with the expanded weights, and the base gradient is the expanded gradient summed
//! back through the same map (the adjoint of the expansion).
//!
//! ```
//! use convsim_cnn::p4::{P4LiftConv, rotate_planes, cycle_rotations};
//! use convsim_cnn::{Conv2dConfig, Layer};
//! use ndarray::Array4;
//! let mut lift = P4LiftConv::<f64>::new(Conv2dConfig::new(1, 2, 3), 7).unwrap();
//! let x = Array4::from_shape_fn((1, 1, 6, 6), |(_, _, i, j)| ((i * 7 + j * j * 3) % 5) as f64);
//! lift.forward(x.view()).unwrap();
//! let expected = cycle_rotations(rotate_planes(lift.output(), 1).view(), 1);
//! lift.forward(rotate_planes(x.view(), 1).view()).unwrap();
//! let err = lift.output().iter().zip(expected.iter()).fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
//! assert!(err < 1e-12);
//! ```

use ndarray::{Array1, Array4, ArrayView4, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::conv::{ConvCore, init_bound, uniform_init};
use crate::layer::{ShapeCache, shape4, zeros4};
use crate::{CnnError, Conv2dConfig, Float, Layer, Result, Shape4};

/// Source `(i, j)` in the unrotated `n x n` kernel of tap `(i, j)` of its `r`-fold quarter turn
/// (numpy's `rot90(w, r)`).
#[must_use]
pub fn rot90_source(i: usize, j: usize, n: usize, r: usize) -> (usize, usize) {
    let (mut a, mut b) = (i, j);
    for _ in 0..r % 4 {
        (a, b) = (b, n - 1 - a);
    }
    (a, b)
}

/// Every `(h, w)` plane of `x` turned `r` quarter turns counter-clockwise (numpy's
/// `rot90(x, r, axes=(2, 3))`).
///
/// # Panics
/// If the planes are not square.
#[must_use]
pub fn rotate_planes<T: Float>(x: ArrayView4<'_, T>, r: usize) -> Array4<T> {
    let (n, c, h, w) = x.dim();
    assert_eq!(h, w, "rotate_planes: planes must be square, got {h}x{w}");
    Array4::from_shape_fn((n, c, h, w), |(a, b, i, j)| {
        let (si, sj) = rot90_source(i, j, h, r);
        x[[a, b, si, sj]]
    })
}

/// Cyclic shift of the rotation channels: `out[4c + (r + shift) mod 4] = x[4c + r]`.
///
/// # Panics
/// If the channel count is not a multiple of 4.
#[must_use]
pub fn cycle_rotations<T: Float>(x: ArrayView4<'_, T>, shift: usize) -> Array4<T> {
    let (n, c, h, w) = x.dim();
    assert_eq!(
        c % 4,
        0,
        "cycle_rotations: {c} channels is not a multiple of 4"
    );
    let mut out = Array4::zeros((n, c, h, w));
    for ch in 0..c {
        let dst = ch / 4 * 4 + (ch % 4 + shift) % 4;
        out.index_axis_mut(Axis(1), dst)
            .assign(&x.index_axis(Axis(1), ch));
    }
    out
}

fn check_p4_config(cfg: &Conv2dConfig) -> Result<()> {
    cfg.validate()?;
    let [kh, kw] = cfg.kernel;
    if kh != kw || kh % 2 == 0 {
        return Err(CnnError::InvalidParameter {
            name: "kernel",
            value: format!("{:?}", cfg.kernel),
            allowed: "p4 layers need an odd square kernel (its rotations must share the anchor)",
        });
    }
    if cfg.groups != 1 {
        return Err(CnnError::InvalidParameter {
            name: "groups",
            value: cfg.groups.to_string(),
            allowed: "p4 layers support groups = 1 only",
        });
    }
    Ok(())
}

/// The weight-sharing map of a p4 layer: `expanded[e] = base[map[e]]`.
#[derive(Clone, Debug)]
struct Expansion {
    map: Vec<usize>,
}

impl Expansion {
    fn expand<T: Float>(&self, base: &[T], out: &mut [T]) {
        for (o, &m) in out.iter_mut().zip(&self.map) {
            *o = base[m];
        }
    }
    /// Adjoint of `expand`: `base_grad[map[e]] += expanded_grad[e]`.
    fn fold<T: Float>(&self, expanded: &[T], base_grad: &mut [T]) {
        for (&g, &m) in expanded.iter().zip(&self.map) {
            base_grad[m] += g;
        }
    }
}

/// Shared machinery of the two p4 convolutions.
#[derive(Debug)]
struct P4Core<T> {
    base_cfg: Conv2dConfig,
    core: ConvCore<T>,
    expansion: Expansion,
    weight: Vec<T>,
    grad_weight: Vec<T>,
    bias: Vec<T>,
    grad_bias: Vec<T>,
    w_exp: Array4<T>,
    b_exp: Array1<T>,
    gw_exp: Array4<T>,
    gb_exp: Array1<T>,
}

impl<T: Float> P4Core<T> {
    fn new(
        base_cfg: Conv2dConfig,
        exp_cfg: Conv2dConfig,
        map: Vec<usize>,
        base_len: usize,
        fan_in: usize,
        seed: u64,
    ) -> Result<Self> {
        let core = ConvCore::new(exp_cfg)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let bound = init_bound(fan_in);
        let weight = uniform_init(base_len, bound, &mut rng);
        let nb = if base_cfg.bias {
            base_cfg.out_channels
        } else {
            0
        };
        let bias = uniform_init(nb, bound, &mut rng);
        let ws = exp_cfg.weight_shape();
        let mut s = P4Core {
            base_cfg,
            core,
            expansion: Expansion { map },
            grad_weight: vec![T::zero(); base_len],
            grad_bias: vec![T::zero(); nb],
            weight,
            bias,
            w_exp: zeros4(ws),
            b_exp: Array1::zeros(exp_cfg.out_channels),
            gw_exp: zeros4(ws),
            gb_exp: Array1::zeros(exp_cfg.out_channels),
        };
        s.refresh();
        Ok(s)
    }

    /// Rebuilds the expanded weights and bias from the base parameters.
    fn refresh(&mut self) {
        self.expansion
            .expand(&self.weight, self.w_exp.as_slice_mut().expect("contiguous"));
        for (i, b) in self.b_exp.iter_mut().enumerate() {
            *b = self.bias.get(i / 4).copied().unwrap_or(T::zero());
        }
    }

    fn forward(&mut self, x: ArrayView4<'_, T>) -> Result<()> {
        // Parameters may have changed (optimiser step, set_params) since the last call.
        self.refresh();
        let b = self.base_cfg.bias.then(|| self.b_exp.view());
        self.core.forward(x, self.w_exp.view(), b)
    }

    fn backward(&mut self, x: ArrayView4<'_, T>, g: ArrayView4<'_, T>, need: bool) {
        self.gw_exp.fill(T::zero());
        self.gb_exp.fill(T::zero());
        let has_bias = self.base_cfg.bias;
        self.core.backward(
            x,
            g,
            self.w_exp.view(),
            need,
            Some(self.gw_exp.view_mut()),
            has_bias.then(|| self.gb_exp.view_mut()),
        );
        self.expansion.fold(
            self.gw_exp.as_slice().expect("contiguous"),
            &mut self.grad_weight,
        );
        if has_bias {
            for (i, &gb) in self.gb_exp.iter().enumerate() {
                self.grad_bias[i / 4] += gb;
            }
        }
    }

    fn visit(&mut self, f: &mut dyn FnMut(&mut [T], &mut [T])) {
        f(&mut self.weight, &mut self.grad_weight);
        if !self.bias.is_empty() {
            f(&mut self.bias, &mut self.grad_bias);
        }
    }
}

/// Lifting convolution `c_in` plain channels -> `4 c_out` p4 channels (see the
/// [module docs](self)). Base weights `(c_out, c_in, k, k)`, bias `(c_out,)` shared by the four
/// rotations.
#[derive(Debug)]
pub struct P4LiftConv<T> {
    p: P4Core<T>,
}

impl<T: Float> P4LiftConv<T> {
    /// A lifting layer; `cfg.out_channels` counts base channels (the output has four times as
    /// many). Initialised as a `Conv2d` of the same fan-in, from a seeded generator.
    ///
    /// # Errors
    /// An even or non-square kernel, `groups != 1`, or invalid hyper-parameters.
    pub fn new(cfg: Conv2dConfig, seed: u64) -> Result<Self> {
        check_p4_config(&cfg)?;
        let k = cfg.kernel[0];
        let (co, ci) = (cfg.out_channels, cfg.in_channels);
        let exp_cfg = Conv2dConfig {
            out_channels: 4 * co,
            ..cfg
        };
        let mut map = Vec::with_capacity(4 * co * ci * k * k);
        for o in 0..co {
            for r in 0..4 {
                for i in 0..ci {
                    for a in 0..k {
                        for b in 0..k {
                            let (sa, sb) = rot90_source(a, b, k, r);
                            map.push(((o * ci + i) * k + sa) * k + sb);
                        }
                    }
                }
            }
        }
        Ok(P4LiftConv {
            p: P4Core::new(cfg, exp_cfg, map, co * ci * k * k, ci * k * k, seed)?,
        })
    }

    /// Base weights `(c_out, c_in, k, k)`, flattened.
    #[must_use]
    pub fn base_weight(&self) -> &[T] {
        &self.p.weight
    }
}

/// Group convolution `4 c_in` -> `4 c_out` p4 channels (see the [module docs](self)). Base
/// weights `(c_out, c_in, 4, k, k)`, bias `(c_out,)` shared by the four rotations.
#[derive(Debug)]
pub struct P4GroupConv<T> {
    p: P4Core<T>,
}

impl<T: Float> P4GroupConv<T> {
    /// A p4 group convolution; `cfg.in_channels` and `cfg.out_channels` count base channels
    /// (input and output have four times as many).
    ///
    /// # Errors
    /// An even or non-square kernel, `groups != 1`, or invalid hyper-parameters.
    pub fn new(cfg: Conv2dConfig, seed: u64) -> Result<Self> {
        check_p4_config(&cfg)?;
        let k = cfg.kernel[0];
        let (co, ci) = (cfg.out_channels, cfg.in_channels);
        let exp_cfg = Conv2dConfig {
            out_channels: 4 * co,
            in_channels: 4 * ci,
            ..cfg
        };
        let mut map = Vec::with_capacity(16 * co * ci * k * k);
        for o in 0..co {
            for r in 0..4 {
                for i in 0..ci {
                    for s in 0..4 {
                        let rel = (s + 4 - r) % 4;
                        for a in 0..k {
                            for b in 0..k {
                                let (sa, sb) = rot90_source(a, b, k, r);
                                map.push((((o * ci + i) * 4 + rel) * k + sa) * k + sb);
                            }
                        }
                    }
                }
            }
        }
        Ok(P4GroupConv {
            p: P4Core::new(cfg, exp_cfg, map, co * ci * 4 * k * k, 4 * ci * k * k, seed)?,
        })
    }
}

macro_rules! p4_layer_impl {
    ($ty:ident, $name:literal) => {
        impl<T: Float> Layer<T> for $ty<T> {
            fn describe(&self) -> String {
                let c = &self.p.base_cfg;
                format!(
                    "{} {}->{} {}x{}",
                    $name, c.in_channels, c.out_channels, c.kernel[0], c.kernel[1]
                )
            }
            fn output_shape(&self, input: Shape4) -> Result<Shape4> {
                self.p.core.cfg.output_shape(input)
            }
            fn forward(&mut self, x: ArrayView4<'_, T>) -> Result<()> {
                self.p.forward(x)
            }
            fn output(&self) -> ArrayView4<'_, T> {
                self.p.core.output()
            }
            fn backward(&mut self, x: ArrayView4<'_, T>, g: ArrayView4<'_, T>, need: bool) {
                self.p.backward(x, g, need);
            }
            fn input_grad(&self) -> ArrayView4<'_, T> {
                self.p.core.input_grad()
            }
            fn num_params(&self) -> usize {
                self.p.weight.len() + self.p.bias.len()
            }
            fn visit_params(&mut self, f: &mut dyn FnMut(&mut [T], &mut [T])) {
                self.p.visit(f);
            }
        }
    };
}

p4_layer_impl!(P4LiftConv, "p4-lift");
p4_layer_impl!(P4GroupConv, "p4-conv");

/// How [`RotationPool`] combines the four rotation channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    /// The mean (smooth, gradient to all four).
    Mean,
    /// The maximum (gradient to the first maximal channel).
    Max,
}

#[derive(Debug)]
struct PoolState<T> {
    y: Array4<T>,
    gx: Array4<T>,
    argmax: Vec<u8>,
}

/// Pooling over the rotation channels: `(n, 4c, h, w) -> (n, c, h, w)`; invariant to the
/// cyclic shift of rotations, so `pool(P R f) = R pool(f)`.
#[derive(Debug)]
pub struct RotationPool<T> {
    mode: PoolMode,
    cache: ShapeCache<PoolState<T>>,
}

impl<T: Float> RotationPool<T> {
    /// A rotation pooling layer.
    #[must_use]
    pub fn new(mode: PoolMode) -> Self {
        RotationPool {
            mode,
            cache: ShapeCache::default(),
        }
    }
}

impl<T: Float> Layer<T> for RotationPool<T> {
    fn describe(&self) -> String {
        format!("rotation-pool {:?}", self.mode).to_lowercase()
    }

    fn output_shape(&self, input: Shape4) -> Result<Shape4> {
        let [n, c, h, w] = input;
        if c % 4 != 0 {
            return Err(CnnError::Channels {
                layer: self.describe(),
                detail: format!("{c} channels is not a multiple of 4 rotation channels"),
            });
        }
        Ok([n, c / 4, h, w])
    }

    fn forward(&mut self, x: ArrayView4<'_, T>) -> Result<()> {
        let s = shape4(&x);
        let out = self.output_shape(s)?;
        let st = self.cache.bind(s, || {
            Ok(PoolState {
                y: zeros4(out),
                gx: zeros4(s),
                argmax: vec![0; out.iter().product()],
            })
        })?;
        let quarter = T::of(0.25);
        let mut k = 0;
        for n in 0..out[0] {
            for c in 0..out[1] {
                for i in 0..out[2] {
                    for j in 0..out[3] {
                        let v = |r: usize| x[[n, 4 * c + r, i, j]];
                        st.y[[n, c, i, j]] = match self.mode {
                            PoolMode::Mean => (v(0) + v(1) + v(2) + v(3)) * quarter,
                            PoolMode::Max => {
                                let mut best = 0;
                                for r in 1..4 {
                                    if v(r) > v(best) {
                                        best = r;
                                    }
                                }
                                st.argmax[k] = best as u8;
                                v(best)
                            }
                        };
                        k += 1;
                    }
                }
            }
        }
        Ok(())
    }

    fn output(&self) -> ArrayView4<'_, T> {
        self.cache.current().y.view()
    }

    fn backward(&mut self, x: ArrayView4<'_, T>, g: ArrayView4<'_, T>, need: bool) {
        if !need {
            return;
        }
        let mode = self.mode;
        let st = self.cache.current_mut(shape4(&x), "rotation pool");
        let (n_, c_, h_, w_) = g.dim();
        let quarter = T::of(0.25);
        let mut k = 0;
        for n in 0..n_ {
            for c in 0..c_ {
                for i in 0..h_ {
                    for j in 0..w_ {
                        for r in 0..4 {
                            st.gx[[n, 4 * c + r, i, j]] = match mode {
                                PoolMode::Mean => g[[n, c, i, j]] * quarter,
                                PoolMode::Max if st.argmax[k] as usize == r => g[[n, c, i, j]],
                                PoolMode::Max => T::zero(),
                            };
                        }
                        k += 1;
                    }
                }
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
