"""Forms of the projects domain, one module per area."""
