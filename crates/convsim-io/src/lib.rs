//! HDF5 run files of convsim: layout, dimension scales, snapshots, checkpoints, inputs.
