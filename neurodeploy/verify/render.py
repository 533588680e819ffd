"""A Verification for people (a check list and a per-layer table) and for CI (JUnit XML)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree

from neurodeploy.verify.checks import Status
from neurodeploy.verify.compare import Comparison, LayerAgreement
from neurodeploy.verify.job import Verification

MARK = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.SKIPPED: "SKIP"}


def _figure(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


def _layer_row(layer: LayerAgreement) -> str:
    if layer.skipped:
        return f"  {layer.layer:<10} not compared: {layer.skipped}"
    kind = "graded" if layer.graded else "spikes"
    return (f"  {layer.layer:<10} {kind:<7} identical {_figure(layer.identical_fraction)}"
            f"  spike agreement {_figure(layer.spike_agreement)}"
            f"  SQNR {_figure(layer.sqnr_db, 1)} dB  membrane SQNR "
            f"{_figure(layer.membrane_sqnr_db, 1)} dB")


def _comparison_lines(title: str, comparison: Comparison) -> list[str]:
    return [f"{title} ({comparison.expected_name} vs {comparison.got_name}):",
            *(_layer_row(layer) for layer in comparison.layers),
            _layer_row(comparison.output), f"  {comparison.describe_first()}"]


def text_lines(result: Verification) -> list[str]:
    """The checks, then per-layer agreement of each comparison."""
    lines = [f"verify: target '{result.target}', {result.samples} samples x {result.steps} "
             "steps"]
    lines += [f"{MARK[check.status]} {check.name}: {check.detail}" for check in result.checks]
    lines.append("")
    lines += _comparison_lines("float reference vs golden model", result.float_vs_golden)
    if result.rederived is not None:
        lines += _comparison_lines("fresh conversion vs deployed program", result.rederived)
        lines += [f"  program: {line}" for line in result.differences]
    for name, comparison in result.executors.items():
        lines += _comparison_lines(f"golden model vs {name}", comparison)
    failed = len(result.failures)
    lines.append(f"{'passed' if result.passed else 'FAILED'}: {len(result.checks) - failed} "
                 f"of {len(result.checks)} checks passed or skipped, {failed} failed")
    return lines


def junit_xml(result: Verification) -> bytes:
    """One JUnit test case per check (failures and skips with their detail)."""
    suite = ElementTree.Element(
        "testsuite", name=f"neurodeploy verify {result.target}", tests=str(len(result.checks)),
        failures=str(len(result.failures)),
        skipped=str(sum(check.status is Status.SKIPPED for check in result.checks)))
    for check in result.checks:
        case = ElementTree.SubElement(suite, "testcase", classname=f"verify.{result.target}",
                                      name=check.name)
        if check.status is Status.FAILED:
            ElementTree.SubElement(case, "failure", message=check.detail).text = check.detail
        elif check.status is Status.SKIPPED:
            ElementTree.SubElement(case, "skipped", message=check.detail)
        else:
            ElementTree.SubElement(case, "system-out").text = check.detail
    return ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True)
