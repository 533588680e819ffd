"""Honest report metrics: spike agreement that silence cannot flatter, SQNR only on graded
values and membranes, graded values never counted as spikes, energy always labelled, and the
calibration data stated."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, model_path

import neurodeploy as nd
from neurodeploy.cli import main
from neurodeploy.pipeline import bit_sweep, evaluate, split_calibration
from neurodeploy.report.agreement import SpikeAgreement
from neurodeploy.report.markdown import render_markdown
from neurodeploy.report.sweep import sweep_markdown


def test_spike_agreement_separates_silent_from_active_neurons():
    reference = np.zeros((4, 1, 10))
    reference[:, 0, 0] = 1  # one neuron fires every step, nine are silent
    silent = SpikeAgreement.of(reference, np.zeros_like(reference))
    assert np.mean(reference == 0) == 0.9  # what "identical values" used to report
    assert silent.rate == silent.timing == silent.active_kept == 0.0
    assert silent.silent_kept == 1.0
    shifted = np.roll(reference, 1, axis=2)  # same count, wrong neuron
    assert SpikeAgreement.of(reference, shifted).rate == 0.0
    late = np.zeros_like(reference)
    late[2:, 0, 0] = 2  # right neuron, right count, wrong steps
    moved = SpikeAgreement.of(reference, late)
    assert moved.rate == 1.0 and moved.timing == 0.5


@pytest.fixture(scope="module")
def lif_reports(digits_test):
    x, y = digits_test
    network = nd.load(model_path("lif"))
    return {bits: evaluate(network, nd.convert(network, target="sim", data=x, weight_bits=bits),
                           x, y) for bits in (2, 8)}


def test_two_bit_report_no_longer_claims_high_agreement(lif_reports):
    low, high = lif_reports[2], lif_reports[8]
    assert low["accuracy"]["delta_pp"] < -30  # accuracy collapsed at 2 bits
    output = low["agreement"]["output"]["spikes"]
    assert output["rate"] < 0.5 and output["timing"] < output["rate"]
    assert output["active_kept"] < 0.5
    assert high["agreement"]["output"]["spikes"]["rate"] > 0.95
    text = render_markdown(low)
    assert "identical" not in text.lower()
    assert "rate 28" in text or f"rate {100 * output['rate']:.1f}" in text
    for entry in low["agreement"]["nodes"].values():  # binary spikes: no SQNR, membranes: SQNR
        assert entry["sqnr_db"] is None and entry["spikes"] is not None
        assert entry["membrane_sqnr_db"] is not None
    assert low["labels"]["1"] == "1 (LIF, 128)"


def test_graded_values_are_never_counted_as_spikes(digits_test):
    x, y = digits_test[0][:, :64], digits_test[1][:64]
    network = nd.load(model_path("src"))
    report = evaluate(network, nd.convert(network, target="sim", data=x), x, y)
    graded = report["spikes"]["graded_values_per_node"]
    assert graded and not set(graded) & set(report["spikes"]["per_node"])
    assert report["agreement"]["output"]["graded"] and \
        report["agreement"]["output"]["spikes"] is None
    for name in graded:
        assert report["agreement"]["nodes"][name]["spikes"] is None
        assert report["agreement"]["nodes"][name]["sqnr_db"] is not None


def test_energy_is_labelled_the_same_in_convert_and_sweep(digits_test):
    x, y = digits_test[0][:, :64], digits_test[1][:64]
    network = nd.load(model_path("lif"))
    report = evaluate(network, nd.convert(network, target="loihi", data=x), x, y)
    sweep = bit_sweep(network, x, y, "loihi", [8])
    row = sweep["rows"][0]["energy"]
    for key in ("dynamic_pj", "static_pj", "total_pj"):
        assert row[key] == pytest.approx(report["energy"][key])
    assert row["static_pj"] > 0 and row["total_pj"] == row["dynamic_pj"] + row["static_pj"]
    assert "energy dynamic / static / total" in sweep_markdown(sweep)
    assert "overlap" in sweep["calibration"]["data"]  # calibrated on the evaluation data


def test_calib_split_keeps_calibration_apart(tmp_path, digits_test):
    x, y = digits_test
    calibration, rest, labels, note = split_calibration(x, y, 0.25)
    assert calibration.shape[1] + rest.shape[1] == x.shape[1] and len(labels) == rest.shape[1]
    assert "first 135 samples" in note
    result = CliRunner().invoke(main, ["convert", str(model_path("lif")), "--data", str(DATA),
                                       "--calib-split", "0.25", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "report.md").read_text()
    assert "Calibration: the first 135 samples" in text and "405 samples x 20 steps" in text
