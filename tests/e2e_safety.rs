//! Hostile use of the built binary (issue 14): inputs that used to crash, hang or allocate
//! without bound are one clear line with exit code 2; files convsim did not write are never
//! touched; a run killed or interrupted at any moment leaves a readable file and resumes bit
//! for bit; a damaged checkpoint is refused; `validate` refuses what `run` refuses.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use convsim_io::RunFile;

mod common;

use common::{convsim, ok, root, s, tmp, user_error};

const GAUSS: &str = "scenarios/diffusion/gaussian_periodic.toml";
const SEISMIC: &str = "scenarios/seismic/homogeneous.toml";

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_convsim"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start convsim")
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Waits until `p` exists (the child still running), at most 60 s.
fn wait_for(p: &Path, child: &mut Child) {
    let start = Instant::now();
    while !p.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never came",
            p.display()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {} appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every file of `dir` with a hash of its bytes, its length and its modification time.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, usize, SystemTime)> {
    use std::hash::{Hash, Hasher};
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let m = std::fs::metadata(&p).unwrap().modified().unwrap();
            let bytes = std::fs::read(&p).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            (p.clone(), h.finish(), bytes.len(), m)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Two run files hold the same frames, diagnostics and gathers, bit for bit.
fn assert_same_run(a: &Path, b: &Path) {
    let (fa, fb) = (RunFile::open(a).unwrap(), RunFile::open(b).unwrap());
    assert_eq!(fa.frames(), fb.frames());
    assert_eq!(fa.steps().unwrap(), fb.steps().unwrap());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&fa.times().unwrap()), bits(&fb.times().unwrap()));
    for f in fa.fields().unwrap() {
        let n = &f.quantity.name;
        let (x, y) = (fa.read_field(n).unwrap(), fb.read_field(n).unwrap());
        assert!(
            x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()),
            "field {n}"
        );
    }
    for d in fa.diagnostics().unwrap() {
        let n = &d.quantity.name;
        assert_eq!(
            bits(&fa.read_diagnostic(n).unwrap()),
            bits(&fb.read_diagnostic(n).unwrap()),
            "{n}"
        );
    }
    for shot in fa.receivers().unwrap() {
        let (x, y) = (
            fa.read_receivers(&shot).unwrap(),
            fb.read_receivers(&shot).unwrap(),
        );
        assert_eq!(x.recorded, y.recorded);
        assert!(
            x.traces
                .iter()
                .zip(&y.traces)
                .all(|(p, q)| p.to_bits() == q.to_bits()),
            "gather {shot}"
        );
    }
}

#[test]
fn runs_that_cannot_fit_in_memory_are_refused_before_allocating() {
    let big = ["--set", "grid.nx=100000", "--set", "grid.ny=100000"];
    let e = user_error(&[&["validate", GAUSS][..], &big].concat());
    assert!(
        e.contains("of memory") && e.contains("allowed: at most"),
        "{e}"
    );
    let e = user_error(&["validate", GAUSS, "--set", "grid.nx=4611686018427387904"]);
    assert!(e.contains("more than 16 EiB"), "{e}");
    // Terabytes of receiver traces (and diagnostics to plot) for t_end = 1e9 s.
    let e = user_error(&["validate", SEISMIC, "--set", "time.t_end=1e9"]);
    assert!(e.contains("of memory"), "{e}");
    let e = user_error(&[
        "validate",
        SEISMIC,
        "--set",
        "time.t_end=1e9",
        "--set",
        "output.plots=false",
    ]);
    assert!(e.contains("receiver traces"), "{e}");
    // `run` refuses the same way, before it creates the output folder.
    let d = tmp();
    let out = d.path().join("out");
    let e = user_error(&[&["run", GAUSS, "-o", s(&out)][..], &big].concat());
    assert!(e.contains("of memory"), "{e}");
    assert!(!out.exists());
    let e = user_error(&["run", GAUSS, "-o", s(&out), "--max-memory", "16M"]);
    assert!(e.contains("at most 16.0 MiB (--max-memory)"), "{e}");
    let e = user_error(&["run", GAUSS, "--max-memory", "lots"]);
    assert!(e.contains("512M"), "{e}");
    // validate states both figures.
    let out = ok(&["validate", GAUSS]);
    assert!(
        out.contains("# It needs ")
            && out.contains("of memory (limit ")
            && out.contains("# memory = "),
        "{out}"
    );
    // Still a runnable scenario: the resources are comments.
    let t: toml::Table = toml::from_str(&out).unwrap();
    assert!(!t.contains_key("resources"));
    let j: serde_json::Value = serde_json::from_str(&ok(&["validate", GAUSS, "--json"])).unwrap();
    assert!(j["resources"]["memory_bytes"].as_i64().unwrap() > 128 * 128 * 8);
    assert!(j["resources"]["disk_bytes"].as_i64().unwrap() >= 11 * 128 * 128 * 8);
}

#[test]
fn input_datasets_are_shape_checked_from_their_metadata() {
    let d = tmp();
    let h5 = d.path().join("huge.h5");
    {
        let f = hdf5::File::create(&h5).unwrap();
        f.new_dataset::<f64>()
            .shape((100_000, 100_000))
            .create("D")
            .unwrap();
    }
    assert!(std::fs::metadata(&h5).unwrap().len() < 10_000);
    let set = format!(
        "diffusion.diffusivity={{ file = \"{}\", dataset = \"D\" }}",
        s(&h5)
    );
    let start = Instant::now();
    let e = user_error(&[
        "validate",
        "scenarios/diffusion/heterogeneous.toml",
        "--set",
        &set,
    ]);
    assert!(
        e.contains("(100000, 100000)") && e.contains("(64, 64)"),
        "{e}"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn devices_directories_and_oversized_files_are_refused_as_text_inputs() {
    let e = user_error(&["validate", "/dev/zero"]);
    assert!(e.contains("not a regular file"), "{e}");
    let e = user_error(&["run", "/dev/zero"]);
    assert!(e.contains("not a regular file"), "{e}");
    let e = user_error(&["validate", "scenarios"]);
    assert!(e.contains("not a regular file"), "{e}");
    let e = user_error(&[
        "validate",
        "scenarios/diffusion/learned_stencil.toml",
        "--set",
        "diffusion.stencil=\"/dev/zero\"",
    ]);
    assert!(
        e.contains("diffusion.stencil") && e.contains("not a regular file"),
        "{e}"
    );
    let d = tmp();
    let big = d.path().join("big.toml");
    std::fs::write(&big, " ".repeat(2 << 20)).unwrap();
    let e = user_error(&["validate", s(&big)]);
    assert!(e.contains("at most 1048576 bytes"), "{e}");
    let e = user_error(&[
        "validate",
        "scenarios/cnn/learn_diffusion.toml",
        "--set",
        "model.kernel=/dev/zero",
    ]);
    assert!(e.starts_with("error: "), "{e}");
}

#[test]
fn a_formula_nested_ten_thousand_deep_is_one_line() {
    let deep = format!(
        "initial.u=\"{}x{}\"",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let e = user_error(&["validate", GAUSS, "--set", &deep]);
    assert!(
        e.contains("initial.u") && e.contains("characters long"),
        "{e}"
    );
    let deep = format!("initial.u=\"{}x{}\"", "(".repeat(100), ")".repeat(100));
    let e = user_error(&["run", GAUSS, "--set", &deep]);
    assert!(e.contains("nests more than 64 levels"), "{e}");
}

#[test]
fn run_name_must_be_a_plain_file_name_and_validate_says_so_too() {
    for name in [
        "\"..\"",
        "\".\"",
        "\"a/b\"",
        "\"\"",
        "\"a\\u0000b\"",
        "\"x\\ty\"",
    ] {
        let set = format!("run.name={name}");
        let v = user_error(&["validate", GAUSS, "--set", &set]);
        let r = user_error(&["run", GAUSS, "--set", &set]);
        assert!(
            v.contains("run.name") && v.contains("plain file name"),
            "{v}"
        );
        assert_eq!(v, r, "validate and run refuse alike");
    }
    // Nothing was written beside the repository (runs/.. is the repository itself).
    assert!(!root().join(".convsim-outputs").exists());
}

#[test]
fn validate_refuses_what_run_refuses() {
    for (sc, set) in [
        (GAUSS, "initial.u=nan"),
        (GAUSS, "initial.u=-inf"),
        (SEISMIC, "output.fields=[\"density\"]"),
        (GAUSS, "time.steps=9223372036854775808"),
    ] {
        let mut args = vec!["--set", set];
        if set.starts_with("time.steps") {
            args.extend(["--set", "output.every=1"]);
        }
        let v = user_error(&[&["validate", sc][..], &args].concat());
        let d = tmp();
        let r = user_error(&[&["run", sc, "-o", s(d.path())][..], &args].concat());
        assert_eq!(v, r, "{set}");
        assert!(!d.path().join("run.h5").exists());
    }
}

#[test]
fn training_scenarios_validate() {
    let out = ok(&["validate", "scenarios/cnn/learn_diffusion.toml"]);
    assert!(out.contains("valid training scenario"), "{out}");
    assert!(
        out.contains("# field = \"u\"") && out.contains("# memory = "),
        "{out}"
    );
    // Runnable: the comments aside, it is the training scenario.
    let t: toml::Table = toml::from_str(&out).unwrap();
    assert!(t.contains_key("model") && !t.contains_key("derived"));
    let j = ok(&["validate", "scenarios/cnn/learn_wave.toml", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert_eq!(v["derived"]["kernel"], 3);
    assert!(v["data_scenario"]["resources"]["memory"].is_string());
    let e = user_error(&[
        "validate",
        "scenarios/cnn/learn_diffusion.toml",
        "--set",
        "model.kernel=4",
    ]);
    assert!(e.contains("model.kernel"), "{e}");
    let e = user_error(&[
        "validate",
        "scenarios/cnn/learn_diffusion.toml",
        "--set",
        "run.name=\"..\"",
    ]);
    assert!(e.contains("run.name"), "{e}");
}

/// A short run of the Gaussian (3 frames) with pictures.
fn short(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["run", GAUSS, "-o", s(dir), "--set", "time.t_end=0.02"]
        .iter()
        .map(|x| (*x).to_string())
        .collect();
    a.extend(extra.iter().map(|x| (*x).to_string()));
    a
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn files_convsim_did_not_write_are_never_deleted_or_overwritten() {
    let d = tmp();
    let dir = d.path();
    let user = [
        ("mine.png", &b"user png"[..]),
        ("movie.gif", b"user gif"),
        ("notes.txt", b"notes"),
    ];
    for (n, b) in user {
        std::fs::write(dir.join(n), b).unwrap();
    }
    ok(&refs(&short(dir, &[])));
    ok(&refs(&short(dir, &["--force"])));
    ok(&refs(&short(dir, &["--set", "output.gif=true", "--force"])));
    for (n, b) in user {
        assert_eq!(std::fs::read(dir.join(n)).unwrap(), b, "{n}");
    }
    // A picture name held by a user's file: refused before computing, the file untouched,
    // with or without --force.
    let d2 = tmp();
    std::fs::write(d2.path().join("u_last.png"), b"user").unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let e = user_error(&refs(&short(d2.path(), extra)));
        assert!(
            e.contains("u_last.png") && e.contains("not written by convsim"),
            "{e}"
        );
    }
    assert_eq!(
        std::fs::read(d2.path().join("u_last.png")).unwrap(),
        b"user"
    );
    assert!(!d2.path().join("run.h5").exists());
    // A run.h5 convsim did not write (any file of that name) is not replaced by --force.
    let d3 = tmp();
    std::fs::write(d3.path().join("run.h5"), b"not hdf5").unwrap();
    let e = user_error(&refs(&short(d3.path(), &["--force"])));
    assert!(
        e.contains("run.h5") && e.contains("not written by convsim"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(d3.path().join("run.h5")).unwrap(),
        b"not hdf5"
    );
}

#[test]
fn force_refuses_while_another_process_holds_the_folder_or_the_run_file() {
    let d = tmp();
    let dir = d.path().join("busy");
    let mut args = short(&dir, &[]);
    args[5] = "time.t_end=40".into();
    args.extend(["--set", "output.plots=false"].map(String::from));
    let mut a = spawn(&refs(&args));
    wait_for(&dir.join("run.h5"), &mut a);
    let e = user_error(&refs(&short(&dir, &["--force"])));
    assert!(e.contains("another convsim process"), "{e}");
    // The first run is unharmed: interrupted by SIGTERM, it keeps its file.
    signal(&a, "-TERM");
    let out = a.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    let f = RunFile::open(dir.join("run.h5")).unwrap();
    assert!(f.frames() >= 1);
    assert_eq!(f.attributes().unwrap()["status"], "interrupted");
    drop(f);
    // Another process holding the run file's lock (a writer): refused, the file intact.
    let held = std::fs::File::open(dir.join("run.h5")).unwrap();
    held.lock().unwrap();
    let before = std::fs::read(dir.join("run.h5")).unwrap();
    let e = user_error(&refs(&short(&dir, &["--force"])));
    assert!(e.contains("open in another process"), "{e}");
    assert_eq!(std::fs::read(dir.join("run.h5")).unwrap(), before);
    held.unlock().unwrap();
    ok(&refs(&short(&dir, &["--force"])));
}

#[test]
fn force_keeps_the_old_run_until_the_new_one_has_a_frame() {
    let d = tmp();
    let dir = d.path();
    ok(&refs(&short(dir, &["--set", "run.description=\"old\""])));
    for _ in 0..3 {
        let mut child = spawn(&refs(&short(
            dir,
            &["--force", "--set", "run.description=\"new\""],
        )));
        // Kill as soon as the new run's file exists beside the old one.
        let start = Instant::now();
        let staged = loop {
            let found = std::fs::read_dir(dir).unwrap().find_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                n.starts_with("run.h5.new-").then_some(n)
            });
            if found.is_some() || child.try_wait().unwrap().is_some() {
                break found;
            }
            assert!(start.elapsed() < Duration::from_secs(60));
            std::thread::yield_now();
        };
        let _ = child.kill();
        child.wait().unwrap();
        let f = RunFile::open(dir.join("run.h5")).expect("a run file is always there");
        let attrs = f.attributes().unwrap();
        assert!(f.frames() >= 1);
        if attrs["description"] == "old" {
            assert_eq!(attrs["status"], "completed", "the old run is whole");
            assert!(dir.join("u_last.png").exists(), "its pictures too");
        }
        drop(f);
        if staged.is_some() {
            // The next start removes the killed process's staged file.
            ok(&refs(&short(
                dir,
                &["--force", "--set", "run.description=\"old\""],
            )));
            assert!(!std::fs::read_dir(dir).unwrap().any(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("run.h5.new-")
            }));
        }
    }
}

#[test]
fn resume_of_a_completed_run_changes_nothing() {
    let d = tmp();
    ok(&refs(&short(
        d.path(),
        &["--set", "output.checkpoint_every=5"],
    )));
    let before = snapshot(d.path());
    let out = ok(&refs(&short(
        d.path(),
        &["--set", "output.checkpoint_every=5", "--resume"],
    )));
    assert!(
        out.contains("already complete") && out.contains("nothing to do"),
        "{out}"
    );
    assert_eq!(snapshot(d.path()), before);
    // A different scenario is refused, and changes nothing either.
    let e = user_error(&refs(&short(d.path(), &["--resume"])));
    assert!(e.contains("different scenario"), "{e}");
    assert_eq!(snapshot(d.path()), before);
}

#[test]
fn an_empty_run_file_counts_as_not_started_and_stale_temporaries_go() {
    for resume in [false, true] {
        let d = tmp();
        let dir = d.path();
        // What a kill in the first milliseconds left: a 0-byte run file, a checkpoint
        // temporary, and a staged run file, all listed as convsim's.
        std::fs::write(
            dir.join(".convsim-outputs"),
            "run.h5\ncheckpoint.h5.tmp-4242\nrun.h5.new-4243\n",
        )
        .unwrap();
        for n in ["run.h5", "checkpoint.h5.tmp-4242", "run.h5.new-4243"] {
            std::fs::write(dir.join(n), b"").unwrap();
        }
        // Not listed: left alone.
        std::fs::write(dir.join("checkpoint.h5.tmp-1"), b"user").unwrap();
        let extra: &[&str] = if resume { &["--resume"] } else { &[] };
        ok(&refs(&short(dir, extra)));
        assert_eq!(RunFile::open(dir.join("run.h5")).unwrap().frames(), 3);
        assert!(!dir.join("checkpoint.h5.tmp-4242").exists());
        assert!(!dir.join("run.h5.new-4243").exists());
        assert_eq!(
            std::fs::read(dir.join("checkpoint.h5.tmp-1")).unwrap(),
            b"user"
        );
    }
    // A damaged run file (too large to be a kill before the first frame): kept unless --force.
    let d = tmp();
    std::fs::write(d.path().join(".convsim-outputs"), "run.h5\n").unwrap();
    std::fs::write(d.path().join("run.h5"), vec![7u8; 10_000]).unwrap();
    for extra in [&[][..], &["--resume"][..]] {
        let e = user_error(&refs(&short(d.path(), extra)));
        assert!(
            e.contains("run.h5: cannot be read") && e.contains("--force"),
            "{e}"
        );
    }
    assert_eq!(
        std::fs::read(d.path().join("run.h5")).unwrap(),
        vec![7u8; 10_000]
    );
    ok(&refs(&short(d.path(), &["--force"])));
    assert_eq!(RunFile::open(d.path().join("run.h5")).unwrap().frames(), 3);
    // A 0-byte run.h5 that convsim did not write is not replaced.
    let d = tmp();
    std::fs::write(d.path().join("run.h5"), b"").unwrap();
    let e = user_error(&refs(&short(d.path(), &[])));
    assert!(e.contains("not written by convsim"), "{e}");
}

/// Arguments of a long Gaussian run (20,000 steps) with checkpoints, no pictures and no
/// progress lines.
fn long(dir: &Path) -> Vec<String> {
    let mut a = short(dir, &["-q"]);
    a[5] = "time.t_end=20".into();
    a.extend(
        [
            "--set",
            "output.every=500",
            "--set",
            "output.checkpoint_every=2000",
            "--set",
            "output.plots=false",
        ]
        .map(String::from),
    );
    a
}

#[test]
fn sigint_stops_at_a_step_with_a_checkpoint_and_resume_is_bit_identical() {
    let d = tmp();
    let (cut, whole) = (d.path().join("cut"), d.path().join("whole"));
    let mut child = spawn(&refs(&long(&cut)));
    wait_for(&cut.join("run.h5"), &mut child);
    std::thread::sleep(Duration::from_millis(150));
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("interrupted: ") && err.contains("SIGINT") && err.contains("--resume"),
        "{err}"
    );
    {
        let f = RunFile::open(cut.join("run.h5")).unwrap();
        assert_eq!(f.attributes().unwrap()["status"], "interrupted");
        assert!(f.frames() < 41, "stopped early: {} frames", f.frames());
    }
    let ck = convsim_io::read_checkpoint(cut.join("checkpoint.h5")).unwrap();
    assert!(
        ck.step < 20_000 && err.contains(&format!("step {}", ck.step)),
        "{err}"
    );
    let mut resume = long(&cut);
    resume.push("--resume".into());
    let out = ok(&refs(&resume));
    assert!(
        out.contains(&format!("resumed from step {}", ck.step)),
        "{out}"
    );
    ok(&refs(&long(&whole)));
    assert_same_run(&cut.join("run.h5"), &whole.join("run.h5"));
}

#[test]
fn sigterm_on_a_seismic_run_keeps_the_gathers_and_resumes_bit_identically() {
    let d = tmp();
    let (cut, whole) = (d.path().join("cut"), d.path().join("whole"));
    let args = |dir: &Path| -> Vec<String> {
        [
            "run",
            SEISMIC,
            "-o",
            s(dir),
            "--set",
            "output.every=20",
            "--set",
            "time.t_end=1.5",
            "--set",
            "output.plots=false",
            "-q",
        ]
        .map(String::from)
        .to_vec()
    };
    let mut child = spawn(&refs(&args(&cut)));
    wait_for(&cut.join("run.h5"), &mut child);
    std::thread::sleep(Duration::from_millis(100));
    signal(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let f = RunFile::open(cut.join("run.h5")).unwrap();
        let g = f.read_receivers("shot0").unwrap();
        assert!(g.recorded > 0 && g.recorded < g.traces.ncols());
        assert!(g.traces.column(g.recorded).iter().all(|v| v.is_nan()));
    }
    let mut resume = args(&cut);
    resume.push("--resume".into());
    ok(&refs(&resume));
    ok(&refs(&args(&whole)));
    assert_same_run(&cut.join("run.h5"), &whole.join("run.h5"));
}

#[test]
fn a_second_interrupt_exits_at_once_and_the_file_stays_readable() {
    let d = tmp();
    let dir = d.path().join("twice");
    let mut child = spawn(&refs(&long(&dir)));
    wait_for(&dir.join("run.h5"), &mut child);
    signal(&child, "-INT");
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let f = RunFile::open(dir.join("run.h5")).unwrap();
    assert!(f.frames() >= 1);
    for q in f.fields().unwrap() {
        f.read_field(&q.quantity.name).unwrap();
    }
}

/// Byte offset and length of the first chunk of `/state/u` in a checkpoint.
fn state_chunk(ck: &Path) -> (u64, u64) {
    let f = hdf5::File::open(ck).unwrap();
    let ds = f.dataset("state/u").unwrap();
    let c = ds.chunk_info(0).expect("a chunked, checksummed dataset");
    (c.addr, c.size)
}

#[test]
fn a_flipped_bit_in_a_checkpoint_is_one_clear_error() {
    let d = tmp();
    let dir = d.path().join("ck");
    let mut child = spawn(&refs(&long(&dir)));
    wait_for(&dir.join("checkpoint.h5"), &mut child);
    signal(&child, "-INT");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let ck = dir.join("checkpoint.h5");
    let (addr, size) = state_chunk(&ck);
    let mut bytes = std::fs::read(&ck).unwrap();
    let at = usize::try_from(addr + size / 2).unwrap();
    bytes[at] ^= 0x10;
    std::fs::write(&ck, &bytes).unwrap();
    let run_before = std::fs::read(dir.join("run.h5")).unwrap();
    let mut resume = long(&dir);
    resume.push("--resume".into());
    let e = user_error(&refs(&resume));
    assert!(
        e.contains("cannot resume") && e.contains("/state/u") && e.contains("checksum"),
        "{e}"
    );
    assert_eq!(std::fs::read(dir.join("run.h5")).unwrap(), run_before);
    // `convsim` exits 2 only: never resumes into a wrong result.
    assert_eq!(convsim(&refs(&resume)).status.code(), Some(2));
}
