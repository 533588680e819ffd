"""Write the RTL (rtl/engine.v), the testbench (tb/tb.v) and the memory files (mem/*.mem).

The engine and testbench are the readable templates in `templates/`, with the network's
parameters filled in; everything network-specific lives in the memory files, loaded with
$readmemh: program.mem (160-bit instructions), weights.mem (LANES x DW-bit words: lane l holds
row block * LANES + l of column k), bias.mem (48-bit biases and constants), luts.mem (tables).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from neurodeploy.targets.fpga.isa import ACC_BITS, WORD_BITS
from neurodeploy.targets.fpga.microcode import Microcode

TEMPLATES = Path(__file__).parent / "templates"
DESIGN_FILES = ("rtl/engine.v", "tb/tb.v", "mem/program.mem", "mem/weights.mem", "mem/bias.mem",
                "mem/luts.mem")


def fill(template: str, values: dict[str, object]) -> str:
    """Replace {NAME} placeholders (upper-case names only, so Verilog braces are safe)."""
    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"template placeholder {name} has no value")
        return str(values[name])

    return re.sub(r"\{([A-Z_]+)\}", substitute, template)


def hex_words(values: np.ndarray, bits: int) -> str:
    """Two's-complement hex, one word per line (a single zero word for an empty memory)."""
    values = np.asarray(values, dtype=object).reshape(-1)
    if values.size == 0:
        values = np.zeros(1, dtype=object)
    digits = (bits + 3) // 4
    mask = (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in values)


def weight_words(program: Microcode) -> list[int]:
    """The weight ROM: per matrix, per row block, per column, one LANES-lane word."""
    lanes, bits = program.lanes, program.data_bits
    mask = (1 << bits) - 1
    words: list[int] = []
    for base in sorted(program.memories.matrices):
        if base != len(words):
            raise ValueError("weight matrices are not contiguous")
        matrix = program.memories.matrices[base]
        rows, cols = matrix.shape
        for block in range(-(-rows // lanes)):
            for column in range(cols):
                word = 0
                for lane in range(lanes):
                    row = block * lanes + lane
                    if row < rows:
                        word |= (int(matrix[row, column]) & mask) << (lane * bits)
                words.append(word)
    return words


def parameters(program: Microcode) -> dict[str, object]:
    memories = program.memories
    frac = program.frac
    return {"DW": program.data_bits, "LANES": program.lanes, "VWORDS": memories.vector_words,
            "IWORDS": len(program.instructions), "WWORDS": max(1, len(weight_words(program))),
            "BWORDS": max(1, memories.bias.size), "LWORDS": max(1, memories.luts.size),
            "INT_BITS": program.data_bits - frac, "FRAC": frac}


def write_rtl(program: Microcode, directory: Path) -> list[str]:
    """rtl/engine.v, tb/tb.v and mem/{program,weights,bias,luts}.mem under `directory`."""
    values = parameters(program)
    for folder in ("rtl", "tb", "mem"):
        (directory / folder).mkdir(parents=True, exist_ok=True)
    (directory / "rtl" / "engine.v").write_text(fill((TEMPLATES / "engine.v").read_text(), values))
    (directory / "tb" / "tb.v").write_text(fill((TEMPLATES / "tb.v").read_text(), values))
    mem = directory / "mem"
    (mem / "program.mem").write_text(hex_words([i.encode() for i in program.instructions],
                                               WORD_BITS))
    (mem / "weights.mem").write_text(hex_words(weight_words(program),
                                               program.lanes * program.data_bits))
    (mem / "bias.mem").write_text(hex_words(program.memories.bias, ACC_BITS))
    (mem / "luts.mem").write_text(hex_words(program.memories.luts, program.data_bits))
    return list(DESIGN_FILES)


def write_inputs(program: Microcode, x_int: np.ndarray, mem: Path) -> None:
    """mem/dims.mem and mem/input.mem for integer input `(T, B, n_in)`."""
    steps, batch, size = x_int.shape
    (mem / "dims.mem").write_text(hex_words(np.array([batch, steps, size]), 32))
    (mem / "input.mem").write_text(hex_words(np.transpose(x_int, (1, 0, 2)), program.data_bits))
