//! Resolution of scenario text into a validated config: schema, overrides, formulas, spacings,
//! derived values, and the message of every kind of mistake.

use std::path::Path;

use convsim_scenario::{FieldInput, Scenario};

const BASE: &str = r#"
[run]
solver = "diffusion"
[constants]
s = 0.1
[grid]
nx = 16
ny = 8
lx = 1.0
[time]
dt = 1e-4
steps = 10
[boundary]
all = "periodic"
[initial]
u = "exp(-r^2 / (2 * s^2))"
[diffusion]
diffusivity = 0.5
"#;

fn resolve(text: &str, sets: &[&str]) -> Result<Scenario, String> {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
    Scenario::from_str(text, Path::new("sc.toml"), &sets).map_err(|e| e.to_string())
}

fn err(text: &str, sets: &[&str]) -> String {
    resolve(text, sets).expect_err("should be refused")
}

#[test]
fn defaults_and_derived_values() {
    let s = resolve(BASE, &[]).unwrap();
    assert_eq!(s.name, "sc");
    // Periodic axis: lx / nx; dy defaults to dx.
    assert_eq!((s.grid.dx, s.grid.dy), (1.0 / 16.0, 1.0 / 16.0));
    assert_eq!(s.output.every, 1, "default every = max(1, steps / 20)");
    assert_eq!(s.output.frames, 11);
    let t = s.to_table();
    let d = t["derived"].as_table().unwrap();
    // 5-point limit 1 / (2 D (1/dx^2 + 1/dy^2)) = dx^2 / (4 D); the solver's symbol search is
    // exact to rounding, hence 1e-12.
    let limit = d["stability_limit_dt"].as_float().unwrap();
    assert!(
        (limit - (1.0f64 / 16.0).powi(2) / 2.0).abs() < 1e-12 * limit,
        "{limit}"
    );
    assert_eq!(d["frames"].as_integer(), Some(11));
    // JSON carries the same.
    let j: serde_json::Value = serde_json::from_str(&s.to_json_string()).unwrap();
    assert_eq!(j["derived"]["frames"], 11);
}

#[test]
fn formulas_are_sampled_on_the_grid() {
    let s = resolve(BASE, &["grid.x0=-0.5", "grid.y0=-0.25"]).unwrap();
    let FieldInput::Formula(_) = s.initial_field("u").unwrap() else {
        panic!("formula expected")
    };
    let u = s.initial_field("u").unwrap().sample(&s.grid, 0.0);
    assert_eq!(u.dim(), (8, 16));
    // Node (i, j) = (4, 8) sits at (y, x) = (0, 0): the peak, exactly 1.
    assert_eq!(u[[4, 8]], 1.0);
    let (y, x) = (-0.25 + 2.0 / 16.0, -0.5 + 3.0 / 16.0);
    let expect = (-(x * x + y * y) / (2.0 * 0.01f64)).exp();
    assert!((u[[2, 3]] - expect).abs() < 1e-15);
}

#[test]
fn spacing_follows_where_the_edges_lie() {
    // Fixed-value edges lie on the edge nodes: lx / (nx - 1).
    let s = resolve(BASE, &["boundary.all=fixed:0"]).unwrap();
    assert_eq!(s.grid.dx, 1.0 / 15.0);
    // Zero-flux edges lie half a spacing outside: lx / nx.
    let s = resolve(BASE, &["boundary.all=zero_flux"]).unwrap();
    assert_eq!(s.grid.dx, 1.0 / 16.0);
    // One of each: lx / (nx - 1/2).
    let s = resolve(
        BASE,
        &["boundary.all=zero_flux", "boundary.left=dirichlet:2"],
    )
    .unwrap();
    assert_eq!(s.grid.dx, 1.0 / 15.5);
    assert_eq!(s.boundary.left.value, 2.0);
    assert_eq!(s.boundary.left.name, "fixed");
}

#[test]
fn overrides_are_type_checked_like_the_file() {
    let s = resolve(
        BASE,
        &[
            "time.steps=40",
            "output.every=8",
            "diffusion.scheme=spectral",
        ],
    )
    .unwrap();
    assert_eq!((s.time.steps, s.output.every, s.output.frames), (40, 8, 6));
    assert!(
        s.text.contains("steps = 40"),
        "the run file stores the effective scenario"
    );
    let e = err(BASE, &["time.steps=\"many\""]);
    assert_eq!(
        e,
        "sc.toml (--set time.steps): time.steps: string \"many\": allowed: an integer >= 1"
    );
    let e = err(BASE, &["time.dt"]);
    assert!(e.contains("--set key.path=value"), "{e}");
}

#[test]
fn t_end_rounds_to_whole_steps() {
    let text = BASE.replace("steps = 10", "t_end = 0.0123");
    let s = resolve(&text, &[]).unwrap();
    assert_eq!(s.time.steps, 123, "0.0123 / 1e-4 = 123 up to rounding");
    let s = resolve(&text, &["time.t_end=0.01234"]).unwrap();
    assert_eq!(s.time.steps, 124, "not a multiple: rounded up");
    assert!((s.time.t_end - 0.0124).abs() < 1e-15);
}

#[test]
fn every_mistake_names_file_key_value_and_what_is_allowed() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["grid.nz=3"],
            "sc.toml (--set grid.nz): grid.nz: (unknown key): unknown key; did you mean `nx`?; allowed keys: nx, ny, dx, dy, lx, ly, x0, y0",
        ),
        (
            &["grid.nx=\"a\""],
            "grid.nx: string \"a\": allowed: an integer >= 2",
        ),
        (&["grid.nx=1"], "grid.nx: 1: allowed: an integer >= 2"),
        (
            &["time.dt=-1e-3"],
            "time.dt: -0.001: allowed: a finite number > 0",
        ),
        (
            &["time.dt=1e-2"],
            "time.dt: 1e-2: above the stability limit 1.95312e-3 s of the explicit order-2 scheme; allowed: dt <= 1.95312e-3",
        ),
        (
            &["boundary.left=sticky"],
            "boundary.left: \"sticky\": unknown boundary; allowed: periodic, zero_flux",
        ),
        (
            &["boundary.left=zero_flux"],
            "the opposite side is periodic",
        ),
        (
            &["initial.v=1"],
            "initial.v: 1: unknown initial field; allowed: u",
        ),
        (
            &["initial.u=\"exp(-q)\""],
            "initial.u: \"exp(-q)\": at column 6: unknown name `q`; allowed: x, y, r, t, pi, s",
        ),
        (
            &["run.solver=\"heat\""],
            "run.solver: \"heat\": unknown solver; allowed: diffusion",
        ),
        (
            &["output.fields=[\"v\"]"],
            "output.fields: \"v\": unknown field; allowed: u",
        ),
        (
            &["diffusion.order=3"],
            "diffusion.order: 3: allowed: 2, 4, 6, 8",
        ),
        (
            &["diffusion.scheme=\"implicit\""],
            "diffusion.scheme: \"implicit\": allowed: explicit, isotropic9, spectral",
        ),
        (
            &["diffusion.diffusivity=-1"],
            "diffusion.diffusivity: -1: min over the grid is -1; allowed: finite values > 0",
        ),
        (
            &["diffusion.diffusivity={ file = \"nope.h5\", dataset = \"D\" }"],
            "diffusion.diffusivity.file: \"nope.h5\": cannot open ./nope.h5 (file not found)",
        ),
        (
            &["diffusion.source=\"sin(t)\""],
            "sources are time-independent",
        ),
        (
            &["constants.pi=3"],
            "constants.pi: 3: `pi` cannot name a constant",
        ),
        (
            &["parallel.output=\"scatter\""],
            "parallel.output: \"scatter\": allowed: \"tiles\" (every rank writes its tile, the default) or \"gather\"",
        ),
        (
            &["heat.d=1"],
            "heat: (unknown key): unknown key; allowed keys: run, constants, grid, time, boundary, initial, output, parallel, diffusion",
        ),
    ];
    let mut bad = Vec::new();
    for (sets, want) in cases {
        let e = err(BASE, sets);
        if !(e.contains(want) && e.starts_with("sc.toml") && !e.contains('\n')) {
            bad.push(format!("--set {sets:?}\n got: {e}\nwant: {want}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let e = err("[run\nsolver = 1", &[]);
    assert!(e.starts_with("sc.toml: line 1, column"), "{e}");
    let e = err(&BASE.replace("[time]\ndt = 1e-4\n", "[time]\n"), &[]);
    assert!(
        e.contains("time.dt: (missing): this key is required"),
        "{e}"
    );
}
