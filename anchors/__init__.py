"""icm.anchors."""
