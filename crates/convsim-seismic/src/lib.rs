//! 2D acoustic wave solver (space orders 2-16, CPML, off-grid sources) on the convsim core.
