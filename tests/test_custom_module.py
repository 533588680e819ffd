"""A user's own nn.Module subclass, saved as a state_dict: BatchNorm, a skip connection summed
before a Linear, traced by torch.fx and loaded with --arch from the CLI and the API."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from test_cli import assert_one_line_error
from test_graphs import train_on_digits
from torch import nn

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.cli import main
from neurodeploy.io.data import encode

SOURCE = '''
import torch
from torch import nn

import neurodeploy.nn as ndnn


class SkipNet(nn.Module):
    """fc1 -> BatchNorm -> lif1 -> fc2 -> lif2; head(lif1 + lif2) -> out."""

    def __init__(self, hidden: int = 48, beta: float = 0.9):
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.bn1 = ndnn.PerStep(nn.BatchNorm1d(hidden))
        self.lif1 = ndnn.LIF(beta=beta)
        self.fc2 = nn.Linear(hidden, hidden)
        self.lif2 = ndnn.LIF(beta=beta)
        self.head = nn.Linear(hidden, 10)
        self.out = ndnn.LIF(beta=beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h1 = self.lif1(self.bn1(self.fc1(x)))
        h2 = self.lif2(self.fc2(h1))
        return self.out(self.head(h1 + h2))
'''
HIDDEN = 32


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def user_code(tmp_path_factory):
    """The user's module on disk, the trained weights (state_dict) and rate-coded test data."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "skipnet.py").write_text(SOURCE)
    spec = importlib.util.spec_from_file_location("skipnet_under_test", folder / "skipnet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[spec.name] = module  # so that torch.save(model) can pickle the class
    torch.manual_seed(0)
    model = train_on_digits(module.SkipNet(hidden=HIDDEN), epochs=6)
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    _, x_test, _, y_test = train_test_split(images, digits.target, test_size=0.3, random_state=0,
                                            stratify=digits.target)
    torch.save(model.state_dict(), folder / "skipnet.pt")
    x = encode(x_test, 20, "rate", seed=0)
    np.savez(folder / "test.npz", x=x, y=y_test)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    yield folder, model, x, y_test, expected
    sys.modules.pop(spec.name, None)


def test_api_loads_weights_into_the_users_class_faithfully(user_code):
    folder, model, x, _, expected = user_code
    for architecture in (model, f"{folder / 'skipnet.py'}:SkipNet"):
        network = nd.load(folder / "skipnet.pt", architecture=architecture,
                          architecture_args={"hidden": HIDDEN})
        assert {"bn1", "head"} <= set(network.nodes)
        assert len(network.inputs_of("head")) == 2  # the skip: lif1 + lif2 summed into head
        np.testing.assert_array_equal(nd.simulate(network, x).output, expected)


def test_cli_converts_a_state_dict_with_arch(user_code, tmp_path, monkeypatch):
    folder, _, _, y, expected = user_code
    monkeypatch.chdir(folder)  # module:Class is imported from the working directory
    result = run("convert", "skipnet.pt", "--arch", "skipnet:SkipNet", "--arch-args",
                 json.dumps({"hidden": HIDDEN}), "--data", "test.npz", "-o", tmp_path / "out",
                 "--weight-bits", 16, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    torch_accuracy = float((expected.sum(0).argmax(-1) == y).mean())
    print(f"SkipNet via --arch: torch {100 * torch_accuracy:.2f} %, float reference "
          f"{100 * report['accuracy']['float']:.2f} %, sim 16-bit "
          f"{100 * report['accuracy']['quantized']:.2f} %")
    assert report["accuracy"]["float"] == pytest.approx(torch_accuracy, abs=1e-9)
    assert abs(report["accuracy"]["delta_pp"]) <= 0.5
    assert all(entry["saturated_per_sample"] == 0 for entry in report["saturation"].values())
    # the written NIR holds the BatchNorm exactly and the split of head by linearity is exact
    network = nd.load(tmp_path / "out" / "model.nir")
    np.testing.assert_array_equal(nd.simulate(network, user_code[2]).output, expected)
    sys.modules.pop("skipnet", None)


def test_arch_errors_are_one_line(user_code, tmp_path, monkeypatch):
    folder, model, *_ = user_code
    monkeypatch.chdir(folder)
    data = folder / "test.npz"
    assert_one_line_error(run("convert", "skipnet.pt", "--arch", "skipnet.py:SkipNet",
                              "--data", data, "-o", tmp_path / "a"),
                          "skipnet.pt", "'fc1.weight'", "--arch-args")
    assert_one_line_error(run("convert", "skipnet.pt", "--arch", "nosuch:SkipNet",
                              "--data", data, "-o", tmp_path / "b"), "no module named 'nosuch'")
    assert_one_line_error(run("convert", "skipnet.pt", "--arch", "skipnet.py:Other",
                              "--data", data, "-o", tmp_path / "c"), "no nn.Module subclass")
    assert_one_line_error(run("convert", "skipnet.pt", "--arch", "skipnet.py:SkipNet",
                              "--arch-args", "{hidden", "--data", data, "-o", tmp_path / "d"),
                          "--arch-args", "not JSON")
    assert_one_line_error(run("convert", "skipnet.pt", "--data", data, "-o", tmp_path / "e"),
                          "state_dict", "--arch")
    torch.save(model, tmp_path / "whole.pt")  # a pickled user class: never unpickled
    assert_one_line_error(run("convert", tmp_path / "whole.pt", "--arch", "skipnet.py:SkipNet",
                              "--data", data, "-o", tmp_path / "f"), "state_dict()")
    assert not any((tmp_path / name).exists() for name in "abcdef")
    sys.modules.pop("skipnet", None)


def test_a_sum_into_a_linear_keeps_its_bias_once(tmp_path):
    """head(a + b) = W a + W b + c: split by linearity, the bias added on one path only."""

    class Sum(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fa, self.fb = nn.Linear(8, 8), nn.Linear(8, 8)
            self.a, self.b = ndnn.IAF(), ndnn.IAF()
            self.head, self.out = nn.Linear(8, 4), ndnn.IAF()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.head(self.a(self.fa(x)) + self.b(self.fb(x))))

    torch.manual_seed(3)
    model = Sum().eval()
    with torch.no_grad():
        model.head.bias.fill_(0.75)  # a bias counted twice would fire `out` every other step
    x = (np.random.default_rng(0).random((30, 64, 8)) < 0.5).astype(np.float32)
    network = nd.load(model)
    program = nd.convert(network, "sim", data=x, weight_bits=16)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    produced = nd.simulate(program, x).output
    assert expected.sum() > 0
    assert np.mean(produced == expected) >= 0.99


def _folded_by_hand(model: nn.Sequential) -> nn.Sequential:
    """The same network with the BatchNorm folded into the Linear before it, in torch."""
    linear, norm = model[0], model[1].layer
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    folded = nn.Linear(linear.in_features, linear.out_features)
    with torch.no_grad():
        folded.weight.copy_(linear.weight * scale[:, None])
        folded.bias.copy_((linear.bias - norm.running_mean) * scale + norm.bias)
    return nn.Sequential(folded, *list(model)[2:]).eval()


@pytest.mark.parametrize("target", ["sim", "loihi", "fpga"])
def test_batchnorm_in_a_saved_sequential_folds_on_every_target(target, tmp_path):
    """A BatchNorm after a Linear deploys exactly as the network folded by hand does."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 24), ndnn.PerStep(nn.BatchNorm1d(24)), ndnn.LIF(beta=0.9),
                          nn.Linear(24, 6), ndnn.LIF(beta=0.9))
    norm = model[1].layer
    with torch.no_grad():
        model[0].weight.mul_(2.0)
        norm.running_mean.uniform_(-0.3, 0.3)
        norm.running_var.uniform_(0.3, 2.0)
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.2, 0.2)
    torch.save(model.eval(), tmp_path / "bn.pt")
    x = (np.random.default_rng(1).random((30, 32, 16)) < 0.4).astype(np.float32)
    network = nd.load(tmp_path / "bn.pt")
    reference = nd.simulate(network, x).output
    with torch.no_grad():
        np.testing.assert_array_equal(reference, model(torch.from_numpy(x)).numpy())
    deployed = nd.simulate(nd.convert(network, target, data=x), x).output
    by_hand = _folded_by_hand(model)
    expected = nd.simulate(nd.convert(nd.load(by_hand), target, data=x), x).output
    agreement = float(np.mean(deployed[-len(x):] == reference))
    print(f"{target}: BatchNorm folded, {100 * agreement:.2f} % of outputs equal float")
    assert reference.sum() > 20
    np.testing.assert_array_equal(deployed, expected)
    assert agreement >= 0.9


class _Loop(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.lif = nn.Linear(4, 3), ndnn.LIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.fc(x_t) for x_t in x])  # a Python loop over time


class _Function(_Loop):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(torch.sigmoid(self.fc(x)))


class _Unknown(_Loop):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.norm(self.fc(x)))


@pytest.mark.parametrize("model, fragments", [
    (_Loop, ("_Loop.forward cannot be traced", "export the network to NIR")),
    (_Function, ("'sigmoid'", "export the network to NIR")),
    (_Unknown, ("LayerNorm", "supported are")),
])
def test_untraceable_models_are_refused_in_one_line(model, fragments):
    with pytest.raises(nd.errors.UnsupportedModelError) as refused:
        nd.load(model())
    message = str(refused.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
