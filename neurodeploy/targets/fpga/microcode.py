"""The FPGA datapath's program as one Program node: instructions, ROM contents and formats.

The node's state is the vector memory V; its `step` runs the instruction list once (one time
step) with the ISA interpreter of `neurodeploy.targets.fpga.isa`, which is the datapath's
arithmetic. Its input is the quantized input vector (Q(DW-frac).frac), its output the OUT vector
in the same format. Weights are stored flat (matrix after matrix, in weight-ROM order); each MV
instruction gives its matrix's shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neurodeploy import ir
from neurodeploy.errors import InvalidFileError
from neurodeploy.program.graph import InputFormat, Program
from neurodeploy.program.node import Operations, ProgramNode, Tally, check_integer
from neurodeploy.targets.fpga.isa import ACC_BITS, FIELDS, OPCODES, Instr, Memories, step_program

MAX_VECTOR_WORDS = 4096
#: the name of the one node of an fpga Program
NODE = "datapath"


@dataclass(eq=False)
class Microcode(ProgramNode):
    """The datapath program (see the module docstring)."""

    code: np.ndarray  # (instructions, len(FIELDS)) integers, FIELDS order
    weights: np.ndarray  # every matrix, row-major, in weight-ROM order
    bias: np.ndarray  # the B ROM (ACC_BITS-bit words)
    luts: np.ndarray  # the L ROM (DW-bit words)
    data_bits: int
    frac: int
    vector_words: int
    lanes: int
    clock_hz: float
    kind = "fpga_microcode"
    stateful = True
    graded = True
    state_names = ("V",)
    operations = Operations(0, 0, 0, 0)

    @cached_property
    def instructions(self) -> list[Instr]:
        return [Instr.from_row(row) for row in self.code.tolist()]

    @cached_property
    def memories(self) -> Memories:
        matrices, offset, base = {}, 0, 0
        for ins in self.instructions:
            if ins.op == "MV" and ins.base not in matrices:
                if ins.base != base:
                    raise ValueError(f"MV weight base {ins.base} is not the next matrix ({base})")
                matrices[ins.base] = self.weights[offset:offset + ins.n * ins.m].reshape(ins.n,
                                                                                        ins.m)
                offset += ins.n * ins.m
                base += math.ceil(ins.n / self.lanes) * ins.m
        if offset != self.weights.size:
            raise ValueError(f"array 'weights' holds {self.weights.size} values, the MV "
                             f"instructions use {offset}")
        return Memories(matrices, self.bias, self.luts, self.data_bits, self.vector_words)

    @property
    def input_size(self) -> int:
        return next(i.n for i in self.instructions if i.op == "IN")

    @property
    def output_size(self) -> int:
        return sum(i.n for i in self.instructions if i.op == "OUT")

    @property
    def output_scale(self) -> float:
        return 2.0 ** -self.frac

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.output_size,)

    def output_bound(self, input_bound: float) -> float:
        return float(1 << (self.data_bits - 1))

    def formats(self) -> dict[str, str]:
        """The data format and each matrix's weight format, as Qm.n."""
        bits = self.data_bits
        found = {"data": f"Q{bits - self.frac}.{self.frac}"}
        for ins in self.instructions:
            if ins.op == "MV":
                found[f"weights@{ins.base}"] = f"Q{bits - ins.shift}.{ins.shift}"
        return found

    def tables(self) -> dict[str, int]:
        """Entries of each lookup table, by its base address in the L ROM."""
        return {f"lut@{i.base}": i.bias for i in self.instructions if i.op == "LUT"}

    def validate(self, input_shape: tuple[int, ...]) -> None:
        if not 8 <= self.data_bits <= 16 or not 1 <= self.frac < self.data_bits:
            raise ValueError("data bits must be 8..16 with 1..DW-1 fraction bits")
        if self.lanes not in (1, 2, 4, 8, 16, 32, 64) or not (
                math.isfinite(self.clock_hz) and self.clock_hz > 0):
            raise ValueError("lanes must be a power of two up to 64 and the clock positive")
        if not 1 <= self.vector_words <= MAX_VECTOR_WORDS:
            raise ValueError(f"vector_words must be 1..{MAX_VECTOR_WORDS}")
        if self.code.ndim != 2 or self.code.shape[1] != len(FIELDS) or not 1 <= len(self.code) <= 4096:
            raise ValueError(f"array 'code' must be (1..4096, {len(FIELDS)})")
        check_integer("code", self.code)
        for (name, width, signed), column in zip(FIELDS, self.code.T, strict=True):
            lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
            check_integer(f"code.{name}", column, lo=lo, hi=hi)
        check_integer("code.op", self.code[:, 0], lo=0, hi=max(OPCODES.values()))
        limit = 1 << (self.data_bits - 1)
        check_integer("weights", self.weights, lo=-limit, hi=limit - 1)
        check_integer("luts", self.luts, lo=-limit, hi=limit - 1)
        check_integer("bias", self.bias, lo=-(1 << (ACC_BITS - 1)), hi=(1 << (ACC_BITS - 1)) - 1)
        for ins in self.instructions:
            self._check_instruction(ins)
        if self.instructions[-1].op != "END" or sum(i.op == "END" for i in self.instructions) != 1:
            raise ValueError("the program must end with its only END")
        ins_in = [i for i in self.instructions if i.op == "IN"]
        if len(ins_in) != 1 or tuple(input_shape) != (ins_in[0].n,):
            raise ValueError(f"the program reads {[i.n for i in ins_in]} inputs with IN, the "
                             f"node receives {input_shape}")
        if self.output_size < 1:
            raise ValueError("the program writes no output (OUT)")
        self.memories  # noqa: B018 (checks the weights against the MV instructions)

    def _check_instruction(self, ins: Instr) -> None:
        words = self.vector_words
        n = ins.n
        reads = {"MV": [(ins.a, ins.m)], "ADD": [(ins.a, n), (ins.b, n)],
                 "SUB": [(ins.a, n), (ins.b, n)], "MUL": [(ins.a, n), (ins.b, n)],
                 "OUT": [(ins.a, n)], "IN": []}.get(ins.op, [(ins.a, n)])
        writes = [] if ins.op in ("OUT", "END") else [(ins.dst, n)]
        for start, count in reads + writes:
            if start + count > words:
                raise ValueError(f"{ins.op} touches vector words {start}..{start + count - 1}, "
                                 f"beyond the {words} words of V")
        if ins.op == "MV" and ins.bias + n > self.bias.size:
            raise ValueError(f"MV reads biases {ins.bias}..{ins.bias + n - 1} of {self.bias.size}")
        if ins.op == "ADDC" and ins.bias + n > self.bias.size:
            raise ValueError(f"ADDC reads constants beyond the {self.bias.size} of the B ROM")
        if ins.op == "LUT" and (ins.bias < 1 or ins.base + ins.bias > self.luts.size):
            raise ValueError(f"LUT table {ins.base}+{ins.bias} lies outside the L ROM")
        if ins.op in ("MV", "MUL", "MULC") and ins.shift > 40:
            raise ValueError(f"{ins.op} shift {ins.shift} exceeds 40")

    def initial_state(self, shape: tuple[int, ...], dtype: object) -> tuple[np.ndarray, ...]:
        return (np.zeros((shape[0], self.vector_words), np.int64),)

    def step(self, state, inp, tally: Tally):
        (V,) = state
        V = V.copy()
        emitted: list[np.ndarray] = []
        step_program(self.instructions, self.memories, V, np.asarray(inp).astype(np.int64),
                     emitted)
        return np.concatenate(emitted, axis=1), (V,)

    def describe(self) -> dict:
        return {"kind": self.kind, "data": f"Q{self.data_bits - self.frac}.{self.frac}, rounding "
                "half up, overflow saturate", "accumulator": f"{ACC_BITS} bits",
                "lanes": self.lanes}


def microcode_of(program: Program) -> Microcode:
    node = program.nodes.get(NODE)
    if not isinstance(node, Microcode):
        raise InvalidFileError(f"the program has no '{NODE}' microcode node; convert again with "
                               "--target fpga")
    return node


def program_of(microcode: Microcode, options: dict | None = None) -> Program:
    """The one-node Program of a datapath program: input -> datapath -> output."""
    return Program("fpga", InputFormat((microcode.input_size,), microcode.output_scale,
                                       microcode.data_bits),
                   {NODE: microcode}, (ir.Edge(ir.INPUT, NODE),), NODE, options or {})
