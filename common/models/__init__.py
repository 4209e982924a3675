"""Learned models of the coding tools and their committed weights (``weights/``).

``mfc``: the multi-scale feature codec (networks, export to the exact runtime form, runtime);
``zoo``: the shipped weights files by model id, with the hash check a decoder applies.
"""
