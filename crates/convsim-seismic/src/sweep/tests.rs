//! The sweep against one step at a time: bitwise equal fields, memory variables and gathers for
//! every boundary kind, order, depth, band layout and execution order.

use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::schedule::Exec;
use crate::{
    Model, PointSource, Receivers, Seismic, SeismicBoundaries, SeismicParams, SideBoundary, Wavelet,
};
use SideBoundary::{FreeSurface, Rigid, Zero};
use convsim_core::{Isa, RealElement, Simd, Simulation};

/// A small model exercising everything the sweep does.
fn case(order: usize, sides: [SideBoundary; 4], ny: usize, nx: usize) -> SeismicParams {
    let h = 10.0;
    let mut p = SeismicParams::homogeneous(ny, nx, h, 2000.0);
    p.space_order = order;
    p.velocity = Model::Layered {
        tops: vec![0.4 * ny as f64 * h],
        values: vec![1800.0, 2500.0],
    };
    p.dt = 0.5 * crate::stability::dt_max(order, h, h, 2500.0).unwrap();
    p.duration = 40.0 * p.dt;
    let [top, bottom, left, right] = sides;
    p.boundaries = SeismicBoundaries {
        top,
        bottom,
        left,
        right,
    };
    let (ly, lx) = ((ny - 1) as f64 * h, (nx - 1) as f64 * h);
    p.sources = vec![
        PointSource {
            y: 0.3 * ly,
            x: 0.55 * lx,
            wavelet: Wavelet::ricker(25.0),
        },
        // A second source on the edge row overlapping the first's columns.
        PointSource {
            y: 0.0,
            x: 0.5 * lx,
            wavelet: Wavelet::ricker(30.0),
        },
    ];
    p.receivers = vec![
        Receivers::Line {
            start: [0.05 * ly, 0.0],
            end: [0.05 * ly, lx],
            count: 13,
        },
        Receivers::Line {
            start: [0.0, 0.8 * lx],
            end: [ly, 0.8 * lx],
            count: 11,
        },
    ];
    p.ppw_threshold = Some(0.0);
    p
}

fn state_bits<T: RealElement>(s: &Seismic<T>) -> Vec<(String, Vec<u64>)> {
    let mut v: Vec<(String, Vec<u64>)> = s
        .state()
        .into_iter()
        .map(|a| (a.name, a.data.iter().map(|x| x.to_bits()).collect()))
        .collect();
    v.sort();
    v
}

fn check<T: RealElement>(p: &SeismicParams, steps: usize) {
    let g = p.grid;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // A random initial state reaches every layer and ghost from the first step.
    let p0 = Array2::from_shape_fn((g.ny, g.nx), |_| rng.random_range(-1.0..1.0));
    let fresh = || {
        let mut s = Seismic::<T>::new(p).unwrap();
        s.set_initial(p0.view());
        s
    };
    // The reference steps one row per task: the single-row kernel, against which the runs
    // below (two rows per task, the default) are compared.
    let mut want = fresh();
    want.set_row_block(1);
    for _ in 0..steps {
        want.step();
    }
    let want_bits = state_bits(&want);
    let run = |depth: usize, exec: Exec, threads: usize, block: usize| {
        let mut s = fresh();
        s.set_row_block(block);
        s.set_sweep_depth(Some(depth));
        s.set_exec(exec);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        // Uneven pieces, so sweeps start at odd steps and cross the end of the recording.
        pool.install(|| {
            s.advance(3);
            s.advance(steps - 3);
        });
        assert!(
            state_bits(&s) == want_bits,
            "{:?} order {} depth {depth} {exec:?} threads {threads} block {block}: differs from stepping",
            p.boundaries,
            p.space_order
        );
    };
    for block in [1, 2] {
        run(1, Exec::Forward, 1, block);
    }
    for depth in [2, 3, 5, 8] {
        for exec in [Exec::Forward, Exec::Reverse] {
            run(depth, exec, 1, super::ROW_BLOCK);
        }
        for threads in [2, 3] {
            run(depth, Exec::Parallel, threads, super::ROW_BLOCK);
        }
    }
    run(5, Exec::Reverse, 1, 1);
}

#[test]
fn cpml_everywhere_is_bitwise_the_stepped_run() {
    let c = SideBoundary::cpml(7);
    check::<f32>(&case(8, [c, c, c, c], 67, 45), 47);
    check::<f64>(&case(4, [c, c, c, c], 53, 38), 41);
}

#[test]
fn mirrors_and_mixed_sides_are_bitwise_the_stepped_run() {
    let c = SideBoundary::cpml(5);
    check::<f32>(&case(4, [FreeSurface, c, c, c], 61, 41), 45);
    check::<f32>(&case(16, [Zero, c, Rigid, FreeSurface], 75, 44), 43);
    check::<f64>(
        &case(2, [Rigid, FreeSurface, FreeSurface, Rigid], 49, 37),
        45,
    );
}

#[test]
fn sponge_and_zero_sides_are_bitwise_the_stepped_run() {
    let sp = SideBoundary::Sponge {
        width: 6,
        strength: 1.5,
    };
    check::<f32>(&case(2, [sp, sp, sp, sp], 58, 39), 44);
    check::<f32>(&case(8, [FreeSurface, sp, Zero, sp], 66, 40), 42);
    check::<f32>(&case(8, [Zero, Zero, Zero, Zero], 70, 41), 46);
}

#[test]
fn every_instruction_set_computes_the_same_sweep() {
    // AVX2 and AVX-512 run the same fused operations per element (shifted vectors or
    // unaligned loads give the same values): bitwise equal. The portable path does not fuse
    // multiply-adds; in f64 its rounding differs by ~1e-16 per operation, which 40 leapfrog
    // steps of ~40 operations per point keep far below 1e-11 of the field's size, while a
    // wrong term would differ at O(1).
    let c = SideBoundary::cpml(6);
    let p = case(8, [FreeSurface, c, c, Rigid], 57, 43);
    let g = p.grid;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let p0 = Array2::from_shape_fn((g.ny, g.nx), |_| rng.random_range(-1.0..1.0));
    let run = |simd: Simd| {
        let mut s = Seismic::<f64>::new(&p).unwrap();
        s.set_simd(simd);
        s.set_initial(p0.view());
        s.advance(40);
        (s.isa(), s.pressure(), s.receivers().1.to_owned())
    };
    let (isa, best, best_tr) = run(Simd::Best);
    let (isa2, avx2, avx2_tr) = run(Simd::Avx2Fma);
    let (isa0, port, port_tr) = run(Simd::Portable);
    assert_eq!(isa0, Isa::Portable);
    if isa != isa2 {
        assert!(
            best.iter()
                .zip(&avx2)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{isa:?} vs {isa2:?}"
        );
        assert!(
            best_tr
                .iter()
                .zip(&avx2_tr)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
    let scale = best.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let diff = best
        .iter()
        .zip(&port)
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        scale > 0.1 && diff <= 1e-11 * scale,
        "{isa:?} vs portable: {diff:e} of {scale:e}"
    );
    let tscale = best_tr.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let tdiff = best_tr
        .iter()
        .zip(&port_tr)
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(tdiff <= 1e-11 * tscale, "gathers: {tdiff:e} of {tscale:e}");
}

#[test]
fn subnormals_are_flushed_by_default_and_kept_on_request() {
    use crate::Subnormals;
    // A field of subnormal values (1e-40 < f32::MIN_POSITIVE = 1.2e-38): read as zero when
    // flushing, so one step gives zero everywhere; kept, the leapfrog's 2 p^n - p^(n-1)
    // carries them on.
    let c = SideBoundary::cpml(5);
    let mut p = case(4, [FreeSurface, c, c, c], 40, 36);
    p.sources.clear();
    let g = p.grid;
    let tiny = Array2::from_elem((g.ny, g.nx), 1e-40);
    let run = |fp: Subnormals| {
        let mut s = Seismic::<f32>::new(&p).unwrap();
        assert_eq!(s.subnormals(), Subnormals::Flush, "the default");
        s.set_subnormals(fp);
        s.set_initial(tiny.view());
        s.advance(3);
        s.pressure()
    };
    assert!(run(Subnormals::Flush).iter().all(|&v| v == 0.0));
    assert!(run(Subnormals::Keep).iter().any(|&v| v != 0.0));

    // On a real run the two differ only where values fall below the normal range (1.2e-38)
    // and in what the next steps make of them (measured: 4e-28 after 40 steps): at most
    // 1e-16 of the field's size, eight orders below f32's resolution of it, so invisible in
    // every output; a wrong term would differ at O(1).
    let p = case(8, [FreeSurface, c, c, c], 57, 43);
    let full = |fp: Subnormals| {
        let mut s = Seismic::<f32>::new(&p).unwrap();
        s.set_subnormals(fp);
        s.advance(40);
        (s.pressure(), s.receivers().1.to_owned())
    };
    let ((a, ta), (b, tb)) = (full(Subnormals::Flush), full(Subnormals::Keep));
    let max = |x: &Array2<f64>| x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let dist = |x: &Array2<f64>, y: &Array2<f64>| {
        x.iter()
            .zip(y)
            .fold(0.0_f64, |m, (p, q)| m.max((p - q).abs()))
    };
    let (scale, tscale) = (max(&b), max(&tb));
    let (diff, tdiff) = (dist(&a, &b), dist(&ta, &tb));
    assert!(
        scale > 0.0 && diff <= 1e-16 * scale && tdiff <= 1e-16 * tscale,
        "{diff:e} of {scale:e}, gathers {tdiff:e} of {tscale:e}"
    );
}
