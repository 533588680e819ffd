"""The `neurodeploy` command: thin click commands over the library API.

Heavy imports (torch, nir, numpy) happen inside commands, so `neurodeploy --help` stays fast.
Error contract: bad input (a NeurodeployError, an unreadable or unwritable file, memory exhausted
by the input's size, a bad option) is one line on stderr and exit code 2; anything else is an
internal error, one line and exit code 1; `--debug` or NEURODEPLOY_DEBUG=1 adds the traceback.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from neurodeploy.cli_errors import DEBUG_VARIABLE, friendly_errors, show_warning
from neurodeploy.cli_models import (
    architecture_options,
    load_model,
    model_options,
    network_and_data,
    output_classes,
    raise_usage,
    refuse_early,
    torch_source,
)
from neurodeploy.cli_scale import scale_options, workers_of
from neurodeploy.cli_time import cycle_simulated, time_line
from neurodeploy.cli_types import BitWidths, FiniteFloatRange
from neurodeploy.cli_verify import verify as verify_command
from neurodeploy.targets.fpga import LANE_CHOICES

WEIGHT_BITS = click.IntRange(2, 16)
TIMESTEPS = click.IntRange(1, 100_000)  # static data encoded into at most 100,000 steps
ENCODINGS = ("rate", "latency", "direct")
SATURATION_WARNING = 0.001  # warn when more than 0.1 % of a node's updates saturated


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="neurodeploy")
@click.option("--debug", is_flag=True,
              help=f"Show the traceback of errors (also: {DEBUG_VARIABLE}=1).")
def main(debug: bool) -> None:
    """Deploy trained PyTorch spiking networks on neuromorphic hardware."""
    import warnings

    warnings.showwarning = show_warning  # `debug` is read from the context by debug_requested()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def targets(as_json: bool) -> None:
    """List the deployment targets and what they support."""
    from neurodeploy.targets.registry import describe_targets

    rows = describe_targets()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']:<7} {row['description']}")


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path),
              help="Input .npz with x (T, B, *features) or static (B, *features).")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write outputs to this .npz.")
@model_options
@click.option("--timesteps", type=TIMESTEPS, default=None,
              help="Steps to encode static input into (default 20).")
@click.option("--encoding", type=click.Choice(ENCODINGS), default="rate", show_default=True,
              help="Encoding of static input.")
@click.option("--executor", default=None,
              help="Run a converted OUT/ on one of its target's independent executors (e.g. "
                   "iverilog, verilator for fpga) instead of the golden model.")
@click.option("--rtl", type=click.Choice(["iverilog", "verilator"]), default=None,
              help="Alias of --executor for the fpga target's HDL simulators.")
@click.option("--save-spikes", is_flag=True,
              help="Also write every neuron's output per step to -o (neurons/<node>, "
                   "(T, B, *shape)).")
@scale_options("shards of the batch on the golden model")
@friendly_errors
def simulate(model: Path, input_path: Path, output: Path | None, timesteps: int | None,
             encoding: str, executor: str | None, rtl: str | None, save_spikes: bool,
             workers: int, ray_address: str | None, **how) -> None:
    """Simulate MODEL (.pt, .nir, an OUT/ directory of `convert`, or a netx .net) on an input.

    A model runs on the float reference; a converted program (or a .net file, rebuilt from the
    file alone) on the bit-accurate golden model, or on an independent executor. --workers N
    or --ray ADDRESS split the batch of a program's golden run into shards (the same result).
    """
    from neurodeploy.api import is_artifact, load_program, run_executor
    from neurodeploy.artifacts import check_output_npz, write_result_npz
    from neurodeploy.engine.reference import simulate_network
    from neurodeploy.engine.shard import SHARDS_NEED_PROGRAM, simulate_sharded
    from neurodeploy.io.data import load_data

    inputs = (model, input_path)
    if output is not None:
        check_output_npz(output, inputs)
    if executor is not None and rtl is not None and executor != rtl:
        raise_usage("give either --executor or --rtl")
    executor = executor or rtl
    pool = workers_of(workers, ray_address)
    if (workers > 1 or ray_address is not None) and (executor is not None or not is_artifact(model)):
        raise_usage(f"--workers/--ray: {SHARDS_NEED_PROGRAM}")
    if is_artifact(model):
        subject = load_program(model)
        shape = subject.input.shape
    elif executor is not None:
        raise_usage(f"--executor {executor} runs an OUT/ directory written by convert")
    else:
        subject = load_model(model, how)
        shape = subject.input_shape
    data = load_data(input_path, shape, timesteps, encoding, classes=output_classes(subject))
    if save_spikes and output is None:
        raise_usage("--save-spikes writes into the -o file: give -o Y.npz")
    if executor is not None:
        result = run_executor(subject, model, data.x, executor)
    elif is_artifact(model):
        result = simulate_sharded(subject, data.x, pool, None, cycle_simulated(subject), True,
                                  progress=_progress)
    else:
        result = simulate_network(subject, data.x, record_outputs=save_spikes)
    steps, batch = result.output.shape[:2]
    graded = (f", non-zero graded values per sample {result.graded_values / batch:.1f}"
              if result.graded else "")
    click.echo(f"simulated {batch} samples x {steps} steps; spikes per sample "
               f"{result.spike_count / batch:.1f}{graded}"
               + (f"; {executor}: {result.cycles} cycles" if result.cycles is not None else ""))
    if data.y is not None:
        click.echo(f"accuracy {result.accuracy(data.y):.4f}")
    if executor is None and is_artifact(model) and cycle_simulated(subject):
        click.echo(time_line(subject, result, data.x, _progress))
    _warn_saturation({name: tally.saturated / tally.updates
                      for name, tally in result.tallies.items() if tally.updates})
    if output is not None:
        write_result_npz(output, result.to_npz_dict(save_spikes), inputs)
        click.echo(f"wrote {output}")


def _target_help() -> str:
    from neurodeploy.targets.registry import target_names

    return f"Deployment target (installed: {', '.join(target_names())})."


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--target", default="sim", show_default=True, help=_target_help())
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output directory (default: <model stem>-<target>/).")
@click.option("--data", type=click.Path(path_type=Path), help="Calibration/evaluation .npz.")
@click.option("--calib", type=click.Path(path_type=Path), default=None,
              help="Separate calibration .npz (default: calibrate on --data).")
@click.option("--calib-split", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=None, help="Calibrate on this fraction of --data (its first samples) and "
                                 "evaluate on the rest.")
@click.option("--timesteps", type=TIMESTEPS, default=None,
              help="Steps to encode static data into (default 20; 32 for an ANN).")
@click.option("--encoding", type=click.Choice(ENCODINGS), default="rate", show_default=True,
              help="Encoding of static data (an ANN always gets direct input).")
@click.option("--weight-bits", type=WEIGHT_BITS, default=None,
              help="Weight bits (target default: sim and loihi 8; fpga: the data-path width, 16).")
@click.option("--state-bits", type=click.IntRange(2, 32), default=None,
              help="sim: width of neuron states (default 24).")
@click.option("--activation-bits", type=click.IntRange(1, 16), default=None,
              help="sim: graded spike width (default 8); akida: 1, 2, 4 or 8 (default 4).")
@click.option("--lanes", type=click.Choice(LANE_CHOICES), default=None,
              help="fpga: MAC lanes (default 4).")
@click.option("--multi-chip", is_flag=True, default=None,
              help="loihi: spread a network over several chips.")
@model_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def convert(model: Path, target: str, output: Path | None, data: Path | None,
            calib: Path | None, calib_split: float | None, timesteps: int | None,
            encoding: str, weight_bits: int | None,
            state_bits: int | None, activation_bits: int | None, lanes: int | None,
            multi_chip: bool | None, as_json: bool, **how) -> None:
    """Convert MODEL for a target; writes OUT/ with model.nir, the program, reports.

    MODEL may also be a ReLU ANN (.onnx, or a .pt with ReLU layers): it is converted to a
    single-spike SNN first (see `ann2snn`; direct input over --timesteps, default 32). A netx
    .net keeps its integers for --target loihi (--data only evaluates it); other targets
    quantize the float network it computes.
    """
    from neurodeploy.artifacts import check_output_directory
    from neurodeploy.targets.registry import get_target

    refuse_early(model, get_target(target), how)  # before the heavy imports below
    from neurodeploy.api import is_artifact
    from neurodeploy.pipeline import DEPLOY_PHASES, deploy, split_calibration

    out = output or Path(f"{model.stem}-{target}")
    check_output_directory(out, (model, data, calib))
    if data is None:
        raise_usage("convert needs --data D.npz: static x (B, *features) for an ANN, data to "
                    "calibrate the quantization for an SNN")
    network, x, y = network_and_data(model, data, timesteps, encoding, how)
    calibration, source = _calibration(network, calib, calib_split, timesteps, encoding)
    if calib_split is not None:
        calibration, x, y, source = split_calibration(x, y, calib_split)
    options = {"weight_bits": weight_bits, "state_bits": state_bits,
               "activation_bits": activation_bits, "lanes": lanes, "multi_chip": multi_chip}
    with _progress(len(DEPLOY_PHASES), "converting") as advance:
        report = deploy(model if is_artifact(model) else network, target, out, x, y,
                        {k: v for k, v in options.items() if v is not None},
                        (model, data, calib), calibration, source, advance)
    if as_json:
        click.echo(json.dumps(report, indent=1, sort_keys=True))
        return
    click.echo(f"wrote {out}/ ({', '.join(sorted(p.name for p in out.iterdir()))})")
    if "accuracy" in report:
        accuracy = report["accuracy"]
        click.echo(f"accuracy: float {100 * accuracy['float']:.2f} %, deployed "
                   f"{100 * accuracy['quantized']:.2f} % ({accuracy['delta_pp']:+.2f} pp)")
    click.echo(_summary(report))
    _warn_saturation({name: entry["fraction_of_updates"]
                      for name, entry in report["saturation"].items()})


def _calibration(network, calib: Path | None, split: float | None, timesteps: int | None,
                 encoding: str) -> tuple:
    """(calibration data or None for --data itself, how it relates to the evaluation data)."""
    from neurodeploy.io.data import load_data

    if calib is not None and split is not None:
        raise_usage("give either --calib FILE or --calib-split F")
    if calib is None:
        return None, None
    return load_data(calib, network.input_shape, timesteps, encoding).x, \
        f"separate calibration data ({calib.name})"


def _warn_saturation(fractions: dict[str, float]) -> None:
    """One warning line per node whose saturated updates (or clipped outputs) exceed 0.1 %."""
    for name, fraction in fractions.items():
        if fraction > SATURATION_WARNING:
            click.echo(f"warning: node {name}: {100 * fraction:.2f} % of its updates saturated "
                       "its state or output format; widen them (--state-bits, "
                       "--activation-bits) or check the calibration data", err=True)


def _summary(report: dict) -> str:
    """One line of per-sample costs, with time in cycles only where the target has a clock."""
    from neurodeploy.report.markdown import energy_cell

    cycles, steps = report["cycles"], report["time"]
    if cycles.get("total") is not None:
        time = f"{cycles['total']:,.0f} cycles"
    else:
        time = f"{steps['steps']} steps" + (f" of {steps['step_ns']:.0f} ns"
                                            if steps.get("step_ns") is not None else "")
    mapping = report["mapping"]
    return (f"per sample: {report['spikes']['total']:.0f} spikes, "
            f"{report['synops']['total']:.0f} synops, "
            f"energy dynamic / static / total {energy_cell(report['energy'])}, {time}, "
            f"{mapping['cores_used']} {mapping['unit']}s")


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--data", required=True, type=click.Path(path_type=Path),
              help="Calibration/evaluation .npz (with labels y for accuracy).")
@click.option("--target", default="sim", show_default=True, help=_target_help())
@click.option("--bits", type=BitWidths(WEIGHT_BITS.min, WEIGHT_BITS.max), default="2,4,8,16",
              show_default=True, help="Weight widths to sweep, comma-separated.")
@click.option("--activation-bits", "activation_bits", type=BitWidths(1, 16), default=None,
              help="Activation widths to sweep too (sim, akida), comma-separated.")
@click.option("--calib", type=click.Path(path_type=Path), default=None,
              help="Separate calibration .npz (default: calibrate on --data).")
@click.option("--calib-split", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=None, help="Calibrate on this fraction of --data (its first samples) and "
                                 "evaluate on the rest.")
@click.option("--windows", type=BitWidths(1, TIMESTEPS.max), default=None,
              help="Window lengths (time steps) to sweep, for static data or an ANN.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output directory (default: <model stem>-<target>-report/).")
@click.option("--timesteps", type=TIMESTEPS, default=None,
              help="Steps to encode static data into (default 20; 32 for an ANN).")
@click.option("--encoding", type=click.Choice(ENCODINGS), default="rate", show_default=True,
              help="Encoding of static data.")
@scale_options("the sweep's rows")
@model_options
@friendly_errors
def report(model: Path, data: Path, target: str, bits: tuple[int, ...],
           activation_bits: tuple[int, ...] | None, calib: Path | None,
           calib_split: float | None, windows: tuple[int, ...] | None,
           output: Path | None, timesteps: int | None, encoding: str, workers: int,
           ray_address: str | None, **how) -> None:
    """Sweep weight (and activation) widths and window lengths: accuracy, per-layer SQNR,
    spikes, energy; table + PNG plot. MODEL may be a ReLU ANN (converted first). --workers N
    computes the rows in N processes, --ray ADDRESS as Ray tasks (the same result)."""
    from neurodeploy.artifacts import OutputKind, check_output_directory, output_directory, write_json
    from neurodeploy.pipeline import bit_sweep, merge_sweeps, split_calibration
    from neurodeploy.report.html import sweep_html
    from neurodeploy.report.sweep import plot_sweep, sweep_markdown
    from neurodeploy.targets.registry import get_target

    get_target(target)
    out = output or Path(f"{model.stem}-{target}-report")
    check_output_directory(out, (model, data, calib))
    lengths = list(windows or (timesteps,))
    activations = list(activation_bits or (None,))
    total = len(bits) * len(activations) * len(lengths)
    sweeps = []
    with workers_of(workers, ray_address) as pool, _progress(total, "quantizing") as advance:
        for length in lengths:
            network, x, y = network_and_data(model, data, length, encoding, how,
                                              static=windows is not None)
            calibration, source = _calibration(network, calib, calib_split, length,
                                               encoding)
            if calib_split is not None:
                calibration, x, y, source = split_calibration(x, y, calib_split)
            sweeps.append(bit_sweep(network, x, y, target, list(bits), advance, activations,
                                    length, calibration, source, pool))
    sweep = merge_sweeps(sweeps) | {"model": model.name}
    with output_directory(out, (model, data), OutputKind.REPORT) as staging:
        write_json(staging / "sweep.json", sweep)
        (staging / "sweep.md").write_text(sweep_markdown(sweep))
        (staging / "sweep.html").write_text(sweep_html(sweep, sweep_markdown(sweep)))
        plot_sweep(sweep, staging / "accuracy_vs_bits.png")
    click.echo(sweep_markdown(sweep))
    click.echo(f"wrote {out}/")


@contextmanager
def _progress(length: int, label: str):
    """A progress bar for people (stderr a terminal); piped stderr keeps errors to one line.
    Yields `advance(phase=None)`: one step, naming the phase just done when given."""
    if not sys.stderr.isatty():
        yield lambda phase=None: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr,
                           item_show_func=lambda phase: phase) as bar:
        yield lambda phase=None: bar.update(1, phase)


@main.command()
@click.argument("ann", type=click.Path(path_type=Path))
@click.option("--data", required=True, type=click.Path(path_type=Path),
              help="Static calibration data .npz: x (B, *features), optional labels y.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="SNN file to write, .pt or .nir (default: <ann stem>-snn.pt).")
@click.option("--timesteps", type=TIMESTEPS, default=32, show_default=True)
@click.option("--spike", type=click.Choice(["single", "multi"]), default="single", show_default=True)
@click.option("--encoding", type=click.Choice(["direct", "rate"]), default="direct",
              show_default=True, help="How the SNN receives the static input.")
@click.option("--percentile", type=FiniteFloatRange(0, 100, min_open=True), default=99.9,
              show_default=True,
              help="Activation percentile that normalisation maps to the threshold.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@architecture_options
@friendly_errors
def ann2snn(ann: Path, data: Path, output: Path | None, timesteps: int, spike: str,
            encoding: str, percentile: float, as_json: bool, **how) -> None:
    """Convert a ReLU ANN (.pt or .onnx) into an SNN of IAF neurons; writes it and a report."""
    from neurodeploy.artifacts import check_output_files, output_files
    from neurodeploy.frontend.ann2snn import ann2snn as convert_ann
    from neurodeploy.frontend.ann2snn import conversion_phases
    from neurodeploy.io.data import read_static
    from neurodeploy.report.ann2snn import write_conversion

    out = output or Path(f"{ann.stem}-snn.pt")
    if out.suffix.lower() not in (".pt", ".nir"):
        raise_usage(f"-o must end in .pt or .nir, got {out.name}")
    check_output_files(out, (ann, data))
    x, y = read_static(data, encoding)
    with _progress(conversion_phases(y is not None, timesteps), "ann2snn") as advance:
        conversion = convert_ann(torch_source(ann, how), x, y, timesteps=timesteps, spike=spike,
                                 percentile=percentile, encoding=encoding, progress=advance)
    with output_files(out, (ann, data)) as staging:
        names = write_conversion(conversion, staging, out.name)
    report = conversion.report
    if as_json:
        click.echo(json.dumps(report, indent=1, sort_keys=True))
        return
    click.echo(f"wrote {', '.join(str(out.parent / n) for n in names)}")
    if "ann_accuracy" in report:
        click.echo(f"ANN {100 * report['ann_accuracy']:.2f} %, SNN {100 * report['snn_accuracy']:.2f} "
                   f"% at T={timesteps} ({report['delta_pp']:+.2f} pp), plain sinabs conversion "
                   f"{100 * report['plain_accuracy']:.2f} %")
    click.echo(f"{report['spikes_per_inference']:.0f} spikes per inference")


main.add_command(verify_command)

if __name__ == "__main__":
    main()
