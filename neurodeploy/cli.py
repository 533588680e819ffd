"""The `neurodeploy` command: thin click commands over the library API.

Heavy imports (torch, nir, numpy) happen inside commands, so `neurodeploy --help` stays fast.
Every NeurodeployError becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path

import click

TARGET_NAMES = ("sim", "loihi", "akida", "fpga")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def friendly_errors(command: Callable) -> Callable:
    """Turn neurodeploy errors (and unreadable inputs) into one line and exit code 2."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        from neurodeploy.errors import NeurodeployError

        try:
            return command(*args, **kwargs)
        except NeurodeployError as exc:
            _fail(str(exc).splitlines()[0])

    return wrapper


def _load_model(path: Path, dialect: str | None, data_shape: tuple[int, ...] | None = None):
    from neurodeploy.io.load import load

    return load(path, input_shape=data_shape, dialect=dialect)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="neurodeploy")
def main() -> None:
    """Deploy trained PyTorch spiking networks on neuromorphic hardware."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def targets(as_json: bool) -> None:
    """List the deployment targets and what they support."""
    from neurodeploy.targets.registry import describe_targets

    rows = describe_targets()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']:<7} {row['status']:<11} {row['description']}")


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path),
              help="Input .npz with x (T, B, *features) or static (B, *features).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write outputs to this .npz.")
@click.option("--dialect", default=None, help="Producer of a foreign .nir file.")
@click.option("--timesteps", type=int, default=None, help="Steps to encode static input into.")
@click.option("--encoding", type=click.Choice(["rate", "latency", "direct"]), default="rate",
              show_default=True, help="Encoding of static input.")
@friendly_errors
def simulate(model: Path, input_path: Path, output: Path | None, dialect: str | None,
             timesteps: int | None, encoding: str) -> None:
    """Simulate MODEL (.pt, .nir) on an input file and report accuracy and spikes."""
    import numpy as np

    from neurodeploy.fsutil import atomic_file
    from neurodeploy.io.data import load_data
    from neurodeploy.simulation import simulate as run

    network = _load_model(model, dialect)
    data = load_data(input_path, network.input_shape, timesteps, encoding)
    result = run(network, data.x)
    steps, batch = result.output.shape[:2]
    click.echo(f"simulated {batch} samples x {steps} steps; spikes per sample "
               f"{result.total_spikes / batch:.1f}")
    if data.y is not None:
        click.echo(f"accuracy {result.accuracy(data.y):.4f}")
    if output is not None:
        with atomic_file(output) as staging:
            with open(staging, "wb") as handle:
                np.savez(handle, **result.to_npz_dict())
        click.echo(f"wrote {output}")


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--target", type=click.Choice(TARGET_NAMES), default="sim", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output directory (default: <model stem>-<target>/).")
@click.option("--data", type=click.Path(path_type=Path), help="Calibration/evaluation .npz.")
@click.option("--timesteps", type=int, default=None, help="Steps to encode static data into.")
@click.option("--weight-bits", type=int, default=8, show_default=True)
@click.option("--dialect", default=None, help="Producer of a foreign .nir file.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def convert(model: Path, target: str, output: Path | None, data: Path | None,
            timesteps: int | None, weight_bits: int, dialect: str | None, as_json: bool) -> None:
    """Convert MODEL for a target; writes OUT/ with model.nir, artifacts and reports."""
    from neurodeploy.deploy import deploy

    out = output or Path(f"{model.stem}-{target}")
    network = _load_model(model, dialect)
    report = deploy(network, target, out, data_path=data, timesteps=timesteps,
                    weight_bits=weight_bits)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(f"wrote {out}/ ({', '.join(sorted(p.name for p in out.iterdir()))})")


if __name__ == "__main__":
    main()
