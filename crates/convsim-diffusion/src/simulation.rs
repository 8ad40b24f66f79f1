//! [`DiffusionSolver`] as a [`Simulation`] for the run driver: fields, diagnostics and
//! checkpoint state.

use convsim_core::{Grid, Quantity, RestoreError, Simulation, StateArray};
use ndarray::ArrayViewMut2;
use rayon::prelude::*;

use crate::DiffusionSolver;

/// The fields a diffusion solver writes.
pub(crate) fn field_quantities() -> Vec<Quantity> {
    vec![Quantity::new("u", "1", "diffused quantity u", false)]
}

/// The diagnostics a diffusion solver reports.
pub(crate) fn diagnostic_quantities() -> Vec<Quantity> {
    vec![
        Quantity::new("mass", "m2", "total mass sum(u) dx dy", false),
        Quantity::new("min", "1", "minimum of u", true),
        Quantity::new("max", "1", "maximum of u", true),
        Quantity::new("l2", "m", "L2 norm sqrt(sum(u^2) dx dy)", false),
    ]
}

/// Mass, min, max, L2 from the combined shares `[sum u, min, max, sum u^2]`.
pub(crate) fn diagnostics_from(g: &Grid, raw: &[f64], out: &mut [f64]) {
    let cell = g.dx * g.dy;
    for (o, v) in out
        .iter_mut()
        .zip([raw[0] * cell, raw[1], raw[2], (raw[3] * cell).sqrt()])
    {
        *o = v;
    }
}

impl Simulation for DiffusionSolver {
    fn kind(&self) -> &'static str {
        "diffusion"
    }

    fn grid(&self) -> Grid {
        self.params.grid
    }

    fn dt(&self) -> f64 {
        self.params.dt
    }

    fn time_units(&self) -> &'static str {
        "s"
    }

    fn step_count(&self) -> u64 {
        self.steps
    }

    fn time(&self) -> f64 {
        self.time
    }

    fn step(&mut self) {
        DiffusionSolver::step(self);
    }

    fn fields(&self) -> Vec<Quantity> {
        field_quantities()
    }

    fn write_field(&self, name: &str, mut out: ArrayViewMut2<'_, f64>) -> bool {
        if name != "u" {
            return false;
        }
        assert_eq!(
            out.dim(),
            self.u.dim(),
            "write_field: output shape (actual, expected)"
        );
        // Rows in parallel: a frame of a large grid is a memory-bound copy.
        out.axis_iter_mut(ndarray::Axis(0))
            .into_par_iter()
            .zip(self.u.axis_iter(ndarray::Axis(0)))
            .for_each(|(mut o, u)| o.assign(&u));
        true
    }

    fn diagnostics(&self) -> Vec<Quantity> {
        diagnostic_quantities()
    }

    fn diagnostic_partials(&self) -> Option<Vec<convsim_core::Partial>> {
        Some(crate::tile::partials(self.u.view()))
    }

    fn diagnostics_from(&self, reduced: &[f64], out: &mut [f64]) {
        diagnostics_from(&self.params.grid, reduced, out);
    }

    fn diagnostic_values(&self, out: &mut [f64]) {
        let d = self.measure();
        for (o, v) in out.iter_mut().zip([d.mass, d.min, d.max, d.l2]) {
            *o = v;
        }
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

    fn restore(&mut self, step: u64, time: f64, state: &[StateArray]) -> Result<(), RestoreError> {
        let (ny, nx) = self.u.dim();
        let a = StateArray::find_shaped(state, self.kind(), "u", &[ny, nx])?;
        // Same shape (checked above) and both in logical order: copy without allocating.
        for (d, s) in self.u.iter_mut().zip(a.iter()) {
            *d = *s;
        }
        self.steps = step;
        self.time = time;
        Ok(())
    }
}
