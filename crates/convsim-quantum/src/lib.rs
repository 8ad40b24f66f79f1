//! # convsim-quantum: time-dependent Schroedinger / Gross-Pitaevskii solver
//!
//! Solves, in natural units (`hbar = 1`, see [`params`] for the unit system),
//!
//! ```text
//! i psi_t = -(1/2m) Lap psi + V(x, y, t) psi - i W(x, y) psi + g |psi|^2 psi
//! ```
//!
//! on a uniform 2D grid (axis order `(y, x)`) or a 1D grid (`ny = 1`), where `V` is a sum of
//! potential terms plus an optional driving term `f(t) S(x, y)`, `W >= 0` an optional complex
//! absorbing potential near chosen edges, and `g` the Gross-Pitaevskii coefficient.
//!
//! Every spatial operator is a convolution of the core:
//!
//! - **Split-step Fourier** ([`Method::Strang`], [`Method::Yoshida4`]): the kinetic step is the
//!   core's [`convsim_core::SpectralPlan`] with the transfer function `exp(-i k^2 dt / 2m)`
//!   evaluated once; the potential steps are elementwise phase factors. Periodic domain.
//! - **Finite differences** ([`Method::FiniteDifference`]): the core's Laplacian stencils on
//!   `Complex64` in a [`convsim_core::ConvPlan`] with any padding (`antisymmetric` = hard
//!   walls), integrated with RK4 under a stability limit computed from the stencil's symbol and
//!   the potential's range, enforced with [`QuantumError::UnstableDt`].
//!
//! Imaginary-time evolution ([`Evolution::Imaginary`]) relaxes to the ground state.
//! [`QuantumSolver`] implements [`convsim_core::Simulation`] for the run driver.
//!
//! ```
//! use convsim_core::Grid;
//! use convsim_quantum::{Evolution, Method, PotentialTerm, QuantumParams, QuantumSolver, Wavepacket};
//! // Ground state of the 1D harmonic oscillator, E0 = 1/2.
//! let grid = Grid { ny: 1, nx: 128, dy: 1.0, dx: 0.125, y0: 0.0, x0: -8.0 };
//! let params = QuantumParams {
//!     grid, dt: 0.002, mass: 1.0, g: 0.0, method: Method::Strang,
//!     evolution: Evolution::Imaginary { tolerance: 1e-10 },
//!     potential: vec![PotentialTerm::Harmonic { omega: 1.0, omega_y: None, center_x: 0.0, center_y: 0.0 }],
//!     drive: None, absorber: None, flux_line: None,
//! };
//! let guess = Wavepacket { center_x: 0.5, center_y: 0.0, sigma_x: 1.5, sigma_y: None, k_x: 0.0, k_y: 0.0 };
//! let mut s = QuantumSolver::new(params, guess.sample(&grid).unwrap()).unwrap();
//! let r = s.relax(50_000).unwrap();
//! assert!(r.converged && (r.energy - 0.5).abs() < 1e-6);
//! ```

pub mod error;
mod finite_diff;
pub mod observe;
pub mod params;
pub mod potential;
mod simulation;
mod solver;
mod split_step;
mod stability;
pub mod state;
pub mod tile;

pub use error::{QuantumError, Result};
pub use observe::Observables;
pub use params::{
    Absorber, Drive, Edge, Evolution, FluxLine, Method, PotentialTerm, QuantumParams, TimeProfile,
    Wavepacket,
};
pub use solver::{QuantumSolver, RelaxReport};
