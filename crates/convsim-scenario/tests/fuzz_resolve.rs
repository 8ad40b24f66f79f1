//! Fuzzing the scenario parser and validator: the shipped scenarios, mutated (keys removed,
//! added, retyped; values pushed to extremes, formulas deepened, file paths pointed at devices,
//! directories and declared-huge datasets), must each resolve or be refused with one line,
//! never panic, abort, overflow the stack or allocate beyond the memory limit.
//!
//! In-process and bounded (`PROPTEST_CASES`, default 1000 cases, a few seconds); the campaign
//! over the built binary with thousands of variants, exit codes, timeouts and a memory ulimit is
//! `scripts/fuzz_scenarios`. An abort or a stack overflow kills this test binary, which fails
//! the test; an allocation beyond the limit is caught by the counting allocator below.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use convsim_scenario::Scenario;
use convsim_scenario::limits::{Bytes, MemoryLimit};
use convsim_scenario::train::TrainScenario;
use proptest::prelude::*;

/// The limit resolution is held to.
const LIMIT: usize = 256 << 20;

struct Capped;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Capped = Capped;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every shipped scenario: (path, table).
fn bases() -> &'static [(PathBuf, toml::Table)] {
    static B: OnceLock<Vec<(PathBuf, toml::Table)>> = OnceLock::new();
    B.get_or_init(|| {
        let mut v = Vec::new();
        for kind in ["diffusion", "seismic", "quantum", "cnn"] {
            let dir = root().join("scenarios").join(kind);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for f in files {
                let t = toml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
                v.push((f, t));
            }
        }
        v
    })
}

/// A small HDF5 file declaring a 100000 x 100000 dataset (nothing written).
fn huge_h5() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("convsim-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("huge.h5");
        let f = hdf5::File::create(&p).unwrap();
        f.new_dataset::<f64>()
            .shape((100_000, 100_000))
            .create("D")
            .unwrap();
        p.display().to_string()
    })
}

fn integers() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        Just(-1),
        Just(1),
        Just(3),
        Just(100_000),
        Just(4_611_686_018_427_387_904),
        Just(i64::MAX),
        Just(i64::MIN),
        0i64..3000,
    ]
}

fn floats() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-f64::INFINITY),
        Just(1e308),
        Just(-1e308),
        Just(1e-308),
        Just(0.0),
        Just(-0.5),
        Just(1e9),
        -1e4f64..1e4,
    ]
}

fn strings() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("..".to_string()),
        Just("a\0b".to_string()),
        Just("/dev/zero".to_string()),
        Just("/dev/null".to_string()),
        Just("/etc".to_string()),
        Just("no/such/file.h5".to_string()),
        Just(format!("{}x{}", "(".repeat(10_000), ")".repeat(10_000))),
        Just(format!("{}x{}", "(".repeat(200), ")".repeat(200))),
        Just(vec!["x"; 3000].join("+")),
        Just("1/0".to_string()),
        Just("log(-1)".to_string()),
        Just("exp(1000)".to_string()),
        Just("sqrt(x) * y".to_string()),
        Just("periodic".to_string()),
        Just("f64".to_string()),
        Just("\u{e9}\u{202e}".to_string()),
        "[a-z_ ()+*/^0-9.-]{0,40}",
    ]
}

fn value() -> impl Strategy<Value = toml::Value> {
    use toml::Value as V;
    let numbers = prop_oneof![
        Just(V::Integer(0)),
        Just(V::Integer(-1)),
        Just(V::Integer(1)),
        Just(V::Integer(2)),
        Just(V::Integer(100_000)),
        Just(V::Integer(4_611_686_018_427_387_904)),
        Just(V::Integer(i64::MAX)),
        Just(V::Integer(i64::MIN)),
        Just(V::Float(f64::NAN)),
        Just(V::Float(f64::INFINITY)),
        Just(V::Float(-f64::INFINITY)),
        Just(V::Float(1e308)),
        Just(V::Float(-1e308)),
        Just(V::Float(1e-308)),
        Just(V::Float(0.0)),
        Just(V::Float(-0.5)),
        Just(V::Float(1e9)),
        (-1e6f64..1e6).prop_map(V::Float),
        (0i64..5000).prop_map(V::Integer),
    ];
    let strings = strings();
    let leaf = prop_oneof![
        4 => numbers,
        3 => strings.prop_map(V::String),
        1 => any::<bool>().prop_map(V::Boolean),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
            Just(toml::Value::Table(
                [
                    ("file".to_string(), toml::Value::String(huge_h5().into())),
                    ("dataset".to_string(), toml::Value::String("D".into())),
                ]
                .into_iter()
                .collect()
            )),
        ]
    })
}

/// Paths of every value in `t` (tables and arrays included), depth-first.
fn paths(t: &toml::Table, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (k, v) in t {
        prefix.push(k.clone());
        out.push(prefix.clone());
        if let toml::Value::Table(sub) = v {
            paths(sub, prefix, out);
        }
        prefix.pop();
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Same type, extreme value: reaches the checks behind the type checks.
    Tweak(usize, i64, f64, String),
    Set(usize, toml::Value),
    Remove(usize),
    Add(usize, String, toml::Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), integers(), floats(), strings())
            .prop_map(|(i, n, f, s)| Mutation::Tweak(i, n, f, s)),
        3 => (any::<usize>(), value()).prop_map(|(i, v)| Mutation::Set(i, v)),
        2 => any::<usize>().prop_map(Mutation::Remove),
        2 => (any::<usize>(), "[a-z_]{1,10}", value()).prop_map(|(i, k, v)| Mutation::Add(i, k, v)),
    ]
}

fn table_at<'a>(t: &'a mut toml::Table, path: &[String]) -> Option<&'a mut toml::Table> {
    let mut cur = t;
    for p in path {
        cur = cur.get_mut(p)?.as_table_mut()?;
    }
    Some(cur)
}

fn apply(t: &mut toml::Table, m: &Mutation) {
    let mut all = Vec::new();
    paths(t, &mut Vec::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let pick = |i: usize| all[i % all.len()].clone();
    match m {
        Mutation::Tweak(i, n, f, text) => {
            let p = pick(*i);
            if let Some(parent) = table_at(t, &p[..p.len() - 1]) {
                let key = &p[p.len() - 1];
                let new = match parent.get(key) {
                    Some(toml::Value::Integer(_)) => toml::Value::Integer(*n),
                    Some(toml::Value::Float(_)) => toml::Value::Float(*f),
                    Some(toml::Value::String(_)) => toml::Value::String(text.clone()),
                    Some(toml::Value::Array(a)) if !a.is_empty() => {
                        let mut a = a.clone();
                        let k = (*n).unsigned_abs() as usize % a.len();
                        a[k] = match a[k] {
                            toml::Value::Integer(_) => toml::Value::Integer(*n),
                            toml::Value::String(_) => toml::Value::String(text.clone()),
                            _ => toml::Value::Float(*f),
                        };
                        toml::Value::Array(a)
                    }
                    _ => return,
                };
                parent.insert(key.clone(), new);
            }
        }
        Mutation::Set(i, v) => {
            let p = pick(*i);
            if let Some(parent) = table_at(t, &p[..p.len() - 1]) {
                parent.insert(p[p.len() - 1].clone(), v.clone());
            }
        }
        Mutation::Remove(i) => {
            let p = pick(*i);
            if let Some(parent) = table_at(t, &p[..p.len() - 1]) {
                parent.remove(&p[p.len() - 1]);
            }
        }
        Mutation::Add(i, k, v) => {
            let p = pick(*i);
            let parent = &p[..p.len() - 1];
            if let Some(parent) = table_at(t, parent) {
                parent.insert(k.clone(), v.clone());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_scenarios_resolve_or_are_refused_in_one_line(
        base in 0usize..64,
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let (path, table) = &bases()[base % bases().len()];
        let mut t = table.clone();
        for m in &muts {
            apply(&mut t, m);
        }
        let Ok(text) = toml::to_string(&t) else { return Ok(()) };
        let limit = MemoryLimit { bytes: Bytes(LIMIT as u128), source: "the fuzz limit".into() };
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let training = t.contains_key("data") || t.contains_key("model");
        let outcome = std::panic::catch_unwind(|| {
            if training {
                TrainScenario::from_str(&text, path, &[]).map(|_| ()).map_err(|e| e.to_string())
            } else {
                Scenario::from_str_limited(&text, path, &[], &limit).map(|_| ()).map_err(|e| e.to_string())
            }
        });
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        prop_assert!(outcome.is_ok(), "panic on {muts:?} of {}", path.display());
        if let Ok(Err(msg)) = &outcome {
            prop_assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
        }
        // Resolution samples the fields it checks; the run's estimate held within the limit
        // bounds what it allocates (training resolves its data scenario against the machine).
        if !training {
            prop_assert!(peak <= 2 * LIMIT, "{peak} bytes allocated for {muts:?}");
        }
    }
}
