//! Bad input gives one clear typed error each, naming the parameter, the value and what is
//! allowed.

use convsim_cnn::train::{OptimizerConfig, TrainConfig, train};
use convsim_cnn::{
    Adam, CnnError, Conv2d, Conv2dConfig, Layer, LrSchedule, Sequential, Sgd, SnapshotPairs,
};
use ndarray::Array4;

#[test]
fn kernel_larger_than_the_grid() {
    let mut conv = Conv2d::<f64>::new(Conv2dConfig::new(1, 1, 7), 0).unwrap();
    let x = Array4::<f64>::zeros((1, 1, 5, 9));
    let e = conv.forward(x.view()).unwrap_err();
    assert!(matches!(e, CnnError::KernelLargerThanGrid { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("[7, 7]") && msg.contains("[5, 9]"), "{msg}");
    // Dilation counts: 3 taps dilated by 3 span 7 samples.
    let mut dil = Conv2d::<f64>::new(Conv2dConfig::new(1, 1, 3).dilation(3), 0).unwrap();
    assert!(matches!(
        dil.forward(x.view()),
        Err(CnnError::KernelLargerThanGrid { .. })
    ));
}

#[test]
fn incompatible_channel_counts() {
    let mut net = Sequential::<f32>::new(vec![
        Box::new(Conv2d::new(Conv2dConfig::new(1, 4, 3), 0).unwrap()),
        Box::new(Conv2d::new(Conv2dConfig::new(3, 1, 3), 1).unwrap()),
    ])
    .unwrap();
    let e = net
        .forward(Array4::<f32>::zeros((1, 1, 8, 8)).view())
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, CnnError::Channels { .. })
            && msg.contains("4 channels")
            && msg.contains("expects 3"),
        "{msg}"
    );
    let e = Conv2d::<f32>::new(Conv2dConfig::new(3, 4, 3).groups(2), 0).unwrap_err();
    assert!(e.to_string().contains("groups = 2"), "{e}");
    let t = SnapshotPairs::new(
        Array4::<f64>::zeros((2, 1, 4, 4)),
        Array4::<f64>::zeros((3, 1, 4, 4)),
    );
    assert!(matches!(
        t,
        Err(CnnError::Shape {
            what: "targets",
            ..
        })
    ));
}

#[test]
fn learning_rate_not_positive() {
    for lr in [0.0, -0.1, f64::NAN] {
        let e = Adam::<f64>::new(lr).unwrap_err().to_string();
        assert!(e.contains("learning_rate") && e.contains("positive"), "{e}");
        assert!(Sgd::<f64>::new(lr, 0.0).is_err());
    }
    let data = SnapshotPairs::new(
        Array4::<f64>::ones((4, 1, 4, 4)),
        Array4::<f64>::ones((4, 1, 4, 4)),
    )
    .unwrap();
    let mut model = Conv2d::<f64>::new(Conv2dConfig::new(1, 1, 3), 0).unwrap();
    let cfg = TrainConfig {
        optimizer: OptimizerConfig::Adam {
            learning_rate: -1e-3,
            schedule: LrSchedule::Constant,
        },
        ..TrainConfig::default()
    };
    let e = train(&mut model, &data, &cfg, |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("learning_rate") && e.contains("-0.001"), "{e}");
}
