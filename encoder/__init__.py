"""icm.encoder."""
