"""lems room."""
