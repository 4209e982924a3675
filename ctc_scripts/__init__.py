"""icm.ctc_scripts."""
