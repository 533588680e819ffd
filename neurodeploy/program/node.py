"""The contract every integer Program node keeps.

A node is a small dataclass holding integers and formats. It owns:
- `kind`: its name in program files, unique among node types;
- `output_shape(input_shape)` and `output_bound(input_bound)`: the per-sample shape and the largest
  |output| for inputs with |x| <= input_bound (the engine proves its float fast paths with these);
- its arithmetic: a stateless node maps a whole sequence `apply(x (T, B, *shape), bound)`; a
  stateful node has `state_names`, `initial_state(batch)` and `step(state, inp, tally)`, one time
  step on the sum of its inputs;
- `validate(input_shape)`: every array's dtype, shape and range against its formats, raising
  ValueError with the array and the rule (the loader turns it into a one-line file error);
- `graded` and `output_scale`: whether its output values are counts or real values, and the real
  value of one output integer;
- `synapse_count(x, bound)` for nodes with weights (synaptic operations as NeuroBench counts them).
Serialization is generic (see `neurodeploy.program.serialize`): array fields go to program.npz,
everything else to program.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass
class Tally:
    """What a stateful node's steps counted: updates, and those whose result was saturated."""

    updates: int = 0
    saturated: int = 0
    active: int = 0  # updates with a non-zero state (Loihi's active compartments)

    def saturate(self, x: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """clip(x, lo, hi), counting the clipped elements."""
        over = x > hi
        under = x < lo
        count = int(np.count_nonzero(over)) + int(np.count_nonzero(under))
        if count:
            self.saturated += count
            return np.clip(x, lo, hi)
        return x


@dataclass(frozen=True)
class SynapseCount:
    """Synaptic operations of one weighted node over all steps and samples.

    effective: each non-zero input times its fan-out; dense: every connection every step;
    accumulate_only: every input was in {-1, 0, 1} (ACs rather than MACs).
    """

    effective: float
    dense: float
    accumulate_only: bool


@dataclass(frozen=True)
class Operations:
    """The work of one neuron update, for energy models: state words read and written,
    multiplies by a decay or gate, table lookups and additions."""

    state_words: int = 1
    multiplies: int = 0
    lookups: int = 0
    adds: int = 1


@dataclass(eq=False)
class ProgramNode:
    """Base of all integer nodes (see the module docstring)."""

    kind: ClassVar[str] = ""
    stateful: ClassVar[bool] = False
    graded: ClassVar[bool] = False
    weighted: ClassVar[bool] = False
    state_names: ClassVar[tuple[str, ...]] = ()
    #: the state that is a membrane potential of real value `unit` per integer (verify's SQNR)
    membrane_state: ClassVar[str | None] = None
    operations: ClassVar[Operations] = Operations()
    #: the NIR neuron node closest to a stateful node (IF, LIF, CubaLIF, LI), None if none is
    nir_kind: ClassVar[str | None] = None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    def output_bound(self, input_bound: float) -> float:
        return input_bound

    @property
    def output_scale(self) -> float | np.ndarray:
        return 1.0

    def validate(self, input_shape: tuple[int, ...]) -> None:
        """Raise ValueError naming the array and the rule when the node is inconsistent."""

    # stateless nodes
    def apply(self, x: np.ndarray, bound: float) -> np.ndarray:
        raise NotImplementedError

    # stateful nodes
    def initial_state(self, shape: tuple[int, ...], dtype: Any) -> tuple[np.ndarray, ...]:
        return tuple(np.zeros(shape, dtype) for _ in self.state_names)

    def step(self, state: tuple[np.ndarray, ...], inp: np.ndarray, tally: Tally
             ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        raise NotImplementedError

    def synapse_count(self, x: np.ndarray, bound: float) -> SynapseCount | None:
        return None

    def describe(self) -> dict[str, Any]:
        """Formats and constants for reports and the program's NIR metadata."""
        return {"kind": self.kind}

    @property
    def membrane(self) -> tuple[str, np.ndarray] | None:
        """(membrane state name, real value per integer) when the node has one."""
        unit = getattr(self, "unit", None)
        return None if self.membrane_state is None or unit is None else (self.membrane_state, unit)


def check_integer(name: str, values: np.ndarray, shape: tuple[int, ...] | None = None,
                  lo: int | None = None, hi: int | None = None) -> None:
    """ValueError unless `values` is an integer array of `shape` within [lo, hi]."""
    values = np.asarray(values)
    if values.dtype.kind not in "iu":
        raise ValueError(f"array '{name}' has dtype {values.dtype}, must be integer")
    if shape is not None and tuple(values.shape) != tuple(shape):
        raise ValueError(f"array '{name}' has shape {tuple(values.shape)}, must be {tuple(shape)}")
    if values.size and lo is not None and int(values.min()) < lo:
        raise ValueError(f"array '{name}' holds {int(values.min())}, below its format's {lo}")
    if values.size and hi is not None and int(values.max()) > hi:
        raise ValueError(f"array '{name}' holds {int(values.max())}, above its format's {hi}")


def check_range(name: str, value: float, lo: float, hi: float) -> None:
    """ValueError unless lo <= value <= hi (and finite)."""
    if not (np.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"'{name}' is {value}, must lie in [{lo}, {hi}]")
