//! Building a [`SeismicTile`]: cutting the tile's fields, absorbing layers, sources and
//! receivers out of a solver of the whole grid, and setting up its halo exchange.

use convsim_core::memory::AlignedVec;
use convsim_core::tile::{TileLinks, split};
use convsim_core::{Grid, RealElement};
use ndarray::Array2;

use super::{SeismicTile, comp_range, tile_of};
use crate::sparse::ReceiverRows;
use crate::sweep::{C2, Engine, Layout, PmlX, PmlY, Sides};
use crate::{Result, Seismic, SeismicError, SideBoundary};

impl<T: RealElement> SeismicTile<T> {
    /// The tile `coords` of a `dims` process grid cut out of `whole` (a solver of the whole
    /// grid at step 0, with its initial state), exchanging halos through `links` (built for
    /// [`tile_of`] of the same parameters).
    ///
    /// # Errors
    /// [`SeismicError::InvalidParameter`] for a tile narrower than the stencil radius plus one
    /// along a split axis (`parallel.ranks`).
    pub fn new(
        whole: &Seismic<T>,
        dims: [usize; 2],
        coords: [usize; 2],
        links: TileLinks,
    ) -> Result<Self> {
        let p = whole.params.clone();
        let tile = tile_of(&p, dims, coords);
        tile.check().map_err(|e| {
            SeismicError::invalid(
                convsim_core::ParamPath::Parallel("ranks"),
                format!("[{}, {}]", dims[0], dims[1]),
                format!("{e} (fewer ranks along that axis, or a larger grid)"),
            )
        })?;
        let e = &whole.eng;
        let lay = e.lay;
        let (a, r, gs) = (lay.cx0, e.r, lay.stride);
        let gy = lay.cy0 + tile.start[0]..lay.cy0 + tile.start[0] + tile.shape[0];
        let gx = lay.cx0 + tile.start[1]..lay.cx0 + tile.start[1] + tile.shape[1];
        // The row kernels want the computational columns to start on an aligned vector, with
        // one vector of ghost columns before: the tile's first column goes to column `a`.
        // (They compute every column with the same operations whatever its lane, so the
        // shift changes no bit; `tests/mpi.rs` checks it.)
        let (row0, col0) = (gy.start - r, gx.start - a);
        let rows = gy.len() + 2 * r;
        let (cx0, cx1) = (gx.start - col0, gx.end - col0);
        let stride = cx1.next_multiple_of(a) + a;
        let tl = Layout {
            stride,
            cy0: r,
            cy1: r + gy.len(),
            cx0,
            cx1,
        };
        // Local column `j` is column `col0 + j` of the whole grid's rows (zero beyond them:
        // the right tile's padding may reach past the whole grid's stride).
        let cut_row = |src: &[T], dst: &mut [T]| {
            let n = stride.min(src.len().saturating_sub(col0));
            dst[..n].copy_from_slice(&src[col0..col0 + n]);
        };
        let cut = |src: &[T]| {
            let mut d = AlignedVec::zeros(rows * stride);
            for li in 0..rows {
                let gi = li + row0;
                cut_row(
                    &src[gi * gs..(gi + 1) * gs],
                    &mut d[li * stride..(li + 1) * stride],
                );
            }
            d
        };
        let cut_cols = |src: &[T]| {
            let mut d = vec![T::zero(); stride];
            cut_row(src, &mut d);
            d
        };
        let c2 = match &e.c2 {
            C2::Uniform(v) => C2::Uniform(*v),
            C2::Field(f) => C2::Field(cut(f)),
        };
        let sponge = e
            .sponge
            .as_ref()
            .map(|(sy, sx)| (sy[row0..row0 + rows].to_vec(), cut_cols(sx)));
        let pml_y = e.pml_y.as_ref().and_then(|py| {
            let strips: Vec<(usize, usize)> = py
                .strips
                .iter()
                .filter(|(i0, _)| gy.contains(i0))
                .map(|&(i0, i1)| (i0 - row0, i1 - row0))
                .collect();
            if strips.is_empty() {
                return None;
            }
            let zrows: usize = strips.iter().map(|(i0, i1)| i1 - i0).sum();
            Some(PmlY {
                a: py.a[row0..row0 + rows].to_vec(),
                b: py.b[row0..row0 + rows].to_vec(),
                psi: AlignedVec::zeros((zrows + 2 * r * strips.len()) * stride),
                zeta: AlignedVec::zeros(zrows * stride),
                strips,
            })
        });
        let pml_x = e.pml_x.as_ref().and_then(|px| {
            let strips: Vec<(usize, usize)> = px
                .strips
                .iter()
                .filter(|(j0, _)| gx.contains(j0))
                .map(|&(j0, j1)| (j0 - col0, j1 - col0))
                .collect();
            if strips.is_empty() {
                return None;
            }
            // As the whole grid's (`solver::pml_x`), with its block size `a`.
            let spans: Vec<(usize, usize)> = strips
                .iter()
                .map(|&(j0, j1)| (j0 / a * a - a, j1.next_multiple_of(a) + a))
                .collect();
            let w: usize = spans.iter().map(|(s0, s1)| s1 - s0).sum();
            let (mut pa, mut pb) = (AlignedVec::zeros(stride), AlignedVec::zeros(stride));
            pa.copy_from_slice(&cut_cols(&px.a));
            pb.copy_from_slice(&cut_cols(&px.b));
            Some(PmlX {
                a: pa,
                b: pb,
                psi: AlignedVec::zeros(gy.len() * w),
                zeta: AlignedVec::zeros(gy.len() * w),
                strips,
                spans,
            })
        });
        // Inner sides read their ghost cells from the exchange: no mirror, no zero row.
        let inner = SideBoundary::Zero;
        let last = |ax: usize| coords[ax] + 1 == dims[ax];
        let sides = Sides {
            top: if coords[0] == 0 { e.sides.top } else { inner },
            bottom: if last(0) { e.sides.bottom } else { inner },
            left: if coords[1] == 0 { e.sides.left } else { inner },
            right: if last(1) { e.sides.right } else { inner },
        };
        let (py, px) = (
            split(p.grid.ny, dims[0], coords[0]),
            split(p.grid.nx, dims[1], coords[1]),
        );
        // Variable density: the flux-form operator cut as the engine is, and the energy's
        // fluxes of the initial state cut from the whole grid's (they need no exchange then).
        let field = |a: &[T]| cut(a).to_vec();
        let density = whole.density.as_ref().map(|d| {
            Box::new(d.cut(
                tl,
                [sides.top, sides.bottom, sides.left, sides.right],
                (row0, rows, gy.clone()),
                (col0, gx.clone()),
                &field,
                &cut_cols,
                d.rho.slice(ndarray::s![py.clone(), px.clone()]).to_owned(),
            ))
        });
        let energy_q = match &whole.density {
            Some(d) => {
                let mut q = (vec![T::zero(); e.cur.len()], vec![T::zero(); e.cur.len()]);
                d.energy_fluxes(&e.prev, &mut q.0, &mut q.1);
                (field(&q.0), field(&q.1))
            }
            None => (Vec::new(), Vec::new()),
        };
        let eng = Engine {
            lay: tl,
            rows,
            r,
            w: e.w.clone(),
            c2,
            sides,
            pml_x,
            pml_y,
            sponge,
            sources: e.sources.cut(gy.clone(), gx.clone(), (row0, col0), rows),
            receivers: ReceiverRows::default(),
            isa: e.isa,
            cur: cut(&e.cur),
            prev: cut(&e.prev),
            depth: Some(1),
            exec: e.exec,
            fp: e.fp,
            block: e.block,
        };

        // Receivers: whole in one tile, or split over several (every tile knows which).
        let g = p.grid;
        let ranges = |ax: usize, n: usize, lw: (usize, usize), base: usize| {
            (0..dims[ax])
                .map(|q| {
                    let c = comp_range(n, lw, dims[ax], q);
                    base + c.start..base + c.end
                })
                .collect::<Vec<_>>()
        };
        let b = p.boundaries;
        let ry = ranges(0, g.ny, (b.top.width(), b.bottom.width()), lay.cy0);
        let rx = ranges(1, g.nx, (b.left.width(), b.right.width()), lay.cx0);
        let owner = |i: usize, j: usize| {
            (
                ry.iter().position(|q| q.contains(&i)),
                rx.iter().position(|q| q.contains(&j)),
            )
        };
        let local = |i: usize, j: usize| (i - row0) * stride + (j - col0);
        let me = (Some(coords[0]), Some(coords[1]));
        let nrec = e.receivers.len();
        let (mut whole_recs, mut split_taps, mut split_recs) = (Vec::new(), Vec::new(), Vec::new());
        let mut ntaps = 0;
        for k in 0..nrec {
            let taps: Vec<(usize, usize, f64, usize)> = e.receivers.taps(k).collect();
            let Some(&(i0, j0, _, _)) = taps.first() else {
                continue;
            };
            let first = owner(i0, j0);
            if taps.iter().all(|&(i, j, _, _)| owner(i, j) == first) {
                if first == me {
                    whole_recs.push((
                        k,
                        taps.iter()
                            .map(|&(i, j, w, c)| (local(i, j), w, c))
                            .collect(),
                    ));
                }
                continue;
            }
            for (t, &(i, j, w, _)) in taps.iter().enumerate() {
                if owner(i, j) == me {
                    split_taps.push((local(i, j), w, ntaps + t));
                }
            }
            split_recs.push((k, ntaps, taps.iter().map(|t| t.3).collect()));
            ntaps += taps.len();
        }

        let (oy, ox) = (lay.cy0 + b.top.width(), lay.cx0 + b.left.width());
        let grid = Grid {
            ny: py.len(),
            nx: px.len(),
            y0: g.y0 + py.start as f64 * g.dy,
            x0: g.x0 + px.start as f64 * g.dx,
            ..g
        };
        let nt = whole.nt();
        let velocity = whole
            .velocity
            .slice(ndarray::s![py.clone(), px.clone()])
            .to_owned();
        let (gty, gtx) = tile.ghosted_shape();
        let mut t = SeismicTile {
            origin: (oy + py.start - row0, ox + px.start - col0),
            block: (py.len(), px.len()),
            grid,
            velocity,
            density_const: whole.density_const,
            density,
            energy_q,
            nt,
            step: 0,
            no_traces: Array2::zeros((0, nt + 1)),
            whole: whole_recs,
            split_taps,
            split: split_recs,
            traces: Array2::zeros((nrec, nt + 1)),
            taps: Array2::zeros((ntaps, nt + 1)),
            rec_coords: whole.rec_coords.clone(),
            gathered: Array2::zeros((nrec, nt + 1)),
            gathered_upto: 0,
            stage: Array2::zeros((gty, gtx)),
            params: p,
            eng,
            tile,
            links,
        };
        t.record(0);
        Ok(t)
    }
}
