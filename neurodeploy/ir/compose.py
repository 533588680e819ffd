"""Compose the linear layers between two neuron layers into one weighted layer, exactly.

Every linear step is written as a full 2-D cross-correlation (groups expanded, dilation spread
into the kernel): Conv2d as is, AvgPool2d as a diagonal conv with weights 1/(kH kW), SumPool2d
with weights 1, BatchNorm as a diagonal 1x1 conv with bias, an Affine after a Flatten of a
(C, H, W) map as a conv with an (H, W) kernel, an Affine on a vector (N,) as a 1x1 conv on
(N, 1, 1). Two convs A then B (strides s, paddings p, kernels k) are one conv C:

    k_C = k_A + (k_B - 1) s_A,   s_C = s_A s_B,   p_C = p_A + p_B s_A
    W_C[o, i, u] = sum_{m, a} W_B[o, m, a] W_A[m, i, u - a s_A]
    b_C[o] = b_B[o] + sum_{m, a} W_B[o, m, a] b_A[m]

This is exact when B reads no padding (p_B = 0), and otherwise when B's padding reads what A
computes from padding alone: b_A = 0, k_A <= s_A + p_A and A covers its input to the last row
(a pool over a map its size divides). Loihi has no pooling layer; this folds pools into the
weights next to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neurodeploy.ir import nodes


class NotComposable(ValueError):
    """A sequence of linear layers whose composition would not be exact; says why."""


@dataclass(frozen=True)
class _Conv:
    """A full cross-correlation on (C, H, W): weight (O, C, kH, kW), bias (O,)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]

    def output_shape(self, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        k, s, p = self.weight.shape[2:], self.stride, self.padding
        return (self.weight.shape[0],
                *((shape[1 + d] + 2 * p[d] - k[d]) // s[d] + 1 for d in range(2)))


def _diagonal(channels: int, kernel: tuple[int, int], value: float) -> np.ndarray:
    weight = np.zeros((channels, channels, *kernel))
    weight[np.arange(channels), np.arange(channels)] = value
    return weight


def _full_conv(node: nodes.Conv2d) -> _Conv:
    weight = np.asarray(node.weight, np.float64)
    out, per_group, kh, kw = weight.shape
    dh, dw = node.dilation
    spread = np.zeros((out, per_group, dh * (kh - 1) + 1, dw * (kw - 1) + 1))
    spread[:, :, ::dh, ::dw] = weight
    full = np.zeros((out, per_group * node.groups, *spread.shape[2:]))
    per_out = out // node.groups
    for group in range(node.groups):
        rows, cols = slice(group * per_out, (group + 1) * per_out), slice(
            group * per_group, (group + 1) * per_group)
        full[rows, cols] = spread[rows]
    bias = np.zeros(out) if node.bias is None else np.asarray(node.bias, np.float64)
    return _Conv(full, bias, tuple(node.stride), tuple(node.padding))


def _as_conv(node: object, shape: tuple[int, int, int]) -> _Conv:
    """`node` on the map `shape` (for an Affine: the map a Flatten before it flattened) as a full
    conv."""
    if isinstance(node, nodes.Conv2d):
        return _full_conv(node)
    if isinstance(node, nodes.AvgPool2d | nodes.SumPool2d):
        kernel = tuple(node.kernel_size)
        value = 1.0 / (kernel[0] * kernel[1]) if isinstance(node, nodes.AvgPool2d) else 1.0
        return _Conv(_diagonal(shape[0], kernel, value), np.zeros(shape[0]),
                     tuple(node.stride), tuple(node.padding))
    if isinstance(node, nodes.BatchNorm):
        scale, shift = node.scale_shift()
        weight = _diagonal(shape[0], (1, 1), 1.0) * scale.reshape(-1, 1, 1, 1)
        return _Conv(weight, shift, (1, 1), (0, 0))
    if isinstance(node, nodes.Affine):
        weight = np.asarray(node.weight, np.float64).reshape(node.weight.shape[0], *shape)
        bias = (np.zeros(weight.shape[0]) if node.bias is None
                else np.asarray(node.bias, np.float64))
        return _Conv(weight, bias, (1, 1), (0, 0))
    raise NotComposable(f"a {type(node).__name__} is not a linear layer")


def _then(a: _Conv, b: _Conv, shape: tuple[int, int, int]) -> _Conv:
    """A on the map `shape`, then B: one conv (see the module docstring)."""
    mid = a.output_shape(shape)
    if any(b.padding):
        ka = a.weight.shape[2:]
        for d, axis in enumerate(("rows", "columns")):
            covers = mid[1 + d] * a.stride[d] - a.padding[d] >= shape[1 + d]
            if np.any(a.bias) or ka[d] > a.stride[d] + a.padding[d] or not covers:
                raise NotComposable(f"a padded layer reads {axis} its predecessor computes "
                                    "from real inputs or a bias, not zeros")
    kb = b.weight.shape[2:]
    kernel = tuple(a.weight.shape[2 + d] + (kb[d] - 1) * a.stride[d] for d in range(2))
    weight = np.zeros((b.weight.shape[0], a.weight.shape[1], *kernel))
    for i in range(kb[0]):
        for j in range(kb[1]):
            u, v = i * a.stride[0], j * a.stride[1]
            weight[:, :, u:u + a.weight.shape[2], v:v + a.weight.shape[3]] += np.einsum(
                "om,mihw->oihw", b.weight[:, :, i, j], a.weight)
    bias = b.bias + np.einsum("omhw,m->o", b.weight, a.bias)
    return _Conv(weight, bias,
                 tuple(a.stride[d] * b.stride[d] for d in range(2)),
                 tuple(a.padding[d] + b.padding[d] * a.stride[d] for d in range(2)))


def compose_linear(steps: Sequence[object], input_shape: tuple[int, ...]
                   ) -> nodes.Conv2d | nodes.Affine:
    """The one Conv2d (output a map) or Affine (on the flattened input; output a vector) that
    computes `steps` (Conv2d, Affine, AvgPool2d, SumPool2d, BatchNorm, Flatten) applied in
    order to an input of `input_shape`. Raises NotComposable where that would not be exact."""
    source = tuple(input_shape) if len(input_shape) == 3 else (int(np.prod(input_shape)), 1, 1)
    shape, composite = source, None
    vector = len(input_shape) != 3  # the output is a vector (after a Flatten or an Affine)
    for node in steps:
        vector = vector or isinstance(node, nodes.Flatten | nodes.Affine)
        if isinstance(node, nodes.Flatten):
            continue  # a Flatten keeps the map: the Affine after it reads the map as a kernel
        conv = _as_conv(node, shape)
        composite = conv if composite is None else _then(composite, conv, source)
        shape = conv.output_shape(shape)
    if composite is None:
        raise NotComposable("there is no linear layer to compose")
    if not vector:
        return nodes.Conv2d(composite.weight, composite.bias, composite.stride, composite.padding)
    # one output position: place the kernel on the padded input, drop the padding
    (ph, pw), (h, w) = composite.padding, source[1:]
    canvas = np.zeros((composite.weight.shape[0], source[0], h + 2 * ph, w + 2 * pw))
    kh, kw = composite.weight.shape[2:]
    canvas[:, :, :kh, :kw] = composite.weight
    weight = canvas[:, :, ph:ph + h, pw:pw + w].reshape(composite.weight.shape[0], -1)
    return nodes.Affine(weight, composite.bias)
