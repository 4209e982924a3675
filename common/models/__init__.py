"""Learned models of the coding tools and their committed weights (``weights/``).

``mfc``: the multi-scale feature codec (networks, export to the exact runtime form, runtime);
``zoo``: the weights files of every learned tool by tool, model family and quality (model ids, file names,
hashes, the loader a tool names for its format, a cache of loaded models); see ``docs/models.md``.
"""
