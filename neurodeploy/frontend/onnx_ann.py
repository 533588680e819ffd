"""ONNX ReLU networks -> an equivalent torch `nn.Sequential` (then converted like any torch ANN).

Supported: Gemm, MatMul + Add, Conv (symmetric padding), Relu, Flatten, Reshape to (N, -1),
AveragePool, BatchNormalization (kept as a BatchNorm layer, folded later), Dropout and Identity;
a Softmax or LogSoftmax at the very end is dropped (it does not change the argmax). Anything
else is refused, naming the node and the reason. The graph must be a chain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurodeploy.errors import InvalidFileError, UnsupportedModelError

REASONS = {
    "MaxPool": "max pooling has no integrate-and-fire equivalent; use AveragePool",
    "Sigmoid": "sigmoid is not a ReLU; IAF neurons approximate ReLU only",
    "Tanh": "tanh is not a ReLU; IAF neurons approximate ReLU only",
    "Softmax": "softmax inside the network cannot be computed by spiking neurons",
    "LogSoftmax": "softmax inside the network cannot be computed by spiking neurons",
    "GlobalAveragePool": "use AveragePool with an explicit kernel",
}


def _attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _refuse(node, reason: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"ONNX node '{node.name or node.output[0]}' ({node.op_type}): "
                                 f"{reason}")


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _linear(weight: np.ndarray, bias: np.ndarray | None) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(_tensor(weight))
        if bias is not None:
            layer.bias.copy_(_tensor(bias))
    return layer


class _Builder:
    """Walks the chain of ONNX nodes and emits torch layers."""

    def __init__(self, model) -> None:
        from onnx import numpy_helper

        self.model = model
        self.constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        for node in model.graph.node:
            if node.op_type == "Constant":
                self.constants[node.output[0]] = numpy_helper.to_array(_attributes(node)["value"])
        self.layers: list[nn.Module] = []

    def _weight(self, node, index: int) -> np.ndarray | None:
        if len(node.input) <= index or not node.input[index]:
            return None
        if node.input[index] not in self.constants:
            raise _refuse(node, f"input '{node.input[index]}' must be a constant (initializer)")
        return self.constants[node.input[index]].astype(np.float32)

    def build(self) -> tuple[nn.Sequential, tuple[int, ...]]:
        graph = self.model.graph
        inputs = [i for i in graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            raise UnsupportedModelError(f"the ONNX graph needs one data input, has {len(inputs)}")
        dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim][1:]
        if not dims or any(d <= 0 for d in dims):
            raise UnsupportedModelError("the ONNX input needs fixed feature dimensions")
        current = inputs[0].name
        nodes = [n for n in graph.node if n.op_type != "Constant"]
        index = 0
        while index < len(nodes):
            node = nodes[index]
            if not node.input or node.input[0] != current:
                raise _refuse(node, "the graph is not a chain (branching is not supported)")
            last = index == len(nodes) - 1
            consumed = self._emit(node, nodes[index + 1] if not last else None, last)
            current = nodes[index + consumed - 1].output[0]
            index += consumed
        return nn.Sequential(*self.layers), tuple(int(d) for d in dims)

    def _emit(self, node, following, last: bool) -> int:
        """Append the layer(s) of `node`; return how many nodes were consumed."""
        op, attrs = node.op_type, _attributes(node)
        if op == "Gemm":
            weight, bias = self._weight(node, 1), self._weight(node, 2)
            if attrs.get("transA", 0):
                raise _refuse(node, "transA is not supported")
            weight = weight if attrs.get("transB", 0) else weight.T
            alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
            self.layers.append(_linear(weight * alpha, None if bias is None else bias * beta))
            return 1
        if op == "MatMul":
            weight = self._weight(node, 1).T
            bias = None
            if following is not None and following.op_type == "Add" and \
                    following.input[0] == node.output[0]:
                bias = self._weight(following, 1)
                self.layers.append(_linear(weight, bias))
                return 2
            self.layers.append(_linear(weight, None))
            return 1
        if op == "Conv":
            return self._conv(node, attrs)
        if op == "Relu":
            self.layers.append(nn.ReLU())
            return 1
        if op == "Flatten":
            if attrs.get("axis", 1) != 1:
                raise _refuse(node, "only axis=1 (flatten all features) is supported")
            self.layers.append(nn.Flatten())
            return 1
        if op == "Reshape":
            shape = self._weight(node, 1)
            if shape is None or shape.size != 2 or shape[1] not in (-1,) and shape[0] not in (-1, 0):
                raise _refuse(node, "only reshapes to (batch, -1) (flattening) are supported")
            self.layers.append(nn.Flatten())
            return 1
        if op == "AveragePool":
            if any(attrs.get("pads", [0])) or attrs.get("ceil_mode", 0):
                raise _refuse(node, "padded or ceil-mode average pools are not supported")
            kernel = tuple(attrs["kernel_shape"])
            self.layers.append(nn.AvgPool2d(kernel, tuple(attrs.get("strides", kernel))))
            return 1
        if op == "BatchNormalization":
            scale, shift, mean, var = (self._weight(node, i) for i in range(1, 5))
            norm = (nn.BatchNorm2d if self._after_conv() else nn.BatchNorm1d)(
                scale.shape[0], eps=attrs.get("epsilon", 1e-5))
            with torch.no_grad():
                norm.weight.copy_(_tensor(scale))
                norm.bias.copy_(_tensor(shift))
                norm.running_mean.copy_(_tensor(mean))
                norm.running_var.copy_(_tensor(var))
            self.layers.append(norm.eval())
            return 1
        if op in ("Dropout", "Identity"):
            return 1
        if op in ("Softmax", "LogSoftmax") and last:
            return 1  # the argmax of the output is unchanged
        raise _refuse(node, REASONS.get(op, "this operator is not supported in ReLU networks"))

    def _after_conv(self) -> bool:
        for layer in reversed(self.layers):
            if isinstance(layer, nn.Conv2d):
                return True
            if isinstance(layer, nn.Linear | nn.Flatten):
                return False
        return False

    def _conv(self, node, attrs: dict) -> int:
        weight, bias = self._weight(node, 1), self._weight(node, 2)
        if weight.ndim != 4:
            raise _refuse(node, "only 2-D convolutions are supported")
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        if pads[:2] != pads[2:]:
            raise _refuse(node, "asymmetric padding is not supported")
        groups = attrs.get("group", 1)
        layer = nn.Conv2d(weight.shape[1] * groups, weight.shape[0], tuple(weight.shape[2:]),
                          tuple(attrs.get("strides", [1, 1])), tuple(pads[:2]),
                          tuple(attrs.get("dilations", [1, 1])), groups, bias=bias is not None)
        with torch.no_grad():
            layer.weight.copy_(_tensor(weight))
            if bias is not None:
                layer.bias.copy_(_tensor(bias))
        self.layers.append(layer)
        return 1


def load_onnx_ann(path: str | Path) -> tuple[nn.Sequential, tuple[int, ...]]:
    """Read an ONNX ReLU network as a torch Sequential plus its per-sample input shape."""
    import onnx

    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises DecodeError, ValidationError, OSError, ...
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise InvalidFileError(f"{path}: not a valid ONNX model ({first}); export it again with "
                               "torch.onnx.export") from None
    try:
        return _Builder(model).build()
    except (UnsupportedModelError, InvalidFileError):
        raise
    except (RuntimeError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise InvalidFileError(f"{path}: its graph does not build ({_first_line(exc)}); export it "
                               "again with torch.onnx.export") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__


def run_onnx(path: str | Path, x: np.ndarray) -> np.ndarray:
    """The ONNX model's own output on static input `x` (B, *features), via onnxruntime."""
    import onnxruntime

    try:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4  # its failures become our one-line error, not log lines
        session = onnxruntime.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return session.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)})[0]
    except Exception as exc:  # onnxruntime's Fail, InvalidArgument, ... share no public base
        raise InvalidFileError(f"{path}: onnxruntime cannot run it ({_first_line(exc)}); export "
                               "it again with torch.onnx.export") from None
