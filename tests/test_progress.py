"""Progress on long runs: deploy and ann2snn name each phase as it ends; on a terminal the CLI
draws a bar with them; piped, it prints nothing extra (errors stay one line)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import numpy as np
import torch
from conftest import DATA, model_path

import neurodeploy as nd
from neurodeploy.frontend.ann2snn import conversion_phases
from neurodeploy.pipeline import DEPLOY_PHASES, deploy


def test_deploy_reports_every_phase_in_order(tmp_path, digits_test):
    x, y = digits_test[0][:, :40], digits_test[1][:40]
    network = nd.load(model_path("lif"))
    heard: list[str] = []
    deploy(network, "sim", tmp_path / "out", x, y, {}, progress=heard.append)
    assert heard == list(DEPLOY_PHASES)
    heard.clear()
    deploy(network, "fpga", tmp_path / "fpga", x, y, {}, progress=heard.append)  # no cycle sim
    assert heard == [phase for phase in DEPLOY_PHASES if phase != "cycle simulation"]


def test_ann2snn_reports_as_many_phases_as_it_announces():
    rng = np.random.default_rng(0)
    x, y = rng.random((30, 6)).astype(np.float32), rng.integers(0, 3, 30)
    ann = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    heard: list[str] = []
    nd.ann2snn(ann, x, y, timesteps=8, progress=heard.append)
    assert len(heard) == conversion_phases(True, 8)
    assert heard[:4] == ["loaded", "normalised", "thresholds balanced", "spikes counted"]
    assert heard[-1].startswith("accuracy at T=")


def _run_on_a_terminal(args: list[str]) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; (exit code, what the terminal showed)."""
    main_end, child_end = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "neurodeploy.cli", *args],
                               stdout=subprocess.DEVNULL, stderr=child_end)
    os.close(child_end)
    shown = b""
    while True:
        try:
            chunk = os.read(main_end, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(main_end)
    return process.wait(), shown.decode(errors="replace")


def test_convert_draws_a_progress_bar_on_a_terminal_only(tmp_path):
    args = ["convert", str(model_path("lif")), "--target", "sim", "--data", str(DATA)]
    code, shown = _run_on_a_terminal([*args, "-o", str(tmp_path / "tty")])
    assert code == 0, shown
    assert "converting" in shown and "written" in shown and "golden model" in shown
    piped = subprocess.run([sys.executable, "-m", "neurodeploy.cli", *args, "-o",
                            str(tmp_path / "piped")], capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    assert "converting" not in piped.stderr
