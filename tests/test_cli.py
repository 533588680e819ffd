"""The command line: outputs, and one-line errors with exit code 2 that leave nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA, model_path

import neurodeploy as nd
from neurodeploy.cli import main


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


class CreatesFileWhenUnpickled:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_help_lists_commands_without_importing_torch():
    code = ("import sys; from neurodeploy.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    for command in ("convert", "simulate", "targets"):
        assert command in completed.stdout


def test_console_script_is_installed():
    completed = subprocess.run(["neurodeploy", "targets", "--json"], capture_output=True, text=True)
    assert completed.returncode == 0
    assert '"sim"' in completed.stdout


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save(CreatesFileWhenUnpickled(str(marker)), evil)
    out = tmp_path / "out"
    result = run("convert", evil, "--data", DATA, "-o", out)
    assert_one_line_error(result, "posix.system", "not an allowed layer")
    assert not marker.exists()
    assert not out.exists()


def test_state_dict_is_refused_with_a_fix(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(torch.load(model_path("lif"), weights_only=False).state_dict(), path)
    assert_one_line_error(run("convert", path, "--data", DATA, "-o", tmp_path / "o"), "state_dict",
                          "torch.save(model)")


def test_truncated_nir_is_refused(tmp_path):
    good = tmp_path / "good.nir"
    nd.save_nir(nd.load(model_path("lif")), good)
    truncated = tmp_path / "truncated.nir"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    out = tmp_path / "out"
    assert_one_line_error(run("convert", truncated, "--data", DATA, "-o", out), "truncated")
    assert not out.exists()


def test_nir_with_unknown_node_is_refused(tmp_path):
    path = tmp_path / "odd.nir"
    nd.save_nir(nd.load(model_path("iaf")), path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/1/type"]
        f["node/nodes/1/type"] = np.bytes_("Mystery")
    out = tmp_path / "out"
    assert_one_line_error(run("convert", path, "--data", DATA, "-o", out), "'1'", "Mystery")
    assert not out.exists()


def test_wrong_shape_input_is_refused(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((20, 5, 63), np.float32))
    out = tmp_path / "y.npz"
    assert_one_line_error(run("simulate", model_path("iaf"), "--input", bad, "-o", out), "(20, 5, 63)")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_convert_without_data_says_what_to_add(tmp_path):
    out = tmp_path / "out"
    assert_one_line_error(run("convert", model_path("lif"), "-o", out), "--data")
    assert not out.exists()


def test_missing_model_is_one_line(tmp_path):
    assert_one_line_error(run("simulate", tmp_path / "nope.pt", "--input", DATA), "no such file")


def test_simulate_writes_outputs_equal_to_the_api(tmp_path, digits_test):
    out = tmp_path / "y.npz"
    result = run("simulate", model_path("snu"), "--input", DATA, "-o", out)
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output
    expected = nd.simulate(nd.load(model_path("snu")), digits_test[0])
    with np.load(out) as saved:
        assert np.array_equal(saved["output"], expected.output)
        assert np.array_equal(saved["spikes/1"], expected.spikes["1"])


def test_simulate_encodes_static_input(tmp_path):
    static = tmp_path / "static.npz"
    np.savez(static, x=np.random.default_rng(0).random((7, 64)), y=np.zeros(7, np.int64))
    out = tmp_path / "y.npz"
    result = run("simulate", model_path("lif"), "--input", static, "--timesteps", 9, "-o", out)
    assert result.exit_code == 0, result.output
    with np.load(out) as saved:
        assert saved["output"].shape == (9, 7, 10)


@pytest.mark.parametrize("kind", ["snu", "src"])
def test_convert_writes_a_faithful_nir(kind, tmp_path, digits_test):
    out = tmp_path / "out"
    result = run("convert", model_path(kind), "--data", DATA, "-o", out)
    assert result.exit_code == 0, result.output
    x = digits_test[0][:, :50]
    original = nd.simulate(nd.load(model_path(kind)), x).output
    assert np.array_equal(nd.simulate(nd.load(out / "model.nir"), x).output, original)


def test_convert_refuses_an_unsupported_nir_model_before_importing_torch(tmp_path):
    """Reading NIR and the target's check need no torch: a refusal does not pay for it."""
    path = tmp_path / "src.nir"
    nd.save_nir(nd.load(model_path("src")), path)
    code = ("import sys\nfrom neurodeploy.cli import main\n"
            f"try:\n    main(['convert', {str(path)!r}, '--target', 'akida', '--data', "
            f"{str(DATA)!r}, '-o', {str(tmp_path / 'out')!r}], standalone_mode=False)\n"
            "except SystemExit as exit:\n    print('exit', exit.code)\n"
            "print('torch imported:', 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert "cannot run this network" in done.stderr
    assert "exit 2" in done.stdout and "torch imported: False" in done.stdout
