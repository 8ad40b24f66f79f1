//! Time-dependent Schroedinger / Gross-Pitaevskii solver (split-step Fourier, FD) on the convsim core.
