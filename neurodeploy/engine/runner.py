"""Streaming: a stateful runner of a Program that carries every neuron's state across calls.

    runner = Runner(program)
    y_t = runner.step(x_t)          # one step, x_t (B, *input_shape) -> (B, n_out)
    result = runner(x_chunk)        # several steps, (T, B, *input_shape) -> SimulationResult

Feeding a sequence in chunks of any sizes gives, step for step, the outputs of one
`simulate_program` call on the whole sequence (bit for bit): each call starts from the states
and delayed values the previous call ended with (`golden.Carry`). A Program that lags its input
(`latency` > 0) is not padded here: its output for input step t arrives with call t + latency.
"""

from __future__ import annotations

import numpy as np

from neurodeploy.engine.golden import Carry, execute
from neurodeploy.engine.plan import plan
from neurodeploy.engine.result import SimulationResult
from neurodeploy.errors import ShapeError, UnsupportedModelError
from neurodeploy.program.graph import Program


class Runner:
    """Online golden model of `program` (see the module docstring); `reset()` starts over."""

    def __init__(self, program: Program, event_driven: bool | None = None) -> None:
        if program.input.window:
            raise UnsupportedModelError("a windowed program sees one frame per sequence; it "
                                        "cannot run one step at a time")
        plan(program)  # checks the program once
        self.program, self.event_driven = program, event_driven
        self.carry = Carry()
        self.batch: int | None = None

    def reset(self) -> None:
        """Forget every state: the next call starts a new sequence."""
        self.carry, self.batch = Carry(), None

    def __call__(self, x: np.ndarray) -> SimulationResult:
        """Run the next steps `x` `(T, B, *input_shape)`, continuing the sequence."""
        x = np.asarray(x, np.float32)
        if x.ndim != len(self.program.input.shape) + 2 or \
                tuple(x.shape[2:]) != self.program.input.shape:
            raise ShapeError(f"input has shape {x.shape}; the program takes (T, B, "
                             f"{', '.join(map(str, self.program.input.shape))})")
        if self.batch not in (None, x.shape[1]):
            raise ShapeError(f"the stream has batch {self.batch}, this call {x.shape[1]}; "
                             "call reset() to start a new one")
        result, self.carry = execute(self.program, x, event_driven=self.event_driven,
                                     counts=False, carry=self.carry)
        self.batch = x.shape[1]
        return result

    def step(self, x: np.ndarray) -> np.ndarray:
        """One step: input `(B, *input_shape)`, output `(B, n_out)`."""
        return self(np.asarray(x)[None]).output[0]
