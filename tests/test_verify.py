"""`neurodeploy verify` and the pytest plugin: passes on the shipped models for every target
(with Icarus, Verilator and onnxruntime), finds injected faults (one weight bit, one threshold,
one decay) with the right layer, neuron and first step, refuses tampered artifacts, writes
JUnit XML; the example HIL test file passes, and fails readably when mis-quantized."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, ROOT, model_path
from test_cli import assert_one_line_error

import neurodeploy as nd
from neurodeploy.cli import main
from neurodeploy.engine.golden import simulate_program
from neurodeploy.pipeline import save_deployment
from neurodeploy.targets.loihi.lava import ENVIRONMENT as LAVA_PYTHON
from neurodeploy.verify.job import verify

SAMPLES = 60
HAS_RTL = shutil.which("iverilog") is not None and shutil.which("verilator") is not None


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[np.ndarray, np.ndarray, Path]:
    with np.load(DATA) as data:
        x, y = data["x"][:, :SAMPLES].astype(np.float32), data["y"][:SAMPLES]
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x=x, y=y)
    return x, y, path


def _verify_cli(*args: str):
    return CliRunner().invoke(main, ["verify", *map(str, args)])


@pytest.mark.parametrize(("kind", "target"), [("lif", "sim"), ("snu", "loihi"),
                                              ("iaf", "akida"), ("src", "sim")])
def test_verify_passes_on_the_shipped_models(kind, target, digits, tmp_path):
    junit = tmp_path / "verify.xml"
    result = _verify_cli(model_path(kind), "--target", target, "--data", digits[2],
                         "--junit", junit)
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and "PASS accuracy drop" in result.output
    if target == "akida":
        assert "PASS golden == onnxruntime: onnxruntime equals golden" in result.output
    suite = ElementTree.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) >= 2


@pytest.mark.skipif(not HAS_RTL, reason="iverilog and verilator are not installed")
def test_verify_runs_both_hdl_simulators_on_fpga(digits):
    result = _verify_cli(model_path("lif"), "--target", "fpga", "--data", digits[2],
                         "--samples", 4, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["executors"]) == {"iverilog", "verilator"}
    for comparison in report["executors"].values():
        assert comparison["identical"] and comparison["output"]["identical_fraction"] == 1.0


def _first_difference(program, faulty, x, layer):
    """(step, sample, neuron) where the golden runs of two programs first differ in `layer`,
    found directly from the engine's outputs (not through neurodeploy.verify)."""
    a = simulate_program(program, x, record_outputs=True).node_outputs[layer]
    b = simulate_program(faulty, x, record_outputs=True).node_outputs[layer]
    differs = (a != b).reshape(a.shape[0], a.shape[1], -1)
    step = int(np.flatnonzero(differs.any(axis=(1, 2)))[0])
    sample, neuron = map(int, np.argwhere(differs[step])[0])
    return step, sample, neuron


FAULTS = [  # target, model, node, array, index, change, the layer the fault shows in
    ("sim", "lif", "2", "weight", (4, 7), 1 << 5, "3"),
    ("sim", "lif", "1", "threshold", (5,), 1 << 15, "1"),
    ("sim", "lif", "3", "beta", (2,), 1 << 5, "3"),
    ("loihi", "lif", "0", "weight", (9, 20), 1 << 4, "1"),
    ("loihi", "lif", "1", "vth", (5,), 1 << 5, "1"),
    ("loihi", "lif", "3", "dv", (2,), 1 << 5, "3"),
    ("akida", "iaf", "3", "weight", (4, 7), 1 << 5, "3"),
    ("akida", "iaf", "1", "max_value", (3,), 1 << 15, "1"),
    ("akida", "iaf", "1", "scale", (9,), 1 << 5, "1"),
]


@pytest.mark.parametrize(("target", "kind", "node", "array", "index", "bit", "layer"), FAULTS)
def test_an_injected_fault_is_found_at_its_layer_neuron_and_step(
        target, kind, node, array, index, bit, layer, digits, tmp_path):
    x, y, data = digits
    program = nd.convert(model_path(kind), target=target, data=x)
    faulty = nd.convert(model_path(kind), target=target, data=x)
    values = getattr(faulty.nodes[node], array)
    values[index] ^= bit
    out = tmp_path / "out"
    save_deployment(faulty, out)  # re-saved by the library: its manifest matches
    result = _verify_cli(model_path(kind), "--deployed", out, "--data", data, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    failed = [c["name"] for c in report["checks"] if c["status"] == "failed"]
    assert "deployed program == fresh conversion of the model" in failed
    assert report["program_differences"][0].startswith(
        f"node '{node}' {array}[{', '.join(map(str, index))}]")
    first = report["rederived"]["first_divergence"]
    step, sample, neuron = _first_difference(program, faulty, x, layer)
    assert (first["layer"], first["step"], first["sample"]) == (layer, step, sample)
    assert first["neuron"] == [neuron] == [index[0]]  # the row of the weight, or the neuron
    if "onnxruntime" in report["executors"]:  # the artifacts carry the fault too
        assert report["executors"]["onnxruntime"]["identical"]


@pytest.mark.skipif(not HAS_RTL, reason="iverilog and verilator are not installed")
def test_a_fault_in_the_fpga_datapath_is_found_and_the_rtl_runs_it(digits, tmp_path):
    x, y, data = digits
    faulty = nd.convert(model_path("lif"), target="fpga", data=x)
    faulty.nodes["datapath"].weights[40] ^= 1 << 6
    save_deployment(faulty, tmp_path / "out")
    result = _verify_cli(model_path("lif"), "--deployed", tmp_path / "out", "--data", data,
                         "--samples", 3, "--executor", "verilator", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["program_differences"][0].startswith("node 'datapath' weights[40]")
    assert report["executors"]["verilator"]["identical"]


def test_a_tampered_artifact_stays_an_input_error(digits, tmp_path):
    x, y, data = digits
    out = tmp_path / "out"
    save_deployment(nd.convert(model_path("iaf"), target="akida", data=x), out)
    with (out / "model.onnx").open("r+b") as handle:
        handle.seek(-5, 2)
        handle.write(b"\x00\x01\x02\x03\x04")
    result = _verify_cli(model_path("iaf"), "--deployed", out, "--data", data)
    assert_one_line_error(result, "model.onnx")


def test_verify_out_directory_of_convert_and_options(digits, tmp_path):
    x, y, data = digits
    out = tmp_path / "out"
    converted = CliRunner().invoke(main, ["convert", str(model_path("iaf")), "--target", "sim",
                                          "--data", str(data), "-o", str(out)])
    assert converted.exit_code == 0, converted.output
    result = _verify_cli(out, "--data", data)
    assert result.exit_code == 0 and "identical arrays and runs" in result.output, result.output
    strict = _verify_cli(out, "--data", data, "--min-spike-agreement", 1.0)
    assert strict.exit_code == 1 and "FAIL spike agreement" in strict.output
    assert_one_line_error(_verify_cli(out, "--data", data, "--target", "loihi"), "'sim'")
    assert_one_line_error(_verify_cli(model_path("iaf"), "--data", data), "--target")
    junit = tmp_path / "mine.xml"
    junit.write_text("<mine/>")
    assert_one_line_error(_verify_cli(out, "--data", data, "--junit", junit), "mine.xml")
    assert junit.read_text() == "<mine/>"


def test_api_reports_skipped_executors_with_why(digits, monkeypatch):
    monkeypatch.delenv(LAVA_PYTHON, raising=False)  # loihi's only executor, lava, cannot run
    x, y, _ = digits
    result = verify(model_path("lif"), x, y, target="loihi")
    assert result.passed and result.executors == {}
    assert LAVA_PYTHON in result.skipped["lava"]
    assert all(check.status != "failed" for check in result.checks)


EXAMPLE = ROOT / "examples" / "test_my_deployment.py"


@pytest.fixture
def example(pytester):
    """A user's project: the example HIL file beside the shipped models and data."""
    pytester.copy_example(str(EXAMPLE))
    shutil.copytree(ROOT / "examples" / "models", pytester.path / "models")
    shutil.copytree(ROOT / "examples" / "data", pytester.path / "data")
    return pytester


def test_the_example_hil_file_passes_through_the_plugin(example):
    result = example.runpytest_subprocess("-p", "no:cacheprovider", "--nd-targets", "sim,akida")
    result.assert_outcomes(passed=3, skipped=1)


def test_the_example_fails_readably_when_mis_quantized(example):
    result = example.runpytest_subprocess("-p", "no:cacheprovider", "--nd-weight-bits", "2")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*AssertionError: deployed program for 'sim' disagrees with the "
                                 "float model: accuracy drop float -> deployed*first spike "
                                 "divergence: step *, layer '1', sample *, neuron [[]*]: float *"])
