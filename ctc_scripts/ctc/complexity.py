"""Multiply-accumulates of the neural networks a point runs, per pixel of the original picture.

``count_macs(function)`` runs ``function`` under torch's ``FlopCounterMode`` and returns its result and
its multiply-accumulates (the counter's FLOPs / 2; it counts convolutions, transposed convolutions and
matrix products at the aten level, so networks written with modules or with functional calls, the task
network and a learned codec's analysis/synthesis/hyper networks alike, are all counted). Everything else
(VVC, entropy coding, resampling, non-linearities, NMS) is not a MAC and is not counted.

The CTC reports, for each point, kMAC/pixel of the encoder (``encode_picture``: for split tools this
includes NN part 1; the encoder's own decoding of the stream for the decoded-output hash is included too),
of the decoder (``decode_bytes``) and of the task network on the decoded output (whole network for a
picture, NN part 2 for features). They are measured once per point, on the first image of the set.
"""
from __future__ import annotations


def count_macs(function, *args, **kwargs):
    """``(function(*args, **kwargs), multiply-accumulates)``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        result = function(*args, **kwargs)
    return result, int(counter.get_total_flops()) // 2


def kmac_per_pixel(macs: int, width: int, height: int) -> float:
    return macs / 1000.0 / (width * height)
