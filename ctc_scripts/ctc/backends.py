"""The names of the CTC's execution backends (a module of its own, so that ``icm-ctc --help`` lists them without
importing the runner and numpy)."""

BACKENDS = ("local", "dask")  # a process pool on this machine; a Dask cluster (ctc/distributed.py)
