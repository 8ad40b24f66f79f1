//! The exact leapfrog stability limit and the points-per-wavelength rule.
//!
//! Leapfrog `p^{n+1} = 2 p^n - p^{n-1} + dt^2 v^2 L p^n` is stable iff
//! `dt^2 v^2 lambda <= 4` for every eigenvalue `-lambda` of `L`. For the central second
//! derivative of any even order the symbol `-(w_0 + 2 sum_k w_k cos k theta)` is largest at the
//! Nyquist wavenumber `theta = pi`, where it equals `sum_k |w_k|` (the weights alternate in
//! sign), so for the cross-shaped 2D Laplacian
//! `dt_max = 2 / (v_max sqrt(S / dy^2 + S / dx^2))` with `S = -(w_0 + 2 sum_k (-1)^k w_k)`.
//!
//! ```
//! use convsim_seismic::stability::dt_max;
//! // Second order, square cells: the classic CFL number v dt / h = 1 / sqrt(2).
//! let dt = dt_max(2, 10.0, 10.0, 2000.0).unwrap();
//! assert!((dt * 2000.0 / 10.0 - 0.5f64.sqrt()).abs() < 1e-12);
//! ```

use convsim_core::ParamPath;
use convsim_core::stencil::central_weights;

use crate::{Result, SeismicError};

/// `S`, the largest value of minus the symbol of the unit-spacing central second derivative of
/// accuracy `order` (at `theta = pi`).
///
/// # Errors
/// If `order` is not 2, 4, ..., 16.
pub fn second_derivative_symbol_max(order: usize) -> Result<f64> {
    check_order(order)?;
    let w = central_weights(2, order)
        .map_err(|e| SeismicError::invalid(ParamPath::table("order"), order, e.to_string()))?;
    let r = order / 2;
    let mut s = -w[r];
    for k in 1..=r {
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        s -= 2.0 * sign * w[r + k];
    }
    Ok(s)
}

/// The largest stable time step, s, for `order`, spacings `dy`, `dx` (m) and the largest
/// velocity `v_max` (m/s) of the model.
///
/// # Errors
/// A bad order, or a spacing or velocity that is not positive and finite.
pub fn dt_max(order: usize, dy: f64, dx: f64, v_max: f64) -> Result<f64> {
    for (name, v) in [
        (ParamPath::Grid("dy"), dy),
        (ParamPath::Grid("dx"), dx),
        (ParamPath::table("velocity"), v_max),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(SeismicError::invalid(
                name,
                v,
                "must be positive and finite",
            ));
        }
    }
    let s = second_derivative_symbol_max(order)?;
    Ok(2.0 / (v_max * (s / (dy * dy) + s / (dx * dx)).sqrt()))
}

/// Points per wavelength below which the order's numerical dispersion becomes visible over a
/// few tens of wavelengths (rule of thumb): 10 for order 2, 6 for 4, 5 for 6, 4 for 8, 3.5
/// above.
#[must_use]
pub fn ppw_threshold(order: usize) -> f64 {
    match order {
        0..=2 => 10.0,
        3..=4 => 6.0,
        5..=6 => 5.0,
        7..=8 => 4.0,
        _ => 3.5,
    }
}

pub(crate) fn check_order(order: usize) -> Result<()> {
    if convsim_core::stencil::LAPLACIAN_ORDERS.contains(&order) {
        Ok(())
    } else {
        Err(SeismicError::invalid(
            ParamPath::table("order"),
            order,
            "must be an even number from 2 to 16",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_max_is_at_nyquist() {
        // Scan the symbol densely: no wavenumber exceeds the Nyquist value, so the limit is
        // exact (not a bound that could be too small or too large).
        for order in convsim_core::stencil::LAPLACIAN_ORDERS {
            let w = central_weights(2, order).unwrap();
            let r = order / 2;
            let s = second_derivative_symbol_max(order).unwrap();
            for i in 0..=2000 {
                let th = std::f64::consts::PI * f64::from(i) / 2000.0;
                let mut sym = -w[r];
                for k in 1..=r {
                    sym -= 2.0 * w[r + k] * (k as f64 * th).cos();
                }
                assert!(
                    sym <= s * (1.0 + 1e-13),
                    "order {order} theta {th}: {sym} > {s}"
                );
            }
            let abs_sum: f64 = w.iter().map(|x| x.abs()).sum();
            assert!((abs_sum - s).abs() < 1e-12 * s);
        }
        assert!((second_derivative_symbol_max(2).unwrap() - 4.0).abs() < 1e-14);
        assert!((second_derivative_symbol_max(4).unwrap() - 16.0 / 3.0).abs() < 1e-13);
    }

    #[test]
    fn bad_order_is_named() {
        let e = dt_max(3, 1.0, 1.0, 1.0).unwrap_err().to_string();
        assert!(e.contains("order = 3") && e.contains("even"), "{e}");
    }
}
