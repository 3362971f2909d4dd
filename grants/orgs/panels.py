"""Dashboard panels of the organisations domain."""
