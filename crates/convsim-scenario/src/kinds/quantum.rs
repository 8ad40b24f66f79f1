//! `run.solver = "quantum"`: the `[quantum]` table -> [`QuantumParams`] -> [`QuantumSolver`].
//!
//! Natural units, `hbar = 1` (see `docs/quantum.md`): lengths in `L`, masses in `M`, energies
//! in `hbar^2 / (M L^2)`, times in `M L^2 / hbar`.
//!
//! ```toml
//! [boundary]
//! all = "periodic"           # periodic | wall (psi = 0 on the edge sample) | zero (psi = 0 one
//!                            # sample beyond); split-step methods need periodic on every side
//!
//! [quantum]
//! method = "strang"          # strang | yoshida4 | finite_difference
//! order = 4                  # finite_difference only: 2, 4, ..., 16
//! mass = 1.0                 # M
//! g = 0.0                    # Gross-Pitaevskii coefficient (energy x area, or x length in 1D)
//! evolution = "real"         # real | imaginary (relaxes to the ground state)
//! tolerance = 1e-10          # imaginary only: |dE/dtau| counted as converged
//! packet = { center_x = -5.0, sigma_x = 0.7071, k_x = 0.0 }   # or [initial] psi_re, psi_im
//! potential = [
//!   { kind = "harmonic", omega = 1.0 },                          # any convsim_quantum term
//!   { kind = "field", value = "0.1 * x^2", scale = 1.0 },       # number, formula or { file, dataset }
//! ]
//! absorber = { width = 4.0, strength = 20.0, edges = ["x_min", "x_max"] }
//! flux_line = { x = 5.0 }     # adds flux, transmitted, reflected diagnostics
//! # drive = { shape = [{ kind = "linear", gradient_x = 1.0 }], profile = { kind = "sine", amplitude = 0.1, omega = 1.0 } }
//! ```

use convsim_core::tile::{Tile, TileLinks};
use convsim_core::{Boundaries, Boundary, Complex64, Grid, Sides, Simulation};
use convsim_quantum::tile::QuantumTile;
use convsim_quantum::{
    Absorber, Drive, Evolution, FluxLine, Method, PotentialTerm, QuantumError, QuantumParams,
    QuantumSolver, Wavepacket,
};
use ndarray::Array2;
use serde::Deserialize;

use super::{KindConfig, SolverKind};
use crate::config::{Ctx, FieldInput, Scenario, Side};
use crate::error::{Result, ScenarioError};
use crate::limits::SolverFootprint;

/// The quantum kind.
#[derive(Debug)]
pub struct Kind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "strang")]
    method: String,
    order: Option<usize>,
    #[serde(default = "one")]
    mass: f64,
    #[serde(default)]
    g: f64,
    #[serde(default = "real")]
    evolution: String,
    tolerance: Option<f64>,
    packet: Option<Wavepacket>,
    #[serde(default)]
    potential: Vec<toml::Value>,
    drive: Option<Drive>,
    absorber: Option<Absorber>,
    flux_line: Option<FluxLine>,
}

/// A potential term read through the shared spatial-input mechanism.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[allow(
        dead_code,
        reason = "checked before deserializing; kept so `deny_unknown_fields` accepts it"
    )]
    kind: String,
    value: toml::Value,
    #[serde(default = "one")]
    scale: f64,
}

fn strang() -> String {
    "strang".into()
}
fn real() -> String {
    "real".into()
}
fn one() -> f64 {
    1.0
}

const METHODS: &str = "strang, yoshida4, finite_difference";

/// Where the initial wavefunction comes from.
#[derive(Debug, Clone)]
enum Initial {
    Packet(Wavepacket),
    Fields {
        re: FieldInput,
        im: Option<FieldInput>,
    },
}

impl Initial {
    fn sample(&self, grid: &Grid) -> std::result::Result<Array2<Complex64>, QuantumError> {
        match self {
            Initial::Packet(p) => p.sample(grid),
            Initial::Fields { re, im } => {
                let re = re.sample(grid, 0.0);
                let im = im
                    .as_ref()
                    .map_or_else(|| Array2::zeros(grid.shape()), |f| f.sample(grid, 0.0));
                Ok(ndarray::Zip::from(&re)
                    .and(&im)
                    .map_collect(|&r, &i| Complex64::new(r, i)))
            }
        }
    }
}

impl SolverKind for Kind {
    fn name(&self) -> &'static str {
        "quantum"
    }

    fn boundary(&self, name: &str) -> Option<(&'static str, bool)> {
        match name {
            "periodic" | "wrap" => Some(("periodic", false)),
            "wall" | "hard_wall" | "antisymmetric" | "dirichlet" => Some(("wall", false)),
            "zero" => Some(("zero", false)),
            _ => None,
        }
    }

    fn boundary_names(&self) -> &'static str {
        "periodic (alias wrap), wall (alias hard_wall, antisymmetric, dirichlet; psi = 0 on the edge sample), zero (psi = 0 one sample beyond)"
    }

    fn edge_on_node(&self, side: &Side) -> bool {
        side.name == "wall"
    }

    fn initial_fields(&self) -> &'static [&'static str] {
        &["psi_re", "psi_im"]
    }

    fn output_fields(&self) -> &'static [&'static str] {
        &["density", "phase", "re", "im", "potential"]
    }

    fn resolve(
        &self,
        ctx: &Ctx<'_>,
        initial: &[(String, FieldInput)],
        table: Option<toml::Value>,
    ) -> Result<Box<dyn KindConfig>> {
        let raw: Raw = super::required_table(
            ctx,
            self.name(),
            table,
            "at least packet = { sigma_x = ... } or [initial] psi_re",
        )?;
        let b = ctx.boundary;
        let sides = [
            (&b.left, "boundary.left"),
            (&b.right, "boundary.right"),
            (&b.top, "boundary.top"),
            (&b.bottom, "boundary.bottom"),
        ];
        let method = match (raw.method.as_str(), raw.order) {
            ("finite_difference", order) => {
                let mode = |s: &Side| match s.name.as_str() {
                    "periodic" => Boundary::Periodic,
                    "wall" => Boundary::Antisymmetric,
                    _ => Boundary::Zero,
                };
                Method::FiniteDifference {
                    order: order.unwrap_or(4),
                    boundaries: Boundaries {
                        y: Sides {
                            lo: mode(&b.top),
                            hi: mode(&b.bottom),
                        },
                        x: Sides {
                            lo: mode(&b.left),
                            hi: mode(&b.right),
                        },
                    },
                }
            }
            (m @ ("strang" | "yoshida4"), order) => {
                if let Some(o) = order {
                    return Err(ctx.invalid(
                        "quantum.order",
                        o.to_string(),
                        format!("only method = \"finite_difference\" takes an order; remove it for method = {m:?}"),
                    ));
                }
                if let Some((s, key)) = sides.iter().find(|(s, _)| s.name != "periodic") {
                    return Err(ctx.invalid(
                        key,
                        format!("{:?}", s.name),
                        format!("the split-step method {m} is periodic; allowed: periodic (absorb outgoing waves with quantum.absorber), or method = \"finite_difference\" for walls"),
                    ));
                }
                if m == "strang" {
                    Method::Strang
                } else {
                    Method::Yoshida4
                }
            }
            (other, _) => {
                return Err(ctx.invalid(
                    "quantum.method",
                    format!("{other:?}"),
                    format!("allowed: {METHODS}"),
                ));
            }
        };
        let evolution = match raw.evolution.as_str() {
            "real" => {
                if let Some(t) = raw.tolerance {
                    return Err(ctx.invalid(
                        "quantum.tolerance",
                        t.to_string(),
                        "only used with evolution = \"imaginary\"; remove it",
                    ));
                }
                Evolution::Real
            }
            "imaginary" => Evolution::Imaginary {
                tolerance: raw.tolerance.unwrap_or(1e-10),
            },
            o => {
                return Err(ctx.invalid(
                    "quantum.evolution",
                    format!("{o:?}"),
                    "allowed: real, imaginary",
                ));
            }
        };
        let mut potential = Vec::with_capacity(raw.potential.len());
        let mut inputs = Vec::new();
        for (i, v) in raw.potential.iter().enumerate() {
            let key = format!("quantum.potential[{i}]");
            let kind = v.get("kind").and_then(toml::Value::as_str).unwrap_or("");
            if kind == "field" {
                let f: RawField = ctx.deserialize(&key, v.clone())?;
                let input = ctx.field(&format!("{key}.value"), &f.value)?;
                potential.push(PotentialTerm::Array {
                    values: input.sample(&ctx.grid, 0.0),
                    scale: f.scale,
                });
                inputs.push((i, input, f.scale));
            } else if kind == "array" {
                return Err(ctx.invalid(
                    &format!("{key}.kind"),
                    "\"array\"",
                    "write arrays as { kind = \"field\", value = { file = \"...\", dataset = \"...\" } } (or a number or formula)",
                ));
            } else {
                potential.push(ctx.deserialize(&key, v.clone())?);
            }
        }
        let has = |n: &str| initial.iter().find(|(k, _)| k == n).map(|(_, f)| f.clone());
        let init = match (raw.packet, has("psi_re"), has("psi_im")) {
            (Some(p), None, None) => Initial::Packet(p),
            (Some(_), _, _) => {
                return Err(ctx.invalid(
                    "quantum.packet",
                    "(given)",
                    "give quantum.packet or [initial] psi_re/psi_im, not both",
                ));
            }
            (None, Some(re), im) => Initial::Fields { re, im },
            (None, None, _) => {
                return Err(ctx.invalid(
                    "initial.psi_re",
                    "(missing)",
                    "give quantum.packet = { sigma_x = ..., center_x, k_x, ... } or [initial] psi_re (and psi_im)",
                ));
            }
        };
        let params = QuantumParams {
            grid: ctx.grid,
            dt: ctx.time.dt,
            mass: raw.mass,
            g: raw.g,
            method,
            evolution,
            potential,
            drive: raw.drive,
            absorber: raw.absorber,
            flux_line: raw.flux_line,
        };
        // Building the solver is the validation (potential range, stability, shapes), so
        // `convsim validate` refuses exactly what `run` would.
        let footprint = super::footprint::quantum(&params);
        ctx.check_memory(&footprint)?;
        let err = |e: QuantumError| super::solver_error(ctx, self.name(), &e);
        let psi0 = init.sample(&ctx.grid).map_err(err)?;
        let probe = QuantumSolver::new(params.clone(), psi0).map_err(err)?;
        let dt_max = probe.dt_max();
        Ok(Box::new(Config {
            params,
            footprint,
            dt_max,
            init,
            inputs,
        }))
    }
}

/// The resolved `[quantum]` table.
#[derive(Debug)]
pub struct Config {
    /// Parameters handed to the solver.
    pub params: QuantumParams,
    /// The memory the solver holds (see [`crate::limits`]).
    footprint: SolverFootprint,
    /// Stability limit of `dt` (finite differences only), in `M L^2 / hbar`.
    pub dt_max: Option<f64>,
    init: Initial,
    /// Potential terms read as fields: (index in `params.potential`, input, scale).
    inputs: Vec<(usize, FieldInput, f64)>,
}

impl KindConfig for Config {
    fn footprint(&self) -> SolverFootprint {
        self.footprint.clone()
    }

    fn to_table(&self) -> toml::Table {
        let p = &self.params;
        let mut t = toml::Table::new();
        t.insert("method".into(), p.method.name().into());
        if let Method::FiniteDifference { order, .. } = p.method {
            t.insert("order".into(), (order as i64).into());
        }
        t.insert("mass".into(), p.mass.into());
        t.insert("g".into(), p.g.into());
        match p.evolution {
            Evolution::Real => {
                t.insert("evolution".into(), "real".into());
            }
            Evolution::Imaginary { tolerance } => {
                t.insert("evolution".into(), "imaginary".into());
                t.insert("tolerance".into(), tolerance.into());
            }
        }
        if let Initial::Packet(w) = &self.init
            && let Ok(v) = toml::Value::try_from(w)
        {
            t.insert("packet".into(), v);
        }
        let terms: Vec<toml::Value> = p
            .potential
            .iter()
            .enumerate()
            .filter_map(|(i, term)| {
                if let Some((_, input, scale)) = self.inputs.iter().find(|(k, _, _)| *k == i) {
                    let mut f = toml::Table::new();
                    f.insert("kind".into(), "field".into());
                    f.insert("value".into(), input.to_toml());
                    f.insert("scale".into(), (*scale).into());
                    Some(f.into())
                } else {
                    toml::Value::try_from(term).ok()
                }
            })
            .collect();
        t.insert("potential".into(), terms.into());
        for (name, v) in [
            ("absorber", p.absorber.as_ref().map(toml::Value::try_from)),
            ("flux_line", p.flux_line.as_ref().map(toml::Value::try_from)),
            ("drive", p.drive.as_ref().map(toml::Value::try_from)),
        ] {
            if let Some(Ok(v)) = v {
                t.insert(name.into(), v);
            }
        }
        t
    }

    fn derived(&self) -> toml::Table {
        let mut d = toml::Table::new();
        match self.dt_max {
            Some(l) => {
                d.insert("stability_limit_dt".into(), l.into());
                d.insert("dt_over_limit".into(), (self.params.dt / l).into());
            }
            None => {
                d.insert(
                    "stability_limit_dt".into(),
                    "none (split-step Fourier is unitary for any dt)".into(),
                );
            }
        }
        let dim = if self.params.grid.ny == 1 { "1D" } else { "2D" };
        d.insert(
            "scheme".into(),
            format!("{} ({dim})", self.params.method.name()).into(),
        );
        d
    }

    fn build(&self, scenario: &Scenario) -> Result<Box<dyn Simulation>> {
        let file = scenario.file.display().to_string();
        let err = |e: QuantumError| {
            ScenarioError::invalid(file.clone(), "quantum", "(setup)", e.to_string())
        };
        let psi0 = self.init.sample(&scenario.grid).map_err(err)?;
        let s = QuantumSolver::new(self.params.clone(), psi0).map_err(err)?;
        Ok(Box::new(s))
    }

    /// Every rank validates and builds the whole-grid solver (its normalised initial state
    /// and potential), then keeps its tile: the slabs of the distributed FFT need no halo.
    fn build_tile(
        &self,
        scenario: &Scenario,
        shot: usize,
        dims: [usize; 2],
        coords: [usize; 2],
        links: &mut dyn FnMut(&Tile) -> TileLinks,
    ) -> Option<Result<Box<dyn Simulation>>> {
        debug_assert_eq!(shot, 0, "one shot");
        let g = &scenario.grid;
        let outer = Boundaries::uniform(Boundary::Periodic);
        let tile = Tile::of_grid([g.ny, g.nx], dims, coords, 0, outer);
        let links = links(&tile);
        let file = scenario.file.display().to_string();
        let setup = |e: QuantumError| {
            ScenarioError::invalid(file.clone(), "quantum", "(setup)", e.to_string())
        };
        let built = (|| {
            let psi0 = self.init.sample(&scenario.grid).map_err(setup)?;
            let whole = QuantumSolver::new(self.params.clone(), psi0).map_err(setup)?;
            QuantumTile::new(&whole, tile, links)
                .map(|t| Box::new(t) as Box<dyn Simulation>)
                .map_err(|e| {
                    ScenarioError::invalid(
                        file.clone(),
                        "quantum",
                        "(distributed run)",
                        format!("{e}; run this scenario on one process"),
                    )
                })
        })();
        Some(built)
    }
}
