"""An Akida Program as ONNX in quantizeml's public form (functions of the `com.brainchip` domain).

The graph: float32 frame `(N, *input.shape)` -> `InputQuantizer` (QuantizeLinear to int8 with
the input scale, ties to even) -> one node per layer -> `Dequantizer` (DequantizeLinear by the
output layer's `output_unit`) -> float32. A layer's op type is

    BASE [Flatten] [Biased] [MaxPool | GlobalAvgPool | AvgPool] [ReLUClipped] [Scaled]

with BASE `QuantizedDense1D` or `QuantizedConv2D` (`AvgPool`, Akida 1.0's k x k sum with
stride k after the activation, is our extension), each defined by a FunctionProto of standard
ops (opset 21) embedded in the model. Per output channel f the body computes, in float32 (exact:
`AkidaLayer.validate` proves every sum stays within 2^24):

    acc = Gemm/Conv(x, W) + B[f];  acc = maxpool(acc);  acc = min(relu(acc), max_value[f])
    acc = sum of k x k windows (a depthwise ones kernel) or of the whole map (ReduceSum)

then, unlike quantizeml's float32 chain (inexact for e >= 18), in float64:

    out = clip(floor(acc / S_out[f] * M[f] + 1/2), output_min, output_max)   as int8

with S_out = 2^e and the clip bounds the layer's output range (node attributes: [0, 2^b - 1]
below 8 bits, [-128, 127] at 8; quantizeml has 8 bits only and fixed constants), or, for an
unscaled layer, `out = acc` as int32. The bytes depend on the program only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from neurodeploy import __version__
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.ir.graph import INPUT, Edge
from neurodeploy.program.formats import Rounding
from neurodeploy.program.graph import Program
from neurodeploy.targets.akida.nodes import AkidaConv, AkidaDense, AkidaLayer, Pool
from neurodeploy.targets.akida.spec import activation_range

DOMAIN = "com.brainchip"
OPSET = 21
IR_VERSION = 10
MODEL_FILE = "model.onnx"
GRAPH_INPUT = "input"
QUANTIZER = "quantize"
DEQUANTIZER = "dequantizer"
POOL_SUFFIX = {Pool.NONE: "", Pool.MAX: "MaxPool", Pool.GLOBAL: "GlobalAvgPool",
               Pool.AVERAGE: "AvgPool"}
#: formal input of a layer function -> suffix of the initializer bound to it
INITIALIZER_SUFFIX = {"W": "_Wi", "bias": "_B", "pads": "_pads", "max_value": "_max_value",
                      "Scale": "_M", "Shift": "_S_out"}


@dataclass(frozen=True)
class LayerForm:
    """What a layer's function contains; its op type spells it out."""

    conv: bool
    flatten: bool
    biased: bool
    pool: Pool
    relu: bool
    scaled: bool

    @classmethod
    def of(cls, layer: AkidaLayer, input_shape: tuple[int, ...]) -> LayerForm:
        if isinstance(layer, AkidaConv):
            return cls(True, False, bool(np.any(layer.bias != 0)), layer.pool, layer.relu,
                       layer.scaled)
        return cls(False, len(input_shape) > 1, bool(np.any(layer.bias != 0)), Pool.NONE,
                   layer.relu, layer.scaled)

    @property
    def op_type(self) -> str:
        return ("QuantizedConv2D" if self.conv else "QuantizedDense1D") + "Flatten" * self.flatten \
            + "Biased" * self.biased + POOL_SUFFIX[self.pool] + "ReLUClipped" * self.relu \
            + "Scaled" * self.scaled

    @property
    def inputs(self) -> list[str]:
        """The function's formal inputs, in order (the node's inputs follow it)."""
        return ["X", "W"] + ["bias"] * self.biased + ["pads"] * self.conv \
            + ["max_value"] * self.relu + ["Scale", "Shift"] * self.scaled

    @property
    def attributes(self) -> list[str]:
        names = ["strides"] if self.conv else []
        if self.pool is Pool.MAX:
            names += ["pool_size", "pool_strides", "pool_pads"]
        elif self.pool is Pool.AVERAGE:
            names += ["pool_size", "pool_strides", "pool_groups"]
        return names + ["output_min", "output_max"] * self.scaled


class _Body:
    """Nodes of one function body, with generated tensor names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []

    def op(self, op_type: str, *inputs: str, output: str = "", **attributes: object) -> str:
        output = output or f"t{len(self.nodes)}_{op_type.lower()}"
        node = helper.make_node(op_type, list(inputs), [output])
        for name, value in attributes.items():
            node.attribute.append(value if isinstance(value, AttributeProto)
                                  else helper.make_attribute(name, value))
        self.nodes.append(node)
        return output

    def cast(self, name: str, to: int, output: str = "") -> str:
        return self.op("Cast", name, output=output, to=to)

    def constant(self, value: np.ndarray) -> str:
        return self.op("Constant", value=numpy_helper.from_array(value))


def _ref(name: str, kind: int, function_attribute: str) -> AttributeProto:
    """An attribute taking its value from the calling node's attribute `function_attribute`."""
    attribute = AttributeProto(name=name, type=kind)
    attribute.ref_attr_name = function_attribute
    return attribute


def _function(name: str, inputs: list[str], body: _Body, attributes: list[str] | None = None
              ) -> onnx.FunctionProto:
    return helper.make_function(DOMAIN, name, inputs, ["Y"], body.nodes,
                                [helper.make_opsetid("", OPSET)], attributes or [])


def _scale_out(body: _Body, acc: str) -> str:
    """clip(floor(acc / Shift * Scale + 1/2), output_min, output_max) in float64, as int8."""
    double = TensorProto.DOUBLE
    y = body.op("Div", body.cast(acc, double), body.cast("Shift", double))
    y = body.op("Mul", y, body.cast("Scale", double))
    y = body.op("Floor", body.op("Add", y, body.constant(np.array(0.5))))
    low, high = (body.cast(body.op("Constant", value_int=_ref("value_int", AttributeProto.INT,
                                                                bound)), double)
                 for bound in ("output_min", "output_max"))
    return body.cast(body.op("Clip", y, low, high), TensorProto.INT8, "Y")


def layer_function(form: LayerForm) -> onnx.FunctionProto:
    """The body of `form`'s op type (module docstring)."""
    body = _Body()
    ints = AttributeProto.INTS
    x = body.cast("X", TensorProto.FLOAT)
    operands = [body.cast("W", TensorProto.FLOAT)]
    if form.biased:
        operands.append(body.cast("bias", TensorProto.FLOAT))
    if form.conv:
        acc = body.op("Conv", body.op("Pad", x, "pads"), *operands,
                      strides=_ref("strides", ints, "strides"))
        if form.pool is Pool.MAX:
            acc = body.op("MaxPool", acc, kernel_shape=_ref("kernel_shape", ints, "pool_size"),
                          strides=_ref("strides", ints, "pool_strides"),
                          pads=_ref("pads", ints, "pool_pads"))
    else:
        acc = body.op("Gemm", body.op("Flatten", x) if form.flatten else x, *operands, transB=1)
    if form.relu:
        acc = body.op("Min", body.op("Relu", acc), body.cast("max_value", TensorProto.FLOAT))
    if form.pool is Pool.AVERAGE:
        channels = body.op("Shape", acc, start=1, end=2)
        size = body.op("Constant", value_ints=_ref("value_ints", ints, "pool_size"))
        shape = body.op("Concat", channels, body.constant(np.array([1])), size, axis=0)
        ones = body.op("ConstantOfShape", shape, value=numpy_helper.from_array(
            np.ones(1, np.float32)))
        acc = body.op("Conv", acc, ones, kernel_shape=_ref("kernel_shape", ints, "pool_size"),
                      strides=_ref("strides", ints, "pool_strides"),
                      group=_ref("group", AttributeProto.INT, "pool_groups"))
    elif form.pool is Pool.GLOBAL:
        acc = body.op("ReduceSum", acc, body.constant(np.array([2, 3])), keepdims=1)
    if form.scaled:
        _scale_out(body, acc)
    else:
        body.cast(acc, TensorProto.INT32, "Y")
    return _function(form.op_type, form.inputs, body, form.attributes)


def quantizer_function() -> onnx.FunctionProto:
    """InputQuantizer: y = saturate(round_half_even(x / scale) + zp), int8 like zp."""
    body = _Body()
    body.op("QuantizeLinear", body.cast("X", TensorProto.FLOAT), "scale", "zp", output="Y")
    return _function("InputQuantizer", ["X", "scale", "zp"], body)


def dequantizer_function() -> onnx.FunctionProto:
    """Dequantizer: y = x * scale (scale per channel on axis 1, or one)."""
    body = _Body()
    body.op("DequantizeLinear", "X", "scale", output="Y")
    return _function("Dequantizer", ["X", "scale"], body)


def chain_layers(program: Program) -> list[str]:
    """The layer names of an Akida chain, input first; UnsupportedModelError for anything the
    ONNX form cannot hold exactly."""
    names = list(program.order)
    chain = (INPUT, *names)
    expected = {Edge(source, target) for source, target in zip(chain, names, strict=False)}
    if set(program.edges) != expected or len(program.edges) != len(names) \
            or program.output != names[-1]:
        raise UnsupportedModelError("the ONNX form holds a chain of layers only: input -> "
                                    "layer -> ... -> output, without delays or branches")
    fmt = program.input
    if not (fmt.window and fmt.bits == 8 and fmt.rounding is Rounding.HALF_EVEN
            and float(np.float32(fmt.scale)) == fmt.scale):
        raise UnsupportedModelError(
            f"the ONNX input quantizer takes an 8-bit windowed input rounded half to even with a "
            f"float32 scale, not {fmt.bits} bits, window {fmt.window}, rounding {fmt.rounding}, "
            f"scale {fmt.scale}")
    source_range = activation_range(8)
    for index, name in enumerate(names):
        layer = program.nodes[name]
        if not isinstance(layer, AkidaDense | AkidaConv):
            raise UnsupportedModelError(f"node '{name}' ({layer.kind}) is not an Akida layer")
        low, high = activation_range(layer.input_bits)
        if source_range[0] < low or source_range[1] > high:
            raise UnsupportedModelError(f"layer '{name}' takes {layer.input_bits}-bit inputs but "
                                        f"receives values in {list(source_range)}")
        if not layer.scaled and index < len(names) - 1:
            raise UnsupportedModelError(f"layer '{name}' has an int32 output (not scaled) but "
                                        "feeds another layer")
        source_range = layer.output_range()
    return names


def _initializers(name: str, layer: AkidaLayer, form: LayerForm) -> list[TensorProto]:
    """The node's initializers, in the order of the function's formal inputs."""
    per_channel = (1, -1, 1, 1) if form.conv else (1, -1)
    pad_h, pad_w = layer.padding if isinstance(layer, AkidaConv) else (0, 0)
    arrays = {"W": layer.weight.astype(np.int8), "bias": layer.bias.astype(np.int32),
              "pads": np.array([0, 0, pad_h, pad_w, 0, 0, pad_h, pad_w], np.int64),
              "max_value": layer.max_value.astype(np.int32).reshape(per_channel),
              "Scale": layer.scale.astype(np.uint8).reshape(per_channel),
              "Shift": np.ldexp(1.0, layer.shift.astype(np.int64)).astype(np.float32).reshape(
                  per_channel)}
    return [numpy_helper.from_array(arrays[role], name + INITIALIZER_SUFFIX[role])
            for role in form.inputs[1:]]


def _attributes(layer: AkidaLayer, form: LayerForm) -> dict[str, object]:
    """The node's values of the function's attributes (pools: kernel = stride = pool size)."""
    low, high = layer.output_range()
    values: dict[str, object] = {"output_min": low, "output_max": high}
    if isinstance(layer, AkidaConv):
        size = [int(k) for k in layer.pool_size]
        values.update(strides=[int(s) for s in layer.stride], pool_size=size, pool_strides=size,
                      pool_pads=[0, 0, 0, 0], pool_groups=layer.channels)
    return {key: values[key] for key in form.attributes}


def _value(name: str, dtype: int, shape: tuple[int, ...]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, ["N", *shape])


def _check_names(nodes: list[onnx.NodeProto], initializers: list[TensorProto]) -> None:
    tensors = [GRAPH_INPUT, *(t.name for t in initializers), *(o for n in nodes for o in n.output)]
    for kind, names in (("tensor", tensors), ("node", [n.name for n in nodes])):
        clash = next((n for n in names if not n or names.count(n) > 1), None)
        if clash is not None:
            raise UnsupportedModelError(f"the ONNX {kind} name {clash!r} would be empty or used "
                                        "twice; rename the layer")


def onnx_model(program: Program) -> onnx.ModelProto:
    """The program as an ONNX model (module docstring); the same program gives the same bytes."""
    names = chain_layers(program)
    scale = np.array(program.input.scale, np.float32)
    initializers = [numpy_helper.from_array(scale, "quantize_scale"),
                    numpy_helper.from_array(np.array(0, np.int8), "quantize_zp")]
    nodes = [helper.make_node("InputQuantizer", [GRAPH_INPUT, "quantize_scale", "quantize_zp"],
                              [QUANTIZER], QUANTIZER, domain=DOMAIN)]
    values = [_value(QUANTIZER, TensorProto.INT8, program.input.shape)]
    functions = {"InputQuantizer": quantizer_function()}
    previous = QUANTIZER
    for name in names:
        layer = program.nodes[name]
        form = LayerForm.of(layer, program.input_shape_of(name))
        functions.setdefault(form.op_type, layer_function(form))
        tensors = _initializers(name, layer, form)
        initializers += tensors
        node = helper.make_node(form.op_type, [previous, *(t.name for t in tensors)], [name], name,
                                domain=DOMAIN)
        node.attribute.extend(helper.make_attribute(key, value)
                              for key, value in _attributes(layer, form).items())
        nodes.append(node)
        values.append(_value(name, TensorProto.INT8 if layer.scaled else TensorProto.INT32,
                             program.shapes[name]))
        previous = name
    last = program.output_node
    unit = np.asarray(last.output_unit, np.float32)
    per_channel = isinstance(last, AkidaDense) and unit.shape == (last.channels,)
    initializers.append(numpy_helper.from_array(unit if per_channel else unit.reshape(()),
                                                "dequantizer_scale"))
    output = f"{program.output}/dequantize"
    nodes.append(helper.make_node("Dequantizer", [previous, "dequantizer_scale"], [output],
                                  DEQUANTIZER, domain=DOMAIN))
    functions["Dequantizer"] = dequantizer_function()
    _check_names(nodes, initializers)
    graph = helper.make_graph(
        nodes, "akida", [_value(GRAPH_INPUT, TensorProto.FLOAT, program.input.shape)],
        [_value(output, TensorProto.FLOAT, program.shapes[program.output])], initializers,
        value_info=values)
    return helper.make_model(
        graph, ir_version=IR_VERSION, producer_name="neurodeploy", producer_version=__version__,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(DOMAIN, 1)],
        functions=list(functions.values()))


def write_onnx(program: Program, path: str | Path) -> None:
    """Write `onnx_model(program)` to `path`."""
    Path(path).write_bytes(onnx_model(program).SerializeToString(deterministic=True))
