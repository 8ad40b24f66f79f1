//! Direct least-squares stencil fits for linear single-layer models.
//!
//! A linear layer without activation, `y = sum_c w_c * x_c + b`, is linear in its taps, so
//! fitting it to snapshot pairs is a linear least-squares problem that is solved exactly (by a
//! Householder QR of the design matrix in `f64`) instead of by gradient descent. The columns of
//! the design matrix are the inputs correlated with unit kernels on the core's plans, so every
//! boundary mode of the core is honoured exactly as the layer would.
//!
//! ```
//! use convsim_cnn::fit::{fit_stencil, StencilFitConfig};
//! use convsim_cnn::SnapshotPairs;
//! use convsim_core::{reference, Boundaries, Boundary, Geometry, Kernel2, Orientation};
//! use ndarray::{array, Array4, Axis};
//! // Targets made with a known 3x3 stencil on periodic data are fitted back exactly.
//! let k = array![[0.0, 0.2, 0.0], [0.2, 0.2, 0.2], [0.0, 0.2, 0.0]];
//! let b = Boundaries::uniform(Boundary::Periodic);
//! let x = Array4::from_shape_fn((2, 1, 8, 8), |(n, _, y, x)| ((7 * n + 3 * y * y + 5 * x) % 11) as f64);
//! let mut t = Array4::zeros(x.dim());
//! for n in 0..2 {
//!     let y = reference::conv2d(x.slice(ndarray::s![n, 0, .., ..]), &Kernel2::new(k.clone()).unwrap().into(),
//!                               &b, Orientation::Correlate, &Geometry::same()).unwrap();
//!     t.slice_mut(ndarray::s![n, 0, .., ..]).assign(&y);
//! }
//! let fit = fit_stencil(&SnapshotPairs::new(x, t).unwrap(), &StencilFitConfig::new(3, b)).unwrap();
//! assert!(fit.taps.iter().zip(k.iter()).all(|(a, b)| (a - b).abs() < 1e-12));
//! ```

use ndarray::{Array2, Array4, ArrayView2, s};
use serde::{Deserialize, Serialize};

use convsim_core::{Boundaries, ConvPlan, Kernel2, Method};

use crate::linalg::lstsq;
use crate::moments::{MomentStencil, moment_matrix};
use crate::{CnnError, Float, Result, SnapshotPairs};

/// What to fit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StencilFitConfig {
    /// Kernel taps `(kh, kw)`, anchored at `(kh / 2, kw / 2)` (output geometry `Same`).
    pub kernel: [usize; 2],
    /// Boundaries used to extend the inputs.
    pub boundaries: Boundaries,
    /// Fit a constant offset per output channel as well.
    pub bias: bool,
}

impl StencilFitConfig {
    /// A square `k x k` kernel, no bias.
    #[must_use]
    pub fn new(k: usize, boundaries: Boundaries) -> Self {
        StencilFitConfig {
            kernel: [k, k],
            boundaries,
            bias: false,
        }
    }
}

/// Result of [`fit_stencil`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StencilFit {
    /// Taps `(c_out, c_in, kh, kw)` in the correlation frame.
    pub taps: Array4<f64>,
    /// Offset per output channel (zeros without `bias`).
    pub bias: Vec<f64>,
    /// Anchor `(ay, ax)`.
    pub anchor: [usize; 2],
    /// Root-mean-square residual per output channel.
    pub rms_residual: Vec<f64>,
    /// Number of equations (samples times grid points).
    pub equations: usize,
}

fn check_kernel_fits(kernel: [usize; 2], h: usize, w: usize) -> Result<()> {
    if kernel[0] == 0 || kernel[1] == 0 {
        return Err(CnnError::InvalidParameter {
            name: "kernel_size",
            value: format!("{kernel:?}"),
            allowed: "every kernel axis needs at least one tap",
        });
    }
    if kernel[0] > h || kernel[1] > w {
        return Err(CnnError::KernelLargerThanGrid {
            layer: "stencil fit".into(),
            kernel,
            extent: kernel,
            grid: [h, w],
        });
    }
    Ok(())
}

/// Correlates every `(sample, channel)` image of `x` with `kernel` (on a core plan) and appends
/// the results, flattened, to one column.
fn column(
    x: &Array4<f64>,
    channel: usize,
    kernel: &Array2<f64>,
    anchor: [usize; 2],
    b: Boundaries,
) -> Result<Vec<f64>> {
    let (n, _, h, w) = x.dim();
    let k = Kernel2::with_anchor(kernel.clone(), anchor)?;
    let mut plan = ConvPlan::builder([h, w], k)
        .boundaries(b)
        .method(Method::Direct)
        .build()?;
    let mut out = Array2::zeros((h, w));
    let mut col = Vec::with_capacity(n * h * w);
    for i in 0..n {
        plan.apply(x.slice(s![i, channel, .., ..]), out.view_mut());
        col.extend(out.iter());
    }
    Ok(col)
}

fn to_f64<T: Float>(a: ndarray::ArrayView4<'_, T>) -> Array4<f64> {
    a.mapv(Float::to_f64_lossless)
}

/// Fits `targets[:, o] = sum_c w[o, c] * inputs[:, c] (+ b[o])` by linear least squares.
///
/// # Errors
/// A kernel larger than the grid, fewer equations than unknowns, or data that do not determine
/// every tap (e.g. constant inputs), as typed errors.
pub fn fit_stencil<T: Float>(
    pairs: &SnapshotPairs<T>,
    cfg: &StencilFitConfig,
) -> Result<StencilFit> {
    let x = to_f64(pairs.inputs());
    let y = to_f64(pairs.targets());
    let (n, c_in, h, w) = x.dim();
    let c_out = y.dim().1;
    check_kernel_fits(cfg.kernel, h, w)?;
    let [kh, kw] = cfg.kernel;
    let anchor = [kh / 2, kw / 2];
    let mut cols = Vec::with_capacity(c_in * kh * kw + usize::from(cfg.bias));
    for c in 0..c_in {
        for p in 0..kh {
            for q in 0..kw {
                let mut e = Array2::zeros((kh, kw));
                e[[p, q]] = 1.0;
                cols.push(column(&x, c, &e, anchor, cfg.boundaries)?);
            }
        }
    }
    if cfg.bias {
        cols.push(vec![1.0; n * h * w]);
    }
    let rhs: Vec<Vec<f64>> = (0..c_out)
        .map(|o| y.slice(s![.., o, .., ..]).iter().copied().collect())
        .collect();
    let sol = lstsq(cols.clone(), rhs.clone())?;
    let mut taps = Array4::zeros((c_out, c_in, kh, kw));
    let mut bias = vec![0.0; c_out];
    let mut rms = Vec::with_capacity(c_out);
    for (o, coef) in sol.iter().enumerate() {
        for c in 0..c_in {
            for p in 0..kh {
                for q in 0..kw {
                    taps[[o, c, p, q]] = coef[(c * kh + p) * kw + q];
                }
            }
        }
        if cfg.bias {
            bias[o] = coef[c_in * kh * kw];
        }
        rms.push(residual_rms(&cols, coef, &rhs[o]));
    }
    Ok(StencilFit {
        taps,
        bias,
        anchor,
        rms_residual: rms,
        equations: n * h * w,
    })
}

fn residual_rms(cols: &[Vec<f64>], coef: &[f64], rhs: &[f64]) -> f64 {
    let m = rhs.len();
    let mut r = rhs.to_vec();
    for (c, &a) in cols.iter().zip(coef) {
        for (ri, ci) in r.iter_mut().zip(c) {
            *ri -= a * ci;
        }
    }
    (r.iter().map(|v| v * v).sum::<f64>() / m as f64).sqrt()
}

/// Result of [`fit_moment_stencil`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MomentFit {
    /// Fitted values of the learned moments, in [`MomentStencil::learned`] order.
    pub theta: Vec<f64>,
    /// The fitted kernel (correlation frame).
    pub kernel: Array2<f64>,
    /// Its full moment matrix.
    pub moments: Array2<f64>,
    /// Root-mean-square residual.
    pub rms_residual: f64,
}

/// Fits the learned moments of a single-channel [`MomentStencil`] by linear least squares:
/// `target - W_fixed * x = sum_l theta_l (B_l * x)`.
///
/// # Errors
/// Data that are not single-channel, a kernel larger than the grid, or data that do not
/// determine the learned moments.
pub fn fit_moment_stencil<T: Float>(
    pairs: &SnapshotPairs<T>,
    stencil: &MomentStencil,
    boundaries: Boundaries,
) -> Result<MomentFit> {
    let x = to_f64(pairs.inputs());
    let y = to_f64(pairs.targets());
    let (_, c_in, h, w) = x.dim();
    let c_out = y.dim().1;
    if c_in != 1 || c_out != 1 {
        return Err(CnnError::Channels {
            layer: "moment stencil fit".into(),
            detail: format!("it fits one input to one target channel; got {c_in} -> {c_out}"),
        });
    }
    check_kernel_fits(stencil.shape(), h, w)?;
    let anchor = stencil.anchor();
    let fixed = column(&x, 0, stencil.fixed_kernel(), anchor, boundaries)?;
    let rhs: Vec<f64> = y.iter().zip(&fixed).map(|(a, b)| a - b).collect();
    let theta = if stencil.learned().is_empty() {
        Vec::new()
    } else {
        let cols = stencil
            .basis()
            .iter()
            .map(|b| column(&x, 0, b, anchor, boundaries))
            .collect::<Result<Vec<_>>>()?;
        let th = lstsq(cols.clone(), vec![rhs.clone()])?.remove(0);
        let rms = residual_rms(&cols, &th, &rhs);
        let kernel = stencil.kernel(&th);
        return Ok(MomentFit {
            moments: moment_matrix(kernel.view(), anchor, stencil.spacing()),
            kernel,
            theta: th,
            rms_residual: rms,
        });
    };
    let kernel = stencil.kernel(&theta);
    Ok(MomentFit {
        moments: moment_matrix(kernel.view(), anchor, stencil.spacing()),
        kernel,
        rms_residual: (rhs.iter().map(|v| v * v).sum::<f64>() / rhs.len() as f64).sqrt(),
        theta,
    })
}

/// Relative error `|a - b|_2 / |b|_2` of two kernels.
///
/// # Panics
/// If the shapes differ.
#[must_use]
pub fn relative_error(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> f64 {
    assert_eq!(a.dim(), b.dim(), "relative_error: shapes");
    let num: f64 = a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}
