"""Outputs never destroy a user's files, replace only neurodeploy's own, and are checked on use."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA, model_path

from neurodeploy.artifacts import (
    MANIFEST_NAME,
    OutputKind,
    output_directory,
    read_manifest,
    verify_manifest,
    write_manifest,
)
from neurodeploy.artifacts import outputs as artifacts
from neurodeploy.cli import main
from neurodeploy.errors import InvalidFileError, OutputError


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for directories)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".nd-" in p.name)


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """64 samples of the digits test set: quick conversions."""
    with np.load(DATA) as data:
        path = tmp_path_factory.mktemp("data") / "small.npz"
        np.savez(path, x=data["x"][:, :64], y=data["y"][:64])
    return path


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, small_data) -> dict[str, Path]:
    """convert outputs for sim, loihi and fpga, made once; tests copy them."""
    root = tmp_path_factory.mktemp("outputs")
    made = {}
    for target, extra in (("sim", []), ("loihi", []), ("fpga", ["--lanes", "2"])):
        made[target] = root / target
        result = run("convert", model_path("lif"), "--target", target, "--data", small_data,
                     "-o", made[target], *extra)
        assert result.exit_code == 0, result.output
    return made


def test_dot_and_inputs_are_refused_and_every_file_stays(tmp_path, monkeypatch, small_data):
    shutil.copy(model_path("lif"), tmp_path / "m.pt")
    shutil.copy(small_data, tmp_path / "d.npz")
    (tmp_path / "notes.txt").write_text("my notes")
    (tmp_path / "models").mkdir()
    shutil.copy(model_path("iaf"), tmp_path / "models" / "iaf.pt")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    (tmp_path / "work" / "draft.txt").write_text("draft")
    before = snapshot(tmp_path)
    for out, fragment in ((".", "current directory"), ("", "current directory"),
                          ("..", "current directory"), ("../d.npz", "is the input"),
                          ("../models", "contains the input"), ("/", "root")):
        model = "../models/iaf.pt" if out == "../models" else "../m.pt"
        assert_one_line_error(run("convert", model, "--data", "../d.npz", "-o", out), fragment)
        assert_one_line_error(run("report", model, "--data", "../d.npz", "-o", out), fragment)
    assert_one_line_error(run("simulate", "../m.pt", "--input", "../d.npz", "-o", "."),
                          "current directory")
    assert_one_line_error(run("simulate", "../m.pt", "--input", "../d.npz", "-o", "../d.npz"),
                          "is the input")
    assert snapshot(tmp_path) == before


def test_a_directory_neurodeploy_did_not_write_is_refused_and_untouched(tmp_path, outputs,
                                                                         small_data):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    before = snapshot(tmp_path)
    assert_one_line_error(run("convert", model_path("lif"), "--data", small_data, "-o", mine),
                          "was not written by neurodeploy", "remove it yourself")
    assert snapshot(tmp_path) == before
    ours = tmp_path / "ours"
    shutil.copytree(outputs["sim"], ours)
    (ours / "notes.txt").write_text("added by the user")
    before = snapshot(tmp_path)
    assert_one_line_error(run("convert", model_path("lif"), "--data", small_data, "-o", ours),
                          "holds notes.txt")
    assert snapshot(tmp_path) == before
    assert leftovers(tmp_path) == []


def test_neurodeploy_output_is_replaced_also_by_the_fallback(tmp_path, outputs, small_data,
                                                             monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(outputs["fpga"], out)
    flip_byte(out / "report.md", 10)  # a damaged output: convert again is the fix
    result = run("convert", model_path("lif"), "--data", small_data, "-o", out)
    assert result.exit_code == 0, result.output
    assert verify_manifest(out).files.keys() == read_manifest(outputs["sim"]).files.keys()
    assert snapshot(out) == snapshot(outputs["sim"])
    monkeypatch.setattr(artifacts, "_exchange", lambda first, second: False)
    result = run("convert", model_path("lif"), "--target", "loihi", "--data", small_data, "-o",
                 out)
    assert result.exit_code == 0, result.output
    assert snapshot(out) == snapshot(outputs["loihi"])
    assert leftovers(tmp_path) == []


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_next_run_restores_an_aside_copy_and_cleans_only_its_own_leftovers(tmp_path,
                                                                            outputs):
    out = tmp_path / "out"
    pid = dead_pid()
    shutil.copytree(outputs["sim"], tmp_path / f".out.nd-old-{pid}-0a1b")  # killed mid-swap
    staging = tmp_path / f".out.nd-staging-{pid}-2c3d"  # killed while writing
    staging.mkdir()
    (staging / artifacts.STAGING_MARKER).touch()
    (staging / "model.nir").write_bytes(b"half")
    stranger = tmp_path / f".out.nd-staging-{pid}-4e5f"  # named like ours, but no marker
    stranger.mkdir()
    (stranger / "keep.txt").write_text("not neurodeploy's")
    alive = tmp_path / f".out.nd-staging-{os.getpid()}-6a7b"  # a run still going
    alive.mkdir()
    (alive / artifacts.STAGING_MARKER).touch()
    with pytest.raises(RuntimeError), output_directory(out) as new:
        (new / "partial").write_text("x")
        raise RuntimeError("the conversion failed")
    assert snapshot(out) == snapshot(outputs["sim"])  # the old output is back, untouched
    assert leftovers(tmp_path) == sorted([stranger.name, alive.name])
    assert (stranger / "keep.txt").read_text() == "not neurodeploy's"


def test_sigkill_during_replacement_leaves_old_or_new_complete(tmp_path, outputs, small_data):
    out = tmp_path / "out"
    shutil.copytree(outputs["loihi"], out)
    old, new = (read_manifest(outputs[name]) for name in ("loihi", "sim"))
    command = [sys.executable, "-m", "neurodeploy.cli", "convert", str(model_path("lif")),
               "--data", str(small_data), "-o", str(out)]
    start = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    duration = time.monotonic() - start
    shutil.rmtree(out)
    shutil.copytree(outputs["loihi"], out)
    found = []
    for delay in random.Random(10).sample(range(20, 101), 5):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * delay / 100)
        process.send_signal(signal.SIGKILL)
        process.wait()
        found.append(verify_manifest(out))
        assert found[-1] in (old, new)
        if found[-1] == new:  # start from the old output again
            shutil.rmtree(out)
            shutil.copytree(outputs["loihi"], out)
    subprocess.run(command, check=True, capture_output=True)
    assert verify_manifest(out) == new
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("target", "name"), [("sim", "program.npz"), ("loihi", "model.net"),
                                              ("fpga", "mem/weights.mem"), ("fpga", "program.npz")])
def test_a_flipped_byte_makes_simulate_refuse(target, name, tmp_path, outputs, small_data):
    out = tmp_path / "out"
    shutil.copytree(outputs[target], out)
    result = run("simulate", out, "--input", small_data)
    assert result.exit_code == 0, result.output
    flip_byte(out / name, 1000)
    assert_one_line_error(run("simulate", out, "--input", small_data), name, "differs",
                          "neurodeploy convert")
    (out / name).unlink()
    assert_one_line_error(run("simulate", out, "--input", small_data), name, "missing")


@pytest.mark.parametrize(("target", "name"), [("loihi", "model.net"), ("sim", "model.nir")])
def test_a_flipped_byte_in_a_file_of_out_is_refused_when_simulated(target, name, tmp_path,
                                                                   outputs, small_data):
    out = tmp_path / "out"
    shutil.copytree(outputs[target], out)
    assert run("simulate", out / name, "--input", small_data).exit_code == 0
    flip_byte(out / name, 2000)
    assert_one_line_error(run("simulate", out / name, "--input", small_data), name, "differs")


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_rtl_cosimulation_runs_only_verilog_from_the_manifest(tmp_path, outputs, small_data):
    from neurodeploy.api import load_program
    from neurodeploy.targets.fpga.cosim import run_rtl
    from neurodeploy.targets.fpga.microcode import microcode_of

    out = tmp_path / "out"
    shutil.copytree(outputs["fpga"], out)
    escaped = tmp_path / "escaped.txt"
    testbench = out / "tb" / "tb.v"
    testbench.write_text(testbench.read_text().replace(
        "initial begin", f'initial begin $fclose($fopen("{escaped}", "w"));', 1))
    assert_one_line_error(run("simulate", out, "--input", small_data, "--rtl", "iverilog"),
                          "tb/tb.v", "differs")
    program = microcode_of(load_program(outputs["fpga"]))
    with pytest.raises(InvalidFileError, match="tb/tb.v differs"):
        run_rtl(program, out, np.zeros((2, 1, program.input_size), np.int64), "iverilog")
    assert not escaped.exists()


def test_created_files_follow_the_umask(tmp_path, outputs, small_data):
    previous = os.umask(0o027)
    try:
        result = run("convert", model_path("lif"), "--target", "fpga", "--data", small_data, "-o",
                     tmp_path / "out")
        assert result.exit_code == 0, result.output
        result = run("simulate", tmp_path / "out", "--input", small_data, "-o", tmp_path / "y.npz")
        assert result.exit_code == 0, result.output
    finally:
        os.umask(previous)
    modes = {p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777
             for p in [tmp_path / "out", *tmp_path.rglob("*")]}
    for name, mode in modes.items():
        assert mode == (0o750 if (tmp_path / name).is_dir() else 0o640), (name, oct(mode))
    assert "out/rtl" in modes and "y.npz" in modes


def test_simulate_replaces_only_its_own_results(tmp_path, outputs, small_data):
    target = tmp_path / "y.npz"
    np.savez(target, x=np.ones(3))
    before = target.read_bytes()
    assert_one_line_error(run("simulate", outputs["sim"], "--input", small_data, "-o", target),
                          "not written by neurodeploy")
    assert target.read_bytes() == before
    target.unlink()
    for _ in range(2):
        result = run("simulate", outputs["sim"], "--input", small_data, "-o", target)
        assert result.exit_code == 0, result.output
    assert_one_line_error(run("simulate", outputs["sim"], "--input", small_data, "-o", tmp_path),
                          "is a directory")
    assert_one_line_error(run("simulate", outputs["sim"], "--input", small_data, "-o",
                              tmp_path / "missing" / "y.npz"), "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y.npz"]


def test_ann2snn_replaces_only_files_its_record_lists(tmp_path, small_data):
    torch.manual_seed(0)
    ann = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    torch.save(ann, tmp_path / "ann.pt")
    with np.load(small_data) as data:
        np.savez(tmp_path / "static.npz", x=data["x"].mean(axis=0))
    snn = tmp_path / "snn.pt"
    snn.write_bytes(b"the user's own model")
    command = ("ann2snn", tmp_path / "ann.pt", "--data", tmp_path / "static.npz", "-o", snn)
    assert_one_line_error(run(*command), "snn.pt", "not written by neurodeploy")
    assert snn.read_bytes() == b"the user's own model"
    snn.unlink()
    for _ in range(2):
        result = run(*command)
        assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "snn.neurodeploy-manifest.json").read_text())
    assert sorted(record["files"]) == ["snn.pt", "snn.report.json", "snn.report.md"]
    flip_byte(snn, 100)
    assert_one_line_error(run(*command), "snn.pt", "changed since")
    assert_one_line_error(run("ann2snn", tmp_path / "ann.pt", "--data", tmp_path / "static.npz",
                              "-o", tmp_path / "ann.pt"), "is the input")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("manifest", [
    "not json", "[]", '{"neurodeploy": "0.1.0", "kind": "convert"}',
    '{"neurodeploy": 1, "kind": "convert", "files": {}}',
    '{"neurodeploy": "0.1.0", "kind": "other", "files": {}}',
    '{"neurodeploy": "0.1.0", "kind": "convert", "files": {"../x": "' + "0" * 64 + '"}}',
    '{"neurodeploy": "0.1.0", "kind": "convert", "files": {"/etc/passwd": "' + "0" * 64 + '"}}',
    '{"neurodeploy": "0.1.0", "kind": "convert", "files": {"a/./b": "' + "0" * 64 + '"}}',
    '{"neurodeploy": "0.1.0", "kind": "convert", "files": {"a": "xyz"}}',
    '{"neurodeploy": "0.1.0", "kind": "convert", "files": {"a": ["' + "0" * 64 + '"]}}',
])
def test_malformed_manifests_are_one_line_errors(manifest, tmp_path):
    (tmp_path / MANIFEST_NAME).write_text(manifest)
    with pytest.raises(InvalidFileError, match=MANIFEST_NAME) as error:
        verify_manifest(tmp_path)
    assert "\n" not in str(error.value)


def test_manifest_lists_every_file_deterministically(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder / "sub").mkdir(parents=True)
        (tmp_path / folder / "sub" / "x.bin").write_bytes(b"\x00\x01")
        (tmp_path / folder / "y.txt").write_text("y")
        write_manifest(tmp_path / folder, OutputKind.REPORT)
    first, second = ((tmp_path / f / MANIFEST_NAME).read_bytes() for f in ("a", "b"))
    assert first == second
    assert list(verify_manifest(tmp_path / "a").files) == ["sub/x.bin", "y.txt"]
    with pytest.raises(OutputError, match="is an existing file"):
        artifacts.check_output_directory(tmp_path / "a" / "y.txt")
