"""Quantization accuracy, the Program artifact, determinism, and the exactness of the engine."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA, KINDS, model_path
from hypothesis import given, settings
from hypothesis import strategies as st

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.cli import main
from neurodeploy.errors import NeurodeployError
from neurodeploy.program.synapses import Dense
from neurodeploy.targets.base import ResourceLimitError
from neurodeploy.targets.sim.mapping import place
from neurodeploy.targets.sim.spec import CoreArraySpec


@pytest.fixture(scope="module")
def float_accuracy(digits_test):
    x, y = digits_test
    return {kind: nd.simulate(nd.load(model_path(kind)), x).accuracy(y) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bits, allowed_drop_pp", [(8, 0.5), (4, 2.0)])
def test_quantized_accuracy_stays_close_to_float(kind, bits, allowed_drop_pp, digits_test,
                                                 float_accuracy):
    x, y = digits_test
    program = nd.convert(nd.load(model_path(kind)), target="sim", data=x, weight_bits=bits)
    quantized = nd.simulate(program, x).accuracy(y)
    assert 100 * (float_accuracy[kind] - quantized) <= allowed_drop_pp


def test_program_saves_and_loads_unchanged(tmp_path, digits_test):
    x = digits_test[0][:, :64]
    program = nd.convert(nd.load(model_path("src")), target="sim", data=x)
    program.save(tmp_path / "a")
    loaded = nd.Program.load(tmp_path / "a")
    loaded.save(tmp_path / "b")
    for name in ("program.json", "program.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert np.array_equal(nd.simulate(program, x).output, nd.simulate(loaded, x).output)


def test_convert_is_atomic_deterministic_and_simulate_matches_api(tmp_path, digits_test):
    runner = CliRunner()
    outs = [tmp_path / "one", tmp_path / "two"]
    for out in outs:
        result = runner.invoke(main, ["convert", str(model_path("ssnu")), "--target", "sim",
                                      "--data", str(DATA), "-o", str(out)])
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == ["mapping.json", "model.nir", "neurodeploy-manifest.json", "program.json",
                     "program.nir", "program.npz", "report.html", "report.json", "report.md"]
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    report = json.loads((outs[0] / "report.json").read_text())
    for key in ("target", "spikes", "synops", "energy", "cycles", "accuracy"):
        assert key in report
    assert report["accuracy"]["float"] > 0.9 and report["accuracy"]["quantized"] > 0.9
    assert report["spikes"]["total"] == 0  # soft SNU outputs are graded values, not spikes
    assert sum(report["spikes"]["graded_values_per_node"].values()) > 0
    assert report["synops"]["total"] > 0
    assert report["energy"]["total_pj"] > 0 and report["cycles"]["total"] > 0
    arrays = []
    for index in range(2):
        target = tmp_path / f"y{index}.npz"
        result = runner.invoke(main, ["simulate", str(outs[0]), "--input", str(DATA), "-o",
                                      str(target)])
        assert result.exit_code == 0, result.output
        arrays.append(target.read_bytes())
    assert arrays[0] == arrays[1]
    with np.load(tmp_path / "y0.npz") as saved:
        expected = nd.simulate(nd.Program.load(outs[0]), digits_test[0]).output
        assert np.array_equal(saved["output"], expected)


def test_failed_convert_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((3, 2, 5), np.float32))
    result = CliRunner().invoke(main, ["convert", str(model_path("lif")), "--data", str(bad),
                                       "-o", str(out)])
    assert result.exit_code == 2
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_event_driven_path_equals_dense_path(digits_test):
    x = digits_test[0][:, :40]
    program = nd.convert(nd.load(model_path("iaf")), target="sim", data=x)
    dense, events = nd.simulate(program, x), nd.simulate(program, x, event_driven=True)
    assert np.array_equal(dense.output, events.output)
    assert dense.output.sum() > 0


def test_power_of_two_scales_are_shifts(digits_test):
    x, y = digits_test
    program = nd.convert(nd.load(model_path("lif")), target="sim", data=x, power_of_two=True)
    for name in program.stateful_nodes:
        exponents = np.log2(program.nodes[name].unit)
        assert np.allclose(exponents, np.round(exponents))
    assert nd.simulate(program, x).accuracy(y) > 0.9


def _conv_recurrent_models():
    torch.manual_seed(3)
    conv = ndnn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), ndnn.IAF(spike="single"),
                           torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 10),
                           ndnn.LIF(beta=0.8), input_shape=(1, 8, 8))
    recurrent = torch.nn.Sequential(torch.nn.Linear(64, 32), ndnn.SNU(32, recurrent=True),
                                    torch.nn.Linear(32, 16), ndnn.SoftSNU(16, recurrent=True),
                                    torch.nn.Linear(16, 10), ndnn.LI(alpha=0.9))
    for model in (conv, recurrent):
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.endswith("weight"):
                    parameter.mul_(3.0)
    return conv, recurrent


@pytest.mark.parametrize("index", [0, 1])
def test_conv_and_recurrent_networks_quantize_faithfully_at_16_bits(index, digits_test):
    model = _conv_recurrent_models()[index]
    x = digits_test[0][:, :32]
    if index == 0:
        x = x.reshape(*x.shape[:2], 1, 8, 8)
    network = nd.load(model)
    reference = nd.simulate(network, x)
    program = nd.convert(network, target="sim", data=x, weight_bits=16)
    quantized = nd.simulate(program, x)
    assert all(count.sum() > 0 for count in quantized.events.values())
    if network.output_is_graded:
        assert np.abs(quantized.output - reference.output).max() < 0.02 * np.abs(
            reference.output).max()
    else:
        assert np.mean(quantized.output == reference.output) > 0.98


def test_mapping_splits_layers_and_names_the_limit(digits_test):
    x = digits_test[0][:, :16]
    program = nd.convert(nd.load(model_path("lif")), target="sim", data=x)
    placement = place(program, CoreArraySpec(neurons_per_core=50), 8)
    assert [len(p.cores) for p in placement.nodes] == [3, 1]
    with pytest.raises(ResourceLimitError, match="layer '3'.*3 cores"):
        place(program, CoreArraySpec(cores=3, neurons_per_core=50), 8)
    with pytest.raises(ResourceLimitError, match="layer '1'.*64 inputs"):
        place(program, CoreArraySpec(synapse_memory_bytes=32), 8)


def test_synops_count_spikes_times_fan_out():
    dense = Dense(np.ones((7, 5), np.int8))
    x = np.zeros((2, 3, 5), np.float32)
    x[0, 0, [1, 3]] = 1
    x[1, 2, 4] = 1
    count = dense.synapse_count(x, 1.0)
    assert count.effective == 3 * 7 and count.dense == 6 * 35 and count.accumulate_only


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 16), st.integers(0, 2**31 - 1), st.sampled_from([1, 3, 127, 255, 4095]))
def test_affine_is_exact_on_every_path(bits, seed, x_max):
    rng = np.random.default_rng(seed)
    qmax = (1 << (bits - 1)) - 1
    dtype = np.int8 if bits <= 8 else np.int16
    weight = rng.integers(-qmax, qmax + 1, (9, 40)).astype(dtype)
    x = rng.integers(0, x_max + 1, (3, 4, 40)).astype(np.float32)
    exact = np.einsum("oi,tbi->tbo", weight.astype(np.int64), x.astype(np.int64))
    dense = Dense(weight)
    assert np.array_equal(dense.apply(x, float(x_max)).astype(np.int64), exact)
    assert np.array_equal(dense.apply_events(x), exact)


def test_unsupported_width_is_a_clear_error(digits_test):
    with pytest.raises(NeurodeployError, match="weight bits"):
        nd.convert(nd.load(model_path("lif")), target="sim", data=digits_test[0], weight_bits=1)


def test_state_widths_2_to_32_and_the_strict_threshold_minimum(digits_test):
    x = digits_test[0][:, :16]
    for bits in (1, 33):
        with pytest.raises(NeurodeployError, match="state bits must be 2..32"):
            nd.convert(nd.load(model_path("iaf")), target="sim", data=x, state_bits=bits)
    with pytest.raises(NeurodeployError, match="LIF .* use at least 3 state bits"):
        nd.convert(nd.load(model_path("lif")), target="sim", data=x, state_bits=2)
    for kind, bits in (("iaf", 2), ("snu", 2), ("lif", 3), ("src", 2), ("ssnu", 2)):
        program = nd.convert(nd.load(model_path(kind)), target="sim", data=x, state_bits=bits)
        result = nd.simulate(program, x, record_states=True)
        for name in program.stateful_nodes:  # the first state (v, m, s, i) is the state_bits one
            state = next(iter(result.states[name].values()))
            assert -(1 << (bits - 1)) <= state.min() and state.max() < 1 << (bits - 1)


def test_report_command_writes_table_and_plot(tmp_path):
    out = tmp_path / "rep"
    result = CliRunner().invoke(main, ["report", str(model_path("iaf")), "--data", str(DATA),
                                       "--target", "sim", "--bits", "4,8", "-o", str(out)])
    assert result.exit_code == 0, result.output
    sweep = json.loads((out / "sweep.json").read_text())
    assert [row["weight_bits"] for row in sweep["rows"]] == [4, 8]
    assert all(row["accuracy"] > 0.9 for row in sweep["rows"])
    assert (out / "accuracy_vs_bits.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 8 |" in (out / "sweep.md").read_text()


def test_sweep_with_two_workers_equals_one_process(digits_test):
    """bit_sweep --workers 2 computes the rows in two spawned processes: the same dict, rows
    in the same order, every figure equal bit for bit."""
    from neurodeploy.pipeline import bit_sweep

    x, y = digits_test[0][:, :32], digits_test[1][:32]
    network = nd.load(model_path("lif"))
    ticks = []
    one = bit_sweep(network, x, y, "sim", [4, 8], lambda: ticks.append(1))
    two = bit_sweep(network, x, y, "sim", [4, 8], lambda: ticks.append(2), workers=2)
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert ticks == [1, 1, 2, 2]
