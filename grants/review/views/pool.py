"""Review pages: pool."""
