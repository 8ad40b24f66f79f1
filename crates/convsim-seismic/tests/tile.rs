//! Tiles of a domain decomposition, stepped by threads exchanging halos over channels (no
//! MPI), against the whole-grid solver: pressure, energy, largest |p| and the receiver
//! gather must be the same bits (`tests/mpi.rs` at the workspace root runs the same over MPI),
//! with constant and with variable density, straight through and resumed from the tiles'
//! checkpoint state.

use convsim_core::Partial;
use convsim_core::Simulation;
use convsim_core::sum::ExactSum;
use convsim_core::tile::{SelfAllToAll, TileLinks, channel_exchanges};
use convsim_seismic::{
    Model, PointSource, Receivers, Seismic, SeismicParams, SeismicTile, SideBoundary, Wavelet,
    tile_of,
};
use ndarray::{Array2, s};

/// 31 x 37 samples of 10 m, order 8, a free surface on top and CPML elsewhere (or a sponge
/// and a rigid wall), a velocity gradient, the source on the corner of the 2 x 2 tiles and a
/// diagonal line of off-grid receivers across every tile edge.
fn params(sponge: bool) -> SeismicParams {
    let mut p = SeismicParams::homogeneous(31, 37, 10.0, 2000.0);
    p.space_order = 8;
    p.dt = 1e-3;
    p.duration = 0.07;
    p.velocity = Model::Gradient {
        value0: 1800.0,
        gradient: 2.0,
    };
    p.sources = vec![PointSource {
        y: 150.0,
        x: 180.0,
        wavelet: Wavelet::ricker(15.0),
    }];
    p.receivers = vec![Receivers::Line {
        start: [42.0, 3.0],
        end: [293.0, 351.0],
        count: 27,
    }];
    let cpml = SideBoundary::Cpml {
        width: 6,
        reflection: 1e-4,
        frequency: None,
    };
    p.boundaries.top = SideBoundary::FreeSurface;
    p.boundaries.bottom = cpml;
    p.boundaries.left = cpml;
    p.boundaries.right = cpml;
    if sponge {
        let sp = SideBoundary::Sponge {
            width: 8,
            strength: 0.3,
        };
        p.boundaries.left = sp;
        p.boundaries.bottom = sp;
        p.boundaries.right = SideBoundary::Rigid;
    }
    p
}

/// As [`params`] with variable density: layers with a jump (1200 to 2600 kg/m^3) across the
/// middle of the 3 x 1 tiles' second row of tiles, times a lateral ramp (so the buoyancy varies
/// along both axes, also inside the CPML).
fn density_params(sponge: bool) -> SeismicParams {
    let mut p = params(sponge);
    let g = p.grid;
    p.density = Some(Model::Array {
        values: Array2::from_shape_fn((g.ny, g.nx), |(i, j)| {
            let layer = if i < 17 { 1200.0 } else { 2600.0 };
            layer * (1.0 + 0.01 * j as f64)
        }),
    });
    p
}

/// The tiles of `dims` cut out of `whole` (at step 0), linked by channels.
fn tiles<T: convsim_core::RealElement>(
    p: &SeismicParams,
    whole: &Seismic<T>,
    dims: [usize; 2],
) -> Vec<SeismicTile<T>> {
    let n = dims[0] * dims[1];
    let tiles: Vec<_> = (0..n)
        .map(|r| tile_of(p, dims, [r / dims[1], r % dims[1]]))
        .collect();
    channel_exchanges(&tiles, dims)
        .into_iter()
        .enumerate()
        .map(|(r, x)| {
            let links = TileLinks {
                halo: Box::new(x),
                all_to_all: Box::new(SelfAllToAll),
                blocks: Vec::new(),
                rank: r,
            };
            SeismicTile::new(whole, dims, [r / dims[1], r % dims[1]], links).unwrap()
        })
        .collect()
}

/// Advances every tile by `k` steps, each in its own thread.
fn advance<T: convsim_core::RealElement>(sims: &mut [SeismicTile<T>], k: u64) {
    std::thread::scope(|sc| {
        for t in sims {
            sc.spawn(move || Simulation::advance(t, k));
        }
    });
}

/// Steps the tiles of `dims` in threads and checks them against the whole grid; with
/// `resume`, the second half runs on fresh tiles restored from the first tiles' state.
fn check<T: convsim_core::RealElement>(p: &SeismicParams, dims: [usize; 2], resume: bool) {
    let mut whole = Seismic::<T>::new(p).unwrap();
    let mut sims = tiles(p, &whole, dims);
    let steps = p.nt() as u64;
    // Two advances, as the driver does between events.
    let half = steps / 2;
    advance(&mut sims, half);
    if resume {
        let mut fresh = tiles(p, &whole, dims);
        for (f, t) in fresh.iter_mut().zip(&sims) {
            f.restore(half, t.time(), &t.state()).unwrap();
        }
        sims = fresh;
    }
    advance(&mut sims, steps - half);
    Simulation::advance(&mut whole, steps);

    // Pressure, block by block.
    let g = p.grid;
    let want = whole.pressure();
    let mut got = Array2::zeros((g.ny, g.nx));
    for t in &sims {
        let tg = t.grid();
        let (y0, x0) = (
            ((tg.y0 - g.y0) / g.dy).round() as usize,
            ((tg.x0 - g.x0) / g.dx).round() as usize,
        );
        t.write_field(
            "pressure",
            got.slice_mut(s![y0..y0 + tg.ny, x0..x0 + tg.nx]),
        );
    }
    let bits = |a: &Array2<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got), bits(&want), "pressure on {dims:?}");
    assert!(want.iter().any(|v| v.abs() > 1e-3), "the wave is there");
    if let Some(rho) = whole.density() {
        for t in &sims {
            let tg = t.grid();
            let mut d = Array2::zeros((tg.ny, tg.nx));
            assert!(t.write_field("density", d.view_mut()));
            let (y0, x0) = (
                ((tg.y0 - g.y0) / g.dy).round() as usize,
                ((tg.x0 - g.x0) / g.dx).round() as usize,
            );
            assert_eq!(d, rho.slice(s![y0..y0 + tg.ny, x0..x0 + tg.nx]));
        }
    }

    // Diagnostics: the tiles' shares combined as a distributed run does.
    let mut energy = ExactSum::default();
    let mut max = 0.0_f64;
    for t in &sims {
        for part in t.diagnostic_partials().unwrap() {
            match part {
                Partial::Sum(e) => energy.add_sum(&e),
                Partial::Max(m) => max = max.max(m),
                Partial::Min(_) => unreachable!("no minimum"),
            }
        }
    }
    let mut out = [0.0; 2];
    sims[0].diagnostics_from(&[energy.value(), max], &mut out);
    let mut one = [0.0; 2];
    whole.diagnostic_values(&mut one);
    assert_eq!(
        out.map(f64::to_bits),
        one.map(f64::to_bits),
        "diagnostics on {dims:?}"
    );

    // The gather: shares summed elementwise (exact: one tile's non-zero per element).
    let shares: Vec<(usize, Vec<f64>)> = sims.iter().map(|t| t.gather_share(0).unwrap()).collect();
    let to = shares[0].0;
    let mut sum = shares[0].1.clone();
    for (_, v) in &shares[1..] {
        for (a, b) in sum.iter_mut().zip(v) {
            *a += *b;
        }
    }
    sims[0].gathers_from_shares(0, to, &sum);
    let (gw, gt) = (whole.gathers(), sims[0].gathers());
    assert_eq!(gt[0].recorded, gw[0].recorded);
    assert_eq!(
        gt[0].traces.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        gw[0].traces.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        "gather on {dims:?}"
    );
}

#[test]
fn tiles_equal_the_whole_grid_bitwise() {
    for dims in [[1, 2], [2, 1], [3, 1], [2, 2], [2, 3]] {
        check::<f32>(&params(false), dims, false);
    }
    check::<f64>(&params(false), [2, 2], true);
    check::<f32>(&params(true), [2, 2], false);
    check::<f32>(&params(true), [1, 3], true);
}

#[test]
fn variable_density_tiles_equal_the_whole_grid_bitwise() {
    let whole = Seismic::<f32>::new(&density_params(false)).unwrap();
    assert!(whole.density().is_some(), "the variable-density path");
    for dims in [[1, 2], [2, 1], [3, 1], [2, 2], [2, 3]] {
        check::<f32>(&density_params(false), dims, false);
    }
    check::<f64>(&density_params(false), [2, 2], true);
    check::<f32>(&density_params(false), [3, 1], true);
    check::<f32>(&density_params(true), [2, 2], false);
    check::<f32>(&density_params(true), [1, 3], true);
}

#[test]
fn narrow_tiles_are_refused() {
    // Order 8 needs 5 rows per tile: the top tile of 7 (no layer under a free surface) has 4.
    let p = params(false);
    let whole = Seismic::<f32>::new(&p).unwrap();
    let tiles: Vec<_> = (0..7).map(|r| tile_of(&p, [7, 1], [r, 0])).collect();
    let x = channel_exchanges(&tiles, [7, 1]).remove(0);
    let links = TileLinks {
        halo: Box::new(x),
        all_to_all: Box::new(SelfAllToAll),
        blocks: Vec::new(),
        rank: 0,
    };
    let e = SeismicTile::new(&whole, [7, 1], [0, 0], links).unwrap_err();
    assert!(e.to_string().contains("parallel.ranks"), "{e}");
}
