"""netx files in lava-dl's own layouts (generated here as lava-dl writes them): read, rewritten,
run by the golden model against Lava, loaded as float networks, converted and verified.

The Lava tests need NEURODEPLOY_LAVA_PYTHON and are skipped, with the reason, without it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from test_lava import assert_same, lava  # noqa: F401  (the fixture)

import neurodeploy as nd
from neurodeploy import ir
from neurodeploy.cli import main
from neurodeploy.engine.golden import simulate_program
from neurodeploy.engine.reference import simulate_network
from neurodeploy.errors import InvalidFileError, UnsupportedModelError
from neurodeploy.program.graph import Program
from neurodeploy.report.build import node_delays
from neurodeploy.targets.loihi.netx import write_netx
from neurodeploy.targets.loihi.netx_read import read_netx

RNG = np.random.default_rng(5)
LOIHI_EXTRAS = {"refDelay": 1, "theta": 1600, "scaleRho": 1.0, "tauRho": 0.5, "wgtExp": 0}


def write_lava_dl(path: Path, layers: list[dict]) -> Path:
    """A netx file as lava-dl's exporter writes it: S10 layer types, variable-length neuron
    types, float32 weights and biases."""
    with h5py.File(path, "w") as f:
        for index, layer in enumerate(layers):
            group = f.create_group(f"layer/{index}")
            for key, value in layer.items():
                if key == "type":
                    group.create_dataset("type", data=np.array([value.encode()], "S10"))
                elif key == "neuron":
                    neuron = group.create_group("neuron")
                    for field, item in value.items():
                        neuron.create_dataset(field, data=item.encode() if field == "type" else item)
                else:
                    kind = np.float32 if key in ("weight", "bias") else np.int64
                    group.create_dataset(key, data=np.asarray(value, kind))
    return path


def cuba(kind: str = "CUBA", i_decay: int = 4096, v_decay: int = 1024, vth: int = 25) -> dict:
    extras = LOIHI_EXTRAS if kind == "LOIHI" else {"refDelay": 1, "gradedSpike": False}
    return {"type": kind, "iDecay": i_decay, "vDecay": v_decay, "vThMant": vth, **extras}


def weights(shape: tuple[int, ...], low: int, high: int) -> np.ndarray:
    values = RNG.integers(low, high + 1, shape)
    values.flat[:2] = (low, high)  # the extremes netx keeps exactly
    return values


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """`dense`: no input layer, weights -256..254 with a per-neuron bias, a LOIHI layer with a
    1-D weight, a shape [8, 1, 1] and one bias value, a last layer without a neuron group (netx's
    default neuron, read out). `conv`: an input layer of LOIHI neurons (graded a_in), 5-D conv
    weights with a per-channel bias, a conv bias per neuron in netx's (W, H, C) order, flatten,
    dense."""
    root = tmp_path_factory.mktemp("lava_dl")
    dense = [
        {"type": "dense", "shape": [16], "weight": weights((16, 24), -256, 254),
         "bias": RNG.integers(-60, 61, 16), "neuron": cuba("CUBA", 1024, 256, 200)},
        {"type": "dense", "shape": [8, 1, 1], "weight": weights((8 * 16,), -90, 120),
         "bias": [30], "neuron": cuba("LOIHI", 4096, 1024, 150)},
        {"type": "dense", "shape": [5], "weight": weights((5, 8), -40, 50)},
    ]
    conv = [
        {"type": "input", "shape": [2, 8, 8], "weight": [36], "bias": [34],
         "neuron": cuba("LOIHI")},
        {"type": "conv", "shape": [4, 8, 8], "weight": weights((4, 2, 3, 3, 1), -10, 10),
         "bias": RNG.integers(-20, 21, 4), "stride": [1, 1], "padding": [1, 1],
         "dilation": [1, 1], "groups": 1, "neuron": cuba("LOIHI")},
        {"type": "conv", "shape": [3, 4, 4], "weight": weights((3, 4, 3, 3), -12, 12),
         "bias": RNG.integers(-15, 16, (4, 4, 3)), "stride": [2, 2], "padding": [1, 1],
         "dilation": [1, 1], "groups": 1, "neuron": cuba("CUBA", 2048, 512, 40)},
        {"type": "flatten", "shape": [48, 1, 1]},
        {"type": "dense", "shape": [5], "weight": weights((5, 48), -30, 30),
         "neuron": cuba("CUBA", 4096, 128, 60)},
    ]
    return {"dense": write_lava_dl(root / "dense.net", dense),
            "conv": write_lava_dl(root / "conv.net", conv)}


def inputs(program: Program, steps: int = 12, batch: int = 3) -> np.ndarray:
    """Binary spikes for a network without input neurons, graded a_in 0..40 for one with."""
    shape = (steps, batch, *program.input.shape)
    if program.input.bits == 2:
        return (RNG.random(shape) < 0.3).astype(np.float32)
    return RNG.integers(0, 41, shape).astype(np.float32)


def assert_same_program(a: Program, b: Program) -> None:
    assert (a.target, a.input, a.edges, a.output) == (b.target, b.input, b.edges, b.output)
    assert dict(a.options) == dict(b.options) and list(a.nodes) == list(b.nodes)
    for name, node in a.nodes.items():
        other = b.nodes[name]
        assert type(node) is type(other), name
        for field in dataclasses.fields(node):
            mine, theirs = getattr(node, field.name), getattr(other, field.name)
            assert np.array_equal(mine, theirs), (name, field.name)


def test_lava_dl_layouts_are_read_as_netx_builds_them(files):
    dense = read_netx(files["dense"])
    assert dense.input.shape == (24,) and dense.input.bits == 2  # binary spikes into layer 0
    assert [n for n in dense.order] == ["0.synapse", "0", "1.synapse", "1", "2.synapse", "2"]
    assert dense.nodes["0.synapse"].weight.min() == -256 and dense.nodes["0.synapse"].weight.max() == 254
    assert dense.nodes["1.synapse"].weight.shape == (8, 16) and dense.shapes["1"] == (8,)
    assert np.all(dense.nodes["1"].bias == 30 << 6)  # one bias value for the whole layer
    default = dense.nodes["2"]  # netx's neuron: iDecay 0, vDecay 4096, vThMant 1 << 17
    assert default.readout and np.all(default.du == -1) and np.all(default.dv == 4096)
    assert np.all(default.vth == 1 << 17)
    conv = read_netx(files["conv"])
    assert conv.input.shape == (2, 8, 8) and conv.input.bits == 16  # graded a_in of neurons
    assert conv.inputs_of("0")[0].delay == 0 and not np.any(conv.nodes["0"].bias)
    assert conv.nodes["1.synapse"].weight.shape == (4, 2, 3, 3)
    with h5py.File(files["conv"], "r") as f:
        per_channel, whc = f["layer/1/bias"][()], f["layer/2/bias"][()]
    assert np.array_equal(conv.nodes["1"].bias[:, 0, 0] >> 6, per_channel)
    assert np.array_equal(conv.nodes["2"].bias >> 6, whc.transpose(2, 1, 0))


def test_rewriting_a_lava_dl_file_gives_the_same_program(files, tmp_path):
    for name, path in files.items():
        program = read_netx(path)
        write_netx(program, tmp_path / f"{name}.net")
        assert_same_program(read_netx(tmp_path / f"{name}.net"), program)
    with h5py.File(tmp_path / "conv.net", "r") as f:  # input neurons, (W, H, C) conv bias
        assert "neuron" in f["layer/0"] and f["layer/2/bias"].shape == (4, 4, 3)


@pytest.mark.parametrize("name", ["dense", "conv"])
def test_lava_runs_lava_dl_layouts_as_the_golden_model(name, files, lava, tmp_path):  # noqa: F811
    program = read_netx(files[name])
    x = inputs(program)
    golden = simulate_program(program, x, record_outputs=True)
    assert all(golden.spikes[n].sum() > 0 for n in golden.spikes if n not in golden.graded)
    assert_same(golden, lava.run(files[name], program, x))
    if name == "conv":  # our writer's input layer and (W, H, C) bias, read by netx alike
        write_netx(program, tmp_path / "rewritten.net")
        assert_same(golden, lava.run(tmp_path / "rewritten.net", program, x))


def refused(path: Path, layers: list[dict], error: type, match: str) -> None:
    write_lava_dl(path, layers)
    with pytest.raises(error, match=match) as info:
        read_netx(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_what_neurodeploy_does_not_run_is_refused_in_one_line(tmp_path):
    dense = {"type": "dense", "shape": [4], "weight": weights((4, 6), -5, 5)}
    for kind, match in (("SDNN", r"layer/0/neuron: sigma-delta \(SDNN\) layers are not supported"),
                        ("RF_PHASE", r"resonate-and-fire \(RF_PHASE\)"),
                        ("ADRF", "resonate-and-fire")):
        refused(tmp_path / f"{kind}.net", [dense | {"neuron": {"type": kind, "vThMant": 6}}],
                UnsupportedModelError, match)
    refused(tmp_path / "graded.net", [dense | {"neuron": cuba() | {"gradedSpike": True}}],
            UnsupportedModelError, "graded spikes are not supported")
    refused(tmp_path / "delay.net", [dense | {"delay": np.ones(4), "neuron": cuba()}],
            UnsupportedModelError, "synaptic delays")
    refused(tmp_path / "first_conv.net", [{"type": "conv", "shape": [2, 4, 4],
                                           "weight": weights((2, 1, 3, 3), -3, 3),
                                           "stride": 1, "padding": 1, "dilation": 1,
                                           "groups": 1, "neuron": cuba()}],
            InvalidFileError, "layer/0 is a conv layer and there is no input layer")
    refused(tmp_path / "clipped.net", [dense | {"weight": weights((4, 6), -3, 255),
                                                "neuron": cuba()}],
            InvalidFileError, "netx clips mixed-sign weights")
    refused(tmp_path / "conv_bias.net", [{"type": "input", "shape": [1, 4, 4]},
                                         {"type": "conv", "shape": [2, 4, 4],
                                          "weight": weights((2, 1, 3, 3), -3, 3), "stride": 1,
                                          "padding": 1, "dilation": 1, "groups": 1,
                                          "bias": np.ones(32), "neuron": cuba()}],
            InvalidFileError, r"bias has shape \(32,\)")


def test_an_sdnn_file_is_refused_by_the_cli_with_exit_code_2(tmp_path):
    path = write_lava_dl(tmp_path / "sdnn.net", [
        {"type": "input", "shape": [4], "neuron": {"type": "SDNN", "vThMant": 6}},
        {"type": "dense", "shape": [2], "weight": weights((2, 4), -3, 3),
         "neuron": {"type": "SDNN", "vThMant": 6}}])
    np.savez(tmp_path / "x.npz", x=np.ones((3, 2, 4), np.float32))
    for args in (["convert", str(path), "--target", "loihi", "--data", str(tmp_path / "x.npz"),
                  "-o", str(tmp_path / "out")],
                 ["simulate", str(path), "--input", str(tmp_path / "x.npz")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
        assert "sigma-delta (SDNN) layers are not supported" in result.output
    with pytest.raises(UnsupportedModelError, match="sdnn.net: layer/0/neuron: sigma-delta"):
        nd.load(path)


def test_the_float_network_of_a_netx_file(files, tmp_path):
    """Same names, CubaLIF / LI in the file's units, netx's one-step synapses: the float run
    differs from the golden model only by rounding (and a decaying current's bias). A conv bias
    per neuron has no float form (float conv biases are per channel)."""
    with pytest.raises(UnsupportedModelError, match="conv.net: layer '2': a per-neuron conv bias"):
        nd.load(files["conv"])
    per_channel = tmp_path / "conv.net"
    per_channel.write_bytes(files["conv"].read_bytes())
    with h5py.File(per_channel, "a") as f:
        del f["layer/2/bias"]
        f["layer/2/bias"] = np.array([5.0, -7.0, 9.0], np.float32)
    for name, path in (("dense", files["dense"]), ("conv", per_channel)):
        program, network = read_netx(path), nd.load(path)
        assert set(network.nodes) == set(program.nodes)
        x = inputs(program, 16, 4)
        golden = simulate_program(program, x, record_outputs=True)
        reference = simulate_network(network, x, record_outputs=True)
        assert reference.latency == golden.latency == program.latency
        assert set(node_delays(program, reference).values()) == {0}
        spiking = [layer for layer in golden.spikes if layer not in golden.graded]
        differ = sum(np.sum(reference.node_outputs[n] != golden.node_outputs[n]) for n in spiking)
        assert differ < 0.1 * sum(golden.node_outputs[n].sum() for n in spiking), name
    assert isinstance(nd.load(files["dense"]).nodes["2"], ir.LI)


def test_an_integrating_netx_layer_is_exact_in_float(tmp_path):
    """No decay to round (iDecay 4096, vDecay 0) and no bias: float and integers agree exactly."""
    path = write_lava_dl(tmp_path / "if.net", [
        {"type": "dense", "shape": [12], "weight": weights((12, 20), -256, 254),
         "neuron": cuba("CUBA", 4096, 0, 300)},
        {"type": "dense", "shape": [4], "weight": weights((4, 12), -100, 100),
         "neuron": cuba("CUBA", 4096, 0, 90)}])
    program = read_netx(path)
    x = inputs(program, 30, 5)
    golden = simulate_program(program, x, record_outputs=True)
    reference = nd.simulate(nd.load(path), x)
    assert golden.spike_count > 0
    for layer in golden.spikes:
        assert np.array_equal(reference.spikes[layer], golden.spikes[layer]), layer
    assert np.array_equal(reference.output, golden.output)


def test_convert_and_verify_a_netx_file_through_the_cli(files, tmp_path):
    path = files["dense"]
    program = read_netx(path)
    x = inputs(program, 12, 6)
    np.savez(tmp_path / "x.npz", x=x, y=RNG.integers(0, 5, 6))
    runner = CliRunner()
    result = runner.invoke(main, ["convert", str(path), "--target", "loihi", "--data",
                                  str(tmp_path / "x.npz"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert_same_program(read_netx(tmp_path / "out" / "model.net"), program)  # integers kept
    report = (tmp_path / "out" / "report.json").read_text()
    assert "its integers are kept" in report
    result = runner.invoke(main, ["verify", str(path), "--target", "loihi", "--data",
                                  str(tmp_path / "x.npz")])
    assert result.exit_code == 0, result.output
    assert "spike agreement float ~ golden, layer '0'" in result.output
    result = runner.invoke(main, ["convert", str(path), "--target", "loihi", "--weight-bits", "6",
                                  "--data", str(tmp_path / "x.npz"), "-o", str(tmp_path / "o6")])
    assert result.exit_code == 2 and "already quantized for loihi" in result.output
    result = runner.invoke(main, ["convert", str(path), "--target", "sim", "--data",
                                  str(tmp_path / "x.npz"), "-o", str(tmp_path / "sim")])
    assert result.exit_code == 0, result.output  # other targets quantize the float network
    kept = nd.convert(path, target="loihi", data=x)
    assert_same_program(kept, program)
    assert nd.convert(nd.load(path), target="loihi", data=x).latency == program.latency
