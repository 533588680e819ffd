"""torch forward == float reference on the Network == float reference after a NIR round trip."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from conftest import KINDS, model_path

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.io.model_file import load_torch_file


def assert_same(reference: np.ndarray, result: np.ndarray, graded: bool) -> None:
    if graded:
        np.testing.assert_allclose(result, reference, atol=1e-6, rtol=0)
    else:
        assert np.array_equal(result, reference)


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_model_torch_equals_reference_equals_nir(kind, digits_test, tmp_path):
    x, y = digits_test
    model = load_torch_file(model_path(kind))
    with torch.no_grad():
        reference = model(torch.as_tensor(x)).numpy()
    network = nd.load(model_path(kind))
    nd.save_nir(network, tmp_path / "model.nir")
    reloaded = nd.load(tmp_path / "model.nir")
    direct = nd.simulate(network, x, record_states=True)
    via_nir = nd.simulate(reloaded, x, record_states=True)
    graded = network.output_is_graded
    assert_same(reference, direct.output, graded)
    assert_same(reference, via_nir.output, graded)
    for layer, states in direct.states.items():
        for name, values in states.items():
            np.testing.assert_allclose(via_nir.states[layer][name], values, atol=1e-6, rtol=0)
    assert direct.accuracy(y) >= 0.90
    assert direct.spike_count + direct.graded_values > 0


def _conv_model() -> torch.nn.Module:
    torch.manual_seed(1)
    return ndnn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), ndnn.IAF(spike="single"), torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(4, 6, 3, stride=2, bias=False), ndnn.LIF(beta=0.7, reset="zero"),
        torch.nn.Flatten(), torch.nn.Linear(6, 10), ndnn.SNU(10), input_shape=(1, 8, 8))


def _recurrent_model() -> torch.nn.Module:
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        torch.nn.Linear(12, 16), ndnn.SNU(16, recurrent=True, learn_decay=True),
        torch.nn.Linear(16, 8), ndnn.SoftSNU(8, recurrent=True),
        torch.nn.Linear(8, 8), ndnn.SRC(8, bias_init=-4.0), torch.nn.Linear(8, 3), ndnn.LI())
    with torch.no_grad():
        model[4].weight.uniform_(0.0, 1.0)  # excitatory drive, so the SRC cells spike
    return model


@pytest.mark.parametrize("build, shape", [(_conv_model, (1, 8, 8)), (_recurrent_model, (12,))])
def test_conv_and_recurrent_models_round_trip(build, shape, tmp_path):
    model = build()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("weight"):
                parameter.mul_(3.0)  # enough drive that every layer is active
    generator = torch.Generator().manual_seed(5)
    x = (torch.rand(25, 4, *shape, generator=generator) < 0.4).float()
    with torch.no_grad():
        reference = model(x).reshape(25, 4, -1).numpy()
    torch.save(model, tmp_path / "model.pt")
    network = nd.load(tmp_path / "model.pt")
    nd.save_nir(network, tmp_path / "model.nir")
    for candidate in (network, nd.load(tmp_path / "model.nir")):
        result = nd.simulate(candidate, x.numpy())
        assert_same(reference, result.output, network.output_is_graded)
        assert all(counts.sum() > 0 for counts in result.events.values())


def test_nir_file_opens_with_nir_and_uses_standard_nodes(tmp_path):
    network = nd.load(_recurrent_model())
    nd.save_nir(network, tmp_path / "model.nir")
    graph = nir.read(str(tmp_path / "model.nir"))
    kinds = {type(node).__name__ for node in graph.nodes.values()}
    assert kinds <= {"Input", "Output", "Affine", "Linear", "LIF", "LI", "IF", "Conv2d", "Flatten"}
    assert ("1", "1.recurrent") in graph.edges and ("1.recurrent", "1") in graph.edges
    assert graph.nodes["1"].metadata["neurodeploy"]["neuron"] == "SNU"


def test_lif_decays_travel_as_standard_nir_time_constants(tmp_path):
    network = nd.load(torch.nn.Sequential(torch.nn.Linear(3, 2), ndnn.LIF(beta=0.75)))
    nd.save_nir(network, tmp_path / "lif.nir")
    node = nir.read(str(tmp_path / "lif.nir")).nodes["1"]
    # forward Euler at dt = 1: v <- (1 - 1/tau) v + (r/tau) I  ==  0.75 v + I
    np.testing.assert_allclose(1 - 1 / node.tau, 0.75, rtol=1e-6)
    np.testing.assert_allclose(node.r / node.tau, 1.0, rtol=1e-6)


def test_network_back_to_torch_and_summary(digits_test):
    network = nd.load(model_path("snu"))
    model = nd.to_torch(network)
    x = digits_test[0][:, :20]
    with torch.no_grad():
        assert np.array_equal(model(torch.as_tensor(x)).numpy(), nd.simulate(network, x).output)
    lines = network.summary().splitlines()
    assert len(lines) == 4 and "SNU" in lines[1] and "(10,)" in lines[3]
