//! `run.solver = "seismic"`: the `[seismic]` table -> [`SeismicParams`] -> [`Seismic`].
//!
//! ```toml
//! [boundary]
//! top = "free_surface"       # cpml | sponge | free_surface | rigid | zero (per side)
//! bottom = "cpml"
//!
//! [seismic]
//! order = 8                  # space order: 2, 4, ..., 16
//! precision = "f32"          # f32 | f64
//! velocity = 2000.0          # m/s: number, formula of x, y, r, { file, dataset },
//!                            # { layers = [tops m], values = [m/s] } or { builtin = "marmousi_like", seed = 0 }
//! density = 2000.0           # kg/m^3, optional (omitted or a number: constant density, the fast
//!                            # path); the forms of velocity, or { builtin = "gardner" } (310 v^0.25)
//! sources = [{ y = 500.0, x = 500.0, ricker = 15.0 }]   # Hz; optional t0 (s), amplitude
//! # or, instead of `sources`, several independent shots (one source each, run in parallel,
//! # one gather each under /receivers/shot<k>; /fields and diagnostics show shot 0):
//! # shots = [{ y = 10.0, x = 200.0, ricker = 15.0 }, { y = 10.0, x = 800.0, ricker = 15.0 }]
//! receivers = { start = [10.0, 0.0], end = [10.0, 1000.0], count = 101 }   # or { points = [[y, x], ...] }
//! cpml = { width = 20, reflection = 1e-4 }              # used by the sides named cpml
//! sponge = { width = 40, strength = 0.3 }               # used by the sides named sponge
//! ```
//!
//! The run length `time.t_end` is the recorded duration of the receivers. An optional initial
//! pressure `[initial] p = ...` replaces or adds to the sources.

use convsim_core::tile::{Tile, TileLinks};
use convsim_core::{ParamPath, Simulation};
use convsim_seismic::{
    Model, MultiShot, PointSource, Receivers, Seismic, SeismicBoundaries, SeismicError,
    SeismicParams, SeismicTile, SideBoundary, Wavelet, tile_of,
};
use serde::Deserialize;

use super::{KindConfig, SolverKind};
use crate::config::{Ctx, FieldInput, Scenario, Side};
use crate::error::{Result, ScenarioError};
use crate::limits::SolverFootprint;

/// The seismic kind.
#[derive(Debug)]
pub struct Kind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "eight")]
    order: usize,
    #[serde(default = "f32_name")]
    precision: String,
    velocity: Option<toml::Value>,
    density: Option<toml::Value>,
    #[serde(default)]
    sources: Vec<RawSource>,
    /// Independent shots, one source each (instead of `sources`).
    #[serde(default)]
    shots: Vec<RawSource>,
    receivers: Option<RawReceivers>,
    cpml: Option<RawCpml>,
    sponge: Option<RawSponge>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    y: f64,
    x: f64,
    ricker: f64,
    t0: Option<f64>,
    #[serde(default = "one")]
    amplitude: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceivers {
    start: Option<[f64; 2]>,
    end: Option<[f64; 2]>,
    count: Option<usize>,
    points: Option<Vec<[f64; 2]>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCpml {
    #[serde(default = "twenty")]
    width: usize,
    #[serde(default = "r_default")]
    reflection: f64,
    frequency: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSponge {
    #[serde(default = "forty")]
    width: usize,
    #[serde(default = "strength")]
    strength: f64,
}

fn eight() -> usize {
    8
}
fn f32_name() -> String {
    "f32".into()
}
fn one() -> f64 {
    1.0
}
fn twenty() -> usize {
    20
}
fn forty() -> usize {
    40
}
fn r_default() -> f64 {
    1e-4
}
fn strength() -> f64 {
    0.3
}

impl SolverKind for Kind {
    fn name(&self) -> &'static str {
        "seismic"
    }

    fn boundary(&self, name: &str) -> Option<(&'static str, bool)> {
        match name {
            "cpml" | "pml" | "absorbing" => Some(("cpml", false)),
            "sponge" | "damping" => Some(("sponge", false)),
            "free_surface" | "free" => Some(("free_surface", false)),
            "rigid" | "neumann" => Some(("rigid", false)),
            "zero" | "dirichlet" => Some(("zero", false)),
            _ => None,
        }
    }

    fn boundary_names(&self) -> &'static str {
        "cpml (alias pml, absorbing), sponge (alias damping), free_surface (alias free), rigid (alias neumann), zero (alias dirichlet)"
    }

    fn edge_on_node(&self, _side: &Side) -> bool {
        true
    }

    fn initial_fields(&self) -> &'static [&'static str] {
        &["p"]
    }

    fn output_fields(&self) -> &'static [&'static str] {
        &["pressure", "velocity", "density"]
    }

    fn resolve(
        &self,
        ctx: &Ctx<'_>,
        initial: &[(String, FieldInput)],
        table: Option<toml::Value>,
    ) -> Result<Box<dyn KindConfig>> {
        let raw: Raw = super::required_table(ctx, self.name(), table, "at least velocity = <m/s>")?;
        let f64_precision = match raw.precision.as_str() {
            "f32" => false,
            "f64" => true,
            o => {
                return Err(ctx.invalid(
                    "seismic.precision",
                    format!("{o:?}"),
                    "allowed: f32, f64",
                ));
            }
        };
        let (velocity, v_input) = match &raw.velocity {
            None => {
                return Err(ctx.invalid(
                    "seismic.velocity",
                    "(missing)",
                    "give the velocity model (m/s)",
                ));
            }
            Some(toml::Value::Table(t)) if t.contains_key("builtin") => {
                let name = t.get("builtin").and_then(toml::Value::as_str).unwrap_or("");
                if name != "marmousi_like" {
                    return Err(ctx.invalid(
                        "seismic.velocity.builtin",
                        format!("{name:?}"),
                        "allowed: marmousi_like",
                    ));
                }
                let seed = t.get("seed").and_then(toml::Value::as_integer).unwrap_or(0);
                if let Some(k) = t.keys().find(|k| *k != "builtin" && *k != "seed") {
                    return Err(ctx.invalid(
                        &format!("seismic.velocity.{k}"),
                        "(given)",
                        "unknown key; allowed keys: builtin, seed",
                    ));
                }
                (
                    Model::MarmousiLike {
                        seed: seed.unsigned_abs(),
                    },
                    None,
                )
            }
            Some(toml::Value::Table(t)) if t.contains_key("layers") => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Layers {
                    layers: Vec<f64>,
                    values: Vec<f64>,
                }
                let l: Layers =
                    ctx.deserialize("seismic.velocity", toml::Value::Table(t.clone()))?;
                (
                    Model::Layered {
                        tops: l.layers,
                        values: l.values,
                    },
                    None,
                )
            }
            Some(v) => {
                let input = ctx.field("seismic.velocity", v)?;
                match &input {
                    FieldInput::Constant(c) => (Model::Constant { value: *c }, Some(input)),
                    _ => (
                        Model::Array {
                            values: input.sample(&ctx.grid, 0.0),
                        },
                        Some(input),
                    ),
                }
            }
        };
        let (density, rho_input) = match &raw.density {
            None => (None, None),
            Some(v) => {
                let (m, input) = parse_density(ctx, v)?;
                (Some(m), input)
            }
        };
        let point = |s: &RawSource| PointSource {
            y: s.y,
            x: s.x,
            wavelet: Wavelet::Ricker {
                f0: s.ricker,
                t0: s.t0,
                amplitude: s.amplitude,
            },
        };
        if !raw.sources.is_empty() && !raw.shots.is_empty() {
            return Err(ctx.invalid(
                "seismic.shots",
                "(given with seismic.sources)",
                "give either sources (the sources of one shot) or shots (independent shots, one source each), not both",
            ));
        }
        // Shot k's sources; a single shot unless `shots` is given.
        let shots: Vec<Vec<PointSource>> = if raw.shots.is_empty() {
            vec![raw.sources.iter().map(point).collect()]
        } else {
            raw.shots.iter().map(|s| vec![point(s)]).collect()
        };
        let sources = shots[0].clone();
        let receivers = match &raw.receivers {
            None => Vec::new(),
            Some(RawReceivers {
                points: Some(p),
                start: None,
                end: None,
                count: None,
            }) => vec![Receivers::Points { coords: p.clone() }],
            Some(RawReceivers {
                points: None,
                start: Some(s),
                end: Some(e),
                count: Some(c),
            }) => {
                vec![Receivers::Line {
                    start: *s,
                    end: *e,
                    count: *c,
                }]
            }
            Some(_) => {
                return Err(ctx.invalid(
                    "seismic.receivers",
                    "(given)",
                    "allowed: { start = [y, x], end = [y, x], count = n } (a line) or { points = [[y, x], ...] }",
                ));
            }
        };
        if sources.is_empty() && !initial.iter().any(|(n, _)| n == "p") {
            return Err(ctx.invalid(
                "seismic.sources",
                "[]",
                "give at least one source, or an initial pressure [initial] p = ...",
            ));
        }
        let cpml = raw
            .cpml
            .map_or(SideBoundary::cpml(20), |c| SideBoundary::Cpml {
                width: c.width,
                reflection: c.reflection,
                frequency: c.frequency,
            });
        let sponge = raw
            .sponge
            .map_or(SideBoundary::sponge(40), |s| SideBoundary::Sponge {
                width: s.width,
                strength: s.strength,
            });
        let side = |s: &Side| match s.name.as_str() {
            "cpml" => cpml,
            "sponge" => sponge,
            "free_surface" => SideBoundary::FreeSurface,
            "rigid" => SideBoundary::Rigid,
            _ => SideBoundary::Zero,
        };
        let b = ctx.boundary;
        let params = SeismicParams {
            grid: ctx.grid,
            dt: ctx.time.dt,
            duration: ctx.time.t_end,
            space_order: raw.order,
            velocity,
            density,
            sources,
            receivers,
            boundaries: SeismicBoundaries {
                top: side(&b.top),
                bottom: side(&b.bottom),
                left: side(&b.left),
                right: side(&b.right),
            },
            ppw_threshold: None,
        };
        // Building the solver allocates its buffers (most lazily, as zeroed pages) and the
        // traces and wavelets of the whole recording: check they fit first.
        let footprint = super::footprint::seismic(&params, shots.len(), f64_precision);
        ctx.check_memory(&footprint)?;
        // Building the solver is the validation (the model is checked once).
        let err = |e: &SeismicError| super::solver_error(ctx, self.name(), e);
        let probe = Seismic::<f32>::new(&params).map_err(|e| err(&e))?;
        let limit = probe.dt_limit();
        let warnings = probe.warnings().iter().map(ToString::to_string).collect();
        drop(probe);
        for (k, srcs) in shots.iter().enumerate().skip(1) {
            let p = SeismicParams {
                sources: srcs.clone(),
                ..params.clone()
            };
            Seismic::<f32>::new(&p).map_err(|e| match &e {
                SeismicError::OutsideModel { .. } | SeismicError::InvalidParameter { .. } => ctx
                    .invalid(
                        "seismic.shots",
                        format!("shots[{k}]"),
                        e.to_string().replace("sources[0]", &format!("shots[{k}]")),
                    ),
                _ => err(&e),
            })?;
        }
        Ok(Box::new(Config {
            params,
            footprint,
            f64_precision,
            limit,
            warnings,
            shots,
            v_input,
            rho_input,
        }))
    }
}

/// The resolved `[seismic]` table.
#[derive(Debug)]
pub struct Config {
    /// Parameters handed to the solver.
    pub params: SeismicParams,
    /// The memory the solver holds (see [`crate::limits`]).
    footprint: SolverFootprint,
    /// Run in double precision.
    pub f64_precision: bool,
    /// Stability limit of `dt`, s.
    pub limit: f64,
    /// Warnings of the solver (e.g. too few points per wavelength).
    pub warnings: Vec<String>,
    /// The sources of each shot (one entry unless `shots` is given; `params.sources` is the
    /// first).
    pub shots: Vec<Vec<PointSource>>,
    v_input: Option<FieldInput>,
    rho_input: Option<FieldInput>,
}

impl KindConfig for Config {
    fn footprint(&self) -> SolverFootprint {
        self.footprint.clone()
    }

    fn produces(&self, field: &str) -> bool {
        field != "density" || self.params.density.is_some()
    }

    fn to_runnable_table(&self, raw: &toml::Table) -> toml::Table {
        // The receivers, absorbing layers and wavelets are kept as written (`to_table` shows
        // them resolved, in a form the schema does not read back); the scalars resolved.
        let mut t = raw.clone();
        let resolved = self.to_table();
        for k in ["order", "precision"] {
            if let Some(v) = resolved.get(k) {
                t.insert(k.into(), v.clone());
            }
        }
        t
    }

    fn to_table(&self) -> toml::Table {
        let p = &self.params;
        let mut t = toml::Table::new();
        t.insert("order".into(), (p.space_order as i64).into());
        t.insert(
            "precision".into(),
            (if self.f64_precision { "f64" } else { "f32" }).into(),
        );
        match (&p.velocity, &self.v_input) {
            (_, Some(input)) => {
                t.insert("velocity".into(), input.to_toml());
            }
            (Model::MarmousiLike { seed }, None) => {
                let mut v = toml::Table::new();
                v.insert("builtin".into(), "marmousi_like".into());
                v.insert("seed".into(), (*seed as i64).into());
                t.insert("velocity".into(), v.into());
            }
            (Model::Layered { tops, values }, None) => {
                let mut v = toml::Table::new();
                v.insert("layers".into(), tops.clone().into());
                v.insert("values".into(), values.clone().into());
                t.insert("velocity".into(), v.into());
            }
            _ => {}
        }
        match (&p.density, &self.rho_input) {
            (_, Some(input)) => {
                t.insert("density".into(), input.to_toml());
            }
            (Some(Model::Gardner), None) => {
                let mut v = toml::Table::new();
                v.insert("builtin".into(), "gardner".into());
                t.insert("density".into(), v.into());
            }
            (Some(Model::Layered { tops, values }), None) => {
                let mut v = toml::Table::new();
                v.insert("layers".into(), tops.clone().into());
                v.insert("values".into(), values.clone().into());
                t.insert("density".into(), v.into());
            }
            _ => {}
        }
        let sources: Vec<toml::Value> = p
            .sources
            .iter()
            .map(|s| {
                let mut v = toml::Table::new();
                v.insert("y".into(), s.y.into());
                v.insert("x".into(), s.x.into());
                if let Wavelet::Ricker { f0, t0, amplitude } = s.wavelet {
                    v.insert("ricker".into(), f0.into());
                    v.insert("t0".into(), t0.unwrap_or(1.5 / f0).into());
                    v.insert("amplitude".into(), amplitude.into());
                }
                v.into()
            })
            .collect();
        if self.shots.len() > 1 {
            let shots: Vec<toml::Value> = self
                .shots
                .iter()
                .map(|srcs| {
                    let mut v = toml::Table::new();
                    v.insert("y".into(), srcs[0].y.into());
                    v.insert("x".into(), srcs[0].x.into());
                    if let Wavelet::Ricker { f0, t0, amplitude } = srcs[0].wavelet {
                        v.insert("ricker".into(), f0.into());
                        v.insert("t0".into(), t0.unwrap_or(1.5 / f0).into());
                        v.insert("amplitude".into(), amplitude.into());
                    }
                    v.into()
                })
                .collect();
            t.insert("shots".into(), shots.into());
        } else {
            t.insert("sources".into(), sources.into());
        }
        let n: usize = p.receivers.iter().map(|r| r.positions().len()).sum();
        t.insert("receiver_count".into(), (n as i64).into());
        t
    }

    fn derived(&self) -> toml::Table {
        let mut d = toml::Table::new();
        d.insert("stability_limit_dt".into(), self.limit.into());
        d.insert("dt_over_limit".into(), (self.params.dt / self.limit).into());
        d.insert(
            "scheme".into(),
            format!(
                "leapfrog, order-{} cross Laplacian",
                self.params.space_order
            )
            .into(),
        );
        d.insert(
            "trace_samples".into(),
            ((self.params.nt() + 1) as i64).into(),
        );
        if !self.warnings.is_empty() {
            d.insert("warnings".into(), self.warnings.clone().into());
        }
        d
    }

    fn build(&self, scenario: &Scenario) -> Result<Box<dyn Simulation>> {
        let file = scenario.file.display().to_string();
        let err = |e: SeismicError| {
            ScenarioError::invalid(file.clone(), "seismic", "(setup)", e.to_string())
        };
        let p0 = scenario
            .initial_field("p")
            .map(|f| f.sample(&scenario.grid, 0.0));
        if self.shots.len() > 1 {
            return if self.f64_precision {
                multi_shot::<f64>(&self.params, &self.shots, p0.as_ref()).map_err(err)
            } else {
                multi_shot::<f32>(&self.params, &self.shots, p0.as_ref()).map_err(err)
            };
        }
        if self.f64_precision {
            let mut s = Seismic::<f64>::new(&self.params).map_err(err)?;
            if let Some(p0) = p0 {
                s.set_initial(p0.view());
            }
            Ok(Box::new(s))
        } else {
            let mut s = Seismic::<f32>::new(&self.params).map_err(err)?;
            if let Some(p0) = p0 {
                s.set_initial(p0.view());
            }
            Ok(Box::new(s))
        }
    }

    fn shot_count(&self) -> usize {
        self.shots.len()
    }

    fn build_tile(
        &self,
        scenario: &Scenario,
        shot: usize,
        dims: [usize; 2],
        coords: [usize; 2],
        links: &mut dyn FnMut(&Tile) -> TileLinks,
    ) -> Option<Result<Box<dyn Simulation>>> {
        let links = links(&tile_of(&self.params, dims, coords));
        let file = scenario.file.display().to_string();
        let err = |e: SeismicError| match e {
            SeismicError::InvalidParameter {
                param: param @ ParamPath::Parallel(_),
                value,
                allowed,
            } => ScenarioError::invalid(file.clone(), param.to_string(), value, allowed),
            e => ScenarioError::invalid(file.clone(), "seismic", "(setup)", e.to_string()),
        };
        let p0 = scenario
            .initial_field("p")
            .map(|f| f.sample(&scenario.grid, 0.0));
        // Shot `shot`'s sources; everything else is shared by the shots.
        let params = SeismicParams {
            sources: self.shots[shot].clone(),
            ..self.params.clone()
        };
        Some(
            if self.f64_precision {
                seismic_tile::<f64>(&params, p0.as_ref(), dims, coords, links)
            } else {
                seismic_tile::<f32>(&params, p0.as_ref(), dims, coords, links)
            }
            .map_err(err),
        )
    }
}

/// The solver of one tile: the whole grid's solver with the initial pressure, cut to the tile
/// (see `convsim_seismic::SeismicTile`).
fn seismic_tile<T: convsim_core::RealElement>(
    params: &SeismicParams,
    p0: Option<&ndarray::Array2<f64>>,
    dims: [usize; 2],
    coords: [usize; 2],
    links: TileLinks,
) -> std::result::Result<Box<dyn Simulation>, SeismicError> {
    let mut whole = Seismic::<T>::new(params)?;
    if let Some(p0) = p0 {
        whole.set_initial(p0.view());
    }
    Ok(Box::new(SeismicTile::new(&whole, dims, coords, links)?))
}

/// The `density` key: a number (constant density), a formula, `{ file, dataset }`,
/// `{ layers, values }` or `{ builtin = "gardner" }`. Values are checked by the solver
/// (positive and finite, the grid's shape), whose errors name `seismic.density`.
fn parse_density(ctx: &Ctx<'_>, v: &toml::Value) -> Result<(Model, Option<FieldInput>)> {
    match v {
        toml::Value::Table(t) if t.contains_key("builtin") => {
            let name = t.get("builtin").and_then(toml::Value::as_str).unwrap_or("");
            if name != "gardner" {
                return Err(ctx.invalid(
                    "seismic.density.builtin",
                    format!("{name:?}"),
                    "allowed: gardner (rho = 310 v^0.25 kg/m^3 from the velocity in m/s)",
                ));
            }
            if let Some(k) = t.keys().find(|k| *k != "builtin") {
                return Err(ctx.invalid(
                    &format!("seismic.density.{k}"),
                    "(given)",
                    "unknown key; allowed keys: builtin",
                ));
            }
            Ok((Model::Gardner, None))
        }
        toml::Value::Table(t) if t.contains_key("layers") => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Layers {
                layers: Vec<f64>,
                values: Vec<f64>,
            }
            let l: Layers = ctx.deserialize("seismic.density", toml::Value::Table(t.clone()))?;
            Ok((
                Model::Layered {
                    tops: l.layers,
                    values: l.values,
                },
                None,
            ))
        }
        v => {
            let input = ctx.field("seismic.density", v)?;
            let m = match &input {
                FieldInput::Constant(c) => Model::Constant { value: *c },
                _ => Model::Array {
                    values: input.sample(&ctx.grid, 0.0),
                },
            };
            Ok((m, Some(input)))
        }
    }
}

/// The solver of several shots, each starting from the initial pressure `p0` if given.
fn multi_shot<T: convsim_core::RealElement>(
    params: &SeismicParams,
    shots: &[Vec<PointSource>],
    p0: Option<&ndarray::Array2<f64>>,
) -> std::result::Result<Box<dyn Simulation>, SeismicError> {
    let mut m = MultiShot::<T>::new(params, shots)?;
    if let Some(p0) = p0 {
        for s in m.shots_mut() {
            s.set_initial(p0.view());
        }
    }
    Ok(Box::new(m))
}
