//! The memory each solver kind holds, computed from its parameters without building it.
//!
//! The counts follow the buffers each solver allocates (named in the items) and are checked
//! against the allocations measured while running every shipped scenario
//! (`tests/memory_estimate.rs`): the estimate must cover the measured peak and stay within a
//! small factor of it. All arithmetic is [`Bytes`] (saturating), so absurd sizes (a CPML
//! `width` of 10^18, `t_end = 1e9`) come out as huge figures that the limit refuses, never as an
//! overflow.

use convsim_diffusion::{DiffusionParams, Diffusivity, Scheme};
use convsim_quantum::{Method, QuantumParams};
use convsim_seismic::{Model, Receivers, SeismicParams};

use crate::limits::{Bytes, Item, SolverFootprint};

const GRID: &str = "grid.nx, grid.ny";

fn cells(ny: usize, nx: usize) -> u128 {
    (ny as u128).saturating_mul(nx as u128)
}

/// The diffusion solver: `u` and the next step, the operator's buffers (per scheme), the
/// diffusivity and source fields (held by the scenario and again by the solver's parameters).
#[must_use]
pub fn diffusion(p: &DiffusionParams) -> SolverFootprint {
    let c = cells(p.grid.ny, p.grid.nx);
    let f64s = |n: u128| Bytes::of(c, 8).times(n);
    let mut memory = vec![Item::new("state u and the next step", GRID, f64s(2))];
    let (what, n) = match (&p.scheme, &p.diffusivity) {
        // Real FFT plan: the spectrum of the state, the kernel's and the transform scratch.
        (Scheme::Spectral, _) => ("spectral step (FFT buffers)", 6),
        // Four difference plans, the face diffusivities, the fluxes and the divergence.
        (_, Diffusivity::Field { .. }) => ("flux-form step (faces, fluxes, plans)", 12),
        // The stencil plan's padded input.
        _ => ("stencil plan buffers", 2),
    };
    memory.push(Item::new(what, GRID, f64s(n)));
    let mut inputs = 0;
    if matches!(p.diffusivity, Diffusivity::Field { .. }) {
        inputs += 3;
    }
    if p.source.is_some() {
        inputs += 3;
    }
    memory.push(Item::new(
        "diffusivity and source fields",
        "diffusion.diffusivity, diffusion.source",
        f64s(inputs),
    ));
    SolverFootprint {
        memory,
        state: f64s(1),
        gathers: Bytes(0),
        diagnostics: 4,
    }
}

/// The seismic solver, per shot: two pressure levels on the grid padded by the absorbing
/// layers and the stencil halo, `(v dt)^2` where the velocity varies, the CPML memory
/// variables, the variable-density operator, the velocity (and density) models, the traces of
/// every receiver over the whole recording and the sampled source wavelets.
#[must_use]
pub fn seismic(p: &SeismicParams, shots: usize, f64_precision: bool) -> SolverFootprint {
    let g = p.grid;
    let r = (p.space_order / 2) as u128;
    let b = &p.boundaries;
    let (wt, wb, wl, wr) = (
        b.top.width() as u128,
        b.bottom.width() as u128,
        b.left.width() as u128,
        b.right.width() as u128,
    );
    let rows = (g.ny as u128)
        .saturating_add(wt)
        .saturating_add(wb)
        .saturating_add(2 * r);
    let cols = (g.nx as u128)
        .saturating_add(wl)
        .saturating_add(wr)
        .saturating_add(2 * r);
    let padded = rows.saturating_mul(cols);
    let t = if f64_precision { 8 } else { 4 };
    let c = cells(g.ny, g.nx);
    let is_array = |m: &Model| !matches!(m, Model::Constant { .. });
    let variable_density = p.density.as_ref().is_some_and(is_array);
    let cpml =
        |s: &convsim_seismic::SideBoundary| matches!(s, convsim_seismic::SideBoundary::Cpml { .. });
    let cpml_axes =
        u128::from(cpml(&b.top) || cpml(&b.bottom)) + u128::from(cpml(&b.left) || cpml(&b.right));
    // cur, prev; (v dt)^2 unless uniform; psi and zeta per CPML axis; the density operator's
    // coefficients (two f64 faces at setup), fluxes and its own memory variables.
    let mut padded_arrays = 2 + 1 + 2 * cpml_axes;
    if variable_density {
        padded_arrays += 3 + 4 + 2 * cpml_axes;
    }
    let shots = shots.max(1) as u128;
    let per_shot = Bytes::of(padded, t).times(padded_arrays);
    // The velocity as evaluated, kept by the solver, and held (array models) in the scenario
    // and the solver's copy of the parameters; the same for a density model.
    let mut models = 2 + if is_array(&p.velocity) { 2 } else { 0 };
    if p.density.is_some() {
        models += 1 + if variable_density { 2 } else { 0 };
    }
    let nt = p.nt() as u128 + 1;
    // Counted without listing the positions (a line of 2^63 receivers must not be built).
    let receivers: u128 = p
        .receivers
        .iter()
        .map(|r| match r {
            Receivers::Points { coords } => coords.len() as u128,
            Receivers::Line { count, .. } => *count as u128,
        })
        .fold(0, u128::saturating_add);
    let traces = Bytes::of(receivers, 8).times(nt);
    // Hicks interpolation weights: (2 x 4)^2 (index, weight) pairs per receiver and source.
    let spreads = Bytes::of(receivers.saturating_add(p.sources.len() as u128), 64 * 16);
    let wavelets = Bytes::of(p.sources.len().max(1) as u128, 8).times(nt);
    let memory = vec![
        Item::new(
            "wavefields on the padded grid",
            "grid.nx, grid.ny, seismic.cpml.width, seismic.sponge.width",
            per_shot.times(shots),
        ),
        Item::new(
            "velocity and density models",
            GRID,
            Bytes::of(c, 8).times(models),
        ),
        Item::new(
            "receiver traces",
            "seismic.receivers, time.t_end",
            traces.times(shots),
        ),
        Item::new(
            "source wavelets",
            "seismic.sources, time.t_end",
            wavelets.times(shots),
        ),
        Item::new(
            "receiver interpolation weights",
            "seismic.receivers",
            spreads.times(shots),
        ),
    ];
    SolverFootprint {
        memory,
        // p and p_prev (f64 in the checkpoint) per shot, plus the CPML/density memory.
        state: Bytes::of(padded, 8).times(2 + 2 * cpml_axes).times(shots),
        gathers: traces.times(shots),
        diagnostics: 3,
    }
}

/// The quantum solver: the complex wavefunction, the split-step kinetic plans (complex FFTs
/// with their kernel spectra and scratch) or the finite-difference RK4 stages, the potential
/// and its step factors, the absorbing layer and the drive shape.
#[must_use]
pub fn quantum(p: &QuantumParams) -> SolverFootprint {
    let c = cells(p.grid.ny, p.grid.nx);
    let c16 = |n: u128| Bytes::of(c, 16).times(n);
    let c8 = |n: u128| Bytes::of(c, 8).times(n);
    let (what, n) = match p.method {
        Method::Strang => ("split-step kinetic plan and factors", 12),
        Method::Yoshida4 => ("split-step kinetic plans and factors", 20),
        Method::FiniteDifference { .. } => ("RK4 stages and the stencil plan", 10),
    };
    let arrays = p
        .potential
        .iter()
        .filter(|t| matches!(t, convsim_quantum::PotentialTerm::Array { .. }))
        .count() as u128;
    let memory = vec![
        Item::new("wavefunction", GRID, c16(2)),
        Item::new(what, GRID, c16(n)),
        Item::new(
            "potential, absorber and drive",
            "quantum.potential",
            c8(4 + 2 * arrays),
        ),
    ];
    SolverFootprint {
        memory,
        state: c16(1),
        gathers: Bytes(0),
        diagnostics: 8,
    }
}
