"""icm.cfg."""
