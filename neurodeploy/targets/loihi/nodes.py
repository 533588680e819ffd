"""Loihi's CUBA compartment as a Program node, with Lava's bit-accurate arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.program.formats import Format, Overflow, Rounding, shift_toward_zero
from neurodeploy.program.node import Operations, ProgramNode, Tally, check_integer

DECAY_BITS = 12
STATE_BITS = 24
#: u and v: 24-bit; u wraps (Lava's rule, below), v saturates; decays round toward zero
CURRENT = Format(STATE_BITS, True, Rounding.TOWARD_ZERO, Overflow.WRAP)
VOLTAGE = Format(STATE_BITS, True, Rounding.TOWARD_ZERO, Overflow.SATURATE)


def cuba_step(u: np.ndarray, v: np.ndarray, a_in: np.ndarray, du: np.ndarray, dv: np.ndarray,
              bias: np.ndarray, vth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loihi CUBA compartment, as Lava's bit-accurate LIF model (../shared/specs/loihi.md).

        u = rtz(u * (4096 - (du + 1))) + (a_in << 6), then u -= 2^24 if u > 2^23,
            u += 2^24 if u <= -2^23 (Lava's one-step 24-bit wrap)
        v = rtz(v * (4096 - dv)) + u + bias, saturated to +-(2^23 - 1)
        spike = v > (vth << 6); v = 0 where spiking (u is not reset)

    `bias` is bias_mant << bias_exp; `a_in` is the integer weighted input (already delayed).
    du = -1 (netx's iDecay 0) keeps u undecayed. Returns (u, v, spikes).

    Everything is formed in int64 (whatever the dtypes passed), so the equations above hold
    exactly for a_in anywhere in int32 (|a_in << 6| <= 2^37), du -1..4095, dv 0..4096, vth
    0..2^17, |bias| < 2^40, v within 24 bits and |u| <= 2^49: |u * 4096| <= 2^61. (The single wrap
    brings u back into 24 bits only while |a_in| < 2^17; beyond, u leaves them, as in Lava's
    equations, yet stays within 2^49 over any number of steps: |u'| <= |u| 4095/4096 + 2^37;
    with du = -1 that holds only while |a_in| < 2^17, e.g. a 16-bit graded input.)
    """
    u, v, a_in, du, dv, bias, vth = (np.asarray(x, dtype=np.int64)
                                     for x in (u, v, a_in, du, dv, bias, vth))
    u = shift_toward_zero(u * ((1 << DECAY_BITS) - (du + 1)), DECAY_BITS) + (a_in << 6)
    wrap = 1 << STATE_BITS
    half = 1 << (STATE_BITS - 1)
    u = np.where(u > half, u - wrap, np.where(u <= -half, u + wrap, u))
    v = shift_toward_zero(v * ((1 << DECAY_BITS) - dv), DECAY_BITS) + u + bias
    v = np.clip(v, -(half - 1), half - 1)
    spikes = v > (vth << 6)
    return u, np.where(spikes, 0, v), spikes.astype(np.int64)


@dataclass(eq=False)
class Cuba(ProgramNode):
    """A layer of Loihi CUBA compartments (`cuba_step`). A readout layer never fires (vth at
    its maximum) and outputs its voltage v, of real value `unit` per integer."""

    du: np.ndarray
    dv: np.ndarray
    bias: np.ndarray
    vth: np.ndarray
    readout: bool
    bias_exponent: int
    unit: np.ndarray
    kind = "loihi_cuba"
    nir_kind = "CubaLIF"
    stateful = True
    state_names = ("u", "v")
    membrane_state = "v"
    operations = Operations(2, 2, 0, 3)

    @property
    def graded(self) -> bool:  # type: ignore[override]
        return self.readout

    @property
    def output_scale(self) -> float:
        return float(self.unit.flat[0]) if self.readout else 1.0

    def output_bound(self, input_bound: float) -> float:
        return float(1 << (STATE_BITS - 1)) if self.readout else 1.0

    def validate(self, input_shape: tuple[int, ...]) -> None:
        check_integer("du", self.du, input_shape, -1, (1 << DECAY_BITS) - 1)
        check_integer("dv", self.dv, input_shape, 0, 1 << DECAY_BITS)
        check_integer("vth", self.vth, input_shape, 0, 1 << 17)  # 1 << 17: netx's "never fires"
        if not 0 <= self.bias_exponent <= 7:
            raise ValueError(f"bias_exponent {self.bias_exponent} is outside 0..7")
        limit = (1 << 12) << self.bias_exponent
        check_integer("bias", self.bias, input_shape, -limit, limit)
        unit = np.asarray(self.unit)
        if unit.dtype.kind != "f" or unit.shape != tuple(input_shape) or not (
                np.all(np.isfinite(unit)) and np.all(unit > 0)):
            raise ValueError("array 'unit' must hold finite positive scales, one per neuron")

    def step(self, state, inp, tally: Tally):
        u, v, spikes = cuba_step(state[0], state[1], inp, self.du, self.dv, self.bias, self.vth)
        tally.active += int(np.count_nonzero((u != 0) | (v != 0) | (spikes != 0)))
        return (v if self.readout else spikes), (u, v)

    def describe(self) -> dict:
        return {"kind": self.kind, "current": CURRENT.describe(), "voltage": VOLTAGE.describe(),
                "readout": self.readout, "bias_exponent": self.bias_exponent}
