"""Each neuron layer against its equation, written out with plain Python floats per neuron."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurodeploy.nn as ndnn


def _inputs(steps: int = 12, batch: int = 3, features: int = 5, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(steps, batch, features, generator=generator) * 1.5


def test_iaf_constructible_without_arguments_has_threshold_one():
    layer = ndnn.IAF()
    assert float(layer.threshold) == 1.0
    assert layer.spike == "multi" and layer.reset == "subtract"


@pytest.mark.parametrize("spike", ["multi", "single"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_iaf_matches_equation(spike, reset):
    x = _inputs()
    out = ndnn.IAF(threshold=0.7, spike=spike, reset=reset, min_v=-1.0)(x).numpy()
    for b in range(x.shape[1]):
        for n in range(x.shape[2]):
            v = 0.0
            for t in range(x.shape[0]):
                v = np.float32(v + x[t, b, n].item())
                if spike == "multi":
                    count = math.trunc(float(v / np.float32(0.7))) if v > 0 else 0
                else:
                    count = 1 if v - np.float32(0.7) >= 0 else 0
                v = v - count * np.float32(0.7) if reset == "subtract" else (0.0 if count else v)
                v = max(v, -1.0)
                assert out[t, b, n] == count


def test_iaf_strict_fires_only_above_threshold():
    out = ndnn.IAF(spike="single", strict=True, reset="zero")(torch.tensor([[[1.0]], [[0.5]]]))
    assert out.flatten().tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="single"):
        ndnn.IAF(strict=True)


def test_iaf_multi_spike_counts_like_sinabs():
    """An input of 2.5 gives 2 spikes and keeps 0.5 (the IAF = ReLU equivalence)."""
    out = ndnn.IAF()(torch.tensor([[[2.5]], [[0.0]], [[0.6]]]))
    assert out.flatten().tolist() == [2.0, 0.0, 1.0]


def test_iaf_equals_real_sinabs_iaf():
    sinabs_layers = pytest.importorskip("sinabs.layers")
    x = _inputs(steps=30, batch=4, features=16, seed=3)
    reference = sinabs_layers.IAF(spike_threshold=1.0, min_v_mem=-1.0)
    expected = reference(x.transpose(0, 1)).transpose(0, 1)  # sinabs is batch-major
    ours = ndnn.IAF(threshold=1.0, min_v=-1.0)(x)
    assert torch.equal(ours, expected)
    assert ours.sum() > 0


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("delay", [True, False])
def test_lif_matches_equation(reset, delay):
    x = _inputs()
    out, states = ndnn.LIF(beta=0.8, threshold=1.0, reset=reset, reset_delay=delay).run(x)
    beta, theta = np.float32(0.8), np.float32(1.0)
    for b in range(x.shape[1]):
        for n in range(x.shape[2]):
            m = np.float32(0.0)
            for t in range(x.shape[0]):
                r = np.float32(1.0 if m > theta else 0.0)
                inp = np.float32(x[t, b, n].item())
                m = beta * m + inp - r * theta if reset == "subtract" else beta * ((1 - r) * m) + inp
                s = np.float32(1.0 if m > theta else 0.0)
                if not delay:
                    m = m - (s - r) * theta if reset == "subtract" else m - (s - r) * m
                assert abs(states["m"][t, b, n].item() - m) < 1e-5
                assert out[t, b, n].item() == s


def test_lif_equals_real_snntorch_leaky():
    snn = pytest.importorskip("snntorch")
    x = _inputs(steps=30, batch=4, features=16, seed=4)
    for reset in ("subtract", "zero"):
        for delay in (True, False):
            reference = snn.Leaky(beta=0.85, threshold=0.9, reset_mechanism=reset,
                                  reset_delay=delay)
            mem = reference.init_leaky()
            expected = []
            for step in x:
                spike, mem = reference(step, mem)
                expected.append(spike)
            ours = ndnn.LIF(beta=0.85, threshold=0.9, reset=reset, reset_delay=delay)(x)
            assert torch.equal(ours, torch.stack(expected)), (reset, delay)
            assert ours.sum() > 0


@pytest.mark.parametrize("soft", [False, True])
def test_snu_matches_equation(soft):
    x = _inputs()
    layer = (ndnn.SoftSNU if soft else ndnn.SNU)(5, decay=0.8, threshold=0.5)
    out, states = layer.run(x)
    b_out = -0.5
    for b in range(x.shape[1]):
        for n in range(x.shape[2]):
            s = y = 0.0
            for t in range(x.shape[0]):
                s = max(0.0, x[t, b, n].item() + 0.8 * s * (1 - y))
                y = 1 / (1 + math.exp(-(s + b_out))) if soft else (1.0 if s + b_out > 0 else 0.0)
                assert abs(states["s"][t, b, n].item() - s) < 1e-5
                assert abs(out[t, b, n].item() - y) < 1e-5


def test_recurrent_snu_uses_previous_output():
    layer = ndnn.SNU(3, recurrent=True, threshold=0.5)
    with torch.no_grad():
        layer.recurrent.weight.copy_(torch.eye(3) * 2.0)
    x = torch.zeros(4, 1, 3)
    x[0, 0, 0] = 1.0  # one spike at t=0 drives itself through R at t=1
    out = layer(x)
    assert out[0, 0, 0] == 1 and out[1, 0, 0] == 1
    assert out[:, 0, 1:].sum() == 0


def test_src_matches_equation_and_spikes():
    x = torch.zeros(40, 1, 1)
    x[2:6] = 3.0
    layer = ndnn.SRC(1)
    out, states = layer.run(x)
    i = h = hs = 0.0
    for t in range(40):
        i = 0.9 * i + x[t, 0, 0].item()
        bounded = 3.0 * math.tanh(i / 3.0)
        zs = 0.9 + (0.0 - 0.9) * (1.0 if h > 0.5 else 0.0)
        h_new = math.tanh(bounded + 2.0 * h - 7.0 * hs - 6.0)
        hs = zs * hs + (1 - zs) * h
        h = h_new
        assert abs(states["h"][t, 0, 0].item() - h) < 1e-5
        assert abs(out[t, 0, 0].item() - max(h, 0.0)) < 1e-5
    assert out.max() > 0.5  # a spike: h crosses 0.5 and the cell turns itself off again
    assert out[-1, 0, 0] == 0


def test_src_bias_is_bounded_and_relu_bypasses_gradient():
    layer = ndnn.SRC(2, bias_init=-1.0, bias_max=-4.0)
    x = torch.zeros(3, 1, 2, requires_grad=True)
    out = layer(x)
    assert out.max() == 0  # tanh(-4) < 0: bias clamped to -4, output ReLU'd
    out.sum().backward()
    assert x.grad.abs().sum() > 0  # the ReLU bypass lets the gradient through


def test_li_integrates():
    x = torch.ones(3, 1, 1)
    out = ndnn.LI(alpha=0.5)(x).flatten().tolist()
    assert out == [1.0, 1.5, 1.75]


def test_surrogate_gives_gradients_through_spikes():
    layer = torch.nn.Sequential(torch.nn.Linear(4, 3), ndnn.LIF())
    x = torch.rand(5, 2, 4)
    layer(x).sum().backward()
    assert layer[0].weight.grad.abs().sum() > 0


def test_sequential_runs_convolutions_time_major():
    model = ndnn.Sequential(torch.nn.Conv2d(1, 2, 3), ndnn.IAF(), torch.nn.Flatten(),
                            input_shape=(1, 5, 5))
    out = model(torch.rand(4, 3, 1, 5, 5))
    assert out.shape == (4, 3, 18)


def test_cuba_lif_matches_equation():
    x = _inputs()
    out, states = ndnn.CubaLIF(alpha=0.6, beta=0.8, threshold=1.0).run(x)
    for b in range(x.shape[1]):
        for n in range(x.shape[2]):
            i = v = np.float32(0.0)
            for t in range(x.shape[0]):
                i = np.float32(0.6) * i + np.float32(x[t, b, n].item())
                v = np.float32(0.8) * v + i
                s = 1.0 if v > 1.0 else 0.0
                v = np.float32(0.0) if s else v
                assert abs(states["i"][t, b, n].item() - i) < 1e-5
                assert abs(states["v"][t, b, n].item() - v) < 1e-5
                assert out[t, b, n].item() == s
