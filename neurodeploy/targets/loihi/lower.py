"""Network -> Loihi Program: CUBA compartments in Lava's fixed-point formats.

Per layer: integer weights W_int = round(W / s) with one scale s per layer (netx stores weights
in the units of vThMant and bias); threshold mantissa vth = round(theta / s) (17-bit unsigned),
bias mantissa round(b / s) (13-bit signed, exponent 6), current decay iDecay = 4096 (the input
current lasts one step, as in the float neurons; round(4096 (1 - alpha)) for CubaLIF), voltage
decay dv = round(4096 (1 - beta)).
Each layer delivers its spikes one step late (Lava's Dense), which stands for a one-step delay
the float network has there itself (a netx file's). Per-neuron thresholds are folded
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
from neurodeploy.ir.compose import NotComposable, compose_linear
from neurodeploy.program.calibrate import Calibration
from neurodeploy.program.formats import int_dtype, round_half_up
from neurodeploy.program.graph import InputFormat, Program
from neurodeploy.program.node import ProgramNode
from neurodeploy.program.paths import POOLS, WEIGHTED, Path, neuron_paths
from neurodeploy.program.synapses import Conv2d, Dense, Flatten
from neurodeploy.targets.loihi.nodes import Cuba
from neurodeploy.targets.loihi.spec import LoihiSpec

ONE = 4096  # Q0.12 unity of Loihi's decays


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
    if isinstance(node, ir.CubaLIF):  # Loihi's own neuron: with its reset, only rounding differs
        if node.reset == "subtract":
            notes.append(f"layer {name}: CubaLIF reset by subtraction -> reset to zero")
        if node.reset_delay:
            notes.append(f"layer {name}: CubaLIF reset one step late -> in the spiking step")
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


def without_synapse_delays(network: ir.Network) -> ir.Network:
    """`network` without its one-step feed-forward delays into neuron layers (a netx file's
    synapses): Loihi delivers every layer's input one step late anyway."""
    rank = {ir.INPUT: -1, **{name: i for i, name in enumerate(network.order)}}
    edges = tuple(ir.Edge(e.source, e.target) if e.delay == 1 and ir.is_neuron(
        network.nodes[e.target]) and rank[e.source] < rank[e.target] else e for e in network.edges)
    if edges == network.edges:
        return network
    return ir.Network(network.nodes, edges, network.input_shape, network.output, network.dt)


def unsupported_parts(network: ir.Network) -> list[str]:
    """Every part of `network` Loihi cannot run, each a sentence naming the layer and the way out."""
    network = without_synapse_delays(network)
    problems = []
    if not network.is_chain:
        problems.append("it has branches, merges or recurrent edges (loihi takes chains of layers)")
    last = network.neuron_layers[-1].name if network.neuron_layers else None
    for layer in network.layers:
        node, name = layer.node, layer.name
        if isinstance(node, ir.GRU):
            problems.append(f"layer '{name}' is a GRU: use --target fpga")
        elif isinstance(node, ir.SRC) or (isinstance(node, ir.SNU) and node.soft):
            problems.append(f"layer '{name}' is an {ir.neuron_kind(node)}: its graded spikes and "
                            "tables need --target sim or --target fpga")
        elif isinstance(node, ir.SNU) and node.recurrent is not None:
            problems.append(f"layer '{name}': recurrent SNU layers are not supported on loihi "
                            "yet; use --target sim")
        elif isinstance(node, ir.LI) and name != last:
            problems.append(f"layer '{name}': a leaky integrator can only be the readout (last) "
                            "layer on loihi")
    return problems


Steps = tuple[tuple[str, object, int], ...]


def _linear(path: Path, name: str, source_shape: tuple[int, ...]
            ) -> tuple[Steps, np.ndarray, np.ndarray | None]:
    """(steps, real weight, real bias) of the path into `name`. netx has no pooling layer: a
    path with pools becomes one Conv2d, or Flatten + Dense, that computes the same (exact; see
    `ir.compose`), the pools' window sums or means folded into the weights."""
    pools = [step for step, node, _ in path.steps if isinstance(node, POOLS)]
    if not pools:
        if path.weighted is None:
            raise UnsupportedModelError(f"layer '{name}' needs a Linear or Conv2d before it on "
                                        "loihi")
        return path.steps, path.effective_weight(), path.bias
    if any(delay for _, _, delay in path.steps[1:]):
        raise UnsupportedModelError(f"layer '{pools[0]}': pooling is folded into the weights "
                                    "next to it, which needs no delay between them")
    try:
        composite = compose_linear([node for _, node, _ in path.steps], source_shape)
    except NotComposable as exc:
        raise UnsupportedModelError(f"layer '{pools[0]}': loihi folds pooling into the weights "
                                    f"next to it, but here {exc}; remove the padding") from None
    names = [step for step, node, _ in path.steps if isinstance(node, WEIGHTED)]
    weighted = names[0] if names else pools[0]
    first_delay = path.steps[0][2]
    if isinstance(composite, ir.Conv2d) or len(source_shape) == 1:
        steps: Steps = ((weighted, composite, first_delay),)
    else:
        flatten = next((step for step, node, _ in path.steps if isinstance(node, ir.Flatten)),
                       f"{weighted}.flatten")
        steps = ((flatten, ir.Flatten(), first_delay), (weighted, composite, 0))
    return steps, composite.weight, composite.bias


def lower_to_loihi(network: ir.Network, calibration: Calibration, spec: LoihiSpec,
                   weight_bits: int = 8, options: dict | None = None) -> Program:
    """The Loihi Program of `network` (see the module docstring)."""
    network = without_synapse_delays(network)
    layers = network.as_chain("the loihi target")
    if not (calibration.input_is_integer and calibration.input_max <= 1):
        raise UnsupportedModelError("loihi input layers take binary spikes; encode the data "
                                    "(rate or latency) instead of feeding values")
    if not 2 <= weight_bits <= spec.max_weight_bits:
        raise UnsupportedModelError(f"loihi weights have 2..{spec.max_weight_bits} bits, "
                                    f"got {weight_bits}")
    if not ir.is_neuron(layers[-1].node):
        raise UnsupportedModelError(f"the network ends with layer '{layers[-1].name}'; end it "
                                    "with a neuron layer")
    neurons = network.neuron_layers
    qmax = (1 << (weight_bits - 1)) - 1
    vth_max = (1 << spec.threshold_mantissa_bits) - 1
    bias_limit = 1 << (spec.bias_mantissa_bits - 1)
    nodes: dict[str, ProgramNode] = {}
    edges: list[ir.Edge] = []
    notes: list[str] = []
    for index, neuron in enumerate(neurons):
        name = neuron.name
        threshold, decay, readout, approximations = _neuron_parameters(
            neuron.node, name, index == len(neurons) - 1)
        notes += approximations
        (path,) = neuron_paths(network, name)
        source_shape = (network.input_shape if path.source == ir.INPUT
                        else network.output_shape_of(path.source))
        steps, weight, bias = _linear(path, name, source_shape)
        shape = network.output_shape_of(name)
        gain, threshold = _equalise(threshold, shape, name)
        real_weight = weight * gain.reshape(-1, *([1] * (weight.ndim - 1)))
        real_bias = None if bias is None else bias * gain
        if real_bias is not None and isinstance(neuron.node, ir.CubaLIF) and np.any(real_bias):
            # Loihi adds biases to the voltage, not the current: use the current's steady state
            real_bias = real_bias / (1.0 - _uniform(np.clip(neuron.node.alpha, 0, 1), "alpha", name))
            notes.append(f"layer {name}: CubaLIF bias enters the voltage as its steady-state "
                         "current b / (1 - alpha), without the current's rise time")
        scale = float(np.abs(real_weight).max()) / qmax or 1.0
        if np.isfinite(threshold):
            scale = max(scale, threshold / vth_max)  # vThMant must fit 17 bits
        weight = np.clip(round_half_up(real_weight / scale), -qmax, qmax).astype(
            int_dtype(weight_bits))
        previous = path.source
        for step_name, node, delay in steps:
            if isinstance(node, ir.BatchNorm):
                continue  # folded into the weights before it
            if isinstance(node, ir.Flatten):
                nodes[step_name] = Flatten()
            elif isinstance(node, ir.Affine):
                nodes[step_name] = Dense(weight)
            else:
                nodes[step_name] = Conv2d(weight, node.stride, node.padding, node.dilation,
                                          node.groups)
            edges.append(ir.Edge(previous, step_name, delay))
            previous = step_name
        edges.append(ir.Edge(previous, name, 1))  # Lava's Dense delivers one step late
        bias_mant = np.zeros(shape, np.int64)
        if real_bias is not None:
            per_channel = real_bias.reshape(-1, *([1] * (len(shape) - 1)))
            wanted = round_half_up(np.broadcast_to(per_channel, shape) / scale)
            bias_mant = np.clip(wanted, -bias_limit, bias_limit - 1)
            if np.any(bias_mant != wanted):
                notes.append(f"layer {name}: biases clipped to {spec.bias_mantissa_bits} bits")
        vth = vth_max if readout else max(1, int(round_half_up(threshold / scale)))
        if not np.all(gain == 1):
            notes.append(f"layer {name}: per-neuron thresholds equalised into the weights (exact)")
        current_decay = (_uniform(np.clip(neuron.node.alpha, 0, 1), "alpha", name)
                         if isinstance(neuron.node, ir.CubaLIF) else 0.0)
        du = int(round_half_up(ONE * (1.0 - current_decay))) - 1
        dv = int(round_half_up(ONE * (1.0 - decay)))
        nodes[name] = Cuba(np.full(shape, du, np.int64), np.full(shape, dv, np.int64),
                           bias_mant << spec.bias_exponent, np.full(shape, vth, np.int64),
                           readout, spec.bias_exponent, np.full(shape, scale / 64.0))
    return Program("loihi", InputFormat(network.input_shape, 1.0, 2), nodes, tuple(edges),
                   network.output, {"weight_bits": weight_bits, **(options or {})},
                   tuple(notes))
