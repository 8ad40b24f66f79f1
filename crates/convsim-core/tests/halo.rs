//! Halo tiles (`Boundary::Halo`): a domain split into a 2 x 3 grid of tiles, each tile's ghost
//! cells filled from its neighbours, each tile convolved on its own and the owned outputs put
//! back together must equal the single whole-domain direct apply **bitwise**. The oracle is
//! exact because a tile's plan reads the same samples (ghost cells hold the values the whole
//! domain's padding or neighbouring rows provide) and sums them in the same order (same taps,
//! same FMA choice, same separable factorisation); any wrong offset, side or crop shows up as a
//! differing bit.

use convsim_core::testing::{Random, random_array, rng};
use convsim_core::{
    AxisGeometry, Boundaries, Boundary, ConvPlan, CoreError, Geometry, Kernel, Kernel2, Method,
    Orientation, Padding, SeparableKernel, Sides, output_len,
};
use ndarray::{Array2, s};

/// Ghost cells on every inner (or periodic) side of every tile: the widest kernel below
/// (11 taps, centred) reaches exactly 5, so the bound `ghosts >= reach` is met with equality.
const G: usize = 5;

/// Splits `n` into `parts` nearly equal ranges.
fn split(n: usize, parts: usize) -> Vec<(usize, usize)> {
    (0..parts)
        .map(|p| (p * n / parts, (p + 1) * n / parts))
        .collect()
}

/// How the whole domain is bounded along one axis.
#[derive(Clone, Copy, Debug)]
enum Outer {
    Periodic,
    Mirror,
}

/// The tile's sides along one axis and its ghost widths: halos on inner sides always, on outer
/// sides only when the domain is periodic (the neighbour wraps around).
fn tile_sides(outer: Outer, first: bool, last: bool) -> Sides {
    let side = |edge: bool| match (outer, edge) {
        (Outer::Mirror, true) => Boundary::Mirror,
        _ => Boundary::Halo(G),
    };
    Sides {
        lo: side(first),
        hi: side(last),
    }
}

/// Tile `[y0, y1) x [x0, x1)` of `u` with its ghost cells filled as a halo exchange would: the
/// neighbour's samples, wrapped around on a periodic domain.
fn tile_with_ghosts<T: Copy>(
    u: &Array2<T>,
    (y0, y1): (usize, usize),
    (x0, x1): (usize, usize),
    by: Sides,
    bx: Sides,
) -> Array2<T> {
    let (h, w) = u.dim();
    let [gyl, gyh] = by.ghosts();
    let [gxl, gxh] = bx.ghosts();
    Array2::from_shape_fn((gyl + y1 - y0 + gyh, gxl + x1 - x0 + gxh), |(r, c)| {
        let i = (y0 + r + h - gyl) % h;
        let j = (x0 + c + w - gxl) % w;
        u[[i, j]]
    })
}

/// Whole-domain direct apply vs the tiled one, bitwise.
fn check_tiled<T: Random>(
    u: &Array2<T>,
    kernel: &Kernel<T>,
    outer: [Outer; 2],
    o: Orientation,
    g: Geometry,
    method: Method,
) {
    let (h, w) = u.dim();
    let whole_b = |outer: Outer| match outer {
        Outer::Periodic => Sides::both(Boundary::Periodic),
        Outer::Mirror => Sides::both(Boundary::Mirror),
    };
    let mut whole = ConvPlan::builder([h, w], kernel.clone())
        .boundaries(Boundaries {
            y: whole_b(outer[0]),
            x: whole_b(outer[1]),
        })
        .orientation(o)
        .geometry(g)
        .method(Method::Direct)
        .build()
        .unwrap();
    let mut expected = Array2::<T>::zeros(whole.output_shape());
    whole.apply(u.view(), expected.view_mut());

    let mut tiled = Array2::<T>::zeros((h, w));
    let (ys, xs) = (split(h, 2), split(w, 3));
    for (ty, &yr) in ys.iter().enumerate() {
        for (tx, &xr) in xs.iter().enumerate() {
            let by = tile_sides(outer[0], ty == 0, ty == ys.len() - 1);
            let bx = tile_sides(outer[1], tx == 0, tx == xs.len() - 1);
            let tile = tile_with_ghosts(u, yr, xr, by, bx);
            let mut plan = ConvPlan::builder([tile.nrows(), tile.ncols()], kernel.clone())
                .boundaries(Boundaries { y: by, x: bx })
                .orientation(o)
                .geometry(g)
                .method(method)
                .build()
                .unwrap();
            let owned = (yr.1 - yr.0, xr.1 - xr.0);
            assert_eq!(plan.output_shape(), owned, "output covers the owned cells");
            assert_eq!(
                plan.recipe().method,
                Method::Direct,
                "halo tiles run direct"
            );
            assert_eq!(plan.recipe().halo, [by.ghosts(), bx.ghosts()]);
            let mut out = Array2::<T>::zeros(owned);
            plan.apply(tile.view(), out.view_mut());
            tiled.slice_mut(s![yr.0..yr.1, xr.0..xr.1]).assign(&out);
        }
    }
    let differing = expected.iter().zip(&tiled).filter(|(a, b)| a != b).count();
    assert_eq!(
        differing,
        0,
        "{} {outer:?} kernel {:?} {o:?} {g:?}: {differing} of {} samples differ from the whole-domain apply",
        T::NAME,
        kernel.shape(),
        h * w
    );
}

fn kernels<T: Random>() -> Vec<(Kernel<T>, Orientation, Geometry)> {
    let mut r = rng(7);
    let lap = Kernel2::new(
        ndarray::array![[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]].mapv(T::from_f64),
    )
    .unwrap();
    let gauss: Vec<f64> = (0..9)
        .map(|i| (-(f64::from(i) - 4.0).powi(2) / 6.0).exp())
        .collect();
    let rank_one = Kernel2::new(Array2::from_shape_fn((9, 9), |(i, j)| {
        T::from_f64(gauss[i] * gauss[j])
    }))
    .unwrap();
    let col: Vec<T> = (0..7).map(|_| T::random(&mut r)).collect();
    let row: Vec<T> = (0..11).map(|_| T::random(&mut r)).collect();
    vec![
        (lap.into(), Orientation::Convolve, Geometry::same()),
        (
            Kernel2::new(random_array(&mut r, 5, 5)).unwrap().into(),
            Orientation::Correlate,
            Geometry::same(),
        ),
        // Even sizes: the reach differs between the two sides of each axis.
        (
            Kernel2::new(random_array(&mut r, 4, 6)).unwrap().into(),
            Orientation::Correlate,
            Geometry::same(),
        ),
        (
            Kernel2::new(random_array(&mut r, 4, 6)).unwrap().into(),
            Orientation::Convolve,
            Geometry::same(),
        ),
        // Dilation doubles the reach of a 3 x 3 kernel to 2.
        (
            Kernel2::new(random_array(&mut r, 3, 3)).unwrap().into(),
            Orientation::Correlate,
            Geometry::same().with_dilation(2, 2),
        ),
        // Separable: given as factors (11 taps reach exactly G), and detected from a dense
        // rank-one kernel.
        (
            SeparableKernel::new(col, row).unwrap().into(),
            Orientation::Correlate,
            Geometry::same(),
        ),
        (rank_one.into(), Orientation::Convolve, Geometry::same()),
    ]
}

fn sweep<T: Random>() {
    let mut r = rng(3);
    // 37 x 50: tiles of 18/19 rows and 16/17 columns, all wider than twice the ghost width.
    let u: Array2<T> = random_array(&mut r, 37, 50);
    for (k, o, g) in kernels::<T>() {
        for outer in [
            [Outer::Periodic, Outer::Periodic],
            [Outer::Mirror, Outer::Mirror],
            [Outer::Periodic, Outer::Mirror],
        ] {
            check_tiled(&u, &k, outer, o, g, Method::Direct);
        }
    }
}

#[test]
fn tiles_reassemble_whole_domain_bitwise_f64() {
    sweep::<f64>();
}

#[test]
fn tiles_reassemble_whole_domain_bitwise_f32() {
    sweep::<f32>();
}

#[test]
fn every_method_request_is_routed_to_direct() {
    // Auto would pick FFT for a dense 11 x 11 kernel on a large image; Fft and OverlapSave are
    // explicit requests: a halo plan runs direct in every case and says so in its recipe.
    let mut r = rng(11);
    let u: Array2<f64> = random_array(&mut r, 37, 50);
    let k: Kernel<f64> = Kernel2::new(random_array(&mut r, 11, 11)).unwrap().into();
    for m in [
        Method::Auto,
        Method::Fft,
        Method::OverlapSave,
        Method::Direct,
    ] {
        check_tiled(
            &u,
            &k,
            [Outer::Periodic, Outer::Periodic],
            Orientation::Correlate,
            Geometry::same(),
            m,
        );
    }
}

#[test]
fn output_geometry_is_that_of_the_owned_cells() {
    // Full and Valid on the owned cells: the output length is `output_len` of the owned length,
    // whatever the ghost width; Full reads k - 1 ghost cells on each side.
    let k: Kernel<f64> = Kernel2::new(Array2::from_elem((3, 5), 1.0)).unwrap().into();
    for (pad, ghosts) in [
        (Padding::Same, [1, 2]),
        (Padding::Full, [2, 4]),
        (Padding::Valid, [0, 0]),
    ] {
        let b = Boundaries {
            y: Sides::both(Boundary::Halo(ghosts[0])),
            x: Sides::both(Boundary::Halo(ghosts[1])),
        };
        let plan = ConvPlan::builder([10 + 2 * ghosts[0], 12 + 2 * ghosts[1]], k.clone())
            .boundaries(b)
            .geometry(Geometry::uniform(pad))
            .build()
            .unwrap();
        let ax = AxisGeometry::new(pad);
        let expected = (
            output_len(10, 3, 1, &ax).unwrap(),
            output_len(12, 5, 2, &ax).unwrap(),
        );
        assert_eq!(plan.output_shape(), expected, "{pad:?}");
        assert!(
            plan.recipe().to_string().contains("halo"),
            "{}",
            plan.recipe()
        );
    }
}

#[test]
fn halo_thinner_than_the_kernel_reach_is_a_typed_error() {
    let k: Kernel<f64> = Kernel2::new(Array2::from_elem((4, 6), 1.0)).unwrap().into();
    // Same with a 4 x 6 kernel (anchor (2, 3)) reaches 2 up, 1 down, 3 left, 2 right.
    let build = |b: Boundaries| {
        ConvPlan::builder([20, 20], k.clone())
            .boundaries(b)
            .method(Method::Direct)
            .build()
            .map(|p| p.output_shape())
    };
    let halo = |ylo, yhi, xlo, xhi| Boundaries {
        y: Sides {
            lo: Boundary::Halo(ylo),
            hi: Boundary::Halo(yhi),
        },
        x: Sides {
            lo: Boundary::Halo(xlo),
            hi: Boundary::Halo(xhi),
        },
    };
    assert_eq!(build(halo(2, 1, 3, 2)), Ok((17, 15)), "exactly the reach");
    let cases = [
        (halo(1, 1, 3, 2), "y", "lo", 1, 2),
        (halo(2, 0, 3, 2), "y", "hi", 0, 1),
        (halo(2, 1, 2, 2), "x", "lo", 2, 3),
        (halo(2, 1, 3, 1), "x", "hi", 1, 2),
    ];
    for (b, axis, side, ghosts, needed) in cases {
        let e = build(b).unwrap_err();
        assert_eq!(
            e,
            CoreError::HaloTooThin {
                axis,
                side,
                ghosts,
                needed
            }
        );
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("Halo(n) with n >= {needed}")),
            "{msg}"
        );
    }
    // Ghost cells that fill the whole tile leave nothing to own.
    assert_eq!(
        build(halo(10, 10, 3, 2)),
        Err(CoreError::HaloNoOwnedCells {
            axis: "y",
            input: 20,
            ghosts: 20
        })
    );
}
