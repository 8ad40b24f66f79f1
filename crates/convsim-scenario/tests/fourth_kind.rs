//! A fourth solver kind, defined in this one file and registered with one line: 2D linear
//! advection `u_t + cx u_x + cy u_y = 0` on a periodic grid, first-order upwind in space and
//! forward Euler in time. The whole step is one convolution on convsim-core with a 2x2 kernel
//! (two taps per axis: the cell and its upwind neighbour), as every spatial operator in convsim.
//!
//! This is the example "Adding a solver kind" in `docs/guide.md` points to: nothing outside
//! this file names `advection`; [`kinds`] is the registry line.
//!
//! ```toml
//! [advection]
//! cx = 4.0   # m/s, velocity along x (any sign)
//! cy = 0.0   # m/s, velocity along y (any sign; default 0)
//! ```
//!
//! Stability (checked at resolution): the Courant number `|cx| dt/dx + |cy| dt/dy <= 1`.

use std::path::Path;

use convsim_core::{
    Boundaries, Boundary, ConvPlan, Grid, Kernel2, Method, Quantity, RestoreError, Simulation,
    StateArray,
};
use convsim_scenario::config::{Ctx, FieldInput, Scenario};
use convsim_scenario::driver::{self, RunOptions};
use convsim_scenario::kinds::{KindConfig, Kinds, SolverKind};
use convsim_scenario::limits::{Bytes, Item, MemoryLimit, SolverFootprint};
use ndarray::{Array2, ArrayViewMut2};
use serde::Deserialize;

/// The registry with the fourth kind: the one registration line.
fn kinds() -> Kinds {
    Kinds::builtin()
        .with(&Advection)
        .expect("advection is a new name")
}

/// Slack on the Courant limit: `|cx| dt / dx` of a value meant to be exactly 1 carries the
/// rounding of one product and one quotient (at most 2 ulps), so 4 eps accepts it and nothing
/// that is unstable beyond rounding.
const COURANT_SLACK: f64 = 4.0 * f64::EPSILON;

/// The advection kind.
#[derive(Debug)]
struct Advection;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    cx: f64,
    #[serde(default)]
    cy: f64,
}

impl SolverKind for Advection {
    fn name(&self) -> &'static str {
        "advection"
    }

    fn boundary(&self, name: &str) -> Option<(&'static str, bool)> {
        matches!(name, "periodic" | "wrap").then_some(("periodic", false))
    }

    fn boundary_names(&self) -> &'static str {
        "periodic (alias wrap)"
    }

    fn initial_fields(&self) -> &'static [&'static str] {
        &["u"]
    }

    fn output_fields(&self) -> &'static [&'static str] {
        &["u"]
    }

    fn resolve(
        &self,
        ctx: &Ctx<'_>,
        initial: &[(String, FieldInput)],
        table: Option<toml::Value>,
    ) -> convsim_scenario::Result<Box<dyn KindConfig>> {
        let Some(table) = table else {
            return Err(ctx.invalid(
                "advection",
                "(missing)",
                "an [advection] table is required (cx = <m/s>, cy = <m/s>)",
            ));
        };
        let raw: Raw = ctx.deserialize("advection", table)?;
        for (key, v) in [("advection.cx", raw.cx), ("advection.cy", raw.cy)] {
            if !v.is_finite() {
                return Err(ctx.invalid(key, v.to_string(), "allowed: a finite velocity (m/s)"));
            }
        }
        let (g, dt) = (ctx.grid, ctx.time.dt);
        let (ax, ay) = (raw.cx.abs() * dt / g.dx, raw.cy.abs() * dt / g.dy);
        if ax + ay > 1.0 + COURANT_SLACK {
            // Name the key that contributes most; its bound holds the other one fixed.
            let (key, v, bound) = if ax >= ay {
                ("advection.cx", raw.cx, (1.0 - ay).max(0.0) * g.dx / dt)
            } else {
                ("advection.cy", raw.cy, (1.0 - ax).max(0.0) * g.dy / dt)
            };
            return Err(ctx.invalid(
                key,
                v.to_string(),
                format!(
                    "Courant number |cx| dt/dx + |cy| dt/dy = {} > 1, upwind is unstable; allowed: |{}| <= {bound} m/s with this dt, spacing and the other velocity",
                    ax + ay,
                    &key["advection.".len()..],
                ),
            ));
        }
        if !initial.iter().any(|(n, _)| n == "u") {
            return Err(ctx.invalid(
                "initial.u",
                "(missing)",
                "the initial field is required: a number, a formula or { file, dataset }",
            ));
        }
        let cells = (g.ny as u128) * (g.nx as u128);
        let footprint = SolverFootprint {
            memory: vec![
                Item::new(
                    "advection u and next",
                    "grid.nx, grid.ny",
                    Bytes::of(2 * cells, 8),
                ),
                // The direct plan's padded copy: one ghost row and column.
                Item::new(
                    "advection padded input",
                    "grid.nx, grid.ny",
                    Bytes::of((g.ny as u128 + 1) * (g.nx as u128 + 1), 8),
                ),
            ],
            state: Bytes::of(cells, 8),
            gathers: Bytes(0),
            diagnostics: 1,
        };
        ctx.check_memory(&footprint)?;
        Ok(Box::new(Config {
            cx: raw.cx,
            cy: raw.cy,
            courant: ax + ay,
            footprint,
        }))
    }
}

/// The resolved `[advection]` table.
#[derive(Debug)]
struct Config {
    cx: f64,
    cy: f64,
    courant: f64,
    footprint: SolverFootprint,
}

impl KindConfig for Config {
    fn to_table(&self) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert("cx".into(), self.cx.into());
        t.insert("cy".into(), self.cy.into());
        t
    }

    fn derived(&self) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert("courant".into(), self.courant.into());
        t
    }

    fn footprint(&self) -> SolverFootprint {
        self.footprint.clone()
    }

    fn build(&self, s: &Scenario) -> convsim_scenario::Result<Box<dyn Simulation>> {
        let u0 = s
            .initial_field("u")
            .expect("resolve checked initial.u")
            .sample(&s.grid, 0.0);
        Ok(Box::new(Upwind::new(
            s.grid, s.time.dt, self.cx, self.cy, u0,
        )))
    }
}

/// The upwind taps and anchor: `u'[i, j] = (1 - ax - ay) u[i, j] + ax u[i, j -+ 1] + ay u[i -+ 1, j]`
/// with the neighbour on the side the flow comes from. In correlation form
/// `y[i] = sum_j w[j] x[i + j - a]`, the cell is the tap at the anchor and the upwind neighbour
/// the other tap of its axis; the fourth tap (diagonal) is 0.
fn upwind_kernel(ax: f64, ay: f64) -> Kernel2<f64> {
    let anchor = [usize::from(ay >= 0.0), usize::from(ax >= 0.0)];
    let [r, c] = anchor;
    let mut taps = Array2::zeros((2, 2));
    taps[[r, c]] = 1.0 - ax.abs() - ay.abs();
    taps[[r, 1 - c]] = ax.abs();
    taps[[1 - r, c]] = ay.abs();
    Kernel2::with_anchor(taps, anchor).expect("a 2x2 kernel with its anchor inside")
}

/// The solver: the state and the plan that steps it.
struct Upwind {
    grid: Grid,
    dt: f64,
    plan: ConvPlan<f64>,
    u: Array2<f64>,
    next: Array2<f64>,
    steps: u64,
}

impl Upwind {
    fn new(grid: Grid, dt: f64, cx: f64, cy: f64, u0: Array2<f64>) -> Upwind {
        let k = upwind_kernel(cx * dt / grid.dx, cy * dt / grid.dy);
        let plan = ConvPlan::builder([grid.ny, grid.nx], k)
            .boundaries(Boundaries::uniform(Boundary::Periodic))
            .method(Method::Direct)
            .build()
            .expect("a 2x2 direct plan on a non-empty grid");
        Upwind {
            grid,
            dt,
            plan,
            next: Array2::zeros(u0.dim()),
            u: u0,
            steps: 0,
        }
    }
}

impl Simulation for Upwind {
    fn kind(&self) -> &'static str {
        "advection"
    }
    fn grid(&self) -> Grid {
        self.grid
    }
    fn dt(&self) -> f64 {
        self.dt
    }
    fn time_units(&self) -> &'static str {
        "s"
    }
    fn step_count(&self) -> u64 {
        self.steps
    }
    fn time(&self) -> f64 {
        // From the count, not accumulated: no drift, and a resume lands on the same value.
        self.steps as f64 * self.dt
    }
    fn step(&mut self) {
        self.plan.apply(self.u.view(), self.next.view_mut());
        std::mem::swap(&mut self.u, &mut self.next);
        self.steps += 1;
    }
    fn fields(&self) -> Vec<Quantity> {
        vec![Quantity::new("u", "1", "advected quantity u", true)]
    }
    fn write_field(&self, name: &str, mut out: ArrayViewMut2<'_, f64>) -> bool {
        if name != "u" {
            return false;
        }
        out.assign(&self.u);
        true
    }
    fn diagnostics(&self) -> Vec<Quantity> {
        vec![Quantity::new("mass", "m2", "total mass sum(u) dx dy", true)]
    }
    fn diagnostic_values(&self, out: &mut [f64]) {
        out[0] = self.u.sum() * self.grid.dx * self.grid.dy;
    }
    fn is_finite(&self) -> bool {
        self.u.iter().all(|v| v.is_finite())
    }
    fn state(&self) -> Vec<StateArray> {
        vec![StateArray {
            name: "u".into(),
            data: self.u.clone().into_dyn(),
        }]
    }
    fn restore(&mut self, step: u64, _time: f64, state: &[StateArray]) -> Result<(), RestoreError> {
        let a = StateArray::find_shaped(state, "advection", "u", self.u.shape())?;
        self.u.iter_mut().zip(a.iter()).for_each(|(d, s)| *d = *s);
        self.steps = step;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Tests.

/// 32 x 16 cells on [0, 1) x [0, 0.5), dt = 2^-7: every value below is a power of two, so
/// `cx dt / dx` is exact (cx = 4 gives a Courant number of exactly 1 along x).
fn text(cx: &str, cy: &str, steps: u64, every: u64) -> String {
    format!(
        r#"
[run]
solver = "advection"
[grid]
nx = 32
ny = 16
lx = 1.0
ly = 0.5
[time]
dt = 0.0078125
steps = {steps}
[boundary]
all = "periodic"
[initial]
u = "exp(-((x - 0.3)^2 / 0.01 + (y - 0.2)^2 / 0.004)) + 0.25 * x * y"
[output]
every = {every}
plots = false
[advection]
cx = {cx}
cy = {cy}
"#
    )
}

fn resolve(text: &str, kinds: &Kinds) -> Result<Scenario, String> {
    Scenario::from_str_with(
        text,
        Path::new("sc.toml"),
        &[],
        &MemoryLimit::detect(None),
        kinds,
    )
    .map_err(|e| e.to_string())
}

/// `a` rolled by `n` cells towards +x (periodic): `out[i, j] = a[i, (j - n) mod nx]`.
fn roll_x(a: &Array2<f64>, n: usize) -> Array2<f64> {
    let nx = a.ncols();
    Array2::from_shape_fn(a.dim(), |(i, j)| a[[i, (j + nx - n % nx) % nx]])
}

/// The field of a solver as an array.
fn field(sim: &dyn Simulation) -> Array2<f64> {
    let mut out = Array2::zeros(sim.grid().shape());
    assert!(sim.write_field("u", out.view_mut()));
    out
}

/// (a) At Courant number 1 along x the upwind step is an exact shift by one cell: the taps are
/// 1 (upwind) and 0 (cell and y neighbour), and `0 * a + 1 * b` is `b` exactly in IEEE
/// arithmetic, so the comparison is bitwise.
#[test]
fn courant_one_is_an_exact_shift() {
    let s = resolve(&text("4.0", "0.0", 1, 1), &kinds()).unwrap();
    let mut sim = s.solver.build(&s).unwrap();
    let u0 = field(sim.as_ref());
    for n in 1..=40 {
        sim.step();
        assert_eq!(field(sim.as_ref()), roll_x(&u0, n), "after {n} steps");
    }
    // Against the flow (cx < 0) the shift goes the other way: 32 - n cells towards +x.
    let s = resolve(&text("-4.0", "0.0", 1, 1), &kinds()).unwrap();
    let mut sim = s.solver.build(&s).unwrap();
    for n in 1..=5 {
        sim.step();
        assert_eq!(
            field(sim.as_ref()),
            roll_x(&u0, 32 - n),
            "cx < 0, after {n} steps"
        );
    }
}

/// (b) The taps sum to 1 and the grid is periodic, so sum(u) is conserved up to rounding.
/// Each new value is a sum of three non-negative-weighted terms: its rounding error is at
/// most 3 eps times the sum of their magnitudes, and the sum of those magnitudes over the grid
/// is sum|u| (the taps are non-negative and sum to 1). Summing the N values costs (N - 1) eps
/// sum|u| more, once for each of the two sums compared. So after n steps
/// `|sum u_n - sum u_0| <= (3 n + 2 N) eps sum|u_0|`.
#[test]
fn mass_is_conserved_in_2d() {
    // Courant number 2.4 * 2^-7 / 2^-5 + 0.7 * 2^-7 / 2^-5 = 0.6 + 0.175, flowing towards -y.
    let s = resolve(&text("2.4", "-0.7", 1, 1), &kinds()).unwrap();
    let courant = s.solver.derived()["courant"].as_float().unwrap();
    assert!(courant > 0.5 && courant < 1.0, "{courant}");
    let mut sim = s.solver.build(&s).unwrap();
    let u0 = field(sim.as_ref());
    let (m0, abs0) = (u0.sum(), u0.iter().map(|v| v.abs()).sum::<f64>());
    let n = 200;
    sim.advance(n);
    let u = field(sim.as_ref());
    let cells = u.len() as f64;
    let tol = (3.0 * n as f64 + 2.0 * cells) * f64::EPSILON * abs0;
    assert!(
        (u.sum() - m0).abs() <= tol,
        "mass {} vs {m0}: drift {:e} > {tol:e}",
        u.sum(),
        (u.sum() - m0).abs()
    );
    // And the field did move and spread (the test is not passing on a frozen state).
    assert!((&u - &u0).iter().map(|v| v.abs()).fold(0.0, f64::max) > 0.1);
}

/// (c) Through the real pipeline: scenario text -> `driver::run` into a temp folder -> the run
/// file read back with convsim-io holds the frames, and every frame is frame 0 rolled by the
/// steps taken (bitwise, as in (a)).
#[test]
fn runs_through_the_driver_into_a_run_file() {
    let s = resolve(&text("4.0", "0.0", 12, 4), &kinds()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out_dir: dir.path().join("out"),
        ..RunOptions::default()
    };
    let report = driver::run(&s, &opts, &mut |_| {}).unwrap();
    assert_eq!((report.frames, report.steps), (4, 12));
    let f = convsim_io::RunFile::open(&report.run_file).unwrap();
    assert_eq!(f.frames(), 4);
    assert_eq!(f.steps().unwrap(), vec![0, 4, 8, 12]);
    assert_eq!(f.attributes().unwrap()["solver"], "advection");
    let u0 = f.read_frame("u", 0).unwrap();
    let direct = s.initial_field("u").unwrap().sample(&s.grid, 0.0);
    assert_eq!(u0, direct, "frame 0 is the initial field");
    for k in 1..4 {
        assert_eq!(
            f.read_frame("u", k).unwrap(),
            roll_x(&u0, 4 * k),
            "frame {k}"
        );
    }
}

/// (d) The extended registry lists the fourth kind in its messages; the built-in one does not
/// know it; a second registration of the name is refused.
#[test]
fn registry_names_the_fourth_kind_only_when_registered() {
    let typo = text("4.0", "0.0", 1, 1).replace("\"advection\"", "\"advektion\"");
    let e = resolve(&typo, &kinds()).unwrap_err();
    assert_eq!(
        e,
        "sc.toml: run.solver: \"advektion\": unknown solver; did you mean `advection`?; allowed: diffusion, seismic, quantum, advection"
    );
    let e = resolve(&text("4.0", "0.0", 1, 1), &Kinds::builtin()).unwrap_err();
    assert_eq!(
        e,
        "sc.toml: run.solver: \"advection\": unknown solver; allowed: diffusion, seismic, quantum"
    );
    // The plain constructor is the built-in registry.
    let plain = Scenario::from_str(&text("4.0", "0.0", 1, 1), Path::new("sc.toml"), &[])
        .unwrap_err()
        .to_string();
    assert_eq!(plain, e);
    // An [advection] table beside another solver is an unknown key there...
    let beside =
        text("4.0", "0.0", 1, 1).replace("solver = \"advection\"", "solver = \"diffusion\"");
    let e = resolve(&beside, &Kinds::builtin()).unwrap_err();
    assert!(
        e.starts_with("sc.toml: advection: (unknown key): unknown key"),
        "{e}"
    );
    // ...and a known kind's table, wrongly placed, with the extended registry.
    let e = resolve(&beside, &kinds()).unwrap_err();
    assert!(
        e.contains("a [advection] table, but run.solver is \"diffusion\""),
        "{e}"
    );
    let again = kinds().with(&Advection).unwrap_err();
    assert_eq!(
        again.to_string(),
        "solver kind \"advection\" is already registered; allowed: a name not among diffusion, seismic, quantum, advection"
    );
}

/// (e) An unstable `cx` is one line naming the file, the key, the value and the bound.
#[test]
fn bad_cx_names_the_key_and_the_bound() {
    // cx = 5: Courant number 5 * 2^-7 * 32 = 1.25; the bound is dx / dt = 4 m/s.
    let e = resolve(&text("5.0", "0.0", 1, 1), &kinds()).unwrap_err();
    assert_eq!(
        e,
        "sc.toml: advection.cx: 5: Courant number |cx| dt/dx + |cy| dt/dy = 1.25 > 1, upwind is unstable; allowed: |cx| <= 4 m/s with this dt, spacing and the other velocity"
    );
    // With cy taking half the budget (2 * 2^-7 / 2^-5 = 0.5) the bound on cx halves.
    let e = resolve(&text("3.0", "2.0", 1, 1), &kinds()).unwrap_err();
    assert!(e.starts_with("sc.toml: advection.cx: 3: "), "{e}");
    assert!(
        e.ends_with("allowed: |cx| <= 2 m/s with this dt, spacing and the other velocity"),
        "{e}"
    );
    // A wrong type names the key too (the shared deserializer).
    let e = resolve(&text("\"fast\"", "0.0", 1, 1), &kinds()).unwrap_err();
    assert!(e.starts_with("sc.toml: advection.cx: "), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}
