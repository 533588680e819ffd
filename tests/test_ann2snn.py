"""ANN -> SNN conversion: accuracy against the ANN and plain sinabs, ONNX = torch, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import neurodeploy as nd
from neurodeploy.cli import main
from neurodeploy.errors import NeurodeployError
from neurodeploy.frontend.ann2snn import canonical_ann, normalise, spiking_model

sinabs = pytest.importorskip("sinabs")


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    return train_test_split(x, data.target, test_size=0.3, random_state=0, stratify=data.target)


def train(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, epochs: int) -> torch.nn.Module:
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(labels))
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            loss = torch.nn.functional.cross_entropy(model(inputs[batch]), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


@pytest.fixture(scope="module")
def mlp(digits):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 10))
    return train(model, digits[0], digits[2], 60)


@pytest.fixture(scope="module")
def cnn(digits):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.AvgPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 10))
    return train(model, digits[0].reshape(-1, 1, 8, 8), digits[2], 40)


def images(x: np.ndarray, kind: str) -> np.ndarray:
    return x.reshape(-1, 1, 8, 8) if kind == "cnn" else x


def export_onnx(model: torch.nn.Module, shape: tuple[int, ...], path) -> None:
    torch.onnx.export(model, (torch.rand(1, *shape),), str(path), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "batch"}})


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_single_spike_close_to_ann_and_better_than_plain_sinabs(kind, request, digits):
    model = request.getfixturevalue(kind)
    x, y = images(digits[1], kind), digits[3]
    report = nd.ann2snn(model, x, y, timesteps=32, spike="single").report
    assert report["ann_accuracy"] > 0.95
    assert report["ann_accuracy"] - report["snn_accuracy"] <= 0.015
    assert report["snn_accuracy"] > report["plain_accuracy"]
    assert report["spikes_per_inference"] > 0


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_multi_spike_within_half_a_point(kind, request, digits):
    model = request.getfixturevalue(kind)
    report = nd.ann2snn(model, images(digits[1], kind), digits[3], timesteps=32,
                        spike="multi").report
    assert report["ann_accuracy"] - report["snn_accuracy"] <= 0.005


def test_normalisation_keeps_the_ann_function(mlp, digits):
    x = torch.from_numpy(digits[1])
    normalised, factors = normalise(canonical_ann(mlp), x, 99.9)
    assert len(factors) == 2 and all(f["lambda"] > 0 for f in factors)
    with torch.no_grad():
        hidden = normalised[:2](x)
        assert np.percentile(hidden.numpy(), 99.9) == pytest.approx(1.0, rel=1e-3)
        assert torch.allclose(normalised(x), mlp(x), atol=1e-4)  # readout restores the scale


def test_batchnorm_is_folded_exactly(cnn, digits):
    x = torch.from_numpy(images(digits[1], "cnn")[:64])
    folded = canonical_ann(cnn)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded)
    with torch.no_grad():
        assert torch.allclose(folded(x), cnn(x), atol=1e-5)


def test_batchnorm_without_affine_is_folded_exactly():
    torch.manual_seed(0)
    ann = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4, affine=False),
                              torch.nn.ReLU(), torch.nn.Linear(4, 3))
    ann[1].running_mean.uniform_(-1, 1)
    ann[1].running_var.uniform_(0.5, 2)
    ann.eval()
    x = torch.rand(16, 6)
    with torch.no_grad():
        assert torch.allclose(canonical_ann(ann)(x), ann(x), atol=1e-5)


@pytest.mark.parametrize("norm, fragment", [
    (torch.nn.BatchNorm1d(4, track_running_stats=False), "without running statistics"),
    (torch.nn.BatchNorm1d(5), "a BatchNorm1d over 5 features follows a Linear with 4 outputs"),
])
def test_a_batchnorm_that_cannot_fold_is_one_line_naming_the_file(tmp_path, norm, fragment):
    """affine=False folded into an internal AttributeError, missing running statistics or a
    feature count unlike the layer's before it into internal TypeError / RuntimeError."""
    path = tmp_path / "ann.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 4), norm, torch.nn.ReLU(),
                                   torch.nn.Linear(4, 2)).eval(), path)
    np.savez(tmp_path / "data.npz", x=np.random.default_rng(0).random((8, 3)).astype(np.float32))
    result = CliRunner().invoke(main, ["ann2snn", str(path), "--data", str(tmp_path / "data.npz"),
                                       "-o", str(tmp_path / "snn.nir")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{path}: " in lines[0] and fragment in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ann.pt", "data.npz"]


def test_converted_layers_equal_sinabs_from_model(mlp, digits):
    from sinabs.activation import SingleSpike
    from sinabs.from_torch import from_model

    ann = canonical_ann(mlp)
    ours = spiking_model(ann, "single", (64,))
    theirs = from_model(ann, spike_fn=SingleSpike, min_v_mem=-1.0, batch_size=50).spiking_model
    x = torch.from_numpy(digits[1][:50]) * 3
    steps = 16
    timed = x.unsqueeze(0).expand(steps, *x.shape)
    with torch.no_grad():
        expected = theirs(timed.transpose(0, 1).reshape(-1, 64)).reshape(50, steps, -1)
        got = ours(timed)  # ends with the alpha-0 readout: each step's current
    assert torch.equal(got.transpose(0, 1), expected)


def test_onnx_and_torch_give_the_same_snn(mlp, cnn, digits, tmp_path):
    export_onnx(mlp, (64,), tmp_path / "mlp.onnx")
    from_torch = nd.ann2snn(mlp, digits[1], timesteps=32).network
    from_onnx = nd.ann2snn(tmp_path / "mlp.onnx", digits[1], timesteps=32).network
    for a, b in zip(from_torch.layers, from_onnx.layers, strict=True):
        assert type(a.node) is type(b.node)
        for name in ("weight", "bias", "threshold"):
            if hasattr(a.node, name):
                assert np.array_equal(getattr(a.node, name), getattr(b.node, name))
    x = images(digits[1], "cnn")
    export_onnx(cnn, (1, 8, 8), tmp_path / "cnn.onnx")  # the exporter folds the BatchNorm itself
    torch_snn = nd.ann2snn(cnn, x, digits[3], timesteps=32)
    onnx_snn = nd.ann2snn(tmp_path / "cnn.onnx", x, digits[3], timesteps=32)
    timed = np.broadcast_to(x, (32, *x.shape)).copy()
    out_torch = nd.simulate(torch_snn.network, timed).output
    out_onnx = nd.simulate(onnx_snn.network, timed).output
    assert np.mean(out_torch.argmax(-1) == out_onnx.argmax(-1)) > 0.99
    assert onnx_snn.report["snn_accuracy"] == pytest.approx(torch_snn.report["snn_accuracy"],
                                                            abs=0.004)


def test_unsupported_onnx_ops_are_named(tmp_path, digits):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(36, 10)).eval()
    export_onnx(model, (1, 8, 8), tmp_path / "maxpool.onnx")
    with pytest.raises(NeurodeployError, match=r"\(MaxPool\): max pooling"):
        nd.ann2snn(tmp_path / "maxpool.onnx", images(digits[1], "cnn"))
    sigmoid = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.Sigmoid(),
                                  torch.nn.Linear(8, 10)).eval()
    export_onnx(sigmoid, (64,), tmp_path / "sigmoid.onnx")
    with pytest.raises(NeurodeployError, match=r"\(Sigmoid\)"):
        nd.ann2snn(tmp_path / "sigmoid.onnx", digits[1])


def test_cli_ann2snn_writes_snn_and_report(mlp, digits, tmp_path):
    torch.save(mlp, tmp_path / "ann.pt")
    np.savez(tmp_path / "data.npz", x=digits[1], y=digits[3])
    out = tmp_path / "out" / "snn.nir"
    out.parent.mkdir()
    result = CliRunner().invoke(main, ["ann2snn", str(tmp_path / "ann.pt"), "--data",
                                       str(tmp_path / "data.npz"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "snn.accuracy_vs_timesteps.png", "snn.neurodeploy-manifest.json", "snn.nir",
        "snn.report.json", "snn.report.md"]
    report = json.loads((out.parent / "snn.report.json").read_text())
    assert report["snn_accuracy"] > 0.95 and len(report["normalisation"]) == 2
    network = nd.load(out)
    timed = np.broadcast_to(digits[1], (32, *digits[1].shape)).copy()
    assert nd.simulate(network, timed).accuracy(digits[3]) == pytest.approx(report["snn_accuracy"])


def test_cli_bad_onnx_is_one_line(tmp_path, digits):
    (tmp_path / "bad.onnx").write_bytes(b"this is not a protobuf")
    np.savez(tmp_path / "data.npz", x=digits[1])
    result = CliRunner().invoke(main, ["ann2snn", str(tmp_path / "bad.onnx"), "--data",
                                       str(tmp_path / "data.npz"), "-o",
                                       str(tmp_path / "snn.pt")])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "not a valid ONNX model" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx", "data.npz"]


def test_convert_an_onnx_ann_for_sim_in_one_go(mlp, digits, tmp_path):
    export_onnx(mlp, (64,), tmp_path / "ann.onnx")
    np.savez(tmp_path / "data.npz", x=digits[1], y=digits[3])
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "ann.onnx"), "--target", "sim",
                                       "--data", str(tmp_path / "data.npz"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["quantized"] > 0.95
