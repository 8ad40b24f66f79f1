//! End-to-end tests of the closed loop: a diffusion scenario whose step is a stencil file
//! learned by convsim-cnn (`scenarios/diffusion/learned_stencil.toml`), against the same
//! scenario run by the true explicit scheme, and one clear line for every bad stencil input.

use std::path::Path;

use convsim_io::RunFile;

mod common;

use common::{ok, s, tmp, user_error};

const SC: &str = "scenarios/diffusion/learned_stencil.toml";

fn last_frame(dir: &Path) -> (ndarray::Array2<f64>, Vec<f64>) {
    let f = RunFile::open(dir.join("run.h5")).expect("open run.h5");
    assert_eq!(f.frames(), 11);
    (
        f.read_frame("u", 10).unwrap(),
        f.read_diagnostic("mass").unwrap(),
    )
}

#[test]
fn the_learned_stencil_reproduces_the_explicit_solver() {
    let (a, b) = (tmp(), tmp());
    ok(&["run", SC, "-o", s(a.path())]);
    ok(&[
        "run",
        SC,
        "-o",
        s(b.path()),
        "--set",
        "diffusion.scheme=explicit",
    ]);
    let (learned, mass) = last_frame(a.path());
    let (exact, _) = last_frame(b.path());
    let peak = exact.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let diff = (&learned - &exact)
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    // The learned taps differ from delta + (D dt / h^2) L5 by about 1e-14 relative (the fit
    // error the file's description records); a step that does not amplify (|K_hat| <= 1)
    // accumulates at most (steps = 100) x (tap error x sum|K| = 2e-14) x max|u|, 2e-12 of the
    // peak. 1e-10 leaves room for the fit error and rounding, yet is far below any stencil
    // difference that matters (a 1e-6 tap error would give 1e-4).
    assert!(
        diff < 1e-10 * peak,
        "max |learned - explicit| = {diff:e}, peak {peak}"
    );
    // The learned step is conservative to its tap sum (|sum K - 1| ~ 1e-15 per step).
    let drift = mass
        .iter()
        .map(|m| (m / mass[0] - 1.0).abs())
        .fold(0.0, f64::max);
    assert!(drift < 1e-11, "mass drift {drift:e}");
}

#[test]
fn validate_reports_the_stencil() {
    let out = ok(&["validate", SC]);
    for want in [
        "stencil_max_amplification",
        "stencil_kind",
        "learned_diffusion_stencil.toml",
    ] {
        assert!(out.contains(want), "{want} missing in:\n{out}");
    }
}

fn stencil_file(dir: &Path, name: &str, taps: &str) -> String {
    let p = dir.join(name);
    let text = format!(
        "format = \"convsim-stencil\"\nversion = 1\nkind = \"step\"\norientation = \"correlate\"\n\
         anchor = [1, 1]\nspacing = [0.03125, 0.03125]\ndt = 0.02\ntaps = {taps}\n\
         moments = [[1.0]]\n"
    );
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn bad_stencil_inputs_are_one_clear_line_with_exit_code_2() {
    let d = tmp();
    let o = s(d.path());
    let garbage = d.path().join("garbage.toml");
    std::fs::write(&garbage, "format = \"convsim-stencil\"\ntaps = [[1.0, \n").unwrap();
    // r = 0.3 > 1/4: the checkerboard is amplified by |1 - 8 r| = 1.4.
    let unstable = stencil_file(
        d.path(),
        "unstable.toml",
        "[[0.0, 0.3, 0.0], [0.3, -0.2, 0.3], [0.0, 0.3, 0.0]]",
    );
    let set = |v: &str| format!("diffusion.stencil=\"{v}\"");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![set("nope.toml")],
            "diffusion.stencil: \"nope.toml\": cannot read scenarios/diffusion/nope.toml",
        ),
        (vec![set(s(&garbage))], "malformed stencil file"),
        (
            vec!["grid.nx=64".into(), "grid.ny=64".into()],
            "learned with spacing hy = 0.03125 but the grid has 0.015625",
        ),
        (
            vec!["time.dt=0.01".into()],
            "a step stencil learned with dt = 0.02 cannot run with time.dt = 0.01",
        ),
        (
            vec!["grid.nx=2".into(), "grid.lx=0.0625".into()],
            "the stencil has 3x3 taps, larger than the 32x2 grid",
        ),
        (vec![set(&unstable)], "max |K_hat| = 1.4"),
    ];
    for (sets, want) in cases {
        let mut args = vec!["run", SC, "-o", o];
        for v in &sets {
            args.push("--set");
            args.push(v);
        }
        let e = user_error(&args);
        assert!(e.contains(want), "{sets:?}: want {want:?} in\n{e}");
        assert!(e.contains("diffusion.stencil"), "{e}");
    }
    // The unstable stencil runs when the user opts in (its checkerboard then grows).
    ok(&[
        "validate",
        SC,
        "--set",
        &set(&unstable),
        "--set",
        "diffusion.allow_unstable=true",
    ]);
}
