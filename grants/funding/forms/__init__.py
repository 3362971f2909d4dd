"""Forms of the funding domain, one module per area."""
