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
mod roof;
mod seismic;

/// Arguments of `convsim bench`.
#[derive(Debug, clap::Args)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "command-line switches: --json and three mutually exclusive modes"
)]
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
    /// Conv workloads only: run each with every method forced (direct, fft, overlap-save) and
    /// with auto, printing auto's choice, its cost estimates and its time over the best.
    #[arg(long)]
    pub methods: bool,
    /// Measure the memory roof instead: a parallel copy (huge pages) of an array of each size
    /// the workloads stream, from 1024 x 1024 f64 (8 MiB) to 4096 x 4096 f64 (128 MiB).
    #[arg(long, conflicts_with = "methods")]
    pub bandwidth: bool,
    /// Measure the compute roof instead: independent vector multiply-adds on every thread at
    /// once (512-bit with AVX-512F, else 256-bit), in instructions and GFLOP/s.
    #[arg(long, conflicts_with_all = ["methods", "bandwidth"])]
    pub peak: bool,
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
        for (id, bytes) in roof::COPIES {
            let seconds = pool.install(|| median_seconds(reps, roof::copy(bytes)));
            #[allow(clippy::cast_precision_loss, reason = "sizes far below 2^52 bytes")]
            let gbs = 2.0 * bytes as f64 / seconds / 1e9;
            if args.json {
                outln!(
                    "{}",
                    serde_json::json!({"workload": id, "tool": "convsim", "seconds": seconds, "threads": threads, "gb_per_s": gbs})
                );
            } else {
                outln!(
                    "{id:28} {seconds:10.4} s  ({threads} threads; {gbs:.1} GB/s counting read and write)"
                );
            }
        }
        return Ok(());
    }
    if args.peak {
        let p = pool
            .install(roof::peak)
            .context("no vector multiply-add on this CPU (x86-64 with AVX2 + FMA or AVX-512F)")?;
        let (f32s, f64s) = (p.flops(4) / 1e9, p.flops(8) / 1e9);
        let id = format!("fma-peak-{}", p.bits);
        if args.json {
            outln!(
                "{}",
                serde_json::json!({"workload": id, "tool": "convsim", "seconds": p.seconds, "threads": threads, "fma": p.fma, "fma_per_s": p.fma_per_s, "gflops_f32": f32s, "gflops_f64": f64s})
            );
        } else {
            outln!(
                "{id:28} {:10.4} s  ({threads} threads; {:.3e} multiply-adds/s: {f32s:.0} GFLOP/s f32, {f64s:.0} f64)",
                p.seconds,
                p.fma_per_s
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
            Method::OverlapSave,
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
