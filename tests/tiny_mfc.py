"""Tiny ``mfc`` models trained by the tests: a few steps on a feature bank of Kodak pictures, exported as the
runtime weights files the tool loads."""
from pathlib import Path

from icm.ctc_scripts.training import skeleton
from icm.ctc_scripts.training.train_mfc import MfcRun, export

GROUPS = (2, 6)
QUIET = ["--log-every", "100", "--val-every", "100", "--save-every", "100", "--rate-warmup", "0"]


def train_tiny(run: Path, bank: Path, steps: int, *options: str, weights: Path | None = None) -> None:
    """Train run ``run`` for ``steps`` steps of batch 4 (latent 8 in groups ``GROUPS``, width 8, plus
    ``options``) and export it to ``weights`` when given."""
    assert skeleton.main(MfcRun, [
        "train", "--run", str(run), "--bank", str(bank), "--steps", str(steps), "--batch", "4", "--latent", "8",
        "--groups", *map(str, GROUPS), "--width", "8", *QUIET, *options]) == 0
    assert skeleton.load_checkpoint(run / "ckpt.pt")["step"] == steps
    if weights is not None:
        export(run, weights)
