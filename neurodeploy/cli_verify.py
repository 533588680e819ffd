"""`neurodeploy verify`: the hardware-in-the-loop check of a deployment (see
`neurodeploy.verify`). Exit 0 when every check passes (or is skipped), 1 when one fails (a test
result), 2 on bad input."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from neurodeploy.cli_errors import friendly_errors
from neurodeploy.cli_models import model_options, network_and_data, output_classes, raise_usage
from neurodeploy.cli_types import FiniteFloatRange

JUNIT_MARKER = b'name="neurodeploy verify'
LAVA_VARIABLE = "NEURODEPLOY_LAVA_PYTHON"  # read by the loihi target's Lava executor


def _deployed_and_model(model: Path, deployed: Path | None) -> tuple[Path, Path | None]:
    """(the float model, the deployed OUT or None): MODEL may itself be an OUT directory (a
    netx .net is a model: its float network against its own integers or a conversion)."""
    from neurodeploy.api import is_artifact

    if not (model.is_dir() and is_artifact(model)):
        return model, deployed
    if deployed is not None:
        raise_usage("give either an OUT directory as MODEL or --deployed OUT, not both")
    float_model = model / "model.nir"
    if not float_model.is_file():
        raise_usage(f"{model} has no model.nir (e.g. a GRU network); give the trained model as "
                    f"MODEL and {model} with --deployed")
    return float_model, model


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--data", required=True, type=click.Path(path_type=Path),
              help="Input .npz (with labels y for the accuracy check).")
@click.option("--target", default=None, help="Target to convert MODEL for (not with an OUT).")
@click.option("--deployed", type=click.Path(path_type=Path), default=None,
              help="A converted OUT/ to check against MODEL (MODEL may also be the OUT itself).")
@click.option("--calib", type=click.Path(path_type=Path), default=None,
              help="The data OUT was calibrated on, if not --data.")
@click.option("--executor", "executors", multiple=True,
              help="Executor to run (repeatable; default: every available one).")
@click.option("--samples", type=click.IntRange(1), default=None,
              help="Run the first N samples (RTL simulators are slow); calibrate on all.")
@click.option("--timesteps", type=click.IntRange(1, 100_000), default=None,
              help="Steps to encode static data into (default 20; 32 for an ANN).")
@click.option("--encoding", type=click.Choice(("rate", "latency", "direct")), default="rate",
              show_default=True, help="Encoding of static data.")
@click.option("--weight-bits", type=click.IntRange(2, 16), default=None,
              help="Weight width when converting MODEL now.")
@click.option("--activation-bits", type=click.IntRange(1, 16), default=None,
              help="Activation width when converting MODEL now (sim, akida).")
@click.option("--max-accuracy-drop", type=FiniteFloatRange(0, 100), default=2.0,
              show_default=True, help="Largest accuracy drop float -> deployed, in points.")
@click.option("--min-spike-agreement", type=FiniteFloatRange(0, 1), default=None,
              help="Smallest spike agreement per spiking layer (default: the target's).")
@click.option("--min-sqnr", type=FiniteFloatRange(), default=10.0, show_default=True,
              help="Smallest SQNR (dB) per graded layer, float vs deployed.")
@click.option("--lava-python", type=click.Path(path_type=Path), default=None,
              help="A Python with lava-dl for the loihi target's Lava executor (also: the "
                   "NEURODEPLOY_LAVA_PYTHON variable; scripts/lava_venv.sh makes one).")
@click.option("--junit", type=click.Path(path_type=Path), default=None,
              help="Also write the checks as JUnit XML to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@model_options
@friendly_errors
def verify(model: Path, data: Path, target: str | None, deployed: Path | None,
           calib: Path | None, executors: tuple[str, ...], samples: int | None,
           timesteps: int | None, encoding: str, weight_bits: int | None,
           activation_bits: int | None, max_accuracy_drop: float,
           min_spike_agreement: float | None, min_sqnr: float, lava_python: Path | None,
           junit: Path | None, as_json: bool, **how) -> None:
    """Run a deployment on the float reference, the golden model and every available
    executor of its target; check them (exact where they must be, within tolerances against
    float) and name the first divergence: step, layer, neuron, both values, upstream activity.

    MODEL is a trained model (converted now for --target; a netx .net for --target loihi keeps
    its own integers) or a converted OUT/ directory.
    """
    from neurodeploy.api import is_artifact
    from neurodeploy.artifacts.owned_file import write_owned_file
    from neurodeploy.io.data import load_data
    from neurodeploy.verify.checks import Tolerances
    from neurodeploy.verify.job import verify as run_verify
    from neurodeploy.verify.render import junit_xml, text_lines

    if lava_python is not None:
        os.environ[LAVA_VARIABLE] = str(lava_python)
    float_model, out = _deployed_and_model(model, deployed)
    if out is None and target is None:
        raise_usage("give --target (or a converted OUT directory as MODEL)")
    if out is not None and (weight_bits or activation_bits):
        raise_usage("--weight-bits and --activation-bits convert MODEL now; OUT is converted")
    network, x, y = network_and_data(float_model, data, timesteps, encoding, how)
    calibration = x if calib is None else load_data(  # the whole data even with --samples
        calib, network.input_shape, timesteps, encoding, classes=output_classes(network)).x
    if samples is not None:
        x, y = x[:, :samples], None if y is None else y[:samples]
    options = {k: v for k, v in {"weight_bits": weight_bits,
                                 "activation_bits": activation_bits}.items() if v is not None}
    result = run_verify(float_model if is_artifact(float_model) else network, x, y, target, out,
                        list(executors) or None,
                        Tolerances(max_accuracy_drop, min_spike_agreement, min_sqnr),
                        calibration, **options)
    if junit is not None:
        write_owned_file(junit, junit_xml(result), JUNIT_MARKER, "--junit",
                         (model, data, calib, deployed))
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=1, sort_keys=True))
    else:
        click.echo("\n".join(text_lines(result)))
    sys.exit(0 if result.passed else 1)
