//! Schema errors of training scenarios.
