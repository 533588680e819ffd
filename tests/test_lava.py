"""The loihi target's Lava executor against the golden model, and node names in netx files.

The Lava tests need NEURODEPLOY_LAVA_PYTHON (scripts/lava_venv.sh prints it; .ci/run sets it) and
are skipped, with the reason, without it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA, model_path

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.cli import main
from neurodeploy.engine.golden import simulate_program
from neurodeploy.errors import InvalidDataError, InvalidFileError
from neurodeploy.targets.loihi.lava import ENVIRONMENT, LavaError
from neurodeploy.targets.loihi.netx_read import read_netx
from neurodeploy.targets.registry import get_target

SAMPLES = 60  # per model: about 15 s of Lava each


def convert(model, out) -> nd.Program:
    result = CliRunner().invoke(main, ["convert", str(model), "--target", "loihi", "--data",
                                       str(DATA), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return nd.Program.load(out)


@pytest.fixture(scope="module")
def digits_out(tmp_path_factory) -> Callable[[str], Path]:
    """OUT/ of a shipped digits model converted for loihi, by kind (converted when first asked)."""
    root = tmp_path_factory.mktemp("lava")

    def out(kind: str) -> Path:
        if not (root / kind).exists():
            convert(model_path(kind), root / kind)
        return root / kind

    return out


@pytest.fixture
def lava():
    """The lava executor; a skip saying why without NEURODEPLOY_LAVA_PYTHON, a failure when it is
    set (as in CI) but does not run Lava."""
    executor = get_target("loihi").executors["lava"]
    why = executor.unavailable()
    if why and os.environ.get(ENVIRONMENT):
        pytest.fail(f"{ENVIRONMENT} is set, but the lava executor is unavailable: {why}")
    if why:
        pytest.skip(f"the lava executor is unavailable: {why}")
    return executor


def assert_same(golden, lava_result) -> None:
    """Outputs, per-layer spikes and events, and every neuron's output per step: bit for bit."""
    assert lava_result.output.dtype == golden.output.dtype
    assert np.array_equal(lava_result.output, golden.output)
    assert lava_result.latency == golden.latency and lava_result.graded == golden.graded
    assert list(lava_result.spikes) == list(golden.spikes) == list(golden.events)
    for name in golden.spikes:
        for got, want in ((lava_result.spikes[name], golden.spikes[name]),
                          (lava_result.events[name], golden.events[name]),
                          (lava_result.node_outputs[name], golden.node_outputs[name])):
            assert got.dtype == want.dtype and np.array_equal(got, want), name


@pytest.mark.parametrize("kind", ["lif", "iaf", "snu"])
def test_lava_runs_the_digits_models_bit_exactly(kind, lava, digits_out, digits_test):
    out = digits_out(kind)
    program = nd.Program.load(out)
    x = digits_test[0][:, :SAMPLES]
    golden = simulate_program(program, x, record_outputs=True)
    result = lava.run(out, program, x)
    assert_same(golden, result)
    assert result.output.shape == (x.shape[0] + 2, SAMPLES, 10)
    assert result.spike_count > 0


def test_lava_runs_a_readout_with_current_decay(lava, tmp_path, digits_test):
    """CubaLIF (iDecay < 4096, leak) into a leaky-integrator readout: Lava's voltage is the output."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 40), ndnn.CubaLIF(alpha=0.5, beta=0.9),
                              torch.nn.Linear(40, 10), ndnn.LI(alpha=0.9))
    with torch.no_grad():
        net[0].weight.mul_(2.0)
    torch.save(net, tmp_path / "readout.pt")
    program = convert(tmp_path / "readout.pt", tmp_path / "out")
    assert program.output_is_graded
    x = digits_test[0][:, :20]
    golden = simulate_program(program, x, record_outputs=True)
    assert np.any(golden.output != 0)
    assert_same(golden, lava.run(tmp_path / "out", program, x))


@pytest.fixture(scope="module")
def conv_out(tmp_path_factory, digits_test) -> Path:
    """OUT/ of a strided Conv2d (with biases) -> LIF -> Flatten -> Linear -> LIF on 1x8x8 digits."""
    root = tmp_path_factory.mktemp("conv")
    torch.manual_seed(0)
    net = ndnn.Sequential(torch.nn.Conv2d(1, 4, 3, stride=2, padding=1), ndnn.LIF(),
                          torch.nn.Flatten(), torch.nn.Linear(64, 10), ndnn.LIF(),
                          input_shape=(1, 8, 8))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
    torch.save(net, root / "conv.pt")
    np.savez(root / "x.npz", x=digits_test[0][:, :100].reshape(-1, 100, 1, 8, 8))
    result = CliRunner().invoke(main, ["convert", str(root / "conv.pt"), "--target", "loihi",
                                       "--data", str(root / "x.npz"), "-o", str(root / "out")])
    assert result.exit_code == 0, result.output
    return root / "out"


def test_conv_biases_are_stored_per_channel(conv_out, digits_test):
    """lava-dl builds conv biases given per channel only; the reload broadcasts them back."""
    program = nd.Program.load(conv_out)
    with h5py.File(conv_out / "model.net", "r") as f:
        assert f["layer/1/type"][()][0] == b"conv" and f["layer/1/bias"].shape == (4,)
        assert f["layer/2/type"][()][0] == b"flatten"
    reloaded = read_netx(conv_out / "model.net")
    assert list(reloaded.nodes) == list(program.nodes)
    assert np.any(program.nodes["1"].bias)
    assert np.array_equal(reloaded.nodes["1"].bias, program.nodes["1"].bias)
    x = digits_test[0][:, :20].reshape(-1, 20, 1, 8, 8)
    assert np.array_equal(nd.simulate(reloaded, x).output, nd.simulate(program, x).output)


def test_lava_runs_a_conv_network_bit_exactly(lava, conv_out, digits_test):
    """netx's (W, H, C) order, its flipped kernels and the flatten's transpose, all undone."""
    program = nd.Program.load(conv_out)
    x = digits_test[0][:, :20].reshape(-1, 20, 1, 8, 8)
    golden = simulate_program(program, x, record_outputs=True)
    assert golden.spikes["1"].sum() > 0 and golden.spikes["4"].sum() > 0
    assert_same(golden, lava.run(conv_out, program, x))


def test_lava_through_the_cli_and_its_refusals(lava, digits_out, digits_test, tmp_path):
    out = digits_out("lif")
    x, y = digits_test[0][:, :8], digits_test[1][:8]
    np.savez(tmp_path / "x.npz", x=x, y=y)
    # a netx file alone: its program is rebuilt from the file, with the node names it keeps
    result = CliRunner().invoke(main, ["simulate", str(out / "model.net"), "--input",
                                       str(tmp_path / "x.npz"), "--executor", "lava", "-o",
                                       str(tmp_path / "y.npz")])
    assert result.exit_code == 0, result.output
    golden = simulate_program(nd.Program.load(out), x)
    with np.load(tmp_path / "y.npz") as saved:
        assert np.array_equal(saved["output"], golden.output)
        assert sorted(k for k in saved.files if k.startswith("spikes/")) == ["spikes/1", "spikes/3"]
    with pytest.raises(InvalidDataError, match="binary spikes"):
        lava.run(out, nd.Program.load(out), np.full_like(x, -1.0))
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in out.iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    with h5py.File(broken / "model.net", "a") as f:
        f["layer/1/neuron/vThMant"][()] = 1
    with pytest.raises(InvalidFileError, match="differs from the sha256"):
        lava.run(broken, nd.Program.load(out), x)


def test_lava_unavailable_says_why(monkeypatch, digits_out, digits_test, tmp_path):
    executor = get_target("loihi").executors["lava"]
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    assert ENVIRONMENT in executor.unavailable()
    no_lava = tmp_path / "python"
    no_lava.write_text("#!/bin/sh\necho Traceback >&2\necho \"ModuleNotFoundError: No module "
                       "named 'lava'\" >&2\nexit 1\n")
    no_lava.chmod(0o755)
    monkeypatch.setenv(ENVIRONMENT, str(no_lava))
    why = executor.unavailable()
    assert "cannot import lava.lib.dl.netx (ModuleNotFoundError: No module named 'lava')" in why
    assert "\n" not in why and "lava_venv.sh" in why
    with pytest.raises(LavaError, match="cannot run here"):
        executor.run(digits_out("lif"), nd.Program.load(digits_out("lif")), digits_test[0][:, :2])
    monkeypatch.setenv(ENVIRONMENT, "/nonexistent/python")
    assert "does not run" in executor.unavailable()
    result = CliRunner().invoke(main, ["simulate", str(digits_out("lif")), "--input", str(DATA),
                                       "--executor", "lava"])
    assert result.exit_code != 0 and "does not run" in result.output
    assert "Traceback" not in result.output


def test_netx_reload_keeps_the_program_node_names(digits_out, tmp_path):
    """model.net carries the node names (HDF5 attributes netx ignores); files without keep the
    layer numbers; names used twice are refused."""
    out = digits_out("lif")
    program = nd.Program.load(out)
    reloaded = read_netx(out / "model.net")
    assert list(reloaded.nodes) == list(program.nodes) == ["0", "1", "2", "3"]
    assert reloaded.edges == program.edges and reloaded.output == program.output
    np.savez(tmp_path / "x.npz", x=np.load(DATA)["x"][:, :5])
    keys = []
    for model in (out, out / "model.net"):
        y = tmp_path / f"y{len(keys)}.npz"
        result = CliRunner().invoke(main, ["simulate", str(model), "--input",
                                           str(tmp_path / "x.npz"), "-o", str(y)])
        assert result.exit_code == 0, result.output
        with np.load(y) as saved:
            keys.append(sorted(k for k in saved.files if k.startswith("spikes/")))
    assert keys[0] == keys[1] == ["spikes/1", "spikes/3"]
    plain = tmp_path / "plain.net"
    plain.write_bytes((out / "model.net").read_bytes())
    with h5py.File(plain, "a") as f:
        for key in ("1", "2"):
            del f["layer"][key].attrs["node"], f["layer"][key].attrs["synapse"]
    assert list(read_netx(plain).nodes) == ["1.synapse", "1", "2.synapse", "2"]
    with h5py.File(plain, "a") as f:
        f["layer/1"].attrs["node"] = "2"
    with pytest.raises(InvalidFileError, match="used twice"):
        read_netx(plain)
