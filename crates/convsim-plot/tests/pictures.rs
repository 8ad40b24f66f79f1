//! Pictures are written, decode with the expected size, and show the documented colours where
//! the data says they should be.

use std::path::Path;

use convsim_plot::{
    Aspect, Axes, ColorRange, Colormap, GatherStyle, HeatmapStyle, LineStyle, NAN_RGB, PlotError,
    YDirection, complex_png, gather_png, gif, heatmap_png, line_plot_png,
};
use image::{AnimationDecoder, RgbImage};
use ndarray::Array2;

const W: u32 = 640;
const H: u32 = 480;

fn style(cmap: Colormap) -> HeatmapStyle {
    HeatmapStyle {
        title: "test field".into(),
        colormap: cmap,
        colorbar_label: "u [K]".into(),
        width: W,
        height: H,
        aspect: Aspect::Free,
        ..Default::default()
    }
}

fn decode(path: &Path) -> RgbImage {
    image::open(path).unwrap().to_rgb8()
}

/// Pixels of the main plot (left of the colour bar, which takes the right 160 pixels).
fn main_pixels(img: &RgbImage) -> impl Iterator<Item = (u32, u32, [u8; 3])> + '_ {
    img.enumerate_pixels()
        .filter(|(x, _, _)| *x < img.width() - 160)
        .map(|(x, y, p)| (x, y, p.0))
}

/// Count and centroid `(x, y)` of the main-plot pixels of exactly colour `c`.
fn locate(img: &RgbImage, c: [u8; 3]) -> (usize, f64, f64) {
    let (mut n, mut sx, mut sy) = (0, 0.0, 0.0);
    for (x, y, p) in main_pixels(img) {
        if p == c {
            n += 1;
            sx += f64::from(x);
            sy += f64::from(y);
        }
    }
    (n, sx / n.max(1) as f64, sy / n.max(1) as f64)
}

#[test]
fn heatmap_size_colours_and_orientation() {
    let dir = tempfile::tempdir().unwrap();
    // Left half (x < 0) is 0, right half 1; in y: upper half of rows (largest y) is 2.
    let (ny, nx) = (20, 30);
    let f = Array2::from_shape_fn((ny, nx), |(i, j)| {
        if i >= ny / 2 {
            2.0
        } else if j < nx / 2 {
            0.0
        } else {
            1.0
        }
    });
    let axes = Axes {
        x: (0..nx).map(|j| j as f64 - 15.0).collect(),
        y: (0..ny).map(|i| i as f64 * 10.0).collect(),
        x_label: "x [m]".into(),
        y_label: "depth [m]".into(),
        y_direction: YDirection::Up,
    };
    let up = dir.path().join("up.png");
    let range = heatmap_png(&up, f.view(), &axes, &style(Colormap::Viridis)).unwrap();
    assert_eq!(range, (0.0, 2.0));
    let img = decode(&up);
    assert_eq!(img.dimensions(), (W, H));
    let lo = locate(&img, Colormap::Viridis.rgb(0.0));
    let mid = locate(&img, Colormap::Viridis.rgb(0.5));
    let hi = locate(&img, Colormap::Viridis.rgb(1.0));
    // Each region covers a quarter, a quarter and half of the plot area (+-2% for the
    // nearest-cell rounding of pixel rows and columns).
    assert!(
        lo.0 > 1000 && (lo.0 as f64 / mid.0 as f64 - 1.0).abs() < 0.02,
        "{lo:?} {mid:?}"
    );
    assert!(
        (hi.0 as f64 / (lo.0 + mid.0) as f64 - 1.0).abs() < 0.02,
        "{hi:?} {lo:?} {mid:?}"
    );
    assert!(lo.1 < mid.1, "x grows to the right");
    assert!(hi.2 < lo.2, "y up: the largest y (value 2) is at the top");
    // Text (title, tick labels) is drawn with the bundled font: dark pixels in the title band.
    let dark_title = img
        .enumerate_pixels()
        .filter(|(_, y, p)| *y < 40 && p.0.iter().all(|&c| c < 100))
        .count();
    assert!(dark_title > 50, "title drawn ({dark_title} dark pixels)");

    let down = dir.path().join("down.png");
    heatmap_png(
        &down,
        f.view(),
        &axes.clone().with_y_direction(YDirection::Down),
        &style(Colormap::Viridis),
    )
    .unwrap();
    let img = decode(&down);
    let (lo, hi) = (
        locate(&img, Colormap::Viridis.rgb(0.0)),
        locate(&img, Colormap::Viridis.rgb(1.0)),
    );
    assert!(hi.2 > lo.2, "y down: the largest y is at the bottom");
}

#[test]
fn diverging_is_symmetric_about_zero() {
    let dir = tempfile::tempdir().unwrap();
    let f = Array2::from_shape_fn((10, 30), |(_, j)| [-2.0, 0.0, 1.0][j / 10]);
    let path = dir.path().join("d.png");
    let range = heatmap_png(
        &path,
        f.view(),
        &Axes::indices(10, 30),
        &style(Colormap::Diverging),
    )
    .unwrap();
    assert_eq!(range, (-2.0, 2.0));
    let img = decode(&path);
    // -2 -> t = 0 (dark blue), 0 -> t = 0.5 (near white), 1 -> t = 0.75.
    for (c, name) in [
        ([0x05, 0x30, 0x61], "min"),
        ([0xf7, 0xf7, 0xf7], "zero"),
        ([0xd6, 0x60, 0x4d], "half max"),
    ] {
        assert!(locate(&img, c).0 > 1000, "{name} colour {c:?} drawn");
    }
}

#[test]
fn constant_field_and_nan_cells() {
    let dir = tempfile::tempdir().unwrap();
    let c = Array2::from_elem((8, 8), 3.0);
    let path = dir.path().join("c.png");
    let range = heatmap_png(
        &path,
        c.view(),
        &Axes::indices(8, 8),
        &style(Colormap::Viridis),
    )
    .unwrap();
    assert_eq!(range, (2.97, 3.03), "c -+ |c|/100");
    assert!(
        locate(&decode(&path), [0x21, 0x91, 0x8c]).0 > 10_000,
        "constant field in the middle colour"
    );
    let z = Array2::<f64>::zeros((8, 8));
    assert_eq!(
        heatmap_png(
            &path,
            z.view(),
            &Axes::indices(8, 8),
            &style(Colormap::Grey)
        )
        .unwrap(),
        (-1.0, 1.0)
    );

    let mut f = Array2::from_shape_fn((16, 16), |(i, j)| (i * 16 + j) as f64);
    f.slice_mut(ndarray::s![4..8, 4..8]).fill(f64::NAN);
    f[[0, 0]] = f64::INFINITY;
    let path = dir.path().join("nan.png");
    let range = heatmap_png(
        &path,
        f.view(),
        &Axes::indices(16, 16),
        &style(Colormap::Grey),
    )
    .unwrap();
    assert_eq!(range, (1.0, 255.0), "range from finite values only");
    let (n, _, _) = locate(&decode(&path), NAN_RGB);
    // 17 of 256 cells are non-finite: about 6.6% of the plot area is magenta.
    let total = main_pixels(&decode(&path))
        .filter(|p| p.2 != [255, 255, 255])
        .count();
    let frac = n as f64 / total as f64;
    assert!(frac > 0.05 && frac < 0.08, "NaN fraction {frac}");
    let none = Array2::from_elem((4, 4), f64::NAN);
    assert_eq!(
        heatmap_png(
            &path,
            none.view(),
            &Axes::indices(4, 4),
            &style(Colormap::Viridis)
        )
        .unwrap(),
        (0.0, 1.0)
    );
}

#[test]
fn invalid_inputs_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = Array2::<f64>::zeros((4, 5));
    let p = dir.path().join("x.png");
    let e = heatmap_png(
        &p,
        f.view(),
        &Axes::indices(5, 4),
        &style(Colormap::Viridis),
    )
    .unwrap_err();
    assert!(
        matches!(e, PlotError::Invalid { .. }) && e.to_string().contains("(4, 5)"),
        "{e}"
    );
    let bad = HeatmapStyle {
        range: ColorRange::Fixed(1.0, 1.0),
        ..style(Colormap::Viridis)
    };
    let e = heatmap_png(&p, f.view(), &Axes::indices(4, 5), &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("colour range 1..1"), "{e}");
    let e = heatmap_png(
        dir.path().join("no/such/dir.png"),
        f.view(),
        &Axes::indices(4, 5),
        &style(Colormap::Viridis),
    )
    .unwrap_err();
    assert!(matches!(e, PlotError::Draw { .. }), "{e}");
    let e = line_plot_png(
        &p,
        &LineStyle::default(),
        &[("m", &[1.0, 2.0][..], &[1.0][..])],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("series 'm'"), "{e}");
    let e = line_plot_png(
        &p,
        &LineStyle::default(),
        &[("m", &[1.0][..], &[f64::NAN][..])],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no finite point"), "{e}");
}

#[test]
fn gif_uses_one_colour_range_for_all_frames() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<Array2<f64>> = (0..5)
        .map(|k| Array2::from_elem((12, 12), f64::from(k)))
        .collect();
    let path = dir.path().join("a.gif");
    let small = HeatmapStyle {
        width: 320,
        height: 240,
        ..style(Colormap::Viridis)
    };
    let (n, range) = gif(
        &path,
        frames.iter().map(|f| f.view()),
        &Axes::indices(12, 12),
        &small,
        100,
    )
    .unwrap();
    assert_eq!((n, range), (5, (0.0, 4.0)));
    let dec = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&path).unwrap(),
    ))
    .unwrap();
    let decoded: Vec<_> = dec.into_frames().collect_frames().unwrap();
    assert_eq!(decoded.len(), 5);
    for (k, fr) in decoded.iter().enumerate() {
        let buf = fr.buffer();
        assert_eq!(buf.dimensions(), (320, 240));
        // The centre of the plot shows the frame's value on the common range; GIF quantises
        // colours to a 256-entry palette, so compare within 12 levels per channel.
        let p = buf.get_pixel(120, 130).0;
        let want = Colormap::Viridis.rgb(k as f64 / 4.0);
        let d = (0..3)
            .map(|c| (i32::from(p[c]) - i32::from(want[c])).abs())
            .max()
            .unwrap();
        assert!(d <= 12, "frame {k}: pixel {p:?}, expected about {want:?}");
    }
    let e = gif(
        &path,
        std::iter::empty(),
        &Axes::indices(12, 12),
        &small,
        100,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no frames"), "{e}");
}

#[test]
fn line_plot_with_log_axis_and_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let t: Vec<f64> = (0..50).map(f64::from).collect();
    let decay: Vec<f64> = t.iter().map(|t| (-t / 5.0).exp()).collect();
    let mut gappy: Vec<f64> = t.iter().map(|t| 0.5 * (-t / 10.0).exp()).collect();
    gappy[10] = f64::NAN;
    gappy[20] = 0.0; // not drawable on a log axis: a gap
    let path = dir.path().join("l.png");
    let ls = LineStyle {
        title: "energy".into(),
        x_label: "t [s]".into(),
        y_label: "E [J]".into(),
        log_y: true,
        width: 500,
        height: 300,
    };
    line_plot_png(&path, &ls, &[("decay", &t, &decay), ("gappy", &t, &gappy)]).unwrap();
    let img = decode(&path);
    assert_eq!(img.dimensions(), (500, 300));
    // Both series' colours (tab10 blue and orange) are drawn.
    for c in [[31, 119, 180], [255, 127, 14]] {
        assert!(
            img.pixels().filter(|p| p.0 == c).count() > 100,
            "series colour {c:?}"
        );
    }
}

#[test]
fn gather_clips_at_percentile_with_time_down() {
    let dir = tempfile::tempdir().unwrap();
    // |v| takes the 1000 values k/1000: the 98th percentile (nearest rank 980) is 0.979.
    // Early samples are negative, late ones positive.
    let (r, nt) = (10, 100);
    let traces = Array2::from_shape_fn((r, nt), |(i, k)| {
        let v = (i * nt + k) as f64 / 1000.0;
        if k < nt / 2 { -v } else { v }
    });
    let xs: Vec<f64> = (0..r).map(|i| 100.0 + 10.0 * i as f64).collect();
    let path = dir.path().join("g.png");
    let gs = GatherStyle {
        width: 500,
        height: 500,
        ..Default::default()
    };
    let clip = gather_png(&path, traces.view(), &xs, 0.004, &gs).unwrap();
    assert_eq!(clip, 0.979);
    let img = decode(&path);
    assert_eq!(img.dimensions(), (500, 500));
    // Grey map: negative (early) samples dark, positive (late) light; time grows downward.
    let (mut dark_y, mut light_y, mut nd, mut nl) = (0.0, 0.0, 0, 0);
    for (_, y, p) in main_pixels(&img).filter(|(x, y, _)| *x > 100 && *y > 50 && *y < 440) {
        if p[0] < 60 && p == [p[0]; 3] {
            dark_y += f64::from(y);
            nd += 1;
        } else if p[0] > 195 && p[0] < 255 && p == [p[0]; 3] {
            light_y += f64::from(y);
            nl += 1;
        }
    }
    assert!(
        nd > 100 && nl > 100 && dark_y / f64::from(nd) < light_y / f64::from(nl),
        "early (dark) above late (light)"
    );
    let e = gather_png(&path, traces.view(), &xs, 0.0, &gs)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dt = 0"), "{e}");
}

#[test]
fn complex_field_phase_as_hue() {
    let dir = tempfile::tempdir().unwrap();
    // z = 1 everywhere in the left half (phase 0: red), z = i in the right half (phase pi/2:
    // hue 1/4 = yellow-green (128, 255, 0)), z = 0 in a corner cell (black).
    let (re, im) = (
        Array2::from_shape_fn((10, 10), |(i, j)| {
            if i == 0 && j == 0 {
                0.0
            } else if j < 5 {
                1.0
            } else {
                0.0
            }
        }),
        Array2::from_shape_fn((10, 10), |(_, j)| if j < 5 { 0.0 } else { 1.0 }),
    );
    let path = dir.path().join("z.png");
    complex_png(
        &path,
        re.view(),
        im.view(),
        &Axes::indices(10, 10),
        &style(Colormap::Viridis),
    )
    .unwrap();
    let img = decode(&path);
    let red = locate(&img, [255, 0, 0]);
    let green = locate(&img, [128, 255, 0]);
    let black = locate(&img, [0, 0, 0]);
    assert!(
        red.0 > 5000 && green.0 > 5000 && red.1 < green.1,
        "{red:?} {green:?}"
    );
    assert!(black.0 > 200, "zero amplitude is black");
}

#[test]
fn colormaps_map_min_mid_max_to_documented_colours() {
    assert_eq!(Colormap::Viridis.rgb(0.5), [0x21, 0x91, 0x8c]);
    assert_eq!(Colormap::Diverging.rgb(0.0), [0x05, 0x30, 0x61]);
    assert_eq!(Colormap::Diverging.rgb(1.0), [0x67, 0x00, 0x1f]);
    assert_eq!(Colormap::Grey.rgb(0.0), [0, 0, 0]);
    assert_eq!(Colormap::Grey.rgb(0.5), [128, 128, 128]);
    assert_eq!(
        Colormap::Viridis.map(5.0, 0.0, 10.0),
        Colormap::Viridis.rgb(0.5)
    );
    assert_eq!(
        Colormap::Diverging.map(f64::NEG_INFINITY, 0.0, 1.0),
        NAN_RGB
    );
    // Viridis brightens monotonically (perceptual ordering): luma increases along the map.
    let luma =
        |c: [u8; 3]| 0.299 * f64::from(c[0]) + 0.587 * f64::from(c[1]) + 0.114 * f64::from(c[2]);
    let l: Vec<f64> = (0..=100)
        .map(|k| luma(Colormap::Viridis.rgb(f64::from(k) / 100.0)))
        .collect();
    assert!(l.windows(2).all(|w| w[1] >= w[0] - 0.5), "{l:?}");
    for cmap in [Colormap::Viridis, Colormap::Diverging, Colormap::Grey] {
        assert!(
            (0..=1000).all(|k| cmap.rgb(f64::from(k) / 1000.0) != NAN_RGB),
            "{cmap:?} never shows the NaN colour"
        );
    }
}

/// Rows (y) where colour `c` appears.
fn rows_of(img: &RgbImage, c: [u8; 3]) -> Vec<u32> {
    let mut v: Vec<u32> = img
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0 == c)
        .map(|(_, y, _)| y)
        .collect();
    v.dedup();
    v
}

#[test]
fn legends_sit_below_the_plot_and_single_curves_have_none() {
    let dir = tempfile::tempdir().unwrap();
    let t: Vec<f64> = (0..100).map(f64::from).collect();
    // Curves through the whole height, where an in-plot legend box would cover them.
    let a: Vec<f64> = t.iter().map(|v| v / 99.0).collect();
    let b: Vec<f64> = t.iter().map(|v| 1.0 - v / 99.0).collect();
    let ls = LineStyle {
        title: "two".into(),
        width: 500,
        height: 350,
        ..LineStyle::default()
    };
    let two = dir.path().join("two.png");
    line_plot_png(&two, &ls, &[("rising", &t, &a), ("falling", &t, &b)]).unwrap();
    let img = decode(&two);
    let (blue, orange) = ([31, 119, 180], [255, 127, 14]);
    // The x axis: the lowest row that is dark across a third of the width.
    let x_axis = |img: &RgbImage| {
        (0..img.height())
            .rev()
            .find(|&y| {
                (0..img.width())
                    .filter(|&x| img.get_pixel(x, y).0[0] < 90)
                    .count()
                    > 150
            })
            .unwrap()
    };
    let axis_y = x_axis(&img);
    // Each colour appears below the x axis (its legend swatch) and the swatches are the only
    // coloured pixels there: the legend is outside the plotting area.
    for c in [blue, orange] {
        assert!(
            rows_of(&img, c).iter().any(|&y| y > axis_y + 30),
            "{c:?} swatch below"
        );
    }
    let one = dir.path().join("one.png");
    line_plot_png(&one, &ls, &[("rising", &t, &a)]).unwrap();
    let img = decode(&one);
    let axis_y = x_axis(&img);
    assert!(
        rows_of(&img, blue).iter().all(|&y| y <= axis_y + 2),
        "no legend for one curve"
    );
}

#[test]
fn a_colour_bar_over_a_tiny_range_is_drawn_in_bounded_time() {
    // 1 + 1e-13 * ramp: the bar spans 1e-13 around 1; and a field spanning -1e308..1e308.
    let dir = tempfile::tempdir().unwrap();
    let f = Array2::from_shape_fn((20, 30), |(_, j)| 1.0 + 1e-13 * j as f64);
    heatmap_png(
        dir.path().join("t.png"),
        f.view(),
        &Axes::indices(20, 30),
        &style(Colormap::Viridis),
    )
    .unwrap();
    let g = Array2::from_shape_fn((20, 30), |(_, j)| if j < 15 { -1e308 } else { 1e308 });
    let r = heatmap_png(
        dir.path().join("h.png"),
        g.view(),
        &Axes::indices(20, 30),
        &style(Colormap::Diverging),
    )
    .unwrap();
    assert_eq!(r, (-1e308, 1e308));
    let img = decode(&dir.path().join("h.png"));
    let lo = locate(&img, Colormap::Diverging.rgb(0.0)).0;
    let hi = locate(&img, Colormap::Diverging.rgb(1.0)).0;
    assert!(
        lo > 1000 && hi > 1000,
        "both ends of the map drawn: {lo} {hi}"
    );
}
