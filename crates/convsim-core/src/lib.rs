//! # convsim-core: the convolution core of convsim
//!
//! Every spatial operator in convsim is a convolution computed here: direct stencils and FFTs
//! with configurable boundary padding, planned once and applied many times into caller-owned
//! buffers.
//!
//! Conventions, stated once (the user guide's `docs/conventions.md` repeats them with pictures):
//!
//! - **Axis order** is `(y, x)`: axis 0 is the row index `y`, axis 1 the column index `x`;
//!   shapes are `(h, w)`; multi-channel data is `(n, c, h, w)`.
//! - **Orientation**: [`Orientation::Correlate`] computes `y[i] = sum_j w[j] x[i + j - a]` (no
//!   flip; what CNN libraries call convolution), [`Orientation::Convolve`] computes
//!   `y[i] = sum_j w[j] x[i - j + a]` (kernel flipped). See [`kernel`].
//! - **Anchor**: `a = k / 2` by default, the centre of odd kernels and the tap right of the centre
//!   for even kernels (as scipy.ndimage and OpenCV).
//! - **Boundaries** are named by the sequence they produce; see [`boundary`].
//! - **Output geometry**: one formula, see [`geometry`].
//!
//! ```
//! use convsim_core::{Boundaries, Boundary, ConvPlan, Kernel2, Orientation};
//! use ndarray::{array, Array2};
//! // A sliding dot product: correlating [1 2 3] with [0 1 0.5] (anchor 1), zero padding.
//! let k = Kernel2::new(array![[0.0, 1.0, 0.5]]).unwrap();
//! let x = array![[1.0, 2.0, 3.0]];
//! // Plan once (the method, FFT sizes and padding are chosen here), apply many times.
//! let mut plan = ConvPlan::builder([1, 3], k)
//!     .boundaries(Boundaries::uniform(Boundary::Zero))
//!     .orientation(Orientation::Correlate)
//!     .build()
//!     .unwrap();
//! let mut y = Array2::zeros(plan.output_shape());
//! plan.apply(x.view(), y.view_mut());
//! assert_eq!(y, array![[2.0, 3.5, 3.0]]);
//! ```
//!
//! [`reference::conv2d`] computes the same by the definition (the oracle of the tests; slow).
//! The tests' seeded random arrays and error norms are `convsim_core::testing` (feature
//! `testing`, a dev-dependency feature of the crates whose tests use it).

/// Setters of a builder taken by value: each `/// docs  name: Type` becomes a `#[must_use] pub fn
/// name(mut self, value: Type) -> Self` storing `value` in the field `name`. One definition for
/// the builders here and in `convsim-cnn`, so that their switches read and behave alike.
#[doc(hidden)]
#[macro_export]
macro_rules! builder_setters {
    ($($(#[$attr:meta])* $name:ident: $ty:ty),* $(,)?) => {
        $(
            $(#[$attr])*
            #[must_use]
            pub fn $name(mut self, value: $ty) -> Self {
                self.$name = value;
                self
            }
        )*
    };
}

pub mod boundary;
pub mod channels;
mod cost;
mod direct;
pub mod element;
pub mod error;
mod fft;
pub mod fp;
pub mod geometry;
pub mod kernel;
pub mod memory;
mod overlap_save;
pub mod param;
pub mod plan;
pub mod reference;
pub mod sim;
pub mod simd;
pub mod spectral;
pub mod stencil;
pub mod sum;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tile;

pub use boundary::{Boundaries, Boundary, Sides, Source, pad, pad1, source_index, value_at};
pub use channels::{ChannelConvPlan, ChannelConvPlanBuilder, ChannelRecipe};
pub use element::{Element, RealElement};
pub use error::{CoreError, Result};
pub use geometry::{
    AxisGeometry, Geometry, Padding, ResolvedAxis, TileAxis, output_len, resolve_axis,
    resolve_tile_axis,
};
pub use kernel::{Kernel, Kernel2, Orientation, SeparableKernel};
pub use param::{ParamError, ParamPath};
pub use plan::{ConvPlan, ConvPlanBuilder, Method, MethodEstimate, Recipe};
pub use sim::{Grid, Partial, Quantity, RestoreError, Simulation, StateArray};
pub use simd::{Isa, Simd};
pub use spectral::{AxisFactors, SpectralPlan, identity_transfer, wavenumbers};

// The README's library quick-start compiles and runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// Complex numbers as used throughout convsim.
pub use num_complex::{Complex, Complex32, Complex64};
