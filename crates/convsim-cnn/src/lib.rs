//! Convolutional layers with exact gradients on the convsim core; learns stencils from solver data.
