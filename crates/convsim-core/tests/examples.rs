//! Runs the logic of every example in `examples/` and asserts its claim, so a change that breaks
//! an example fails `cargo test` (the examples assert the same claims when run on their own).

// Each example file is included as a module; its `main` is unused here.
#[allow(
    dead_code,
    reason = "the example's `main` is unused when it is included as a module"
)]
#[path = "../examples/sliding_dot_product.rs"]
mod sliding_dot_product;

#[allow(
    dead_code,
    reason = "the example's `main` is unused when it is included as a module"
)]
#[path = "../examples/flip.rs"]
mod flip;

#[allow(
    dead_code,
    reason = "the example's `main` is unused when it is included as a module"
)]
#[path = "../examples/output_shape.rs"]
mod output_shape;

#[allow(
    dead_code,
    reason = "the example's `main` is unused when it is included as a module"
)]
#[path = "../examples/padding_artefacts.rs"]
mod padding_artefacts;

#[allow(
    dead_code,
    reason = "the example's `main` is unused when it is included as a module"
)]
#[path = "../examples/aliasing.rs"]
mod aliasing;

#[test]
fn sliding_dot_product_outputs_are_explicit_dot_products() {
    let (_, _, samples) = sliding_dot_product::compute();
    sliding_dot_product::check(&samples);
}

#[test]
fn flip_differs_for_asymmetric_kernels_only() {
    let r = flip::compute();
    flip::check(&r);
}

#[test]
fn output_shape_table_matches_both_formulas() {
    let rows = output_shape::compute();
    output_shape::check(&rows);
}

#[test]
fn zero_padding_creates_a_border_edge() {
    let rows = padding_artefacts::compute();
    padding_artefacts::check(&rows);
}

#[test]
fn blur_before_stride_removes_aliasing() {
    let rows = aliasing::compute();
    aliasing::check(&rows);
}
