//! Writes one picture of each kind into a directory, to look at them:
//! `cargo run -p convsim-plot --example gallery -- /tmp/gallery`.

use convsim_core::Grid;
use convsim_plot::{
    Axes, Colormap, GatherStyle, HeatmapStyle, LineStyle, YDirection, complex_png, gather_png,
    gif_titled, heatmap_png, line_plot_png,
};
use ndarray::Array2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "gallery".into()));
    std::fs::create_dir_all(&dir)?;
    let grid = Grid {
        ny: 64,
        nx: 96,
        dy: 0.02,
        dx: 0.02,
        y0: -0.64,
        x0: -0.96,
    };
    let axes = Axes::from_grid(&grid, "m");
    let gauss = |s: f64| {
        Array2::from_shape_fn((grid.ny, grid.nx), |(i, j)| {
            let (y, x) = (grid.y0 + i as f64 * grid.dy, grid.x0 + j as f64 * grid.dx);
            (-(x * x + (y - 0.2) * (y - 0.2)) / (2.0 * s * s)).exp() / s
        })
    };
    let mut u = gauss(0.15);
    u[[5, 5]] = f64::NAN;
    let style = HeatmapStyle {
        title: "temperature at t = 0.5 s".into(),
        colorbar_label: "u [K]".into(),
        ..Default::default()
    };
    heatmap_png(dir.join("viridis.png"), u.view(), &axes, &style)?;
    let w = Array2::from_shape_fn((grid.ny, grid.nx), |(i, j)| {
        ((i as f64) * 0.2).sin() * ((j as f64) * 0.1).cos() * 3e-4
    });
    let ds = HeatmapStyle {
        title: "pressure (depth down)".into(),
        colormap: Colormap::Diverging,
        colorbar_label: "p [Pa]".into(),
        ..Default::default()
    };
    heatmap_png(
        dir.join("diverging.png"),
        w.view(),
        &axes.clone().with_y_direction(YDirection::Down),
        &ds,
    )?;
    let frames: Vec<(String, Array2<f64>)> = (1..6)
        .map(|k| {
            (
                format!("u at t = {:.1} s", f64::from(k) * 0.1),
                gauss(0.05 * f64::from(k)),
            )
        })
        .collect();
    gif_titled(
        dir.join("spread.gif"),
        frames.iter().map(|(t, f)| (t.clone(), f.view())),
        &axes,
        &style,
        300,
    )?;
    let t: Vec<f64> = (0..100).map(|k| f64::from(k) * 0.01).collect();
    let e: Vec<f64> = t.iter().map(|t| (-3.0 * t).exp()).collect();
    let m: Vec<f64> = t.iter().map(|t| 0.5 + 0.1 * (10.0 * t).sin()).collect();
    let ls = LineStyle {
        title: "diagnostics".into(),
        x_label: "t [s]".into(),
        y_label: "value".into(),
        log_y: true,
        ..Default::default()
    };
    line_plot_png(
        dir.join("lines.png"),
        &ls,
        &[("energy [J]", &t, &e), ("mass [kg]", &t, &m)],
    )?;
    let traces = Array2::from_shape_fn((48, 400), |(r, k)| {
        let t0 = 80.0 + 2.0 * (r as f64 - 24.0).abs();
        let a = (k as f64 - t0) / 6.0;
        (1.0 - 2.0 * a * a) * (-a * a).exp()
    });
    let xs: Vec<f64> = (0..48).map(|r| 20.0 * f64::from(r)).collect();
    gather_png(
        dir.join("gather.png"),
        traces.view(),
        &xs,
        0.002,
        &GatherStyle {
            colorbar_label: "p [Pa]".into(),
            ..Default::default()
        },
    )?;
    let re = Array2::from_shape_fn((grid.ny, grid.nx), |(i, j)| {
        gauss(0.3)[[i, j]] * (j as f64 * 0.3).cos()
    });
    let im = Array2::from_shape_fn((grid.ny, grid.nx), |(i, j)| {
        gauss(0.3)[[i, j]] * (j as f64 * 0.3).sin()
    });
    complex_png(
        dir.join("complex.png"),
        re.view(),
        im.view(),
        &axes,
        &HeatmapStyle {
            title: "wavefunction".into(),
            ..Default::default()
        },
    )?;
    Ok(())
}
