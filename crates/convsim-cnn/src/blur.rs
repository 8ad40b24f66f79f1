//! Anti-aliased strided downsampling (Zhang 2019, "Making convolutional networks shift-invariant
//! again"): a per-channel binomial blur, then keep every `stride`-th sample.
//!
//! Plain striding aliases: the Nyquist checkerboard `(-1)^(i+j)` sampled every second pixel is
//! the constant 1. The binomial filter with `m >= 2` taps has a zero at the Nyquist frequency,
//! so blurring first maps the checkerboard to 0. The blur and the subsampling are one core plan
//! (a depthwise correlation with stride, `groups = channels`), so only the kept samples are
//! computed.
//!
//! ```
//! use convsim_cnn::{BlurPool2d, Layer};
//! use convsim_core::Boundary;
//! use ndarray::Array4;
//! let board = Array4::from_shape_fn((1, 1, 8, 8), |(_, _, i, j)| if (i + j) % 2 == 0 { 1.0 } else { -1.0 });
//! let mut plain = BlurPool2d::<f64>::new(1, 1, 2, Boundary::Periodic).unwrap(); // 1 tap: no blur
//! let mut blur = BlurPool2d::<f64>::new(1, 3, 2, Boundary::Periodic).unwrap();  // [1, 2, 1] / 4
//! plain.forward(board.view()).unwrap();
//! blur.forward(board.view()).unwrap();
//! assert!(plain.output().iter().all(|v| *v == 1.0));
//! assert!(blur.output().iter().all(|v| v.abs() < 1e-15));
//! ```

use ndarray::{Array4, ArrayView4};

use convsim_core::{Boundary, stencil::binomial};

use crate::conv::ConvCore;
use crate::{CnnError, Conv2dConfig, Float, Layer, Result, Shape4};

/// Blur (binomial, `filter_size` taps per axis) then stride, per channel; no parameters.
#[derive(Debug)]
pub struct BlurPool2d<T> {
    core: ConvCore<T>,
    taps: Array4<T>,
    filter_size: usize,
}

impl<T: Float> BlurPool2d<T> {
    /// `channels` channels, a `filter_size x filter_size` binomial blur (1 = no blur, plain
    /// striding), `stride`, and a boundary on all sides.
    ///
    /// # Errors
    /// Zero channels or stride, or a filter size outside `1..=64`.
    pub fn new(
        channels: usize,
        filter_size: usize,
        stride: usize,
        boundary: Boundary,
    ) -> Result<Self> {
        let b = binomial(filter_size).map_err(|_| CnnError::InvalidParameter {
            name: "filter_size",
            value: filter_size.to_string(),
            allowed: "the binomial blur needs 1 to 64 taps",
        })?;
        let cfg = Conv2dConfig::new(channels, channels, filter_size)
            .groups(channels.max(1))
            .stride(stride)
            .bias(false)
            .boundary(boundary);
        let core = ConvCore::new(cfg)?;
        let taps =
            Array4::from_shape_fn((channels, 1, filter_size, filter_size), |(_, _, i, j)| {
                T::of(b[i] * b[j])
            });
        Ok(BlurPool2d {
            core,
            taps,
            filter_size,
        })
    }
}

impl<T: Float> Layer<T> for BlurPool2d<T> {
    fn describe(&self) -> String {
        let c = &self.core.cfg;
        format!(
            "blurpool {} ch, {}-tap binomial, stride {:?}",
            c.in_channels, self.filter_size, c.stride
        )
    }

    fn output_shape(&self, input: Shape4) -> Result<Shape4> {
        self.core.cfg.output_shape(input)
    }

    fn forward(&mut self, x: ArrayView4<'_, T>) -> Result<()> {
        self.core.forward(x, self.taps.view(), None)
    }

    fn output(&self) -> ArrayView4<'_, T> {
        self.core.output()
    }

    fn backward(&mut self, x: ArrayView4<'_, T>, g: ArrayView4<'_, T>, need: bool) {
        if need {
            self.core.backward(x, g, self.taps.view(), true, None, None);
        }
    }

    fn input_grad(&self) -> ArrayView4<'_, T> {
        self.core.input_grad()
    }

    fn num_params(&self) -> usize {
        0
    }

    fn visit_params(&mut self, _f: &mut dyn FnMut(&mut [T], &mut [T])) {}
}
