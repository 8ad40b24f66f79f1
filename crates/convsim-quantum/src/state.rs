//! Initial states and norms.

use convsim_core::ParamPath;
use convsim_core::{Complex64, Grid};
use ndarray::Array2;

use crate::error::{Result, finite, positive};
use crate::params::Wavepacket;

/// Area (2D) or length (1D) of one grid cell: `dx dy`, or `dx` when `ny = 1`.
#[must_use]
pub fn cell_measure(grid: &Grid) -> f64 {
    if grid.ny == 1 {
        grid.dx
    } else {
        grid.dx * grid.dy
    }
}

/// `sum |psi|^2 dA`.
#[must_use]
pub fn norm(psi: &Array2<Complex64>, grid: &Grid) -> f64 {
    psi.iter().map(Complex64::norm_sqr).sum::<f64>() * cell_measure(grid)
}

impl Wavepacket {
    /// Samples the packet on `grid`, normalised to 1 (in 1D the `y` factor is dropped).
    ///
    /// # Errors
    /// A non-positive width or a non-finite centre or momentum.
    ///
    /// ```
    /// use convsim_core::Grid;
    /// use convsim_quantum::{Wavepacket, state::norm};
    /// let grid = Grid { ny: 1, nx: 256, dy: 1.0, dx: 0.1, y0: 0.0, x0: -12.8 };
    /// let p = Wavepacket { center_x: 0.0, center_y: 0.0, sigma_x: 1.0, sigma_y: None,
    ///                      k_x: 2.0, k_y: 0.0 };
    /// let psi = p.sample(&grid).unwrap();
    /// assert!((norm(&psi, &grid) - 1.0).abs() < 1e-14);
    /// ```
    pub fn sample(&self, grid: &Grid) -> Result<Array2<Complex64>> {
        let cx = finite(ParamPath::table("packet.center_x"), self.center_x)?;
        let cy = finite(ParamPath::table("packet.center_y"), self.center_y)?;
        let sx = positive(ParamPath::table("packet.sigma_x"), self.sigma_x)?;
        let sy = positive(
            ParamPath::table("packet.sigma_y"),
            self.sigma_y.unwrap_or(sx),
        )?;
        let kx = finite(ParamPath::table("packet.k_x"), self.k_x)?;
        let ky = finite(ParamPath::table("packet.k_y"), self.k_y)?;
        let one_d = grid.ny == 1;
        let xs = grid.xs();
        let ys = grid.ys();
        let mut psi = Array2::from_shape_fn(grid.shape(), |(i, j)| {
            let x = xs[j] - cx;
            let (y, yy) = if one_d {
                (0.0, 0.0)
            } else {
                (ys[i] - cy, ys[i])
            };
            let amp = (-x * x / (4.0 * sx * sx) - y * y / (4.0 * sy * sy)).exp();
            let ky = if one_d { 0.0 } else { ky };
            Complex64::from_polar(amp, kx * xs[j] + ky * yy)
        });
        let n = norm(&psi, grid);
        if n > 0.0 && n.is_finite() {
            psi.mapv_inplace(|v| v / n.sqrt());
        }
        Ok(psi)
    }
}
