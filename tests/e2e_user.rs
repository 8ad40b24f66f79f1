//! What a user sees around the numbers (issue 15): pictures checked by their pixels, the
//! XDMF sidecar resolved against run.h5, provenance and a self-contained rerun, the command in
//! pipes and batch jobs, training files as run files, and the messages for common mistakes.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use convsim_io::RunFile;
use image::RgbImage;

mod common;

use common::{convsim, ok, root, s, tmp, user_error};

fn decode(p: &Path) -> RgbImage {
    image::open(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .to_rgb8()
}

/// Bounding box `(x0, y0, x1, y1)` (inclusive) of the largest 4-connected set of pixels with
/// `keep(pixel)`.
fn largest_blob(img: &RgbImage, keep: impl Fn([u8; 3]) -> bool) -> (u32, u32, u32, u32) {
    let (w, h) = img.dimensions();
    let mut seen = vec![false; (w * h) as usize];
    let mut best = (0, (0, 0, 0, 0));
    for start in 0..w * h {
        let (sx, sy) = (start % w, start / w);
        if seen[start as usize] || !keep(img.get_pixel(sx, sy).0) {
            continue;
        }
        let (mut n, mut bb) = (0, (sx, sy, sx, sy));
        let mut stack = vec![(sx, sy)];
        seen[start as usize] = true;
        while let Some((x, y)) = stack.pop() {
            n += 1;
            bb = (bb.0.min(x), bb.1.min(y), bb.2.max(x), bb.3.max(y));
            let near = [
                (x.wrapping_sub(1), y),
                (x + 1, y),
                (x, y.wrapping_sub(1)),
                (x, y + 1),
            ];
            for (nx, ny) in near {
                if nx < w && ny < h {
                    let k = (ny * w + nx) as usize;
                    if !seen[k] && keep(img.get_pixel(nx, ny).0) {
                        seen[k] = true;
                        stack.push((nx, ny));
                    }
                }
            }
        }
        if n > best.0 {
            best = (n, bb);
        }
    }
    best.1
}

/// A colour that is neither white, grey nor black text: part of a colour map.
fn colourful(p: [u8; 3]) -> bool {
    let (mx, mn) = (
        p.iter().copied().max().unwrap_or(0),
        p.iter().copied().min().unwrap_or(0),
    );
    mx - mn > 25
}

#[test]
fn a_4000_by_1400_m_section_is_drawn_wide_with_its_colour_bar_beside() {
    let d = tmp();
    ok(&[
        "run",
        "scenarios/seismic/marmousi.toml",
        "-o",
        s(d.path()),
        "--set",
        "time.t_end=0.02",
        "-q",
    ]);
    let f = RunFile::open(d.path().join("run.h5")).unwrap();
    let g = f.grid().unwrap();
    let (wx, wy) = (g.nx as f64 * g.dx, g.ny as f64 * g.dy);
    assert!(
        (wx - 4000.0).abs() < 50.0 && (wy - 1400.0).abs() < 50.0,
        "{wx} x {wy}"
    );
    let img = decode(&d.path().join("velocity.png"));
    let (x0, y0, x1, y1) = largest_blob(&img, colourful);
    let ratio = f64::from(y1 - y0 + 1) / f64::from(x1 - x0 + 1);
    // The plot area is a whole number of pixels: 2 px over ~220 px is 1%.
    assert!(
        (ratio - wy / wx).abs() < 0.02 * wy / wx,
        "plot area {}x{} px: ratio {ratio}, physical {}",
        x1 - x0 + 1,
        y1 - y0 + 1,
        wy / wx
    );
    // The colour bar: a second colourful block right of the plot, as tall as it.
    let bar: Vec<u32> = (0..img.height())
        .filter(|&y| (x1 + 5..img.width()).any(|x| colourful(img.get_pixel(x, y).0)))
        .collect();
    let (b0, b1) = (bar[0], *bar.last().unwrap());
    assert!(
        b0.abs_diff(y0) <= 2 && b1.abs_diff(y1) <= 2,
        "bar {b0}..{b1}, plot {y0}..{y1}"
    );
    // Depth grows downward, and the axis says so: the slow water layer (dark) is at the top.
    let top = img.get_pixel(u32::midpoint(x0, x1), y0 + 2).0;
    let bottom = img.get_pixel(u32::midpoint(x0, x1), y1 - 2).0;
    let luma = |p: [u8; 3]| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
    assert!(
        luma(top) < luma(bottom),
        "slow (dark) at the top: {top:?} {bottom:?}"
    );
    // The velocity model is static: stored once and drawn once.
    assert!(!d.path().join("velocity_first.png").exists());
    assert_eq!(f.read_static("velocity").unwrap().dim(), (g.ny, g.nx));
    assert!(
        f.fields()
            .unwrap()
            .iter()
            .all(|q| q.quantity.name != "velocity")
    );
    assert_eq!(
        f.read_frame("velocity", 1).unwrap(),
        f.read_static("velocity").unwrap()
    );
}

/// Rows of the y tick marks of a line plot: short dark runs left of the y axis line.
fn y_tick_rows(img: &RgbImage) -> (u32, Vec<u32>) {
    let dark = |x: u32, y: u32| img.get_pixel(x, y).0.iter().all(|&c| c < 90);
    let h = img.height();
    // The y axis: the leftmost column that is dark over a third of the height.
    let axis = (0..img.width() / 2)
        .find(|&x| (0..h).filter(|&y| dark(x, y)).count() > (h / 3) as usize)
        .expect("a y axis line");
    let mut rows: Vec<u32> = (0..h)
        .filter(|&y| dark(axis - 3, y) && !dark(axis - 12, y))
        .collect();
    rows.dedup_by(|a, b| *a <= *b + 2);
    (axis, rows)
}

#[test]
fn a_diagnostic_constant_to_1e_13_has_distinct_tick_labels() {
    let d = tmp();
    // The split-step norm is conserved to rounding: it varies in its 14th digit.
    ok(&[
        "run",
        "scenarios/quantum/coherent_state.toml",
        "-o",
        s(d.path()),
        "--set",
        "time.t_end=0.6",
        "-q",
    ]);
    let f = RunFile::open(d.path().join("run.h5")).unwrap();
    let norm = f.read_diagnostic("norm").unwrap();
    let (lo, hi) = norm
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    assert!(hi > lo && (hi - lo) < 1e-11, "spread {}", hi - lo);
    let img = decode(&d.path().join("diagnostics_norm.png"));
    let (axis, rows) = y_tick_rows(&img);
    assert!(rows.len() >= 3, "tick rows {rows:?}");
    // The label left of each tick, as pixels: all different (not "1, 1, 1").
    let crops: Vec<Vec<u8>> = rows
        .iter()
        .map(|&y| {
            let mut v = Vec::new();
            for yy in y.saturating_sub(8)..=(y + 8).min(img.height() - 1) {
                for x in 0..axis - 6 {
                    v.extend_from_slice(&img.get_pixel(x, yy).0);
                }
            }
            v
        })
        .collect();
    for i in 0..crops.len() {
        for j in i + 1..crops.len() {
            assert_ne!(crops[i], crops[j], "tick labels {i} and {j} look the same");
        }
    }
}

#[test]
fn phase_uses_a_cyclic_map_masked_where_the_density_is_negligible() {
    let d = tmp();
    ok(&[
        "run",
        "scenarios/quantum/coherent_state.toml",
        "-o",
        s(d.path()),
        "--set",
        "time.t_end=0.4",
        "--set",
        "output.fields=[\"density\", \"phase\"]",
        "-q",
    ]);
    let img = decode(&d.path().join("phase_last.png"));
    let mask = convsim_plot::MASK_RGB;
    let masked = img.pixels().filter(|p| p.0 == mask).count();
    assert!(
        masked > 10_000,
        "far from the packet the phase is masked ({masked} px)"
    );
    // Inside the packet: colours of the cyclic map only (within rounding).
    let cyc: Vec<[u8; 3]> = (0..=256)
        .map(|k| convsim_plot::Colormap::Cyclic.rgb(f64::from(k) / 256.0))
        .collect();
    let near = |p: [u8; 3]| cyc.iter().any(|c| (0..3).all(|i| p[i].abs_diff(c[i]) <= 3));
    let (x0, y0, x1, y1) = largest_blob(&img, colourful);
    let inside: Vec<[u8; 3]> = (y0..=y1)
        .flat_map(|y| (x0..=x1).map(move |x| (x, y)))
        .map(|(x, y)| img.get_pixel(x, y).0)
        .filter(|p| colourful(*p))
        .collect();
    let on_map = inside.iter().filter(|p| near(**p)).count();
    assert!(
        on_map as f64 > 0.98 * inside.len() as f64,
        "{on_map} of {}",
        inside.len()
    );
    // The colour bar's ends (phase -pi and +pi) have the same colour: the map is cyclic.
    let bar_x = (x1 + 5..img.width())
        .find(|&x| colourful(img.get_pixel(x, u32::midpoint(y0, y1)).0))
        .expect("colour bar");
    let ys: Vec<u32> = (0..img.height())
        .filter(|&y| colourful(img.get_pixel(bar_x + 3, y).0))
        .collect();
    let (top, bottom) = (
        img.get_pixel(bar_x + 3, ys[0]).0,
        img.get_pixel(bar_x + 3, *ys.last().unwrap()).0,
    );
    assert!(
        (0..3).all(|i| top[i].abs_diff(bottom[i]) <= 4),
        "{top:?} vs {bottom:?}"
    );
}

#[test]
fn a_1d_run_is_drawn_as_line_plots_and_a_space_time_image() {
    let d = tmp();
    ok(&[
        "run",
        "scenarios/quantum/barrier_1d.toml",
        "-o",
        s(d.path()),
        "--set",
        "time.t_end=4",
        "-q",
    ]);
    let img = decode(&d.path().join("density_last.png"));
    // A curve in matplotlib's first colour, and no colour-map block (no colour bar).
    let blue = img.pixels().filter(|p| p.0 == [31, 119, 180]).count();
    assert!(blue > 300, "line pixels {blue}");
    let (x0, y0, x1, y1) = largest_blob(&img, |p| colourful(p) && p != [31, 119, 180]);
    assert!(
        (x1 - x0) * (y1 - y0) < 2000,
        "no heatmap: {:?}",
        (x0, y0, x1, y1)
    );
    // The space-time picture: x across, t up, a heatmap.
    let st = decode(&d.path().join("density_spacetime.png"));
    let (x0, y0, x1, y1) = largest_blob(&st, colourful);
    assert!((x1 - x0) > 300 && (y1 - y0) > 300, "{:?}", (x0, y0, x1, y1));
    // The static potential once, as a line.
    assert!(d.path().join("potential.png").exists());
    assert!(!d.path().join("potential_first.png").exists());
}

/// `run.h5:/fields/u` -> (file, dataset).
fn href(text: &str) -> (&str, &str) {
    text.trim().split_once(':').expect("file:/dataset")
}

#[test]
fn the_xdmf_sidecar_resolves_every_reference_in_run_h5() {
    let d = tmp();
    ok(&[
        "run",
        "scenarios/seismic/marmousi.toml",
        "-o",
        s(d.path()),
        "--set",
        "time.t_end=0.02",
        "--set",
        "output.every=5",
        "-q",
    ]);
    let run = RunFile::open(d.path().join("run.h5")).unwrap();
    let times = run.times().unwrap();
    let (ny, nx) = run.grid().unwrap().shape();
    let text = std::fs::read_to_string(d.path().join("run.xdmf")).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let xdmf = doc.root_element();
    let fields: Vec<_> = run.fields().unwrap();
    let statics: Vec<_> = run.static_fields().unwrap();
    drop(run);
    assert_eq!(xdmf.tag_name().name(), "Xdmf");
    assert_eq!(xdmf.attribute("Version"), Some("3.0"));
    let h5 = hdf5::File::open(d.path().join("run.h5")).unwrap();
    // Every HDF reference names an existing dataset of the declared shape.
    let mut refs = 0;
    for item in doc
        .descendants()
        .filter(|n| n.has_tag_name("DataItem") && n.attribute("Format") == Some("HDF"))
    {
        let (file, path) = href(item.text().unwrap());
        assert_eq!(file, "run.h5");
        let ds = h5.dataset(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let dims: Vec<usize> = item
            .attribute("Dimensions")
            .unwrap()
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(ds.shape(), dims, "{path}");
        refs += 1;
    }
    // One grid per frame, at the frame's time, with every field and static field.
    let grids: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("Grid") && n.attribute("GridType") == Some("Uniform"))
        .collect();
    assert_eq!(grids.len(), times.len());
    let mut names: Vec<String> = fields
        .into_iter()
        .chain(statics)
        .map(|q| q.quantity.name)
        .collect();
    names.sort();
    assert!(names.contains(&"velocity".to_string()) && names.contains(&"pressure".to_string()));
    for (k, g) in grids.iter().enumerate() {
        let t: f64 = g
            .children()
            .find(|c| c.has_tag_name("Time"))
            .and_then(|c| c.attribute("Value"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(t, times[k]);
        let topo = g.children().find(|c| c.has_tag_name("Topology")).unwrap();
        assert_eq!(
            topo.attribute("Dimensions"),
            Some(format!("{ny} {nx}").as_str())
        );
        let mut attrs: Vec<String> = g
            .children()
            .filter(|c| c.has_tag_name("Attribute"))
            .map(|c| c.attribute("Name").unwrap().to_string())
            .collect();
        attrs.sort();
        assert_eq!(attrs, names, "frame {k}");
        // The hyperslab of a time-dependent field selects frame k of it.
        for slab in g
            .descendants()
            .filter(|n| n.attribute("ItemType") == Some("HyperSlab"))
        {
            let sel: Vec<usize> = slab
                .children()
                .find(|c| c.has_tag_name("DataItem"))
                .and_then(|c| c.text())
                .unwrap()
                .split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect();
            assert_eq!(sel, vec![k, 0, 0, 1, 1, 1, 1, ny, nx]);
        }
    }
    assert!(refs >= times.len() * 3, "{refs} references");
}

#[test]
fn run_files_carry_their_provenance() {
    let d = tmp();
    ok(&[
        "run",
        "scenarios/diffusion/heterogeneous.toml",
        "-o",
        s(d.path()),
        "--set",
        "time.steps=10",
        "-q",
    ]);
    let f = RunFile::open(d.path().join("run.h5")).unwrap();
    let a = f.attributes().unwrap();
    drop(f);
    let h5 = hdf5::File::open(d.path().join("run.h5")).unwrap();
    let cl = &a["command_line"];
    assert!(
        cl.contains("run scenarios/diffusion/heterogeneous.toml") && cl.contains("time.steps=10"),
        "{cl}"
    );
    assert!(!a["convsim_version"].is_empty());
    let commit = &a["git_commit"];
    let built_in_checkout = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .is_ok_and(|o| o.status.success());
    if built_in_checkout {
        assert!(
            commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{commit}"
        );
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    assert_eq!(a["host"], host.trim());
    let threads: i64 = h5.attr("threads").unwrap().read_scalar().unwrap();
    let ranks: i64 = h5.attr("ranks").unwrap().read_scalar().unwrap();
    assert!(threads >= 1 && ranks == 1);
    // The hashes check with sha256sum, for the scenario and its diffusivity file.
    let sums = &a["inputs_sha256"];
    assert_eq!(sums.lines().count(), 2, "{sums}");
    assert!(sums.contains("heterogeneous.toml") && sums.contains("diffusivity_inclusions.h5"));
    let list = d.path().join("inputs.sha256");
    std::fs::write(&list, format!("{sums}\n")).unwrap();
    let out = Command::new("sha256sum")
        .args(["-c", s(&list)])
        .output()
        .expect("sha256sum");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_stored_scenario_reruns_from_anywhere_to_the_same_numbers() {
    let d = tmp();
    // The scenario in a folder of its own, naming its input relative to that folder.
    let sc_dir = d.path().join("sc");
    std::fs::create_dir(&sc_dir).unwrap();
    let data = root().join("data/diffusivity_inclusions.h5");
    std::fs::copy(&data, sc_dir.join("d.h5")).unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/diffusion/heterogeneous.toml"))
        .unwrap()
        .replace("../../data/diffusivity_inclusions.h5", "d.h5");
    assert!(
        text.contains("\"d.h5\""),
        "the scenario names its input relatively"
    );
    std::fs::write(sc_dir.join("het.toml"), text).unwrap();
    let first = d.path().join("first");
    ok(&[
        "run",
        s(&sc_dir.join("het.toml")),
        "-o",
        s(&first),
        "--set",
        "time.steps=20",
        "-q",
    ]);
    // The scenario file goes away; the rerun runs from another folder.
    std::fs::remove_file(sc_dir.join("het.toml")).unwrap();
    let second = d.path().join("second");
    let elsewhere = tmp();
    let out = Command::new(env!("CARGO_BIN_EXE_convsim"))
        .args(["rerun", s(&first.join("run.h5")), "-o", s(&second), "-q"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (
        RunFile::open(first.join("run.h5")).unwrap(),
        RunFile::open(second.join("run.h5")).unwrap(),
    );
    assert_eq!(a.frames(), b.frames());
    assert_eq!(
        a.read_field("u").unwrap(),
        b.read_field("u").unwrap(),
        "bit-identical"
    );
    let stored = &a.attributes().unwrap()["scenario"];
    assert!(
        stored.contains(&format!(
            "{}",
            sc_dir.canonicalize().unwrap().join("d.h5").display()
        )),
        "{stored}"
    );
    // A changed input is reported (and the run still goes).
    std::fs::write(sc_dir.join("d.h5"), b"changed").unwrap();
    let out = convsim(&[
        "rerun",
        s(&first.join("run.h5")),
        "-o",
        s(&d.path().join("third")),
        "-q",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning:") && err.contains("d.h5"), "{err}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let d = tmp();
    for args in [
        vec![
            "run",
            "scenarios/diffusion/gaussian_periodic.toml",
            "-o",
            s(d.path()),
            "--set",
            "time.t_end=0.02",
        ],
        vec!["validate", "scenarios/diffusion/gaussian_periodic.toml"],
        vec!["inspect", "scenarios/../data/marmousi_like.h5"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_convsim"))
            .args(&args)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away at once, as `| head -0` or `| true` does.
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(
            !err.contains("internal error")
                && !err.contains("panicked")
                && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        if args[0] != "inspect" {
            assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        }
    }
    assert!(d.path().join("run.h5").exists(), "the run completed");
}

#[test]
fn off_a_terminal_progress_comes_as_lines_and_q_v_set_how_many() {
    let d = tmp();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "run",
            "scenarios/diffusion/gaussian_periodic.toml",
            "-o",
            s(d.path()),
            "--force",
            "--set",
            "time.t_end=0.2",
        ];
        a.extend_from_slice(extra);
        let out = convsim(&a);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&[]);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    // Start, every 10% and the end (a fast run never waits 10 s).
    assert!((10..=12).contains(&lines.len()), "{err}");
    let last = lines.last().unwrap();
    assert!(
        last.contains("step 200/200 (100%)") && last.contains("t = 2.000e-1 s"),
        "{last}"
    );
    assert!(lines[2].contains("steps/s"), "{}", lines[2]);
    assert!(lines.iter().skip(1).any(|l| l.contains("ETA")), "{err}");
    assert_eq!(run(&["-q"]), "", "-q is silent");
    let v = run(&["-v"]);
    let frames = v.lines().filter(|l| l.starts_with("frame ")).count();
    assert_eq!(frames, 21, "{v}");
    // The closing summary: units, and --json as one line.
    let out = ok(&[
        "run",
        "scenarios/diffusion/gaussian_periodic.toml",
        "-o",
        s(d.path()),
        "--force",
        "--set",
        "time.t_end=0.02",
        "-q",
        "--json",
    ]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["steps"], 20);
    assert_eq!(j["time_units"], "s");
    assert_eq!(j["diagnostics"]["mass"]["units"], "m2");
    let text = ok(&[
        "run",
        "scenarios/diffusion/gaussian_periodic.toml",
        "-o",
        s(d.path()),
        "--force",
        "--set",
        "time.t_end=0.02",
        "-q",
    ]);
    assert!(
        text.contains("20 steps to t = 2.000000e-2 s") && text.contains("mass = "),
        "{text}"
    );
}

#[test]
fn huge_ranges_draw_in_bounded_time() {
    let d = tmp();
    let t0 = Instant::now();
    let out = ok(&[
        "run",
        "scenarios/diffusion/gaussian_periodic.toml",
        "-o",
        s(d.path()),
        "--set",
        "grid.lx=",
        "--set",
        "grid.dx=1e308",
        "--set",
        "time.t_end=0.002",
        "-q",
    ]);
    assert!(out.contains("run.h5"));
    ok(&[
        "plot",
        s(&d.path().join("run.h5")),
        "-o",
        s(&d.path().join("again")),
    ]);
    let q = tmp();
    ok(&[
        "run",
        "scenarios/quantum/barrier_1d.toml",
        "-o",
        s(q.path()),
        "--set",
        "quantum.potential=[{ kind = \"barrier\", height = 1e308, x_min = -0.5, x_max = 0.5 }]",
        "--set",
        "time.t_end=0.04",
        "-q",
    ]);
    // Seconds, not a hang (the whole test builds nothing).
    assert!(
        t0.elapsed() < Duration::from_secs(120),
        "{:?}",
        t0.elapsed()
    );
    assert!(d.path().join("u_last.png").exists() && q.path().join("potential.png").exists());
}

#[test]
fn a_training_file_is_a_run_file_for_inspect_and_plot() {
    let d = tmp();
    ok(&[
        "train",
        "scenarios/cnn/learn_diffusion.toml",
        "-o",
        s(d.path()),
    ]);
    let train = d.path().join("train.h5");
    let text = ok(&["inspect", s(&train)]);
    assert!(
        text.contains("/loss/train") && text.contains("training file"),
        "{text}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["inspect", s(&train), "--json"])).unwrap();
    assert!(
        j["attributes"]["best_epoch"].is_i64(),
        "{}",
        j["attributes"]
    );
    assert!(
        j["attributes"]["scenario"]
            .as_str()
            .unwrap()
            .contains("[model]")
    );
    let loss = j["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == "/loss/train")
        .unwrap();
    assert_eq!(loss["units"], "(field units)^2");
    let pics = d.path().join("pics");
    let out = ok(&["plot", s(&train), "-o", s(&pics)]);
    assert!(
        out.contains("loss.png") && pics.join("loss.png").exists(),
        "{out}"
    );
}

#[test]
fn mistakes_get_the_nearest_key_and_the_real_range() {
    let e = user_error(&[
        "validate",
        "scenarios/diffusion/gaussian_periodic.toml",
        "--set",
        "time.t_ned=1",
    ]);
    assert!(e.contains("did you mean `t_end`?"), "{e}");
    let e = user_error(&[
        "validate",
        "scenarios/diffusion/gaussian_periodic.toml",
        "--set",
        "grdi.nx=3",
    ]);
    assert!(e.contains("did you mean `grid`?"), "{e}");
    for v in ["0", "-64"] {
        let e = user_error(&[
            "validate",
            "scenarios/diffusion/gaussian_periodic.toml",
            "--set",
            &format!("grid.nx={v}"),
        ]);
        assert!(e.ends_with("allowed: an integer >= 2\n"), "{e}");
    }
    // --set key= removes a key: t_end replaced by steps.
    let out = ok(&[
        "validate",
        "scenarios/diffusion/gaussian_periodic.toml",
        "--set",
        "time.t_end=",
        "--set",
        "time.steps=7",
    ]);
    assert!(out.contains("steps = 7"), "{out}");
    let e = user_error(&["train", "scenarios/diffusion/gaussian_periodic.toml"]);
    assert!(e.contains("convsim run"), "{e}");
    let e = user_error(&["run", "scenarios/cnn/learn_diffusion.toml"]);
    assert!(e.contains("convsim train"), "{e}");
    let e = user_error(&[
        "train",
        "scenarios/cnn/learn_diffusion.toml",
        "--set",
        "data.history=500",
        "--set",
        "data.lag=1",
    ]);
    assert!(e.contains("data.history: 500"), "{e}");
    let d = tmp();
    // An optimiser that ends above where it started: exit 2, the files kept to look at.
    let div = d.path().join("div");
    let e = user_error(&[
        "train",
        "scenarios/cnn/learn_diffusion.toml",
        "-o",
        s(&div),
        "--set",
        "train.optimizer={ kind = \"adam\", learning_rate = 3.0 }",
        "--set",
        "train.epochs=5",
    ]);
    assert!(
        e.contains("train.optimizer.learning_rate") && e.contains("training diverged"),
        "{e}"
    );
    assert!(div.join("train.h5").exists() && div.join("loss.png").exists());
    // Training on a constant field: nothing to learn, said before training.
    let e = user_error(&[
        "train",
        "scenarios/cnn/learn_diffusion.toml",
        "-o",
        s(&d.path().join("const")),
        "--set",
        "data.set=[\"initial.u=1.0\"]",
    ]);
    assert!(
        e.contains("data.field") && e.contains("nothing to learn"),
        "{e}"
    );
    let e = user_error(&[
        "run",
        "scenarios/diffusion/gaussian_periodic.toml",
        "-o",
        s(&d.path().join("no/such")),
    ]);
    assert!(e.contains("--parents"), "{e}");
    ok(&[
        "run",
        "scenarios/diffusion/gaussian_periodic.toml",
        "-o",
        s(&d.path().join("no/such")),
        "--parents",
        "-q",
        "--set",
        "time.t_end=0.002",
    ]);
}

#[test]
fn validate_prints_a_scenario_that_runs_as_is() {
    let d = tmp();
    for sc in [
        "diffusion/gaussian_periodic",
        "diffusion/heterogeneous",
        "diffusion/anisotropic",
        "diffusion/plate_dirichlet",
        "diffusion/learned_stencil",
        "seismic/homogeneous",
        "seismic/layered_free_surface",
        "seismic/marmousi",
        "quantum/barrier_1d",
        "quantum/coherent_state",
        "quantum/double_slit",
        "quantum/gp_ground_state",
    ] {
        let first = ok(&["validate", &format!("scenarios/{sc}.toml")]);
        let p = d.path().join("resolved.toml");
        std::fs::write(&p, &first).unwrap();
        let again = ok(&["validate", s(&p)]);
        let body = |t: &str| {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            body(&first),
            body(&again),
            "{sc}: the resolved scenario is a fixed point"
        );
    }
}

#[test]
fn an_imaginary_time_run_stops_when_converged() {
    let d = tmp();
    let out = ok(&[
        "run",
        "scenarios/quantum/gp_ground_state.toml",
        "-o",
        s(d.path()),
        "--set",
        "grid.nx=32",
        "--set",
        "grid.ny=32",
        "--set",
        "quantum.tolerance=1e-6",
        "--set",
        "time.t_end=100",
        "-q",
        "--json",
    ]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["converged"], true, "{out}");
    let steps = j["steps"].as_u64().unwrap();
    assert!(
        steps > 10 && steps < 10_000,
        "stopped early at {steps} of 10000 steps"
    );
    let f = RunFile::open(d.path().join("run.h5")).unwrap();
    assert_eq!(f.attributes().unwrap()["converged"], "true");
    assert_eq!(
        *f.steps().unwrap().last().unwrap(),
        steps,
        "a last frame at the stop"
    );
    // Gross-Pitaevskii: the chemical potential is a diagnostic, mu = E + E_int > E.
    let mu = f.read_diagnostic("chemical_potential").unwrap();
    let e = f.read_diagnostic("energy").unwrap();
    assert!(mu.last().unwrap() > e.last().unwrap());
}

#[test]
fn completions_and_the_man_page_are_generated() {
    let bash = ok(&["completions", "bash"]);
    assert!(
        bash.contains("convsim") && bash.contains("rerun"),
        "completion script"
    );
    let man = ok(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH convsim"),
        "{}",
        &man[..200.min(man.len())]
    );
}
