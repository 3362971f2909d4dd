"""Forms of the review domain, one module per area."""
