//! Scenario TOML schema, validation and the run driver of convsim.
