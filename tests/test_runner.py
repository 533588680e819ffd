"""Streaming: `nd.Runner` fed a sequence in chunks (single steps included) gives the outputs of
one whole-sequence run bit for bit, for feed-forward, recurrent (stepwise loops) and lagging
(Loihi) programs, compiled and Python neuron kernels alike."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import model_path

import neurodeploy as nd
from neurodeploy.engine.golden import simulate_program
from neurodeploy.errors import ShapeError


@pytest.mark.parametrize(("kind", "target"), [("iaf", "sim"), ("lif", "sim"), ("snu", "sim"),
                                              ("src", "sim"), ("lif", "loihi")])
def test_chunked_stream_equals_whole_sequence(kind, target, digits_test):
    x = digits_test[0][:, :24]
    program = nd.convert(nd.load(model_path(kind)), target=target, data=x, weight_bits=8)
    whole = simulate_program(program, x).output
    stream = np.concatenate([x, np.zeros((program.latency, *x.shape[1:]), np.float32)])
    runner = nd.Runner(program)
    rng = np.random.default_rng(0)
    pieces, start = [], 0
    while start < stream.shape[0]:
        size = int(rng.choice([1, 1, 2, 5, 9]))
        if size == 1:
            pieces.append(runner.step(stream[start])[None])
        else:
            pieces.append(runner(stream[start:start + size]).output)
        start += size
    assert np.array_equal(np.concatenate(pieces), whole)
    runner.reset()
    assert np.array_equal(runner(stream).output, whole)


def test_runner_refuses_a_new_batch_size_without_reset(digits_test):
    x = digits_test[0][:, :4]
    runner = nd.Runner(nd.convert(nd.load(model_path("iaf")), target="sim", data=x))
    runner.step(x[0])
    with pytest.raises(ShapeError, match="reset"):
        runner.step(x[0, :2])
