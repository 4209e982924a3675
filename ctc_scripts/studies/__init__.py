"""icm.ctc_scripts.studies: benchmarks and studies (anchor and entropy benchmarks, mfc evaluations, probes and
the refinement study); each module is a script run with ``python -m icm.ctc_scripts.studies.<name>``."""
