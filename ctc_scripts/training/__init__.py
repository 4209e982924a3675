"""icm.ctc_scripts.training: the training of the learned coding tools, over one shared skeleton
(``skeleton.py``: resume, checkpoints, learning-rate schedule, ``--device``, export) and one source of
augmented training pictures (``pictures.py``)."""
