//! The diffusion solver on tiles (`DiffusionTile`), one thread per tile and channels for the
//! halo exchange and the all-to-all (no MPI), against the single-process solver: the stitched
//! field and the combined diagnostics must equal it **bit for bit** for every explicit scheme
//! (the tile plans read the same samples and add them in the same order; the diagnostics are
//! exact sums), and within `1e-13` relative for the spectral scheme (the distributed FFT
//! groups the same sums differently: a few ulps per transform).

use convsim_core::Partial;
use convsim_core::sum::ExactSum;
use convsim_core::tile::{Tile, channel_all_to_alls, channel_exchanges};
use convsim_core::{Grid, Simulation};
use convsim_diffusion::tile::halo_width;
use convsim_diffusion::{
    BoundaryCondition, BoundaryConditions, DiffusionParams, DiffusionSolver, DiffusionTile,
    Diffusivity, FaceAverage, Scheme, StencilForm, StencilTaps, TileLinks, boundaries_of,
};
use ndarray::{Array2, s};

fn grid(ny: usize, nx: usize) -> Grid {
    Grid {
        ny,
        nx,
        dy: 0.1,
        dx: 0.12,
        y0: -0.3,
        x0: 0.2,
    }
}

/// A seeded, non-symmetric initial field (no symmetry can hide a misplaced sample).
fn initial(ny: usize, nx: usize) -> Array2<f64> {
    let mut s = 0x9e37_79b9_7f4a_7c15_u64;
    Array2::from_shape_fn((ny, nx), |(i, j)| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 / (1u64 << 53) as f64) + 0.01 * (i * 3 + j) as f64
    })
}

/// Runs `params` on a `dims` grid of tiles for `steps` steps; returns the stitched field and
/// the combined diagnostics.
/// Per tile: the tile, its field, its diagnostic shares, its own diagnostics.
type TileResult = (Tile, Array2<f64>, Vec<Partial>, [f64; 4]);

fn run_tiled(
    params: &DiffusionParams,
    u0: &Array2<f64>,
    dims: [usize; 2],
    steps: usize,
) -> (Array2<f64>, Vec<f64>) {
    let g = params.grid;
    let p = dims[0] * dims[1];
    let ghost = halo_width(params);
    let outer = boundaries_of(&params.boundaries);
    let tiles: Vec<Tile> = (0..p)
        .map(|r| Tile::of_grid([g.ny, g.nx], dims, [r / dims[1], r % dims[1]], ghost, outer))
        .collect();
    let blocks: Vec<_> = tiles.iter().map(|t| (t.start, t.shape)).collect();
    let halos = channel_exchanges(&tiles, dims);
    let a2as = channel_all_to_alls(p);
    let results: Vec<TileResult> = std::thread::scope(|sc| {
        let handles: Vec<_> = halos
            .into_iter()
            .zip(a2as)
            .enumerate()
            .map(|(r, (halo, a2a))| {
                let blocks = blocks.clone();
                sc.spawn(move || {
                    let links = TileLinks {
                        halo: Box::new(halo),
                        all_to_all: Box::new(a2a),
                        blocks,
                        rank: r,
                    };
                    let mut t = DiffusionTile::new(
                        params,
                        u0.view(),
                        dims,
                        [r / dims[1], r % dims[1]],
                        links,
                        false,
                    )
                    .unwrap();
                    for _ in 0..steps {
                        t.step();
                    }
                    let parts = t.diagnostic_partials().unwrap();
                    (t.tile().clone(), t.u().to_owned(), parts, [0.0; 4])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut u = Array2::from_elem((g.ny, g.nx), f64::NAN);
    for (t, tu, _, _) in &results {
        let (r, c) = t.ranges();
        u.slice_mut(s![r, c]).assign(tu);
    }
    // Combine the shares as the distributed driver does.
    let n = results[0].2.len();
    let mut raw = vec![0.0; n];
    for (k, slot) in raw.iter_mut().enumerate() {
        *slot = match &results[0].2[k] {
            Partial::Sum(_) => {
                let mut s = ExactSum::default();
                for r in &results {
                    if let Partial::Sum(x) = &r.2[k] {
                        s.merge(&x.partials());
                    }
                }
                s.value()
            }
            Partial::Min(_) => results
                .iter()
                .map(|r| r.2[k].value())
                .fold(f64::INFINITY, f64::min),
            Partial::Max(_) => results
                .iter()
                .map(|r| r.2[k].value())
                .fold(f64::NEG_INFINITY, f64::max),
        };
    }
    let serial = DiffusionSolver::new(params.clone(), u0.clone()).unwrap();
    let mut d = vec![0.0; 4];
    serial.diagnostics_from(&raw, &mut d);
    (u, d)
}

fn serial(params: &DiffusionParams, u0: &Array2<f64>, steps: usize) -> (Array2<f64>, Vec<f64>) {
    let mut s = DiffusionSolver::new(params.clone(), u0.clone()).unwrap();
    for _ in 0..steps {
        s.step();
    }
    let mut d = vec![0.0; 4];
    s.diagnostic_values(&mut d);
    (s.u().to_owned(), d)
}

const GRIDS: [[usize; 2]; 6] = [[1, 1], [1, 2], [2, 1], [3, 1], [2, 2], [2, 3]];

fn check_bitwise(name: &str, params: &DiffusionParams) {
    let g = params.grid;
    let u0 = initial(g.ny, g.nx);
    let (want, dwant) = serial(params, &u0, 7);
    for dims in GRIDS {
        let (got, dgot) = run_tiled(params, &u0, dims, 7);
        for ((i, j), (a, b)) in want
            .indexed_iter()
            .zip(got.iter())
            .map(|((ij, a), b)| (ij, (a, b)))
        {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{name} {dims:?}: u[{i}, {j}] = {b}, serial {a}"
            );
        }
        for (k, (a, b)) in dwant.iter().zip(&dgot).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{name} {dims:?}: diagnostic {k} = {b}, serial {a}"
            );
        }
    }
}

fn base(scheme: Scheme, bc: BoundaryConditions) -> DiffusionParams {
    let g = grid(19, 23);
    let mut p = DiffusionParams::gaussian_periodic(19, 0.1, 1.0);
    p.grid = g;
    p.scheme = scheme;
    p.boundaries = bc;
    p.dt = 0.15 * g.dx.min(g.dy).powi(2);
    p
}

fn mixed() -> BoundaryConditions {
    BoundaryConditions {
        top: BoundaryCondition::Fixed { value: 1.5 },
        bottom: BoundaryCondition::ZeroFlux,
        left: BoundaryCondition::Fixed { value: -0.5 },
        right: BoundaryCondition::Fixed { value: 2.0 },
    }
}

#[test]
fn explicit_schemes_on_tiles_equal_one_process_bitwise() {
    let periodic = BoundaryConditions::uniform(BoundaryCondition::Periodic);
    for order in [2, 4, 8] {
        check_bitwise(
            &format!("order {order} periodic"),
            &base(Scheme::Explicit { order }, periodic),
        );
        check_bitwise(
            &format!("order {order} mixed"),
            &base(Scheme::Explicit { order }, mixed()),
        );
    }
    let mut iso = base(Scheme::Isotropic9, mixed());
    iso.grid.dy = iso.grid.dx;
    check_bitwise("isotropic9", &iso);
    let mut tensor = base(Scheme::Explicit { order: 4 }, periodic);
    tensor.diffusivity = Diffusivity::Tensor {
        dxx: 1.0,
        dyy: 0.4,
        dxy: 0.3,
    };
    let (ny, nx) = (tensor.grid.ny, tensor.grid.nx);
    tensor.source = Some(Array2::from_shape_fn((ny, nx), |(i, j)| {
        (i as f64 - 2.0 * j as f64).sin()
    }));
    check_bitwise("tensor with source", &tensor);
    let mut step = base(Scheme::Stencil, mixed());
    step.stencil = Some(StencilTaps {
        form: StencilForm::Step,
        taps: ndarray::array![[0.0, 0.1, 0.0], [0.12, 0.5, 0.1], [0.0, 0.18, 0.0]],
        anchor: [1, 1],
        allow_unstable: false,
    });
    check_bitwise("step stencil", &step);
}

#[test]
fn flux_form_on_tiles_equals_one_process_bitwise() {
    for bc in [
        BoundaryConditions::uniform(BoundaryCondition::Periodic),
        mixed(),
    ] {
        let mut p = base(Scheme::Explicit { order: 2 }, bc);
        let (ny, nx) = (p.grid.ny, p.grid.nx);
        p.diffusivity = Diffusivity::Field {
            d: Array2::from_shape_fn((ny, nx), |(i, j)| 0.5 + ((i * 7 + j * 3) % 5) as f64 * 0.2),
            face_average: FaceAverage::Harmonic,
        };
        p.source = Some(Array2::from_shape_fn((ny, nx), |(i, j)| {
            0.1 * (i + j) as f64
        }));
        check_bitwise(&format!("flux {:?}", bc.top), &p);
    }
}

#[test]
fn spectral_on_tiles_is_within_1e13_of_one_process() {
    let mut p = base(
        Scheme::Spectral,
        BoundaryConditions::uniform(BoundaryCondition::Periodic),
    );
    p.dt = 0.01;
    let (ny, nx) = (p.grid.ny, p.grid.nx);
    p.source = Some(Array2::from_shape_fn((ny, nx), |(i, j)| {
        (0.3 * i as f64).cos() + 0.1 * j as f64
    }));
    let u0 = initial(ny, nx);
    let (want, dwant) = serial(&p, &u0, 5);
    let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for dims in GRIDS.into_iter().chain([[4, 1], [1, 4]]) {
        let (got, dgot) = run_tiled(&p, &u0, dims, 5);
        let err = want
            .iter()
            .zip(&got)
            .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            err <= 1e-13 * scale,
            "{dims:?}: max error {err:e} vs scale {scale}"
        );
        for (a, b) in dwant.iter().zip(&dgot) {
            assert!(
                (a - b).abs() <= 1e-13 * a.abs(),
                "{dims:?}: diagnostics {a} vs {b}"
            );
        }
    }
}

#[test]
fn a_tile_narrower_than_the_halo_is_refused() {
    let p = base(Scheme::Explicit { order: 8 }, mixed());
    let u0 = initial(19, 23);
    let links = TileLinks {
        halo: Box::new(convsim_core::tile::NoExchange),
        all_to_all: Box::new(convsim_core::tile::SelfAllToAll),
        blocks: vec![([0, 0], [19, 23])],
        rank: 0,
    };
    // 19 rows over 4 tiles: 4 or 5 rows each; the order-8 halo is 4 and needs 5.
    let e = DiffusionTile::new(&p, u0.view(), [4, 1], [0, 0], links, false).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("narrower than the halo") && msg.contains("along y"),
        "{msg}"
    );
}
