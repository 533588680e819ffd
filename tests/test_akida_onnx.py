"""The akida target's ONNX form: onnxruntime running model.onnx equals the golden model bit for
bit (outputs and every layer's integers), op types follow the grammar, the bytes are
deterministic and the model passes onnx's full check. Real onnx and onnxruntime, no mocks."""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurodeploy.engine.golden import simulate_program
from neurodeploy.errors import InvalidFileError, ShapeError, UnsupportedModelError
from neurodeploy.ir.graph import INPUT, Edge
from neurodeploy.program.formats import Rounding
from neurodeploy.program.graph import InputFormat, Program
from neurodeploy.targets.akida.executor import OnnxRuntimeExecutor
from neurodeploy.targets.akida.nodes import AkidaConv, AkidaDense, AkidaLayer, Pool
from neurodeploy.targets.akida.onnx_model import DOMAIN, MODEL_FILE, onnx_model, write_onnx
from neurodeploy.targets.akida.spec import WEIGHT_RANGES, activation_range

GRAMMAR = re.compile(r"(QuantizedDense1D|QuantizedConv2D)(Flatten)?(Biased)?"
                     r"(MaxPool|GlobalAvgPool|AvgPool)?(ReLUClipped)?(Scaled)?")
POOL_NAMES = {Pool.MAX: "MaxPool", Pool.GLOBAL: "GlobalAvgPool", Pool.AVERAGE: "AvgPool"}
EXACT = 1 << 24
INT32_MAX = (1 << 31) - 1
EXECUTOR = OnnxRuntimeExecutor()


# ----------------------------------------------------------------------------- random chains

def _shape_after_conv(shape, kernel, stride, padding):
    return tuple((size + 2 * p - k) // s + 1
                 for size, k, s, p in zip(shape[1:], kernel, stride, padding, strict=True))


def _geometry(rng, shape, pool):
    """kernel, stride, padding and pool size of a convolution that fits `shape` (C, H, W)."""
    for _ in range(50):
        kernel = tuple(int(k) for k in rng.integers(1, 4, 2))
        stride = tuple(int(s) for s in rng.integers(1, 3, 2))
        # padding <= (k - 1) / 2: beyond it the golden model's Conv2d._fan_out fails
        padding = tuple(int(rng.integers(0, (k - 1) // 2 + 1)) for k in kernel)
        height, width = _shape_after_conv(shape, kernel, stride, padding)
        if min(height, width) >= 1:
            break
    else:
        kernel, stride, padding = (1, 1), (1, 1), (0, 0)
        height, width = shape[1:]
    size = (1, 1)
    if pool in (Pool.MAX, Pool.AVERAGE):
        size = (int(rng.integers(1, min(3, height) + 1)), int(rng.integers(1, min(3, width) + 1)))
    return kernel, stride, padding, size, height, width


def _near_saturation(high, factor, scale, shift):
    """Per channel, the largest max_value v whose scaled output floor(v f M / 2^e + 1/2) is
    at most `high` (the value at which a low-bit output starts to saturate)."""
    return np.array([max(0, math.floor(Fraction(2 * high + 1, 2) * Fraction(2) ** int(e)
                                       / (factor * int(m)) - Fraction(1, 1 << 40)))
                     for m, e in zip(scale, shift, strict=True)], np.int64)


def random_layer(rng, plan: dict, shape: tuple[int, ...], in_bits: int) -> AkidaLayer:
    """A layer of `plan` whose arrays satisfy `AkidaLayer.validate`'s bounds by construction."""
    conv = plan["kind"] == "conv"
    channels = int(rng.integers(1, 9))
    low, high = WEIGHT_RANGES[plan["weight_bits"]]
    geometry: dict = {}
    factor = 1
    if conv:
        kernel, stride, padding, size, height, width = _geometry(rng, shape, plan["pool"])
        weight_shape = (channels, shape[0], *kernel)
        geometry = dict(stride=stride, padding=padding, pool=plan["pool"], pool_size=size)
        factor = {Pool.AVERAGE: size[0] * size[1], Pool.GLOBAL: height * width}.get(plan["pool"], 1)
    else:
        weight_shape = (channels, math.prod(shape))
    weight = rng.integers(low, high + 1, weight_shape)
    if rng.random() < 0.4:
        weight = weight * (rng.random(weight_shape) < 0.5)
    weight = weight.astype(np.int8)
    limit = max(-activation_range(in_bits)[0], activation_range(in_bits)[1])
    row = np.abs(weight.reshape(channels, -1).astype(np.int64)).sum(axis=1) * limit
    relu = plan["relu"] or (plan["scaled"] and plan["out_bits"] < 8) \
        or int(row.max()) * factor > EXACT
    typical = max(1.0, float(row.mean()) / 4)
    budget = EXACT - row if relu else EXACT // factor - row
    mantissa = rng.integers(-128, 128, channels)
    shift = np.clip(np.round(np.log2(typical)) - 7 + rng.integers(-3, 4, channels), 0, 23)
    bias = mantissa.astype(np.int64) << shift.astype(np.int64)
    while np.any(np.abs(bias) > budget):
        bias = np.where(np.abs(bias) > budget, np.sign(bias) * (np.abs(bias) // 2), bias)
    if rng.random() < 0.3:
        bias[:] = 0
    acc = row + np.abs(bias)
    typical = max(typical, float(np.abs(bias).mean()))
    out_high = activation_range(plan["out_bits"])[1] if plan["scaled"] else 1 << 20
    scale = rng.integers(1, 256, channels)
    if not relu:
        scale = np.minimum(scale, INT32_MAX // np.maximum(acc * factor, 1))
    natural = np.round(np.log2(typical * factor * scale / out_high)) + rng.integers(-2, 3, channels)
    wild = rng.integers(-31, 33, channels)
    shift = np.clip(np.where(rng.random(channels) < 0.15, wild, natural), -31, 32).astype(np.int64)
    cap = np.full(channels, EXACT // factor, np.int64)
    if plan["scaled"]:
        cap = np.minimum(cap, INT32_MAX // (factor * scale))
    choices = [rng.integers(0, np.minimum(cap, 4 * int(typical) + 2) + 1), cap,
               np.minimum(acc, cap)]
    if plan["scaled"] and plan["out_bits"] < 8:
        edge = _near_saturation(out_high, factor, scale, shift)
        choices += [np.minimum(edge, cap), np.minimum(edge + 1, cap)]
    max_value = choices[int(rng.integers(0, len(choices)))] if relu else np.zeros(channels)
    unit = np.float32(2.0 ** rng.integers(-8, 2) * rng.uniform(0.5, 1.0, channels))
    if conv or rng.random() < 0.3:
        unit = unit[:1]
    fields = dict(weight=weight, bias=bias.astype(np.int64), max_value=max_value.astype(np.int64),
                  scale=scale.astype(np.int64), shift=shift, output_unit=unit.astype(np.float32),
                  relu=bool(relu), scaled=plan["scaled"], input_bits=in_bits,
                  weight_bits=plan["weight_bits"], output_bits=plan["out_bits"])
    return AkidaConv(**fields, **geometry) if conv else AkidaDense(**fields)


def random_input(rng, program: Program) -> np.ndarray:
    """(T, B, *shape) real input: half-integer multiples of the scale (ties for half-even
    rounding, beyond the int8 range too) or continuous values, some zeros."""
    steps, batch = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    shape = (steps, batch, *program.input.shape)
    scale = program.input.scale
    if rng.random() < 0.6:
        x = rng.integers(-300, 301, shape) // steps * 0.5 * scale
    else:
        x = rng.normal(0.0, 60.0 * scale / steps, shape)
    return (x * (rng.random(shape) < 0.8)).astype(np.float32)


layer_plans = st.fixed_dictionaries({
    "kind": st.sampled_from(["dense", "conv"]), "weight_bits": st.sampled_from([2, 4, 8]),
    "out_bits": st.sampled_from([1, 2, 4, 8]), "relu": st.booleans(),
    "pool": st.sampled_from(list(Pool)), "scaled": st.booleans()})


@st.composite
def chains(draw) -> tuple[Program, np.ndarray]:
    """A valid Akida chain of 1-3 layers and an input for it."""
    plans = draw(st.lists(layer_plans, min_size=1, max_size=3))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    if plans[0]["kind"] == "conv" or rng.random() < 0.3:
        shape: tuple[int, ...] = tuple(int(v) for v in (rng.integers(1, 4), *rng.integers(2, 9, 2)))
    else:
        shape = (int(rng.integers(1, 40)),)
    input_format = InputFormat(shape, 2.0 ** int(rng.integers(-4, 3)), 8, window=True,
                               rounding=Rounding.HALF_EVEN)
    nodes, edges, source, bits = {}, [], INPUT, 8
    for index, plan in enumerate(plans):
        plan = {**plan, "kind": plan["kind"] if len(shape) == 3 else "dense",
                "scaled": plan["scaled"] or index < len(plans) - 1}
        name = f"{plan['kind']}{index}" if index % 2 else f"layer.{index}/{plan['kind']}"
        layer = random_layer(rng, plan, shape, bits)
        nodes[name] = layer
        edges.append(Edge(source, name))
        shape = layer.output_shape(shape)
        source, bits = name, plan["out_bits"]
    program = Program("akida", input_format, nodes, edges, source)
    return program, random_input(rng, program)


# ----------------------------------------------------------------------------- comparison

def check_op_types(program: Program, model: onnx.ModelProto) -> list[str]:
    """Every layer's op type against the grammar and the layer; the functions are those used."""
    op_types = []
    for node in model.graph.node:
        if node.name not in program.nodes:
            continue
        layer = program.nodes[node.name]
        match = GRAMMAR.fullmatch(node.op_type)
        assert match and node.domain == DOMAIN, node.op_type
        base, flatten, biased, pool, relu, scaled = match.groups()
        conv = isinstance(layer, AkidaConv)
        assert (base == "QuantizedConv2D") == conv
        assert bool(flatten) == (not conv and len(program.input_shape_of(node.name)) > 1)
        assert bool(biased) == bool(np.any(layer.bias != 0))
        assert pool == (POOL_NAMES.get(layer.pool) if conv else None)
        assert (bool(relu), bool(scaled)) == (layer.relu, layer.scaled)
        op_types.append(node.op_type)
    assert [f.name for f in model.functions] == list(dict.fromkeys(
        ["InputQuantizer", *op_types, "Dequantizer"]))
    return op_types


def compare(program: Program, x: np.ndarray, directory: Path) -> int:
    """Write model.onnx, run it in onnxruntime and the golden model; assert bit equality.
    Returns the number of integers compared."""
    write_onnx(program, directory / MODEL_FILE)
    ours = EXECUTOR.run(directory, program, x)
    golden = simulate_program(program, x, record_outputs=True)
    assert ours.output.dtype == golden.output.dtype == np.float32
    assert ours.output.shape == golden.output.shape
    assert np.array_equal(ours.output, golden.output)
    assert ours.graded == golden.graded == frozenset(program.nodes)
    compared = 0
    for name in program.order:
        assert np.array_equal(ours.node_outputs[name], golden.node_outputs[name]), name
        assert np.array_equal(ours.events[name], golden.events[name]), name
        assert np.array_equal(ours.spikes[name], golden.spikes[name]), name
        compared += ours.node_outputs[name].size
    return compared


def test_onnxruntime_equals_the_golden_model_on_random_chains(capsys):
    stats: Counter = Counter()

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(chains())
    def check(case: tuple[Program, np.ndarray]) -> None:
        program, x = case
        model = onnx_model(program)
        onnx.checker.check_model(model, full_check=True)
        stats.update(check_op_types(program, model))
        with tempfile.TemporaryDirectory() as directory:
            stats["integers"] += compare(program, x, Path(directory))
        stats["chains"] += 1
        stats["layers"] += len(program.nodes)
        for layer in program.nodes.values():
            stats[f"e>={18}"] += int(np.sum(layer.shift >= 18))
            stats[f"out{layer.output_bits if layer.scaled else 32}"] += 1

    check()
    kinds = sorted(k for k in stats if k.startswith("Quantized"))
    assert all(any(p in k for k in kinds) for p in POOL_NAMES.values())
    assert {"out1", "out2", "out4", "out8", "out32"} <= set(stats)
    with capsys.disabled():
        print(f"\nakida onnx: {stats['chains']} random chains ({stats['layers']} layers, "
              f"{len(kinds)} op types, {stats['e>=18']} channels with e >= 18): onnxruntime == "
              f"golden on {stats['integers']} layer integers")


# ----------------------------------------------------------------------------- near .5 ties

def tie_channels(rng) -> list[tuple[int, int, int]]:
    """(acc, M, e) with acc * M / 2^e on, just below or just above a .5 tie, e = 18..32, both
    signs (at e = 32 as close as int32 allows); |acc| + 256 <= 2^24, (|acc| + 130) M in int32."""
    cases = []
    for e in range(18, 33):
        for offset in (1, 0, -1, 2, -2):
            for _ in range(400):
                scale = int(rng.integers(1, 256))
                whole = int(rng.integers(0, max(1, min(126, (INT32_MAX >> e) - 1)) + 1))
                target = (whole << e) + (1 << (e - 1)) - offset
                acc = min(target, INT32_MAX - 130 * scale) // scale  # e = 32: below 2^31
                if acc * scale != target and e < 26:
                    continue  # below e = 26 only an exact product is close enough to the tie
                if abs(acc) + 256 <= EXACT and (abs(acc) + 130) * scale <= INT32_MAX:
                    sign = 1 if len(cases) % 2 else -1
                    cases.append((sign * acc, scale, e))
                    break
    return cases


def test_scale_out_near_ties_at_large_shifts(tmp_path, capsys):
    rng = np.random.default_rng(18)
    cases = tie_channels(rng)
    assert len({e for _, _, e in cases}) == 15 and len(cases) >= 60
    acc, scale, shift = (np.array(column, np.int64) for column in zip(*cases, strict=True))
    channels = len(cases)
    layer = AkidaDense(weight=np.ones((channels, 1), np.int8), bias=acc - 1,
                       max_value=np.zeros(channels, np.int64), scale=scale, shift=shift,
                       output_unit=np.full(channels, 0.25, np.float32), relu=False, scaled=True,
                       input_bits=8, weight_bits=8, output_bits=8)
    program = Program("akida", InputFormat((1,), 1.0, 8, window=True, rounding=Rounding.HALF_EVEN),
                      {"ties": layer}, [Edge(INPUT, "ties")], "ties")
    x = np.array([1.0, 0.0, 2.0, -1.0, 127.0, -128.0], np.float32).reshape(1, -1, 1)
    compared = compare(program, x, tmp_path)
    golden = simulate_program(program, x, record_outputs=True).node_outputs["ties"][0, 0] / 0.25
    exact = [max(-128, min(127, math.floor(Fraction(int(a) * int(m), 2 ** int(e)) + Fraction(1, 2))))
             for a, m, e in cases]
    assert golden.tolist() == exact
    float32 = np.clip(np.floor(acc.astype(np.float32) / np.float32(2.0) ** shift.astype(np.float32)
                               * scale.astype(np.float32) + np.float32(0.5)), -128, 127)
    wrong = int(np.sum(float32 != np.array(exact)))
    assert wrong > 0  # quantizeml's float32 chain would miss these; the float64 one does not
    with capsys.disabled():
        print(f"\nakida onnx: {channels} near-tie channels at e = 18..32, {compared} integers "
              f"equal; a float32 scale-out gets {wrong} of the {channels} on-tie samples wrong")


# ----------------------------------------------------------------------------- the file itself

def example_program() -> Program:
    """A fixed chain with every pool kind, a flatten, low-bit outputs and an int32 readout."""
    rng = np.random.default_rng(7)
    shape: tuple[int, ...] = (2, 8, 8)
    nodes, source, bits = {}, INPUT, 8
    for index, (kind, pool, out_bits, scaled) in enumerate([
            ("conv", Pool.MAX, 4, True), ("conv", Pool.AVERAGE, 2, True),
            ("conv", Pool.GLOBAL, 8, True), ("dense", Pool.NONE, 8, False)]):
        plan = dict(kind=kind, weight_bits=4, out_bits=out_bits, relu=True, pool=pool,
                    scaled=scaled)
        layer = random_layer(rng, plan, shape, bits)
        name = f"l{index}"
        nodes[name] = layer
        shape, source, bits = layer.output_shape(shape), name, out_bits
    edges = [Edge(a, b) for a, b in zip([INPUT, *list(nodes)[:-1]], nodes, strict=True)]
    return Program("akida", InputFormat((2, 8, 8), 0.25, 8, window=True,
                                        rounding=Rounding.HALF_EVEN), nodes, edges, source)


def test_the_bytes_depend_on_the_program_only(tmp_path):
    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    write_onnx(example_program(), first)
    write_onnx(example_program(), second)
    assert first.read_bytes() == second.read_bytes()
    script = ("import hashlib, sys; sys.path.insert(0, sys.argv[1]); import test_akida_onnx as t; "
              "from neurodeploy.targets.akida.onnx_model import onnx_model; print(hashlib.sha256("
              "onnx_model(t.example_program()).SerializeToString(deterministic=True)).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)],
                              env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True,
                              text=True, check=True).stdout.strip() for seed in ("1", "2")}
    assert digests == {hashlib.sha256(first.read_bytes()).hexdigest()}


def test_the_model_passes_the_full_onnx_check_and_keeps_the_public_form():
    program = example_program()
    model = onnx_model(program)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == 10 and model.producer_name == "neurodeploy"
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 21), (DOMAIN, 1)]
    op_types = [n.op_type for n in model.graph.node]
    assert (op_types[0], op_types[-1]) == ("InputQuantizer", "Dequantizer")
    assert re.fullmatch("QuantizedConv2D(Biased)?GlobalAvgPoolReLUClippedScaled", op_types[3])
    assert re.fullmatch("QuantizedDense1DFlatten(Biased)?ReLUClipped", op_types[4])
    names = {t.name: t for t in model.graph.initializer}
    assert names["l0_Wi"].data_type == onnx.TensorProto.INT8
    assert list(names["l0_M"].dims) == [1, program.nodes["l0"].channels, 1, 1]
    assert list(names["l0_pads"].dims) == [8] and "l3_max_value" in names
    inputs = {n.name: list(n.input) for n in model.graph.node}
    biased = ["l3_B"] if "Biased" in op_types[4] else []
    assert inputs["l3"] == ["l2", "l3_Wi", *biased, "l3_max_value"]  # unscaled: no M, S_out
    check_op_types(program, model)


def test_a_missing_or_corrupt_model_is_one_line_naming_the_file(tmp_path):
    program, x = example_program(), np.ones((2, 1, 2, 8, 8), np.float32)
    path = tmp_path / MODEL_FILE
    write_onnx(program, tmp_path / "whole.onnx")
    whole = (tmp_path / "whole.onnx").read_bytes()
    for content in (None, b"not a model", b"", whole[:len(whole) // 2], whole[:200]):
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(InvalidFileError) as error:
            EXECUTOR.run(tmp_path, program, x)
        message = str(error.value)
        assert str(path) in message and "\n" not in message, message
    write_onnx(program, path)
    assert np.array_equal(EXECUTOR.run(tmp_path, program, x).output,
                          simulate_program(program, x).output)
    program.nodes["l3"].output_unit = program.nodes["l3"].output_unit * 2  # not the file's
    with pytest.raises(InvalidFileError, match="Dequantizer"):
        EXECUTOR.run(tmp_path, program, x)
    with pytest.raises(ShapeError):
        EXECUTOR.run(tmp_path, program, x[:, :, :1])


def test_what_the_form_cannot_hold_is_refused():
    program = example_program()
    first = program.nodes["l0"]
    first.input_bits = 4  # a 4-bit layer would receive int8 input values
    with pytest.raises(UnsupportedModelError, match="l0"):
        onnx_model(Program("akida", program.input, program.nodes, program.edges, "l3"))
    assert EXECUTOR.unavailable() is None
