"""The `fpga` target: compile, emit RTL + testbench + memories, cycle and resource model, report.

Cycle model (exact for the emitted RTL; `tests/test_fpga.py` compares it with both simulators):
each instruction costs one fetch cycle plus its work, MV costs sum over row blocks of
(columns + rows in the block) (LANES rows accumulate together, one column per cycle, then the
block's rows are written back one per cycle), every other instruction n cycles, END one cycle;
a sequence starts with one start cycle and VWORDS cycles clearing the vector memory.
Resources: LANES + 1 multipliers (DSPs), and the bits of every memory.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.cost.energy import OperationEnergy
from neurodeploy.errors import InvalidFileError
from neurodeploy.fsutil import write_json
from neurodeploy.sim.result import SimulationResult
from neurodeploy.targets.fpga import LANE_CHOICES
from neurodeploy.targets.fpga.compile import FpgaProgram, compile_network
from neurodeploy.targets.fpga.isa import ACC_BITS, WORD_BITS, Instr, Memories, run
from neurodeploy.targets.fpga.verilog import weight_words, write_rtl


def cycles_per_step(program: FpgaProgram, lanes: int | None = None) -> int:
    if lanes is None:
        lanes = program.lanes
    total = 0
    for ins in program.instructions:
        total += 1
        if ins.op == "MV":
            blocks = math.ceil(ins.n / lanes)
            total += blocks * ins.m + ins.n
        elif ins.op != "END":
            total += ins.n
    return total


def cycles_per_sequence(program: FpgaProgram, steps: int, lanes: int | None = None) -> int:
    return 1 + program.memories.vector_words + steps * cycles_per_step(program, lanes)


def resources(program: FpgaProgram) -> dict:
    memories = program.memories
    bits = program.data_bits
    memory_bits = {
        "weights": len(weight_words(program)) * program.lanes * bits,
        "biases_and_constants": int(memories.bias.size) * ACC_BITS,
        "tables": int(memories.luts.size) * bits,
        "program": len(program.instructions) * WORD_BITS,
        "vectors": memories.vector_words * bits,
    }
    return {"dsp": program.lanes + 1, "memory_bits": memory_bits,
            "memory_bits_total": sum(memory_bits.values()),
            "tables": {name: table["size"] for name, table in program.tables.items()}}


def save(program: FpgaProgram, directory: Path) -> None:
    """fpga.json (instructions, formats) and fpga.npz (ROM contents)."""
    from neurodeploy.io.npz import write_npz

    meta = {"instructions": [vars(i) for i in program.instructions], "frac": program.frac,
            "data_bits": program.data_bits, "input_size": program.input_size,
            "output_size": program.output_size, "lanes": program.lanes,
            "clock_hz": program.clock_hz, "formats": program.formats, "tables": program.tables,
            "vector_words": program.memories.vector_words,
            "matrices": sorted(program.memories.matrices)}
    write_json(directory / "fpga.json", meta)
    arrays = {f"matrix{base}": m for base, m in program.memories.matrices.items()}
    arrays.update({"bias": program.memories.bias, "luts": program.memories.luts})
    write_npz(directory / "fpga.npz", arrays)


def load(directory: Path) -> FpgaProgram:
    from neurodeploy.io.npz import read_npz

    try:
        meta = json.loads((Path(directory) / "fpga.json").read_text())
        arrays = read_npz(Path(directory) / "fpga.npz")
    except (OSError, ValueError) as exc:
        raise InvalidFileError(f"{directory}: not an fpga program ({exc})") from None
    memories = Memories({base: arrays[f"matrix{base}"] for base in meta["matrices"]},
                        arrays["bias"], arrays["luts"], meta["data_bits"], meta["vector_words"])
    return FpgaProgram([Instr(**i) for i in meta["instructions"]], memories, meta["frac"],
                       meta["input_size"], meta["output_size"], meta["lanes"], meta["clock_hz"],
                       meta["formats"], meta["tables"])


def simulate(program: FpgaProgram, x: np.ndarray) -> SimulationResult:
    """The golden model on real input `(T, B, n_in)`: outputs dequantized."""
    out = program.dequantize(run(program.instructions, program.memories,
                                 program.quantize_input(x)))
    events = (out != 0).reshape(*out.shape[:2], -1).sum(axis=2)
    return SimulationResult(out, {"output": events}, {"output": out.sum(axis=2)},
                            graded_layers=frozenset({"output"}))


def build_report(network: ir.Network, program: FpgaProgram, x: np.ndarray,
                 labels: np.ndarray | None) -> dict:
    from neurodeploy.report.build import accuracy_entry, sqnr_db
    from neurodeploy.sim.float_engine import simulate_network

    reference = simulate_network(network, x)
    fixed = simulate(program, x)
    steps, batch = x.shape[:2]
    macs = sum(i.n * i.m for i in program.instructions if i.op == "MV") * steps
    elementwise = sum(i.n for i in program.instructions
                      if i.op not in ("MV", "END", "IN", "OUT")) * steps
    table = OperationEnergy()
    bits = program.data_bits
    energy_pj = macs * table.multiply_accumulate(bits, bits) + elementwise * (
        table.multiply(bits) + table.state_access(bits))
    per_step = cycles_per_step(program)
    total = cycles_per_sequence(program, steps)
    error = np.abs(fixed.output - reference.output)
    report = {
        "target": "fpga", "samples": int(batch), "timesteps": int(steps),
        "formats": program.formats, "data_bits": bits, "lanes": program.lanes,
        "agreement": {"max_abs_error": float(error.max()),
                      "final_step_max_abs_error": float(error[-1].max()),
                      "output_sqnr_db": float(sqnr_db(reference.output, fixed.output))},
        "spikes": {"total": float(fixed.events["output"].sum()) / batch,
                   "note": "non-zero values of the output vector per sample"},
        "synops": {"total": macs, "type": "MAC (dense datapath)"},
        "energy": {"total_pj": energy_pj, "sources": {"operations": "Horowitz, ISSCC 2014, "
                   "45 nm (an ASIC estimate of the datapath's operations, not an FPGA figure)"}},
        "cycles": {"total": total, "per_step": per_step, "clock_hz": program.clock_hz,
                   "latency_s": total / program.clock_hz,
                   "per_step_by_lanes": {str(n): cycles_per_step(program, n)
                                         for n in LANE_CHOICES},
                   "model": "fetch + MV blocks x (columns + rows) + n per elementwise op; "
                            "start + vector clear per sequence"},
        "resources": resources(program),
    }
    if labels is not None:
        report["accuracy"] = accuracy_entry(reference.accuracy(labels), fixed.accuracy(labels))
    return report


def report_markdown(report: dict) -> str:
    from neurodeploy.report.markdown import accuracy_line

    resources_ = report["resources"]
    lines = ["# neurodeploy report: target `fpga`", "",
             f"Data path {report['data_bits']} bits ({report['formats']['data']}), "
             f"{report['lanes']} MAC lanes; {report['samples']} samples x {report['timesteps']} "
             "steps.", ""]
    if "accuracy" in report:
        lines += accuracy_line(report["accuracy"], "fixed point")
    agreement = report["agreement"]
    lines += [f"Output error against float: max {agreement['max_abs_error']:.5f}, at the last "
              f"step {agreement['final_step_max_abs_error']:.5f}; SQNR "
              f"{agreement['output_sqnr_db']:.1f} dB.", "",
              f"Cycles per step {report['cycles']['per_step']:,}; per inference "
              f"{report['cycles']['total']:,} = {report['cycles']['latency_s'] * 1e6:.1f} us at "
              f"{report['cycles']['clock_hz'] / 1e6:.0f} MHz.", "",
              "| MAC lanes | " + " | ".join(report["cycles"]["per_step_by_lanes"]) + " |",
              "|---" * (len(report["cycles"]["per_step_by_lanes"]) + 1) + "|",
              "| cycles per step | " + " | ".join(
                  f"{c:,}" for c in report["cycles"]["per_step_by_lanes"].values()) + " |", "",
              f"Resources: {resources_['dsp']} DSP multipliers; memory bits "
              f"{resources_['memory_bits_total']:,} ("
              + ", ".join(f"{k} {v:,}" for k, v in resources_["memory_bits"].items()) + "); "
              "tables " + ", ".join(f"{k} {v} entries" for k, v in resources_["tables"].items())
              + ".", "", "Formats: " + ", ".join(f"{k} {v}" for k, v in report["formats"].items())
              + ".", ""]
    return "\n".join(lines)


def deploy_fpga(network: ir.Network, staging: Path, x: np.ndarray, labels: np.ndarray | None,
                bits: int, lanes: int) -> dict:
    """Write rtl/, tb/, mem/, fpga.{json,npz}, report.{json,md} (and model.nir if NIR can say it)."""
    from neurodeploy.errors import UnsupportedModelError
    from neurodeploy.io.nir_format import write_network

    program = compile_network(network, x, bits=bits, lanes=lanes)
    write_rtl(program, staging)
    save(program, staging)
    try:
        write_network(network, staging / "model.nir")
    except UnsupportedModelError:
        pass  # a GRU: NIR has no node for it
    report = build_report(network, program, x, labels)
    write_json(staging / "report.json", report)
    (staging / "report.md").write_text(report_markdown(report))
    return report
