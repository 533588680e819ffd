"""What `verify` and the pytest assertions decide: tolerances and checks of a float ~ deployed
comparison (the exact comparisons need none: they must be identical)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from neurodeploy.targets.registry import get_target
from neurodeploy.verify.compare import Comparison, LayerAgreement

DEFAULT_SPIKE_AGREEMENT = 0.85  # sim, digits models at 8 bits: 0.90-0.98 per layer
DEFAULT_SQNR_DB = 10.0  # graded layers: sim 16.5-47.4 dB, akida 21.8-23.4 dB


@dataclass(frozen=True)
class Tolerances:
    """Float reference vs deployed: largest accuracy drop (percentage points), smallest spike
    agreement per spiking layer and smallest SQNR per graded layer (see
    `neurodeploy.verify.compare`). None: the target's default (its `min_spike_agreement`
    attribute, else DEFAULT_SPIKE_AGREEMENT), measured on the shipped digits models
    (docs/verify.md). Golden vs executors and vs a fresh conversion are always exact."""

    max_accuracy_drop_pp: float = 2.0
    min_spike_agreement: float | None = None
    min_sqnr_db: float = DEFAULT_SQNR_DB

    def __post_init__(self) -> None:
        if not 0 <= self.max_accuracy_drop_pp <= 100 or not 0 <= (
                self.min_spike_agreement or 0) <= 1:
            raise ValueError("tolerances: accuracy drop in [0, 100] pp, spike agreement in [0, 1]")

    def for_target(self, target: str) -> Tolerances:
        """These tolerances with the target's defaults filled in."""
        if self.min_spike_agreement is not None:
            return self
        floor = getattr(get_target(target), "min_spike_agreement", DEFAULT_SPIKE_AGREEMENT)
        return dataclasses.replace(self, min_spike_agreement=floor)


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One verdict: what was checked, its status and the figures behind it."""

    name: str
    status: Status
    detail: str


def tolerance_checks(comparison: Comparison, tolerances: Tolerances) -> list[Check]:
    """Accuracy drop (when labelled) and per-layer spike agreement or SQNR, float ~ deployed;
    `tolerances` with the target's defaults filled in (`Tolerances.for_target`)."""
    checks = []
    if comparison.accuracy is not None:
        drop = 100 * (comparison.accuracy[0] - comparison.accuracy[1])
        checks.append(Check(
            f"accuracy drop {comparison.expected_name} -> {comparison.got_name}",
            Status.PASSED if drop <= tolerances.max_accuracy_drop_pp else Status.FAILED,
            f"{comparison.expected_name} {100 * comparison.accuracy[0]:.2f} %, "
            f"{comparison.got_name} {100 * comparison.accuracy[1]:.2f} % ({-drop:+.2f} pp; "
            f"limit -{tolerances.max_accuracy_drop_pp:g} pp)"))
    for layer in comparison.layers:
        checks += _layer_checks(layer, comparison, tolerances)
    return checks


def _layer_checks(layer: LayerAgreement, comparison: Comparison, tolerances: Tolerances
                  ) -> list[Check]:
    first = comparison.first
    pair = f"{comparison.expected_name} ~ {comparison.got_name}"
    where = f"; {comparison.describe_first()}" if first and first.layer == layer.layer else ""
    if layer.spike_agreement is not None:
        ok = layer.spike_agreement >= tolerances.min_spike_agreement
        return [Check(f"spike agreement {pair}, layer '{layer.layer}'",
                      Status.PASSED if ok else Status.FAILED,
                      f"{layer.spike_agreement:.4f} (limit {tolerances.min_spike_agreement:g})"
                      f"{where}")]
    if layer.sqnr_db is not None:
        ok = layer.sqnr_db >= tolerances.min_sqnr_db
        return [Check(f"SQNR {pair}, layer '{layer.layer}'",
                      Status.PASSED if ok else Status.FAILED,
                      f"{layer.sqnr_db:.1f} dB (limit {tolerances.min_sqnr_db:g} dB)")]
    return []
