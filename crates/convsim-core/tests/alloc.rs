//! Zero heap allocations per `apply` of a built plan, proved with a counting global allocator.
//!
//! Only allocations made on *tagged* threads of the pool under measurement are counted: the
//! measuring thread while it measures, and the worker threads of that rayon pool (tagged with
//! the pool's id by their start handler). The test harness's own threads, and the workers of
//! pools from earlier measurements that are still shutting down (thread exit allocates), are
//! never counted; a mutex runs the measurements one at a time.
//!
//! What rayon itself allocates (measured here, see `rayon_install_allocates_rarely`):
//! inside a pool (`pool.install(|| for .. { plan.apply(..) })`) nothing; each `install` called
//! from *outside* the pool pushes one job onto rayon's global injector queue, a linked list of
//! blocks of 63 jobs (crossbeam-deque), so one block allocation every 63 `install` calls
//! (measured: 10 allocations in 630 calls).
//! That cost belongs to the caller's `install`, not to `apply`; solvers step inside one
//! `install` and see none of it. Separately, the first time a worker thread steals work it
//! registers with crossbeam-epoch (one 2304-byte allocation per thread, once in the thread's
//! life); the pools here are warmed up so that this does not land in a measured `apply`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use convsim_core::testing::{Random, random_array, rng};
use convsim_core::{
    AxisFactors, Boundaries, Boundary, ChannelConvPlan, Complex64, ConvPlan, Geometry, Kernel,
    Kernel2, Method, Padding, SeparableKernel, Sides, SpectralPlan,
};
use ndarray::{Array1, Array2, Array4};
use rayon::ThreadPool;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

/// Id of the pool being measured (0: none).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Next pool id.
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    // `const` initialisation: reading it never allocates (no lazy thread-local registration).
    static TAG: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    let tag = TAG.with(Cell::get);
    if tag != 0 && tag == ACTIVE.load(Ordering::Relaxed) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator unchanged; counting has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static SERIAL: Mutex<()> = Mutex::new(());

/// A rayon pool whose workers carry the tag `id`.
struct Pool {
    pool: ThreadPool,
    id: usize,
}

fn pool(threads: usize) -> Pool {
    let id = NEXT_ID.fetch_add(1, Ordering::SeqCst);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .start_handler(move |_| TAG.with(|c| c.set(id)))
        .build()
        .unwrap();
    warm_up(&pool, threads);
    Pool { pool, id }
}

/// Makes every worker steal at least once. A worker's first steal pins crossbeam-epoch, which
/// registers the thread with the epoch collector: one 2304-byte allocation per thread, once,
/// measured here. Without this warm-up it lands in whichever `apply` first makes that worker
/// steal, randomly.
fn warm_up(pool: &ThreadPool, threads: usize) {
    let mut stole = vec![false; threads];
    for _ in 0..1000 {
        if stole.iter().all(|&s| s) {
            return;
        }
        let (a, b) = pool.install(|| {
            rayon::join(
                || {
                    // Long enough for an idle worker to wake and steal the other half.
                    std::thread::sleep(std::time::Duration::from_micros(200));
                    rayon::current_thread_index().unwrap()
                },
                || rayon::current_thread_index().unwrap(),
            )
        });
        // `a` took the install job from the injector (a steal); `b` is a steal if it ran on
        // another worker.
        stole[a] = true;
        stole[b] |= b != a;
    }
    panic!("warm-up: workers that never stole: {stole:?}");
}

/// Allocations made while `f` runs, on this thread and on the workers of pool `id`.
fn count(id: usize, f: impl FnOnce()) -> usize {
    let before = ALLOCS.load(Ordering::SeqCst);
    let prev = TAG.with(|c| c.replace(id));
    ACTIVE.store(id, Ordering::SeqCst);
    f();
    ACTIVE.store(0, Ordering::SeqCst);
    TAG.with(|c| c.set(prev));
    ALLOCS.load(Ordering::SeqCst) - before
}

/// Builds the plan inside `pool` (it sizes its per-task scratch from the pool), applies it once
/// to warm up, then counts the allocations of `reps` further applies inside one `install`.
fn allocs_per_apply<T: Random>(
    pool: &Pool,
    shape: [usize; 2],
    kernel: Kernel<T>,
    b: Boundaries,
    g: Geometry,
    method: Method,
) -> usize {
    let mut r = rng(31);
    let input: Array2<T> = random_array(&mut r, shape[0], shape[1]);
    pool.pool.install(|| {
        let mut plan = ConvPlan::builder(shape, kernel)
            .boundaries(b)
            .geometry(g)
            .method(method)
            .build()
            .unwrap();
        let mut out = Array2::zeros(plan.output_shape());
        plan.apply(input.view(), out.view_mut());
        let reps = 20;
        count(pool.id, || {
            for _ in 0..reps {
                plan.apply(input.view(), out.view_mut());
            }
        })
    })
}

fn lap() -> Kernel<f64> {
    Kernel2::new(ndarray::array![
        [0.0, 1.0, 0.0],
        [1.0, -4.0, 1.0],
        [0.0, 1.0, 0.0]
    ])
    .unwrap()
    .into()
}

#[test]
fn direct_dense_and_strided_allocate_nothing() {
    let _guard = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mixed = Boundaries {
        y: Sides {
            lo: Boundary::Mirror,
            hi: Boundary::Antisymmetric,
        },
        x: Sides::both(Boundary::Periodic),
    };
    let mut r = rng(32);
    let dense7: Kernel<f64> = Kernel2::new(random_array(&mut r, 7, 7)).unwrap().into();
    let sep: Kernel<f64> =
        SeparableKernel::new(vec![0.25, 0.5, 0.25], vec![0.1, 0.2, 0.4, 0.2, 0.1])
            .unwrap()
            .into();
    let one: Kernel<f64> = Kernel2::new(ndarray::array![[2.5]]).unwrap().into();
    let c: Kernel<Complex64> = Kernel2::new(random_array(&mut r, 3, 4)).unwrap().into();
    for threads in [1, 2] {
        let p = pool(threads);
        let cases: Vec<(&str, usize)> = vec![
            (
                "dense lap zero",
                allocs_per_apply(
                    &p,
                    [64, 48],
                    lap(),
                    Boundaries::default(),
                    Geometry::same(),
                    Method::Direct,
                ),
            ),
            (
                "dense 7x7 mixed",
                allocs_per_apply(
                    &p,
                    [33, 40],
                    dense7.clone(),
                    mixed,
                    Geometry::uniform(Padding::Full),
                    Method::Direct,
                ),
            ),
            (
                "strided dilated",
                allocs_per_apply(
                    &p,
                    [41, 37],
                    dense7.clone(),
                    Boundaries::uniform(Boundary::Symmetric),
                    Geometry::same().with_stride(2, 3).with_dilation(2, 1),
                    Method::Direct,
                ),
            ),
            (
                "separable",
                allocs_per_apply(
                    &p,
                    [32, 32],
                    sep.clone(),
                    Boundaries::uniform(Boundary::Replicate),
                    Geometry::same(),
                    Method::Direct,
                ),
            ),
            (
                "1x1",
                allocs_per_apply(
                    &p,
                    [16, 16],
                    one.clone(),
                    Boundaries::default(),
                    Geometry::same(),
                    Method::Direct,
                ),
            ),
            (
                "complex64",
                allocs_per_apply(
                    &p,
                    [20, 24],
                    c.clone(),
                    Boundaries::uniform(Boundary::Periodic),
                    Geometry::same(),
                    Method::Direct,
                ),
            ),
            (
                "auto",
                allocs_per_apply(
                    &p,
                    [64, 64],
                    lap(),
                    Boundaries::uniform(Boundary::Periodic),
                    Geometry::same(),
                    Method::Auto,
                ),
            ),
        ];
        for (name, n) in cases {
            assert_eq!(
                n, 0,
                "{name} in a {threads}-thread pool: {n} allocations in 20 applies"
            );
        }
    }
}

#[test]
fn counter_sees_allocations() {
    // The counter must be able to fail: an apply-sized allocation on the test thread and one on a
    // pool worker are both seen.
    let _guard = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let n = count(usize::MAX, || {
        let v: Vec<f64> = vec![1.0; 100];
        std::hint::black_box(&v);
    });
    assert_eq!(n, 1);
    let p = pool(2);
    let n = count(p.id, || {
        p.pool.install(|| {
            rayon::join(
                || std::hint::black_box(vec![0u8; 10]),
                || std::hint::black_box(vec![0u8; 10]),
            )
        });
    });
    assert!(n >= 2, "{n}");
}

#[test]
fn rayon_install_allocates_rarely() {
    // Measures the documented rayon cost: `install` from outside the pool, one apply each.
    let _guard = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let p = pool(2);
    let input = Array2::<f64>::ones((32, 32));
    let mut plan = p.pool.install(|| {
        ConvPlan::builder([32, 32], lap())
            .method(Method::Direct)
            .build()
            .unwrap()
    });
    let mut out = Array2::zeros(plan.output_shape());
    p.pool.install(|| plan.apply(input.view(), out.view_mut()));
    let installs = 630;
    let n = count(p.id, || {
        for _ in 0..installs {
            p.pool.install(|| plan.apply(input.view(), out.view_mut()));
        }
    });
    // One injector block per 63 pushes: measured exactly 10 for 630 installs. Allow two more
    // for a block boundary falling inside the warm-up, but nowhere near one per call.
    assert!(
        n <= installs / 63 + 2,
        "{n} allocations in {installs} installs"
    );
}

/// Builds a workload inside the pool with `setup`, runs it once to warm up, then counts the
/// allocations of 20 further runs.
fn allocs_of<S, F>(pool: &Pool, setup: S) -> usize
where
    S: FnOnce() -> F + Send,
    F: FnMut(),
{
    pool.pool.install(|| {
        let mut f = setup();
        f();
        count(pool.id, || {
            for _ in 0..20 {
                f();
            }
        })
    })
}

#[test]
fn fft_channels_and_spectral_allocate_nothing() {
    let _guard = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut r = rng(33);
    let big: Array2<f64> = random_array(&mut r, 15, 15);
    let x: Array2<f64> = random_array(&mut r, 40, 36);
    let xc: Array2<Complex64> = random_array(&mut r, 24, 20);
    for threads in [1, 2] {
        let p = pool(threads);
        let fft = |b: Boundaries, g: Geometry| {
            let (k, x) = (big.clone(), x.clone());
            allocs_of(&p, move || {
                let mut plan = ConvPlan::builder([40, 36], Kernel2::new(k).unwrap())
                    .boundaries(b)
                    .geometry(g)
                    .method(Method::Fft)
                    .build()
                    .unwrap();
                let mut out = Array2::zeros(plan.output_shape());
                move || plan.apply(x.view(), out.view_mut())
            })
        };
        let spectral_real = {
            let x = x.clone();
            allocs_of(&p, move || {
                let mut plan = SpectralPlan::<f64>::new([40, 36], [1.0, 1.0], |ky, kx| {
                    Complex64::new((-(ky * ky + kx * kx)).exp(), 0.0)
                })
                .unwrap();
                let mut out = Array2::zeros((40, 36));
                move || plan.apply(x.view(), out.view_mut())
            })
        };
        let spectral_complex = {
            let xc = xc.clone();
            allocs_of(&p, move || {
                let mut plan = SpectralPlan::<Complex64>::new([24, 20], [0.5, 0.5], |ky, kx| {
                    Complex64::from_polar(1.0, -(ky * ky + kx * kx) * 0.1)
                })
                .unwrap();
                let mut u = xc.clone();
                move || plan.apply_inplace(u.view_mut())
            })
        };
        // The fused split-step path (row hooks, several applications in one call) and the
        // line-by-line path of separable plans (`axis`), on contiguous and transposed data.
        let spectral_steps = |transposed: bool, axis: bool| {
            let xc = xc.clone();
            allocs_of(&p, move || {
                let h = |k: f64| Complex64::from_polar(1.0, -k * k * 0.1);
                let (shape, spacing) = ([24, 20], [0.5, 0.5]);
                let mut plan = if axis {
                    SpectralPlan::<Complex64>::new_separable(shape, spacing, h, h)
                } else {
                    SpectralPlan::<Complex64>::new(shape, spacing, |ky, kx| h(ky) * h(kx))
                }
                .unwrap();
                let f = Complex64::from_polar(1.0, 0.3);
                let (fy, fx) = (vec![f; 24], vec![f; 20]);
                let mut u = xc.clone();
                let mut ut = Array2::<Complex64>::zeros((20, 24));
                move || {
                    let view = if transposed {
                        ut.view_mut().reversed_axes()
                    } else {
                        u.view_mut()
                    };
                    if axis {
                        let (y, x) = (AxisFactors::same(&fy), AxisFactors::same(&fx));
                        plan.apply_axis_steps(view, 3, y, x);
                    } else {
                        plan.apply_steps(
                            view,
                            3,
                            |_, r| r.iter_mut().for_each(|z| *z *= f),
                            |_, r| r.iter_mut().for_each(|z| *z *= f * f),
                            |_, r| r.iter_mut().for_each(|z| *z *= f),
                        );
                    }
                }
            })
        };
        let spectral_real_steps = {
            let x = x.clone();
            allocs_of(&p, move || {
                let mut plan = SpectralPlan::<f64>::new([40, 36], [1.0, 1.0], |ky, kx| {
                    Complex64::new((-(ky * ky + kx * kx)).exp(), 0.0)
                })
                .unwrap();
                let mut u = x.clone();
                move || {
                    plan.apply_steps(
                        u.view_mut(),
                        2,
                        |_, r| r.iter_mut().for_each(|z| *z *= 0.5),
                        |_, r| r.iter_mut().for_each(|z| *z *= 2.0),
                        |_, r| r.iter_mut().for_each(|z| *z *= 0.5),
                    );
                }
            })
        };
        let channels = |groups: usize, g: Geometry, k: [usize; 2]| {
            let mut r = rng(34);
            let xin: Array4<f64> =
                Array4::from_shape_simple_fn((3, 4, 12, 13), || f64::random(&mut r));
            let w: Array4<f64> =
                Array4::from_shape_simple_fn((6, 4 / groups, k[0], k[1]), || f64::random(&mut r));
            let bias = Array1::<f64>::ones(6);
            allocs_of(&p, move || {
                let mut plan = ChannelConvPlan::<f64>::builder([3, 4, 12, 13], 6, k)
                    .groups(groups)
                    .boundaries(Boundaries::uniform(Boundary::Mirror))
                    .geometry(g)
                    .build()
                    .unwrap();
                let mut y = Array4::zeros(plan.output_shape());
                let mut gin = Array4::zeros(plan.input_shape());
                let mut gw = Array4::zeros(plan.weight_shape());
                let mut gb = Array1::zeros(6);
                move || {
                    plan.forward(xin.view(), w.view(), Some(bias.view()), y.view_mut());
                    plan.backward_input(y.view(), w.view(), gin.view_mut());
                    plan.backward_weights(xin.view(), y.view(), gw.view_mut(), Some(gb.view_mut()));
                }
            })
        };
        let cases = [
            (
                "fft zero same",
                fft(Boundaries::default(), Geometry::same()),
            ),
            (
                "fft periodic",
                fft(Boundaries::uniform(Boundary::Periodic), Geometry::same()),
            ),
            (
                "fft mirror strided",
                fft(
                    Boundaries::uniform(Boundary::Mirror),
                    Geometry::uniform(Padding::Full).with_stride(2, 3),
                ),
            ),
            ("spectral f64", spectral_real),
            ("spectral c64", spectral_complex),
            ("spectral c64 steps", spectral_steps(false, false)),
            ("spectral c64 steps transposed", spectral_steps(true, false)),
            ("spectral f64 steps", spectral_real_steps),
            ("spectral c64 axis steps", spectral_steps(false, true)),
            (
                "spectral c64 axis steps transposed",
                spectral_steps(true, true),
            ),
            ("channels dense", channels(1, Geometry::same(), [3, 3])),
            (
                "channels grouped strided",
                channels(
                    2,
                    Geometry::same().with_stride(2, 2).with_dilation(1, 2),
                    [3, 2],
                ),
            ),
            ("channels 1x1", channels(1, Geometry::same(), [1, 1])),
        ];
        for (name, n) in cases {
            assert_eq!(
                n, 0,
                "{name} in a {threads}-thread pool: {n} allocations in 20 runs"
            );
        }
    }
}

#[test]
fn overlap_save_allocates_nothing() {
    let _guard = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mixed = Boundaries {
        y: Sides {
            lo: Boundary::Symmetric,
            hi: Boundary::Constant(0.5),
        },
        x: Sides::both(Boundary::Mirror),
    };
    for threads in [1, 2] {
        let p = pool(threads);
        // Forced 16-point blocks (many blocks, some wholly in the padding), the cost model's
        // blocks, stride and dilation, f64 and f32; `apply`, and `apply_with` into a contiguous
        // and into a strided (transposed) output.
        let case = |block: Option<[usize; 2]>, g: Geometry, f32: bool, with: bool| {
            if f32 {
                oa_allocs::<f32>(&p, block, mixed, g, with)
            } else {
                oa_allocs::<f64>(&p, block, mixed, g, with)
            }
        };
        let full = Geometry::uniform(Padding::Full);
        let wide = Geometry::uniform(Padding::Explicit { lo: 30, hi: 30 });
        let strided = Geometry::same().with_stride(2, 3).with_dilation(2, 1);
        let cases = [
            (
                "f64 blocks 16 full",
                case(Some([16, 16]), full, false, false),
            ),
            (
                "f64 blocks 16 wide pad",
                case(Some([16, 16]), wide, false, false),
            ),
            ("f64 chosen blocks", case(None, full, false, false)),
            (
                "f64 strided dilated",
                case(Some([16, 24]), strided, false, false),
            ),
            ("f64 apply_with", case(Some([16, 16]), full, false, true)),
            (
                "f32 blocks 16 full",
                case(Some([16, 16]), full, true, false),
            ),
            ("f32 chosen blocks", case(None, strided, true, false)),
            ("f32 apply_with", case(Some([16, 16]), wide, true, true)),
        ];
        for (name, n) in cases {
            assert_eq!(
                n, 0,
                "overlap-save {name} in a {threads}-thread pool: {n} allocations in 20 applies"
            );
        }
    }
}

/// Allocations of 20 applies of an overlap-save plan on a 37x29 image with a 5x4 kernel; with
/// `with`, `apply_with` into both a contiguous and a transposed (strided rows) output.
fn oa_allocs<T: Random>(
    p: &Pool,
    block: Option<[usize; 2]>,
    b: Boundaries,
    g: Geometry,
    with: bool,
) -> usize {
    let mut r = rng(35);
    let x: Array2<T> = random_array(&mut r, 37, 29);
    let k: Kernel<T> = Kernel2::new(random_array(&mut r, 5, 4)).unwrap().into();
    allocs_of(p, move || {
        let mut builder = ConvPlan::builder([37, 29], k)
            .boundaries(b)
            .geometry(g)
            .method(Method::OverlapSave);
        if let Some(f) = block {
            builder = builder.block_fft_len(f);
        }
        let mut plan = builder.build().unwrap();
        let (oh, ow) = plan.output_shape();
        let mut out = Array2::<T>::zeros((oh, ow));
        let mut out_t = Array2::<T>::zeros((ow, oh));
        move || {
            if with {
                plan.apply_with(x.view(), out.view_mut(), |_, c, o| o.copy_from_slice(c));
                plan.apply_with(x.view(), out_t.view_mut().reversed_axes(), |_, c, o| {
                    o.copy_from_slice(c);
                });
            } else {
                plan.apply(x.view(), out.view_mut());
            }
        }
    })
}
