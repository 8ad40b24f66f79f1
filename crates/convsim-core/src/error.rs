//! Errors of the convolution core.

use thiserror::Error;

/// Everything a caller can get wrong when building a plan, a kernel or a stencil.
///
/// Shape mismatches between a plan and the buffers handed to `apply` are caller bugs and panic
/// instead (documented under `# Panics` on each method).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// A kernel has no taps, or an axis of length zero.
    #[error("kernel shape {shape:?} is empty: every axis needs at least one tap")]
    EmptyKernel {
        /// Shape of the offending kernel `(ky, kx)`.
        shape: [usize; 2],
    },
    /// The anchor lies outside the kernel.
    #[error("kernel anchor {anchor:?} lies outside the kernel of shape {shape:?}")]
    AnchorOutside {
        /// Requested anchor `(ay, ax)`.
        anchor: [usize; 2],
        /// Kernel shape `(ky, kx)`.
        shape: [usize; 2],
    },
    /// An input of length zero along some axis.
    #[error("input shape {shape:?} is empty: every axis needs at least one sample")]
    EmptyInput {
        /// Input shape.
        shape: Vec<usize>,
    },
    /// Stride or dilation of zero.
    #[error("{what} along axis {axis} is {value}; it must be at least 1")]
    ZeroStep {
        /// `"stride"` or `"dilation"`.
        what: &'static str,
        /// Axis name, `"y"` or `"x"`.
        axis: &'static str,
        /// The offending value.
        value: usize,
    },
    /// The output would have no samples (e.g. `Valid` with a kernel larger than the input).
    #[error(
        "output along axis {axis} would be empty: input {input}, effective kernel {kernel}, \
         padding {pad_lo}+{pad_hi}; use Same or Full, or a smaller kernel"
    )]
    EmptyOutput {
        /// Axis name.
        axis: &'static str,
        /// Input length.
        input: usize,
        /// Effective (dilated) kernel length.
        kernel: usize,
        /// Padding before.
        pad_lo: usize,
        /// Padding after.
        pad_hi: usize,
    },
    /// A [`crate::Boundary::Halo`] side with fewer ghost cells than the kernel and geometry
    /// reach beyond the owned data there.
    #[error(
        "halo on the {side} side of axis {axis} holds {ghosts} ghost cells, but the kernel and \
         geometry reach {needed} cells beyond the owned data there; allowed: Halo(n) with n >= {needed}"
    )]
    HaloTooThin {
        /// Axis name, `"y"` or `"x"`.
        axis: &'static str,
        /// `"lo"` (top / left) or `"hi"` (bottom / right).
        side: &'static str,
        /// Ghost cells the tile holds on that side.
        ghosts: usize,
        /// Ghost cells the plan needs on that side.
        needed: usize,
    },
    /// Ghost cells that leave a tile without owned cells.
    #[error(
        "the tile has {input} samples along axis {axis}, of which {ghosts} are ghost cells: no \
         owned cells are left; allowed: fewer ghost cells than samples"
    )]
    HaloNoOwnedCells {
        /// Axis name.
        axis: &'static str,
        /// Tile length including ghost cells.
        input: usize,
        /// Ghost cells on both sides together.
        ghosts: usize,
    },
    /// A method that cannot honour the requested options.
    #[error("method {method} cannot be used here: {reason}")]
    MethodUnsupported {
        /// The requested method.
        method: &'static str,
        /// Why it cannot be used.
        reason: String,
    },
    /// A finite-difference stencil request that has no solution.
    #[error("invalid stencil request: {0}")]
    Stencil(String),
    /// A parameter outside its allowed range (a spacing, a size, a tolerance).
    #[error("{name} = {value} is not allowed: {allowed}")]
    InvalidValue {
        /// Parameter name as the caller wrote it.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A tile of a domain decomposition too narrow for its halo (see [`crate::tile::Tile::check`]).
    #[error(
        "a tile of {tile} samples along {axis} (of {global}) is narrower than the halo needs: \
         at least {need} samples per tile along a split axis (halo {ghost} wide); use fewer \
         ranks along {axis}"
    )]
    TileTooSmall {
        /// Axis name, `"y"` or `"x"`.
        axis: &'static str,
        /// Owned samples of the tile along the axis.
        tile: usize,
        /// Samples of the global grid along the axis.
        global: usize,
        /// Ghost cells on each side.
        ghost: usize,
        /// Samples needed.
        need: usize,
    },
    /// Channel counts that do not fit together.
    #[error("channel mismatch: {0}")]
    Channels(String),
}

/// Result alias of the core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
