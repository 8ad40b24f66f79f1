//! Several independent shots of one survey: [`MultiShot`].
//!
//! A shot is one solve with its own sources and the survey's receivers; shots share the model,
//! the grid, the time step and the boundaries, and nothing else. [`MultiShot`] owns one
//! [`Seismic`] solver per shot and steps them together, in parallel over shots with rayon. Each
//! solver's own kernels are rayon-parallel too; rayon's work stealing shares the pool between
//! the two levels (with fewer shots than threads the rows of each shot fill the idle threads),
//! so no thread count needs to be chosen. Every solver's result is independent of the number
//! of threads, hence so is every gather.
//!
//! As a [`Simulation`], fields and diagnostics are those of the first shot (`shot0`); every
//! shot contributes one gather, `shot<k>`.
//!
//! ```
//! use convsim_seismic::{MultiShot, PointSource, Receivers, SeismicParams, Wavelet};
//! let mut p = SeismicParams::homogeneous(41, 41, 10.0, 2000.0);
//! p.space_order = 4;
//! p.dt = 1e-3;
//! p.duration = 0.05;
//! p.receivers = vec![Receivers::Points { coords: vec![[200.0, 200.0]] }];
//! let shots: Vec<Vec<PointSource>> = [100.0, 300.0]
//!     .iter()
//!     .map(|&x| vec![PointSource { y: 200.0, x, wavelet: Wavelet::ricker(20.0) }])
//!     .collect();
//! let mut m = MultiShot::<f32>::new(&p, &shots).unwrap();
//! for _ in 0..p.nt() { m.step(); }
//! // Mirror-image shots in a homogeneous medium: the two gathers agree (up to f32 rounding,
//! // as the stencil sums run in one direction).
//! let (a, b) = (m.shots()[0].receivers().1, m.shots()[1].receivers().1);
//! let peak = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
//! assert!(peak > 0.0 && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-4 * peak));
//! ```

use convsim_core::ParamPath;
use convsim_core::sim::Gather;
use convsim_core::{Grid, Quantity, RealElement, RestoreError, Simulation, StateArray};
use ndarray::ArrayViewMut2;
use rayon::prelude::*;

use crate::{PointSource, Result, Seismic, SeismicError, SeismicParams};

/// Separator between the shot prefix and the array name in [`Simulation::state`] (`shot1.p`).
const STATE_SEP: char = '.';

/// N independent shots stepped together. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct MultiShot<T> {
    shots: Vec<Seismic<T>>,
}

impl<T: RealElement> MultiShot<T> {
    /// Builds one solver per entry of `shots` from `params` with its sources replaced by that
    /// entry's (the receivers, model and everything else are shared).
    ///
    /// # Errors
    /// [`SeismicError::InvalidParameter`] named `shots` if `shots` is empty; any error of
    /// [`Seismic::new`], with source names prefixed by the shot (`shots[2].sources[0]`).
    pub fn new(params: &SeismicParams, shots: &[Vec<PointSource>]) -> Result<Self> {
        if shots.is_empty() {
            return Err(SeismicError::invalid(
                ParamPath::table("shots"),
                "[]",
                "give at least one shot (a list of sources)",
            ));
        }
        let solvers = shots
            .par_iter()
            .enumerate()
            .map(|(k, sources)| {
                let p = SeismicParams {
                    sources: sources.clone(),
                    ..params.clone()
                };
                Seismic::new(&p).map_err(|e| prefix_shot(e, k))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(MultiShot { shots: solvers })
    }

    /// Wraps solvers built elsewhere (e.g. with an initial state set).
    ///
    /// # Panics
    /// If `shots` is empty, or the solvers differ in grid, time step or recording length.
    #[must_use]
    pub fn from_solvers(shots: Vec<Seismic<T>>) -> Self {
        assert!(!shots.is_empty(), "MultiShot::from_solvers: no shots");
        let (g, dt, nt) = (shots[0].params().grid, shots[0].params().dt, shots[0].nt());
        for (k, s) in shots.iter().enumerate() {
            assert!(
                s.params().grid == g && s.params().dt == dt && s.nt() == nt,
                "MultiShot::from_solvers: shot {k} differs from shot 0 in grid, dt or nt"
            );
        }
        MultiShot { shots }
    }

    /// The solvers, one per shot.
    #[must_use]
    pub fn shots(&self) -> &[Seismic<T>] {
        &self.shots
    }

    /// The solvers, mutable (e.g. to set an initial state).
    pub fn shots_mut(&mut self) -> &mut [Seismic<T>] {
        &mut self.shots
    }

    /// Advances every shot one step, in parallel. Allocates nothing.
    pub fn step(&mut self) {
        self.shots.par_iter_mut().for_each(Seismic::step);
    }

    /// Advances every shot `steps` steps ([`Seismic::advance`]: bitwise `steps` calls of
    /// `step`).
    pub fn advance(&mut self, steps: usize) {
        self.shots.par_iter_mut().for_each(|s| s.advance(steps));
    }
}

/// Names a shot in an error about one of its sources.
fn prefix_shot(e: SeismicError, k: usize) -> SeismicError {
    match e {
        SeismicError::OutsideModel {
            what,
            list: list @ "sources",
            y,
            x,
            y0,
            y1,
            x0,
            x1,
        } => SeismicError::OutsideModel {
            what: format!("shots[{k}].{what}"),
            list,
            y,
            x,
            y0,
            y1,
            x0,
            x1,
        },
        SeismicError::InvalidParameter {
            param: ParamPath::Table(key),
            value,
            allowed,
        } if key.starts_with("sources") => SeismicError::InvalidParameter {
            param: ParamPath::table(format!("shots[{k}].{key}")),
            value,
            allowed,
        },
        e => e,
    }
}

impl<T: RealElement> Simulation for MultiShot<T> {
    fn kind(&self) -> &'static str {
        "seismic"
    }
    fn grid(&self) -> Grid {
        self.shots[0].grid()
    }
    fn dt(&self) -> f64 {
        self.shots[0].params().dt
    }
    fn time_units(&self) -> &'static str {
        "s"
    }
    fn step_count(&self) -> u64 {
        self.shots[0].step_count()
    }
    fn time(&self) -> f64 {
        Simulation::time(&self.shots[0])
    }
    fn step(&mut self) {
        MultiShot::step(self);
    }
    fn advance(&mut self, n: u64) {
        convsim_core::sim::in_usize_chunks(n, |k| MultiShot::advance(self, k));
    }
    fn fields(&self) -> Vec<Quantity> {
        self.shots[0].fields()
    }
    fn is_static(&self, name: &str) -> bool {
        self.shots[0].is_static(name)
    }
    fn write_field(&self, name: &str, out: ArrayViewMut2<'_, f64>) -> bool {
        self.shots[0].write_field(name, out)
    }
    fn gathers(&self) -> Vec<Gather<'_>> {
        if self.shots[0].receivers().0.nrows() == 0 {
            return Vec::new();
        }
        self.shots
            .iter()
            .enumerate()
            .map(|(k, s)| s.gather(&format!("shot{k}")))
            .collect()
    }
    fn diagnostics(&self) -> Vec<Quantity> {
        self.shots[0].diagnostics()
    }
    fn diagnostic_values(&self, out: &mut [f64]) {
        self.shots[0].diagnostic_values(out);
    }
    fn is_finite(&self) -> bool {
        self.shots.iter().all(Simulation::is_finite)
    }
    fn state(&self) -> Vec<StateArray> {
        self.shots
            .iter()
            .enumerate()
            .flat_map(|(k, s)| {
                s.state().into_iter().map(move |a| StateArray {
                    name: format!("shot{k}{STATE_SEP}{}", a.name),
                    data: a.data,
                })
            })
            .collect()
    }
    fn restore(
        &mut self,
        step: u64,
        time: f64,
        state: &[StateArray],
    ) -> std::result::Result<(), RestoreError> {
        for (k, s) in self.shots.iter_mut().enumerate() {
            let prefix = format!("shot{k}{STATE_SEP}");
            let mine: Vec<StateArray> = state
                .iter()
                .filter_map(|a| {
                    a.name.strip_prefix(&prefix).map(|n| StateArray {
                        name: n.into(),
                        data: a.data.clone(),
                    })
                })
                .collect();
            s.restore(step, time, &mine)
                .map_err(|e| RestoreError::Shot {
                    shot: k,
                    error: Box::new(e),
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Receivers, SideBoundary, Wavelet};

    /// A small survey: 61 x 81 cells of 10 m, order 4, CPML 10 cells, 150 steps, a receiver
    /// line at 20 m depth and three shots along it.
    fn survey() -> (SeismicParams, Vec<Vec<PointSource>>) {
        let mut p = SeismicParams::homogeneous(61, 81, 10.0, 2000.0);
        p.space_order = 4;
        p.dt = 1e-3;
        p.duration = 0.15;
        p.boundaries.top = SideBoundary::FreeSurface;
        p.boundaries.bottom = SideBoundary::cpml(10);
        p.boundaries.left = SideBoundary::cpml(10);
        p.boundaries.right = SideBoundary::cpml(10);
        p.receivers = vec![Receivers::Line {
            start: [20.0, 0.0],
            end: [20.0, 800.0],
            count: 41,
        }];
        let shots = [150.0, 400.0, 655.5]
            .iter()
            .map(|&x| {
                vec![PointSource {
                    y: 30.0,
                    x,
                    wavelet: Wavelet::ricker(15.0),
                }]
            })
            .collect();
        (p, shots)
    }

    fn run_multi(p: &SeismicParams, shots: &[Vec<PointSource>]) -> MultiShot<f32> {
        let mut m = MultiShot::<f32>::new(p, shots).unwrap();
        for _ in 0..p.nt() {
            m.step();
        }
        m
    }

    #[test]
    fn each_gather_equals_its_single_shot_run_bit_for_bit() {
        let (p, shots) = survey();
        let m = run_multi(&p, &shots);
        let gathers = m.gathers();
        assert_eq!(gathers.len(), 3);
        for (k, srcs) in shots.iter().enumerate() {
            let mut single = Seismic::<f32>::new(&SeismicParams {
                sources: srcs.clone(),
                ..p.clone()
            })
            .unwrap();
            for _ in 0..p.nt() {
                single.step();
            }
            let g = &gathers[k];
            assert_eq!(g.name, format!("shot{k}"));
            assert_eq!(g.sources, vec![[srcs[0].y, srcs[0].x]]);
            assert_eq!(g.recorded, p.nt() + 1);
            assert_eq!(g.traces, single.receivers().1, "shot {k}");
            assert!(
                g.traces.iter().any(|v| v.abs() > 1e-6),
                "shot {k} is silent"
            );
        }
        // Different shots, different gathers.
        assert_ne!(gathers[0].traces, gathers[1].traces);
    }

    #[test]
    fn gathers_do_not_depend_on_the_thread_count() {
        let (p, shots) = survey();
        let run_with = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let m = run_multi(&p, &shots);
                    m.shots()
                        .iter()
                        .map(|s| s.receivers().1.to_owned())
                        .collect::<Vec<_>>()
                })
        };
        let one = run_with(1);
        assert_eq!(one, run_with(2));
        assert_eq!(one, run_with(5));
    }

    #[test]
    fn state_and_restore_resume_bit_for_bit() {
        let (mut p, shots) = survey();
        p.duration = 0.06;
        let full = run_multi(&p, &shots);
        let mut a = MultiShot::<f32>::new(&p, &shots).unwrap();
        for _ in 0..25 {
            a.step();
        }
        let saved = Simulation::state(&a);
        assert!(saved.iter().any(|s| s.name == "shot2.p"));
        let mut b = MultiShot::<f32>::new(&p, &shots).unwrap();
        b.restore(25, 0.025, &saved).unwrap();
        while b.step_count() < p.nt() as u64 {
            b.step();
        }
        for (x, y) in full.gathers().iter().zip(b.gathers()) {
            assert_eq!(x.traces, y.traces);
        }
        let e = b.restore(25, 0.025, &saved[..2]).unwrap_err();
        assert!(
            matches!(&e, RestoreError::Shot { shot: 0, error }
                if matches!(**error, RestoreError::Missing { .. })),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("shot 0: seismic checkpoint has no state array"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_shot_and_gathers_count_recorded_samples() {
        let (p, mut shots) = survey();
        shots[1][0].x = 5000.0;
        let e = MultiShot::<f32>::new(&p, &shots).unwrap_err().to_string();
        assert!(
            e.starts_with("shots[1].sources[0] at (y, x) = (30, 5000)"),
            "{e}"
        );
        let e = MultiShot::<f32>::new(&p, &[]).unwrap_err().to_string();
        assert!(e.contains("shots"), "{e}");
        let (p, shots) = survey();
        let mut m = MultiShot::<f32>::new(&p, &shots).unwrap();
        assert_eq!(m.gathers()[2].recorded, 1);
        for _ in 0..7 {
            m.step();
        }
        assert_eq!(m.gathers()[2].recorded, 8);
    }
}
