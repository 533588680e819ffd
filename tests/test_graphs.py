"""Networks that are not chains, given as plain NIR graphs: a residual (skip + sum) connection and
a recurrent edge through a Linear. The float reference equals the torch modules they come from,
and the 8-bit `sim` program stays within half a point of float accuracy on digits."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from conftest import DATA
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.io.data import encode

HIDDEN = 48
BETA, ALPHA = 0.75, 0.5  # NIR LIF tau = 4 and LI tau = 2 at dt = 1: exact in float32


def _lif() -> ndnn.LIF:
    """NIR's LIF read literally: strict threshold, reset to zero in the spiking step."""
    return ndnn.LIF(beta=BETA, threshold=1.0, reset="zero", reset_delay=False)


class Residual(nn.Module):
    """x -> fc1 -> lif1 -> fc2 -> (+ lif1) -> lif2 -> fc3 -> li: an identity skip summed into lif2."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(64, HIDDEN), _lif()
        self.fc2, self.lif2 = nn.Linear(HIDDEN, HIDDEN), _lif()
        self.fc3, self.li = nn.Linear(HIDDEN, 10), ndnn.LI(alpha=ALPHA)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h1 = self.lif1(self.fc1(x))
        h2 = self.lif2(self.fc2(h1) + h1)
        return self.li(self.fc3(h2))


class Recurrent(nn.Module):
    """h_t = lif(fc_in x_t + fc_rec h_{t-1}); out = li(fc_out h)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc_in, self.fc_rec, self.lif = nn.Linear(64, HIDDEN), nn.Linear(HIDDEN, HIDDEN,
                                                                                bias=False), _lif()
        self.fc_out, self.li = nn.Linear(HIDDEN, 10), ndnn.LI(alpha=ALPHA)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = self.lif.initial_state(x[0, :, :1].expand(-1, HIDDEN))
        h = torch.zeros(x.shape[1], HIDDEN)
        spikes = []
        for x_t in x:
            h, state = self.lif.step(self.fc_in(x_t) + self.fc_rec(h), state)
            spikes.append(h)
        return self.li(self.fc_out(torch.stack(spikes)))


def _linear(layer: nn.Linear) -> nir.NIRNode:
    weight = layer.weight.detach().numpy()
    if layer.bias is None:
        return nir.Linear(weight=weight)
    return nir.Affine(weight=weight, bias=layer.bias.detach().numpy())


def _nir_lif(size: int) -> nir.LIF:
    tau = np.full(size, 1 / (1 - BETA), np.float32)
    zeros = np.zeros(size, np.float32)
    return nir.LIF(tau=tau, r=tau, v_leak=zeros, v_threshold=np.ones(size, np.float32),
                   v_reset=zeros)


def _nir_li(size: int) -> nir.LI:
    tau = np.full(size, 1 / (1 - ALPHA), np.float32)
    return nir.LI(tau=tau, r=tau, v_leak=np.zeros(size, np.float32))


def residual_graph(model: Residual) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type={"input": np.array([64])}),
             "fc1": _linear(model.fc1), "lif1": _nir_lif(HIDDEN), "fc2": _linear(model.fc2),
             "lif2": _nir_lif(HIDDEN), "fc3": _linear(model.fc3), "li": _nir_li(10),
             "output": nir.Output(output_type={"output": np.array([10])})}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif1", "lif2"),
             ("lif2", "fc3"), ("fc3", "li"), ("li", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def recurrent_graph(model: Recurrent) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type={"input": np.array([64])}),
             "fc_in": _linear(model.fc_in), "lif": _nir_lif(HIDDEN),
             "fc_rec": _linear(model.fc_rec), "fc_out": _linear(model.fc_out), "li": _nir_li(10),
             "output": nir.Output(output_type={"output": np.array([10])})}
    edges = [("input", "fc_in"), ("fc_in", "lif"), ("lif", "fc_rec"), ("fc_rec", "lif"),
             ("lif", "fc_out"), ("fc_out", "li"), ("li", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def train_on_digits(model: nn.Module, epochs: int = 25) -> nn.Module:
    """Train a time-major digits classifier on rate-coded spikes (20 steps)."""
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    x_train, _, y_train, _ = train_test_split(images, digits.target, test_size=0.3,
                                              random_state=0, stratify=digits.target)
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    labels = torch.as_tensor(y_train)
    for _ in range(epochs):
        spikes = torch.as_tensor(encode(x_train, 20, "rate", seed=int(rng.integers(1 << 30))))
        order = torch.randperm(len(labels))
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            loss = nn.functional.cross_entropy(model(spikes[:, batch]).sum(0), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


@pytest.fixture(scope="module")
def digits_test_set():
    with np.load(DATA) as data:
        return data["x"].astype(np.float32), data["y"]


@pytest.mark.parametrize("build, graph", [(Residual, residual_graph),
                                          (Recurrent, recurrent_graph)])
def test_graph_networks_are_faithful_and_quantize_within_half_a_point(build, graph, tmp_path,
                                                                      digits_test_set):
    torch.manual_seed(0)
    model = train_on_digits(build())
    nir.write(str(tmp_path / "net.nir"), graph(model))
    network = nd.load(tmp_path / "net.nir", dialect="nir")
    assert not network.is_chain
    x, y = digits_test_set
    with torch.no_grad():
        expected = model(torch.as_tensor(x)).numpy()
    reference = nd.simulate(network, x, record_states=True)
    np.testing.assert_allclose(reference.output, expected, rtol=0, atol=1e-5)
    program = nd.convert(network, target="sim", data=x, weight_bits=8)
    float_accuracy, deployed = reference.accuracy(y), nd.simulate(program, x).accuracy(y)
    print(f"{build.__name__}: float {100 * float_accuracy:.2f} %, sim 8-bit {100 * deployed:.2f} %")
    assert float_accuracy > 0.9
    assert 100 * abs(float_accuracy - deployed) <= 0.5
    assert any(group.stepwise for group in program.schedule) == (build is Recurrent)
    program.save(tmp_path / "program")
    assert np.array_equal(nd.Program.load(tmp_path / "program").nodes["li"].unit,
                          program.nodes["li"].unit)


def test_recurrent_hidden_spikes_equal_torch(digits_test_set):
    torch.manual_seed(2)
    model = Recurrent().eval()
    with torch.no_grad():
        model.fc_in.weight.mul_(4.0)
    x = digits_test_set[0][:, :50]
    network = _network_from_graph(recurrent_graph(model))
    hidden = nd.simulate(network, x, record_states=True).states["lif"]["m"]
    with torch.no_grad():
        state = model.lif.initial_state(torch.zeros(x.shape[1], HIDDEN))
        h = torch.zeros(x.shape[1], HIDDEN)
        membranes = []
        for x_t in torch.as_tensor(x):
            h, state = model.lif.step(model.fc_in(x_t) + model.fc_rec(h), state)
            membranes.append(state[0])
    np.testing.assert_allclose(hidden, torch.stack(membranes).numpy(), rtol=0, atol=1e-6)
    assert (hidden == 0).mean() < 0.99  # the layer is active


def _network_from_graph(graph: nir.NIRGraph):
    from neurodeploy.io.dialects import resolve_dialect
    from neurodeploy.io.nir_read import network_from_nir

    return network_from_nir(graph, resolve_dialect("nir"))


def test_node_names_torch_would_refuse_still_run(tmp_path):
    """NIR node names are free text: members of a torch module ('forward', 'training'), dotted
    names and names that differ only in dots or underscores each get their own layer."""
    weight = np.eye(3, dtype=np.float32)
    nodes = {"input": nir.Input(input_type={"input": np.array([3])}),
             "forward": nir.Affine(weight=weight * 2, bias=np.zeros(3, np.float32)),
             "a.b": nir.LIF(tau=np.full(3, 4.0, np.float32), r=np.full(3, 4.0, np.float32),
                            v_leak=np.zeros(3, np.float32), v_threshold=np.ones(3, np.float32),
                            v_reset=np.zeros(3, np.float32)),
             "a__b": nir.Linear(weight=weight),
             "training": nir.LI(tau=np.full(3, 2.0, np.float32), r=np.full(3, 2.0, np.float32),
                                v_leak=np.zeros(3, np.float32)),
             "output": nir.Output(output_type={"output": np.array([3])})}
    edges = [("input", "forward"), ("forward", "a.b"), ("a.b", "a__b"), ("a__b", "training"),
             ("training", "output")]
    nir.write(str(tmp_path / "names.nir"), nir.NIRGraph(nodes=nodes, edges=edges,
                                                        type_check=False))
    network = nd.load(tmp_path / "names.nir")
    result = nd.simulate(network, np.ones((6, 2, 3), np.float32))
    assert set(network.nodes) == {"forward", "a.b", "a__b", "training"}
    assert result.spikes["a.b"].sum() > 0 and np.abs(result.output).sum() > 0
