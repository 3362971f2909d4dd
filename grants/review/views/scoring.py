"""Review pages: scoring."""
