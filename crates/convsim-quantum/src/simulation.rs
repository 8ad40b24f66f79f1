//! The [`Simulation`] interface of the run driver.

use convsim_core::{Complex64, Grid, Quantity, RestoreError, Simulation, StateArray};
use ndarray::{Array3, ArrayViewMut2, IxDyn};

use crate::QuantumSolver;
use crate::observe::Observables;

/// Diagnostics in the order [`Simulation::diagnostic_values`] writes them, with their getters.
type Getter = fn(&Observables) -> f64;

fn diagnostic_table(s: &QuantumSolver) -> Vec<(Quantity, Getter)> {
    let e = "hbar^2 / (M L^2)";
    let mut d: Vec<(Quantity, Getter)> = vec![
        (Quantity::new("norm", "1", "sum |psi|^2 dA", false), |o| {
            o.norm
        }),
        (Quantity::new("energy", e, "total energy <H>", true), |o| {
            o.energy
        }),
        (Quantity::new("kinetic", e, "kinetic energy", false), |o| {
            o.kinetic
        }),
        (
            Quantity::new("potential", e, "potential energy", true),
            |o| o.potential,
        ),
        (
            Quantity::new(
                "interaction",
                e,
                "interaction energy (g/2) sum |psi|^4 dA",
                true,
            ),
            |o| o.interaction,
        ),
        (Quantity::new("x_mean", "L", "<x>", true), |o| o.x_mean),
        (Quantity::new("px_mean", "hbar / L", "<p_x>", true), |o| {
            o.px_mean
        }),
        (
            Quantity::new("x_width", "L", "sqrt(<x^2> - <x>^2)", false),
            |o| o.x_width,
        ),
    ];
    if s.params.g != 0.0 {
        // Gross-Pitaevskii: mu = dE/dN = T + V + g sum |psi|^4 dA = E + E_int (unit norm); in
        // imaginary time it converges to the eigenvalue of the stationary equation.
        d.push((
            Quantity::new(
                "chemical_potential",
                e,
                "chemical potential mu = energy + interaction",
                true,
            ),
            |o| o.energy + o.interaction,
        ));
    }
    if s.grid.ny > 1 {
        d.push((Quantity::new("y_mean", "L", "<y>", true), |o| o.y_mean));
        d.push((Quantity::new("py_mean", "hbar / L", "<p_y>", true), |o| {
            o.py_mean
        }));
        d.push((
            Quantity::new("y_width", "L", "sqrt(<y^2> - <y>^2)", false),
            |o| o.y_width,
        ));
    }
    if s.flux.is_some() {
        d.push((
            Quantity::new(
                "flux",
                "1 / (M L^2 / hbar)",
                "probability flux through the flux line",
                true,
            ),
            |o| o.flux,
        ));
        d.push((
            Quantity::new(
                "transmitted",
                "1",
                "net probability carried across the flux line",
                true,
            ),
            |o| o.transmitted,
        ));
        d.push((
            Quantity::new("reflected", "1", "1 - transmitted", true),
            |o| o.reflected,
        ));
    }
    d
}

impl Simulation for QuantumSolver {
    fn kind(&self) -> &'static str {
        "quantum"
    }

    fn grid(&self) -> Grid {
        self.grid
    }

    fn dt(&self) -> f64 {
        self.params.dt
    }

    fn time_units(&self) -> &'static str {
        "M L^2 / hbar"
    }

    fn length_units(&self) -> &'static str {
        "L"
    }

    fn step_count(&self) -> u64 {
        self.steps
    }

    fn time(&self) -> f64 {
        self.time
    }

    fn step(&mut self) {
        QuantumSolver::step(self);
    }

    fn advance(&mut self, n: u64) {
        if self.relax.is_some() {
            // Imaginary time: stop at the step where the tolerance is reached.
            for _ in 0..n {
                QuantumSolver::step(self);
                if QuantumSolver::converged(self) {
                    break;
                }
            }
        } else {
            QuantumSolver::advance(self, n);
        }
    }

    fn converged(&self) -> Option<bool> {
        self.relax.map(|r| r.change < r.tolerance)
    }

    fn is_static(&self, name: &str) -> bool {
        name == "potential" && self.drive.is_none()
    }

    fn fields(&self) -> Vec<Quantity> {
        vec![
            Quantity::new("density", "1 / L^d", "probability density |psi|^2", false),
            Quantity::new("phase", "rad", "arg psi", true),
            Quantity::new("re", "1 / L^(d/2)", "Re psi", true),
            Quantity::new("im", "1 / L^(d/2)", "Im psi", true),
            Quantity::new(
                "potential",
                "hbar^2 / (M L^2)",
                "potential V(t) (static plus drive)",
                true,
            ),
        ]
    }

    fn write_field(&self, name: &str, mut out: ArrayViewMut2<'_, f64>) -> bool {
        assert_eq!(
            out.dim(),
            self.psi.dim(),
            "write_field: shape (actual, expected)"
        );
        let map: fn(&Complex64) -> f64 = match name {
            "density" => Complex64::norm_sqr,
            "phase" => |z| z.arg(),
            "re" => |z| z.re,
            "im" => |z| z.im,
            "potential" => {
                out.assign(&self.v);
                if let Some((s, p)) = &self.drive {
                    let f = p.at(self.time);
                    out.zip_mut_with(s, |o, s| *o += f * s);
                }
                return true;
            }
            _ => return false,
        };
        out.zip_mut_with(&self.psi, |o, z| *o = map(z));
        true
    }

    fn diagnostics(&self) -> Vec<Quantity> {
        diagnostic_table(self).into_iter().map(|(q, _)| q).collect()
    }

    fn diagnostic_values(&self, out: &mut [f64]) {
        let o = self.observables();
        for (slot, (_, get)) in out.iter_mut().zip(diagnostic_table(self)) {
            *slot = get(&o);
        }
    }

    fn is_finite(&self) -> bool {
        self.psi.iter().all(|z| z.is_finite())
    }

    fn state(&self) -> Vec<StateArray> {
        let (ny, nx) = self.psi.dim();
        let psi = Array3::from_shape_fn((ny, nx, 2), |(i, j, c)| {
            let z = self.psi[[i, j]];
            if c == 0 { z.re } else { z.im }
        });
        let mut out = vec![StateArray {
            name: "psi".into(),
            data: psi.into_dyn(),
        }];
        if let Some(f) = &self.flux {
            out.push(StateArray {
                name: "flux".into(),
                data: ndarray::ArrayD::from_shape_vec(IxDyn(&[3]), vec![f.p0, f.absorbed, f.rate])
                    .expect("two values"),
            });
        }
        if let Some(r) = &self.relax {
            out.push(StateArray {
                name: "relax".into(),
                data: ndarray::ArrayD::from_shape_vec(IxDyn(&[2]), vec![r.energy, r.change])
                    .expect("two values"),
            });
        }
        out
    }

    fn restore(&mut self, step: u64, time: f64, state: &[StateArray]) -> Result<(), RestoreError> {
        let (ny, nx) = self.psi.dim();
        let solver = self.kind();
        let find =
            |name: &str, shape: &[usize]| StateArray::find_shaped(state, solver, name, shape);
        let psi = find("psi", &[ny, nx, 2])?;
        let flux = if self.flux.is_some() {
            Some(find("flux", &[3])?)
        } else {
            None
        };
        let relax = if self.relax.is_some() {
            Some(find("relax", &[2])?)
        } else {
            None
        };
        for ((i, j), z) in self.psi.indexed_iter_mut() {
            *z = Complex64::new(psi[[i, j, 0]], psi[[i, j, 1]]);
        }
        if let (Some(f), Some(a)) = (self.flux.as_mut(), flux) {
            f.p0 = a[[0]];
            f.absorbed = a[[1]];
            f.rate = a[[2]];
        }
        if let (Some(r), Some(a)) = (self.relax.as_mut(), relax) {
            r.energy = a[[0]];
            r.change = a[[1]];
        }
        self.steps = step;
        self.time = time;
        Ok(())
    }
}
