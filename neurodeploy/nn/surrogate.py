"""Heaviside steps whose backward pass uses a surrogate derivative.

Forward values are exactly the step, so a trained layer and the reference simulator agree bit for bit;
only gradients differ from the true (zero almost everywhere) derivative.
"""

import torch


class _FastSigmoidStep(torch.autograd.Function):
    """H(x) = 1 where x > 0 (strict); backward uses d/dx ~ 1 / (1 + slope*|x|)^2 (SuperSpike)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_output / (1.0 + ctx.slope * x.abs()) ** 2, None


class _FastSigmoidStepAtZero(torch.autograd.Function):
    """H0(x) = 1 where x >= 0 (non-strict); same surrogate as the strict step."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_output / (1.0 + ctx.slope * x.abs()) ** 2, None


def step(x: torch.Tensor, slope: float = 5.0) -> torch.Tensor:
    """Strict Heaviside step H(x) (1 where x > 0) with a fast-sigmoid surrogate gradient."""
    return _FastSigmoidStep.apply(x, slope)


def step_at_zero(x: torch.Tensor, slope: float = 5.0) -> torch.Tensor:
    """Non-strict step (1 where x >= 0), sinabs's firing rule, with a fast-sigmoid surrogate."""
    return _FastSigmoidStepAtZero.apply(x, slope)
