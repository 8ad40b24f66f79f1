//! Parameter sharing: a locally connected layer vs a convolution for 56x56x64 -> 128 channels
//! with 3x3 kernels (no bias), counted from the layer definitions.
//!
//! `cargo run -p convsim-cnn --example params_count`

use convsim_cnn::conv::LocallyConnected2dConfig;
use convsim_cnn::{Conv2d, Conv2dConfig, Layer};

fn main() {
    let cfg = Conv2dConfig::new(64, 128, 3).bias(false);
    let conv = Conv2d::<f32>::new(cfg, 0).expect("valid layer");
    let shared = conv.num_params();
    let local = LocallyConnected2dConfig {
        conv: cfg,
        input: [56, 56],
    }
    .param_count()
    .expect("valid layer");
    let ratio = local as f64 / shared as f64;
    println!("input 56x56x64 -> 128 channels, 3x3 kernels, Same output, no bias");
    println!("locally connected (one kernel per output position): {local:>12} weights");
    println!("convolution (one kernel shared by all positions):   {shared:>12} weights");
    println!("ratio: {ratio:.0} (= 56 * 56 output positions)");
    assert_eq!(local, 231_211_008);
    assert_eq!(shared, 73_728);
    assert!(ratio > 3000.0);
}
