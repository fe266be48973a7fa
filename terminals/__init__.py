"""terminals room."""
