"""Review pages: assign."""
