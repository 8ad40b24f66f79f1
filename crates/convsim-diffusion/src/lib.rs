//! Diffusion / heat equation solver on the convsim convolution core.
