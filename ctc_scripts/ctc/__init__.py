"""icm.ctc_scripts.ctc: the common test conditions harness behind ``icm-ctc`` (configuration, dataset, runner,
records, report, metrics, BD, statistics, task fidelity, progress, complexity)."""
