"""`verify`: run a deployment on every engine and executor the target has, and check it.

Runs, on the same input:
- the float reference (the network as trained);
- the golden model of the deployed program;
- when the program came from outside (an OUT directory, a Program object), the golden model of
  a fresh conversion of the network with the program's options: the deployed program must equal
  it array for array and run for run, so a changed weight, threshold or decay is found with its
  layer, neuron and first step;
- every available independent executor of the target on the program's artifacts, which must
  equal the golden model bit for bit (unavailable ones are listed as skipped, with why).
The float reference is compared with the golden model within `Tolerances`.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.api import check_input, convert, kept_program, load, load_program
from neurodeploy.engine.result import SimulationResult
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.program.diff import program_differences
from neurodeploy.program.graph import Program
from neurodeploy.targets.registry import get_target
from neurodeploy.verify.checks import Check, Status, Tolerances, tolerance_checks
from neurodeploy.verify.compare import Comparison
from neurodeploy.verify.pairs import exact, float_run, float_vs_deployed, golden_run


@dataclass
class Verification:
    """All runs and checks of one `verify`."""

    target: str
    samples: int
    steps: int
    float_vs_golden: Comparison
    rederived: Comparison | None = None
    differences: list[str] = field(default_factory=list)
    executors: dict[str, Comparison] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.status is not Status.FAILED for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if check.status is Status.FAILED]

    def as_dict(self) -> dict:
        return {"target": self.target, "samples": self.samples, "steps": self.steps,
                "passed": self.passed,
                "checks": [dataclasses.asdict(check) for check in self.checks],
                "float_vs_golden": self.float_vs_golden.as_dict(),
                "rederived": None if self.rederived is None else self.rederived.as_dict(),
                "program_differences": self.differences,
                "executors": {name: c.as_dict() for name, c in self.executors.items()},
                "skipped_executors": self.skipped}


def _lowering_options(program: Program) -> dict:
    fields = {f.name for f in dataclasses.fields(get_target(program.target).options)}
    return {k: v for k, v in program.options.items() if k in fields}


def verify(model: object, data: np.ndarray, labels: np.ndarray | None = None,
           target: str | None = None, deployed: Program | str | Path | None = None,
           executors: Sequence[str] | None = None, tolerances: Tolerances | None = None,
           calibration: np.ndarray | None = None, **options: object) -> Verification:
    """Verify a deployment of `model` (anything `load` takes) on time-major `data`.

    `deployed`: a Program or an OUT directory to check (default: convert `model` for `target`
    with `options` now). `executors`: the executors to run (default: every available one).
    `calibration`: the data the deployed program was calibrated on (default `data`)."""
    network = load(model)
    x = check_input(data, network.input_shape)
    calibration = x if calibration is None else check_input(calibration, network.input_shape)
    directory = None
    if deployed is None:
        if target is None:
            raise UnsupportedModelError("verify needs a target or a deployed program")
        program = _converted(model, network, target, calibration, options)
    elif isinstance(deployed, Program):
        program = deployed
    else:
        directory = Path(deployed)
        program = load_program(directory)
    if target is not None and target != program.target:
        raise UnsupportedModelError(f"the deployed program is for '{program.target}', not "
                                    f"'{target}'")
    golden = golden_run(program, x)
    result = Verification(program.target, int(x.shape[1]), int(x.shape[0]),
                          float_vs_deployed(float_run(network, x), program, golden, labels))
    if deployed is not None:
        fresh = _converted(model, network, program.target, calibration,
                           _lowering_options(program))
        result.differences = program_differences(fresh, program)
        result.rederived = exact(program, x, golden_run(fresh, x), golden,
                                 ("fresh conversion", "deployed"), fresh)
    _run_executors(result, program, directory, x, golden, executors)
    result.checks = _checks(result, (tolerances or Tolerances()).for_target(program.target))
    return result


def _converted(model: object, network: ir.Network, target: str, calibration: np.ndarray,
               options: dict) -> Program:
    """`model` for `target`: a file the target keeps as it is (`kept_program`), else `network`
    converted now."""
    kept = kept_program(model, target, options)
    return kept if kept is not None else convert(network, target, calibration, **options)


def _run_executors(result: Verification, program: Program, directory: Path | None,
                   x: np.ndarray, golden: SimulationResult, chosen: Sequence[str] | None
                   ) -> None:
    from neurodeploy.pipeline import save_deployment

    available = get_target(program.target).executors
    unknown = sorted(set(chosen or ()) - set(available))
    if unknown:
        raise UnsupportedModelError(
            f"target '{program.target}' has no executor {', '.join(unknown)} (its executors: "
            f"{', '.join(sorted(available)) or 'none'})")
    names = list(chosen) if chosen is not None else sorted(available)
    runnable = {}
    for name in names:
        why = available[name].unavailable()
        if why:
            result.skipped[name] = why
        else:
            runnable[name] = available[name]
    if not runnable:
        return
    with tempfile.TemporaryDirectory(prefix="neurodeploy-verify-") as scratch:
        if directory is None:
            directory = Path(scratch) / "out"
            save_deployment(program, directory)
        for name, executor in runnable.items():
            got = executor.run(directory, program, x)
            result.executors[name] = exact(program, x, golden, got, ("golden", name))


def _checks(result: Verification, tolerances: Tolerances) -> list[Check]:
    checks = []
    if result.rederived is not None:
        same = not result.differences and result.rederived.identical
        detail = "identical arrays and runs" if same else "; ".join(
            [result.rederived.describe_first(), *result.differences[:5]])
        checks.append(Check("deployed program == fresh conversion of the model",
                            Status.PASSED if same else Status.FAILED, detail))
    for name, comparison in result.executors.items():
        checks.append(Check(f"golden == {name}",
                            Status.PASSED if comparison.identical else Status.FAILED,
                            comparison.describe_first()))
    for name, why in result.skipped.items():
        checks.append(Check(f"golden == {name}", Status.SKIPPED, why))
    return checks + tolerance_checks(result.float_vs_golden, tolerances)
