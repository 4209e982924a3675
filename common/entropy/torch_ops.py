"""Small torch helpers shared by the entropy models (training-time only)."""
from __future__ import annotations

import torch


class _LowerBoundFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs, bound):
        ctx.save_for_backward(inputs, bound)
        return torch.max(inputs, bound)

    @staticmethod
    def backward(ctx, grad_output):
        inputs, bound = ctx.saved_tensors
        # Pass the gradient where the input is above the bound, or where it would push it up.
        pass_through = (inputs >= bound) | (grad_output < 0)
        return pass_through.type(grad_output.dtype) * grad_output, None


def lower_bound(inputs: torch.Tensor, bound: float) -> torch.Tensor:
    """``max(inputs, bound)`` whose gradient still flows when it would raise the input."""
    return _LowerBoundFunction.apply(inputs, torch.tensor(bound, dtype=inputs.dtype, device=inputs.device))


def add_uniform_noise(x: torch.Tensor) -> torch.Tensor:
    """Training proxy for rounding: ``x + U(-1/2, 1/2)``."""
    return x + torch.empty_like(x).uniform_(-0.5, 0.5)


def round_with_offset(x: torch.Tensor, offset) -> torch.Tensor:
    """``round(x - offset) + offset`` (round half to even, as ``torch.round``)."""
    return torch.round(x - offset) + offset


def to_int32_symbols(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` as int32; ``ValueError`` if a value does not fit int32 or is not finite."""
    rounded = torch.round(x.detach()).to(torch.float64)
    if rounded.numel() and (not torch.isfinite(rounded).all()
                            or rounded.min() < -(2**31) or rounded.max() > 2**31 - 1):
        raise ValueError("latent values must be finite and round into int32")
    return rounded.to(torch.int32)
