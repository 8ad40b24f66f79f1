//! End-to-end tests of the built `convsim` binary: every scenario at a small size, the run file
//! it writes (layout, scales, attributes, values against analytic solutions and conservation
//! laws), the pictures, kill + resume, and one clear line for every kind of user mistake.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use convsim_io::RunFile;

mod common;

use common::{ok, root, s, tmp, user_error};

fn is_png(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

/// Checks what every run file must hold and returns it.
fn check_layout(dir: &Path, solver: &str, frames: usize, shape: (usize, usize)) -> RunFile {
    let f = RunFile::open(dir.join("run.h5")).expect("open run.h5");
    assert_eq!(f.frames(), frames);
    let meta = f.meta().unwrap();
    assert_eq!(meta.solver, solver);
    assert!(
        meta.scenario.contains("[run]"),
        "the scenario text is stored"
    );
    let attrs = f.attributes().unwrap();
    assert_eq!(attrs.get("status").map(String::as_str), Some("completed"));
    let g = f.grid().unwrap();
    assert_eq!(g.shape(), shape);
    let u = f.read_field("u").unwrap();
    assert_eq!(u.dim(), (frames, shape.0, shape.1));
    for name in ["mass", "min", "max", "l2"] {
        assert_eq!(f.read_diagnostic(name).unwrap().len(), frames, "{name}");
    }
    // Scales: coordinates of the grid, times = step * dt.
    assert_eq!(f.xs().unwrap(), g.xs());
    assert_eq!(f.ys().unwrap(), g.ys());
    for name in ["u_first.png", "u_last.png", "diagnostics_mass.png"] {
        assert!(is_png(&dir.join(name)), "{name} is a PNG");
    }
    f
}

fn rel_change(v: &[f64]) -> f64 {
    v.iter().map(|m| (m / v[0] - 1.0).abs()).fold(0.0, f64::max)
}

#[test]
fn gaussian_periodic_matches_the_analytic_gaussian() {
    let d = tmp();
    let out = ok(&[
        "run",
        "scenarios/diffusion/gaussian_periodic.toml",
        "-o",
        s(d.path()),
        "--set",
        "output.gif=false",
    ]);
    assert!(out.contains("run.h5"), "{out}");
    let f = check_layout(d.path(), "diffusion", 11, (128, 128));
    let times = f.times().unwrap();
    let steps = f.steps().unwrap();
    assert_eq!(steps, (0..=10).map(|k| k * 10).collect::<Vec<u64>>());
    for (k, t) in times.iter().enumerate() {
        assert!((t - k as f64 * 1e-2).abs() < 1e-15, "t = {t}");
    }
    // Periodic: mass conserved to rounding (1e-12 relative: 100 steps of sums of 16384 terms).
    let mass = f.read_diagnostic("mass").unwrap();
    assert!(
        (mass[0] - 1.0).abs() < 1e-6,
        "unit mass initially: {}",
        mass[0]
    );
    assert!(
        rel_change(&mass) < 1e-12,
        "mass drift {}",
        rel_change(&mass)
    );
    // Final field against exp(-r^2 / 2 s^2) / (2 pi s^2), s^2 = s0^2 + 2 D t. The 5-point
    // scheme's error at dx = 1/128, dt = 1e-3 on this Gaussian is O(dx^2 u_xxxx, dt u_tt),
    // about 0.2 % of the peak; 1 % of the peak is a tight bound that an O(1) error cannot meet.
    let g = f.grid().unwrap();
    let u = f.read_frame("u", 10).unwrap();
    let s2 = 0.05f64.powi(2) + 2.0 * 0.01 * times[10];
    let peak = 1.0 / (2.0 * std::f64::consts::PI * s2);
    let (xs, ys) = (g.xs(), g.ys());
    let mut worst = 0.0f64;
    for ((i, j), v) in u.indexed_iter() {
        let r2 = xs[j] * xs[j] + ys[i] * ys[i];
        worst = worst.max((v - peak * (-r2 / (2.0 * s2)).exp()).abs());
    }
    assert!(worst < 1e-2 * peak, "max error {worst} vs peak {peak}");
    // And it did change: the initial peak is 1 / (2 pi s0^2), 1.8 times the final one.
    assert!(f.read_frame("u", 0).unwrap()[[64, 64]] > 1.5 * peak);
}

#[test]
fn plate_dirichlet_holds_its_edges_and_stays_bounded() {
    let d = tmp();
    ok(&[
        "run",
        "scenarios/diffusion/plate_dirichlet.toml",
        "-o",
        s(d.path()),
        "--set",
        "grid.nx=32",
        "--set",
        "grid.ny=32",
        "--set",
        "time.t_end=0.02",
    ]);
    // dt = 4e-5, t_end = 0.02: 500 steps, frames every 125 -> 5 frames.
    let f = check_layout(d.path(), "diffusion", 5, (32, 32));
    let u = f.read_frame("u", 4).unwrap();
    // Fixed values on the edge nodes: top row (row 0) at 1 except the corners shared with
    // the 0 sides; the other edges at 0.
    for j in 1..31 {
        assert_eq!(u[[0, j]], 1.0);
        assert_eq!(u[[31, j]], 0.0);
    }
    for i in 1..31 {
        assert_eq!((u[[i, 0]], u[[i, 31]]), (0.0, 0.0));
    }
    // Maximum principle: the interior stays within the boundary values, and heat came in.
    assert!(u.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert!(u[[1, 16]] > 0.5 && u[[16, 16]] > 0.0);
}

#[test]
fn heterogeneous_reads_d_from_data_and_conserves_mass() {
    let d = tmp();
    ok(&[
        "run",
        "scenarios/diffusion/heterogeneous.toml",
        "-o",
        s(d.path()),
        "--set",
        "time.steps=400",
        "--set",
        "output.every=100",
    ]);
    let f = check_layout(d.path(), "diffusion", 5, (64, 64));
    // Zero-flux edges: the plain sum is conserved exactly up to rounding.
    let mass = f.read_diagnostic("mass").unwrap();
    assert!(
        rel_change(&mass) < 1e-12,
        "mass drift {}",
        rel_change(&mass)
    );
    // The slow disc (D = 0.05 around (y, x) = (0.3, 0.5)) lags: at its centre u is far below
    // u at the same x in the unit-D background (row 56, y = 0.875).
    let u = f.read_frame("u", 4).unwrap();
    let (disc, background) = (u[[19, 32]], u[[56, 32]]);
    assert!(
        disc < 0.5 * background,
        "disc {disc} vs background {background}"
    );
}

#[test]
fn anisotropic_spreads_along_the_tilted_axis_and_conserves_mass() {
    let d = tmp();
    ok(&[
        "run",
        "scenarios/diffusion/anisotropic.toml",
        "-o",
        s(d.path()),
        "--set",
        "grid.nx=64",
        "--set",
        "grid.ny=64",
        "--set",
        "time.t_end=0.02",
    ]);
    let f = check_layout(d.path(), "diffusion", 6, (64, 64));
    let mass = f.read_diagnostic("mass").unwrap();
    assert!(
        rel_change(&mass) < 1e-12,
        "mass drift {}",
        rel_change(&mass)
    );
    // Second moments of the final field: <x^2> - <x^2>_0 = 2 dxx t, <xy> = 2 dxy t (exact for
    // the continuous problem while the periodic images are negligible; the discrete scheme
    // conserves these moments up to O(dx^2), so 5 % is generous yet excludes isotropy, where
    // <xy> = 0).
    let g = f.grid().unwrap();
    let (xs, ys) = (g.xs(), g.ys());
    let t = *f.times().unwrap().last().unwrap();
    let moments = |k: usize| {
        let u = f.read_frame("u", k).unwrap();
        let (mut m, mut xx, mut xy) = (0.0, 0.0, 0.0);
        for ((i, j), v) in u.indexed_iter() {
            m += v;
            xx += v * xs[j] * xs[j];
            xy += v * xs[j] * ys[i];
        }
        (xx / m, xy / m)
    };
    let (xx0, _) = moments(0);
    let (xx, xy) = moments(5);
    assert!(
        ((xx - xx0) / (2.0 * 1.0 * t) - 1.0).abs() < 0.05,
        "xx {xx} xx0 {xx0}"
    );
    assert!((xy / (2.0 * 0.3 * t) - 1.0).abs() < 0.05, "xy {xy}");
}

#[test]
fn validate_prints_the_resolved_config_with_derived_values() {
    let out = ok(&[
        "validate",
        "scenarios/diffusion/gaussian_periodic.toml",
        "--set",
        "time.t_end=0.05",
    ]);
    let text: String = out
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let t: toml::Table = toml::from_str(&text).expect("validate prints TOML");
    assert_eq!(t["time"]["steps"].as_integer(), Some(50));
    assert!(
        t.get("derived").is_none(),
        "a runnable scenario has no derived table"
    );
    // The derived values follow as comments.
    let limit: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("# stability_limit_dt = "))
        .expect("derived stability limit")
        .parse()
        .unwrap();
    // dx^2 / (4 D) with dx = 1/128, D = 0.01.
    assert!((limit - (1.0f64 / 128.0).powi(2) / 0.04).abs() < 1e-15);
    let j: serde_json::Value = serde_json::from_str(&ok(&[
        "validate",
        "scenarios/diffusion/plate_dirichlet.toml",
        "--json",
    ]))
    .unwrap();
    assert_eq!(j["derived"]["frames"], 21);
    for sc in ["heterogeneous", "anisotropic"] {
        ok(&["validate", &format!("scenarios/diffusion/{sc}.toml")]);
    }
}

#[test]
fn inspect_and_plot_read_the_run_back() {
    let d = tmp();
    ok(&[
        "run",
        "scenarios/diffusion/gaussian_periodic.toml",
        "-o",
        s(d.path()),
        "--set",
        "grid.nx=32",
        "--set",
        "grid.ny=32",
        "--set",
        "output.every=50",
    ]);
    let run = d.path().join("run.h5");
    let j: serde_json::Value = serde_json::from_str(&ok(&["inspect", s(&run), "--json"])).unwrap();
    assert_eq!(j["frames"], 3);
    assert_eq!(j["attributes"]["solver"], "diffusion");
    let text = ok(&["inspect", s(&run)]);
    assert!(text.contains("/fields/u [3, 32, 32]"), "{text}");
    let pics = d.path().join("pics");
    let out = ok(&["plot", s(&run), "--frame", "all", "--gif", "-o", s(&pics)]);
    assert_eq!(
        out.lines().count(),
        3 + 1 + 4,
        "3 frames, 1 GIF, 4 diagnostics: {out}"
    );
    assert!(is_png(&pics.join("u_frame0002.png")));
    assert!(
        std::fs::read(pics.join("u.gif"))
            .unwrap()
            .starts_with(b"GIF8")
    );
    ok(&[
        "plot",
        s(&run),
        "--frame",
        "-1",
        "--field",
        "u",
        "-o",
        s(&pics),
    ]);
    assert!(is_png(&pics.join("u_frame0002.png")));
    let e = user_error(&["plot", s(&run), "--field", "v"]);
    assert!(e.contains("--field: v: no such field; allowed: u"), "{e}");
    let e = user_error(&["plot", s(&run), "--frame", "7"]);
    assert!(e.contains("the file holds 3 frame(s)"), "{e}");
}

/// A run long enough to be killed in the middle: 128^2 nodes, 4000 steps, a frame every 100
/// and a checkpoint every 400 steps.
const LONG: [&str; 10] = [
    "--set",
    "time.t_end=4.0",
    "--set",
    "output.every=100",
    "--set",
    "output.checkpoint_every=400",
    "--set",
    "output.plots=false",
    "--set",
    "diffusion.scheme=\"explicit\"",
];

#[test]
fn sigkill_leaves_a_readable_file_and_resume_is_bit_identical() {
    let d = tmp();
    let (killed, whole) = (d.path().join("killed"), d.path().join("whole"));
    let sc = "scenarios/diffusion/gaussian_periodic.toml";
    let mut args = vec!["run", sc, "-o", s(&killed)];
    args.extend(LONG);
    let mut child = Command::new(env!("CARGO_BIN_EXE_convsim"))
        .args(&args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as a checkpoint exists (the run is then mid-way: 4000 steps in total).
    let start = Instant::now();
    while !killed.join("checkpoint.h5").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no checkpoint after 60 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(20));
    child.kill().unwrap(); // SIGKILL on Unix.
    child.wait().unwrap();
    {
        let f = RunFile::open(killed.join("run.h5")).expect("a killed run leaves a readable file");
        let n = f.frames();
        assert!((1..41).contains(&n), "{n} frames after the kill");
        let u = f.read_field("u").unwrap();
        assert!(u.iter().all(|v| v.is_finite()));
        assert_eq!(
            f.steps().unwrap(),
            (0..n as u64).map(|k| 100 * k).collect::<Vec<_>>()
        );
    }
    let e = user_error(&["run", sc, "-o", s(&killed)]);
    assert!(
        e.contains("output exists") && e.contains("--force") && e.contains("--resume"),
        "{e}"
    );
    let mut resume = args.clone();
    resume.push("--resume");
    let out = ok(&resume);
    assert!(out.contains("resumed from step"), "{out}");

    let mut args_whole = vec!["run", sc, "-o", s(&whole)];
    args_whole.extend(LONG);
    ok(&args_whole);
    let (a, b) = (
        RunFile::open(killed.join("run.h5")).unwrap(),
        RunFile::open(whole.join("run.h5")).unwrap(),
    );
    assert_eq!(a.frames(), 41);
    assert_eq!(a.steps().unwrap(), b.steps().unwrap());
    // Bit for bit: compare the raw bits, not within a tolerance.
    let bits = |v: Vec<f64>| v.into_iter().map(f64::to_bits).collect::<Vec<_>>();
    assert_eq!(bits(a.times().unwrap()), bits(b.times().unwrap()));
    assert_eq!(
        bits(a.read_field("u").unwrap().into_raw_vec_and_offset().0),
        bits(b.read_field("u").unwrap().into_raw_vec_and_offset().0)
    );
    assert_eq!(
        bits(a.read_diagnostic("mass").unwrap()),
        bits(b.read_diagnostic("mass").unwrap())
    );

    // A resume with a changed scenario is refused.
    let mut changed = resume.clone();
    changed.extend(["--set", "diffusion.diffusivity=0.005"]);
    let e = user_error(&changed);
    assert!(
        e.contains("cannot resume") && e.contains("different scenario"),
        "{e}"
    );
}

#[test]
fn python_h5py_and_xarray_see_named_dimensions() {
    let probe = Command::new("python3")
        .args(["-c", "import h5py, xarray, h5netcdf"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!(
            "NOTICE: skipped: python3 with h5py, xarray and h5netcdf not found (scripts/bootstrap installs them)"
        );
        return;
    }
    let d = tmp();
    ok(&[
        "run",
        "scenarios/diffusion/gaussian_periodic.toml",
        "-o",
        s(d.path()),
        "--set",
        "grid.nx=32",
        "--set",
        "grid.ny=16",
        "--set",
        "grid.ly=0.5",
        "--set",
        "grid.y0=-0.25",
        "--set",
        "output.every=25",
    ]);
    let script = r#"
import sys, h5py, xarray as xr
p = sys.argv[1]
with h5py.File(p, "r") as f:
    u = f["fields/u"]
    assert [d.label for d in u.dims] == ["time", "y", "x"], [d.label for d in u.dims]
    assert u.shape == (5, 16, 32), u.shape
    assert f.attrs["solver"] in (b"diffusion", "diffusion")
ds = xr.open_dataset(p, group="fields", engine="h5netcdf")
assert ds["u"].dims == ("time", "y", "x"), ds["u"].dims
assert ds.sizes["x"] == 32 and ds.sizes["y"] == 16 and ds.sizes["time"] == 5
assert abs(float(ds["x"][1] - ds["x"][0]) - 1 / 32) < 1e-15
assert abs(float(ds["time"][-1]) - 0.1) < 1e-12, ds["time"].values
m = ds["u"].isel(time=-1).sum().item() * (1 / 32) ** 2
# Mass beyond 5 s0 of the centre (cut by the half-height domain) is below 1e-6.
assert abs(m - 1) < 1e-5, m
print("ok")
"#;
    let out = Command::new("python3")
        .args(["-c", script, s(&d.path().join("run.h5"))])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_user_mistake_is_one_clear_line_with_exit_code_2() {
    let d = tmp();
    let sc = "scenarios/diffusion/gaussian_periodic.toml";
    let het = "scenarios/diffusion/heterogeneous.toml";
    let o = s(d.path());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["validate", sc, "--set", "grid.nz=3"],
            "gaussian_periodic.toml (--set grid.nz): grid.nz: (unknown key): unknown key; did you mean `nx`?; allowed keys: nx, ny, dx, dy, lx, ly, x0, y0",
        ),
        (
            vec!["validate", sc, "--set", "time.steps=\"ten\""],
            "time.steps: string \"ten\": allowed: an integer >= 1",
        ),
        (
            vec!["validate", "scenarios/diffusion/nope.toml"],
            "scenarios/diffusion/nope.toml: cannot read the scenario file",
        ),
        (
            vec![
                "validate",
                het,
                "--set",
                "diffusion.diffusivity={ file = \"missing.h5\", dataset = \"D\" }",
            ],
            "diffusion.diffusivity.file: \"missing.h5\": cannot open scenarios/diffusion/missing.h5 (file not found)",
        ),
        (
            vec![
                "validate",
                het,
                "--set",
                "diffusion.diffusivity={ file = \"../../data/diffusivity_inclusions.h5\", dataset = \"K\" }",
            ],
            "diffusion.diffusivity.dataset: \"K\": no such dataset in scenarios/diffusion/../../data/diffusivity_inclusions.h5; allowed: /D",
        ),
        (
            vec!["validate", sc, "--set", "time.dt=-0.001"],
            "time.dt: -0.001: allowed: a finite number > 0",
        ),
        (
            vec!["run", sc, "-o", o, "--set", "time.dt=0.002"],
            "time.dt: 2e-3: above the stability limit 1.52587e-3 s of the explicit order-2 scheme; allowed: dt <= 1.52587e-3",
        ),
        (
            vec!["validate", sc, "--set", "boundary.all=reflecting"],
            "boundary.all: \"reflecting\": unknown boundary; allowed: periodic, zero_flux (alias neumann), fixed:<value>",
        ),
        (
            vec!["validate", sc, "--set", "initial.u=\"exp(-r^2 / s1)\""],
            "initial.u: \"exp(-r^2 / s1)\": at column 12: unknown name `s1`",
        ),
    ];
    let mut bad = Vec::new();
    for (args, want) in &cases {
        let e = user_error(args);
        if !e.contains(want) || !e.starts_with("error: scenarios/diffusion/") {
            bad.push(format!("{args:?}\n got: {e}\nwant: {want}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(
        !d.path().join("run.h5").exists(),
        "nothing is computed or written for a refused scenario"
    );

    // Unwritable output: a folder inside a regular file cannot be created (even by root).
    let file = d.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let target = file.join("out");
    let e = user_error(&["run", sc, "-o", s(&target), "--set", "time.t_end=0.01"]);
    assert!(
        e.contains(&format!(
            "{}: output directory is not writable",
            target.display()
        )) && e.contains("-o DIR"),
        "{e}"
    );

    // Existing output without --force.
    let out = d.path().join("twice");
    ok(&[
        "run",
        sc,
        "-o",
        s(&out),
        "--set",
        "time.t_end=0.01",
        "--set",
        "output.plots=false",
    ]);
    let e = user_error(&["run", sc, "-o", s(&out), "--set", "time.t_end=0.01"]);
    assert!(
        e.contains("output exists") && e.contains("pass --force to overwrite it"),
        "{e}"
    );
    ok(&[
        "run",
        sc,
        "-o",
        s(&out),
        "--set",
        "time.t_end=0.01",
        "--force",
    ]);

    // A bad command line is one line too.
    let e = user_error(&["run"]);
    assert!(e.contains("SCENARIO"), "{e}");
}

#[test]
fn a_blow_up_stops_at_the_first_non_finite_state_and_keeps_the_frames() {
    // A column checkerboard of amplitude 1e308: its Laplacian overflows to infinity in the
    // first step (every dt is "stable" for a linear scheme; floats are not).
    let d = tmp();
    let e = user_error(&[
        "run",
        "scenarios/diffusion/gaussian_periodic.toml",
        "-o",
        s(d.path()),
        "-q",
        "--set",
        "initial.u=\"1e308 * cos(128 * pi * x)\"",
    ]);
    assert!(
        e.contains(
            "time.dt: 0.001: the state became non-finite (NaN or infinity) at step 10, t = 0.01"
        ),
        "{e}"
    );
    assert!(e.contains("frames up to step 0 are kept"), "{e}");
    let f = RunFile::open(d.path().join("run.h5")).unwrap();
    assert_eq!(f.frames(), 1);
    assert_eq!(f.read_frame("u", 0).unwrap()[[0, 1]], -1e308);
    // A formula that is not finite everywhere is refused before any compute.
    let e = user_error(&[
        "validate",
        "scenarios/diffusion/gaussian_periodic.toml",
        "--set",
        "initial.u=\"sqrt(x)\"",
    ]);
    assert!(e.contains("initial.u: \"sqrt(x)\": NaN at (x, y) = (-0.5, -0.5); allowed: a formula finite on the whole grid"), "{e}");
}

/// `convsim bench --bandwidth` measures the memory roof at every array size the workloads
/// stream, one JSON line each, and `--peak` the compute roof.
#[test]
fn bench_prints_the_two_roofs() {
    let out = ok(&["bench", "--bandwidth", "--json", "--threads", "1"]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["workload"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "copy-1024-f64",
            "copy-2048-f32",
            "copy-2048-f64",
            "copy-4096-f32",
            "copy-4096-f64"
        ]
    );
    for (line, mib) in lines.iter().zip([8.0, 16.0, 32.0, 64.0, 128.0]) {
        assert_eq!(line["threads"], 1);
        let (secs, gbs) = (
            line["seconds"].as_f64().unwrap(),
            line["gb_per_s"].as_f64().unwrap(),
        );
        assert!(secs > 0.0);
        // The rate is what the seconds imply: the array read once and written once.
        assert!(
            (gbs * secs * 1e9 / (2.0 * mib * 1_048_576.0) - 1.0).abs() < 1e-9,
            "{line}"
        );
    }
    let out = ok(&["bench", "--peak", "--json", "--threads", "1"]);
    let line: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    let bits: f64 = line["workload"].as_str().unwrap()["fma-peak-".len()..]
        .parse()
        .unwrap();
    assert!(bits == 256.0 || bits == 512.0, "{line}");
    let (secs, fma, f32s, f64s) = (
        line["seconds"].as_f64().unwrap(),
        line["fma_per_s"].as_f64().unwrap(),
        line["gflops_f32"].as_f64().unwrap(),
        line["gflops_f64"].as_f64().unwrap(),
    );
    // The rate is the count over the time; 12 chains per thread; 2 flops per lane each.
    let count = line["fma"].as_f64().unwrap();
    assert!(count >= 12.0 * 1_048_576.0 && count % 12.0 == 0.0, "{line}");
    assert!((fma * secs / count - 1.0).abs() < 1e-9, "{line}");
    assert!(
        (f32s * 1e9 / (fma * bits / 32.0 * 2.0) - 1.0).abs() < 1e-9,
        "{line}"
    );
    assert!((f64s * 2.0 / f32s - 1.0).abs() < 1e-12, "{line}");
}
