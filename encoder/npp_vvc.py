"""npp-vvc's encoder: the neural preprocessor (NPP, ``icm.common.models.npp``) before the ``vvc-image`` path.

The picture goes through exactly the ``vvc-image`` encoder (``VvcImageEncoder``: optional resampling, RGB to
YCbCr 4:2:0 10 bit, the configured inner codec, VVenC or VTM); the only difference is its ``transform`` hook,
which runs the NPP at the coded size (after any resampling) with the stream's QP and returns the 8-bit picture
that is then coded. The parameter set names the NPP (``ps_model_id``, ``ps_model_hash``) for information only:
the decoder is the ``vvc-image`` decoder, which needs no weights, so any VVC decoder decodes the inner payload.
See ``docs/npp.md``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..anchors.vvc_image import VvcImageEncoder
from ..common.config import EncoderConfig


class NppVvcEncoder(VvcImageEncoder):
    name = "npp-vvc"

    def check_resources(self, config: EncoderConfig) -> None:
        """The resampling option is valid and the NPP weights file is there (ResourceError, exit status 7)."""
        super().check_resources(config)
        self.entry.models.find_file(*self.entry.model_choice(config))

    def transform(self, picture: np.ndarray, config: EncoderConfig) -> tuple[np.ndarray, dict]:
        import torch

        model = self.models.load(self.entry.models, *self.entry.model_choice(config), device=config.device)
        x = torch.from_numpy(np.ascontiguousarray(picture)).permute(2, 0, 1)[None].to(torch.float32) / 255
        with torch.no_grad():
            y = model.runtime(x.to(config.device), int(config.qp))
        out = (y[0].permute(1, 2, 0) * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        return np.ascontiguousarray(out), {"ps_model_id": model.model_id, "ps_model_hash": model.stream_hash}


def load_runtime(path: str | Path, device: str = "cpu"):
    """The zoo's loader of ``npp-vvc`` weights (``.npz``, see ``icm.common.models.npp``): the NPP on
    ``device``, in eval mode."""
    from ..common.models.npp import load_npz

    return load_npz(path).to(device)
