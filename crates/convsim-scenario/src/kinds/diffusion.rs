//! `run.solver = "diffusion"`: the `[diffusion]` table -> [`DiffusionParams`] -> [`DiffusionSolver`].
//!
//! ```toml
//! [diffusion]
//! scheme = "explicit"        # explicit | isotropic9 | spectral | stencil
//! order = 2                  # explicit only: 2, 4, 6, 8
//! diffusivity = 1.0          # m^2/s: number, formula of x, y, r, or { file, dataset }
//!                            # (optional and unused with scheme = "stencil")
//! # stencil = "learned.toml"  # scheme = "stencil": a convsim-cnn stencil file (relative to
//! #                           # this file); read only with that scheme
//! # allow_unstable = false    # scheme = "stencil": run a step with max |K_hat| > 1 anyway
//! # anisotropic = { dxx = 1.0, dyy = 0.2, dxy = 0.1 }   # instead of diffusivity
//! face_average = "harmonic"  # harmonic | arithmetic (spatially varying D only)
//! source = 0.0               # [u]/s: number, formula, or { file, dataset }
//! ```

use convsim_cnn::export::{StencilFile, StencilKind};
use convsim_core::tile::{Tile, TileLinks};
use convsim_core::{CoreError, Simulation};
use convsim_diffusion::{
    BoundaryCondition, BoundaryConditions, DiffusionError, DiffusionParams, DiffusionSolver,
    DiffusionTile, Diffusivity, FaceAverage, Scheme, StencilForm, StencilTaps,
};
use serde::Deserialize;

use super::{KindConfig, SolverKind};
use crate::config::{Ctx, FieldInput, Scenario, Side};
use crate::error::{Result, ScenarioError};
use crate::limits::SolverFootprint;

/// The diffusion kind.
#[derive(Debug)]
pub struct Kind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "explicit")]
    scheme: String,
    order: Option<usize>,
    diffusivity: Option<toml::Value>,
    anisotropic: Option<RawTensor>,
    face_average: Option<String>,
    source: Option<toml::Value>,
    stencil: Option<String>,
    allow_unstable: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTensor {
    dxx: f64,
    dyy: f64,
    #[serde(default)]
    dxy: f64,
}

fn explicit() -> String {
    "explicit".into()
}

const SCHEMES: &str = "explicit, isotropic9, spectral, stencil";

/// Relative tolerance on the spacing and `dt` a stencil file was learned with against the
/// scenario's: both are written as decimal text, which round-trips `f64` exactly, so the slack
/// only absorbs a hand-written value such as `2.25e-3` for a computed `0.9 h^2 / (4 D)`.
const STENCIL_MATCH: f64 = 1e-9;

/// One line from a possibly multi-line message (TOML errors show a source snippet): the first
/// line and, if different, the last one (what was expected).
fn one_line(reason: &str) -> String {
    let lines: Vec<&str> = reason
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match (lines.first(), lines.last()) {
        (Some(a), Some(b)) if lines.len() > 1 => format!("{a}: {b}"),
        (Some(a), _) => (*a).to_string(),
        _ => String::new(),
    }
}

/// Loads and checks `diffusion.stencil` against the grid and `dt`: the taps for the solver.
fn load_stencil(ctx: &Ctx<'_>, rel: &str, allow_unstable: bool) -> Result<(StencilTaps, String)> {
    let key = "diffusion.stencil";
    let shown = format!("{rel:?}");
    let path = ctx.base.join(rel);
    let text = crate::inputs::read_text(&path).map_err(|reason| {
        ctx.invalid(
            key,
            shown.clone(),
            format!(
                "{reason}; allowed: a convsim-cnn stencil file (path relative to the scenario file)"
            ),
        )
    })?;
    let file = StencilFile::from_toml_str(&text, &path.display().to_string()).map_err(|e| {
        let reason = match e {
            convsim_cnn::CnnError::StencilFile { reason, .. } => reason,
            other => other.to_string(),
        };
        ctx.invalid(
            key,
            shown.clone(),
            format!(
                "malformed stencil file {}: {}; allowed: a file written by convsim-cnn (format = \"convsim-stencil\")",
                path.display(),
                one_line(&reason)
            ),
        )
    })?;
    let taps = file
        .taps_array()
        .map_err(|e| ctx.invalid(key, shown.clone(), one_line(&e.to_string())))?;
    let g = &ctx.grid;
    for (axis, h, want) in [("hy", file.spacing[0], g.dy), ("hx", file.spacing[1], g.dx)] {
        if (h - want).abs() > STENCIL_MATCH * want {
            return Err(ctx.invalid(
                key,
                shown,
                format!(
                    "the stencil was learned with spacing {axis} = {h} but the grid has {want}; allowed: a stencil learned on the same spacing (relative 1e-9)"
                ),
            ));
        }
    }
    let (kh, kw) = taps.dim();
    if kh > g.ny || kw > g.nx {
        return Err(ctx.invalid(
            key,
            shown,
            format!(
                "the stencil has {kh}x{kw} taps, larger than the {}x{} grid; allowed: at most the grid size",
                g.ny, g.nx
            ),
        ));
    }
    let form = match file.kind {
        StencilKind::Step => {
            let dt = ctx.time.dt;
            match file.dt {
                Some(fdt) if (fdt - dt).abs() <= STENCIL_MATCH * dt => {}
                Some(fdt) => {
                    return Err(ctx.invalid(
                        key,
                        shown,
                        format!(
                            "a step stencil learned with dt = {fdt} cannot run with time.dt = {dt}; allowed: time.dt = {fdt} (or an operator stencil)"
                        ),
                    ));
                }
                None => {
                    return Err(ctx.invalid(
                        key,
                        shown,
                        "a step stencil must record its `dt`; allowed: a step file with dt, or an operator file",
                    ));
                }
            }
            StencilForm::Step
        }
        StencilKind::Operator => StencilForm::Operator,
    };
    Ok((
        StencilTaps {
            form,
            taps,
            anchor: file.anchor,
            allow_unstable,
        },
        path.display().to_string(),
    ))
}

impl SolverKind for Kind {
    fn name(&self) -> &'static str {
        "diffusion"
    }

    fn boundary(&self, name: &str) -> Option<(&'static str, bool)> {
        match name {
            "periodic" | "wrap" => Some(("periodic", false)),
            "zero_flux" | "neumann" | "insulated" => Some(("zero_flux", false)),
            "fixed" | "dirichlet" => Some(("fixed", true)),
            _ => None,
        }
    }

    fn boundary_names(&self) -> &'static str {
        "periodic, zero_flux (alias neumann), fixed:<value> (alias dirichlet:<value>; fixed = fixed:0)"
    }

    fn edge_on_node(&self, side: &Side) -> bool {
        side.name == "fixed"
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
    ) -> Result<Box<dyn KindConfig>> {
        let raw: Raw =
            super::required_table(ctx, self.name(), table, "at least diffusivity = <m^2/s>")?;
        let scheme = match (raw.scheme.as_str(), raw.order) {
            // The solver checks the order.
            ("explicit", o) => Scheme::Explicit {
                order: o.unwrap_or(2),
            },
            (s @ ("isotropic9" | "spectral"), Some(o)) => {
                return Err(ctx.invalid(
                    "diffusion.order",
                    o.to_string(),
                    format!(
                        "only the explicit scheme takes an order; remove it for scheme = {s:?}"
                    ),
                ));
            }
            ("isotropic9", None) => Scheme::Isotropic9,
            ("spectral", None) => Scheme::Spectral,
            ("stencil", Some(o)) => {
                return Err(ctx.invalid(
                    "diffusion.order",
                    o.to_string(),
                    "only the explicit scheme takes an order; remove it for scheme = \"stencil\"",
                ));
            }
            ("stencil", None) => Scheme::Stencil,
            (other, _) => {
                return Err(ctx.invalid(
                    "diffusion.scheme",
                    format!("{other:?}"),
                    format!("allowed: {SCHEMES}"),
                ));
            }
        };
        let stencil = if scheme == Scheme::Stencil {
            let Some(rel) = raw.stencil.as_deref() else {
                return Err(ctx.invalid(
                    "diffusion.stencil",
                    "(missing)",
                    "scheme = \"stencil\" needs stencil = \"path/to/stencil.toml\" (a convsim-cnn stencil file, relative to the scenario)",
                ));
            };
            Some(load_stencil(ctx, rel, raw.allow_unstable.unwrap_or(false))?)
        } else {
            None
        };
        let (diffusivity, d_input) = match (&raw.diffusivity, &raw.anisotropic) {
            (Some(_), Some(_)) => {
                return Err(ctx.invalid("diffusion.anisotropic", "(given)", "give diffusion.diffusivity (isotropic) or diffusion.anisotropic (tensor), not both"));
            }
            // The stencil carries D itself; the solver validates but ignores this value.
            (None, None) if scheme == Scheme::Stencil => (Diffusivity::Constant { d: 1.0 }, None),
            (None, None) => return Err(ctx.invalid(
                "diffusion.diffusivity",
                "(missing)",
                "give diffusion.diffusivity (m^2/s) or diffusion.anisotropic = { dxx, dyy, dxy }",
            )),
            (None, Some(t)) => (
                Diffusivity::Tensor {
                    dxx: t.dxx,
                    dyy: t.dyy,
                    dxy: t.dxy,
                },
                None,
            ),
            (Some(v), None) => {
                let input = ctx.field("diffusion.diffusivity", v)?;
                let (lo, hi) = input.range(&ctx.grid);
                if !(lo > 0.0 && hi.is_finite()) {
                    return Err(ctx.invalid(
                        "diffusion.diffusivity",
                        crate::error::show_value(v),
                        format!("min over the grid is {lo}; allowed: finite values > 0 (m^2/s)"),
                    ));
                }
                let face_average = match raw.face_average.as_deref() {
                    None | Some("harmonic") => FaceAverage::Harmonic,
                    Some("arithmetic") => FaceAverage::Arithmetic,
                    Some(o) => {
                        return Err(ctx.invalid(
                            "diffusion.face_average",
                            format!("{o:?}"),
                            "allowed: harmonic, arithmetic",
                        ));
                    }
                };
                match &input {
                    FieldInput::Constant(d) => (Diffusivity::Constant { d: *d }, Some(input)),
                    _ => (
                        Diffusivity::Field {
                            d: input.sample(&ctx.grid, 0.0),
                            face_average,
                        },
                        Some(input),
                    ),
                }
            }
        };
        if raw.face_average.is_some() && !matches!(diffusivity, Diffusivity::Field { .. }) {
            return Err(ctx.invalid(
                "diffusion.face_average",
                format!("{:?}", raw.face_average.unwrap_or_default()),
                "only used with a spatially varying diffusivity (a formula or a dataset); remove it",
            ));
        }
        let source_input = match &raw.source {
            None => None,
            Some(v) => Some(ctx.field("diffusion.source", v)?),
        };
        if let Some(FieldInput::Formula(e)) = &source_input
            && e.uses_time()
        {
            return Err(ctx.invalid(
                "diffusion.source",
                format!("{:?}", e.source()),
                "sources are time-independent; allowed: a formula of x, y, r and constants",
            ));
        }
        if !initial.iter().any(|(n, _)| n == "u") {
            return Err(ctx.invalid(
                "initial.u",
                "(missing)",
                "the initial field is required: a number, a formula or { file, dataset }",
            ));
        }
        let side = |s: &Side| match s.name.as_str() {
            "periodic" => BoundaryCondition::Periodic,
            "zero_flux" => BoundaryCondition::ZeroFlux,
            _ => BoundaryCondition::Fixed { value: s.value },
        };
        let b = ctx.boundary;
        let params = DiffusionParams {
            grid: ctx.grid,
            dt: ctx.time.dt,
            scheme,
            diffusivity,
            source: source_input.as_ref().map(|s| s.sample(&ctx.grid, 0.0)),
            boundaries: BoundaryConditions {
                top: side(&b.top),
                bottom: side(&b.bottom),
                left: side(&b.left),
                right: side(&b.right),
            },
            stencil: stencil.as_ref().map(|(t, _)| t.clone()),
        };
        let footprint = super::footprint::diffusion(&params);
        ctx.check_memory(&footprint)?;
        // Before the solver's checks, which cannot name the stencil file.
        let amplification = params.stencil_amplification();
        if let Some((a, theta)) = amplification
            && a > 1.0 + 1e-12
            && !raw.allow_unstable.unwrap_or(false)
        {
            return Err(ctx.invalid(
                "diffusion.stencil",
                format!("{:?}", raw.stencil.clone().unwrap_or_default()),
                format!(
                    "the step stencil is unstable on this grid: max |K_hat| = {a:.15} > 1 + 1e-12 at (theta_y, theta_x) = ({:.4}, {:.4}) rad; allowed: a stable stencil, or allow_unstable = true",
                    theta[0], theta[1]
                ),
            ));
        }
        // Every parameter and `dt` against the stability limit, checked once by the solver.
        let limit = params
            .check_stable()
            .map_err(|e| super::solver_error(ctx, self.name(), &e))?;
        Ok(Box::new(Config {
            params,
            footprint,
            limit,
            d_input,
            source_input,
            stencil: stencil.map(|(_, p)| StencilInfo {
                rel: raw.stencil.unwrap_or_default(),
                path: p,
                amplification: amplification.map(|(a, _)| a),
                allow_unstable: raw.allow_unstable.unwrap_or(false),
            }),
        }))
    }
}

/// The resolved `[diffusion]` table.
#[derive(Debug)]
pub struct Config {
    /// Parameters handed to the solver.
    pub params: DiffusionParams,
    /// The memory the solver holds (see [`crate::limits`]).
    footprint: SolverFootprint,
    /// Explicit stability limit (s); `None` for the spectral scheme.
    pub limit: Option<f64>,
    d_input: Option<FieldInput>,
    source_input: Option<FieldInput>,
    stencil: Option<StencilInfo>,
}

/// Where the taps of `scheme = "stencil"` came from, for `validate` and the run file.
#[derive(Debug)]
struct StencilInfo {
    /// As written in the scenario.
    rel: String,
    /// As opened.
    path: String,
    /// `max |K_hat|` of a step stencil.
    amplification: Option<f64>,
    allow_unstable: bool,
}

impl KindConfig for Config {
    fn footprint(&self) -> SolverFootprint {
        self.footprint.clone()
    }

    fn to_table(&self) -> toml::Table {
        let mut t = toml::Table::new();
        let p = &self.params;
        match p.scheme {
            Scheme::Explicit { order } => {
                t.insert("scheme".into(), "explicit".into());
                t.insert("order".into(), (order as i64).into());
            }
            Scheme::Isotropic9 => {
                t.insert("scheme".into(), "isotropic9".into());
            }
            Scheme::Spectral => {
                t.insert("scheme".into(), "spectral".into());
            }
            Scheme::Stencil => {
                t.insert("scheme".into(), "stencil".into());
                if let Some(s) = &self.stencil {
                    t.insert("stencil".into(), s.rel.clone().into());
                    if s.allow_unstable {
                        t.insert("allow_unstable".into(), true.into());
                    }
                }
            }
        }
        match (&p.diffusivity, &self.d_input) {
            (Diffusivity::Tensor { dxx, dyy, dxy }, _) => {
                let mut a = toml::Table::new();
                a.insert("dxx".into(), (*dxx).into());
                a.insert("dyy".into(), (*dyy).into());
                a.insert("dxy".into(), (*dxy).into());
                t.insert("anisotropic".into(), a.into());
            }
            (Diffusivity::Field { face_average, .. }, Some(input)) => {
                t.insert("diffusivity".into(), input.to_toml());
                let fa = match face_average {
                    FaceAverage::Harmonic => "harmonic",
                    FaceAverage::Arithmetic => "arithmetic",
                };
                t.insert("face_average".into(), fa.into());
            }
            (_, Some(input)) => {
                t.insert("diffusivity".into(), input.to_toml());
            }
            (_, None) => {}
        }
        if let Some(s) = &self.source_input {
            t.insert("source".into(), s.to_toml());
        }
        t
    }

    fn derived(&self) -> toml::Table {
        let mut d = toml::Table::new();
        match self.limit {
            Some(l) => {
                d.insert("stability_limit_dt".into(), l.into());
                d.insert("dt_over_limit".into(), (self.params.dt / l).into());
            }
            None => {
                d.insert(
                    "stability_limit_dt".into(),
                    "none (the spectral step is exact for any dt)".into(),
                );
            }
        }
        d.insert("scheme".into(), self.params.scheme.describe().into());
        if let (Some(info), Some(st)) = (&self.stencil, &self.params.stencil) {
            d.insert("stencil_file".into(), info.path.clone().into());
            let (form, op) = match st.form {
                StencilForm::Step => {
                    let mut k = st.taps.mapv(|v| v / self.params.dt);
                    k[st.anchor] -= 1.0 / self.params.dt;
                    ("step", k)
                }
                StencilForm::Operator => ("operator", st.taps.clone()),
            };
            d.insert("stencil_kind".into(), form.into());
            d.insert("stencil_taps".into(), format!("{:?}", st.taps.dim()).into());
            if let Some(a) = info.amplification {
                d.insert("stencil_max_amplification".into(), a.into());
            }
            // The diffusivities the operator L = (K - delta) / dt represents: its second
            // moments sum L (o h)^2 / 2 along each axis (D for D times a Laplacian).
            let g = &self.params.grid;
            let (mut dyy, mut dxx) = (0.0, 0.0);
            for ((a, b), &w) in op.indexed_iter() {
                let oy = (a as f64 - st.anchor[0] as f64) * g.dy;
                let ox = (b as f64 - st.anchor[1] as f64) * g.dx;
                dyy += 0.5 * w * oy * oy;
                dxx += 0.5 * w * ox * ox;
            }
            d.insert("stencil_dxx".into(), dxx.into());
            d.insert("stencil_dyy".into(), dyy.into());
        }
        d
    }

    fn build(&self, scenario: &Scenario) -> Result<Box<dyn Simulation>> {
        let u0 = scenario.initial_field("u").map_or_else(
            || ndarray::Array2::zeros(scenario.grid.shape()),
            |f| f.sample(&scenario.grid, 0.0),
        );
        let file = scenario.file.display().to_string();
        let allow = self.stencil.as_ref().is_some_and(|s| s.allow_unstable);
        let s = if allow {
            DiffusionSolver::new_allow_unstable(self.params.clone(), u0)
        } else {
            DiffusionSolver::new(self.params.clone(), u0)
        }
        .map_err(|e| ScenarioError::invalid(file, "diffusion", "(setup)", e.to_string()))?;
        Ok(Box::new(s))
    }

    fn build_tile(
        &self,
        scenario: &Scenario,
        shot: usize,
        dims: [usize; 2],
        coords: [usize; 2],
        links: &mut dyn FnMut(&Tile) -> TileLinks,
    ) -> Option<Result<Box<dyn Simulation>>> {
        debug_assert_eq!(shot, 0, "one shot");
        let g = &self.params.grid;
        let tile = Tile::of_grid(
            [g.ny, g.nx],
            dims,
            coords,
            convsim_diffusion::tile::halo_width(&self.params),
            convsim_diffusion::boundaries_of(&self.params.boundaries),
        );
        let links = links(&tile);
        let u0 = scenario.initial_field("u").map_or_else(
            || ndarray::Array2::zeros(scenario.grid.shape()),
            |f| f.sample(&scenario.grid, 0.0),
        );
        let file = scenario.file.display().to_string();
        let allow = self.stencil.as_ref().is_some_and(|s| s.allow_unstable);
        Some(
            DiffusionTile::new(&self.params, u0.view(), dims, coords, links, allow)
                .map(|t| Box::new(t) as Box<dyn Simulation>)
                .map_err(|e| match e {
                    DiffusionError::Core(c @ CoreError::TileTooSmall { .. }) => {
                        ScenarioError::invalid(
                            file,
                            "parallel.ranks",
                            format!("[{}, {}]", dims[0], dims[1]),
                            c.to_string(),
                        )
                    }
                    e => ScenarioError::invalid(file, "diffusion", "(setup)", e.to_string()),
                }),
        )
    }
}
