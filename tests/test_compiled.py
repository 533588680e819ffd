"""The compiled neuron kernels against the reference kernels of `neurodeploy.program.kernels`.

The reference is the node's own `step` (numpy, every value in int64) looped over time after the
`Requantize.apply` of the accumulator: the specification. The compiled kernel must give the same
outputs, final states, saturation counts, events and sums bit for bit over random shapes (up to
several parallel jobs per sample), state widths 2..32, accumulators of every dtype the engine
passes, shifts both ways, biases past int32, thresholds and starting states at the format's edges.
A hypothesis test shrinks a failure; a bulk test runs CASES edge-heavy neurons per kind and mode
in one call each and asserts 0 mismatching neurons. The kernels' event-driven mode (the Dense
feeding the neuron accumulated inside the kernel) is compared with `Dense.apply` followed by the
reference. The engine tests compare whole networks run with and without the compiled path, and
event-driven, dense and automatic. The compiled input quantization and event-driven
accumulation (Dense and Conv2d) and sum pooling are compared with `InputFormat.quantize`,
`Dense.apply` / `Dense.apply_events`, `Conv2d.apply` and `SumPool2d.apply`.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import model_path
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from int_cases import edge_integers

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.engine import compiled
from neurodeploy.engine.events import conv_events, dense_events
from neurodeploy.engine.fused import run_neuron
from neurodeploy.engine.golden import quantize_input, simulate_program
from neurodeploy.engine.pooling import sum_pool
from neurodeploy.program.formats import Format
from neurodeploy.program.graph import InputFormat
from neurodeploy.program.neurons import IAF, LI, LIF, CubaLIF
from neurodeploy.program.node import Tally
from neurodeploy.program.synapses import Conv2d, Dense, Product, Requantize, SumPool2d

CASES = 100_000


@pytest.fixture(scope="module", autouse=True)
def parallel_always():
    """Every kernel call here runs on the thread pool, split in (sample, neuron block) jobs, as
    large runs do (small ones run serially: `compiled.PARALLEL_WORK`)."""
    previous, compiled.PARALLEL_WORK = compiled.PARALLEL_WORK, 0
    yield
    compiled.PARALLEL_WORK = previous
KINDS = ("iaf", "lif", "cubalif", "li")
ACC_DTYPES = (np.float32, np.float64, np.int8, np.int32, np.int64)


def make_node(kind: str, rng: np.random.Generator, n: int, bits: int, mode: int) -> object:
    """A node of `kind` with per-neuron constants drawn edge-heavy; `mode` picks its options."""
    fmt = Format(bits)
    theta = edge_integers(rng, 1, fmt.hi, n, (fmt.hi // 2, 2))
    q12 = edge_integers(rng, 0, 4096, n, (2048, 4095))
    unit = np.ones(n)
    reset = ("subtract", "zero")[mode % 2]
    if kind == "iaf":
        min_v = edge_integers(rng, fmt.lo, 0, n, (fmt.lo + 1,)) if mode & 4 else None
        multi = bool(mode & 2)
        return IAF(theta, "multi" if multi else "single", reset, not multi and bool(mode & 8),
                   min_v, fmt, unit)
    if kind == "lif":
        return LIF(q12, theta, reset, bool(mode & 2), fmt, unit)
    if kind == "cubalif":
        return CubaLIF(edge_integers(rng, 0, 4096, n, (4095,)), q12, theta, reset, bool(mode & 2),
                       fmt, unit)
    return LI(edge_integers(rng, -4096, 8192, n, (4096, 4095)), fmt, unit)


def accumulator(rng: np.random.Generator, shape: tuple[int, ...], dtype: type, shift: int
                ) -> np.ndarray:
    """Edge-heavy integers the dtype holds exactly, small enough that acc << shift < 2^59."""
    top = {np.float32: (1 << 24) - 1, np.int8: 127}.get(dtype, (1 << 31) - 1)
    if shift > 0:
        top = min(top, (1 << (59 - shift)) - 1)
    values = edge_integers(rng, -top, top, int(np.prod(shape)), (1 << 12, 1 << 20))
    return values.reshape(shape).astype(dtype)


def reference(node, acc: np.ndarray, requantize: Requantize, state: tuple) -> tuple:
    """Requantize.apply, then node.step over time: outputs, state, saturations."""
    inp = requantize.apply(acc, float(1 << 62))
    tally, outputs = Tally(), []
    for t in range(acc.shape[0]):
        out, state = node.step(state, inp[t].astype(np.int64), tally)
        outputs.append(out)
    return np.stack(outputs), tuple(np.asarray(s, np.int64) for s in state), tally.saturated


def start_state(node, rng: np.random.Generator, batch: int, n: int) -> tuple:
    return tuple(edge_integers(rng, node.state.lo, node.state.hi, batch * n,
                               (node.state.lo + 1, node.state.hi - 1)).reshape(batch, n)
                 for _ in node.state_names)


def check(kind: str, seed: int, steps: int, batch: int, n: int, bits: int, mode: int,
          dtype: type, shift: int) -> int:
    """Run both on one random case; return the number of mismatching neurons."""
    rng = np.random.default_rng(seed)
    node = make_node(kind, rng, n, bits, mode)
    acc = accumulator(rng, (steps, batch, n), dtype, shift)
    requantize = Requantize(shift, edge_integers(rng, -(1 << 40), 1 << 40, n, (1 << 31,)))
    state = start_state(node, rng, batch, n)
    want, want_state, want_saturated = reference(node, acc, requantize, state)
    got = run_neuron(node, acc, requantize, state, np.int64)
    assert got.saturated == want_saturated
    assert np.array_equal(got.events, (want != 0).sum(axis=2))
    if kind != "li":
        assert np.array_equal(got.sums, want.sum(axis=2))
    bad = (got.output != want).any(axis=(0, 1))
    for mine, theirs in zip(got.state, want_state, strict=True):
        bad |= (mine != theirs).any(axis=0)
    return int(bad.sum())


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 6),
       batch=st.integers(1, 3), n=st.one_of(st.integers(1, 8), st.integers(60, 300)),
       bits=st.one_of(st.sampled_from([2, 3, 31, 32]), st.integers(2, 32)),
       mode=st.integers(0, 15), dtype=st.sampled_from(ACC_DTYPES),
       shift=st.one_of(st.sampled_from([0, -1, 1, -31, 28]), st.integers(-31, 28)))
def test_compiled_kernel_equals_reference(kind, seed, steps, batch, n, bits, mode, dtype, shift):
    assert check(kind, seed, steps, batch, n, bits, mode, dtype, shift) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_compiled_kernel_equals_reference_on_bulk_edge_cases(kind):
    """CASES neurons per kind, shared among modes, widths and dtypes: 0 mismatches."""
    rng = np.random.default_rng(sum(map(ord, kind)))
    checked = bad = 0
    groups = [(mode, bits, dtype) for mode in range(16) for bits in (2, 3, 8, 16, 24, 31, 32)
              for dtype in (np.float32, np.int32, np.int64)]
    per_group = CASES // len(groups) + 1
    for index, (mode, bits, dtype) in enumerate(groups):
        shift = int(rng.integers(-20, 20))
        bad += check(kind, index, 4, 2, per_group // 2 + 1, bits, mode, dtype, shift)
        checked += 2 * (per_group // 2 + 1)
    assert checked >= CASES and bad == 0


@pytest.mark.parametrize("kind", ["iaf", "lif"])
def test_engine_compiled_path_equals_stepping_path(kind, digits_test):
    """Whole networks: the compiled, fused path (default) equals the Python stepping path
    (taken when states are recorded) in outputs, events, sums and saturations."""
    x, _ = digits_test
    program = nd.convert(nd.load(model_path(kind)), target="sim", data=x, weight_bits=6,
                         state_bits=10)
    fast = simulate_program(program, x)
    slow = simulate_program(program, x, record_states=True)
    assert np.array_equal(fast.output, slow.output)
    for name in program.stateful_nodes:
        assert np.array_equal(fast.events[name], slow.events[name])
        assert np.array_equal(fast.spikes[name], slow.spikes[name])
        assert fast.tallies[name] == slow.tallies[name]


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 5),
       batch=st.integers(1, 3), n=st.one_of(st.integers(1, 8), st.integers(60, 300)),
       inputs=st.one_of(st.integers(1, 9), st.integers(100, 400)), bits=st.integers(2, 32),
       mode=st.integers(0, 15), weight_bits=st.sampled_from([2, 8, 9, 16]),
       graded=st.booleans(), density=st.floats(0, 1),
       dtype=st.sampled_from((np.float32, np.int8, np.int64, np.bool_, np.float64)),
       shift=st.integers(-31, 6))
def test_compiled_event_kernel_equals_dense_product_and_reference(
        kind, seed, steps, batch, n, inputs, bits, mode, weight_bits, graded, density, dtype,
        shift):
    """run_neuron accumulating a Dense's events == Dense.apply then the reference: outputs,
    states, saturations, events and sums; and what it saw of the input (non-zero values, any
    beyond {-1, 1}); int32 and int64 accumulators, several jobs per sample."""
    rng = np.random.default_rng(seed)
    node = make_node(kind, rng, n, bits, mode)
    top = (1 << (weight_bits - 1)) - 1
    weight = edge_integers(rng, -top - 1, top, n * inputs).reshape(n, inputs)
    dense = Dense(weight.astype(np.int8 if weight_bits <= 8 else np.int16))
    bound = {np.bool_: 1.0, np.int8: 127.0}.get(dtype, float(1 << 20)) if graded else 1.0
    if dtype == np.bool_:
        x = rng.random((steps, batch, inputs)) < density
    else:
        x = rng.integers(-int(bound), int(bound) + 1, (steps, batch, inputs))
        x = (x * (rng.random(x.shape) < density)).astype(dtype)
    requantize = Requantize(shift, edge_integers(rng, -(1 << 40), 1 << 40, n, (1 << 31,)))
    state = start_state(node, rng, batch, n)
    acc = dense.apply(x, bound)
    want, want_state, want_saturated = reference(node, acc, requantize, state)
    got = run_neuron(node, x, requantize, state, np.int64, (dense, bound))
    assert got.saturated == want_saturated
    assert np.array_equal(got.output, want)
    assert all(np.array_equal(a, b) for a, b in zip(got.state, want_state, strict=True))
    assert np.array_equal(got.events, (want != 0).sum(axis=2))
    if kind != "li":
        assert np.array_equal(got.sums, want.sum(axis=2))
    values = x.astype(np.int64)
    assert got.dense_input.nonzero == np.count_nonzero(values)
    assert got.dense_input.size == values.size
    assert got.dense_input.wide == bool((np.abs(values) > 1).any())


@pytest.mark.parametrize("kind", ["iaf", "lif", "snu"])
def test_engine_event_dense_and_auto_paths_agree(kind, digits_test):
    """Whole networks run event-driven, dense, automatic and (recording states) through the
    Python stepping path: identical outputs, events, sums, saturations and synaptic operations
    (the free counts of the kernels equal the nodes' own count of their whole input)."""
    x, _ = digits_test
    program = nd.convert(nd.load(model_path(kind)), target="sim", data=x, weight_bits=6)
    x = x[:, :24]
    runs = [simulate_program(program, x, event_driven=mode) for mode in (True, False, None)]
    runs.append(simulate_program(program, x, record_states=True))
    first = runs[0]
    assert first.output.any()
    for other in runs[1:]:
        assert np.array_equal(first.output, other.output)
        assert first.synapses == other.synapses and first.synapses
        assert first.tallies == other.tallies
        for name in program.stateful_nodes:
            assert np.array_equal(first.events[name], other.events[name])
            assert np.array_equal(first.spikes[name], other.spikes[name])


def test_int8_product_refuses_a_single_input():
    """torch's int8 GEMM is wrong with one input column (K = 1): such a Dense never uses it."""
    dense = Dense(np.array([[1], [-1]], np.int8))
    x = np.ones((3, 1, 1), np.int8)
    assert dense.product(x, 1.0) is not Product.INT8
    assert np.array_equal(dense.apply(x, 1.0), np.broadcast_to([1, -1], (3, 1, 2)))


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bits=st.integers(2, 24), window=st.booleans(),
       half_even=st.booleans(), exponent=st.integers(-12, 6), size=st.integers(1, 3000))
def test_compiled_input_quantization_equals_reference(seed, bits, window, half_even, exponent,
                                                      size):
    """quantize_input == InputFormat.quantize (values, dtype, saturation counts), with ties."""
    rng = np.random.default_rng(seed)
    scale = 2.0 ** exponent if window else float(rng.uniform(0.01, 3.0))
    fmt = InputFormat((size,), scale, bits, window, "half even" if half_even else "half up")
    x = (rng.standard_normal((3, 2, size)) * scale * (1 << bits)).astype(np.float32)
    ties = x.reshape(-1)[::3]  # a view: exact ties k + 1/2 (and some beyond the format)
    ties[:] = (rng.integers(-(1 << bits), 1 << bits, ties.size) + 0.5) * scale
    program = SimpleNamespace(input=fmt)
    want_tally, got_tally = Tally(), Tally()
    want = fmt.quantize(x, want_tally)
    got, seen = quantize_input(program, x, got_tally)
    assert got.dtype == want.dtype and np.array_equal(got, want) and got_tally == want_tally
    assert seen.nonzero == np.count_nonzero(want) and seen.size == want.size
    assert seen.wide == bool((np.abs(want) > 1).any())


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 40), inputs=st.integers(1, 300),
       outputs=st.integers(1, 70), weight_bits=st.sampled_from([2, 8, 16]),
       density=st.floats(0, 1), graded=st.booleans())
def test_compiled_event_accumulation_equals_dense_and_reference(seed, rows, inputs, outputs,
                                                               weight_bits, density, graded):
    """dense_events == Dense.apply == Dense.apply_events, int32 and int64 accumulators."""
    rng = np.random.default_rng(seed)
    top = (1 << (weight_bits - 1)) - 1
    weight = edge_integers(rng, -top, top, outputs * inputs).reshape(outputs, inputs)
    node = Dense(weight.astype(np.int8 if weight_bits <= 8 else np.int16))
    bound = float(1 << 20) if graded else 1.0
    x = rng.integers(-int(bound), int(bound) + 1, (rows, 1, inputs))
    x = (x * (rng.random(x.shape) < density)).astype(np.float64 if graded else np.int8)
    got = dense_events(node, x, bound)
    assert np.array_equal(got, node.apply(x, bound))
    assert np.array_equal(got, node.apply_events(x))


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), channels=st.integers(1, 3), height=st.integers(1, 12),
       width=st.integers(1, 12), kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dtype=st.sampled_from((np.int8, np.float32, np.int64, np.bool_)))
def test_compiled_sum_pool_equals_node(seed, channels, height, width, kernel, stride, padding,
                                       dtype):
    """sum_pool == SumPool2d.apply (values and dtype), padded, strided, every input dtype."""
    padding = tuple(min(p, k // 2) for p, k in zip(padding, kernel, strict=True))
    node = SumPool2d(kernel, stride, padding)
    shape = (channels, height, width)
    assume(min(node.output_shape(shape)[1:]) >= 1)
    rng = np.random.default_rng(seed)
    bound = {np.int8: 127.0, np.bool_: 1.0}.get(dtype, float(1 << 40))
    x = rng.integers(-int(bound), int(bound) + 1, (2, 3, *shape)).astype(dtype)
    want = node.apply(x, bound)
    got = sum_pool(node, x, bound)
    assert got.dtype == want.dtype and np.array_equal(got, want)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), groups=st.integers(1, 3), per_group_in=st.integers(1, 3),
       per_group_out=st.integers(1, 4), height=st.integers(1, 9), width=st.integers(1, 9),
       kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       weight_bits=st.sampled_from([2, 8, 12]), graded=st.booleans(), density=st.floats(0, 1),
       dtype=st.sampled_from((np.float32, np.int8, np.int64, np.bool_)))
def test_compiled_conv_events_equal_node_and_counts(seed, groups, per_group_in, per_group_out,
                                                    height, width, kernel, stride, padding,
                                                    dilation, weight_bits, graded, density,
                                                    dtype):
    """conv_events == Conv2d.apply (grouped, strided, padded, dilated; int32 and int64 sums)
    and its counts give the node's own synaptic-operation count."""
    rng = np.random.default_rng(seed)
    top = (1 << (weight_bits - 1)) - 1
    channels, outputs = groups * per_group_in, groups * per_group_out
    weight = edge_integers(rng, -top - 1, top, outputs * per_group_in * kernel[0] * kernel[1])
    node = Conv2d(weight.reshape(outputs, per_group_in, *kernel).astype(
        np.int8 if weight_bits <= 8 else np.int16), stride, padding, dilation, groups)
    shape = (channels, height, width)
    assume(min(node.output_shape(shape)[1:]) >= 1)
    bound = {np.bool_: 1.0, np.int8: 127.0}.get(dtype, float(1 << 20)) if graded else 1.0
    if dtype == np.bool_:
        x = rng.random((3, 2, *shape)) < density
    else:
        x = rng.integers(-int(bound), int(bound) + 1, (3, 2, *shape))
        x = (x * (rng.random(x.shape) < density)).astype(dtype)
    got = conv_events(node, x, bound)
    assert np.array_equal(got.output, node.apply(x, bound))
    counted = node.synapses(got.active, 6, bound <= 1 or not got.wide)
    assert counted == node.synapse_count(x, bound)
    probe = torch.zeros(1, *shape, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.conv2d(probe, torch.ones(node.weight.shape, dtype=torch.float64), None,
                               stride, padding, dilation, groups).sum().backward()
    assert np.array_equal(node._fan_out(shape), probe.grad[0].numpy())  # connections per input


def test_engine_conv_event_and_dense_paths_agree(digits_test):
    """A pooled conv net run with event-driven and dense convolutions: identical outputs,
    events, saturations and synaptic operations."""
    torch.manual_seed(1)
    model = ndnn.Sequential(torch.nn.Conv2d(1, 6, 3, padding=1), ndnn.IAF(spike="single"),
                            torch.nn.AvgPool2d(2), torch.nn.Conv2d(6, 8, 3, stride=2),
                            ndnn.IAF(), torch.nn.Flatten(), torch.nn.Linear(8 * 1 * 1, 10),
                            ndnn.LIF(beta=0.9), input_shape=(1, 8, 8))
    x = digits_test[0][:, :24].reshape(digits_test[0].shape[0], 24, 1, 8, 8)
    program = nd.convert(model, target="sim", data=x, weight_bits=8)
    runs = [simulate_program(program, x, event_driven=mode) for mode in (True, False)]
    runs.append(simulate_program(program, x, record_states=True))
    assert sum(r.sum() for r in runs[0].events.values()) > 0
    for other in runs[1:]:
        assert np.array_equal(runs[0].output, other.output)
        assert runs[0].synapses == other.synapses and runs[0].tallies == other.tallies
        for name in program.stateful_nodes:
            assert np.array_equal(runs[0].events[name], other.events[name])
