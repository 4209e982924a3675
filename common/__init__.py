"""icm.common."""
