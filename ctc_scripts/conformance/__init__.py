"""icm.ctc_scripts.conformance: generation of the conformance streams in ``tests/data/conformance``."""
