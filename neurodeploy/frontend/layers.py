"""One torch layer -> its IR node, parameters copied exactly (float32)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neurodeploy import ir
from neurodeploy import nn as ndnn
from neurodeploy.errors import UnsupportedModelError

SKIPPED = (nn.Identity, nn.Dropout)  # eval mode


def _array(tensor: torch.Tensor | float | None) -> np.ndarray | None:
    if tensor is None:
        return None
    return torch.as_tensor(tensor).detach().cpu().to(torch.float32).numpy().copy()


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def node_from_module(module: nn.Module) -> ir.nodes.Node:
    """The IR node of one torch layer, or UnsupportedModelError naming the class."""
    if isinstance(module, nn.Linear):
        return ir.Affine(_array(module.weight), _array(module.bias))
    if isinstance(module, nn.Conv2d):
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise UnsupportedModelError(
                "Conv2d needs numeric zero padding; use padding=(p, p) with padding_mode='zeros'")
        return ir.Conv2d(_array(module.weight), _array(module.bias), _pair(module.stride),
                         _pair(module.padding), _pair(module.dilation), int(module.groups))
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        if module.running_mean is None or module.running_var is None:
            raise UnsupportedModelError("BatchNorm without running statistics "
                                        "(track_running_stats=False) has no eval-mode form")
        ones = np.ones(module.num_features, np.float32)
        zeros = np.zeros(module.num_features, np.float32)
        return ir.BatchNorm(_array(module.running_mean), _array(module.running_var),
                            ones if module.weight is None else _array(module.weight),
                            zeros if module.bias is None else _array(module.bias),
                            float(module.eps), isinstance(module, nn.BatchNorm2d))
    if isinstance(module, nn.AvgPool2d):
        if module.ceil_mode or not module.count_include_pad or module.divisor_override not in (
                None, 1):
            raise UnsupportedModelError("AvgPool2d needs ceil_mode=False, count_include_pad=True "
                                        "and divisor_override None (average) or 1 (sum)")
        kernel = _pair(module.kernel_size)
        stride = _pair(module.stride if module.stride is not None else module.kernel_size)
        pool = ir.SumPool2d if module.divisor_override == 1 else ir.AvgPool2d
        return pool(kernel, stride, _pair(module.padding))
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise UnsupportedModelError("Flatten must flatten all features (start_dim=1, end_dim=-1)")
        return ir.Flatten()
    if isinstance(module, ndnn.IAF):
        return ir.IAF(_array(module.threshold), module.spike, module.reset, _array(module.min_v),
                      module.strict)
    if isinstance(module, ndnn.LIF):
        return ir.LIF(_array(module.beta), _array(module.threshold), module.reset,
                      module.reset_delay)
    if isinstance(module, ndnn.CubaLIF):
        return ir.CubaLIF(_array(module.alpha), _array(module.beta), _array(module.threshold),
                          module.reset, module.reset_delay)
    if isinstance(module, ndnn.SNU):
        recurrent = None if module.recurrent is None else _array(module.recurrent.weight)
        return ir.SNU(_array(module.decay), _array(module.bias), recurrent, module.soft)
    if isinstance(module, ndnn.SRC):
        return ir.SRC(_array(module.bias), module.alpha, module.rho, module.r, module.rs,
                      module.z, module.zs_hyp, module.zs_dep, module.bias_max)
    if isinstance(module, ndnn.LI):
        return ir.LI(_array(module.alpha))
    if isinstance(module, nn.GRU | ndnn.GRU):
        cell = module.cell if isinstance(module, ndnn.GRU) else module
        if cell.num_layers != 1 or cell.bidirectional or cell.batch_first or not cell.bias:
            raise UnsupportedModelError("GRU layers must be single-layer, unidirectional, "
                                        "time-major (batch_first=False) and have biases")
        return ir.GRU(_array(cell.weight_ih_l0), _array(cell.weight_hh_l0), _array(cell.bias_ih_l0),
                      _array(cell.bias_hh_l0))
    if isinstance(module, nn.ReLU):
        raise UnsupportedModelError(
            "ReLU is an ANN activation: convert the ANN with `neurodeploy ann2snn` first")
    raise UnsupportedModelError(
        f"unsupported layer {type(module).__module__}.{type(module).__name__}: supported are "
        "Linear, Conv2d, AvgPool2d, Flatten, BatchNorm1d/2d, GRU, Dropout, Identity and "
        "neurodeploy.nn IAF, LIF, CubaLIF, SNU, SoftSNU, SRC, LI (per-sample layers of a "
        "time-major model wrapped in neurodeploy.nn.PerStep)")


def infer_input_shape(first: nn.Module | None) -> tuple[int, ...] | None:
    """The per-step input shape a first layer implies (Linear, GRU), else None."""
    if isinstance(first, nn.Linear):
        return (first.in_features,)
    if isinstance(first, nn.GRU):
        return (first.input_size,)
    return None


def node_of(name: str, module: nn.Module) -> ir.nodes.Node:
    """node_from_module, with a module whose attributes are broken (a damaged or hand-edited
    file) refused in one line naming the layer."""
    try:
        return node_from_module(module)
    except UnsupportedModelError:
        raise
    except (AttributeError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise UnsupportedModelError(f"layer '{name}' ({type(module).__name__}) is malformed: "
                                    f"{str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}"
                                    ) from None
