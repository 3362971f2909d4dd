"""Review pages: decisions."""
