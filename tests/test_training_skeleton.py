"""The shared training skeleton: exact resume, init from another run, slim checkpoints, export."""
from pathlib import Path

import numpy as np
import torch
from torch import nn

from icm.ctc_scripts.training import skeleton
from icm.ctc_scripts.training.skeleton import TrainingRun


class TinyRun(TrainingRun):
    name = "tiny"

    @classmethod
    def add_arguments(cls, parser):
        parser.add_argument("--target", type=float, default=2.0)

    def build_model(self):
        return nn.Linear(4, 1)

    def training_loss(self, rng):
        x = torch.from_numpy(rng.standard_normal((self.args.batch, 4))).float()
        noise = torch.randn(self.args.batch, 1)  # the torch random state must resume too
        loss = ((self.model(x) - self.args.target * x.sum(1, keepdim=True) - 0.01 * noise) ** 2).mean()
        return loss, {"mse": float(loss.detach())}

    def validate(self):
        return {"weight_sum": round(float(self.model.weight.sum()), 6)}

    def export(self, output: Path):
        np.savez(output, weight=self.model.weight.detach().numpy())


def _train(run: Path, steps: int, *extra: str) -> None:
    args = ["train", "--run", str(run), "--steps", str(steps), "--save-every", "2", "--log-every", "1",
            "--val-every", "3", "--warmup-steps", "2", "--lr", "0.05", "--batch", "4", *extra]
    assert skeleton.main(TinyRun, args) == 0


def _weights(run: Path) -> torch.Tensor:
    return skeleton.load_checkpoint(run / skeleton.CHECKPOINT)["model"]["weight"]


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    _train(tmp_path / "whole", 10)
    _train(tmp_path / "split", 10, "--stop-at", "5")  # an interrupted run...
    assert not (tmp_path / "split" / skeleton.DONE).exists()
    assert skeleton.load_checkpoint(tmp_path / "split" / skeleton.CHECKPOINT)["step"] == 5
    _train(tmp_path / "split", 10)  # ...resumed by the same command
    assert torch.equal(_weights(tmp_path / "whole"), _weights(tmp_path / "split"))
    state = skeleton.load_checkpoint(tmp_path / "split" / skeleton.CHECKPOINT)
    assert state["step"] == 10 and "main" in state["optimisers"]
    assert (tmp_path / "split" / skeleton.DONE).exists()


def test_init_slim_and_export(tmp_path, capsys):
    _train(tmp_path / "a", 4)
    assert skeleton.main(TinyRun, ["slim", "--run", str(tmp_path / "a"), "-o", str(tmp_path / "slim.pt")]) == 0
    slim = skeleton.load_checkpoint(tmp_path / "slim.pt")
    assert "optimisers" not in slim and slim["step"] == 4
    (tmp_path / "b").mkdir()
    (tmp_path / "slim.pt").replace(tmp_path / "b" / skeleton.CHECKPOINT)
    _train(tmp_path / "b", 6)
    assert "fresh optimisers" in capsys.readouterr().out
    _train(tmp_path / "c", 2, "--init", str(tmp_path / "a"))
    assert "initialised from" in capsys.readouterr().out
    out = tmp_path / "w.npz"
    assert skeleton.main(TinyRun, ["export", "--run", str(tmp_path / "a"), "-o", str(out)]) == 0
    assert np.allclose(np.load(out)["weight"], _weights(tmp_path / "a").numpy())
