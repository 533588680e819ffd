"""Network -> Loihi Program: CUBA compartments in Lava's fixed-point formats.

Per layer: integer weights W_int = round(W / s) with one scale s per layer (netx stores weights
in the units of vThMant and bias); threshold mantissa vth = round(theta / s) (17-bit unsigned),
bias mantissa round(b / s) (13-bit signed, exponent 6), current decay iDecay = 4096 (the input
current lasts one step, as in the float neurons; round(4096 (1 - alpha)) for CubaLIF), voltage
decay dv = round(4096 (1 - beta)).
Each layer delivers its spikes one step late (Lava's Dense). Per-neuron thresholds are folded
into each neuron's weights and bias (exact: the updates are positively homogeneous), since netx
stores one threshold per layer.

What Loihi cannot do is approximated and listed in settings["approximations"], and the report
shows its cost in accuracy: reset by subtraction becomes reset to zero, multi-spike IAF fires
once per step, thresholds become strict, membrane floors (IAF min_v, SNU's ReLU) disappear, and
LIF resets in the spiking step. SoftSNU and SRC need graded spikes and tables: refused.
"""

from __future__ import annotations

import math

import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.quant.calibrate import Calibration
from neurodeploy.quant.program import IntLayer, IntOp, Program
from neurodeploy.quant.quantize import neuron_stages
from neurodeploy.targets.loihi.spec import LoihiSpec

ONE = 4096  # Q0.12 unity of Loihi's decays


def _round(x) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def _uniform(values: np.ndarray, what: str, layer: str) -> float:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat.size and not np.all(flat == flat[0]):
        raise UnsupportedModelError(f"layer '{layer}': netx stores one {what} per layer, but it "
                                    "differs between neurons")
    return float(flat[0])


def _neuron_parameters(node: ir.nodes.NeuronNode, name: str, last: bool
                       ) -> tuple[np.ndarray, float, bool, list[str]]:
    """(per-neuron threshold, voltage decay factor, readout?, approximations) of a layer."""
    notes = []
    if isinstance(node, ir.CubaLIF):  # Loihi's own neuron: only rounding differs
        return (np.asarray(node.threshold, np.float64),
                _uniform(np.clip(node.beta, 0, 1), "beta", name), False, notes)
    if isinstance(node, ir.IAF):
        if node.reset == "subtract":
            notes.append(f"layer {name}: IAF reset by subtraction -> reset to zero")
        if node.spike == "multi":
            notes.append(f"layer {name}: multi-spike IAF -> one spike per step")
        if not node.strict:
            notes.append(f"layer {name}: threshold v >= theta -> v > theta")
        if node.min_v is not None:
            notes.append(f"layer {name}: membrane floor min_v dropped (Loihi only saturates)")
        return np.asarray(node.threshold, np.float64), 1.0, False, notes
    if isinstance(node, ir.LIF):
        if node.reset == "subtract":
            notes.append(f"layer {name}: LIF reset by subtraction -> reset to zero")
        if node.reset_delay:
            notes.append(f"layer {name}: LIF reset one step late -> in the spiking step")
        return (np.asarray(node.threshold, np.float64),
                _uniform(np.clip(node.beta, 0, 1), "beta", name), False, notes)
    if isinstance(node, ir.SNU):
        if node.soft:
            raise UnsupportedModelError(
                f"layer '{name}' is a SoftSNU: its graded spikes and sigmoid need --target sim or "
                "--target fpga")
        if node.recurrent is not None:
            raise UnsupportedModelError(f"layer '{name}': recurrent SNU layers are not supported "
                                        "on loihi yet; use --target sim")
        notes.append(f"layer {name}: SNU ReLU floor dropped (the membrane may go negative)")
        return -np.asarray(node.bias, np.float64), _uniform(node.decay, "decay", name), False, notes
    if isinstance(node, ir.LI):
        if not last:
            raise UnsupportedModelError(f"layer '{name}': a leaky integrator can only be the "
                                        "readout (last) layer on loihi")
        return np.array(math.inf), _uniform(node.alpha, "alpha", name), True, notes
    raise UnsupportedModelError(
        f"layer '{name}' is an {ir.neuron_kind(node)}: its graded spikes and tables need --target "
        "sim or --target fpga")


def _equalise(threshold: np.ndarray, shape: tuple[int, ...], name: str
              ) -> tuple[np.ndarray, float]:
    """Per-channel input gains that bring every threshold to one value (netx has one per layer).

    The neurons' updates are positively homogeneous in (input, state, threshold), so scaling a
    neuron's weights and bias by theta_ref / theta_n leaves its spikes unchanged.
    """
    if not np.all(np.isfinite(threshold)):
        return np.ones(shape[0]), math.inf
    per_neuron = np.broadcast_to(threshold, shape)
    per_channel = per_neuron.reshape(shape[0], -1)
    if np.any(per_channel != per_channel[:, :1]):
        raise UnsupportedModelError(f"layer '{name}': thresholds differ within a channel")
    per_channel = per_channel[:, 0]
    if np.any(per_channel <= 0):
        raise UnsupportedModelError(f"layer '{name}': loihi thresholds must be positive")
    reference = float(per_channel.max())
    return reference / per_channel, reference


def _weighted(ops: list[ir.Layer], name: str) -> ir.Layer:
    weighted = [layer for layer in ops if isinstance(layer.node, ir.Affine | ir.Conv2d)]
    pools = [layer for layer in ops if isinstance(layer.node, ir.AvgPool2d | ir.SumPool2d)]
    if pools:
        raise UnsupportedModelError(f"layer '{pools[0].name}': netx layers have no pooling; use "
                                    "strided convolutions for loihi")
    if len(weighted) != 1:
        raise UnsupportedModelError(f"layer '{name}' needs exactly one Linear or Conv2d before it "
                                    "on loihi")
    return weighted[0]


def lower_to_loihi(network: ir.Network, calibration: Calibration, spec: LoihiSpec,
                   weight_bits: int = 8) -> Program:
    """The Loihi Program of `network` (see the module docstring)."""
    if not (calibration.input_is_integer and calibration.input_max <= 1):
        raise UnsupportedModelError("loihi input layers take binary spikes; encode the data "
                                    "(rate or latency) instead of feeding values")
    if not 2 <= weight_bits <= spec.max_weight_bits:
        raise UnsupportedModelError(f"loihi weights have 2..{spec.max_weight_bits} bits, "
                                    f"got {weight_bits}")
    stages = neuron_stages(network)
    qmax = (1 << (weight_bits - 1)) - 1
    vth_max = (1 << spec.threshold_mantissa_bits) - 1
    bias_limit = 1 << (spec.bias_mantissa_bits - 1)
    layers, notes = [], []
    for index, (ops, neuron) in enumerate(stages):
        name = neuron.name
        threshold, decay, readout, approximations = _neuron_parameters(
            neuron.node, name, index == len(stages) - 1)
        notes += approximations
        weighted = _weighted(ops, name).node
        shape = network.output_shape_of(name)
        gain, threshold = _equalise(threshold, shape, name)
        real_weight = weighted.weight * gain.reshape(-1, *([1] * (weighted.weight.ndim - 1)))
        real_bias = None if weighted.bias is None else weighted.bias * gain
        if real_bias is not None and isinstance(neuron.node, ir.CubaLIF) and np.any(real_bias):
            # Loihi adds biases to the voltage, not the current: use the current's steady state
            real_bias = real_bias / (1.0 - _uniform(np.clip(neuron.node.alpha, 0, 1), "alpha", name))
            notes.append(f"layer {name}: CubaLIF bias enters the voltage as its steady-state "
                         "current b / (1 - alpha), without the current's rise time")
        scale = float(np.abs(real_weight).max()) / qmax or 1.0
        if np.isfinite(threshold):
            scale = max(scale, threshold / vth_max)  # vThMant must fit 17 bits
        weight = np.clip(_round(real_weight / scale), -qmax, qmax)
        int_ops = [IntOp("flatten") if isinstance(layer.node, ir.Flatten) else
                   IntOp("affine", weight.astype(np.int8 if weight_bits <= 8 else np.int16))
                   if isinstance(layer.node, ir.Affine) else
                   IntOp("conv2d", weight.astype(np.int8), layer.node.stride, layer.node.padding,
                         layer.node.dilation, layer.node.groups) for layer in ops]
        bias_mant = np.zeros(shape, np.int64)
        if real_bias is not None:
            per_channel = real_bias.reshape(-1, *([1] * (len(shape) - 1)))
            wanted = _round(np.broadcast_to(per_channel, shape) / scale)
            bias_mant = np.clip(wanted, -bias_limit, bias_limit - 1)
            if np.any(bias_mant != wanted):
                notes.append(f"layer {name}: biases clipped to {spec.bias_mantissa_bits} bits")
        vth = vth_max if readout else max(1, int(_round(threshold / scale)))
        if not np.all(gain == 1):
            notes.append(f"layer {name}: per-neuron thresholds equalised into the weights (exact)")
        dv = int(_round(ONE * (1.0 - decay)))
        unit = np.full(shape, scale / 64.0)
        layer = IntLayer(name, "CUBA", tuple(shape), int_ops, unit, 0, np.zeros(shape, np.int64),
                         spec.state_bits, scale / 64.0 if readout else 1.0,
                         spec.state_bits if readout else 1)
        current_decay = (_uniform(np.clip(neuron.node.alpha, 0, 1), "alpha", name)
                         if isinstance(neuron.node, ir.CubaLIF) else 0.0)
        du = int(_round(ONE * (1.0 - current_decay))) - 1
        layer.arrays.update({"du": np.full(shape, du, np.int64),
                             "dv": np.full(shape, dv, np.int64),
                             "bias": bias_mant << spec.bias_exponent,
                             "vth": np.full(shape, vth, np.int64)})
        layer.consts.update({"synaptic_delay": 1, "readout": int(readout),
                             "bias_exponent": spec.bias_exponent})
        layers.append(layer)
    settings = {"pipeline_delay": len(layers), "approximations": notes,
                "quant": {"weight_bits": weight_bits, "activation_bits": 1,
                          "state_bits": spec.state_bits, "per_channel": False,
                          "power_of_two": False}}
    return Program("loihi", network.input_shape, 1.0, 2, layers, settings)
