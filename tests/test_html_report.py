"""The self-contained HTML reports: pictures embedded, and the page renders in headless
Chromium (skipped when no Chromium is installed; `.ci/run` installs it)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, model_path

from neurodeploy.cli import main

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


@pytest.fixture(scope="module")
def digits_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "out"
    result = CliRunner().invoke(main, ["convert", str(model_path("lif")), "--data", str(DATA),
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"',
                                                       page)]


def test_html_report_embeds_every_picture(digits_out):
    page = (digits_out / "report.html").read_text()
    for alt in ("raster 1 (LIF, 128)", "raster 3 (LIF, 10)", "firing rates 1 (LIF, 128)",
                "activity per layer over time", "latency distribution", "per-core utilisation"):
        assert f'alt="{alt}"' in page
    images = _images(page)
    assert len(images) == 7 and all(i[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "http" not in page.replace("http-equiv", "")  # self-contained


def test_sweep_html_plots_accuracy_and_sqnr_against_bits(tmp_path):
    out = tmp_path / "rep"
    result = CliRunner().invoke(main, ["report", str(model_path("lif")), "--data", str(DATA),
                                       "--bits", "2,8", "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "sweep.html").read_text()
    for alt in ("accuracy vs bits", "agreement vs bits", "per-layer SQNR vs bits"):
        assert f'alt="{alt}"' in page


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed")
def test_html_report_renders_in_headless_chromium(digits_out, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1300,1800", f"--screenshot={shot}",
                    (digits_out / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=180)
    pixels = np.asarray(Image.open(io.BytesIO(shot.read_bytes())).convert("L"), np.float64)
    assert pixels.shape == (1800, 1300)
    dark = pixels < 128  # text, raster dots, axes: a blank page is all white
    assert dark.mean() > 0.01 and pixels.std() > 20
    assert dark[200:1400].mean() > 0.005  # the pictures, not only the title
