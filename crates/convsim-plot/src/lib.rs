//! PNG and GIF pictures of convsim fields and diagnostics (plotters, bundled font).
