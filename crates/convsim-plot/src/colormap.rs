//! Colour maps: `t in [0, 1]` to sRGB, and the colour of NaN.

/// Colour of NaN (and infinite) pixels in every map: magenta, which none of the maps contains.
pub const NAN_RGB: [u8; 3] = [255, 0, 255];

/// Colour of masked cells (e.g. the phase where the density is negligible): light grey,
/// lighter than every colour of [`Colormap::Cyclic`] and distinct from the white background.
pub const MASK_RGB: [u8; 3] = [205, 205, 205];

/// A colour map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Colormap {
    /// Perceptually uniform, for fields of one sign: matplotlib's viridis, dark purple
    /// `#440154` (min) through teal `#21918c` (middle) to yellow `#fde725` (max).
    #[default]
    Viridis,
    /// For signed fields: blue `#053061` (min) through near-white `#f7f7f7` (middle) to dark
    /// red `#67001f` (max) (`ColorBrewer` `RdBu` reversed). With [`ColorRange::Auto`] the range is
    /// symmetric about 0, so white is exactly zero.
    Diverging,
    /// Black (min) to white (max).
    Grey,
    /// For angles (a phase in `-pi..pi`): a hue circle of constant lightness and chroma in
    /// CIELAB (`L* = 65`, `C* = 35`, inside the sRGB gamut), so `t = 0` and `t = 1` have the
    /// same colour and no angle looks brighter than another. `t = 0.5` (phase 0) is the hue
    /// angle 0 (a pink red), `t = 0.75` (phase `pi/2`) hue 90 degrees (yellow-olive).
    Cyclic,
}

/// sRGB of CIELAB `(l, a, b)` (D65 white), channels clamped to `[0, 255]`.
fn lab_to_srgb(l: f64, a: f64, b: f64) -> [u8; 3] {
    let fy = (l + 16.0) / 116.0;
    let (fx, fz) = (fy + a / 500.0, fy - b / 200.0);
    let finv = |t: f64| {
        if t > 6.0 / 29.0 {
            t * t * t
        } else {
            3.0 * (6.0f64 / 29.0).powi(2) * (t - 4.0 / 29.0)
        }
    };
    let (x, y, z) = (0.950_47 * finv(fx), finv(fy), 1.088_83 * finv(fz));
    let lin = [
        3.240_6 * x - 1.537_2 * y - 0.498_6 * z,
        -0.968_9 * x + 1.875_8 * y + 0.041_5 * z,
        0.055_7 * x - 0.204 * y + 1.057 * z,
    ];
    lin.map(|c| {
        let c = c.clamp(0.0, 1.0);
        let s = if c <= 0.003_130_8 {
            12.92 * c
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        };
        (255.0 * s).round() as u8
    })
}

// Viridis at t = 0, 0.1, ..., 1 (matplotlib's table sampled at these points).
const VIRIDIS: [[u8; 3]; 11] = [
    [0x44, 0x01, 0x54],
    [0x48, 0x24, 0x75],
    [0x41, 0x44, 0x87],
    [0x35, 0x5f, 0x8d],
    [0x2a, 0x78, 0x8e],
    [0x21, 0x91, 0x8c],
    [0x22, 0xa8, 0x84],
    [0x44, 0xbf, 0x70],
    [0x7a, 0xd1, 0x51],
    [0xbd, 0xdf, 0x26],
    [0xfd, 0xe7, 0x25],
];

// RdBu reversed at t = 0, 0.125, ..., 1 (ColorBrewer 9-class RdBu).
const DIVERGING: [[u8; 3]; 9] = [
    [0x05, 0x30, 0x61],
    [0x21, 0x66, 0xac],
    [0x43, 0x93, 0xc3],
    [0x92, 0xc5, 0xde],
    [0xf7, 0xf7, 0xf7],
    [0xf4, 0xa5, 0x82],
    [0xd6, 0x60, 0x4d],
    [0xb2, 0x18, 0x2b],
    [0x67, 0x00, 0x1f],
];

fn lerp_table(table: &[[u8; 3]], t: f64) -> [u8; 3] {
    let n = table.len() - 1;
    let s = t * n as f64;
    let i = (s.floor() as usize).min(n - 1);
    let f = s - i as f64;
    let mut out = [0; 3];
    for c in 0..3 {
        let a = f64::from(table[i][c]);
        let b = f64::from(table[i + 1][c]);
        out[c] = (a + (b - a) * f).round() as u8;
    }
    out
}

impl Colormap {
    /// Colour of `t` (clamped to `[0, 1]`); NaN gives [`NAN_RGB`].
    ///
    /// ```
    /// use convsim_plot::{Colormap, NAN_RGB};
    /// assert_eq!(Colormap::Viridis.rgb(0.0), [0x44, 0x01, 0x54]);
    /// assert_eq!(Colormap::Viridis.rgb(1.0), [0xfd, 0xe7, 0x25]);
    /// assert_eq!(Colormap::Diverging.rgb(0.5), [0xf7, 0xf7, 0xf7]);
    /// assert_eq!(Colormap::Grey.rgb(2.0), [255, 255, 255]);
    /// assert_eq!(Colormap::Grey.rgb(f64::NAN), NAN_RGB);
    /// ```
    #[must_use]
    pub fn rgb(self, t: f64) -> [u8; 3] {
        if t.is_nan() {
            return NAN_RGB;
        }
        let t = t.clamp(0.0, 1.0);
        match self {
            Colormap::Viridis => lerp_table(&VIRIDIS, t),
            Colormap::Diverging => lerp_table(&DIVERGING, t),
            Colormap::Grey => {
                let g = (255.0 * t).round() as u8;
                [g, g, g]
            }
            Colormap::Cyclic => {
                let h = std::f64::consts::TAU * t - std::f64::consts::PI;
                lab_to_srgb(65.0, 35.0 * h.cos(), 35.0 * h.sin())
            }
        }
    }

    /// Colour of value `v` on the range `lo..=hi` (`lo < hi`); non-finite `v` gives [`NAN_RGB`].
    /// Exact for ranges wider than `f64::MAX` (`-1e308..1e308`).
    #[must_use]
    pub fn map(self, v: f64, lo: f64, hi: f64) -> [u8; 3] {
        if v.is_finite() {
            self.rgb((v / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0))
        } else {
            NAN_RGB
        }
    }
}

/// How the colour range of a picture is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum ColorRange {
    /// From the finite data: `min..max`, or `-m..m` with `m = max |v|` for
    /// [`Colormap::Diverging`], or `-pi..pi` for [`Colormap::Cyclic`]. A constant field `c` gets `c - d..c + d` with
    /// `d = |c| / 100` (or 1 when `c = 0`), so it shows the middle colour; an all-NaN field
    /// gets `0..1`.
    #[default]
    Auto,
    /// A fixed range `lo..hi` (`lo < hi`, both finite); values outside are clamped.
    Fixed(f64, f64),
}

/// Finite min and max of `values`, if any.
pub(crate) fn finite_min_max<'a>(values: impl IntoIterator<Item = &'a f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| {
            Some(acc.map_or((v, v), |(a, b): (f64, f64)| (a.min(v), b.max(v))))
        })
}

/// The colour range for data with finite extent `mm` (see [`ColorRange::Auto`]).
pub(crate) fn resolve_auto(cmap: Colormap, mm: Option<(f64, f64)>) -> (f64, f64) {
    let Some((lo, hi)) = mm else {
        return (0.0, 1.0);
    };
    let (lo, hi) = match cmap {
        Colormap::Diverging => {
            let m = lo.abs().max(hi.abs());
            (-m, m)
        }
        Colormap::Cyclic => (-std::f64::consts::PI, std::f64::consts::PI),
        _ => (lo, hi),
    };
    if lo < hi {
        (lo, hi)
    } else {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() / 100.0 };
        (lo - d, hi + d)
    }
}
