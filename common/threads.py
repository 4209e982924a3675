"""The number of threads torch's CPU kernels use, set for the length of a block."""
from __future__ import annotations

from contextlib import contextmanager

# encoders run their float networks on one thread, so a stream does not depend on the machine's core count
ENCODER_THREADS = 1


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
