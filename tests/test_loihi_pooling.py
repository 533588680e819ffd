"""Loihi breadth: pooling folded into the weights next to it (exact against torch), real CNNs
from sinabs and snnTorch converted for loihi and run in Lava bit for bit, and a network too big
for one chip split over cores and chips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_lava import assert_same, lava  # noqa: F401  (the lava executor fixture)

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.api import calibrate
from neurodeploy.cli import main
from neurodeploy.engine.golden import simulate_program
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.ir import nodes
from neurodeploy.ir.compose import NotComposable, compose_linear
from neurodeploy.targets.base import ResourceLimitError
from neurodeploy.targets.loihi.lower import lower_to_loihi
from neurodeploy.targets.registry import get_target

STEPS, LAVA_SAMPLES = 32, 12
RNG = np.random.default_rng(0)


def _conv(out: int, inp: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True,
          dilation: int = 1, groups: int = 1) -> nodes.Conv2d:
    return nodes.Conv2d(RNG.normal(size=(out, inp // groups, k, k)),
                        RNG.normal(size=out) if bias else None, (stride, stride),
                        (padding, padding), (dilation, dilation), groups)


def _torch(steps, x: np.ndarray) -> np.ndarray:
    """The steps run by torch itself."""
    functional, y = torch.nn.functional, torch.tensor(x)
    for node in steps:
        if isinstance(node, nodes.Conv2d):
            y = functional.conv2d(y, torch.tensor(node.weight), None if node.bias is None
                                  else torch.tensor(node.bias), node.stride, node.padding,
                                  node.dilation, node.groups)
        elif isinstance(node, nodes.AvgPool2d | nodes.SumPool2d):
            y = functional.avg_pool2d(y, node.kernel_size, node.stride, node.padding)
            if isinstance(node, nodes.SumPool2d):
                y = y * float(np.prod(node.kernel_size))
        elif isinstance(node, nodes.Flatten):
            y = y.flatten(1)
        elif isinstance(node, nodes.BatchNorm):
            scale, shift = node.scale_shift()
            shape = (1, -1, 1, 1) if y.ndim == 4 else (1, -1)
            y = y * torch.tensor(scale).reshape(shape) + torch.tensor(shift).reshape(shape)
        else:
            y = y @ torch.tensor(node.weight).T + (0 if node.bias is None
                                                   else torch.tensor(node.bias))
    return y.numpy()


def _norm(channels: int, spatial: bool) -> nodes.BatchNorm:
    return nodes.BatchNorm(RNG.normal(size=channels), RNG.random(channels) + 0.5,
                           RNG.normal(size=channels), RNG.normal(size=channels), spatial=spatial)


CHAINS = {
    "conv-avgpool": ((4, 12, 12), [_conv(6, 4, 3, padding=1), nodes.AvgPool2d((2, 2), (2, 2))]),
    "strided-conv-sumpool": ((4, 11, 11), [_conv(6, 4, 3, stride=2),
                                           nodes.SumPool2d((2, 2), (2, 2))]),
    "sumpool-padded-conv": ((4, 12, 12), [nodes.SumPool2d((2, 2), (2, 2)),
                                          _conv(6, 4, 3, padding=1)]),
    "avgpool-flatten-linear": ((4, 13, 13), [nodes.AvgPool2d((2, 2), (2, 2)), nodes.Flatten(),
                                             nodes.Affine(RNG.normal(size=(7, 144)),
                                                          RNG.normal(size=7))]),
    "grouped-dilated-conv-norm-pool": ((4, 12, 12), [_conv(8, 4, 3, padding=2, bias=False,
                                                           dilation=2, groups=2),
                                                     _norm(8, True),
                                                     nodes.AvgPool2d((3, 3), (3, 3))]),
    "linear-norm": ((20,), [nodes.Affine(RNG.normal(size=(7, 20)), RNG.normal(size=7)),
                            _norm(7, False)]),
    "conv-sumpool-flatten-linear": ((4, 8, 8), [_conv(6, 4, 3, padding=1),
                                                nodes.SumPool2d((2, 2), (2, 2)), nodes.Flatten(),
                                                nodes.Affine(RNG.normal(size=(5, 96)), None)]),
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_composed_layers_equal_torch(chain):
    shape, steps = CHAINS[chain]
    x = RNG.normal(size=(3, *shape))
    composite = compose_linear(steps, shape)
    expected = _torch(steps, x)
    if isinstance(composite, nodes.Affine):
        got = x.reshape(len(x), -1) @ composite.weight.T + composite.bias
    else:
        got = _torch([composite], x)
    assert got.shape == expected.reshape(len(x), *got.shape[1:]).shape
    assert np.abs(got - expected.reshape(got.shape)).max() < 1e-9


@pytest.mark.parametrize("steps, shape", [
    ([nodes.SumPool2d((2, 2), (2, 2)), _conv(6, 4, 3, padding=1, bias=False)], (4, 13, 13)),
    ([_conv(6, 4, 3, padding=1), _conv(6, 6, 3, padding=1, bias=False)], (4, 12, 12))])
def test_inexact_compositions_are_refused(steps, shape):
    """A padded layer after a pool that leaves rows over, or after a biased conv, would read
    real values or the bias where torch reads zeros."""
    with pytest.raises(NotComposable, match="padded layer"):
        compose_linear(steps, shape)


def _digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return train_test_split(images, digits.target, test_size=0.3, random_state=seed,
                            stratify=digits.target)


def _train(ann: torch.nn.Sequential, x: np.ndarray, y: np.ndarray) -> torch.nn.Sequential:
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(ann.parameters(), lr=3e-3)
    inputs, labels = torch.as_tensor(x), torch.as_tensor(y)
    for _ in range(30):
        for start in range(0, len(labels), 64):
            loss = torch.nn.functional.cross_entropy(ann(inputs[start:start + 64]).flatten(1),
                                                     labels[start:start + 64])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return ann.eval()


def _rate_data(tmp_path, x_test: np.ndarray, y_test: np.ndarray):
    """Bernoulli rate coding of the test images over STEPS (loihi takes binary spikes)."""
    x = (np.random.default_rng(1).random((STEPS, *x_test.shape)) < x_test[None]).astype(
        np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=y_test)
    return x, tmp_path / "data.npz"


def _convert_and_run_in_lava(model, flags, data, x, out, lava_executor) -> str:
    result = CliRunner().invoke(main, ["convert", str(model), *flags, "--target", "loihi",
                                       "--data", str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    program = nd.Program.load(out)
    assert not any(type(node).__name__.endswith("Pool2d") for node in program.nodes.values())
    x = x[:, :LAVA_SAMPLES]
    golden = simulate_program(program, x, record_outputs=True)
    assert_same(golden, lava_executor.run(out, program, x))
    assert min(float(counts.sum()) for counts in golden.spikes.values()) > 0
    return result.output


def test_sinabs_conv_iaf_sumpool_runs_in_lava_bit_exactly(tmp_path, lava):  # noqa: F811
    import nir
    import sinabs
    from sinabs.activation import SingleSpike
    from sinabs.from_torch import from_model
    from sinabs.layers import SumPool2d

    x_train, x_test, y_train, y_test = _digits()
    ann = _train(torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), SumPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), SumPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64, 10)), x_train, y_train)
    snn = from_model(ann, input_shape=(1, 8, 8), spike_fn=SingleSpike, add_spiking_output=True,
                     batch_size=1).spiking_model
    graph = sinabs.to_nir(snn, torch.rand(1, 1, 8, 8))
    graph.infer_types()
    nir.write(str(tmp_path / "cnn.nir"), graph)
    x, data = _rate_data(tmp_path, x_test, y_test)
    output = _convert_and_run_in_lava(tmp_path / "cnn.nir", ["--dialect", "sinabs", "--spike",
                                                             "single"], data, x,
                                      tmp_path / "out", lava)
    print(output)
    assert "accuracy: float" in output


def test_snntorch_conv_avgpool_leaky_runs_in_lava_bit_exactly(tmp_path, lava):  # noqa: F811
    import nir
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    x_train, x_test, y_train, y_test = _digits()
    ann = _train(torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.AvgPool2d(2), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.AvgPool2d(2), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 10, 2)), x_train, y_train)
    shapes = [(8, 4, 4), (16, 2, 2), (10, 1, 1)]
    leaky = [snn.Leaky(beta=torch.full(shape, 0.95), threshold=torch.ones(*shape),
                       init_hidden=True) for shape in shapes]
    net = torch.nn.Sequential(ann[0], ann[1], leaky[0], ann[3], ann[4], leaky[1], ann[6],
                              leaky[2])
    x, data = _rate_data(tmp_path, x_test, y_test)
    nir.write(str(tmp_path / "cnn.nir"), export_to_nir(net, torch.as_tensor(x[0, 0])))
    output = _convert_and_run_in_lava(tmp_path / "cnn.nir", ["--dialect", "snntorch"], data, x,
                                      tmp_path / "out", lava)
    print(output)
    assert "accuracy: float" in output


def test_a_net_too_big_for_one_chip_splits_over_cores_and_chips():
    """1024-4096-4096 IAF: 256 cores over two chips (the first layer split further so that no
    core needs more than 4,096 output axons); the program, and so the golden run, is the one
    lowered without any placement."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1024, 4096), ndnn.IAF(),
                                torch.nn.Linear(4096, 4096), ndnn.IAF())
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.mul_(3.0)
    network = nd.load(model, input_shape=(1024,))
    x = (np.random.default_rng(0).random((6, 3, 1024)) < 0.2).astype(np.float32)
    with pytest.raises(ResourceLimitError, match="--multi-chip"):
        nd.convert(network, target="loihi", data=x)
    program = nd.convert(network, target="loihi", data=x, multi_chip=True)
    target = get_target("loihi")
    placement = target.place(program)
    assert (placement.cores_used, placement.chips_used) == (256, 2)
    for node in placement.nodes:
        assert len(node.cores) * node.neurons_per_core >= node.neurons
        for usage in node.usage:
            assert usage.used <= usage.available, (node.node, usage)
    first = placement.nodes[0]
    assert dict((u.resource, u.used) for u in first.usage)["output_axons"] == 4096
    unplaced = lower_to_loihi(network, calibrate(network, x), target.spec, 8)
    golden = simulate_program(program, x, record_outputs=True)
    reference = simulate_program(unplaced, x, record_outputs=True)
    assert np.array_equal(golden.output, reference.output)
    assert all(np.array_equal(golden.node_outputs[n], reference.node_outputs[n])
               for n in reference.node_outputs)
    assert golden.spike_count > 0


def test_pooling_that_cannot_fold_exactly_is_refused_in_one_line():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), ndnn.IAF(), torch.nn.AvgPool2d(2),
                                torch.nn.Conv2d(4, 4, 3, padding=1), ndnn.IAF())
    network = nd.load(model, input_shape=(1, 9, 9))
    x = (np.random.default_rng(0).random((4, 2, 1, 9, 9)) < 0.3).astype(np.float32)
    with pytest.raises(UnsupportedModelError, match="folds pooling") as error:
        nd.convert(network, target="loihi", data=x)
    assert "\n" not in str(error.value)
