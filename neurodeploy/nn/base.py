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

    Every call of `forward`/`run` starts from zero state, so it is a pure function of its input.
    Subclasses implement `step` (one time step, the update equation of their docstring) and
    `initial_state`; `run` is the loop over steps, so a whole sequence and a step-by-step run
    (the engines' recurrent groups, streaming) compute exactly the same numbers.
    """

    #: names of the entries of the state tuple that `step` carries, in order
    state_names: tuple[str, ...] = ()
    #: True when the output is graded (continuous), False when it counts spikes
    graded: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.run(x, record=False)
        return output

    def initial_state(self, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The zero state for one step's input `like` `(B, *shape)`."""
        return tuple(torch.zeros_like(like) for _ in self.state_names)

    def step(self, inp: torch.Tensor, state: tuple[torch.Tensor, ...]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One time step: input `(B, *shape)` and state -> output and the new state."""
        raise NotImplementedError

    def run(
        self, x: torch.Tensor, record: bool = True
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return the output `(T, B, *shape)` and, when `record`, each state as `(T, B, *shape)`."""
        self._check_time_major(x, type(self).__name__)
        state = self.initial_state(x[0])
        outputs, records = [], []
        for inp in x:
            out, state = self.step(inp, state)
            outputs.append(out)
            if record:
                records.append(state)
        recorded = ({name: torch.stack([r[k] for r in records])
                     for k, name in enumerate(self.state_names)} if record else {})
        return torch.stack(outputs), recorded

    @staticmethod
    def _check_time_major(x: torch.Tensor, name: str) -> None:
        if x.dim() < 3:
            raise ValueError(
                f"{name} expects time-major input (T, B, *features), got shape {tuple(x.shape)}"
            )
