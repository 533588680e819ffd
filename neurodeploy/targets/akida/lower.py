"""Network -> Akida Program: rate-coded IAF networks with time collapsed into one frame.

An IAF neuron with reset by subtraction, threshold theta, starting at rest and driven by
I_t = W s_t + b for T steps fires n = floor(sum_t I_t / theta) times (at most T when it fires
once per step), and sum_t I_t = W c + T b, where c counts the input's spikes over the window.
So a layer of spike counts in gives a layer of spike counts out, which is what an Akida layer
computes on activations:

    acc  = W_q c_q + bias_q                  W_q = round(W s_w) per output channel (s_w = q / max|W|)
    out  = round_half_up(clip(acc, 0, max_value) M / 2^e)    M / 2^e ~ u_in / (s_w theta u_out)

with the bias holding T b and minus half a spike (floor, not round), and max_value capping the
count at T (single spike) or the calibrated maximum. A b-bit activation carries counts of
u_out = max(1, n_max / (2^b - 1)) spikes per integer. An average or sum pool after a neuron
becomes the pooled sum of its layer (its 1/k^2 stays in the next layer's weights); a pool that
covers the whole map is a global pool. A final LI readout becomes an unscaled layer whose int32
output is sum_t I_t (what the readout integrates) in units u_in / s_w.

Input: the frame (the input summed over the window) in int8 with a power-of-two unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.program.calibrate import Calibration
from neurodeploy.program.formats import Rounding, round_half_up
from neurodeploy.program.graph import InputFormat, Program, window_frame
from neurodeploy.program.paths import Path, neuron_paths
from neurodeploy.targets.akida.nodes import AkidaConv, AkidaDense, AkidaLayer, Pool
from neurodeploy.targets.akida.spec import AkidaSpec, activation_range

INPUT_BITS = 8
READOUT_BITS = 8  # an LI readout's int32 potential is not saturated to it (unscaled layer)


@dataclass(frozen=True)
class Stage:
    """One Akida layer in float terms: the path into a neuron, the neuron, and the pool that
    follows the neuron (taken from the next path)."""

    name: str
    path: Path
    neuron: object
    pool: Pool = Pool.NONE
    pool_size: tuple[int, int] = (1, 1)
    pool_node: str | None = None
    pool_sums: bool = False  # a SumPool2d (no 1/k^2 in the next layer's weights)


def _pools_before(path: Path) -> list[tuple[str, object]]:
    steps = [(name, node) for name, node, _ in path.steps]
    weighted = next(i for i, (_, node) in enumerate(steps) if isinstance(node, ir.Affine |
                                                                          ir.Conv2d))
    return [(n, node) for n, node in steps[:weighted] if isinstance(node, ir.AvgPool2d |
                                                                    ir.SumPool2d)]


def _path_problems(network: ir.Network, name: str, path: Path, first: bool) -> list[str]:
    problems = []
    steps = [(n, node) for n, node, _ in path.steps]
    weighted = [i for i, (_, node) in enumerate(steps) if isinstance(node, ir.Affine | ir.Conv2d)]
    if not weighted:
        return [f"layer '{name}' has no Linear or Conv2d before it"]
    for index, (step, node) in enumerate(steps):
        after = index > weighted[0]
        if isinstance(node, ir.AvgPool2d | ir.SumPool2d):
            if after:
                problems.append(f"layer '{step}': a pool between a weighted layer and its neuron "
                                "(akida pools after the activation)")
            elif first:
                problems.append(f"layer '{step}': a pool on the input")
            elif any(node.padding) or tuple(node.stride) != tuple(node.kernel_size):
                problems.append(f"layer '{step}': akida pools k x k windows with stride k and "
                                "no padding")
        if isinstance(node, ir.Conv2d) and (node.groups != 1 or tuple(node.dilation) != (1, 1)):
            problems.append(f"layer '{step}': grouped or dilated convolutions are not supported")
    if len(_pools_before(path)) > 1:
        problems.append(f"layer '{name}': two pools in a row")
    return problems


def _limit_problems(network: ir.Network, name: str, weighted: object, first: bool,
                    spec: AkidaSpec) -> list[str]:
    """The layer limits of the spec's Akida version that the weighted layer of `name` breaks."""
    version = f"Akida {spec.version.value}"
    if isinstance(weighted, ir.Conv2d):
        kernel, stride = tuple(weighted.weight.shape[2:]), tuple(weighted.stride)
        allowed = spec.input_conv_kernels if first else spec.conv_kernels
        problems = []
        if kernel[0] != kernel[1] or kernel[0] not in allowed:
            problems.append(f"layer '{name}': a {kernel[0]}x{kernel[1]} kernel; {version} "
                            f"{'input ' if first else ''}convolutions take square kernels of "
                            f"{allowed}")
        twos = spec.stride2_kernels
        if stride not in ((1, 1), (2, 2)) or (stride == (2, 2) and twos and kernel[0] not in twos):
            also = f"2 with kernels {twos}" if twos else "2"
            problems.append(f"layer '{name}': stride {stride[0]}x{stride[1]} with a "
                            f"{kernel[0]}x{kernel[1]} kernel; {version} convolutions take stride 1 "
                            f"or {also}")
        return problems
    inputs = 0 if weighted is None else weighted.weight.shape[1]
    if inputs > spec.max_dense_inputs:
        return [f"layer '{name}': {inputs} inputs, more than the {spec.max_dense_inputs} of a "
                f"{version} fully connected layer"]
    return []


def _global_pool_problems(stages: list[Stage], spec: AkidaSpec) -> list[str]:
    limit = spec.max_global_pool_area
    return [f"layer '{stage.pool_node}': a global pool over {area} values; Akida "
            f"{spec.version.value} pools globally only over at most {limit}"
            for stage in stages if stage.pool is Pool.GLOBAL and limit is not None
            and (area := stage.pool_size[0] * stage.pool_size[1]) > limit]


def unsupported_parts(network: ir.Network, spec: AkidaSpec) -> list[str]:
    """Every part of `network` the akida target cannot run, each named."""
    if not network.is_chain:
        return ["it has branches, merges or recurrent edges (akida runs chains of layers)"]
    problems = []
    neurons = network.neuron_layers
    for index, layer in enumerate(neurons):
        node, last = layer.node, index == len(neurons) - 1
        if isinstance(node, ir.IAF):
            if node.reset != ir.Reset.SUBTRACT:
                problems.append(f"layer '{layer.name}': IAF with reset to zero (its spike count "
                                "is not floor(sum of input / threshold))")
        elif not (isinstance(node, ir.LI) and last):
            kind = ir.neuron_kind(node)
            problems.append(f"layer '{layer.name}' is a {kind}; akida runs rate-coded IAF "
                            "layers (ReLU ANNs after ann2snn) with an LI readout at the end")
        try:
            (path,) = neuron_paths(network, layer.name)
        except (UnsupportedModelError, ValueError) as exc:
            problems.append(str(exc))
            continue
        problems += _path_problems(network, layer.name, path, index == 0)
        problems += _limit_problems(network, layer.name, path.weighted, index == 0, spec)
    if neurons and isinstance(neurons[-1].node, ir.IAF | ir.LI) and network.output != \
            neurons[-1].name:
        problems.append("the output must be the last neuron layer")
    if not problems:
        problems += _global_pool_problems(_stages(network), spec)
    return problems


def _stages(network: ir.Network) -> list[Stage]:
    """The chain's neuron layers with their paths, each pool moved onto the layer before it."""
    stages = []
    for layer in network.neuron_layers:
        (path,) = neuron_paths(network, layer.name)
        pools = _pools_before(path)
        if pools and stages:
            pool_name, pool = pools[0]
            previous = stages[-1]
            height, width = network.output_shape_of(previous.name)[1:]
            global_pool = tuple(pool.kernel_size) == (height, width)
            stages[-1] = Stage(previous.name, previous.path, previous.neuron,
                               Pool.GLOBAL if global_pool else Pool.AVERAGE,
                               (height, width) if global_pool else tuple(pool.kernel_size),
                               pool_name, isinstance(pool, ir.SumPool2d))
        stages.append(Stage(layer.name, path, layer.node))
    return stages


def input_format(network: ir.Network, calibration: Calibration) -> InputFormat:
    """int8 frames with the smallest power-of-two unit that holds the calibrated frames."""
    largest = float(np.abs(window_frame(calibration.x)).max(initial=0.0))
    scale = 2.0 ** math.ceil(math.log2(largest / 127)) if largest > 0 else 1.0
    if largest / scale > 127:
        scale *= 2
    return InputFormat(network.input_shape, scale, INPUT_BITS, True, Rounding.HALF_EVEN)


def _per_channel(values: np.ndarray | None, shape: tuple[int, ...], what: str, name: str
                 ) -> np.ndarray:
    """A per-neuron parameter as one value per output channel (uniform over a feature map)."""
    values = np.asarray(0.0 if values is None else values, np.float64)
    if values.ndim == 1 and len(shape) > 1 and values.size == shape[0]:  # a channel's bias
        values = values.reshape(-1, *([1] * (len(shape) - 1)))
    full = np.broadcast_to(values, shape)
    per = full.reshape(shape[0], -1)
    if not np.all(per == per[:, :1]):
        raise UnsupportedModelError(f"layer '{name}': its {what} differs within a channel; akida "
                                    "holds one per output channel")
    return per[:, 0].copy()


def _readout_gain(neuron: ir.LI, shape: tuple[int, ...], steps: int, name: str) -> np.ndarray:
    """Per channel, sum_t v_t / sum_t I_t of an LI readout v_t = alpha v_(t-1) + I_t under a
    constant drive over the window: (1/T) sum_(t=1..T) sum_(k<t) alpha^k (1 for alpha = 0)."""
    alpha = _per_channel(neuron.alpha, shape, "alpha", name)
    powers = alpha[None, :] ** np.arange(steps)[:, None]
    return np.cumsum(powers, axis=0).sum(axis=0) / steps


def _scale_shift(ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """M in [128, 255] and e with M / 2^e ~ ratio, per channel (e clipped to [-31, 32])."""
    e = np.clip(7 - np.floor(np.log2(ratio)).astype(np.int64), -31, 32)
    m = round_half_up(ratio * np.exp2(e.astype(np.float64)))
    over = m > 255
    e = np.where(over, e - 1, e)
    m = np.where(over, round_half_up(ratio * np.exp2(e.astype(np.float64))), m)
    return np.clip(m, 1, 255).astype(np.int64), e.astype(np.int64)


def _aligned_bias(values: np.ndarray, mantissa_bits: int) -> np.ndarray:
    """Each bias as m << s with m a signed `mantissa_bits` integer (s >= 0 as small as fits)."""
    limit = (1 << (mantissa_bits - 1)) - 1
    magnitude = np.maximum(np.abs(values), 1e-300)
    shift = np.maximum(0, np.ceil(np.log2(magnitude / limit))).astype(np.int64)
    mantissa = np.clip(round_half_up(values / np.exp2(shift.astype(np.float64))), -limit - 1,
                       limit)
    return mantissa << shift


class _Lowering:
    """The state carried along the chain: the unit and bits of the current activations."""

    def __init__(self, network: ir.Network, calibration: Calibration, spec: AkidaSpec,
                 weight_bits: int, activation_bits: int) -> None:
        self.network, self.calibration, self.spec = network, calibration, spec
        self.weight_bits, self.activation_bits = weight_bits, activation_bits
        self.steps = int(calibration.x.shape[0])
        self.approximations: list[str] = []

    def _weights(self, stage: Stage, per_tensor: bool) -> tuple[np.ndarray, np.ndarray]:
        """(integer weights, s_w per channel)."""
        weight = stage.path.effective_weight()
        rows = np.abs(weight.reshape(weight.shape[0], -1)).max(axis=1)
        if per_tensor:
            rows = np.full_like(rows, rows.max(initial=0.0))
        low, high = self.spec.weight_range(self.weight_bits)
        scale = np.where(rows > 0, high / np.where(rows > 0, rows, 1.0), 1.0)
        shape = (-1,) + (1,) * (weight.ndim - 1)
        integers = np.clip(round_half_up(weight * scale.reshape(shape)), low, high)
        return integers.astype(np.int8), scale

    def layer(self, stage: Stage, unit_in: float, bits_in: int, last: bool
              ) -> tuple[AkidaLayer, float, int]:
        """The Akida layer of a stage, its output unit and bits."""
        shape = self.network.output_shape_of(stage.name)
        weighted = stage.path.weighted
        conv = isinstance(weighted, ir.Conv2d)
        readout = isinstance(stage.neuron, ir.LI)
        weight, s_w = self._weights(stage, per_tensor=conv and readout)
        acc_unit = unit_in / s_w  # real sum of currents per accumulator integer
        bias = self.steps * _per_channel(stage.path.bias, shape, "bias", stage.name) / acc_unit
        channels = weight.shape[0]
        if readout:
            node_bits, relu, scaled = READOUT_BITS, False, False
            m = np.ones(channels, np.int64)
            e = np.zeros(channels, np.int64)
            max_value = np.zeros(channels, np.int64)
            potential = acc_unit / _readout_gain(stage.neuron, shape, self.steps, stage.name)
            unit_out = potential[:1].astype(np.float32) if conv else potential.astype(np.float32)
            bias_q = _aligned_bias(bias, self.spec.bias_mantissa_bits)
            unit_value = float(unit_out.flat[0])
        else:
            theta = _per_channel(stage.neuron.threshold, shape, "threshold", stage.name)
            most, pooled = self._counts(stage)
            # the last spiking layer: the widest activation keeps the class decision sharp
            node_bits = max(self.spec.activation_bits) if last else self.activation_bits
            top = activation_range(node_bits)[1]
            unit_value = max(1.0, pooled / top)
            if unit_value > 1:
                self.approximations.append(
                    f"layer {stage.name}: up to {pooled:.0f} spikes{' pooled' if stage.pool_node else ''}"
                    f" in {node_bits} bits, {unit_value:.3g} spikes per integer")
            m, e = _scale_shift(acc_unit / (theta * unit_value))
            bias_q = _aligned_bias(bias - theta / (2 * acc_unit), self.spec.bias_mantissa_bits)
            max_value = round_half_up(most * theta / acc_unit)
            relu, scaled = True, True
            unit_out = np.float32([unit_value]) if conv else np.full(channels, unit_value,
                                                                     np.float32)
        fields = dict(weight=weight if conv else weight.reshape(channels, -1),
                      bias=bias_q.astype(np.int64), max_value=np.maximum(max_value, 0),
                      scale=m, shift=e, output_unit=unit_out, relu=relu, scaled=scaled,
                      input_bits=bits_in, weight_bits=self.weight_bits, output_bits=node_bits)
        if conv:
            node = AkidaConv(**fields, stride=tuple(weighted.stride),
                             padding=tuple(weighted.padding), pool=stage.pool,
                             pool_size=stage.pool_size)
        else:
            node = AkidaDense(**fields)
        return node, unit_value, node_bits

    def _counts(self, stage: Stage) -> tuple[float, float]:
        """(largest spike count of a neuron, largest pooled sum of counts) over the window:
        calibrated, at most the window for single-spike neurons."""
        totals = self.calibration.total_max
        limit = float(self.steps) if stage.neuron.spike == ir.Spikes.SINGLE else math.inf
        most = min(limit, max(1.0, float(np.max(totals.get(stage.name, self.steps)))))
        if stage.pool is Pool.NONE:
            return most, most
        area = stage.pool_size[0] * stage.pool_size[1]
        pooled = totals.get(stage.pool_node)
        pooled = most * area if pooled is None else float(np.max(pooled)) * (
            1 if stage.pool_sums else area)
        return most, max(1.0, min(pooled, most * area))


def _precision_problems(spec: AkidaSpec, weight_bits: int, activation_bits: int) -> list[str]:
    version = f"Akida {spec.version.value}"
    problems = []
    if weight_bits not in spec.weight_bits:
        problems.append(f"{weight_bits}-bit weights: {version} layers after the input layer take "
                        f"{', '.join(map(str, spec.weight_bits))} bits (--weight-bits)")
    if activation_bits not in spec.activation_bits:
        problems.append(f"{activation_bits}-bit activations: {version} takes "
                        f"{', '.join(map(str, spec.activation_bits))} bits (--activation-bits)")
    return problems


def lower_to_akida(network: ir.Network, calibration: Calibration, spec: AkidaSpec,
                   weight_bits: int, activation_bits: int) -> Program:
    """The Akida Program of `network` (see the module docstring)."""
    problems = unsupported_parts(network, spec) + _precision_problems(spec, weight_bits,
                                                                        activation_bits)
    if problems:
        raise UnsupportedModelError(f"target '{spec.name}' cannot run this network: "
                                    + "; ".join(problems))
    lowering = _Lowering(network, calibration, spec, weight_bits, activation_bits)
    frame = input_format(network, calibration)
    nodes, edges = {}, []
    unit, bits, previous = frame.scale, INPUT_BITS, ir.INPUT
    stages = _stages(network)
    for index, stage in enumerate(stages):
        node, unit, bits = lowering.layer(stage, unit, bits, index == len(stages) - 1)
        nodes[stage.name] = node
        edges.append(ir.Edge(previous, stage.name))
        previous = stage.name
    notes = [f"time collapsed into one frame of {lowering.steps} steps: each IAF layer computes "
             "floor(sum of input / threshold) spikes from its input's spike counts (exact for a "
             "constant drive; spike timing within the window is lost)",
             "biases rounded to 8-bit mantissas with a shift"] + lowering.approximations
    if isinstance(stages[-1].neuron, ir.LI):
        notes.append("the LI readout becomes the sum of its input currents over the window, "
                     "scaled to the sum of its potentials under a constant drive (exact for "
                     "alpha = 0, as ann2snn's readout)")
    return Program(spec.name, frame, nodes, tuple(edges), previous,
                   {"weight_bits": weight_bits, "activation_bits": activation_bits,
                    "window": lowering.steps}, tuple(notes))

