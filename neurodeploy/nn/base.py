"""Common machinery of the time-major neuron layers."""

from __future__ import annotations

import torch
from torch import nn


def as_parameter_tensor(value: float | torch.Tensor, shape: tuple[int, ...] | None) -> torch.Tensor:
    """A float32 tensor of a neuron parameter: a scalar, or broadcast to the neuron `shape`."""
    tensor = torch.as_tensor(value, dtype=torch.float32).clone()
    if shape is not None and tensor.dim() == 0:
        tensor = tensor.expand(shape).clone()
    return tensor


def register(module: nn.Module, name: str, value: torch.Tensor, learnable: bool) -> None:
    """Store a neuron parameter as an nn.Parameter when it is trained, else as a buffer."""
    if learnable:
        module.register_parameter(name, nn.Parameter(value))
    else:
        module.register_buffer(name, value)


class NeuronLayer(nn.Module):
    """A layer of neurons stepping through time-major input `(T, B, *neuron_shape)`.

    Every call starts from zero state, so a forward pass is a pure function of its input.
    Subclasses implement `run`, which also returns the recorded state sequences.
    """

    #: names of the per-step states `run` records, in order
    state_names: tuple[str, ...] = ()
    #: True when the output is graded (continuous), False when it counts spikes
    graded: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.run(x, record=False)
        return output

    def run(
        self, x: torch.Tensor, record: bool = True
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return the output `(T, B, *shape)` and, when `record`, each state as `(T, B, *shape)`."""
        raise NotImplementedError

    @staticmethod
    def _check_time_major(x: torch.Tensor, name: str) -> None:
        if x.dim() < 3:
            raise ValueError(
                f"{name} expects time-major input (T, B, *features), got shape {tuple(x.shape)}"
            )


def stack_records(records: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack per-step state lists into `(T, ...)` tensors."""
    return {name: torch.stack(values) for name, values in records.items()}
