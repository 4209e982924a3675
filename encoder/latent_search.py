"""The pieces every encoder-side latent search shares: its optimiser settings, the update step, the costs it
reports, and float copies of the decoder's exact graphs to take gradients through.

A learned tool's encoder may refine the latent of each picture by gradient steps on the model's training
objective before it codes it (rate-distortion optimised quantisation, in a video encoder's terms): the
decoder-side networks run as float copies of their exact forms, rounding passes the gradient straight
through, and the iterate with the lowest objective is kept. The stream stays an ordinary stream of the tool.
Each tool's search (its objective, its default settings) lives with its encoder.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..common.layers.exact import ExactGraph, FloatGraph

OPTIMISERS = ("sgd", "adam")


@dataclass(frozen=True)
class RefineSettings:
    """A search's optimiser and step (each tool chooses its own on training pictures)."""

    optimiser: str
    learning_rate: float
    momentum: float = 0.9  # sgd only

    def __post_init__(self):
        if self.optimiser not in OPTIMISERS:
            raise ValueError(f"refinement optimiser '{self.optimiser}': use one of {', '.join(OPTIMISERS)}")

    def stepper(self) -> "GradientSteps":
        return GradientSteps(self)


class GradientSteps:
    """The update of one tensor by its gradient, as ``torch.optim.SGD`` (momentum, no dampening, no weight
    decay) or ``torch.optim.Adam`` (betas 0.9, 0.999, eps 1e-8) compute it, operation for operation. Written
    out because the first use of ``torch.optim`` imports ``torch._dynamo``: 1.5 to 7.6 s of every
    ``icm-enc`` call that refines, measured, for a three-line update."""

    def __init__(self, settings: RefineSettings):
        self.settings = settings
        self.steps = 0
        self.first: torch.Tensor | None = None  # momentum buffer (sgd), first moment (adam)
        self.second: torch.Tensor | None = None  # second moment (adam)

    @torch.no_grad()
    def step(self, tensor: torch.Tensor, grad: torch.Tensor) -> None:
        s = self.settings
        self.steps += 1
        if s.optimiser == "sgd":
            if self.first is None:
                self.first = grad.clone()
            else:
                self.first.mul_(s.momentum).add_(grad)
            tensor.add_(self.first, alpha=-s.learning_rate)
            return
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        if self.first is None:
            self.first, self.second = torch.zeros_like(tensor), torch.zeros_like(tensor)
        self.first.lerp_(grad, 1 - beta1)
        self.second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = s.learning_rate / (1 - beta1 ** self.steps)
        denominator = (self.second.sqrt() / (1 - beta2 ** self.steps) ** 0.5).add_(eps)
        tensor.addcdiv_(self.first, denominator, value=-step_size)


@dataclass(frozen=True)
class RefineCosts:
    """The objective J of one coded latent at the analysis output and at the kept latent (``tensor_id``: the
    tensor it codes, for tools that code several)."""

    start: float
    kept: float
    tensor_id: int = 0


def float_copy(exact: ExactGraph) -> FloatGraph:
    """A frozen float graph with the exact graph's weights (for gradients through decoder-side networks)."""
    return exact.to_float().requires_grad_(False).eval()


def search(objective, start: torch.Tensor, settings: RefineSettings,
           steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``steps`` gradient steps from ``start`` (N pictures) on ``objective(latent)``, which gives J per picture,
    differentiable in the latent; each picture keeps its own best iterate. Returns the kept latents and J per
    picture at the start and at the kept latent."""
    start = start.detach().float().clone()
    latent = start.clone().requires_grad_(True)
    stepper = settings.stepper()
    best, best_cost, first_cost = start.clone(), None, None
    for step in range(steps + 1):
        costs = objective(latent)
        values = costs.detach()
        if first_cost is None:
            first_cost, best_cost = values.clone(), values.clone()
        else:
            better = values < best_cost
            best_cost = torch.where(better, values, best_cost)
            best[better] = latent.detach()[better]
        if step == steps:
            break
        (grad,) = torch.autograd.grad(costs.sum(), latent)
        stepper.step(latent, grad)
    return best, first_cost, best_cost
