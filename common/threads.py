"""The number of threads torch's CPU kernels use, set for the length of a block."""
from __future__ import annotations

import sys
from contextlib import contextmanager

# encoders run their float networks on one thread, so a stream does not depend on the machine's core count
ENCODER_THREADS = 1
# decoders run their exact integer networks on one thread: the output is the same on any thread count, and on a
# busy 2-core machine two threads made an mfc decode 30 to 80 times slower (0.3 s against 9 to 24 s wall time,
# 0.08 s against 3 to 8 s of processor time, the second thread spinning while it waits for a core)
DECODER_THREADS = 1


@contextmanager
def torch_threads(count: int):
    """Run the block with ``count`` intra-op threads, then restore the previous count (torch is imported
    here, not when this module is: the command lines start without it)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def torch_threads_if_loaded(count: int):
    """:func:`torch_threads` when torch is already imported (a tool that uses it), else nothing: decoders
    that do not use torch do not start it."""
    if "torch" not in sys.modules:
        yield
        return
    with torch_threads(count):
        yield
