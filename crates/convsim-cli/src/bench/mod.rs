//! `convsim bench`: the workloads of `shared/bench/WORKLOADS.md`, timed the way `peers.py` times
//! the reference tools (median of at least 5 runs after one warm-up; plans and buffers built
//! outside the timed region).

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
    /// Print one JSON line per workload (the format `shared/bench/compare` reads).
    #[arg(long)]
    pub json: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Timed runs per workload (at least 5).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Run only workloads whose id starts with one of these prefixes.
    pub prefixes: Vec<String>,
}

/// A benchmark workload: `setup` builds inputs, plans and buffers (untimed) and returns the
/// closure that runs the whole workload once (timed).
pub(crate) struct Workload {
    pub(crate) id: &'static str,
    pub(crate) setup: fn() -> Box<dyn FnMut()>,
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
    let selected: Vec<Workload> = all_workloads()
        .into_iter()
        .filter(|w| {
            args.prefixes.is_empty() || args.prefixes.iter().any(|p| w.id.starts_with(p.as_str()))
        })
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
    let reps = args.reps.max(5);
    for w in selected {
        let seconds = pool.install(|| {
            let mut run = (w.setup)();
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
        });
        if args.json {
            println!(
                "{}",
                serde_json::json!({"workload": w.id, "tool": "convsim", "seconds": seconds, "threads": threads})
            );
        } else {
            println!("{:28} {:10.4} s  ({threads} threads)", w.id, seconds);
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
