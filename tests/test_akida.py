"""The akida targets end to end: digits IAF, ANN-converted MLP and CNN through the CLI; onnxruntime
running model.onnx equals the golden model bit for bit on the whole digits test set; accuracy at
8-bit weights / 4-bit activations within 1 pp of float; NP mapping reported and its limit kept;
every unsupported part named at once; the accuracy sweep over activation bits and windows; and
nothing of the proprietary akida package anywhere."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA, ROOT, model_path
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from test_ann2snn import train
from test_cli import assert_one_line_error

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.cli import main
from neurodeploy.errors import NeurodeployError
from neurodeploy.targets.registry import get_target

PROPRIETARY = re.compile(r"^\s*(import|from)\s+(akida|cnn2snn|akida_models)\b", re.MULTILINE)


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    return train_test_split(x, data.target, test_size=0.3, random_state=0, stratify=data.target)


@pytest.fixture(scope="module")
def ann_files(digits, tmp_path_factory):
    """An MLP and a CNN (conv, BN, average pools) trained on digits, saved whole, with the test set."""
    directory = tmp_path_factory.mktemp("anns")
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, 10))
    torch.save(train(mlp, digits[0], digits[2], 60), directory / "mlp.pt")
    torch.manual_seed(0)
    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.AvgPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 10))
    torch.save(train(cnn, digits[0].reshape(-1, 1, 8, 8), digits[2], 40), directory / "cnn.pt")
    np.savez(directory / "mlp.npz", x=digits[1], y=digits[3])
    np.savez(directory / "cnn.npz", x=digits[1].reshape(-1, 1, 8, 8), y=digits[3])
    return directory


def _convert(model: Path, data: Path, out: Path, *options: str) -> dict:
    result = CliRunner().invoke(main, ["convert", str(model), "--target", "akida", "--data",
                                       str(data), "-o", str(out), *options])
    assert result.exit_code == 0, result.output
    assert {"model.onnx", "akida.json", "program.json", "report.json"} <= {
        p.name for p in out.iterdir()}
    return json.loads((out / "report.json").read_text())


def _simulate(out: Path, data: Path, executor: str | None, written: Path) -> dict:
    args = ["simulate", str(out), "--input", str(data), "-o", str(written)]
    result = CliRunner().invoke(main, args + (["--executor", executor] if executor else []))
    assert result.exit_code == 0, result.output
    with np.load(written) as arrays:
        return {key: arrays[key] for key in arrays.files}


def _onnxruntime_equals_golden(out: Path, data: Path, tmp_path: Path) -> np.ndarray:
    golden = _simulate(out, data, None, tmp_path / "golden.npz")
    onnx = _simulate(out, data, "onnxruntime", tmp_path / "onnxruntime.npz")
    assert golden.keys() == onnx.keys() and "output" in golden
    for key in golden:
        assert np.array_equal(golden[key], onnx[key]), key
    return golden["output"]


def _mapping_is_reported(out: Path, report: dict) -> None:
    mapping = report["mapping"]
    assert mapping["unit"] == "NP" and 1 <= mapping["cores_used"] <= mapping["cores_available"] == 80
    for node in mapping["nodes"]:
        assert 0 < node["usage"]["weight_bytes"]["fraction"] <= 1
        assert 0 < node["usage"]["input_bytes"]["fraction"] <= 1
    chip = json.loads((out / "akida.json").read_text())
    assert chip["mapping"] == mapping and chip["chip"]["version"] == "2.0"
    assert [layer["name"] for layer in chip["layers"]] == [n["node"] for n in mapping["nodes"]]
    markdown = (out / "report.md").read_text()
    assert "## Placement" in markdown and "weight_bytes per NP" in markdown
    assert "estimate" in report["energy"]["note"] and report["energy"]["sources"]


def test_digits_iaf_onnxruntime_equals_golden_on_the_test_set(tmp_path):
    out = tmp_path / "out"
    report = _convert(model_path("iaf"), DATA, out)
    output = _onnxruntime_equals_golden(out, DATA, tmp_path)
    assert output.shape == (1, 540, 10)
    with np.load(DATA) as data:
        assert (output[0].argmax(-1) == data["y"]).mean() == pytest.approx(
            report["accuracy"]["quantized"])
    assert report["accuracy"]["float"] - report["accuracy"]["quantized"] < 0.01
    _mapping_is_reported(out, report)
    # event-based MACs: zero activations do no work
    assert 0 < report["synops"]["total"] < report["synops"]["dense"]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_ann_converted_within_one_point_and_bit_exact(kind, ann_files, tmp_path):
    data = ann_files / f"{kind}.npz"
    out = tmp_path / "out"
    report = _convert(ann_files / f"{kind}.pt", data, out, "--weight-bits", "8",
                      "--activation-bits", "4")
    accuracy = report["accuracy"]
    assert accuracy["float"] > 0.95
    assert accuracy["float"] - accuracy["quantized"] <= 0.01, accuracy
    _onnxruntime_equals_golden(out, data, tmp_path)
    _mapping_is_reported(out, report)
    kinds = {node["kind"] for node in report["quantization"]["nodes"].values()}
    assert kinds == ({"akida_conv", "akida_dense"} if kind == "cnn" else {"akida_dense"})
    if kind == "cnn":
        program = json.loads((out / "program.json").read_text())
        assert "average" in json.dumps(program) or "global" in json.dumps(program)


def test_lower_bits_and_window_lengths_sweep_in_the_report(ann_files, tmp_path):
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, [
        "report", str(ann_files / "mlp.pt"), "--data", str(ann_files / "mlp.npz"), "--target",
        "akida", "--bits", "4,8", "--activation-bits", "2,4", "--windows", "16,32", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    combos = {(r["weight_bits"], r["activation_bits"], r["window"]) for r in rows}
    assert combos == {(w, a, t) for w in (4, 8) for a in (2, 4) for t in (16, 32)}
    by = {(r["weight_bits"], r["activation_bits"], r["window"]): r["accuracy"] for r in rows}
    assert by[8, 4, 32] > 0.95 and by[8, 4, 32] >= by[4, 2, 16] - 0.01
    assert (out / "accuracy_vs_bits.png").stat().st_size > 0
    assert "activation bits" in (out / "sweep.md").read_text()


def test_a_model_past_80_nps_is_refused_naming_the_layer(tmp_path):
    torch.manual_seed(0)
    big = torch.nn.Sequential(torch.nn.Linear(2048, 2048), torch.nn.ReLU(),
                              torch.nn.Linear(2048, 10))
    for layer in (big[0], big[2]):  # trained-like weights: the float32-exact bound holds
        torch.nn.init.normal_(layer.weight, std=0.02)
    torch.save(big, tmp_path / "big.pt")  # 4 MB of 8-bit weights: 82 NPs of 50 KB
    np.savez(tmp_path / "data.npz", x=np.random.default_rng(0).random((8, 2048), np.float32))
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "big.pt"), "--target", "akida",
                                       "--data", str(tmp_path / "data.npz"),
                                       "-o", str(tmp_path / "out")])
    assert_one_line_error(result, "layer '", "NPs", "80")
    assert not (tmp_path / "out").exists()


def test_every_unsupported_part_is_named_at_once():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 2), ndnn.IAF(reset="zero"),
        torch.nn.Conv2d(4, 4, 3, stride=3), ndnn.LIF(beta=0.9),
        torch.nn.Flatten(), torch.nn.Linear(16, 10), ndnn.IAF())
    network = nd.load(model, input_shape=(1, 8, 8))
    problems = get_target("akida").check(network)
    text = "; ".join(problems)
    assert len(problems) == 4, problems
    for fragment in ("reset to zero", "a 2x2 kernel", "stride 3x3", "is a LIF"):
        assert fragment in text, fragment
    with pytest.raises(NeurodeployError) as refused:
        nd.convert(network, target="akida", data=np.random.default_rng(0).random(
            (4, 4, 1, 8, 8), np.float32))
    assert all(problem in str(refused.value) for problem in problems)


def test_akd1000_keeps_akida_1_limits(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", str(model_path("iaf")), "--target", "akd1000",
                                       "--data", str(DATA), "-o", str(out)])
    assert result.exit_code == 0, result.output
    program = json.loads((out / "program.json").read_text())
    assert program["options"]["weight_bits"] == 4
    assert json.loads((out / "akida.json").read_text())["chip"]["version"] == "1.0"
    refused = CliRunner().invoke(main, ["convert", str(model_path("iaf")), "--target", "akd1000",
                                        "--data", str(DATA), "-o", str(tmp_path / "w8"),
                                        "--weight-bits", "8", "--activation-bits", "8"])
    assert_one_line_error(refused, "8-bit weights", "8-bit activations", "Akida 1.0")


def test_nothing_of_the_proprietary_package_anywhere():
    sources = [*(ROOT / "neurodeploy").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    assert sources and not [p for p in sources if PROPRIETARY.search(p.read_text())]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]
    requirements += [line for line in (ROOT / "constraints.txt").read_text().splitlines()
                     if line.strip() and not line.startswith("#")]
    names = {re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
             for line in requirements}
    assert "torch" in names and not names & {"akida", "cnn2snn", "akida-models"}
    assert not any(name.split(".")[0] in ("akida", "cnn2snn") for name in sys.modules)
