//! Output geometry: `Full`, `Same`, `Valid` or explicit padding, with stride and dilation per
//! axis, and the one function that gives the output length.
//!
//! Every mode reduces to a correlation of the input, padded by `lo` samples before and `hi`
//! after, with the effective kernel of length `k_eff = (k - 1) * dilation + 1`, sampled every
//! `stride` outputs:
//!
//! ```text
//! out_len = (n + lo + hi - k_eff) / stride + 1        (integer division; empty if n + lo + hi < k_eff)
//! Full:  lo = hi = k_eff - 1
//! Same:  lo = a * dilation, hi = (k - 1 - a) * dilation      (a: anchor in the correlation frame)
//! Valid: lo = hi = 0
//! ```
//!
//! `Same` therefore gives `ceil(n / stride)` samples, and `Explicit { lo, hi }` with stride `s` is
//! PyTorch's `floor((n + 2p - d(k-1) - 1) / s) + 1` when `lo = hi = p`.
//!
//! ```
//! use convsim_core::{output_len, AxisGeometry, Padding};
//! // n = 7, k = 3: Full 9, Same 7, Valid 5; stride 2 on Same: 4.
//! assert_eq!(output_len(7, 3, 1, &AxisGeometry::new(Padding::Full)).unwrap(), 9);
//! assert_eq!(output_len(7, 3, 1, &AxisGeometry::new(Padding::Same)).unwrap(), 7);
//! assert_eq!(output_len(7, 3, 1, &AxisGeometry::new(Padding::Valid)).unwrap(), 5);
//! assert_eq!(output_len(7, 3, 1, &AxisGeometry::new(Padding::Same).stride(2)).unwrap(), 4);
//! ```

use serde::{Deserialize, Serialize};

use crate::{CoreError, Result};

/// How much padding the output geometry asks for along one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Every position where kernel and data overlap: `n + k_eff - 1` samples.
    Full,
    /// As many samples as the input (before stride), aligned on the kernel's anchor.
    #[default]
    Same,
    /// Only positions where the kernel lies wholly inside the data: `n - k_eff + 1` samples.
    Valid,
    /// Explicit padding before and after, as in PyTorch's `padding=`.
    Explicit {
        /// Samples added before index 0.
        lo: usize,
        /// Samples added after index `n - 1`.
        hi: usize,
    },
}

/// Geometry of one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxisGeometry {
    /// Output extent.
    pub padding: Padding,
    /// Keep every `stride`-th output (1 = all).
    pub stride: usize,
    /// Spacing between kernel taps (1 = contiguous).
    pub dilation: usize,
}

impl Default for AxisGeometry {
    fn default() -> Self {
        AxisGeometry {
            padding: Padding::Same,
            stride: 1,
            dilation: 1,
        }
    }
}

impl AxisGeometry {
    /// Stride 1, dilation 1.
    #[must_use]
    pub const fn new(padding: Padding) -> Self {
        AxisGeometry {
            padding,
            stride: 1,
            dilation: 1,
        }
    }
    /// Sets the stride.
    #[must_use]
    pub const fn stride(mut self, s: usize) -> Self {
        self.stride = s;
        self
    }
    /// Sets the dilation.
    #[must_use]
    pub const fn dilation(mut self, d: usize) -> Self {
        self.dilation = d;
        self
    }
}

/// Geometry of both axes, `(y, x)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Geometry {
    /// Rows.
    pub y: AxisGeometry,
    /// Columns.
    pub x: AxisGeometry,
}

impl Geometry {
    /// The same padding on both axes, stride and dilation 1.
    #[must_use]
    pub const fn uniform(padding: Padding) -> Self {
        Geometry {
            y: AxisGeometry::new(padding),
            x: AxisGeometry::new(padding),
        }
    }
    /// `Same` on both axes, stride and dilation 1 (the default).
    #[must_use]
    pub const fn same() -> Self {
        Self::uniform(Padding::Same)
    }
    /// Sets the stride on both axes.
    #[must_use]
    pub const fn with_stride(mut self, sy: usize, sx: usize) -> Self {
        self.y.stride = sy;
        self.x.stride = sx;
        self
    }
    /// Sets the dilation on both axes.
    #[must_use]
    pub const fn with_dilation(mut self, dy: usize, dx: usize) -> Self {
        self.y.dilation = dy;
        self.x.dilation = dx;
        self
    }
}

/// One axis resolved for a given input length and kernel: everything a method needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedAxis {
    /// Input length.
    pub n: usize,
    /// Kernel taps.
    pub k: usize,
    /// Effective kernel length `(k - 1) * dilation + 1`.
    pub k_eff: usize,
    /// Padding before.
    pub lo: usize,
    /// Padding after.
    pub hi: usize,
    /// Stride.
    pub stride: usize,
    /// Dilation.
    pub dilation: usize,
    /// Output length.
    pub out: usize,
}

/// Resolves one axis. `anchor` is the anchor in the correlation frame (for a flipped kernel,
/// `k - 1 - anchor`); `axis` names the axis in errors.
///
/// # Errors
/// Zero stride or dilation, an empty input or kernel, or an empty output.
pub fn resolve_axis(
    n: usize,
    k: usize,
    anchor: usize,
    g: &AxisGeometry,
    axis: &'static str,
) -> Result<ResolvedAxis> {
    if g.stride == 0 {
        return Err(CoreError::ZeroStep {
            what: "stride",
            axis,
            value: 0,
        });
    }
    if g.dilation == 0 {
        return Err(CoreError::ZeroStep {
            what: "dilation",
            axis,
            value: 0,
        });
    }
    if n == 0 {
        return Err(CoreError::EmptyInput { shape: vec![n] });
    }
    if k == 0 {
        return Err(CoreError::EmptyKernel { shape: [k, k] });
    }
    let d = g.dilation;
    let k_eff = (k - 1) * d + 1;
    let (lo, hi) = match g.padding {
        Padding::Full => (k_eff - 1, k_eff - 1),
        Padding::Same => (anchor * d, (k - 1 - anchor) * d),
        Padding::Valid => (0, 0),
        Padding::Explicit { lo, hi } => (lo, hi),
    };
    let span = n + lo + hi;
    if span < k_eff {
        return Err(CoreError::EmptyOutput {
            axis,
            input: n,
            kernel: k_eff,
            pad_lo: lo,
            pad_hi: hi,
        });
    }
    let out = (span - k_eff) / g.stride + 1;
    Ok(ResolvedAxis {
        n,
        k,
        k_eff,
        lo,
        hi,
        stride: g.stride,
        dilation: d,
        out,
    })
}

/// Output length along one axis for input length `n`, kernel length `k` and anchor `anchor`
/// (correlation frame). This is the one output-shape formula of convsim; see the module docs.
///
/// # Errors
/// As [`resolve_axis`].
pub fn output_len(n: usize, k: usize, anchor: usize, g: &AxisGeometry) -> Result<usize> {
    resolve_axis(n, k, anchor, g, "axis").map(|r| r.out)
}

/// One axis of a tile whose sides may be [`Boundary::Halo`](crate::Boundary::Halo), resolved
/// for a plan: see [`resolve_tile_axis`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileAxis {
    /// Ghost cells the input holds `[before, after]` the owned cells.
    pub ghosts: [usize; 2],
    /// The geometry applied to the owned cells alone (`n` = owned length): output length and
    /// the padding the kernel reaches beyond the owned cells on each side.
    pub owned: ResolvedAxis,
    /// The part of the input the computation reads: `(start, len)` in input coordinates.
    pub window: (usize, usize),
    /// The same computation on that window, with no padding on the halo sides (ghost cells
    /// serve as the padding there). `inner.out == owned.out`.
    pub inner: ResolvedAxis,
}

/// Resolves one axis of an input of `n` samples (ghost cells included) whose `sides` may hold
/// ghost cells ([`Boundary::Halo`](crate::Boundary::Halo)). The output covers the owned cells
/// only: its length is [`output_len`] of the owned length `n - ghosts`, exactly as if the owned
/// cells were the whole axis. Without a halo side, `owned == inner` and the window is the
/// whole input.
///
/// ```
/// use convsim_core::{resolve_tile_axis, AxisGeometry, Boundary, Padding, Sides};
/// // 10 samples: 3 ghost cells, 5 owned, 2 ghost cells; a 5-tap centred kernel reaches 2.
/// let sides = Sides { lo: Boundary::Halo(3), hi: Boundary::Halo(2) };
/// let t = resolve_tile_axis(10, 5, 2, &AxisGeometry::new(Padding::Same), &sides, "x").unwrap();
/// assert_eq!((t.owned.out, t.window), (5, (1, 9)));
/// ```
///
/// # Errors
/// As [`resolve_axis`] on the owned length; [`CoreError::HaloNoOwnedCells`] if the ghost cells
/// fill the input; [`CoreError::HaloTooThin`] if a halo side holds fewer ghost cells than the
/// padding the geometry asks for on that side.
pub fn resolve_tile_axis(
    n: usize,
    k: usize,
    anchor: usize,
    g: &AxisGeometry,
    sides: &crate::Sides,
    axis: &'static str,
) -> Result<TileAxis> {
    let ghosts = sides.ghosts();
    if !sides.has_halo() {
        let r = resolve_axis(n, k, anchor, g, axis)?;
        return Ok(TileAxis {
            ghosts,
            owned: r,
            window: (0, n),
            inner: r,
        });
    }
    let [glo, ghi] = ghosts;
    if glo + ghi >= n {
        return Err(CoreError::HaloNoOwnedCells {
            axis,
            input: n,
            ghosts: glo + ghi,
        });
    }
    let own = n - glo - ghi;
    let owned = resolve_axis(own, k, anchor, g, axis)?;
    let halo_lo = matches!(sides.lo, crate::Boundary::Halo(_));
    let halo_hi = matches!(sides.hi, crate::Boundary::Halo(_));
    for (halo, have, need, side) in [
        (halo_lo, glo, owned.lo, "lo"),
        (halo_hi, ghi, owned.hi, "hi"),
    ] {
        if halo && have < need {
            return Err(CoreError::HaloTooThin {
                axis,
                side,
                ghosts: have,
                needed: need,
            });
        }
    }
    // The padding of a halo side is read from its ghost cells; unused ghost cells are skipped.
    let start = if halo_lo { glo - owned.lo } else { 0 };
    let end = if halo_hi { glo + own + owned.hi } else { n };
    let pad = Padding::Explicit {
        lo: if halo_lo { 0 } else { owned.lo },
        hi: if halo_hi { 0 } else { owned.hi },
    };
    let inner_g = AxisGeometry { padding: pad, ..*g };
    let inner = resolve_axis(end - start, k, anchor, &inner_g, axis)?;
    debug_assert_eq!(inner.out, owned.out, "tile window keeps the output length");
    Ok(TileAxis {
        ghosts,
        owned,
        window: (start, end - start),
        inner,
    })
}

/// Runs the Rust examples of the user guide's conventions page as doctests (the "Halo tiles"
/// section), so the page cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/conventions.md")]
pub struct ConventionsPage;
