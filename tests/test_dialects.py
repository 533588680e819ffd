"""Other tools' NIR files reproduce the tools' own spikes, and our exports run in those tools.

snnTorch and sinabs are real test dependencies: every network is built in the tool, exported
with the tool's own exporter, and its output compared with neurodeploy's, mismatch for mismatch.
"""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.cli import main
from neurodeploy.errors import NeurodeployError
from neurodeploy.io.dialects import NeurodeployWarning

snn = pytest.importorskip("snntorch")
sinabs = pytest.importorskip("sinabs")
from sinabs.activation import MultiSpike, SingleSpike  # noqa: E402
from sinabs.from_torch import from_model  # noqa: E402
from snntorch import utils as snn_utils  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

STEPS, BATCH = 40, 6


def leaky(n: int, beta: torch.Tensor, reset: str) -> torch.nn.Module:
    # snnTorch's exporter needs per-neuron tensors for beta and threshold
    return snn.Leaky(beta=beta, threshold=torch.ones(n), reset_mechanism=reset, init_hidden=True)


def snntorch_net(sizes: list[int], shared_beta: bool, reset: str) -> torch.nn.Sequential:
    torch.manual_seed(len(sizes) + 7 * shared_beta)
    layers: list[torch.nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        linear = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            linear.weight.mul_(3.0)
        beta = torch.full((n_out,), 0.9) if shared_beta else torch.rand(n_out) * 0.5 + 0.45
        layers += [linear, leaky(n_out, beta, reset)]
    return torch.nn.Sequential(*layers)


def run_snntorch(net: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    snn_utils.reset(net)
    outputs = []
    with torch.no_grad():
        for step in x:
            out = net(step)
            outputs.append(out[0] if isinstance(out, tuple) else out)
    return torch.stack(outputs).numpy()


def run_sinabs(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    for module in model.modules():
        if hasattr(module, "reset_states"):
            module.reset_states()
    steps, batch = x.shape[:2]
    with torch.no_grad():
        out = model(x.transpose(0, 1).reshape(batch * steps, *x.shape[2:]))
    out = out[0] if isinstance(out, tuple) else out
    return out.reshape(batch, steps, -1).transpose(0, 1).numpy()


def load_quietly(path, **options) -> nd.Network:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurodeployWarning)
        return nd.load(path, **options)


@pytest.mark.parametrize("sizes", [[12, 20, 10], [12, 24, 16, 8]])
@pytest.mark.parametrize("shared_beta", [True, False])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_snntorch_files_reproduce_snntorch(sizes, shared_beta, reset, tmp_path):
    net = snntorch_net(sizes, shared_beta, reset)
    graph = export_to_nir(net, torch.rand(1, sizes[0]), ignore_dims=[0])
    nir.write(str(tmp_path / "snn.nir"), graph)
    x = (torch.rand(STEPS, BATCH, sizes[0], generator=torch.Generator().manual_seed(1)) < 0.3).float()
    expected = run_snntorch(net, x)
    network = load_quietly(tmp_path / "snn.nir", dialect="snntorch", reset=reset)
    ours = nd.simulate(network, x.numpy()).output
    assert int((ours != expected).sum()) == 0
    assert expected.sum() > 0


def test_snntorch_conv_avgpool_leaky_reproduces_snntorch(tmp_path):
    """Conv2d-Leaky-AvgPool2d twice, then a Conv2d-Leaky readout, exported by snnTorch itself:
    every layer's spikes equal snnTorch's. (snnTorch 1.0.0 exports a conv net only from an
    unbatched sample, with per-neuron beta and threshold and tuple pool sizes, and cannot export
    a Flatten from it.)"""
    from neurodeploy.engine.reference import simulate_network

    torch.manual_seed(5)
    shapes = [(4, 8, 8), (8, 4, 4), (6, 1, 1)]
    neurons = [snn.Leaky(beta=torch.rand(*shape) * 0.4 + 0.55, threshold=torch.ones(*shape),
                         init_hidden=True) for shape in shapes]
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), neurons[0], torch.nn.AvgPool2d((2, 2)),
        torch.nn.Conv2d(4, 8, 3, padding=1), neurons[1], torch.nn.AvgPool2d((2, 2)),
        torch.nn.Conv2d(8, 6, 2), neurons[2])
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.mul_(4.0)
    x = (torch.rand(STEPS, BATCH, 1, 8, 8, generator=torch.Generator().manual_seed(2)) < 0.4).float()
    snn_utils.reset(net)
    expected = []
    with torch.no_grad():
        for step in x:
            value, spikes = step, []
            for layer in net:
                value = layer(value)
                if isinstance(layer, snn.Leaky):
                    spikes.append(value)
            expected.append(spikes)
    expected = [torch.stack([s[i] for s in expected]).numpy() for i in range(len(shapes))]
    nir.write(str(tmp_path / "conv.nir"), export_to_nir(net, x[0, 0]))
    network = load_quietly(tmp_path / "conv.nir", dialect="snntorch")
    result = simulate_network(network, x.numpy(), record_outputs=True)
    lifs = [layer.name for layer in network.neuron_layers]
    mismatches = [int((result.node_outputs[name].reshape(spikes.shape) != spikes).sum())
                  for name, spikes in zip(lifs, expected, strict=True)]
    print(f"snnTorch conv: {[int(s.sum()) for s in expected]} spikes, {mismatches} mismatches")
    assert all(spikes.sum() > 10 for spikes in expected)
    assert mismatches == [0, 0, 0]


def sinabs_ann(kind: str) -> tuple[torch.nn.Sequential, tuple[int, ...]]:
    torch.manual_seed(3)
    if kind == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(16, 24), torch.nn.ReLU(), torch.nn.Linear(24, 16),
                                   torch.nn.ReLU(), torch.nn.Linear(16, 10), torch.nn.ReLU()), (16,)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(),
                               sinabs.layers.SumPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(36, 10), torch.nn.ReLU()), (1, 8, 8)


def export_sinabs(model: torch.nn.Module, shape: tuple[int, ...], path) -> None:
    graph = sinabs.to_nir(model, torch.rand(BATCH, *shape))
    graph.infer_types()  # sinabs leaves Conv2d.input_shape unset; nir.write needs it
    nir.write(str(path), graph)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("spike", ["multi", "single"])
def test_sinabs_files_reproduce_sinabs(kind, spike, tmp_path):
    ann, shape = sinabs_ann(kind)
    spike_fn = MultiSpike if spike == "multi" else SingleSpike
    model = from_model(ann, input_shape=shape, batch_size=BATCH, spike_fn=spike_fn).spiking_model
    export_sinabs(model, shape, tmp_path / "sinabs.nir")
    x = torch.rand(STEPS, BATCH, *shape, generator=torch.Generator().manual_seed(2)) * 2
    expected = run_sinabs(model, x)
    network = load_quietly(tmp_path / "sinabs.nir", dialect="sinabs",
                           spike=None if spike == "multi" else "single")
    ours = nd.simulate(network, x.numpy()).output
    assert int((ours != expected).sum()) == 0
    assert expected.sum() > 0


def test_literal_reading_warns_and_differs_from_sinabs(tmp_path):
    ann, shape = sinabs_ann("mlp")
    model = from_model(ann, input_shape=shape, batch_size=BATCH).spiking_model
    export_sinabs(model, shape, tmp_path / "sinabs.nir")
    with pytest.warns(NeurodeployWarning, match="--dialect sinabs"):
        literal = nd.load(tmp_path / "sinabs.nir")
    x = torch.rand(STEPS, BATCH, *shape, generator=torch.Generator().manual_seed(2)) * 2
    assert (nd.simulate(literal, x.numpy()).output != run_sinabs(model, x)).sum() > 0


def test_dialect_warnings_name_the_flag(tmp_path):
    net = snntorch_net([12, 20, 10], True, "subtract")
    nir.write(str(tmp_path / "snn.nir"), export_to_nir(net, torch.rand(1, 12), ignore_dims=[0]))
    with pytest.warns(NeurodeployWarning, match="--reset zero"):
        nd.load(tmp_path / "snn.nir", dialect="snntorch")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NeurodeployWarning)
        nd.load(tmp_path / "snn.nir", dialect="snntorch", reset="subtract")


def our_iaf_net() -> torch.nn.Sequential:
    torch.manual_seed(5)
    net = torch.nn.Sequential(torch.nn.Linear(16, 24), ndnn.IAF(min_v=-1.0), torch.nn.Linear(24, 10),
                              ndnn.IAF(threshold=0.5, min_v=-0.5))
    with torch.no_grad():
        net[0].weight.mul_(2.0)
    return net


def our_lif_net(reset_delay: bool) -> torch.nn.Sequential:
    torch.manual_seed(6)
    net = torch.nn.Sequential(
        torch.nn.Linear(16, 24), ndnn.LIF(beta=torch.rand(24) * 0.45 + 0.5, reset="zero",
                                          reset_delay=reset_delay, shape=(24,)),
        torch.nn.Linear(24, 10, bias=False), ndnn.LIF(beta=0.8, reset="zero"))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[2].weight.mul_(3.0)
    return net


def test_export_for_sinabs_runs_identically_in_sinabs(tmp_path):
    ours = our_iaf_net()
    nd.save_nir(ours, tmp_path / "for_sinabs.nir", dialect="sinabs")
    model = sinabs.from_nir(nir.read(str(tmp_path / "for_sinabs.nir")), batch_size=BATCH)
    x = torch.rand(STEPS, BATCH, 16, generator=torch.Generator().manual_seed(3)) * 2
    expected = nd.simulate(ours, x.numpy()).output
    assert int((run_sinabs(model, x) != expected).sum()) == 0
    assert expected.sum() > 0


@pytest.mark.parametrize("reset_delay", [True, False])
def test_export_for_snntorch_runs_identically_in_snntorch(reset_delay, tmp_path):
    ours = our_lif_net(reset_delay)
    nd.save_nir(ours, tmp_path / "for_snntorch.nir", dialect="snntorch")
    net = import_from_nir(nir.read(str(tmp_path / "for_snntorch.nir")))
    x = (torch.rand(STEPS, BATCH, 16, generator=torch.Generator().manual_seed(4)) < 0.4).float()
    expected = nd.simulate(ours, x.numpy()).output
    assert int((run_snntorch(net, x) != expected).sum()) == 0
    assert expected.sum() > 0


@pytest.mark.parametrize("tool, model, message", [
    ("sinabs", torch.nn.Sequential(torch.nn.Linear(4, 3), ndnn.IAF()), "-threshold"),
    ("sinabs", torch.nn.Sequential(torch.nn.Linear(4, 3), ndnn.LIF()), "IAF neurons only"),
    ("snntorch", torch.nn.Sequential(torch.nn.Linear(4, 3), ndnn.LIF()), "reset to zero"),
    ("snntorch", torch.nn.Sequential(torch.nn.Linear(4, 3), ndnn.IAF()), "Leaky neurons only"),
    ("snntorch", torch.nn.Sequential(torch.nn.Linear(4, 3), ndnn.SRC(3)), "Leaky neurons only"),
])
def test_inexpressible_exports_are_refused(tool, model, message, tmp_path):
    with pytest.raises(NeurodeployError, match=message):
        nd.save_nir(model, tmp_path / "x.nir", dialect=tool)
    assert not (tmp_path / "x.nir").exists()


def test_convert_a_sinabs_file_for_the_sim_target(tmp_path):
    torch.manual_seed(8)
    ann = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10),
                              torch.nn.ReLU())
    model = from_model(ann, input_shape=(64,), batch_size=BATCH).spiking_model
    export_sinabs(model, (64,), tmp_path / "sinabs.nir")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "sinabs.nir"), "--dialect",
                                       "sinabs", "--target", "sim", "--data", str(DATA), "-o",
                                       str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: sinabs's exporter does not record the spike function" in result.stderr
    assert (out / "program.npz").exists() and (out / "report.json").exists()


def test_cuba_lif_travels_as_plain_nir_cubalif(tmp_path):
    torch.manual_seed(9)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), ndnn.CubaLIF(alpha=0.6, beta=0.85),
                              torch.nn.Linear(5, 3), ndnn.CubaLIF())
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    x = (torch.rand(30, 4, 6, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    with torch.no_grad():
        expected = net(x).numpy()
    nd.save_nir(net, tmp_path / "cuba.nir")
    graph = nir.read(str(tmp_path / "cuba.nir"))
    assert type(graph.nodes["1"]).__name__ == "CubaLIF"
    for node in graph.nodes.values():  # drop neurodeploy's metadata: plain NIR must suffice
        node.metadata = {}
    graph.metadata = {}
    nir.write(str(tmp_path / "plain.nir"), graph)
    literal = nd.load(tmp_path / "plain.nir", dialect="nir")
    assert int((nd.simulate(literal, x.numpy()).output != expected).sum()) == 0
    assert expected.sum() > 0
