// Filled in with the units.
