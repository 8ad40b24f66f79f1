//! `convsim bench`: the workloads of `shared/bench/WORKLOADS.md`, timed the way `peers.py` times
//! the reference tools (median of at least 5 runs after one warm-up; plans and buffers built
//! outside the timed region).

use crate::output::outln;
use std::time::Instant;

use anyhow::{Context, Result};

mod cnn;
mod conv;
mod diffusion;
mod quantum;
mod seismic;

/// Arguments of `convsim bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Print one JSON line per workload (machine-readable; docs/benchmarks.md).
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Timed runs per workload (at least 5).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Conv workloads only: run each with every method forced (direct, fft, overlap-add) and
    /// with auto, printing auto's choice, its cost estimates and its time over the best.
    #[arg(long)]
    pub methods: bool,
    /// Measure the memory-bandwidth bound instead: a parallel copy of a 4096 x 4096 f64 array
    /// (128 MiB read, 128 MiB written, huge pages), the bound of the low-order stencils.
    #[arg(long, conflicts_with = "methods")]
    pub bandwidth: bool,
    /// Run only workloads whose id starts with one of these prefixes.
    pub prefixes: Vec<String>,
}

/// A benchmark workload: `setup` builds inputs, plans and buffers (untimed) and returns the
/// closure that runs the whole workload once (timed).
pub(crate) struct Workload {
    pub(crate) id: &'static str,
    pub(crate) setup: Box<dyn Fn() -> Box<dyn FnMut()> + Send + Sync>,
}

fn all_workloads() -> Vec<Workload> {
    let mut w = Vec::new();
    w.extend(conv::workloads());
    w.extend(diffusion::workloads());
    w.extend(seismic::workloads());
    w.extend(quantum::workloads());
    w.extend(cnn::workloads());
    w
}

/// Runs `convsim bench`.
///
/// # Errors
/// If the thread pool cannot be built or a prefix matches nothing.
pub fn run(args: &BenchArgs) -> Result<()> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("building the thread pool")?;
    let wanted = |id: &str| {
        args.prefixes.is_empty() || args.prefixes.iter().any(|p| id.starts_with(p.as_str()))
    };
    let reps = args.reps.max(5);
    if args.methods {
        return run_methods(args, &pool, threads, reps, &wanted);
    }
    if args.bandwidth {
        let seconds = pool.install(|| median_seconds(reps, copy_4096()));
        let gbs = 2.0 * COPY_BYTES as f64 / seconds / 1e9;
        if args.json {
            outln!(
                "{}",
                serde_json::json!({"workload": "copy-4096-f64", "tool": "convsim", "seconds": seconds, "threads": threads, "gb_per_s": gbs})
            );
        } else {
            outln!(
                "{:28} {seconds:10.4} s  ({threads} threads; {gbs:.1} GB/s counting read and write)",
                "copy-4096-f64"
            );
        }
        return Ok(());
    }
    let selected: Vec<Workload> = all_workloads()
        .into_iter()
        .filter(|w| wanted(w.id))
        .collect();
    if selected.is_empty() {
        anyhow::bail!(
            "no workload matches {:?}; known: {}",
            args.prefixes,
            all_workloads()
                .iter()
                .map(|w| w.id)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for w in selected {
        let seconds = pool.install(|| median_seconds(reps, (w.setup)()));
        if args.json {
            outln!(
                "{}",
                serde_json::json!({"workload": w.id, "tool": "convsim", "seconds": seconds, "threads": threads})
            );
        } else {
            outln!("{:28} {:10.4} s  ({threads} threads)", w.id, seconds);
        }
    }
    Ok(())
}

/// Bytes of the array `--bandwidth` copies.
const COPY_BYTES: usize = 4096 * 4096 * 8;

/// The timed copy of `--bandwidth`: `copy_from_slice` over 512 KiB chunks shared by the pool.
/// That was the fastest copy here (0.0084-0.0088 s on two threads; one contiguous share per
/// thread, where glibc streams the stores, took 0.0108-0.0118 s), so it is the stricter bound.
fn copy_4096() -> Box<dyn FnMut()> {
    use rayon::prelude::*;
    let src = convsim_core::memory::zeros::<f64>((4096, 4096));
    let mut dst = convsim_core::memory::zeros::<f64>((4096, 4096));
    Box::new(move || {
        let s = src.as_slice().expect("standard layout");
        let d = dst.as_slice_mut().expect("standard layout");
        d.par_chunks_mut(1 << 16)
            .zip(s.par_chunks(1 << 16))
            .for_each(|(d, s)| d.copy_from_slice(s));
    })
}

/// Median of `reps` timed runs after one warm-up.
fn median_seconds(reps: usize, mut run: Box<dyn FnMut()>) -> f64 {
    run(); // warm-up
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// `convsim bench --methods`: the conv workloads with each method forced, then with auto.
fn run_methods(
    args: &BenchArgs,
    pool: &rayon::ThreadPool,
    threads: usize,
    reps: usize,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<()> {
    use convsim_core::Method;
    let selected: Vec<_> = conv::with_method()
        .into_iter()
        .filter(|(id, _)| wanted(id))
        .collect();
    if selected.is_empty() {
        anyhow::bail!(
            "--methods runs the conv workloads only, and none matches {:?}",
            args.prefixes
        );
    }
    for (id, setup) in selected {
        let mut best = f64::INFINITY;
        for m in [
            Method::Direct,
            Method::Fft,
            Method::OverlapAdd,
            Method::Auto,
        ] {
            let (seconds, recipe) = pool.install(|| {
                let (run, recipe) = setup(m);
                (median_seconds(reps, run), recipe)
            });
            let chosen = recipe.method.name();
            if m == Method::Auto {
                let ratio = seconds / best;
                if args.json {
                    outln!(
                        "{}",
                        serde_json::json!({"workload": id, "tool": "convsim", "method": "auto",
                            "chosen": chosen, "seconds": seconds, "threads": threads,
                            "over_best": ratio, "estimates": recipe.estimates})
                    );
                } else {
                    outln!(
                        "{id:28} {:12} {seconds:10.4} s  picks {chosen}, {ratio:.2}x the best",
                        "auto"
                    );
                }
            } else {
                best = best.min(seconds);
                if args.json {
                    outln!(
                        "{}",
                        serde_json::json!({"workload": id, "tool": "convsim", "method": m.name(),
                            "seconds": seconds, "threads": threads, "variant": recipe.variant})
                    );
                } else {
                    outln!(
                        "{id:28} {:12} {seconds:10.4} s  ({})",
                        m.name(),
                        recipe.variant
                    );
                }
            }
        }
    }
    Ok(())
}

/// Seeded standard-normal samples (the benchmark inputs), reproducible across runs.
pub(crate) fn normal_samples(n: usize, seed: u64) -> Vec<f64> {
    // SplitMix64 + Box-Muller: dependency-free and deterministic.
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let u1 = next().max(f64::MIN_POSITIVE);
            let u2 = next();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}
