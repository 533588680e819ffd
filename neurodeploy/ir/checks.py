"""The rules every node of a float Network keeps, checked when the Network is built.

Whatever a model came from (a torch module, a .pt, a NIR file of any producer, an ONNX ANN), its
parameters must be finite numbers within float32's range (the float reference computes in
float32, where a larger value is infinite) of the shapes the node's update needs, thresholds positive,
structural fields (strides, paddings, groups) sensible, and no node larger than MAX_NODE_SIZE
values per sample. A rule broken is a ValueError naming the field; `Network` turns it into one
line naming the layer.
"""

from __future__ import annotations

import math

import numpy as np

from neurodeploy.ir import nodes

#: the largest number of values a node may hold per sample (bounds memory before allocation)
MAX_NODE_SIZE = 1 << 26
#: the largest magnitude a parameter may have: float32's largest finite value
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _array(name: str, value: object) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"'{name}' must hold numbers, got {array.dtype}")
    if array.size > 1 << 30:
        raise ValueError(f"'{name}' holds {array.size:,} values")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"'{name}' holds NaN or infinity")
    largest = float(np.max(np.abs(array))) if array.dtype.kind == "f" and array.size else 0.0
    if largest > FLOAT32_MAX:
        raise ValueError(f"'{name}' holds {largest:.3g}, beyond float32's range "
                         f"(|value| <= {FLOAT32_MAX:.4g})")
    return array


def _per_neuron(name: str, value: object, shape: tuple[int, ...], positive: bool = False,
                exact: bool = False) -> None:
    array = _array(name, value)
    if exact and array.shape != tuple(shape):
        raise ValueError(f"'{name}' has shape {array.shape}; it needs one value per neuron {shape}")
    try:
        np.broadcast_shapes(array.shape, shape)
    except ValueError:
        raise ValueError(f"'{name}' of shape {array.shape} does not fit neurons {shape}") from None
    if np.broadcast_shapes(array.shape, shape) != tuple(shape):
        raise ValueError(f"'{name}' of shape {array.shape} does not fit neurons {shape}")
    if positive and np.any(array <= 0):
        raise ValueError(f"'{name}' must be positive")


def _scalar(name: str, value: object) -> None:
    try:
        number = float(value) if isinstance(value, int | float | np.number) else math.nan
    except OverflowError:  # an int beyond float64
        number = math.inf
    if not math.isfinite(number) or abs(number) > FLOAT32_MAX:
        raise ValueError(f"'{name}' must be a finite number within float32's range "
                         f"(|value| <= {FLOAT32_MAX:.4g}), got {value!r}")


def _pair(name: str, pair: tuple[int, ...], minimum: int) -> None:
    if len(pair) != 2 or any(int(v) < minimum or int(v) > 1 << 16 for v in pair):
        raise ValueError(f"'{name}' {tuple(pair)} must be two integers >= {minimum}")


def _weights(node: nodes.Affine | nodes.Conv2d, dims: int) -> np.ndarray:
    weight = _array("weight", node.weight)
    if weight.ndim != dims or 0 in weight.shape:
        raise ValueError(f"'weight' has shape {weight.shape}; it needs {dims} non-empty dimensions")
    if node.bias is not None and _array("bias", node.bias).shape != (weight.shape[0],):
        raise ValueError(f"'bias' has shape {np.shape(node.bias)}, not ({weight.shape[0]},)")
    return weight


def _synapse(node: nodes.SynapseNode, input_shape: tuple[int, ...]) -> None:
    if isinstance(node, nodes.Affine):
        _weights(node, 2)
    elif isinstance(node, nodes.Conv2d):
        weight = _weights(node, 4)
        _pair("stride", node.stride, 1)
        _pair("padding", node.padding, 0)
        _pair("dilation", node.dilation, 1)
        if not 1 <= node.groups <= weight.shape[0] or weight.shape[0] % node.groups:
            raise ValueError(f"'groups' {node.groups} does not divide {weight.shape[0]} outputs")
    elif isinstance(node, nodes.BatchNorm):
        channels = (input_shape[0],)
        if len(input_shape) != (3 if node.spatial else 1):
            raise ValueError(f"a BatchNorm{2 if node.spatial else 1}d takes "
                             f"{'(C, H, W)' if node.spatial else '(C,)'}, got {input_shape}")
        for name in ("mean", "var", "weight", "bias"):
            if _array(name, getattr(node, name)).shape != channels:
                raise ValueError(f"'{name}' must have one value per channel {channels}")
        _scalar("eps", node.eps)
        if np.any(np.asarray(node.var) + node.eps <= 0):
            raise ValueError("'var' + eps must be positive")
    elif isinstance(node, nodes.AvgPool2d | nodes.SumPool2d):
        _pair("kernel_size", node.kernel_size, 1)
        _pair("stride", node.stride, 1)
        _pair("padding", node.padding, 0)
        if any(2 * p > k for p, k in zip(node.padding, node.kernel_size, strict=True)):
            raise ValueError("'padding' must be at most half the kernel size")
        if len(input_shape) != 3:
            raise ValueError(f"a 2-D pool takes (C, H, W), got {input_shape}")


def _neuron(node: nodes.NeuronNode, shape: tuple[int, ...]) -> None:
    if isinstance(node, nodes.IAF):
        _per_neuron("threshold", node.threshold, shape, positive=True)
        if node.min_v is not None:
            _per_neuron("min_v", node.min_v, shape)
        if node.strict and node.spike is not nodes.Spikes.SINGLE:
            raise ValueError("strict thresholds need single spikes")
    elif isinstance(node, nodes.LIF):
        _per_neuron("beta", node.beta, shape)
        _per_neuron("threshold", node.threshold, shape, positive=True)
    elif isinstance(node, nodes.CubaLIF):
        _per_neuron("alpha", node.alpha, shape)
        _per_neuron("beta", node.beta, shape)
        _per_neuron("threshold", node.threshold, shape, positive=True)
    elif isinstance(node, nodes.SNU):
        _per_neuron("decay", node.decay, shape)
        _per_neuron("bias", node.bias, shape, exact=True)
        if node.recurrent is not None and _array("recurrent", node.recurrent).shape != (
                math.prod(shape),) * 2:
            raise ValueError(f"'recurrent' must be ({math.prod(shape)}, {math.prod(shape)})")
    elif isinstance(node, nodes.SRC):
        if len(shape) != 1:
            raise ValueError(f"SRC neurons take 1-D input, got {shape}")
        _per_neuron("bias", node.bias, shape, exact=True)
        for name in ("alpha", "rho", "r", "rs", "z", "zs_hyp", "zs_dep", "bias_max"):
            _scalar(name, getattr(node, name))
        if node.rho <= 0:
            raise ValueError("'rho' must be positive")
    elif isinstance(node, nodes.LI):
        _per_neuron("alpha", node.alpha, shape)
    elif isinstance(node, nodes.GRU):
        hidden = _array("weight_hh", node.weight_hh).shape
        if len(hidden) != 2 or hidden[0] != 3 * hidden[1] or hidden[1] == 0:
            raise ValueError(f"'weight_hh' must be (3H, H), got {hidden}")
        if _array("weight_ih", node.weight_ih).shape != (hidden[0], shape[0]):
            raise ValueError(f"'weight_ih' must be ({hidden[0]}, {shape[0]})")
        for name in ("bias_ih", "bias_hh"):
            if _array(name, getattr(node, name)).shape != (hidden[0],):
                raise ValueError(f"'{name}' must be ({hidden[0]},)")


def check_node(node: nodes.Node, input_shape: tuple[int, ...]) -> None:
    """ValueError naming the field when `node`, fed `input_shape`, breaks a rule."""
    if math.prod(input_shape) > MAX_NODE_SIZE or min(input_shape, default=0) < 1:
        raise ValueError(f"input shape {input_shape} is empty or larger than {MAX_NODE_SIZE:,}")
    if nodes.is_neuron(node):
        _neuron(node, input_shape)
    else:
        _synapse(node, input_shape)
