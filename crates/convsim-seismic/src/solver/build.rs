//! Building a [`Seismic`]: checking the parameters ([`SeismicParams::validate`]) and the
//! model, placing sources and receivers (Hicks weights folded by the mirror boundaries) and
//! allocating the absorbing layers and every buffer the stepping uses.

use convsim_core::ParamPath;
use std::collections::BTreeMap;

use convsim_core::fp::Subnormals;
use convsim_core::memory::{ALIGN_BYTES, AlignedVec};
use convsim_core::stencil::central_weights;
use convsim_core::{Element, Isa, RealElement, Simd};
use ndarray::Array2;

use crate::absorb::{Axis, Cpml, CpmlSetup};
use crate::density::{Density, Setup};
use crate::sparse::{ReceiverRows, SourceRows, Spread};
use crate::sweep::schedule::Exec;
use crate::sweep::{C2, Engine, Layout, PmlX, PmlY, Sides, Weights};
use crate::{
    Model, Result, SeismicError, SeismicParams, SeismicWarning, SideBoundary, hicks, model,
    stability, wavelet,
};

use super::Seismic;

impl<T: RealElement> Seismic<T> {
    pub(super) fn build(params: &SeismicParams, check_dt: bool) -> Result<Self> {
        let p = params;
        let g = p.grid;
        p.validate()?;
        let r = p.space_order / 2;
        let velocity = model::evaluate(&p.velocity, &g, "velocity", None)?;
        // Constant density cancels out of rho v^2 div((1/rho) grad p): keep the fast path (it is
        // still checked). Any other density model takes the staggered variable-density path.
        let (rho, density_const) = match &p.density {
            None => (None, None),
            Some(m) => {
                let a = model::evaluate(m, &g, "density", Some(velocity.view()))?;
                match m {
                    Model::Constant { value } => (None, Some(*value)),
                    _ => (Some(a), None),
                }
            }
        };
        let v_max = velocity.iter().copied().fold(0.0, f64::max);
        let v_min = velocity.iter().copied().fold(f64::INFINITY, f64::min);
        let limit = stability::dt_max(p.space_order, g.dy, g.dx, v_max)?;
        // With variable density the limit of the staggered operator is checked below.
        if check_dt && rho.is_none() && p.dt > limit {
            return Err(SeismicError::Unstable {
                dt: p.dt,
                limit,
                order: p.space_order,
                v_max,
                dy: g.dy,
                dx: g.dx,
            });
        }
        let sides = p.boundaries.sides();
        let [top, bottom, left, right] = sides;
        let (wt, wb, wl, wr) = (top.width(), bottom.width(), left.width(), right.width());
        // Rows start on 64-byte boundaries (the buffers are aligned and the stride is a whole
        // number of 64-byte blocks) and so does the first computational column, with one
        // block (at least the stencil radius of ghost columns) on each side: the row kernels
        // then load whole aligned vectors.
        let a = (ALIGN_BYTES / std::mem::size_of::<T>()).max(r);
        let cx1 = a + wl + g.nx + wr;
        let stride = cx1.next_multiple_of(a) + a;
        let rows = wt + g.ny + wb + 2 * r;
        let lay = Layout {
            stride,
            cy0: r,
            cy1: r + wt + g.ny + wb,
            cx0: a,
            cx1,
        };
        let (oy, ox) = (r + wt, a + wl);

        // Stencil weights.
        let w2 = central_weights(2, p.space_order).expect("order checked");
        let w1 = central_weights(1, p.space_order).expect("order checked");
        let t = |v: f64| <T as Element>::from_f64(v);
        let w = Weights {
            w0y: t(w2[r] / (g.dy * g.dy)),
            w0x: t(w2[r] / (g.dx * g.dx)),
            wy: (1..=r).map(|k| t(w2[r + k] / (g.dy * g.dy))).collect(),
            wx: (1..=r).map(|k| t(w2[r + k] / (g.dx * g.dx))).collect(),
            d1y: (1..=r).map(|k| t(w1[r + k] / g.dy)).collect(),
            d1x: (1..=r).map(|k| t(w1[r + k] / g.dx)).collect(),
        };

        // (v dt)^2 on the padded layout, the model replicated into the layers.
        let c2_at = |i: usize, j: usize| {
            let pi = (i as isize - oy as isize).clamp(0, g.ny as isize - 1) as usize;
            let pj = (j as isize - ox as isize).clamp(0, g.nx as isize - 1) as usize;
            (velocity[[pi, pj]] * p.dt).powi(2)
        };
        let c2 = if v_max == v_min {
            C2::Uniform(t((v_max * p.dt).powi(2)))
        } else {
            let mut f = AlignedVec::zeros(rows * stride);
            for i in lay.cy0..lay.cy1 {
                for j in lay.cx0..lay.cx1 {
                    f[i * stride + j] = t(c2_at(i, j));
                }
            }
            C2::Field(f)
        };

        // Absorbing layers.
        let f_src = p.sources.iter().find_map(|s| match s.wavelet {
            crate::Wavelet::Ricker { f0, .. } => Some(f0),
            crate::Wavelet::Samples { .. } => None,
        });
        let cs = CpmlSetup {
            v_max,
            dt: p.dt,
            f_src,
        };
        let [y_axis, x_axis] = Axis::pair(&lay, sides, g.dy, g.dx);
        let sponge = sides
            .iter()
            .any(|s| matches!(s, SideBoundary::Sponge { .. }))
            .then(|| {
                (
                    y_axis.sponge_profile::<T>(rows),
                    x_axis.sponge_profile::<T>(stride),
                )
            });

        let density = match rho {
            None => None,
            Some(rho) => {
                let d = Density::new(
                    &Setup {
                        grid: g,
                        lay,
                        rows,
                        r,
                        oy,
                        ox,
                        dt: p.dt,
                        order: p.space_order,
                        velocity: velocity.view(),
                        sides,
                        cs,
                    },
                    rho,
                )?;
                if check_dt && p.dt > d.dt_limit {
                    return Err(SeismicError::Unstable {
                        dt: p.dt,
                        limit: d.dt_limit,
                        order: p.space_order,
                        v_max,
                        dy: g.dy,
                        dx: g.dx,
                    });
                }
                Some(Box::new(d))
            }
        };
        // The flux form has its own CPML: the sweep's stays off with variable density.
        let (pml_y, pml_x) = if density.is_some() {
            (None, None)
        } else {
            (
                pml_y::<T>(&y_axis, rows, stride, r, cs),
                pml_x::<T>(&x_axis, &lay, cs),
            )
        };

        // Sources: spread times dt^2 v^2 / (dy dx) at each node.
        let nt = p.nt();
        let place = Placement {
            grid: g,
            lay,
            oy,
            ox,
            sides: p.boundaries,
        };
        let mut sources = Vec::with_capacity(p.sources.len());
        for (k, src) in p.sources.iter().enumerate() {
            if let crate::Wavelet::Samples { dt, values } = &src.wavelet
                && (!(dt.is_finite() && *dt > 0.0) || values.iter().any(|v| !v.is_finite()))
            {
                return Err(SeismicError::invalid(
                    ParamPath::table(format!("sources[{k}].wavelet")),
                    format!("dt = {dt}, {} samples", values.len()),
                    "sample interval must be positive and every sample finite",
                ));
            }
            if let crate::Wavelet::Ricker { f0, .. } = src.wavelet
                && !(f0.is_finite() && f0 > 0.0)
            {
                return Err(SeismicError::invalid(
                    ParamPath::table(format!("sources[{k}].ricker")),
                    f0,
                    "peak frequency must be positive and finite (Hz)",
                ));
            }
            let spread = place.spread(src.y, src.x, "sources", k)?;
            let coefs = spread
                .into_iter()
                .map(|(idx, wgt)| {
                    let (i, j) = (idx / stride, idx % stride);
                    (idx, wgt * c2_at(i, j) / (g.dy * g.dx))
                })
                .collect();
            sources.push((coefs, wavelet::sample(&src.wavelet, p.dt, nt)));
        }
        let positions: Vec<[f64; 2]> = p
            .receivers
            .iter()
            .flat_map(crate::Receivers::positions)
            .collect();
        let rec_coords = Array2::from_shape_fn((positions.len(), 2), |(i, c)| positions[i][c]);
        let mut spreads = Vec::with_capacity(positions.len());
        for (k, pos) in positions.iter().enumerate() {
            spreads.push(place.spread(pos[0], pos[1], "receivers", k)?);
        }

        let mut warnings = Vec::new();
        // Points per wavelength.
        let f_max = p
            .sources
            .iter()
            .map(|s| wavelet::highest_frequency(&s.wavelet))
            .fold(0.0, f64::max);
        if f_max > 0.0 {
            let h = g.dy.max(g.dx);
            let ppw = v_min / (f_max * h);
            let threshold = p
                .ppw_threshold
                .unwrap_or_else(|| stability::ppw_threshold(p.space_order));
            if ppw < threshold {
                warnings.push(SeismicWarning::LowPointsPerWavelength {
                    ppw,
                    threshold,
                    order: p.space_order,
                    f_max,
                    v_min,
                    h,
                });
            }
        }
        let eng = Engine {
            lay,
            rows,
            r,
            w,
            c2,
            sides: Sides {
                top,
                bottom,
                left,
                right,
            },
            pml_x,
            pml_y,
            sponge,
            sources: SourceRows::new(rows, stride, sources),
            receivers: ReceiverRows::new(rows, stride, &spreads),
            isa: Isa::detect_up_to(Simd::Best),
            cur: AlignedVec::zeros(rows * stride),
            prev: AlignedVec::zeros(rows * stride),
            depth: None,
            exec: Exec::Parallel,
            fp: Subnormals::default(),
            block: crate::sweep::ROW_BLOCK,
        };
        Ok(Seismic {
            params: p.clone(),
            eng,
            oy,
            ox,
            velocity,
            density,
            density_const,
            traces: Array2::zeros((positions.len(), nt + 1)),
            rec_coords,
            nt,
            step: 0,
            warnings,
        })
    }
}

/// Where points go on the padded grid.
struct Placement {
    grid: convsim_core::Grid,
    lay: Layout,
    oy: usize,
    ox: usize,
    sides: crate::SeismicBoundaries,
}

impl Placement {
    /// Hicks weights of the point `(y, x)` folded by the mirror boundaries.
    fn spread(&self, y: f64, x: f64, list: &'static str, k: usize) -> Result<Spread> {
        let g = self.grid;
        let (y1, x1) = (
            g.y0 + (g.ny - 1) as f64 * g.dy,
            g.x0 + (g.nx - 1) as f64 * g.dx,
        );
        let tol = 1e-9 * (g.dy + g.dx);
        let inside = y.is_finite()
            && x.is_finite()
            && y >= g.y0 - tol
            && y <= y1 + tol
            && x >= g.x0 - tol
            && x <= x1 + tol;
        if !inside {
            return Err(SeismicError::OutsideModel {
                what: format!("{list}[{k}]"),
                list,
                y,
                x,
                y0: g.y0,
                y1,
                x0: g.x0,
                x1,
            });
        }
        let fy = self.oy as f64 + (y - g.y0) / g.dy;
        let fx = self.ox as f64 + (x - g.x0) / g.dx;
        let (iy0, wy) = hicks::weights_1d(fy, hicks::DEFAULT_RADIUS);
        let (ix0, wx) = hicks::weights_1d(fx, hicks::DEFAULT_RADIUS);
        let b = self.sides;
        let mut acc: BTreeMap<usize, f64> = BTreeMap::new();
        for (a, wa) in wy.iter().enumerate() {
            let Some((i, sy)) = fold(
                iy0 + a as isize,
                self.lay.cy0,
                self.lay.cy1,
                b.top,
                b.bottom,
            ) else {
                continue;
            };
            for (c, wc) in wx.iter().enumerate() {
                let Some((j, sx)) = fold(
                    ix0 + c as isize,
                    self.lay.cx0,
                    self.lay.cx1,
                    b.left,
                    b.right,
                ) else {
                    continue;
                };
                *acc.entry(i * self.lay.stride + j).or_insert(0.0) += sy * sx * wa * wc;
            }
        }
        Ok(acc.into_iter().filter(|(_, w)| *w != 0.0).collect())
    }
}

/// The y CPML state: profiles per padded row, memory variables of the layer rows.
fn pml_y<T: RealElement>(
    ax: &Axis,
    rows: usize,
    stride: usize,
    r: usize,
    cs: CpmlSetup,
) -> Option<PmlY<T>> {
    let Cpml { a, b, strips } = ax.cpml(rows, false, cs)?;
    let zrows: usize = strips.iter().map(|(i0, i1)| i1 - i0).sum();
    let prows = zrows + 2 * r * strips.len();
    Some(PmlY {
        a,
        b,
        strips,
        psi: AlignedVec::zeros(prows * stride),
        zeta: AlignedVec::zeros(zrows * stride),
    })
}

/// The x CPML state: profiles per padded column, memory variables of each row's strips.
fn pml_x<T: RealElement>(ax: &Axis, lay: &Layout, cs: CpmlSetup) -> Option<PmlX<T>> {
    let Cpml {
        a: a0,
        b: b0,
        strips,
    } = ax.cpml::<T>(lay.stride, false, cs)?;
    let (mut a, mut b) = (AlignedVec::zeros(lay.stride), AlignedVec::zeros(lay.stride));
    a.copy_from_slice(&a0);
    b.copy_from_slice(&b0);
    // Whole aligned blocks around each strip, one more either side (the kernels' neighbours).
    let blk = lay.cx0;
    let spans: Vec<(usize, usize)> = strips
        .iter()
        .map(|&(j0, j1)| (j0 / blk * blk - blk, j1.next_multiple_of(blk) + blk))
        .collect();
    let w: usize = spans.iter().map(|(s0, s1)| s1 - s0).sum();
    let ny = lay.cy1 - lay.cy0;
    Some(PmlX {
        a,
        b,
        psi: AlignedVec::zeros(ny * w),
        zeta: AlignedVec::zeros(ny * w),
        strips,
        spans,
    })
}

/// Maps a padded index along one axis through the mirror boundaries: `None` if the point falls
/// where the field is forced to zero (beyond a zero or absorbing edge, or on a free surface).
fn fold(
    i: isize,
    c0: usize,
    c1: usize,
    lo: SideBoundary,
    hi: SideBoundary,
) -> Option<(usize, f64)> {
    let (c0, e1) = (c0 as isize, c1 as isize - 1);
    let (i, sign) = if i < c0 {
        match lo {
            SideBoundary::FreeSurface => (2 * c0 - i, -1.0),
            SideBoundary::Rigid => (2 * c0 - 1 - i, 1.0),
            _ => return None,
        }
    } else if i > e1 {
        match hi {
            SideBoundary::FreeSurface => (2 * e1 - i, -1.0),
            SideBoundary::Rigid => (2 * e1 + 1 - i, 1.0),
            _ => return None,
        }
    } else {
        (i, 1.0)
    };
    if i < c0 || i > e1 {
        return None;
    }
    if (i == c0 && lo == SideBoundary::FreeSurface) || (i == e1 && hi == SideBoundary::FreeSurface)
    {
        return None;
    }
    Some((i as usize, sign))
}
