"""icm.decoder."""
