//! # convsim-cnn: convolutional layers with exact gradients on the convsim core
//!
//! Layers, losses, optimisers and training for learning stencils back from the data convsim's
//! solvers write. Every convolution runs on the core's plans, so every boundary mode of the core
//! (including `Periodic`, `Symmetric` and `Antisymmetric`) is available to a network layer, with
//! exact gradients (the backward pass of a correlation is the adjoint on the same plan).
//!
//! Conventions:
//!
//! - Data is `(n, c, h, w)`; weights are `(c_out, c_in / groups, kh, kw)`, as in PyTorch.
//! - A "convolution" layer computes a **correlation** (no kernel flip), as PyTorch's `Conv2d`.
//! - Parameter gradients accumulate across `backward` calls until `zero_grad`.
//! - All randomness (initialisation, shuffling) is seeded; results do not depend on the number
//!   of threads.

pub mod activation;
pub mod blur;
pub mod conv;
pub mod data;
pub mod equivariance;
pub mod error;
pub mod export;
pub mod fit;
mod layer;
mod linalg;
pub mod loss;
pub mod moment_conv;
pub mod moments;
pub mod optim;
pub mod p4;
pub mod scalar;
pub mod sequential;
pub mod train;

pub use activation::{Activation, ActivationKind};
pub use blur::BlurPool2d;
pub use conv::{Conv2d, Conv2dConfig};
pub use data::{PairSource, SnapshotPairs};
pub use error::{CnnError, Result};
pub use layer::{Layer, Shape4, grads_into, params_to_vec, set_params};
pub use loss::{Loss, LossEvaluator};
pub use moment_conv::MomentConv2d;
pub use optim::{Adam, Lbfgs, LbfgsReport, LrSchedule, Optimizer, Sgd};
pub use p4::{P4GroupConv, P4LiftConv, PoolMode, RotationPool};
pub use scalar::Float;
pub use sequential::Sequential;
pub use train::{EpochReport, OptimizerConfig, TrainConfig, TrainReport, train};
