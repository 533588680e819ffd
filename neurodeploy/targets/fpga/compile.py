"""Network -> the datapath Microcode: vectors placed in V, weights quantized per tensor, shared tables.

Formats: every activation and state shares one signed Qm.n data format (DW bits; m from the
calibrated range of all values the datapath holds, including gate pre-activations); each weight
matrix has its own Qm.n (the largest m that fits it); biases live in the accumulator's format;
multiplicative constants (decays, SRC's r and rs) get as many fraction bits as the 18-bit
constant field allows (at most 14). Nonlinearities are tables over [-R, R) (R = 8 for sigmoid,
4 for tanh, 16 for SRC's rho tanh(x / rho)) sampled at bin centres, at most 4,096 entries (fewer
when the data format has fewer fraction bits), indexed by an arithmetic shift of the input.
"""

from __future__ import annotations

import math

import numpy as np

from neurodeploy import ir
from neurodeploy.engine.reference import simulate_network
from neurodeploy.engine.timeline import delayed
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.program.formats import round_half_up
from neurodeploy.targets.fpga import LANE_CHOICES
from neurodeploy.targets.fpga.isa import Instr
from neurodeploy.targets.fpga.microcode import Microcode

CONST_FIELD_BITS = 18
MAX_CONST_FRACTION = 14
TABLE_ENTRIES = 4096


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class _Builder:
    """Allocates vectors, ROM words, biases and tables while emitting instructions."""

    def __init__(self, bits: int, frac: int, lanes: int) -> None:
        self.bits, self.frac, self.lanes = bits, frac, lanes
        self.code: list[Instr] = []
        self.words = 0
        self.weight_words = 0
        self.matrices: dict[int, np.ndarray] = {}
        self.bias: list[np.ndarray] = []
        self.bias_words = 0
        self.luts: list[np.ndarray] = []
        self.lut_words = 0
        self.tables: dict[str, dict] = {}
        self.formats: dict[str, str] = {}

    def vector(self, size: int) -> int:
        address = self.words
        self.words += size
        if self.words > 4096:
            raise UnsupportedModelError("the network needs more than 4,096 vector words")
        return address

    def _bias_rom(self, values: np.ndarray) -> int:
        address = self.bias_words
        self.bias.append(np.asarray(values, np.int64))
        self.bias_words += len(values)
        return address

    def matvec(self, name: str, dst: int, src: int, weight: np.ndarray, bias: np.ndarray | None):
        rows, cols = weight.shape
        largest = float(np.abs(weight).max())
        integer_bits = max(0, math.floor(math.log2(largest)) + 1) if largest > 0 else 0
        wfrac = self.bits - 1 - integer_bits
        qmax = (1 << (self.bits - 1)) - 1
        matrix = np.clip(round_half_up(weight * 2.0 ** wfrac), -qmax - 1, qmax)
        accumulator = np.zeros(rows) if bias is None else bias
        bias_base = self._bias_rom(round_half_up(np.asarray(accumulator) * 2.0 ** (wfrac + self.frac)))
        base = self.weight_words
        self.matrices[base] = matrix
        self.weight_words += math.ceil(rows / self.lanes) * cols
        self.formats[name] = f"Q{self.bits - wfrac}.{wfrac}"
        self.code.append(Instr("MV", dst=dst, a=src, n=rows, m=cols, base=base, bias=bias_base,
                               shift=wfrac))

    def constant(self, value: float) -> tuple[int, int]:
        """(integer, fraction bits) of a multiplicative constant for MULC."""
        top = (1 << (CONST_FIELD_BITS - 1)) - 1
        frac = MAX_CONST_FRACTION if value == 0 else min(
            MAX_CONST_FRACTION, math.floor(math.log2(top / abs(value))))
        return int(round_half_up(value * 2.0 ** frac)), frac

    def mulc(self, dst: int, src: int, n: int, value: float) -> None:
        integer, frac = self.constant(value)
        self.code.append(Instr("MULC", dst=dst, a=src, n=n, const=integer, shift=frac))

    def table(self, name: str, function, radius: float) -> dict:
        """A shared table of `function` over [-radius, radius) for data-format inputs."""
        if name in self.tables:
            return self.tables[name]
        per_unit = min(TABLE_ENTRIES / (2 * radius), 2.0 ** self.frac)
        shift = int(round(self.frac - math.log2(per_unit)))
        size = int(2 * radius * per_unit)
        step = 1.0 / per_unit
        centres = -radius + step * (np.arange(size) + 0.5)
        limit = 1 << (self.bits - 1)
        values = np.clip(round_half_up(function(centres) * 2.0 ** self.frac), -limit, limit - 1)
        entry = {"base": self.lut_words, "size": size, "shift": shift, "offset": size // 2,
                 "radius": radius}
        self.luts.append(values)
        self.lut_words += size
        self.tables[name] = entry
        return entry

    def lut(self, dst: int, src: int, n: int, table: dict) -> None:
        self.code.append(Instr("LUT", dst=dst, a=src, n=n, base=table["base"], bias=table["size"],
                               shift=table["shift"], const=table["offset"]))

    def emit(self, op: str, dst: int = 0, a: int = 0, b: int = 0, n: int = 0, **fields) -> None:
        self.code.append(Instr(op, dst=dst, a=a, b=b, n=n, **fields))

    def microcode(self, lanes: int, clock_hz: float) -> Microcode:
        weights = [self.matrices[base].reshape(-1) for base in sorted(self.matrices)]
        return Microcode(np.array([ins.row() for ins in self.code], np.int64),
                         np.concatenate(weights or [np.zeros(0, np.int64)]).astype(np.int64),
                         np.concatenate(self.bias or [np.zeros(0, np.int64)]),
                         np.concatenate(self.luts or [np.zeros(0, np.int64)]), self.bits,
                         self.frac, max(self.words, 1), lanes, clock_hz)


def _gru(builder: _Builder, node: ir.GRU, x: int, name: str) -> tuple[int, int]:
    hidden = node.weight_hh.shape[1]
    gx, gh = builder.vector(3 * hidden), builder.vector(3 * hidden)
    h, r, z, n, t = (builder.vector(hidden) for _ in range(5))
    builder.matvec(f"{name}.weight_ih", gx, x, node.weight_ih, node.bias_ih)
    builder.matvec(f"{name}.weight_hh", gh, h, node.weight_hh, node.bias_hh)
    sigmoid = builder.table("sigmoid", _sigmoid, 8.0)
    tanh = builder.table("tanh", np.tanh, 4.0)
    builder.emit("ADD", t, gx, gh, hidden)
    builder.lut(r, t, hidden, sigmoid)
    builder.emit("ADD", t, gx + hidden, gh + hidden, hidden)
    builder.lut(z, t, hidden, sigmoid)
    builder.emit("MUL", t, r, gh + 2 * hidden, hidden, shift=builder.frac)
    builder.emit("ADD", t, gx + 2 * hidden, t, hidden)
    builder.lut(n, t, hidden, tanh)
    builder.emit("SUB", t, h, n, hidden)  # h = n + z (h - n)  ==  (1 - z) n + z h
    builder.emit("MUL", t, z, t, hidden, shift=builder.frac)
    builder.emit("ADD", h, n, t, hidden)
    return h, hidden


def _src(builder: _Builder, node: ir.SRC, current: int, size: int) -> int:
    if node.z != 0:
        raise UnsupportedModelError("the fpga target runs SRC cells with z = 0 (the paper's value)")
    one = 1 << builder.frac
    i, h, hs, zs, x, t, u, out = (builder.vector(size) for _ in range(8))
    builder.mulc(i, i, size, node.alpha)
    builder.emit("ADD", i, i, current, size)
    bound = builder.table(f"rho_tanh_{node.rho}", lambda v: node.rho * np.tanh(v / node.rho), 16.0)
    builder.lut(x, i, size, bound)
    zs_hyp = int(round_half_up(node.zs_hyp * one))
    zs_dep = int(round_half_up(node.zs_dep * one))
    builder.emit("SELGT", zs, h, n=size, const=one >> 1, const2=zs_dep, const3=zs_hyp)
    builder.mulc(t, h, size, node.r)
    builder.emit("ADD", t, x, t, size)
    builder.mulc(u, hs, size, node.rs)
    builder.emit("ADD", t, t, u, size)
    cell_bias = builder._bias_rom(round_half_up(np.minimum(node.bias, node.bias_max) * one))
    builder.emit("ADDC", t, t, n=size, bias=cell_bias)
    builder.lut(u, t, size, builder.table("tanh", np.tanh, 4.0))  # u = h[t]
    builder.emit("SUB", t, hs, h, size)  # hs = h[t-1] + zs (hs - h[t-1])
    builder.emit("MUL", t, zs, t, size, shift=builder.frac)
    builder.emit("ADD", hs, h, t, size)
    builder.emit("COPY", h, u, n=size)
    builder.emit("RELU", out, h, n=size)
    return out


def _scalar(values: np.ndarray, what: str) -> float:
    unique = np.unique(np.asarray(values, np.float64))
    if unique.size != 1:
        raise UnsupportedModelError(f"the fpga target needs one {what} per layer")
    return float(unique[0])


def _lif(builder: _Builder, node: ir.LIF, current: int, size: int) -> int:
    """snnTorch's Leaky with its reset delay; spikes are 1.0 in the data format."""
    if not node.reset_delay:
        raise UnsupportedModelError("the fpga target runs LIF layers with reset_delay=True")
    one = 1 << builder.frac
    theta = int(round_half_up(_scalar(node.threshold, "threshold") * one))
    beta = _scalar(np.clip(node.beta, 0, 1), "beta")
    m, reset, spikes = builder.vector(size), builder.vector(size), builder.vector(size)
    if node.reset == "subtract":  # m = beta m + I - [m > theta] theta
        builder.emit("SELGT", reset, m, n=size, const=theta, const2=theta, const3=0)
        builder.mulc(m, m, size, beta)
        builder.emit("ADD", m, m, current, size)
        builder.emit("SUB", m, m, reset, size)
    else:  # m = beta (1 - [m > theta]) m + I
        builder.emit("SELGT", reset, m, n=size, const=theta, const2=0, const3=one)
        builder.emit("MUL", m, m, reset, size, shift=builder.frac)
        builder.mulc(m, m, size, beta)
        builder.emit("ADD", m, m, current, size)
    builder.emit("SELGT", spikes, m, n=size, const=theta, const2=one, const3=0)
    return spikes


def _leaky_integrator(builder: _Builder, node: ir.LI, current: int, size: int) -> int:
    alpha = np.unique(np.asarray(node.alpha, np.float64))
    if alpha.size != 1:
        raise UnsupportedModelError("the fpga target needs one alpha per leaky-integrator layer")
    v = builder.vector(size)
    builder.mulc(v, v, size, float(alpha[0]))
    builder.emit("ADD", v, v, current, size)
    return v


def calibrated_integer_bits(network: ir.Network, x: np.ndarray, bits: int) -> int:
    """Integer bits (with sign) of the shared data format, from everything the datapath holds."""
    result = simulate_network(network, x, record_states=True, record_outputs=True)
    values = [np.abs(x).max(initial=0.0)]
    values += [np.abs(v).max(initial=0.0) for v in result.node_outputs.values()]
    for states in result.states.values():
        values += [np.abs(v).max(initial=0.0) for v in states.values()]
    previous = x
    for layer in network.layers:
        node = layer.node
        if isinstance(node, ir.GRU):  # gate pre-activations
            h = result.node_outputs[layer.name]
            gx = previous @ node.weight_ih.T + node.bias_ih
            gh = delayed(h) @ node.weight_hh.T + node.bias_hh
            values += [np.abs(gx).max(), np.abs(gh).max(), np.abs(gx + gh).max()]
        if isinstance(node, ir.SRC):
            states = result.states[layer.name]
            argument = (node.rho * np.tanh(states["i"] / node.rho) + node.r * delayed(states["h"])
                        + node.rs * delayed(states["hs"]) + np.minimum(node.bias, node.bias_max))
            values.append(np.abs(argument).max())
        previous = result.node_outputs[layer.name]
    largest = float(max(values)) * 1.25
    needed = max(1, math.ceil(math.log2(largest))) + 1 if largest > 0 else 2
    return int(min(max(needed, 2), bits - 2))


def compile_network(network: ir.Network, x: np.ndarray, bits: int = 16, lanes: int = 4,
                    clock_hz: float = 200e6) -> Microcode:
    """Compile a chain of Linear, GRU, SRC, LIF and LI layers for the datapath."""
    if not 8 <= bits <= 16:
        raise UnsupportedModelError(f"fpga data width must be 8..16 bits, got {bits}")
    if lanes not in LANE_CHOICES:
        raise UnsupportedModelError(f"fpga MAC lanes must be one of {LANE_CHOICES}, got {lanes}")
    if len(network.input_shape) != 1:
        raise UnsupportedModelError("the fpga target takes 1-D input per step")
    layers = network.as_chain("the fpga target")
    frac = bits - calibrated_integer_bits(network, x, bits)
    builder = _Builder(bits, frac, lanes)
    size = network.input_shape[0]
    current = builder.vector(size)
    builder.emit("IN", current, n=size)
    for index, layer in enumerate(layers):
        node = layer.node
        if isinstance(node, ir.Affine):
            weight, bias = _folded(node, layers[index + 1:index + 2])
            out = builder.vector(node.weight.shape[0])
            builder.matvec(f"{layer.name}.weight", out, current, weight, bias)
            current, size = out, node.weight.shape[0]
        elif isinstance(node, ir.Flatten) or _is_folded(layers, index):
            continue
        elif isinstance(node, ir.GRU):
            current, size = _gru(builder, node, current, layer.name)
        elif isinstance(node, ir.SRC):
            current = _src(builder, node, current, size)
        elif isinstance(node, ir.LI):
            current = _leaky_integrator(builder, node, current, size)
        elif isinstance(node, ir.LIF):
            current = _lif(builder, node, current, size)
        else:
            raise UnsupportedModelError(unsupported_message(layer))
    builder.emit("OUT", a=current, n=size)
    builder.emit("END")
    return builder.microcode(lanes, clock_hz)


def _folded(node: ir.Affine, following: list[ir.Layer]) -> tuple[np.ndarray, np.ndarray | None]:
    """The Linear's weight and bias with a BatchNorm right after it folded in:
    W' = scale W (per row), b' = scale b + shift."""
    if not following or not isinstance(following[0].node, ir.BatchNorm):
        return node.weight, node.bias
    scale, shift = following[0].node.scale_shift()
    bias = shift if node.bias is None else node.bias.astype(np.float64) * scale + shift
    return node.weight.astype(np.float64) * scale[:, None], bias


def _is_folded(layers: list[ir.Layer], index: int) -> bool:
    """A BatchNorm right after a Linear (folded into it)."""
    return (isinstance(layers[index].node, ir.BatchNorm) and index > 0
            and isinstance(layers[index - 1].node, ir.Affine))


def unsupported_message(layer: ir.Layer) -> str:
    kind = ir.neuron_kind(layer.node) if ir.is_neuron(layer.node) else type(layer.node).__name__
    return (f"layer '{layer.name}' is a {kind}; the fpga target runs GRU, SRC, LIF and LI "
            "layers with Linear layers (and BatchNorms right after them) between them (use "
            "--target sim or loihi for it)")


def unsupported_parts(network: ir.Network) -> list[str]:
    """Every part of `network` the datapath cannot run."""
    problems = [] if network.is_chain else ["it has branches, merges or recurrent edges (the "
                                            "fpga target takes chains of layers)"]
    if len(network.input_shape) != 1:
        problems.append("the fpga target takes 1-D input per step")
    supported = (ir.Affine, ir.Flatten, ir.GRU, ir.SRC, ir.LI, ir.LIF)
    layers = network.layers
    problems += [unsupported_message(layer) for index, layer in enumerate(layers)
                 if not isinstance(layer.node, supported) and not _is_folded(layers, index)]
    return problems
