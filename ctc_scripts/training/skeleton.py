"""The training skeleton every learned tool shares: the loop, the learning-rate schedule, checkpoints that
resume exactly, ``--device``/``--threads``/``--seed``, initialisation from another run, and export.

A tool's training script defines one :class:`TrainingRun` subclass and calls :func:`main`:

    class MyRun(TrainingRun):
        name = "my-tool"

        @classmethod
        def add_arguments(cls, parser): parser.add_argument("--lmbda", type=float, required=True)
        def build_model(self): return MyModel(...)
        def training_loss(self, rng): ...; return loss, {"bpp": ..., "mse": ...}
        def validate(self): return {"heldout_loss": ...}           # label-free, on held-out pictures
        def export(self, output): write the runtime weights file

    if __name__ == "__main__":
        raise SystemExit(main(MyRun))

Command line (every tool):

    python -m icm.ctc_scripts.training.train_X train --run RUN [tool options] [--steps N --lr ...]
    python -m icm.ctc_scripts.training.train_X export --run RUN -o weights.npz
    python -m icm.ctc_scripts.training.train_X slim --run RUN -o slim.pt

``train`` resumes from ``RUN/ckpt.pt`` when it exists (same command again); the checkpoint holds the model,
every optimiser, the step, the numpy and torch random states, the log, the arguments and the run's extra
state, and is written atomically every ``--save-every`` steps and at the end (then ``RUN/done`` marks a
finished run). ``--steps`` may be raised on a resume to train further (the
schedule follows the new length). ``--max-minutes`` and ``--stop-at`` save and stop early, for sessions with a
time limit: the same command continues exactly where the run stopped. ``--init OTHER_RUN`` starts a new run
from another run's model (fine-tuning; parameters missing there keep their initial values). ``slim`` writes a
checkpoint without optimiser state (a quarter of the size: what is worth committing to carry a run across
machines); a run resumed from it starts fresh optimisers and says so.

Learning rate: linear warm-up over ``--warmup-steps``, then cosine decay from ``--lr`` to
``--lr * --lr-min-ratio`` at ``--steps``. Gradients of the main optimiser are clipped to ``--clip``.
Parameters whose name ends in ``quantiles`` (factorized priors) go to an auxiliary optimiser trained on
:meth:`TrainingRun.aux_loss`.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch
from torch import nn

CHECKPOINT = "ckpt.pt"
DONE = "done"


class TrainingRun(ABC):
    """One training run of a learned tool. Subclasses build the model and the loss; the skeleton runs them."""

    name: str = "tool"

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.device = torch.device(args.device)
        self.run_dir = Path(args.run)
        self.step = 0
        self.log: list[dict] = []
        self.rng = np.random.default_rng(args.seed)
        self.model = self.build_model().to(self.device)
        self.optimisers = self.make_optimisers()

    # -- what a tool defines ---------------------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The tool's own training options."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """The float model to train (the skeleton moves it to the device)."""

    @abstractmethod
    def training_loss(self, rng: np.random.Generator) -> tuple[torch.Tensor, dict]:
        """One batch drawn with ``rng``: the loss to minimise and a dict of float figures to log."""

    def aux_loss(self) -> torch.Tensor | None:
        """The auxiliary optimiser's loss (e.g. factorized-prior quantiles), or None."""
        losses = [m.loss() for m in self.model.modules() if hasattr(m, "quantiles") and hasattr(m, "loss")]
        return sum(losses) if losses else None

    def after_step(self) -> None:
        """Called after every optimiser step (e.g. to update running importance estimates)."""

    def validate(self) -> dict:
        """Figures on held-out training pictures (label-free); logged every ``--val-every`` steps."""
        return {}

    def extra_state(self) -> dict:
        """Tensors or JSON-able values the run keeps across a resume besides model and optimisers."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what :meth:`extra_state` returned."""

    def export(self, output: Path) -> None:
        """Write the runtime weights file of the trained model."""
        raise NotImplementedError(f"{self.name}: no export defined")

    def make_optimisers(self) -> dict[str, torch.optim.Optimizer]:
        main, aux = [], []
        for name, parameter in self.model.named_parameters():
            if parameter.requires_grad:
                (aux if name.endswith("quantiles") else main).append(parameter)
        optimisers = {"main": torch.optim.Adam(main, lr=self.args.lr)}
        if aux:
            optimisers["aux"] = torch.optim.Adam(aux, lr=1e-3)
        return optimisers

    # -- the loop --------------------------------------------------------------------------------------

    def learning_rate(self) -> float:
        args = self.args
        warm = min(1.0, (self.step + 1) / max(1, args.warmup_steps))
        progress = min(1.0, self.step / max(1, args.steps))
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return args.lr * warm * (args.lr_min_ratio + (1 - args.lr_min_ratio) * cosine)

    def train(self) -> None:
        args = self.args
        start, start_step = time.perf_counter(), self.step
        stop = min(args.steps, args.stop_at or args.steps)
        while self.step < stop:
            if args.max_minutes and time.perf_counter() - start > 60 * args.max_minutes:
                print(f"stopping at step {self.step}: --max-minutes {args.max_minutes} reached", flush=True)
                break
            lr = self.learning_rate()
            main = self.optimisers["main"]
            for group in main.param_groups:
                group["lr"] = lr
            self.model.train()
            loss, info = self.training_loss(self.rng)
            main.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_([p for g in main.param_groups for p in g["params"]], args.clip)
            main.step()
            if "aux" in self.optimisers:
                aux = self.aux_loss()
                if aux is not None:
                    self.optimisers["aux"].zero_grad(set_to_none=True)
                    aux.backward()
                    self.optimisers["aux"].step()
            self.after_step()
            self.step += 1
            if self.step % args.log_every == 0 or self.step == args.steps:
                elapsed = time.perf_counter() - start
                rate = (self.step - start_step) / max(elapsed, 1e-9)
                info = dict(info, step=self.step, loss=float(loss.detach()), lr=lr, s=round(elapsed, 1),
                            eta_min=round((args.steps - self.step) / max(rate, 1e-9) / 60, 1))
                self.log.append(info)
                print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in info.items()}),
                      flush=True)
            if self.step % args.val_every == 0 or self.step == args.steps:
                self.model.eval()
                with torch.no_grad():
                    val = self.validate()
                if val:
                    val["step"] = self.step
                    self.log.append({"val": val})
                    print("val", json.dumps(val), flush=True)
            if self.step % args.save_every == 0 or self.step == args.steps:
                self.save()
        self.save()
        if self.step >= args.steps:
            (self.run_dir / DONE).write_text(f"{self.step}\n")

    # -- checkpoints -----------------------------------------------------------------------------------

    def checkpoint(self, with_optimisers: bool = True) -> dict:
        state = {"run_class": self.name, "model": self.model.state_dict(), "step": self.step,
                 "rng": json.dumps(self.rng.bit_generator.state), "torch_rng": torch.get_rng_state(),
                 "log": json.dumps(self.log), "args": json.dumps(vars(self.args)), "extra": self.extra_state()}
        if with_optimisers:
            state["optimisers"] = {name: opt.state_dict() for name, opt in self.optimisers.items()}
        return state

    def save(self, path: Path | None = None, with_optimisers: bool = True) -> None:
        path = path or self.run_dir / CHECKPOINT
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.checkpoint(with_optimisers), tmp)
        tmp.replace(path)

    def resume(self) -> bool:
        path = self.run_dir / CHECKPOINT
        if not path.exists():
            return False
        state = load_checkpoint(path, self.device)
        self.model.load_state_dict(state["model"])
        optimisers = state.get("optimisers")
        if optimisers:
            for name, opt in self.optimisers.items():
                if name in optimisers:
                    opt.load_state_dict(optimisers[name])
        self.step = int(state["step"])
        self.rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.log = json.loads(state["log"])
        self.load_extra_state(state.get("extra", {}))
        fresh = "" if optimisers else " (no optimiser state: fresh optimisers)"
        print(f"resumed {path} at step {self.step}{fresh}", flush=True)
        return True

    def init_from(self, source: Path) -> None:
        path = source / CHECKPOINT if source.is_dir() else source
        state = load_checkpoint(path, self.device)
        own = self.model.state_dict()
        fitting = {k: v for k, v in state["model"].items() if k in own and own[k].shape == v.shape}
        unfitting = sorted(set(state["model"]) - set(fitting))
        self.model.load_state_dict(fitting, strict=False)
        self.load_extra_state(state.get("extra", {}))
        new = sorted(set(own) - set(fitting))
        print(f"initialised from {path} (step {state['step']}): {len(fitting)} tensors"
              + (f"; new: {len(new)}, e.g. {new[0]}" if new else "")
              + (f"; not used: {len(unfitting)}, e.g. {unfitting[0]}" if unfitting else ""), flush=True)


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    """A checkpoint written by :meth:`TrainingRun.save` (tensors and plain containers only)."""
    return torch.load(path, map_location=device, weights_only=True)


def run_from_checkpoint(run_class: type[TrainingRun], run_dir: Path, device: str = "cpu") -> TrainingRun:
    """The run of ``run_dir`` rebuilt from its checkpoint's arguments, with its trained model."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise SystemExit(f"no checkpoint {path}")
    state = load_checkpoint(path, device)
    args = argparse.Namespace(**json.loads(state["args"]))
    args.device = device
    run = run_class(args)
    run.model.load_state_dict(state["model"])
    run.step = int(state["step"])
    run.log = json.loads(state["log"])
    run.load_extra_state(state.get("extra", {}))
    return run


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run folder (checkpoint, log)")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-min-ratio", type=float, default=0.05)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--clip", type=float, default=1.0, help="gradient-norm clip of the main optimiser (0: off)")
    parser.add_argument("--init", default=None, help="run folder or checkpoint to start from (fine-tuning)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--val-every", type=int, default=500)
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--max-minutes", type=float, default=0,
                        help="save and stop after this much wall time (0: no limit); the same command resumes")
    parser.add_argument("--stop-at", type=int, default=0,
                        help="save and stop at this step (0: at --steps); the same command resumes")


def build_parser(run_class: type[TrainingRun], description: str = "") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description or f"train the {run_class.name} models")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train, or resume, one run")
    add_common_arguments(train)
    run_class.add_arguments(train)
    export = sub.add_parser("export", help="write the runtime weights file of a run")
    export.add_argument("--run", required=True)
    export.add_argument("-o", "--output", required=True)
    slim = sub.add_parser("slim", help="write a run's checkpoint without optimiser state")
    slim.add_argument("--run", required=True)
    slim.add_argument("-o", "--output", required=True)
    return parser


def main(run_class: type[TrainingRun], argv=None, description: str = "") -> int:
    args = build_parser(run_class, description).parse_args(argv)
    if args.command == "export":
        run_from_checkpoint(run_class, Path(args.run)).export(Path(args.output))
        return 0
    if args.command == "slim":
        run = run_from_checkpoint(run_class, Path(args.run))
        run.save(Path(args.output), with_optimisers=False)
        print(f"wrote {args.output} (step {run.step}, no optimiser state)")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    run = run_class(args)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    if not run.resume() and args.init:
        run.init_from(Path(args.init))
    (run.run_dir / "args.json").write_text(json.dumps(vars(args), indent=1))
    run.train()
    return 0
