//! The memory estimate of `convsim_scenario::limits` against what a run really allocates.
//!
//! A counting global allocator records the peak of live heap bytes while each shipped solver
//! scenario runs end to end (resolution, solver, frames, checkpoints, pictures), at its own
//! grid and at a larger one. The estimate must cover the measured peak (it is the figure a run
//! is refused by) and stay within a small factor of it (an estimate ten times too large would
//! refuse runs that fit). libhdf5 and zlib allocate with `malloc` directly, outside this
//! count; the estimate's fixed allowance for the program and its libraries covers them, and is
//! left out of the comparison.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use convsim_scenario::Scenario;
use convsim_scenario::driver::{self, RunOptions};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The fixed allowance of `limits` for the program and its libraries.
const BASELINE: u128 = 32 * 1024 * 1024;

/// Runs `file` without the keys `remove` (`table.key`) and with `sets`; returns (estimated
/// bytes without the baseline, measured peak).
fn measure(file: &str, remove: &[&str], sets: &[&str]) -> (u128, u128) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(file);
    let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for key in remove {
        let (t, k) = key.split_once('.').unwrap();
        table[t].as_table_mut().unwrap().remove(k);
    }
    let text = toml::to_string(&table).unwrap();
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let s = Scenario::from_str(&text, &path, &sets).unwrap();
    driver::run(
        &s,
        &RunOptions {
            out_dir: dir.path().to_path_buf(),
            ..RunOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let peak = (PEAK.load(Ordering::Relaxed) - before) as u128;
    (s.footprint.memory().0 - BASELINE, peak)
}

#[test]
fn the_estimate_covers_every_shipped_scenario_within_a_small_factor() {
    // Steps cut short (the estimate does not depend on them, except frames); a larger grid
    // where the scenario's spacing follows from lx (so stability is unchanged or checked).
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "scenarios/diffusion/gaussian_periodic.toml",
            &["diffusion.order"],
            &[
                "diffusion.scheme=\"spectral\"",
                "grid.nx=512",
                "grid.ny=512",
            ],
        ),
        ("scenarios/diffusion/gaussian_periodic.toml", &[], &[]),
        (
            "scenarios/diffusion/anisotropic.toml",
            &["time.t_end"],
            &["time.steps=50"],
        ),
        (
            "scenarios/diffusion/heterogeneous.toml",
            &[],
            &["time.steps=200"],
        ),
        (
            "scenarios/diffusion/plate_dirichlet.toml",
            &["time.t_end"],
            &["time.steps=100"],
        ),
        (
            "scenarios/diffusion/plate_dirichlet.toml",
            &["time.t_end"],
            &[
                "time.steps=100",
                "output.checkpoint_every=40",
                "diffusion.source=\"x*y\"",
            ],
        ),
        ("scenarios/seismic/homogeneous.toml", &[], &[]),
        ("scenarios/seismic/layered_free_surface.toml", &[], &[]),
        ("scenarios/seismic/marmousi.toml", &[], &[]),
        (
            "scenarios/quantum/barrier_1d.toml",
            &["time.t_end"],
            &["time.steps=200"],
        ),
        (
            "scenarios/quantum/coherent_state.toml",
            &["time.t_end"],
            &["time.steps=50"],
        ),
        ("scenarios/quantum/double_slit.toml", &[], &[]),
        ("scenarios/quantum/gp_ground_state.toml", &[], &[]),
        // The stepping phase alone (no pictures), at grids where the arrays dominate.
        (
            "scenarios/diffusion/gaussian_periodic.toml",
            &["time.t_end"],
            &[
                "grid.nx=384",
                "grid.ny=384",
                "time.dt=1e-5",
                "time.steps=20",
                "output.plots=false",
            ],
        ),
        (
            "scenarios/diffusion/heterogeneous.toml",
            &[],
            &[
                "time.steps=200",
                "output.plots=false",
                "output.checkpoint_every=100",
            ],
        ),
        (
            "scenarios/seismic/homogeneous.toml",
            &[],
            &["grid.nx=300", "grid.ny=300", "output.plots=false"],
        ),
        (
            "scenarios/seismic/marmousi.toml",
            &[],
            &["output.plots=false"],
        ),
        (
            "scenarios/quantum/double_slit.toml",
            &[],
            &["output.plots=false", "output.checkpoint_every=50"],
        ),
        (
            "scenarios/quantum/coherent_state.toml",
            &["time.t_end"],
            &[
                "time.steps=20",
                "time.dt=1e-3",
                "output.plots=false",
                "quantum.method=\"finite_difference\"",
            ],
        ),
    ];
    let mut report = Vec::new();
    for (file, remove, sets) in cases {
        let (est, peak) = measure(file, remove, sets);
        let ratio = est as f64 / peak as f64;
        report.push(format!(
            "{file} {sets:?}: estimate {est} B, measured {peak} B, ratio {ratio:.2}"
        ));
    }
    println!("{}", report.join("\n"));
    for line in &report {
        let ratio: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((1.0..=4.0).contains(&ratio), "{line}");
    }
}
