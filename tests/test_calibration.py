"""Calibration without silent saturation: a sinabs Conv-IAF-SumPool MultiSpike network with
threshold 0.5 keeps its float accuracy at 8 bits; a forced saturation (a too narrow state) is
counted and shown in report.json and on the CLI; sinabs's dropped min_v_mem is warned about."""

from __future__ import annotations

import json
import warnings

import nir
import numpy as np
import pytest
import sinabs
import torch
from click.testing import CliRunner
from sinabs.activation import MultiSpike
from sinabs.from_torch import from_model
from sinabs.layers import SumPool2d
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import neurodeploy as nd
from neurodeploy.cli import main
from neurodeploy.errors import NeurodeployError
from neurodeploy.io.dialects import NeurodeployWarning

THRESHOLD, STEPS = 0.5, 16


@pytest.fixture(scope="module")
def sinabs_cnn(tmp_path_factory):
    """A trained digits CNN converted by sinabs (MultiSpike IAF, threshold 0.5, floor -0.5),
    exported by sinabs.to_nir, with the test data as time-major direct input."""
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.3,
                                                        random_state=0, stratify=digits.target)
    torch.manual_seed(0)
    ann = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), SumPool2d(2),
                              torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), SumPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(64, 10))
    optimiser = torch.optim.Adam(ann.parameters(), lr=3e-3)
    inputs, labels = torch.as_tensor(x_train), torch.as_tensor(y_train)
    for _ in range(30):
        for start in range(0, len(labels), 64):
            loss = torch.nn.functional.cross_entropy(ann(inputs[start:start + 64]),
                                                     labels[start:start + 64])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    ann.eval()
    snn = from_model(ann, input_shape=(1, 8, 8), spike_threshold=THRESHOLD,
                     min_v_mem=-THRESHOLD, spike_fn=MultiSpike, add_spiking_output=True,
                     batch_size=1).spiking_model
    graph = sinabs.to_nir(snn, torch.rand(1, 1, 8, 8))
    graph.infer_types()
    path = tmp_path_factory.mktemp("sinabs") / "cnn.nir"
    nir.write(str(path), graph)
    x = np.broadcast_to(x_test, (STEPS, *x_test.shape)).astype(np.float32).copy()
    data = path.parent / "data.npz"
    np.savez(data, x=x, y=y_test)
    return path, x, y_test, data


def test_multispike_conv_net_keeps_its_accuracy_at_8_bits(sinabs_cnn):
    path, x, y, _ = sinabs_cnn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurodeployWarning)
        network = nd.load(path, dialect="sinabs")
    float_accuracy = nd.simulate(network, x).accuracy(y)
    for bits in (8, 16):
        program = nd.convert(network, target="sim", data=x, weight_bits=bits)
        result = nd.simulate(program, x)
        saturated = sum(t.saturated for t in result.tallies.values())
        print(f"{bits} bits: float {100 * float_accuracy:.2f} %, sim {100 * result.accuracy(y):.2f}"
              f" %, {saturated} saturated updates")
        assert float_accuracy > 0.9
        assert 100 * abs(float_accuracy - result.accuracy(y)) <= 1.0
        assert saturated == 0


def test_forced_saturation_is_reported_and_warned(sinabs_cnn, tmp_path):
    """Calibrating on inputs a tenth as strong as the data sizes the states too narrow."""
    path, x, y, data = sinabs_cnn
    np.savez(tmp_path / "weak.npz", x=x * 0.1, y=y)
    result = CliRunner().invoke(main, ["convert", str(path), "--dialect", "sinabs", "--target",
                                       "sim", "--data", str(data), "--calib",
                                       str(tmp_path / "weak.npz"), "--state-bits", "12", "-o",
                                       str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    saturated = {name: entry["fraction_of_updates"] for name, entry in report["saturation"].items()
                 if entry["fraction_of_updates"] > 0.001}
    assert saturated
    for name in saturated:
        assert f"warning: node {name}: " in result.stderr
    assert report["calibration"]["data"].startswith("separate calibration data")


def test_sinabs_thresholds_not_one_warn_about_the_dropped_floor(sinabs_cnn):
    path = sinabs_cnn[0]
    with pytest.warns(NeurodeployWarning, match="--min-v -1"):
        nd.load(path, dialect="sinabs", spike="multi")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeurodeployWarning)
        floored = nd.load(path, dialect="sinabs", spike="multi", min_v=-1.0)
    iaf = next(layer.node for layer in floored.neuron_layers)
    assert np.all(np.asarray(iaf.min_v) == -1.0)
    with pytest.raises(NeurodeployError, match="--min-v"):
        nd.load(path, dialect="sinabs", min_v=0.5)
