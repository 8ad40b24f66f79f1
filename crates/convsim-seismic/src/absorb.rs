//! Absorbing layers: the CPML and sponge profiles, built once for both operators (the
//! constant-density sweep and the variable-density flux form).
//!
//! Positions along an axis are padded indices (`[c0, c1)` the computational range, layers
//! inside it next to the edges); a layer's depth is counted in cells from the physical edge
//! node (depth 0) outwards, so the outermost node of a `width`-cell layer is at depth `width`.
//! Half-points `m + 1/2` (the staggered flux form) have fractional depths.
//!
//! CPML (Komatitsch and Martin 2007, with the frequency shift of Roden and Gedney 2000):
//! damping `d(q) = d0 q^2` with `q = depth / width` and `d0 = -3 v_max ln(R) / (2 L)` for the
//! target reflection `R` of a layer `L = width h` thick, shift `alpha(q) = pi f (1 - q)` at the
//! frequency `f` (the side's own, else the first Ricker source's peak); the recursive
//! convolution of the memory variables is `psi <- b psi + a dp`, `b = exp(-(d + alpha) dt)`,
//! `a = d (b - 1) / (d + alpha)`.
//!
//! Sponge (Cerjan et al. 1985): both time levels are multiplied every step by
//! `g(depth) = exp(-(strength depth / width)^2)`.

use convsim_core::{Element, RealElement};

use crate::SideBoundary;
use crate::sweep::Layout;

/// CPML `(a, b)` at `depth` cells into the layer of `side` (`(0, 1)` outside a layer or for a
/// side that is not a CPML).
fn cpml_ab(
    side: SideBoundary,
    depth: f64,
    h: f64,
    v_max: f64,
    dt: f64,
    f_src: Option<f64>,
) -> (f64, f64) {
    let SideBoundary::Cpml {
        width,
        reflection,
        frequency,
    } = side
    else {
        return (0.0, 1.0);
    };
    if depth <= 0.0 {
        return (0.0, 1.0);
    }
    let l = width as f64 * h;
    let q = (depth / width as f64).min(1.0);
    let d0 = -3.0 * v_max * reflection.ln() / (2.0 * l);
    let d = d0 * q * q;
    let alpha = std::f64::consts::PI * frequency.or(f_src).unwrap_or(0.0) * (1.0 - q);
    let bb = (-(d + alpha) * dt).exp();
    let aa = if d > 0.0 {
        d * (bb - 1.0) / (d + alpha)
    } else {
        0.0
    };
    (aa, bb)
}

/// One axis of an absorbing frame: its computational range and its two sides.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Axis {
    /// Computational padded indices `[c0, c1)` (layers included).
    pub(crate) c0: usize,
    pub(crate) c1: usize,
    /// Low and high side (top/left, bottom/right).
    pub(crate) lo: SideBoundary,
    pub(crate) hi: SideBoundary,
    /// Grid spacing along the axis, m.
    pub(crate) h: f64,
}

impl Axis {
    /// The y and x axes of a padded layout whose sides are `[top, bottom, left, right]`, with
    /// spacings `dy` and `dx` (m): the frame both operators build their layers on.
    pub(crate) fn pair(lay: &Layout, sides: [SideBoundary; 4], dy: f64, dx: f64) -> [Axis; 2] {
        let [top, bottom, left, right] = sides;
        [
            Axis {
                c0: lay.cy0,
                c1: lay.cy1,
                lo: top,
                hi: bottom,
                h: dy,
            },
            Axis {
                c0: lay.cx0,
                c1: lay.cx1,
                lo: left,
                hi: right,
                h: dx,
            },
        ]
    }
}

/// What the CPML profile depends on besides the axis.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpmlSetup {
    /// Largest velocity of the model, m/s.
    pub(crate) v_max: f64,
    /// Time step, s.
    pub(crate) dt: f64,
    /// Frequency shift used by sides without their own (the first Ricker's peak), Hz.
    pub(crate) f_src: Option<f64>,
}

/// The CPML of one axis on one kind of point (nodes or half-points): `(a, b)` per padded
/// position, `(0, 1)` outside the layers, and the index ranges `[start, end)` the layers cover.
#[derive(Clone, Debug)]
pub(crate) struct Cpml<T> {
    pub(crate) a: Vec<T>,
    pub(crate) b: Vec<T>,
    pub(crate) strips: Vec<(usize, usize)>,
}

pub(crate) fn is_cpml(b: SideBoundary) -> bool {
    matches!(b, SideBoundary::Cpml { .. })
}

impl Axis {
    /// Whether either side is a CPML.
    pub(crate) fn has_cpml(&self) -> bool {
        is_cpml(self.lo) || is_cpml(self.hi)
    }

    /// Depth (cells) into the low and high layer of the padded position `x` (a node `i`, or
    /// `m + 0.5` for a half-point): positive inside the layer.
    fn depths(&self, x: f64) -> (f64, f64) {
        let (wl, wh) = (self.lo.width() as f64, self.hi.width() as f64);
        (self.c0 as f64 + wl - x, x - (self.c1 as f64 - wh - 1.0))
    }

    /// The CPML of the `len` padded nodes (`half = false`) or of the half-points `m + 1/2`
    /// (index `m`, `half = true`), `None` without a CPML side: the one builder of the
    /// constant-density sweep (nodes) and the flux form (both).
    pub(crate) fn cpml<T: RealElement>(
        &self,
        len: usize,
        half: bool,
        cs: CpmlSetup,
    ) -> Option<Cpml<T>> {
        if !self.has_cpml() {
            return None;
        }
        let (a, b) = self.cpml_profile(len, if half { 0.5 } else { 0.0 }, cs);
        let mut strips = self.cpml_strips();
        if half {
            // The half-points `m + 1/2` of a layer of nodes `[n0, n1)`: `m` in `[n0 - 1, n1)`.
            for s in &mut strips {
                s.0 -= 1;
            }
        }
        Some(Cpml { a, b, strips })
    }

    /// The CPML `(a, b)` at padded positions `i + offset` for `i` in `0..len` (`offset` 0 for
    /// nodes, 0.5 for half-points), `(0, 1)` outside the layers.
    fn cpml_profile<T: RealElement>(
        &self,
        len: usize,
        offset: f64,
        cs: CpmlSetup,
    ) -> (Vec<T>, Vec<T>) {
        let t = <T as Element>::from_f64;
        (0..len)
            .map(|i| {
                let x = i as f64 + offset;
                let (dl, dh) = self.depths(x);
                let (a, b) = if is_cpml(self.lo) && dl > 0.0 {
                    cpml_ab(self.lo, dl, self.h, cs.v_max, cs.dt, cs.f_src)
                } else if is_cpml(self.hi) && dh > 0.0 {
                    cpml_ab(self.hi, dh, self.h, cs.v_max, cs.dt, cs.f_src)
                } else {
                    (0.0, 1.0)
                };
                (t(a), t(b))
            })
            .unzip()
    }

    /// Node ranges `[start, end)` of the CPML layers (low side first).
    fn cpml_strips(&self) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        if is_cpml(self.lo) {
            v.push((self.c0, self.c0 + self.lo.width()));
        }
        if is_cpml(self.hi) {
            v.push((self.c1 - self.hi.width(), self.c1));
        }
        v
    }

    /// Sponge factors per padded index `0..len` (1 outside sponge layers).
    pub(crate) fn sponge_profile<T: RealElement>(&self, len: usize) -> Vec<T> {
        (0..len)
            .map(|i| {
                let (dl, dh) = self.depths(i as f64);
                let g = |side: SideBoundary, depth: f64| match side {
                    SideBoundary::Sponge { width, strength } if depth > 0.0 => {
                        Some((-(strength * depth / width as f64).powi(2)).exp())
                    }
                    _ => None,
                };
                <T as Element>::from_f64(g(self.lo, dl).or_else(|| g(self.hi, dh)).unwrap_or(1.0))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_zero_outside_and_grow_into_the_layers() {
        let ax = Axis {
            c0: 4,
            c1: 4 + 30,
            lo: SideBoundary::cpml(5),
            hi: SideBoundary::cpml(7),
            h: 10.0,
        };
        let cs = CpmlSetup {
            v_max: 2000.0,
            dt: 1e-3,
            f_src: Some(10.0),
        };
        let (a, b) = ax.cpml_profile::<f64>(38, 0.0, cs);
        // Interior nodes (and the edge nodes at depth 0) are untouched.
        for i in 9..=26 {
            assert_eq!((a[i], b[i]), (0.0, 1.0), "node {i}");
        }
        // Depth 1..=5 on the low side at nodes 8..=4, damping grows outwards.
        assert!((4..8).all(|i| a[i] < a[i + 1] && a[i + 1] < 0.0), "{a:?}");
        assert!((27..33).all(|i| a[i + 1] < a[i] && a[i] < 0.0), "{a:?}");
        assert_eq!(ax.cpml_strips(), vec![(4, 9), (27, 34)]);
        // Half-points m + 1/2: the layers also cover the one just outside the first node (low
        // side, depth 5.5) and the one between the high layer's first node and the interior
        // (depth 0.5); the nodes' profile is the same as above.
        let half = ax.cpml::<f64>(38, true, cs).unwrap();
        assert_eq!(half.strips, vec![(3, 9), (26, 34)]);
        assert!(
            half.a[3] < 0.0 && half.a[8] < 0.0 && half.a[26] < 0.0,
            "{:?}",
            half.a
        );
        assert_eq!((half.a[9], half.a[25]), (0.0, 0.0));
        let node = ax.cpml::<f64>(38, false, cs).unwrap();
        assert_eq!(
            (node.a, node.b, node.strips),
            (a, b, vec![(4, 9), (27, 34)])
        );
        let none = Axis {
            lo: SideBoundary::Rigid,
            hi: SideBoundary::sponge(5),
            ..ax
        };
        assert!(none.cpml::<f64>(38, false, cs).is_none());
        // Sponge: 1 outside, decreasing into the layer.
        let sp = Axis {
            lo: SideBoundary::sponge(5),
            hi: SideBoundary::Zero,
            ..ax
        };
        let g = sp.sponge_profile::<f64>(38);
        assert!(g[9..].iter().all(|&v| v == 1.0));
        assert!((4..8).all(|i| g[i] < g[i + 1] && g[i] > 0.0), "{g:?}");
    }
}
