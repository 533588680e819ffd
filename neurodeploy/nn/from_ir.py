"""IR node -> torch module: the `neurodeploy.nn` layer that computes exactly what the node means."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neurodeploy import ir
from neurodeploy.nn.cuba import CubaLIF
from neurodeploy.nn.gru import GRU
from neurodeploy.nn.iaf import IAF
from neurodeploy.nn.lif import LIF
from neurodeploy.nn.readout import LI
from neurodeploy.nn.snu import SNU, SoftSNU
from neurodeploy.nn.src import SRC


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, dtype=np.float32).copy())


def _with_parameters(layer: nn.Module, node: ir.Affine | ir.Conv2d) -> nn.Module:
    with torch.no_grad():
        layer.weight.copy_(_tensor(node.weight))
        if node.bias is not None:
            layer.bias.copy_(_tensor(node.bias))
    return layer


def module_from_node(node: ir.nodes.Node) -> nn.Module:
    """The torch module of one IR node, with parameters copied exactly."""
    if isinstance(node, ir.Affine):
        out_features, in_features = node.weight.shape
        return _with_parameters(nn.Linear(in_features, out_features, bias=node.bias is not None),
                                node)
    if isinstance(node, ir.Conv2d):
        out_c, in_per_group, kh, kw = node.weight.shape
        return _with_parameters(nn.Conv2d(in_per_group * node.groups, out_c, (kh, kw), node.stride,
                                          node.padding, node.dilation, node.groups,
                                          bias=node.bias is not None), node)
    if isinstance(node, ir.BatchNorm):
        channels = node.mean.shape[0]
        layer = (nn.BatchNorm2d if node.spatial else nn.BatchNorm1d)(channels,
                                                                                  eps=node.eps)
        with torch.no_grad():
            layer.running_mean.copy_(_tensor(node.mean))
            layer.running_var.copy_(_tensor(node.var))
            layer.weight.copy_(_tensor(node.weight))
            layer.bias.copy_(_tensor(node.bias))
        return layer.eval()
    if isinstance(node, ir.AvgPool2d):
        return nn.AvgPool2d(node.kernel_size, node.stride, node.padding)
    if isinstance(node, ir.SumPool2d):
        return nn.AvgPool2d(node.kernel_size, node.stride, node.padding, divisor_override=1)
    if isinstance(node, ir.Flatten):
        return nn.Flatten()
    if isinstance(node, ir.IAF):
        min_v = None if node.min_v is None else _tensor(node.min_v)
        return IAF(_tensor(node.threshold), node.spike, node.reset, min_v, node.strict)
    if isinstance(node, ir.LIF):
        return LIF(_tensor(node.beta), _tensor(node.threshold), node.reset, node.reset_delay)
    if isinstance(node, ir.CubaLIF):
        return CubaLIF(_tensor(node.alpha), _tensor(node.beta), _tensor(node.threshold),
                       str(node.reset), node.reset_delay)
    if isinstance(node, ir.SNU):
        cls = SoftSNU if node.soft else SNU
        layer = cls(node.bias.shape, recurrent=node.recurrent is not None)
        with torch.no_grad():
            layer.decay = _tensor(node.decay)
            layer.bias.copy_(_tensor(node.bias))
            if node.recurrent is not None:
                layer.recurrent.weight.copy_(_tensor(node.recurrent))
        return layer
    if isinstance(node, ir.SRC):
        layer = SRC(node.bias.shape[0], node.alpha, node.rho, node.r, node.rs, node.z,
                         node.zs_hyp, node.zs_dep, bias_max=node.bias_max)
        with torch.no_grad():
            layer.bias.copy_(_tensor(node.bias))
        return layer
    if isinstance(node, ir.LI):
        return LI(_tensor(node.alpha))
    if isinstance(node, ir.GRU):
        layer = GRU(node.weight_ih.shape[1], node.weight_hh.shape[1])
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(layer.cell, f"{name}_l0").copy_(_tensor(getattr(node, name)))
        return layer.eval()
    raise TypeError(f"no torch module for {type(node).__name__}")
