//! [`Seismic`] as a [`Simulation`] for the run driver: fields, diagnostics, gathers and
//! checkpoint state.

use convsim_core::sim::Gather;
use convsim_core::{Element, Grid, Quantity, RealElement, RestoreError, Simulation, StateArray};
use ndarray::{Array2, ArrayD, ArrayViewMut2, IxDyn};

use crate::Seismic;

/// The fields a seismic solver writes (`density` with a density model).
pub(crate) fn field_quantities(density: bool) -> Vec<Quantity> {
    let mut v = vec![
        Quantity::new("pressure", "Pa", "acoustic pressure", true),
        Quantity::new("velocity", "m/s", "P-wave velocity model", false),
    ];
    if density {
        v.push(Quantity::new(
            "density",
            "kg/m^3",
            "mass density model",
            false,
        ));
    }
    v
}

/// The diagnostics of a seismic solver (the energy of the variable-density form or not).
pub(crate) fn diagnostic_quantities(variable_density: bool) -> Vec<Quantity> {
    vec![
        if variable_density {
            Quantity::new(
                "energy",
                "Pa^2 m^3/kg",
                "discrete wave energy (1/2) sum [p_t^2 / (rho v^2) + |grad p|^2 / rho] dA (a pressure norm, not joules; conserved without absorbing layers)",
                false,
            )
        } else {
            Quantity::new(
                "energy",
                "Pa^2",
                "discrete wave energy (1/2) sum [p_t^2 / v^2 + |grad p|^2] dA (a pressure norm, not joules; conserved without absorbing layers)",
                false,
            )
        },
        Quantity::new("max_abs_pressure", "Pa", "largest |p| on the grid", false),
    ]
}

/// Writes the model field `name` into `out`: `velocity`, or `density` from the
/// variable-density operator (`rho`) or the constant model; `false` for any other name and for
/// `density` without a density model. Shared by [`Seismic`] and its tiles.
pub(crate) fn write_model_field(
    name: &str,
    velocity: &Array2<f64>,
    rho: Option<&Array2<f64>>,
    density_const: Option<f64>,
    mut out: ArrayViewMut2<'_, f64>,
) -> bool {
    match (name, rho, density_const) {
        ("velocity", ..) => out.assign(velocity),
        ("density", Some(r), _) => out.assign(r),
        ("density", None, Some(v)) => out.fill(v),
        _ => return false,
    }
    true
}

/// A shot gather of the solver built from `params` (its sources, its dt).
pub(crate) fn gather_of<'a>(
    params: &crate::SeismicParams,
    name: &str,
    coords: ndarray::ArrayView2<'a, f64>,
    traces: ndarray::ArrayView2<'a, f64>,
    recorded: usize,
) -> Gather<'a> {
    Gather {
        name: name.into(),
        coords,
        traces,
        recorded,
        dt: params.dt,
        sources: params.sources.iter().map(|s| [s.y, s.x]).collect(),
        quantity: Quantity::new("pressure", "Pa", "acoustic pressure at the receivers", true),
    }
}

impl<T: RealElement> Simulation for Seismic<T> {
    fn kind(&self) -> &'static str {
        "seismic"
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
        self.step
    }
    fn time(&self) -> f64 {
        self.step as f64 * self.params.dt
    }
    fn step(&mut self) {
        Seismic::step(self);
    }
    fn advance(&mut self, n: u64) {
        convsim_core::sim::in_usize_chunks(n, |k| Seismic::advance(self, k));
    }
    fn fields(&self) -> Vec<Quantity> {
        field_quantities(self.density.is_some() || self.density_const.is_some())
    }
    fn is_static(&self, name: &str) -> bool {
        matches!(name, "velocity" | "density")
    }
    fn write_field(&self, name: &str, out: ArrayViewMut2<'_, f64>) -> bool {
        match name {
            "pressure" => {
                self.pressure_into(out);
                true
            }
            _ => write_model_field(
                name,
                &self.velocity,
                self.density.as_ref().map(|d| &d.rho),
                self.density_const,
                out,
            ),
        }
    }
    fn gathers(&self) -> Vec<Gather<'_>> {
        if self.rec_coords.nrows() == 0 {
            return Vec::new();
        }
        vec![self.gather("shot0")]
    }
    fn diagnostics(&self) -> Vec<Quantity> {
        diagnostic_quantities(self.density.is_some())
    }
    fn diagnostic_values(&self, out: &mut [f64]) {
        out[0] = self.energy();
        out[1] = self.max_abs();
    }
    fn is_finite(&self) -> bool {
        self.eng.cur.iter().all(|v| v.to_c64().re.is_finite())
    }
    fn state(&self) -> Vec<StateArray> {
        let mut v: Vec<StateArray> = self
            .state_arrays()
            .into_iter()
            .map(|(name, a, shape)| StateArray {
                name: name.into(),
                data: ArrayD::from_shape_vec(
                    IxDyn(&shape),
                    a.iter().map(|x| x.to_c64().re).collect(),
                )
                .expect("state shape"),
            })
            .collect();
        v.push(StateArray {
            name: "traces".into(),
            data: self.traces.clone().into_dyn(),
        });
        v
    }
    fn restore(
        &mut self,
        step: u64,
        _time: f64,
        state: &[StateArray],
    ) -> std::result::Result<(), RestoreError> {
        let solver = self.kind();
        let find = |name: &str, want: &[usize]| StateArray::find_shaped(state, solver, name, want);
        let mut loaded = Vec::new();
        for (name, _, shape) in self.state_arrays() {
            loaded.push(
                find(name, &shape)?
                    .iter()
                    .map(|&x| <T as Element>::from_f64(x))
                    .collect::<Vec<T>>(),
            );
        }
        let traces = find("traces", &[self.traces.nrows(), self.traces.ncols()])?.clone();
        for (dst, src) in self.state_arrays_mut().into_iter().zip(loaded) {
            dst.copy_from_slice(&src);
        }
        // Two axes (checked by `find`): the conversion cannot fail.
        self.traces = traces
            .into_dimensionality()
            .expect("traces of the checked shape");
        self.step = step;
        Ok(())
    }
}
