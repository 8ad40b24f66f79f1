//! Distributed runs (`mpirun -n N convsim run`, the `mpi` feature) against one process.
//!
//! Each test launches `mpirun` on the built binary and compares every frame of every field
//! and every diagnostic of run.h5 with the single-process run of the same scenario: bit for
//! bit for the stencil schemes (the tiles apply the same plans to the same samples, and the
//! diagnostics are exact sums), within 1e-13 relative for the spectral scheme (the
//! distributed FFT groups the butterflies differently). Skipped, with a message, when the
//! binary was built without `--features mpi` or when `mpirun` is not on the PATH.
//! `scripts/test` runs them in release mode with the feature (`scripts/bootstrap --mpi`
//! installs Open MPI).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{s, tmp};
use convsim_io::RunFile;

/// `None` (and a message on stderr) when these tests cannot run here.
fn mpirun() -> Option<Command> {
    if !cfg!(feature = "mpi") {
        eprintln!("skipped: convsim was built without the mpi feature (cargo test --features mpi)");
        return None;
    }
    if Command::new("mpirun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("skipped: mpirun is not on the PATH (scripts/bootstrap --mpi installs Open MPI)");
        return None;
    }
    let mut c = Command::new("mpirun");
    // Open MPI refuses root without these; more ranks than cores need --oversubscribe.
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env("RAYON_NUM_THREADS", "1")
        .stdin(Stdio::null());
    Some(c)
}

fn convsim() -> &'static str {
    env!("CARGO_BIN_EXE_convsim")
}

fn run_serial(scenario: &Path, out: &Path, sets: &[&str]) {
    let mut c = Command::new(convsim());
    c.args(["run", s(scenario), "-o", s(out), "-q"]);
    for v in sets {
        c.args(["--set", v]);
    }
    let o = c.stdin(Stdio::null()).output().expect("start convsim");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn run_mpi(
    mut mpirun: Command,
    ranks: usize,
    scenario: &Path,
    out: &Path,
    sets: &[&str],
) -> Output {
    mpirun
        .args(["-n", &ranks.to_string(), convsim(), "run", s(scenario)])
        .args(["-o", s(out), "-q"]);
    for v in sets {
        if v.starts_with("--") {
            mpirun.arg(v);
        } else {
            mpirun.args(["--set", v]);
        }
    }
    mpirun.output().expect("start mpirun")
}

/// Largest difference between the two run files relative to the largest magnitude, over
/// every frame of every field and every diagnostic (0.0: identical bits).
fn compare(a: &Path, b: &Path) -> f64 {
    let (fa, fb) = (RunFile::open(a).unwrap(), RunFile::open(b).unwrap());
    assert_eq!(fa.frames(), fb.frames());
    assert_eq!(fa.steps().unwrap(), fb.steps().unwrap());
    let ta: Vec<u64> = fa.times().unwrap().iter().map(|t| t.to_bits()).collect();
    let tb: Vec<u64> = fb.times().unwrap().iter().map(|t| t.to_bits()).collect();
    assert_eq!(ta, tb, "times");
    let mut worst = 0.0_f64;
    // Rounding is relative to the field's magnitude, also for diagnostics that are samples
    // of it (a minimum near zero): each quantity is scaled by at least the fields' largest
    // magnitude.
    let mut floor = 0.0_f64;
    let mut rel = |x: &[f64], y: &[f64], what: &str, floor: &mut f64| {
        assert_eq!(x.len(), y.len(), "{what}");
        let scale = x.iter().fold(*floor, |m, v| m.max(v.abs()));
        *floor = floor.max(scale);
        for (p, q) in x.iter().zip(y) {
            if p.to_bits() != q.to_bits() {
                let d = (p - q).abs() / scale.max(f64::MIN_POSITIVE);
                worst = worst.max(if d.is_nan() {
                    f64::INFINITY
                } else {
                    d.max(1e-300)
                });
            }
        }
    };
    let fields = fa.fields().unwrap();
    assert!(!fields.is_empty());
    for f in &fields {
        let name = &f.quantity.name;
        let (x, y) = (fa.read_field(name).unwrap(), fb.read_field(name).unwrap());
        assert_eq!(x.dim(), y.dim(), "{name}");
        rel(
            x.as_slice().unwrap(),
            y.as_slice().unwrap(),
            name,
            &mut floor,
        );
    }
    for d in fa.diagnostics().unwrap() {
        let name = &d.quantity.name;
        rel(
            &fa.read_diagnostic(name).unwrap(),
            &fb.read_diagnostic(name).unwrap(),
            name,
            &mut floor.clone(),
        );
    }
    // Shot gathers (seismic): coordinates, every sample and the count recorded.
    let shots = fa.receivers().unwrap();
    assert_eq!(shots, fb.receivers().unwrap(), "shots");
    for shot in &shots {
        let (x, y) = (
            fa.read_receivers(shot).unwrap(),
            fb.read_receivers(shot).unwrap(),
        );
        assert_eq!(x.recorded, y.recorded, "{shot}: samples recorded");
        assert_eq!(x.coords, y.coords, "{shot}: receiver coordinates");
        assert_eq!(x.traces.dim(), y.traces.dim(), "{shot}");
        rel(
            x.traces.as_slice().unwrap(),
            y.traces.as_slice().unwrap(),
            shot,
            &mut 0.0,
        );
    }
    worst
}

/// A diffusion scenario on a 30 x 40 grid with a fixed, a zero-flux and two periodic sides
/// (the explicit scheme of order 2 unless set).
const DIFFUSION: &str = r#"
[run]
name = "tiles"
solver = "diffusion"
[grid]
nx = 40
ny = 30
lx = 1.0
ly = 0.75
[time]
dt = 1e-5
steps = 60
[boundary]
left = "fixed:1.0"
right = "zero_flux"
top = "periodic"
bottom = "periodic"
[initial]
u = "exp(-((x - 0.3)^2 + (y - 0.4)^2) / 0.01)"
[output]
every = 20
plots = false
[diffusion]
diffusivity = 1.0
"#;

/// Runs `text` on one process and on each process grid; returns the worst relative
/// difference of each.
fn against_serial(text: &str, sets: &[&str], grids: &[[usize; 2]]) -> Option<Vec<f64>> {
    mpirun()?;
    let d = tmp();
    let sc = d.path().join("s.toml");
    std::fs::write(&sc, text).unwrap();
    let serial = d.path().join("serial");
    run_serial(&sc, &serial, sets);
    let mut out = Vec::new();
    for &[ry, rx] in grids {
        let dir = d.path().join(format!("p{ry}x{rx}"));
        let grid = format!("parallel.ranks=[{ry}, {rx}]");
        let mut all: Vec<&str> = sets.to_vec();
        all.push(&grid);
        let o = run_mpi(mpirun()?, ry * rx, &sc, &dir, &all);
        assert!(
            o.status.success(),
            "{ry}x{rx}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let e = compare(&serial.join("run.h5"), &dir.join("run.h5"));
        out.push(e);
        if ry * rx > 1 {
            assert_tiled(&dir, ry * rx);
            // The tiles are found beside the run file, wherever the folder goes.
            let moved = d.path().join(format!("moved{ry}x{rx}"));
            std::fs::rename(&dir, &moved).unwrap();
            let again = compare(&serial.join("run.h5"), &moved.join("run.h5"));
            assert_eq!(again.to_bits(), e.to_bits(), "{ry}x{rx} moved");
        }
    }
    Some(out)
}

/// The run in `dir` on `ranks` ranks wrote its fields per rank (`parallel.output = "tiles"`,
/// the default): every field of run.h5 is a virtual dataset, and every rank's tile file is
/// there under its final name.
fn assert_tiled(dir: &Path, ranks: usize) {
    let names: Vec<String> = RunFile::open(dir.join("run.h5"))
        .unwrap()
        .fields()
        .unwrap()
        .into_iter()
        .map(|f| f.quantity.name)
        .collect();
    let file = hdf5::File::open(dir.join("run.h5")).unwrap();
    for n in &names {
        let ds = file.dataset(&format!("fields/{n}")).unwrap();
        assert_eq!(
            ds.layout(),
            hdf5::plist::dataset_create::Layout::Virtual,
            "/fields/{n} of {}",
            dir.display()
        );
    }
    let mut tiles: Vec<String> = std::fs::read_dir(dir.join("tiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    tiles.sort();
    let mut want: Vec<String> = (0..ranks).map(|k| format!("rank{k}.h5")).collect();
    want.sort();
    assert_eq!(tiles, want, "{}", dir.display());
}

const GRIDS: [[usize; 2]; 4] = [[1, 2], [2, 1], [3, 1], [2, 2]];

/// A seismic scenario on a 31 x 37 grid (10 m): a free surface on top, CPML on the other
/// sides, a velocity gradient (a `(v dt)^2` field), order 8 (halo 4). The source sits on
/// row 15, column 18: the corner of the 2 x 2 tiles and on the edges of the 1 x 2 and 2 x 1
/// ones, so its Hicks taps fall in every tile; the receiver line runs diagonally across
/// every tile edge of the four grids, at off-grid points whose taps straddle them.
const SEISMIC: &str = r#"
[run]
name = "tiles"
solver = "seismic"
[grid]
nx = 37
ny = 31
lx = 360.0
ly = 300.0
[time]
dt = 1e-3
t_end = 0.12
[boundary]
top = "free_surface"
bottom = "cpml"
left = "cpml"
right = "cpml"
[output]
every = 30
plots = false
[seismic]
order = 8
velocity = "1800.0 + 2.0 * y"
sources = [{ y = 150.0, x = 180.0, ricker = 15.0 }]
receivers = { start = [42.0, 3.0], end = [293.0, 351.0], count = 27 }
cpml = { width = 6 }
"#;

#[test]
fn diffusion_explicit_on_process_grids_equals_one_process_bitwise() {
    let Some(d) = against_serial(DIFFUSION, &["diffusion.order=4"], &GRIDS) else {
        return;
    };
    assert_eq!(d, [0.0; 4], "{GRIDS:?}");
    // The 9-point scheme reaches the corners: the halo carries them.
    let d = against_serial(
        DIFFUSION,
        &["diffusion.scheme=\"isotropic9\"", "grid.lx=0.9875"],
        &[[2, 2]],
    )
    .unwrap();
    assert_eq!(d, [0.0], "isotropic9");
}

#[test]
fn seismic_on_process_grids_equals_one_process_bitwise() {
    // Fields, energy, largest |p| and the receiver gather, in single and double precision.
    let Some(d) = against_serial(SEISMIC, &[], &GRIDS) else {
        return;
    };
    assert_eq!(d, [0.0; 4], "{GRIDS:?}");
    let d = against_serial(SEISMIC, &["seismic.precision=\"f64\""], &[[2, 2]]).unwrap();
    assert_eq!(d, [0.0], "f64 on 2 x 2");
    // A sponge and rigid walls instead (the sponge damps both time levels every step), and
    // an initial pressure patch besides the wavelet.
    let d = against_serial(
        SEISMIC,
        &[
            "initial.p=\"exp(-((x - 200.0)^2 + (y - 100.0)^2) / 400.0)\"",
            "boundary.left=\"sponge\"",
            "boundary.right=\"rigid\"",
            "boundary.bottom=\"sponge\"",
            "seismic.sponge={ width = 8, strength = 0.3 }",
        ],
        &[[2, 2], [1, 2]],
    )
    .unwrap();
    assert_eq!(d, [0.0; 2], "sponge and rigid");
}

#[test]
fn seismic_variable_density_on_process_grids_equals_one_process_bitwise() {
    // The staggered flux form: a density jump (1200 to 2600 kg/m^3) 165 m down, crossing the
    // tiles of the 3 x 1 grid, under the free surface and into the CPML; the fluxes' halos
    // are exchanged mid-step. Fields (density included), energy and gathers.
    let density = "seismic.density={ layers = [165.0], values = [1200.0, 2600.0] }";
    let Some(d) = against_serial(SEISMIC, &[density], &GRIDS) else {
        return;
    };
    assert_eq!(d, [0.0; 4], "{GRIDS:?}");
    let d = against_serial(SEISMIC, &[density, "seismic.precision=\"f64\""], &[[2, 2]]).unwrap();
    assert_eq!(d, [0.0], "f64 on 2 x 2");
}

/// Four shots (one source each, across the top) for [`SEISMIC`].
const FOUR_SHOTS: [&str; 2] = [
    "seismic.shots=[{ y = 150.0, x = 40.0, ricker = 15.0 }, { y = 150.0, x = 180.0, ricker = 15.0 }, \
     { y = 60.0, x = 300.0, ricker = 12.0 }, { y = 250.0, x = 90.0, ricker = 18.0 }]",
    "seismic.sources=[]",
];

#[test]
fn multi_shot_surveys_on_shot_groups_equal_one_process_bitwise() {
    // Shots spread over groups of ranks: 4 ranks -> 4 groups of one, 2 ranks -> 2 groups,
    // 3 ranks -> 3 groups (group 0 runs shots 0 and 3), and `parallel.ranks = [1, 2]` on 4
    // ranks -> 2 groups of a 1 x 2 domain. Every shot's gather (and shot 0's fields and
    // diagnostics) must be the one-process bits.
    let Some(_) = mpirun() else {
        return;
    };
    let d = tmp();
    let sc = d.path().join("s.toml");
    std::fs::write(&sc, SEISMIC).unwrap();
    let serial = d.path().join("serial");
    run_serial(&sc, &serial, &FOUR_SHOTS);
    let grid = "parallel.ranks=[1, 2]";
    for (ranks, extra) in [(4, None), (2, None), (3, None), (4, Some(grid))] {
        let dir = d.path().join(format!("n{ranks}-{}", extra.is_some()));
        let mut sets = FOUR_SHOTS.to_vec();
        sets.extend(extra);
        let o = run_mpi(mpirun().unwrap(), ranks, &sc, &dir, &sets);
        assert!(
            o.status.success(),
            "{ranks} ranks {extra:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let e = compare(&serial.join("run.h5"), &dir.join("run.h5"));
        assert_eq!(e, 0.0, "{ranks} ranks {extra:?}");
    }
}

#[test]
fn diffusion_flux_form_on_process_grids_equals_one_process_bitwise() {
    let Some(d) = against_serial(
        DIFFUSION,
        &["diffusion.diffusivity=\"1 + 0.5 * x + 0.3 * sin(6 * y)\""],
        &[[2, 2], [1, 2]],
    ) else {
        return;
    };
    assert_eq!(d, [0.0; 2]);
}

#[test]
fn diffusion_spectral_on_process_grids_is_within_1e13() {
    let Some(d) = against_serial(
        DIFFUSION,
        &[
            "diffusion.scheme=\"spectral\"",
            "boundary.left=\"periodic\"",
            "boundary.right=\"periodic\"",
            "time.dt=1e-4",
        ],
        &GRIDS,
    ) else {
        return;
    };
    for (g, v) in GRIDS.iter().zip(&d) {
        assert!(*v <= 1e-13, "{g:?}: {v:e}");
    }
}

/// The coherent state in a harmonic trap (scenarios/quantum), on a smaller grid: real-time
/// Strang steps through the distributed FFT.
fn quantum() -> String {
    let text =
        std::fs::read_to_string(common::root().join("scenarios/quantum/coherent_state.toml"))
            .unwrap();
    text.replace("nx = 128", "nx = 48")
        .replace("ny = 128", "ny = 40")
        .replace("t_end = 6.28 ", "t_end = 1.0 ")
        .replace(
            r#"fields = ["density", "phase"]"#,
            r#"fields = ["density", "re", "im"]"#,
        )
        .replace("every = 20", "every = 25\nplots = false")
}

#[test]
fn quantum_split_step_on_process_grids_is_within_1e13() {
    let text = quantum();
    assert!(text.contains("nx = 48") && text.contains("plots = false") && text.contains("\"re\""));
    let Some(d) = against_serial(&text, &["output.checkpoint_every=50"], &GRIDS) else {
        return;
    };
    for (g, v) in GRIDS.iter().zip(&d) {
        // Not bitwise: the FFT butterflies and the diagnostics' sums group differently.
        assert!(*v > 0.0 && *v <= 1e-13, "{g:?}: {v:e}");
    }
}

#[test]
fn the_automatic_process_grid_runs_on_four_ranks() {
    let Some(mut c) = mpirun() else {
        return;
    };
    let d = tmp();
    let sc = d.path().join("s.toml");
    std::fs::write(&sc, DIFFUSION).unwrap();
    run_serial(&sc, &d.path().join("serial"), &[]);
    c.args([
        "-n",
        "4",
        convsim(),
        "run",
        s(&sc),
        "-o",
        s(&d.path().join("p")),
    ]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Rank 0 alone prints the summary.
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.matches("run.h5: 60 steps").count(), 1, "{out}");
    let got = compare(&d.path().join("serial/run.h5"), &d.path().join("p/run.h5"));
    assert_eq!(got, 0.0);
}

/// Runs a failing distributed command through a wrapper that records each rank's exit code;
/// returns convsim's stderr lines (without mpirun's own report) and the codes.
fn failing(ranks: usize, text: &str, sets: &[&str]) -> Option<(Vec<String>, Vec<i32>)> {
    let mut c = mpirun()?;
    let d = tmp();
    let sc = d.path().join("s.toml");
    std::fs::write(&sc, text).unwrap();
    let codes = d.path().join("codes");
    std::fs::create_dir(&codes).unwrap();
    let mut cmd = format!(
        "{} run {} -o {} -q",
        convsim(),
        s(&sc),
        s(&d.path().join("o"))
    );
    for v in sets {
        cmd = format!("{cmd} --set '{v}'");
    }
    let script = format!(
        "{cmd}; c=$?; echo $c > {}/$OMPI_COMM_WORLD_RANK; exit $c",
        s(&codes)
    );
    // Every rank runs to its end even after another exited with an error.
    c.args(["--mca", "orte_abort_on_non_zero_status", "0"])
        .args(["-n", &ranks.to_string(), "sh", "-c", &script]);
    let t0 = std::time::Instant::now();
    let o = c.output().unwrap();
    assert!(
        t0.elapsed().as_secs() < 60,
        "a failing run took {:?}",
        t0.elapsed()
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<String> = err
        .lines()
        .filter(|l| !l.starts_with('-') && !l.trim().is_empty())
        .filter(|l| l.starts_with("error") || l.contains("panicked") || l.contains("convsim"))
        .map(str::to_string)
        .collect();
    let mut got = Vec::new();
    for r in 0..ranks {
        let t = std::fs::read_to_string(codes.join(r.to_string())).unwrap();
        got.push(t.trim().parse().unwrap());
    }
    Some((lines, got))
}

#[test]
fn bad_input_on_many_ranks_is_one_error_line_and_exit_2_everywhere() {
    // A process grid that does not multiply to the rank count.
    let Some((lines, codes)) = failing(4, DIFFUSION, &["parallel.ranks=[3, 1]"]) else {
        return;
    };
    assert_eq!(codes, [2; 4]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("parallel.ranks: [3, 1]"),
        "{lines:?}"
    );
    // A tile narrower than the halo (5 columns over 3 ranks, halo 2): only some ranks fail.
    let (lines, codes) = failing(3, DIFFUSION, &["grid.nx=5", "parallel.ranks=[1, 3]"]).unwrap();
    assert_eq!(codes, [2; 3]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("narrower than the halo"), "{lines:?}");
    // A scenario error.
    let (lines, codes) = failing(3, DIFFUSION, &["time.bogus=1"]).unwrap();
    assert_eq!(codes, [2; 3]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("time.bogus"), "{lines:?}");
    // A quantum scenario with what a distributed run does not support (an absorber).
    let text =
        std::fs::read_to_string(common::root().join("scenarios/quantum/barrier_1d.toml")).unwrap();
    let (lines, codes) = failing(2, &text, &["time.t_end=0.1"]).unwrap();
    assert_eq!(codes, [2; 2]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("absorber is not supported"), "{lines:?}");
    // A seismic tile narrower than the halo (order 8: 5 rows; 31 rows over 7 ranks).
    let (lines, codes) = failing(7, SEISMIC, &["parallel.ranks=[7, 1]"]).unwrap();
    assert_eq!(codes, [2; 7]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("parallel.ranks"), "{lines:?}");
    // A parallel.ranks that is not a grid.
    let (lines, codes) = failing(2, DIFFUSION, &["parallel.ranks=[0, 2]"]).unwrap();
    assert_eq!(codes, [2; 2]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("parallel.ranks: [0, 2]"), "{lines:?}");
}

/// Starts `mpirun -n ranks convsim run` in the background and returns once the run has
/// written its first checkpoint (or has ended); the ranks' standard error goes to `stderr`.
fn until_checkpoint(
    mut c: Command,
    ranks: usize,
    sc: &Path,
    out: &Path,
    sets: &[&str],
    stderr: Stdio,
) -> std::process::Child {
    c.args([
        "-n",
        &ranks.to_string(),
        convsim(),
        "run",
        s(sc),
        "-o",
        s(out),
        "-q",
    ]);
    for v in sets {
        c.args(["--set", v]);
    }
    let mut child = c.stdout(Stdio::null()).stderr(stderr).spawn().unwrap();
    let t0 = std::time::Instant::now();
    while !out.join("checkpoint.h5").exists() && child.try_wait().unwrap().is_none() {
        assert!(t0.elapsed().as_secs() < 60, "no checkpoint after a minute");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

#[test]
fn an_interrupted_distributed_run_resumes_to_the_same_bits() {
    let sets = [
        "grid.nx=160",
        "grid.ny=160",
        "time.dt=1e-6",
        "time.steps=20000",
        "output.every=4000",
        "output.checkpoint_every=1000",
    ];
    interrupted_resumes(DIFFUSION, &sets, 20000);
}

#[test]
fn an_interrupted_distributed_seismic_run_resumes_to_the_same_bits() {
    // Checkpoints hold each tile's padded arrays and CPML memory (same rank count).
    let sets = [
        "grid.nx=301",
        "grid.ny=301",
        "grid.lx=3000.0",
        "grid.ly=3000.0",
        "seismic.velocity=2000.0",
        "time.t_end=4.0",
        "output.every=1000",
        "output.checkpoint_every=250",
    ];
    interrupted_resumes(SEISMIC, &sets, 4000);
}

#[test]
fn an_interrupted_multi_shot_run_on_ranks_does_not_offer_resume() {
    // Its checkpoints hold no solver state (`--resume` refuses them): the one line printed on
    // a signal must say so instead of offering `--resume`.
    let Some(c) = mpirun() else {
        return;
    };
    let d = tmp();
    let sc = d.path().join("s.toml");
    std::fs::write(&sc, SEISMIC).unwrap();
    let out = d.path().join("p");
    let mut sets = vec![
        "time.t_end=60.0",
        "output.every=20000",
        "output.checkpoint_every=100",
    ];
    sets.extend(FOUR_SHOTS);
    let child = until_checkpoint(c, 2, &sc, &out, &sets, Stdio::piped());
    let _ = Command::new("pkill")
        .args(["-TERM", "-P", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "stopped early: {err}");
    assert_eq!(
        err.matches("stopped by SIGTERM").count(),
        1,
        "one line: {err}"
    );
    assert!(
        err.contains("cannot be resumed") && !err.contains("--resume"),
        "{err}"
    );
}

/// Stops a run on 2 ranks after its first checkpoint, resumes it, and compares the result
/// with one process.
fn interrupted_resumes(text: &str, sets: &[&str], total: u64) {
    let Some(c) = mpirun() else {
        return;
    };
    let d = tmp();
    let sc = d.path().join("s.toml");
    std::fs::write(&sc, text).unwrap();
    run_serial(&sc, &d.path().join("serial"), sets);
    let out = d.path().join("p");
    // A signal once the first checkpoint exists: rank 0 stops at a step boundary with a
    // checkpoint, helped by the others.
    let mut child = until_checkpoint(c, 2, &sc, &out, sets, Stdio::null());
    // SIGTERM to the ranks themselves (the children of mpirun): Open MPI's mpirun answers a
    // SIGINT of its own by killing the ranks after a short grace, before they can stop cleanly.
    let _ = Command::new("pkill")
        .args(["-TERM", "-P", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let f = RunFile::open(out.join("run.h5")).unwrap();
    eprintln!(
        "mpirun after SIGTERM: {status:?}, frames {:?}",
        f.steps().unwrap()
    );
    assert!(
        f.steps().unwrap().last() < Some(&total) && !status.success(),
        "the run stops early, with a non-zero exit: {status:?}"
    );
    drop(f);
    let o = run_mpi(
        mpirun().unwrap(),
        2,
        &sc,
        &out,
        &[sets, &["--resume"]].concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("resumed from step"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(
        compare(&d.path().join("serial/run.h5"), &out.join("run.h5")),
        0.0
    );
}

/// The process ids of the ranks of `mpirun` (its children), by rank.
fn ranks_of(mpirun: u32) -> Vec<(usize, u32)> {
    let o = Command::new("pgrep")
        .args(["-P", &mpirun.to_string()])
        .output()
        .unwrap();
    let mut ranks: Vec<(usize, u32)> = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter_map(|pid| {
            // Open MPI gives every rank its number in the environment.
            let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let rank = env
                .split(|&b| b == 0)
                .find_map(|v| v.strip_prefix(b"OMPI_COMM_WORLD_RANK="))?;
            Some((std::str::from_utf8(rank).ok()?.parse().ok()?, pid))
        })
        .collect();
    ranks.sort_unstable();
    ranks
}

#[test]
fn a_killed_rank_stops_every_rank_and_the_run_resumes_to_the_same_bits() {
    if mpirun().is_none() {
        return;
    }
    let d = tmp();
    let sc = d.path().join("s.toml");
    std::fs::write(&sc, DIFFUSION).unwrap();
    let sets = [
        "grid.nx=160",
        "grid.ny=160",
        "time.dt=1e-6",
        "time.steps=20000",
        "output.every=2000",
        "output.checkpoint_every=1000",
        "parallel.ranks=[3, 1]",
    ];
    run_serial(&sc, &d.path().join("serial"), &sets[..6]);
    // Rank 0 writes the run file; rank 2 only steps its tile.
    for victim in [2, 0] {
        let out = d.path().join(format!("kill{victim}"));
        let mut child = until_checkpoint(mpirun().unwrap(), 3, &sc, &out, &sets, Stdio::null());
        let ranks = ranks_of(child.id());
        assert_eq!(ranks.len(), 3, "ranks of mpirun: {ranks:?}");
        let pid = ranks[victim].1;
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        // Every rank exits, in bounded time (Open MPI's runtime takes the job down when one
        // rank dies, wherever the others are waiting).
        let t0 = std::time::Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(
                t0.elapsed().as_secs() < 60,
                "mpirun still running a minute after rank {victim} was killed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        eprintln!(
            "rank {victim} killed: mpirun exited after {:.2} s ({status:?})",
            t0.elapsed().as_secs_f64()
        );
        assert!(!status.success(), "killing rank {victim}: {status:?}");
        // mpirun may exit while the kernel is still tearing down a rank it sent SIGKILL to
        // (seen on CI: rank 0 listed as running right after mpirun's exit), so each rank gets
        // the same bounded time to be gone or a zombie.
        for (r, p) in &ranks {
            let gone = || {
                !Path::new(&format!("/proc/{p}")).exists()
                    || std::fs::read_to_string(format!("/proc/{p}/stat"))
                        .is_ok_and(|st| st.contains(") Z ") || st.contains(") X "))
            };
            while !gone() {
                assert!(
                    t0.elapsed().as_secs() < 60,
                    "rank {r} (pid {p}) still alive a minute after rank {victim} was killed"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        eprintln!(
            "rank {victim} killed: every rank gone after {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        // The file holds every frame written before, each dataset readable whole.
        let f = RunFile::open(out.join("run.h5")).unwrap();
        let frames = f.frames();
        assert!(frames >= 1 && f.steps().unwrap().last() < Some(&20000));
        for q in f.fields().unwrap() {
            assert_eq!(f.read_field(&q.quantity.name).unwrap().dim().0, frames);
        }
        for q in f.diagnostics().unwrap() {
            assert_eq!(f.read_diagnostic(&q.quantity.name).unwrap().len(), frames);
        }
        drop(f);
        let o = run_mpi(
            mpirun().unwrap(),
            3,
            &sc,
            &out,
            &[&sets[..], &["--resume"]].concat(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            compare(&d.path().join("serial/run.h5"), &out.join("run.h5")),
            0.0,
            "resumed after rank {victim} was killed"
        );
    }
}

#[test]
fn profile_splits_every_ranks_stepping_into_compute_and_waiting() {
    let Some(c) = mpirun() else {
        return;
    };
    let d = tmp();
    let sc = d.path().join("s.toml");
    std::fs::write(&sc, quantum()).unwrap();
    let o = run_mpi(
        c,
        3,
        &sc,
        &d.path().join("p"),
        &["parallel.ranks=[3, 1]", "--profile", "--json"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let stepping = summary["timing"]["stepping"].as_f64().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("\"profile\""))
        .unwrap_or_else(|| panic!("no profile line on stderr: {err}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let p = &v["profile"];
    assert_eq!(p["stepping"].as_f64(), Some(stepping));
    let waits: Vec<f64> = p["waiting_per_rank"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_f64().unwrap())
        .collect();
    assert_eq!(waits.len(), 3, "{line}");
    // Every rank of a distributed FFT waits in its all-to-alls (they copy its blocks), and no
    // rank can wait longer than the stepping rank 0 timed around the same steps (plus the
    // skew of starting them: a small margin).
    assert!(
        waits.iter().all(|&w| w > 0.0 && w < stepping + 0.05),
        "{line}"
    );
}
