"""Stateful integer nodes: the neuron kinds of the `sim` target.

Each node is the integer form of the update stated in the docstring of the `neurodeploy.nn`
layer of the same name; its `step` applies one time step with the kernel of
`neurodeploy.program.kernels`, which names widths, rounding and overflow. The input `inp` is
the sum of the node's incoming edges, already in state units (accumulators requantized, biases
added). States are signed `state.bits` integers that saturate; Q0.12 constants are decays and
gates; graded outputs are unsigned `out_bits` integers of real value 2^-out_bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.ir.nodes import Reset, Spikes
from neurodeploy.program import kernels
from neurodeploy.program.formats import DECAY_BITS, Format
from neurodeploy.program.node import Operations, ProgramNode, Tally, check_integer, check_range
from neurodeploy.program.tables import Table

Q12_ONE = 1 << DECAY_BITS


def _check_state(state: Format) -> None:
    if not (state.signed and 2 <= state.bits <= 32):
        raise ValueError(f"state format {state.describe()} must be signed with 2..32 bits")


def _check_unit(unit: np.ndarray, shape: tuple[int, ...]) -> None:
    unit = np.asarray(unit)
    if unit.dtype.kind != "f" or tuple(unit.shape) != tuple(shape):
        raise ValueError(f"array 'unit' must be float of shape {shape}, got {unit.dtype} "
                         f"{tuple(unit.shape)}")
    if not (np.all(np.isfinite(unit)) and np.all(unit > 0)):
        raise ValueError("array 'unit' must hold finite positive scales")


def _check_q12(name: str, values: np.ndarray, shape: tuple[int, ...], signed: bool = False
               ) -> None:
    lo = -Q12_ONE if signed else 0
    check_integer(name, values, shape, lo, Q12_ONE if not signed else 2 * Q12_ONE)


@dataclass(eq=False)
class IAF(ProgramNode):
    """Integrate-and-fire (`neurodeploy.nn.IAF`): v = sat(v + inp); n spikes; reset; floor.

    multi: n = v // theta where v >= theta; single: n = [v >= theta] ([v > theta] if strict).
    """

    threshold: np.ndarray
    spike: Spikes
    reset: Reset
    strict: bool
    min_v: np.ndarray | None
    state: Format
    unit: np.ndarray
    kind = "iaf"
    nir_kind = "IF"
    operations = Operations(1, 0, 0, 2)
    stateful = True
    state_names = ("v",)
    membrane_state = "v"

    def __post_init__(self) -> None:
        self.spike, self.reset = Spikes(self.spike), Reset(self.reset)

    def output_bound(self, input_bound: float) -> float:
        if self.spike is Spikes.MULTI:
            return float(self.state.hi // int(self.threshold.min()))
        return 1.0

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _check_state(self.state)
        check_integer("threshold", self.threshold, input_shape, 1, self.state.hi)
        if self.min_v is not None:
            check_integer("min_v", self.min_v, input_shape, self.state.lo, 0)
        if self.strict and self.spike is Spikes.MULTI:
            raise ValueError("strict thresholds need single spikes")
        _check_unit(self.unit, input_shape)

    def step(self, state, inp, tally: Tally):
        v, n = kernels.iaf_step(state[0], inp, self.threshold, self.spike, self.reset,
                                self.min_v, self.state.bits, self.strict, tally)
        return n, (v,)

    def describe(self) -> dict:
        return {"kind": self.kind, "state": self.state.describe(), "spike": str(self.spike),
                "reset": str(self.reset), "strict": self.strict}


@dataclass(eq=False)
class LIF(ProgramNode):
    """Leaky integrate-and-fire (`neurodeploy.nn.LIF`): m = sat(beta m + inp - reset); s = m > theta
    (beta in Q0.12, products rounded half up)."""

    beta: np.ndarray
    threshold: np.ndarray
    reset: Reset
    reset_delay: bool
    state: Format
    unit: np.ndarray
    kind = "lif"
    nir_kind = "LIF"
    operations = Operations(1, 1, 0, 3)
    stateful = True
    state_names = ("m",)
    membrane_state = "m"

    def __post_init__(self) -> None:
        self.reset = Reset(self.reset)

    def output_bound(self, input_bound: float) -> float:
        return 1.0

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _check_state(self.state)
        _check_q12("beta", self.beta, input_shape)
        check_integer("threshold", self.threshold, input_shape, 1, self.state.hi)
        _check_unit(self.unit, input_shape)

    def step(self, state, inp, tally: Tally):
        m, s = kernels.lif_step(state[0], inp, self.beta, self.threshold, self.reset,
                                self.state.bits, self.reset_delay, tally)
        return s, (m,)

    def describe(self) -> dict:
        return {"kind": self.kind, "state": self.state.describe(), "reset": str(self.reset),
                "reset_delay": self.reset_delay, "decay": "Q0.12, rounding half up"}


@dataclass(eq=False)
class CubaLIF(ProgramNode):
    """Current-based LIF (`neurodeploy.nn.CubaLIF`): i = sat(alpha i + inp); v = sat(beta v + i,
    reset by subtraction or cleared, from the previous step's spike with `reset_delay`);
    s = v > theta; without reset delay the spike's own reset at once (alpha, beta in Q0.12)."""

    alpha: np.ndarray
    beta: np.ndarray
    threshold: np.ndarray
    reset: Reset
    reset_delay: bool
    state: Format
    unit: np.ndarray
    kind = "cubalif"
    nir_kind = "CubaLIF"
    operations = Operations(2, 2, 0, 3)
    stateful = True
    state_names = ("i", "v")
    membrane_state = "v"

    def __post_init__(self) -> None:
        self.reset = Reset(self.reset)

    def output_bound(self, input_bound: float) -> float:
        return 1.0

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _check_state(self.state)
        _check_q12("alpha", self.alpha, input_shape)
        _check_q12("beta", self.beta, input_shape)
        check_integer("threshold", self.threshold, input_shape, 1, self.state.hi)
        _check_unit(self.unit, input_shape)

    def step(self, state, inp, tally: Tally):
        i, v, s = kernels.cuba_lif_step(state[0], state[1], inp, self.alpha, self.beta,
                                        self.threshold, self.state.bits, self.reset,
                                        self.reset_delay, tally)
        return s, (i, v)

    def describe(self) -> dict:
        return {"kind": self.kind, "state": self.state.describe(), "reset": str(self.reset),
                "reset_delay": self.reset_delay, "decay": "Q0.12, rounding half up"}


@dataclass(eq=False)
class SNU(ProgramNode):
    """Spiking Neural Unit (`neurodeploy.nn.SNU`): s = sat(relu(inp + decay s (1 - y)));
    y = [s + out_bias > 0]. A recurrent weight arrives as a delayed edge in `inp`."""

    decay: np.ndarray
    out_bias: np.ndarray
    state: Format
    unit: np.ndarray
    kind = "snu"
    nir_kind = "LIF"
    operations = Operations(1, 1, 0, 3)
    stateful = True
    state_names = ("s", "y")

    def output_bound(self, input_bound: float) -> float:
        return 1.0

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _check_state(self.state)
        _check_q12("decay", self.decay, input_shape, signed=True)
        check_integer("out_bias", self.out_bias, input_shape, -(1 << 40), 1 << 40)
        _check_unit(self.unit, input_shape)

    def step(self, state, inp, tally: Tally):
        s, y = kernels.snu_step(state[0], state[1], inp, self.decay, self.out_bias,
                                self.state.bits, False, 1, None, tally)
        return y, (s, y)

    def describe(self) -> dict:
        return {"kind": self.kind, "state": self.state.describe(),
                "decay": "Q0.12, rounding half up"}


@dataclass(eq=False)
class SoftSNU(ProgramNode):
    """Soft SNU (`neurodeploy.nn.SoftSNU`): s = sat(relu(inp + decay s (1 - y))), the gate
    (1 - y) applied as (2^out_bits - y) / 2^out_bits rounded half up; y = sigmoid table of
    s + out_bias, an unsigned out_bits fraction."""

    decay: np.ndarray
    out_bias: np.ndarray
    sigmoid: Table
    out_bits: int
    state: Format
    unit: np.ndarray
    kind = "softsnu"
    nir_kind = "LI"
    operations = Operations(1, 2, 1, 3)
    stateful = True
    graded = True
    state_names = ("s", "y")

    @property
    def output_scale(self) -> float:
        return 2.0 ** -self.out_bits

    def output_bound(self, input_bound: float) -> float:
        return float((1 << self.out_bits) - 1)

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _check_state(self.state)
        check_range("out_bits", self.out_bits, 1, 16)
        _check_q12("decay", self.decay, input_shape, signed=True)
        check_integer("out_bias", self.out_bias, input_shape, -(1 << 40), 1 << 40)
        _check_unit(self.unit, input_shape)

    def step(self, state, inp, tally: Tally):
        s, y = kernels.snu_step(state[0], state[1], inp, self.decay, self.out_bias,
                                self.state.bits, True, self.out_bits, self.sigmoid, tally)
        return y, (s, y)

    def describe(self) -> dict:
        return {"kind": self.kind, "state": self.state.describe(), "out_bits": self.out_bits,
                "table": f"sigmoid, {self.sigmoid.size} segments, piecewise linear"}


@dataclass(eq=False)
class SRC(ProgramNode):
    """Spiking Recurrent Cell (`neurodeploy.nn.SRC`) with h, hs, x and the tanh argument in Q.frac;
    see `neurodeploy.program.kernels.src_step` for the integer update."""

    alpha: int
    r: int
    rs: int
    z: int
    zs_hyp: int
    zs_dep: int
    frac: int
    cell_bias: np.ndarray
    bound: Table
    tanh: Table
    out_bits: int
    state: Format
    unit: np.ndarray
    kind = "src"
    nir_kind = "LI"
    operations = Operations(3, 5, 2, 6)
    stateful = True
    graded = True
    state_names = ("i", "h", "hs")

    @property
    def output_scale(self) -> float:
        return 2.0 ** -self.out_bits

    def output_bound(self, input_bound: float) -> float:
        return float((1 << self.out_bits) - 1)

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _check_state(self.state)
        check_range("frac", self.frac, 2, 20)
        check_range("out_bits", self.out_bits, 1, self.frac)
        limit = 16 << self.frac
        for name in ("r", "rs", "z", "zs_hyp", "zs_dep"):
            check_range(name, getattr(self, name), -limit, limit)
        check_range("alpha", self.alpha, 0, Q12_ONE)
        check_integer("cell_bias", self.cell_bias, input_shape, -limit, limit)
        _check_unit(self.unit, input_shape)

    def step(self, state, inp, tally: Tally):
        consts = {"frac": self.frac, "alpha": self.alpha, "r": self.r, "rs": self.rs,
                  "z": self.z, "zs_hyp": self.zs_hyp, "zs_dep": self.zs_dep}
        i, h, hs, out = kernels.src_step(state[0], state[1], state[2], inp, self.cell_bias,
                                         consts, self.bound, self.tanh, self.state.bits,
                                         self.out_bits, tally)
        return out, (i, h, hs)

    def describe(self) -> dict:
        return {"kind": self.kind, "state": self.state.describe(), "out_bits": self.out_bits,
                "fraction_bits": self.frac}


@dataclass(eq=False)
class LI(ProgramNode):
    """Leaky integrator readout (`neurodeploy.nn.LI`): v = sat(alpha v + inp); the output is v."""

    alpha: np.ndarray
    state: Format
    unit: np.ndarray
    kind = "li"
    nir_kind = "LI"
    operations = Operations(1, 1, 0, 1)
    stateful = True
    graded = True
    state_names = ("v",)
    membrane_state = "v"

    @property
    def output_scale(self) -> float:
        return float(self.unit.flat[0])

    def output_bound(self, input_bound: float) -> float:
        return float(1 << (self.state.bits - 1))

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _check_state(self.state)
        _check_q12("alpha", self.alpha, input_shape, signed=True)
        _check_unit(self.unit, input_shape)
        if np.any(self.unit != self.unit.flat[0]):
            raise ValueError("array 'unit' of a leaky integrator must be one value")

    def step(self, state, inp, tally: Tally):
        v = kernels.li_step(state[0], inp, self.alpha, self.state.bits, tally)
        return v, (v,)

    def describe(self) -> dict:
        return {"kind": self.kind, "state": self.state.describe(),
                "decay": "Q0.12, rounding half up"}
